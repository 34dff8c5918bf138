"""Indonesian affixes (``parley.safety.text.affixes``): words read back to the roots the
Indonesian rules are written on, so that "dibeliin", "rahasiain", "umurmu", "nge-dm", "gk"
and "foto2" are read like the words the rules name (issue 18)."""

from __future__ import annotations

import random

import pytest

from harness import text_quality
from parley.safety.text import (
    ConversationRisk,
    Signal,
    affixes,
    fold,
    line_signals,
    mask_contacts,
    screen_line,
)
from parley.safety.text.affixes import analyse, indonesian_form
from parley.safety.text.fold import _TOKEN, _prepare

READS = {
    # prefixes: the active verb is its root; the passive keeps "di", the accidental reads "ke"
    "menghapus": "hapus", "ngapus": "hapus", "mengirim": "kirim", "ngirim": "kirim",
    "membeli": "beli", "menelpon": "telpon", "nelpon": "telpon", "nyimpen": "simpan",
    "memakai": "pakai", "make": "pakai", "ngechat": "chat", "nyari": "cari",
    "bertemu": "ketemu", "mengerti": "ngerti", "dihapus": "dihapus", "diapus": "dihapus",
    "terhapus": "kehapus", "kehapus": "kehapus",
    # suffixes: -kan, -i, -in read "in"; -an reads "an"
    "hapuskan": "hapusin", "membelikan": "beliin", "dibeliin": "dibeliin",
    "rahasiakan": "rahasiain", "kirimi": "kirimin", "menyalakan": "nyalain",
    "menghubungi": "hubungin", "teleponan": "telponan",
    # clitics and particles are words of their own
    "umurmu": "umur mu", "umurnya": "umur nya", "nomorku": "nomor ku", "igmu": "ig mu",
    "ngobrolnya": "ngobrol nya", "kirimlah": "kirim lah",
    # one spelling for the common words
    "gk": "gak", "nggak": "gak", "engga": "gak", "tidak": "gak", "gausah": "gak usah",
    "sm": "sama", "ajah": "aja", "udh": "udah", "brp": "berapa", "jgn": "jangan",
}  # fmt: skip


@pytest.mark.parametrize(("word", "form"), READS.items(), ids=READS.keys())
def test_words_read_back_to_their_roots(word: str, form: str) -> None:
    assert analyse(word) == form


@pytest.mark.parametrize(
    "word",
    # Indonesian words that only look affixed, and words of the other languages
    ["makan", "jalan", "dian", "kamu", "kemana", "berapa", "pemain", "mainan", "kasihan",
     "ciuman", "sendirian", "dirumah", "meet", "message", "mean", "dime", "mandame", "kitne"],
)  # fmt: skip
def test_words_built_on_no_root_are_left_as_they_are(word: str) -> None:
    assert analyse(word) in (None, word)


def form_of(text: str) -> str:
    form = indonesian_form(text, frozenset(_TOKEN.findall(text)))
    return text if form is None else form.text


def test_reduplication_hyphens_and_a_suffix_written_apart() -> None:
    assert form_of("foto2 kamu dong") == "foto kamu dong"
    assert form_of("kirimin foto2mu") == "kirimin foto mu"
    assert form_of("foto-fotonya mana") == "foto nya mana"
    assert form_of("nge-dm aku") == "dm aku"
    assert form_of("dm-in aku di ig-nya") == "dmin aku di ig nya"
    assert form_of("vc an yuk") == "vcan yuk"
    assert form_of("have an apple") == "have an apple"
    assert form_of("co-op mode") == "co-op mode"


def test_user_names_addresses_and_numbers_are_not_read() -> None:
    for text in ("add @fotoku", "ig ku: budi.keren", "tiara99", "0812 2 2", "budi2nd"):
        assert form_of(text) == text, text


def test_most_lines_need_no_form_of_their_own() -> None:
    assert _prepare("what are you doing tonight").indonesian is None
    assert _prepare("mi número es el 7").indonesian is None
    assert _prepare("aku lagi di rumah nenek").indonesian is None


def test_a_span_of_the_form_is_a_span_of_whole_words_of_the_line() -> None:
    line = "tolong dm-in aku di ig-nya ya"
    form = indonesian_form(line, frozenset(_TOKEN.findall(line)))
    assert form is not None and form.text == "tolong dmin aku di ig nya ya"
    start = form.text.index("dmin")
    assert form.span(start, form.text.index(" nya")) == (7, line.index(" ya"))
    # Text before and after the rewritten words keeps its place.
    assert form.span(0, 6) == (0, 6)
    assert form.span(len(form.text) - 2, len(form.text)) == (len(line) - 2, len(line))


def test_an_affixed_contact_request_is_hidden_whole() -> None:
    assert mask_contacts("dm-in aku di ig-nya ya") == ("[hidden] ya", ("handle",))
    assert mask_contacts("igmu apa?") == ("[hidden]?", ("handle",))
    assert mask_contacts("ngechat aku lewat wa aja") == ("[hidden] aja", ("handle",))
    assert mask_contacts("save nomerku ya") == ("[hidden] ya", ("handle",))

    # The moderator's excerpt is the sender's own words, affixes and all.
    risk = ConversationRisk()
    risk.feed("kirimin fotomu dong", 0)
    assert [(h.signal, h.excerpt) for h in risk.evidence()] == [(Signal.IMAGES, "kirimin fotomu")]


AFFIXED_SIGNALS = {
    "umurnya brp sih?": Signal.AGE,
    "ortumu lagi kerja?": Signal.ISOLATION,
    "gausah ceritain ke siapa2": Signal.SECRECY,
    "chatnya diapusin ya": Signal.SECRECY,
    "kirimin fotomu dong": Signal.IMAGES,
    "lagi make baju apa?": Signal.SEXUAL,
    "mau dibeliin diamond gk?": Signal.GIFTS,
    "rumahmu dmn?": Signal.MEETING,
}


@pytest.mark.parametrize(("line", "signal"), AFFIXED_SIGNALS.items(), ids=AFFIXED_SIGNALS.keys())
def test_affixed_and_colloquial_lines_raise_their_signal(line: str, signal: Signal) -> None:
    assert signal in line_signals(line)


def test_affixes_that_change_the_meaning_do_not_raise_it() -> None:
    assert line_signals("chatnya kehapus semua") == frozenset()  # deleted by accident
    assert line_signals("fotoin aku dong pas lomba") == frozenset()  # "take my picture"
    assert line_signals("mamaku lagi kerja") == frozenset()  # my mother, not yours


def test_a_script_cannot_grow_the_word_memory_without_bound() -> None:
    rng = random.Random(5)
    for _ in range(affixes._SEEN_MAX + 100):
        analyse("di" + "".join(rng.choice("abcdefghij") for _ in range(10)) + "nya")
    assert len(affixes._SEEN) <= affixes._SEEN_MAX
    assert len(affixes._SAME) <= affixes._SEEN_MAX
    # Reading still works after the memory was cleared.
    assert screen_line("kirimin fotomu dong", mask=True).text == "kirimin fotomu dong"
    assert analyse("umurmu") == "umur mu"


def test_anchors_only_skip_work_on_affixed_variants(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every Indonesian corpus line with each of its words affixed in turn: the rules' anchor
    # words must name the forms the Indonesian form writes ("savein", "dmin", "dikasih"), or a
    # rule would be skipped that matches.
    lines = []
    for which in (*text_quality.SETS, "heldout2", "heldout3", "heldout4"):
        rows, convs = text_quality.load_set("id", which)
        for text in [r.text for r in rows] + [t for c in convs for _, t in c.lines]:
            words = text.split()
            for i, word in enumerate(words):
                for variant in (word + "in", "di" + word, word + "nya", "nge" + word, word + "2"):
                    lines.append(" ".join([*words[:i], variant, *words[i + 1 :]]))
    fast = [(mask_contacts(t), line_signals(t)) for t in lines]
    monkeypatch.setattr(fold, "_PREFILTER", False)
    slow = [(mask_contacts(t), line_signals(t)) for t in lines]
    assert [t for t, a, b in zip(lines, fast, slow, strict=True) if a != b] == []
