"""The text filter in Indonesian, Spanish and Hindi written in Latin script (Hinglish), with
English kept: folding, contact masking, grooming signals, and the per-language quality floors
on the held-out corpora in ``tests/data/lang/`` (issue 18)."""

from __future__ import annotations

import pytest

from harness import text_quality
from parley.metrics import Metrics
from parley.safety import text
from parley.safety.text import (
    ConversationRisk,
    Screened,
    Signal,
    fold,
    line_signals,
    mask_contacts,
    screen_line,
    unread_counts,
)
from parley.safety.text.fold import _prepare

# ---- folding ---------------------------------------------------------------------------------


def test_accents_fold_away_so_one_spelling_serves() -> None:
    assert _prepare("¿Estás SOLA en casa?").keywords == "¿estas sola en casa?"
    assert _prepare("mi número").keywords == "mi numero"
    assert _prepare("años").keywords == "anos"
    # A masked line keeps the sender's own accented characters outside the hidden span.
    masked, _ = mask_contacts("Héllo, écris à sam@example.org ça va")
    assert masked == "Héllo, écris à [hidden] ça va"


# ---- contact masking -------------------------------------------------------------------------

# The lines issue 18 found passing, and more of each kind, per language.
CONTACTS = {
    "id": [
        "nomor wa ku nol delapan satu dua tiga empat lima enam tujuh delapan",
        "wa aku 0812 tiga empat lima enam tujuh delapan",
        "add line aku: budiman99",
        "dm aku di tiktok budi.keren",
        "emailku budi99 at gmail titik com",
        "pindah ke wa yuk",
        "minta nomor wa kamu dong",
    ],
    "es": [
        "mi número es tres uno cinco cinco cinco cero uno dos tres",
        "sofia arroba gmail punto com",
        "agrégame en insta: sofi.22",
        "¿tienes wsp?",
        "hablemos por whatsapp mejor",
    ],
    "hi": [
        "mera number nau aath saat chhe paanch char teen do ek shunya",
        "rohan at the rate gmail dot com",
        "mera insta id rohan_22 hai",
        "whatsapp pe aao",
        "apna number do na",
    ],
}
ORDINARY = [
    "aku kelas 8, umurku 14",
    "harganya 1.299.000 rupiah",
    "titik kumpulnya di gerbang sekolah",
    "ig lagi error dari tadi",
    "el punto es que no quiero",
    "nos vemos en el punto de encuentro",
    "mi puntuación es 1234567 puntos",
    "mi número favorito es el 7",
    "ek do teen char",
    "insta pe reels dekh rahi thi",
    "main do ghante se padh rahi hoon",
    "do you want to do it",
]


def test_contacts_are_masked_in_every_language() -> None:
    for lang, lines in CONTACTS.items():
        for line in lines:
            masked, kinds = mask_contacts(line)
            assert masked != line and kinds, (lang, line)


def test_ordinary_lines_with_numbers_and_platform_words_pass() -> None:
    for line in ORDINARY:
        assert mask_contacts(line) == (line, ()), line


def test_spelled_number_words_of_all_languages_mix_with_digits() -> None:
    masked, kinds = mask_contacts("call 0812 tiga cuatro five chhe 7 8 nau")
    assert masked == "call [hidden]" and kinds == ("phone",)


def test_a_spelled_dot_in_spanish_needs_a_real_domain() -> None:
    assert mask_contacts("juanito punto com")[0] == "[hidden]"
    assert mask_contacts("el punto es importante")[1] == ()  # "es" is a word here, not Spain


# ---- grooming signals ------------------------------------------------------------------------

SIGNALS = {
    "umur kamu berapa?": Signal.AGE,
    "kamu sendirian di rumah?": Signal.ISOLATION,
    "jangan bilang orang tua kamu": Signal.SECRECY,
    "kirim foto kamu dong": Signal.IMAGES,
    "nanti aku kasih pulsa": Signal.GIFTS,
    "ketemuan yuk besok": Signal.MEETING,
    "kamu pake baju apa sekarang": Signal.SEXUAL,
    "kamu dewasa banget untuk umur segitu": Signal.FLATTERY,
    "¿cuántos años tienes?": Signal.AGE,
    "¿estás solo en casa?": Signal.ISOLATION,
    "no le digas a nadie": Signal.SECRECY,
    "mándame una foto tuya": Signal.IMAGES,
    "¿qué llevas puesto?": Signal.SEXUAL,
    "te compro robux si quieres": Signal.GIFTS,
    "¿dónde vives?": Signal.MEETING,
    "eres muy madura para tu edad": Signal.FLATTERY,
    "tum kitne saal ke ho": Signal.AGE,
    "ghar pe akeli ho?": Signal.ISOLATION,
    "mummy papa ko mat batana": Signal.SECRECY,
    "apni photo bhejo": Signal.IMAGES,
    "kya pehna hai abhi": Signal.SEXUAL,
    "free uc dunga": Signal.GIFTS,
    "tum kahan rehti ho": Signal.MEETING,
    "tum bahut cute ho": Signal.FLATTERY,
    "you're so mature for your age": Signal.FLATTERY,
}


def test_each_language_raises_each_kind_of_signal() -> None:
    for line, signal in SIGNALS.items():
        assert signal in line_signals(line), line


def test_ordinary_lines_in_each_language_raise_nothing() -> None:
    for line in ("kirim foto tugas dong", "mis papás están en casa", "mummy ne khana banaya",
                 "we watched a sex ed video in class", "nos vemos en el juego"):  # fmt: skip
        assert line_signals(line) == frozenset(), line


def test_one_score_over_a_mixed_language_conversation() -> None:
    # One groomer switching language line by line still adds up on one score.
    risk = ConversationRisk()
    lines = ["how old are you?", "kamu sendirian di rumah?", "no le digas a nadie"]
    alerts = [risk.feed(line, 0) for line in lines]
    assert alerts[:2] == [None, None] and alerts[2] is not None
    assert set(alerts[2].signals) == {Signal.AGE, Signal.ISOLATION, Signal.SECRECY}


# ---- bad input -------------------------------------------------------------------------------


def test_leetspeak_lookalikes_and_zero_width_fold_in_every_language() -> None:
    assert Signal.AGE in line_signals("umur k4mu b3rapa?")
    assert Signal.AGE in line_signals("tum k1tne saal ke ho")
    assert Signal.SECRECY in line_signals("j4ngan b1lang ortu")
    assert mask_contacts("p\u200bindah ke w\u200ba yuk")[1] == ("handle",)
    assert mask_contacts("аdd line аku: budiman99")[1] == ("handle",)  # Cyrillic а
    assert mask_contacts("ＭＩ ＩＮＳＴＡ ＥＳ sofi_22")[1] == ("handle",)  # fullwidth
    assert mask_contacts("nomor wa ku ０８１２３４５６７８９")[0] == "[hidden]"


def test_a_line_in_another_script_is_delivered_and_counted() -> None:
    before = unread_counts()["script"]
    line = "मुझे अपनी फोटो भेजो"  # Devanagari: the word rules do not read it
    assert screen_line(line, mask=True).text == line
    # Its digits still fold and are still found.
    assert "[hidden]" in screen_line("मेरा नंबर ९८७६५४३२१० है", mask=True).text
    assert unread_counts()["script"] == before + 2
    assert screen_line("hola, ¿qué tal?", mask=True).text == "hola, ¿qué tal?"
    assert unread_counts()["script"] == before + 2  # accents are Latin


def test_a_line_the_filter_fails_on_passes_unmasked_and_is_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("a bug in a rule")

    monkeypatch.setattr(text, "_detect", broken)  # fault injection: the filter fails
    before = unread_counts()["error"]
    screened = screen_line("call me 0812 3456 7890", mask=True, risk=ConversationRisk())
    assert screened == Screened("call me 0812 3456 7890", (), None)
    assert unread_counts()["error"] == before + 1
    assert f'parley_text_unread_lines_total{{reason="error"}} {before + 1}.0' in (
        Metrics().render().decode()
    )


# ---- quality floors on the held-out sets ----------------------------------------------------

# Issue 18's targets, per language, on the held-out sets: masking recall >= 0.90 with at most 2%
# of ordinary lines changed; grooming conversations prompted >= 85%, ordinary ones never.
# Indonesian's first pass prompted 5 of 6 grooming conversations (0.83, one missed line form:
# the passive "chatnya dihapus"); its floor is that measured figure, not the target, until a
# fresh held-out round shows better. A regression below any floor fails here.
PROMPT_FLOOR = {"en": 0.85, "id": 5 / 6, "es": 0.85, "hi": 0.85}


def test_indonesian_second_held_out_round_floors() -> None:
    # Round 2's first pass (written after round 1 was used): masking recall 0.90, 0 of 20
    # ordinary lines changed, 4 of 6 grooming conversations prompted (below the 0.85 target:
    # Indonesian suffixes and prefixes, "rahasiain", "dibeliin", "fotoin", outrun the rules),
    # no ordinary conversation prompted. Its misses were then known (docs/safety.md), so since
    # affix-aware matching it is no longer held out. These floors catch regressions.
    f = text_quality.score(*text_quality.load_set("id", "heldout2"))
    assert f.mask_recall >= 0.90 - 1e-9 and f.ordinary_changed <= 0.02
    assert f.prompt_recall >= 4 / 6 - 1e-9 and f.benign_prompted == 0


def test_indonesian_third_held_out_round_floors() -> None:
    # Round 3's first pass, written after affix-aware matching was frozen: masking recall 0.85
    # (3 of 20 contact lines missed), 0 of 20 ordinary lines changed, signals P 1.000 R 0.750,
    # 5 of 6 grooming conversations prompted (0.83, below the 0.85 target), no ordinary one.
    # Its misses were then known (their kinds covered from new tuning sentences), so it is no
    # longer held out. Floors against regressions, not the target.
    f = text_quality.score(*text_quality.load_set("id", "heldout3"))
    assert f.mask_recall >= 0.85 - 1e-9 and f.ordinary_changed == 0.0
    assert f.signal_precision == 1.0 and f.signal_recall >= 0.75 - 1e-9
    assert f.prompt_recall >= 5 / 6 - 1e-9 and f.benign_prompted == 0


def test_indonesian_fourth_held_out_round_floors() -> None:
    # Round 4's first pass, written after the round-4 freeze and scored once: masking recall
    # 0.864 (19 of 22 contact lines; "ada line ga kamu?", "username discord aku rizky#2210",
    # "japri aja ya kak" missed), 0 of 20 ordinary lines changed, signals P 0.889 R 0.762,
    # 6 of 6 grooming conversations prompted, no ordinary one. Masking recall is below the 0.90
    # target; these are the measured floors, not the target.
    f = text_quality.score(*text_quality.load_set("id", "heldout4"))
    assert f.mask_recall >= 19 / 22 - 1e-9 and f.ordinary_changed == 0.0, f.mask_misses
    assert f.signal_precision >= 16 / 18 - 1e-9 and f.signal_recall >= 16 / 21 - 1e-9
    assert f.prompt_recall == 1.0 and f.benign_prompted == 0, f.conv_misses


def test_indonesian_fifth_held_out_round_floors() -> None:
    # Round 5's first pass, written after the round-5 freeze and scored once: masking recall
    # 1.000 (22 of 22 contact lines), 0 of 20 ordinary lines changed, signals P 0.900 R 0.857
    # (missed "lahir tahun 2012 ya?", "kamu di rumah sama siapa sekarang?", "habis baca hapus
    # ya"; raised on "aku tunggu di depan perpus" and "aku beliin adikku mainan"), 6 of 6
    # grooming conversations prompted, no ordinary one. The measured floors.
    f = text_quality.score(*text_quality.load_set("id", "heldout5"))
    assert f.mask_recall == 1.0 and f.ordinary_changed == 0.0, (f.mask_misses, f.mask_false)
    assert f.signal_precision >= 18 / 20 - 1e-9 and f.signal_recall >= 18 / 21 - 1e-9
    assert f.prompt_recall == 1.0 and f.benign_prompted == 0, f.conv_misses


@pytest.mark.parametrize("lang", text_quality.LANGUAGES)
def test_held_out_floors(lang: str) -> None:
    f = text_quality.score(*text_quality.load_set(lang, "heldout"))
    assert f.mask_recall >= 0.90, f.mask_misses
    assert f.ordinary_changed <= 0.02, f.mask_false
    assert f.grooming >= 6 and f.benign >= 6
    assert f.prompt_recall >= PROMPT_FLOOR[lang] - 1e-9, f.conv_misses
    assert f.benign_prompted == 0, f.conv_misses


@pytest.mark.parametrize("lang", text_quality.LANGUAGES)
def test_tuning_sets_are_met(lang: str) -> None:
    f = text_quality.score(*text_quality.load_set(lang, "tuning"))
    assert f.mask_recall >= 0.95 and f.ordinary_changed == 0.0, (f.mask_misses, f.mask_false)
    assert f.prompt_recall == 1.0 and f.benign_prompted == 0, f.conv_misses


def test_anchors_and_the_rule_index_only_skip_work_on_every_language() -> None:
    lines = [
        text
        for lang in text_quality.LANGUAGES
        for which in text_quality.SETS
        for rows, convs in [text_quality.load_set(lang, which)]
        for text in [r.text for r in rows] + [t for c in convs for _, t in c.lines]
    ]
    fast = [(mask_contacts(t), line_signals(t)) for t in lines]
    fold_module = fold
    fold_module._PREFILTER = False
    try:
        slow = [(mask_contacts(t), line_signals(t)) for t in lines]
    finally:
        fold_module._PREFILTER = True
    assert fast == slow


def test_indonesian_forms_missed_by_the_first_held_out_round() -> None:
    # Broadened in general form after round 1 (so round 1 no longer counts as held out for id).
    assert Signal.SECRECY in line_signals("nanti chatnya dihapus ya")
    assert Signal.SECRECY in line_signals("pesannya langsung diapus")
    assert Signal.ISOLATION in line_signals("ada siapa aja di rumah?")
    assert mask_contacts("lanjut di line yuk")[1] == ("handle",)
    assert mask_contacts("aku suka main di line dance")[1] == ()
    assert line_signals("semua dihapus") == frozenset()


def test_indonesian_forms_of_the_kinds_round_three_missed() -> None:
    # Covered in general form from new tuning sentences after round 3 (its own lines are not
    # tuned on; round 3 no longer counts as held out).
    for line in ("wa-in aku aja kalo udah pulang", "besok gue line-in kamu deh",
                 "dm ya di tiktok aku", "boleh aku follow igmu?"):  # fmt: skip
        assert mask_contacts(line)[1] == ("handle",), line
    for line in ("aku wa-in grup kelas dulu", "ig-mu lagi error ya?", "wa-nya mama lagi rusak"):
        assert mask_contacts(line) == (line, ()), line
    assert Signal.AGE in line_signals("kamu skrg kls brp sih")
    assert Signal.ISOLATION in line_signals("rumahmu lagi kosong gak?")
    assert Signal.SECRECY in line_signals("jgn dilaporin ke ortu ya")
    assert Signal.SECRECY in line_signals("dihapus aja semua pesannya nanti")
    assert Signal.SECRECY in line_signals("mamamu gak perlu tau soal ini")
    assert Signal.IMAGES in line_signals("videoin dirimu bentar dong")
    for line in ("kamu gak usah tau deh, malu", "di rumah lagi gak ada listrik",
                 "percaya diri aja pas presentasi", "dihapus aja fotonya yang blur"):  # fmt: skip
        assert line_signals(line) == frozenset(), line


def test_indonesian_forms_of_the_kinds_round_four_missed() -> None:
    # Covered in general form from new tuning sentences after round 4 (its own lines are not
    # tuned on; round 4 no longer counts as held out): asking whether the partner has an app
    # ("line" and "tele" too), a user name with a Discord "#", and moving to private messages
    # with no person named ("japri", "jalur pribadi", "pc"/"dm" opening the line).
    for line in ("kamu ada line gak?", "punya tele ga kak?", "usn roblox gue dimas#4411",
                 "japri yuk", "lewat jalur pribadi aja ya", "pc aja kak kalo mau lanjut",
                 "langsung dm aja dong", "ya, inbox aja kak"):  # fmt: skip
        assert mask_contacts(line)[1] == ("handle",), line
    for line in ("ada line up konser gak?", "main di pc aja lebih enak", "pc aku lagi rusak",
                 "aku udah japri ketua kelas soal uang kas", "grup kelas lebih rame dari japri",
                 "dm aja ke admin olshopnya kalo mau tanya ongkir",
                 "aku juara #1 lho"):  # fmt: skip
        assert mask_contacts(line) == (line, ()), line
