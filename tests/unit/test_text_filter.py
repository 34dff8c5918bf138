"""The text safety filter (``parley.safety.text``): contact masking, grooming-signal scoring.

Quality is measured on hand-written labelled corpora in ``tests/data/``:

- ``text_corpus.tsv``: the main corpus (masking and line-level signals, with benign look-alikes);
- ``text_heldout.tsv``: held-out rounds written after the rules were frozen. Their first-run
  figures, before any tuning, are in that file's header and are the honest estimate;
- ``text_conversations.jsonl``: whole conversations, grooming and benign.

Run with ``-s`` to see the precision/recall figures; ``python -m bench.text_filter`` prints them
with throughput.
"""

from __future__ import annotations

import functools
import json
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from parley.protocol import ErrorCode, ProtocolError
from parley.safety.text import (
    ConversationRisk,
    RiskAlert,
    RiskPolicy,
    Signal,
    clean_message,
    contacts,
    find_contacts,
    fold,
    line_signals,
    mask_contacts,
    normalise_interests,
    screen_line,
    signals,
)

DATA = Path(__file__).resolve().parents[1] / "data"


# ---- corpora ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    task: str  # "mask" or "signal"
    labels: frozenset[str]  # kinds or categories; empty = benign
    text: str


def load_rows(name: str) -> list[Row]:
    rows = []
    for raw in (DATA / name).read_text(encoding="utf-8").splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        task, label, text = raw.split("\t")
        assert task in ("mask", "signal"), raw
        labels = frozenset() if label == "-" else frozenset(label.split(","))
        rows.append(Row(task, labels, text))
    return rows


@dataclass(frozen=True)
class Conversation:
    id: str
    label: str  # "grooming" or "benign"
    groomer: int | None  # the side that grooms, for label "grooming"
    lines: tuple[tuple[int, str], ...]  # (side, text) in order


def load_conversations() -> list[Conversation]:
    out = []
    for raw in (DATA / "text_conversations.jsonl").read_text(encoding="utf-8").splitlines():
        if raw.strip():
            c = json.loads(raw)
            lines = tuple((int(side), str(text)) for side, text in c["lines"])
            out.append(Conversation(c["id"], c["label"], c.get("groomer"), lines))
    return out


MAIN = load_rows("text_corpus.tsv")
HELDOUT = load_rows("text_heldout.tsv")
CONVERSATIONS = load_conversations()


@dataclass(frozen=True)
class Score:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def mask_score(rows: list[Row]) -> tuple[Score, list[str]]:
    """Line level: a labelled line must be changed, a benign one must come back untouched.
    Also reports labelled lines whose kinds were not all named (``kind_misses``)."""
    tp = fp = fn = 0
    kind_misses = []
    for row in rows:
        if row.task != "mask":
            continue
        masked, kinds = mask_contacts(row.text)
        hit = masked != row.text
        if row.labels and hit:
            tp += 1
            if not row.labels <= set(kinds):
                kind_misses.append(row.text)
        elif row.labels:
            fn += 1
        elif hit:
            fp += 1
    return Score(tp, fp, fn), kind_misses


def signal_score(rows: list[Row]) -> Score:
    """Per (line, category) pair: every labelled category found, no other category found."""
    tp = fp = fn = 0
    for row in rows:
        if row.task != "signal":
            continue
        found = {str(c) for c in line_signals(row.text)}
        tp += len(found & row.labels)
        fp += len(found - row.labels)
        fn += len(row.labels - found)
    return Score(tp, fp, fn)


def test_corpus_size_and_shape() -> None:
    main_lines = len(MAIN)
    assert main_lines >= 200, "the brief asks for at least 200 labelled lines"
    assert len(CONVERSATIONS) >= 10
    kinds = {k for row in MAIN if row.task == "mask" for k in row.labels}
    assert kinds == {"phone", "email", "url", "handle"}
    categories = {c for row in MAIN if row.task == "signal" for c in row.labels}
    assert categories == {str(c) for c in Signal}
    assert sum(1 for row in MAIN if not row.labels) >= 80, "benign look-alikes"
    labels = {c.label for c in CONVERSATIONS}
    assert labels == {"grooming", "benign"}


# Floors. The main corpus was written before the rules but the rules were written with it in
# view, and each held-out round was fixed after its first run, so both now score near 1.0; the
# floors leave room for edits. The honest numbers for unseen phrasings are the held-out rounds'
# first runs (file header): masking P 0.97-1.00 / R 0.85-0.89, signals P 0.94-1.00 / R 0.55-0.57.
MASK_FLOORS = {"precision": 0.95, "recall": 0.90}
SIGNAL_FLOORS = {"precision": 0.95, "recall": 0.90}


@pytest.mark.parametrize(("name", "rows"), [("main", MAIN), ("held-out", HELDOUT)])
def test_masking_precision_and_recall(name: str, rows: list[Row]) -> None:
    score, kind_misses = mask_score(rows)
    print(
        f"\n[mask {name}] precision {score.precision:.3f} recall {score.recall:.3f} "
        f"(tp {score.tp}, fp {score.fp}, fn {score.fn}, kind misses {len(kind_misses)})"
    )
    assert score.precision >= MASK_FLOORS["precision"]
    assert score.recall >= MASK_FLOORS["recall"]
    assert len(kind_misses) <= 0.05 * score.tp, kind_misses


@pytest.mark.parametrize(("name", "rows"), [("main", MAIN), ("held-out", HELDOUT)])
def test_signal_precision_and_recall(name: str, rows: list[Row]) -> None:
    score = signal_score(rows)
    print(
        f"\n[signals {name}] precision {score.precision:.3f} recall {score.recall:.3f} "
        f"(tp {score.tp}, fp {score.fp}, fn {score.fn})"
    )
    assert score.precision >= SIGNAL_FLOORS["precision"]
    assert score.recall >= SIGNAL_FLOORS["recall"]


# ---- masking: every kind ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "kinds"),
    [
        ("call me 0812 3456 7890 ok", "call me [hidden] ok", ("phone",)),
        ("+44 7700 900123", "[hidden]", ("phone",)),
        ("call me at (555) 123-4567!", "call me at [hidden]!", ("phone",)),
        ("text me at (555) 123-4567!", "[hidden] at [hidden]!", ("phone", "handle")),
        ("zero eight one two three four five six seven", "[hidden]", ("phone",)),
        ("mail cutie.pie99@gmail.com now", "mail [hidden] now", ("email",)),
        ("its lily2009 (at) hotmail (dot) com", "its [hidden]", ("email",)),
        ("name at gmail dot com", "[hidden]", ("email",)),
        ("see https://example.com/x.", "see [hidden].", ("url",)),
        ("go to bit . ly/abcd", "go to [hidden]", ("url",)),
        ("join discord.gg/abc123", "join [hidden]", ("url",)),
        ("t.me/someuser", "[hidden]", ("url",)),
        ("add me on snap: cutie_123", "[hidden]", ("handle",)),
        ("my snap is jakey2008 lol", "[hidden] lol", ("handle",)),
        ("follow me @sara.draws", "follow me [hidden]", ("handle",)),
        ("lets move to whatsapp", "[hidden]", ("handle",)),
        ("what's your number?", "[hidden]?", ("handle",)),
        ("wa.me/628123456789 or kik me", "[hidden] or [hidden]", ("url", "handle")),
        ("whatsapp me +1 415 555 0132", "[hidden] [hidden]", ("phone", "handle")),
    ],
)
def test_each_kind_is_masked(text: str, expected: str, kinds: tuple[str, ...]) -> None:
    assert mask_contacts(text) == (expected, kinds)


BENIGN = [
    "snapchat filters are fun",
    "I'm 16 too",
    "the year 2019",
    "I scored 100 points",
    "call of duty",
    # Edge choice: talking *about* a platform is fine; only a move to it ("add me on discord",
    # "do you have discord?", "let's chat on discord") is masked.
    "I love discord music bots in general",
    "see you at 10:30",
    "at 7:45 pm",
    "it costs $15.99",
    "it was $1,299.99 on sale",
    "2+2=4",
    "12 x 12 = 144",
    "5 + 3 * 2 = 11",
    "my birthday is 12/05/2009",
    "the game came out on 12.05.2019",
    "1,000,000 views already",
    "what's your favorite number",
    "my snap streak is 200 days",
    "he yelled at me again",
    "meet me @ 5pm in the lobby",
    "ok. me too",
    "version 1.20.4",
]


@pytest.mark.parametrize("text", BENIGN)
def test_benign_text_passes_unchanged(text: str) -> None:
    masked, kinds = mask_contacts(text)
    assert masked is text  # the very same string: nothing was rebuilt
    assert kinds == ()
    assert find_contacts(text) == []


def test_masking_keeps_the_senders_own_characters_outside_the_spans() -> None:
    # Non-ASCII text takes the folding path; everything outside the number must survive as sent.
    text = "Héllo 👋 ０８１２ ３４５６ ７８９０ — ça va?"
    masked, kinds = mask_contacts(text)
    assert masked == "Héllo 👋 [hidden] — ça va?"
    assert kinds == ("phone",)
    spans = find_contacts(text)
    assert [text[s.start : s.end] for s in spans] == ["０８１２ ３４５６ ７８９０"]


def test_custom_placeholder() -> None:
    assert mask_contacts("kik me", placeholder="•••") == ("•••", ("handle",))


# ---- unicode tricks: NFKC first, then look-alikes --------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("０８１２３４５６７８９", "phone"),  # fullwidth digits
        ("𝟎𝟖𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖", "phone"),  # mathematical bold digits
        ("٠٨١٢٣٤٥٦٧٨٩", "phone"),  # Arabic-Indic digits
        ("call 0812\u200b3456\u200b7890", "phone"),  # zero-width spaces inside the number
        ("Ｍａｉｌ ｂｏｂ＠ｇｍａｉｌ．ｃｏｍ", "email"),  # fullwidth address
        ("ＷＷＷ．ＥＸＡＭＰＬＥ．ＣＯＭ", "url"),
        ("аdd me on snаp", "handle"),  # Cyrillic а
        ("add me on s\u200bnap", "handle"),  # zero-width inside the platform name
        ("add me on sn4p", "handle"),  # leetspeak
        ("ADD ME ON SNAP", "handle"),
        ("add me on ｓｎａｐ", "handle"),  # fullwidth letters
        ("add me on s\u0332n\u0332a\u0332p\u0332", "handle"),  # combining underlines
    ],
)
def test_confusables_and_fullwidth_are_folded(text: str, kind: str) -> None:
    masked, kinds = mask_contacts(text)
    assert kind in kinds, (text, masked)
    assert masked != text


def test_fold_keeps_an_index_map_to_the_original() -> None:
    text = "ﬁne ０８１２３４５６７８９ ok"  # "ﬁ" is one character that folds to two
    spans = find_contacts(text)
    assert [text[s.start : s.end] for s in spans] == ["０８１２３４５６７８９"]


# ---- grooming signals: whole conversations ---------------------------------------------------


def run(conversation: Conversation, risk: ConversationRisk | None = None) -> list[RiskAlert]:
    risk = risk or ConversationRisk()
    alerts = []
    for side, line in conversation.lines:
        alert = risk.feed(line, side)
        if alert is not None:
            alerts.append(alert)
    return alerts


@pytest.mark.parametrize(
    "conversation",
    [c for c in CONVERSATIONS if c.label == "benign"],
    ids=lambda c: c.id,
)
def test_benign_conversations_never_cross_the_threshold(conversation: Conversation) -> None:
    assert run(conversation) == []


@pytest.mark.parametrize(
    "conversation",
    [c for c in CONVERSATIONS if c.label == "grooming"],
    ids=lambda c: c.id,
)
def test_grooming_conversations_cross_it_once_for_the_groomer(
    conversation: Conversation,
) -> None:
    risk = ConversationRisk()
    alerts = run(conversation, risk)
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.side == conversation.groomer
    assert alert.score >= risk.policy.threshold
    assert risk.flagged(alert.side)
    assert not risk.flagged(1 - alert.side)
    # The evidence is phrases from the groomer's own lines, short and attributable.
    lines = [t for s, t in conversation.lines if s == alert.side]
    for hit in alert.evidence:
        assert hit.side == alert.side
        assert len(hit.excerpt) <= risk.policy.excerpt_chars
        assert any(hit.excerpt in line for line in lines)
    # Several categories, or sexual talk alone (the one category that crosses by repetition).
    categories = set(alert.signals)
    assert len(categories) >= 2 or categories == {Signal.SEXUAL}


def single_category_lines() -> list[str]:
    return [row.text for row in MAIN + HELDOUT if row.task == "signal" and len(row.labels) == 1]


def test_a_single_ambiguous_line_alone_never_crosses() -> None:
    lines = single_category_lines()
    assert len(lines) > 100
    crossed = [line for line in lines if ConversationRisk().feed(line, 0) is not None]
    assert crossed == []


def test_one_category_repeated_never_crosses_except_sexual_talk() -> None:
    by_category: dict[str, list[str]] = {}
    for row in MAIN:
        if row.task == "signal" and len(row.labels) == 1:
            by_category.setdefault(next(iter(row.labels)), []).append(row.text)
    assert set(by_category) == {str(c) for c in Signal}
    for category, lines in by_category.items():
        risk = ConversationRisk()
        alerts = [risk.feed(lines[i % len(lines)], 0) for i in range(40)]
        assert risk.signal_hits(0) == {Signal(category): 40}
        if category == Signal.SEXUAL:
            assert any(alerts), "repeated explicit sexual talk is flagged on its own"
        else:
            assert not any(alerts), category


def test_several_distinct_categories_weigh_more_than_one_repeated() -> None:
    distinct = ConversationRisk()
    assert distinct.feed("how old are you", 0) is None
    assert distinct.feed("are you home alone?", 0) is None
    alert = distinct.feed("don't tell your parents about me", 0)
    assert alert is not None
    assert set(alert.signals) == {Signal.AGE, Signal.ISOLATION, Signal.SECRECY}

    # Three lines of one category weigh less than three lines of three categories.
    one = ConversationRisk()
    for line in ("are you alone", "is anyone home", "are your parents home"):
        one.feed(line, 0)
    three = ConversationRisk()
    for line in ("are you alone", "how old are you", "where do you live"):
        three.feed(line, 0)
    assert three.score(0) > one.score(0)


def test_repeated_explicit_sexual_talk_alone_crosses() -> None:
    # The documented exception: sexual talk is the one category that crosses by repetition.
    risk = ConversationRisk()
    lines = [
        "are you a virgin",
        "have you had sex",
        "you're so sexy",
        "talk dirty to me",
        "wanna sext",
    ]
    alerts = [risk.feed(line, 1) for line in lines]
    assert alerts[:-1] == [None] * 4
    assert alerts[-1] is not None


def test_signals_decay_so_far_apart_lines_weigh_less() -> None:
    together = ConversationRisk()
    for line in ("how old are you", "where do you live", "this is our secret"):
        alert = together.feed(line, 0)
    assert alert is not None

    apart = ConversationRisk()
    apart.feed("how old are you", 0)
    for _ in range(300):  # five half-lives of chat about nothing in particular
        assert apart.feed("lol yeah", 1) is None
    assert apart.feed("where do you live", 0) is None
    assert apart.feed("this is our secret", 0) is None
    assert apart.signal_hits(0) == {Signal.AGE: 1, Signal.MEETING: 1, Signal.SECRECY: 1}


def test_each_side_is_scored_on_its_own_lines_and_alerted_once() -> None:
    risk = ConversationRisk()
    grooming = ["how old are you", "are you home alone", "send me a pic", "don't tell your mom"]
    alerts = []
    for line in grooming:
        alerts.append(risk.feed(line, 1))
        alerts.append(risk.feed("ok", 0))
    assert [a.side for a in alerts if a is not None] == [1]
    assert risk.score(0) == 0.0
    for line in grooming * 3:  # no second alert for the same side
        assert risk.feed(line, 1) is None
    assert risk.lines == 2 * len(grooming) + 3 * len(grooming)


def test_state_is_bounded() -> None:
    policy = RiskPolicy(evidence_per_side=8)
    risk = ConversationRisk(policy)
    lines = single_category_lines()
    for i in range(20_000):
        risk.feed(lines[i % len(lines)], i % 2)
    assert len(risk.evidence(0)) == 8
    assert len(risk.evidence(1)) == 8
    assert len(risk.evidence()) == 16
    assert not hasattr(risk, "__dict__")  # slots only: no place for a transcript to grow


def test_moderator_view_is_json_friendly() -> None:
    risk = ConversationRisk()
    for side, line in [(0, "asl?"), (1, "15 f"), (0, "send pics"), (0, "our little secret ok?")]:
        risk.feed(line, side)
    snap = risk.snapshot()
    json.dumps(snap)
    sides = snap["sides"]
    assert isinstance(sides, list)
    assert sides[0]["categories"] == {"age": 1, "images": 1, "secrecy": 1}
    assert sides[0]["flagged"] is True
    assert [e["excerpt"] for e in sides[0]["evidence"]] == ["asl", "send pics", "our little secret"]
    assert sides[1]["categories"] == {}


def test_off_platform_moves_count_as_a_signal() -> None:
    assert line_signals("add me on snap") == {Signal.OFFPLATFORM}
    assert line_signals("add me on snap", contacts=False) == frozenset()
    risk = ConversationRisk()
    assert risk.feed("hi", 0, contact_kinds=("handle",)) is None
    assert risk.signal_hits(0) == {Signal.OFFPLATFORM: 1}


def test_feed_rejects_a_bad_side() -> None:
    with pytest.raises(ValueError):
        ConversationRisk().feed("hi", 2)


def test_screen_line_equals_mask_then_feed() -> None:
    lines = [(i % 2, row.text) for i, row in enumerate(MAIN + HELDOUT)]
    for c in CONVERSATIONS:
        lines.extend(c.lines)
    a, b = ConversationRisk(), ConversationRisk()
    for side, line in lines:
        masked, kinds = mask_contacts(line)
        alert_a = a.feed(line, side, contact_kinds=kinds)
        screened = screen_line(line, mask=True, risk=b, from_side=side)
        assert (screened.text, screened.kinds, screened.alert) == (masked, kinds, alert_a)
        assert screen_line(line, mask=False).text is line
    assert a.snapshot() == b.snapshot()


# ---- the anchor prefilter only skips work ----------------------------------------------------


def vocabulary() -> list[str]:
    """Words from the rules' own patterns and from the corpora: the words most likely to
    assemble a match, so a wrong anchor would show up as a difference."""
    words: set[str] = set()
    patterns = [rule.pattern.pattern for _, rule in signals._SIGNAL_RULES]
    patterns += [rule.pattern.pattern for rule in contacts._HANDLE_MOVES]
    patterns += [rule.pattern.pattern for rule in contacts._HANDLE_NAMED]
    patterns.append(contacts._HANDLE_IS_MY.pattern.pattern)
    for source in patterns:
        words.update(re.findall(r"[a-z]{2,}", source))
    for row in MAIN + HELDOUT:
        words.update(row.text.lower().split())
    return sorted(words)


def generated_lines(count: int, seed: int) -> Iterator[str]:
    rng = random.Random(seed)
    vocab = vocabulary()
    corpus = [row.text for row in MAIN + HELDOUT]
    # Separators include ones that glue words together ("s", "ing", "0", a zero-width space, a
    # fullwidth digit, a Cyrillic letter): a rule whose anchor word can fuse with its neighbour
    # would show up as a difference.
    seps = [" ", " ", " ", "", ". ", ", ", "? ", "-", "'", " @", "/", ": ", " 1", "0", "s", "ing"]
    seps += ["x", "_", "#", "\u200b", "４", "а"]
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 12)):
            if rng.random() < 0.15:
                parts.append(rng.choice(corpus))
            else:
                parts.append(rng.choice(vocab))
            parts.append(rng.choice(seps))
        yield "".join(parts)


def outcome(line: str) -> tuple[object, ...]:
    return (
        tuple(signals._signal_spans(line, contacts=False)),
        mask_contacts(line),
    )


def test_anchors_never_change_a_result(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [row.text for row in MAIN + HELDOUT]
    lines += [t for c in CONVERSATIONS for _, t in c.lines]
    lines += list(generated_lines(6000, seed=4))
    with_anchors = [outcome(line) for line in lines]
    monkeypatch.setattr(fold, "_PREFILTER", False)
    without = [outcome(line) for line in lines]
    differing = [line for line, a, b in zip(lines, with_anchors, without, strict=True) if a != b]
    assert differing == []


# ---- hostile input: bounded time, no catastrophic backtracking --------------------------------

# Each unit, repeated, targets a pattern: digit runs and separators (phone), "@" and "at" chains
# (e-mail), dotted and spaced labels (links), platform words and colons (handles), leetspeak.
HOSTILE_UNITS = {
    "digits": "1",
    "digits and spaces": "1 ",
    "digit groups": "0812-",
    "digits and dots": "1.",
    "digits and brackets": "1((( ",
    "nested brackets": "((",
    "brackets and dots": "(.",
    "plus signs": "+",
    "number words": "one ",
    "oh oh": "oh ",
    "at signs": "a@",
    "at words": "a at ",
    "at and dot": "a@b.",
    "spelled address": "a at gmail dot ",
    "user chars": "a_b.c-d+e",
    "dotted labels": "a.",
    "spaced dots": "a . ",
    "dot words": "x dot ",
    "domains": "x.com ",
    "slashes": "a.com/",
    "handles": "@a",
    "handle chars": "@ab_1.",
    "platform colons": "sc: ",
    "moves": "add me on snap ",
    "my platform": "my snap ",
    "leetspeak": "s3nd ",
    # Indonesian affixes (affixes.py): long affixed words, hyphen chains, reduplication,
    # a suffix written apart
    "affixed words": "menghapuskannyalah ",
    "hyphens": "di-",
    "hyphenated words": "nge-dm-in-",
    "reduplication": "foto2mu ",
    "suffix apart": "vc an ",
    "letters": "a",
    "spaces": " ",
    "apostrophes": "'",
}


def best_of(n: int, fn: Callable[[], object]) -> float:
    """Least CPU time of ``n`` runs. CPU time of this thread, not wall time: on a loaded machine
    preemption inflates wall time by any factor, while the work done stays the same."""
    best = float("inf")
    for _ in range(n):
        start = time.thread_time()
        fn()
        best = min(best, time.thread_time() - start)
    return best


def hostile(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


@pytest.mark.parametrize("unit", HOSTILE_UNITS.values(), ids=HOSTILE_UNITS.keys())
def test_hostile_input_is_handled_in_linear_time(unit: str) -> None:
    def screen(size: int) -> Callable[[], object]:
        text = hostile(unit, size)
        return lambda: screen_line(text, mask=True, risk=ConversationRisk())

    small = best_of(5, screen(1_000))
    large = best_of(5, screen(16_000))
    # A 1,000-character line (the message limit) takes about a millisecond of CPU. Linear work
    # makes 16x the input cost about 16x; backtracking would be quadratic, about 256x.
    assert small < 0.05, f"{small * 1e3:.1f} ms for 1,000 characters"
    assert large < max(48 * small, 0.02), f"{small * 1e3:.2f} ms -> {large * 1e3:.2f} ms"


def test_new_affixed_words_in_every_line_stay_fast() -> None:
    # Words the filter has not seen before, each read through every prefix, suffix, clitic and
    # particle (the word memory does not help).
    rng = random.Random(11)
    letters = "abcdefghijklmnopqrstuvwxyz"
    worst = 0.0
    for _ in range(40):
        words = (
            rng.choice(("meng", "di", "nge", "ter", "ber", "ny"))
            + "".join(rng.choice(letters) for _ in range(rng.randint(3, 9)))
            + rng.choice(("kannyalah", "innyadong", "ikupun", "annyakah", "2mu"))
            for _ in range(80)
        )
        text = " ".join(words)[:1_000]
        worst = max(worst, best_of(1, functools.partial(screen_line, text, mask=True)))
    assert worst < 0.05


def test_random_hostile_mixtures_stay_fast() -> None:
    rng = random.Random(7)
    alphabet = "0123456789 .-_()@+/:#abcxyz'\u200b０٣"
    worst = 0.0
    for _ in range(200):
        text = "".join(rng.choice(alphabet) for _ in range(1_000))
        worst = max(worst, best_of(3, functools.partial(screen_line, text, mask=True)))
    assert worst < 0.05


# ---- the two functions the gateway already uses keep their behaviour --------------------------


def test_clean_message_is_unchanged() -> None:
    assert clean_message("  hi\x00 there\u202e ", max_chars=10) == "hi there"
    with pytest.raises(ProtocolError) as empty:
        clean_message(" \x01 ", max_chars=10)
    assert empty.value.code == ErrorCode.EMPTY_MESSAGE
    with pytest.raises(ProtocolError) as long:
        clean_message("x" * 11, max_chars=10)
    assert long.value.code == ErrorCode.MESSAGE_TOO_LONG


def test_normalise_interests_is_unchanged() -> None:
    interests = normalise_interests(
        ["#Music", "music", " Ｇａｍｅｓ  x "], max_count=5, max_chars=20
    )
    assert interests == ["music", "games x"]
    with pytest.raises(ProtocolError) as many:
        normalise_interests(["a", "b", "c"], max_count=2, max_chars=20)
    assert many.value.code == ErrorCode.BAD_INTERESTS
