"""Per-language quality of the text filter on the labelled corpora in ``tests/data/``.

Shared by ``tests/unit/test_text_languages.py`` (which asserts the held-out floors) and
``bench/text_filter.py`` (which prints the figures). Each language has a TUNING set, used while
writing the rules, and a HELD-OUT set, written after the rules were frozen and never tuned on:

- lines (``.tsv``, columns task, label, text as in ``text_corpus.tsv``): ``mask`` lines with
  contact details or ordinary lines (many full of numbers) that must pass untouched, and
  ``signal`` lines labelled with the grooming signals they carry;
- conversations (``.jsonl``): grooming ones, which must bring the minor a safety prompt, and
  ordinary teen ones, which must not.

English keeps its original files (``text_corpus.tsv``, ``text_conversations.jsonl``,
``text_heldout.tsv``) and gains held-out conversations in ``lang/en_heldout_conversations.jsonl``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from parley.safety.text import ConversationRisk, line_signals, mask_contacts

DATA = Path(__file__).resolve().parent.parent / "data"
LANG = DATA / "lang"
LANGUAGES = ("en", "id", "es", "hi")
SETS = ("tuning", "heldout")
# Held-out sets written later: Indonesian's first round fell short of the prompt target, its
# misses were covered in general form, and a second round was written after that; the second
# fell short too (affixes), affix-aware matching followed, and a third round after that freeze
# (issue 18); round 3's misses were then covered from new tuning sentences, and a fourth round
# written after that freeze; round 4's missed kinds were covered the same way, and a fifth round
# written after that freeze.
LATER_ROUNDS = (("id", "heldout2"), ("id", "heldout3"), ("id", "heldout4"), ("id", "heldout5"))
# The held-out sets' figures the first time they were scored (commit "Held-out corpora ...",
# rules frozen since "Rules FROZEN"): the honest estimate. English lines are text_heldout.tsv,
# whose earlier rounds were tuned on before issue 18; its conversations are new.
FIRST_PASS = {
    "en": "mask P 1.000 R 1.000, 0/59 ordinary changed; signals P 0.985 R 0.985; "
    "prompted 6/6 grooming, 0/6 ordinary",
    "id": "mask P 1.000 R 0.950, 0/20 ordinary changed; signals P 1.000 R 0.900; "
    "prompted 5/6 grooming, 0/6 ordinary (round 1; then tuned on)",
    "id round 2": "mask P 1.000 R 0.900, 0/20 ordinary changed; signals P 0.938 R 0.750; "
    "prompted 4/6 grooming, 0/6 ordinary (then its misses were known: no longer held out)",
    "id round 3": "mask P 1.000 R 0.850, 0/20 ordinary changed; signals P 1.000 R 0.750; "
    "prompted 5/6 grooming, 0/6 ordinary (after affix-aware matching; then its misses were "
    "known: no longer held out)",
    "id round 4": "mask P 1.000 R 0.864, 0/20 ordinary changed; signals P 0.889 R 0.762; "
    "prompted 6/6 grooming, 0/6 ordinary (then its missed kinds were covered: no longer held "
    "out)",
    "id round 5": "mask P 1.000 R 1.000, 0/20 ordinary changed; signals P 0.900 R 0.857; "
    "prompted 6/6 grooming, 0/6 ordinary",
    "es": "mask P 1.000 R 0.950, 0/20 ordinary changed; signals P 1.000 R 1.000; "
    "prompted 6/6 grooming, 0/6 ordinary",
    "hi": "mask P 1.000 R 1.000, 0/20 ordinary changed; signals P 1.000 R 1.000; "
    "prompted 6/6 grooming, 0/6 ordinary",
}


@dataclass(frozen=True)
class Row:
    task: str  # "mask" or "signal"
    labels: frozenset[str]  # contact kinds or signals; empty = ordinary
    text: str


@dataclass(frozen=True)
class Conversation:
    id: str
    label: str  # "grooming" or "benign"
    lines: tuple[tuple[int, str], ...]


def load_rows(path: Path) -> list[Row]:
    rows = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        if raw.strip() and not raw.startswith("#"):
            task, label, text = raw.split("\t")
            assert task in ("mask", "signal"), raw
            rows.append(
                Row(task, frozenset() if label == "-" else frozenset(label.split(",")), text)
            )
    return rows


def load_conversations(path: Path) -> list[Conversation]:
    out = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        if raw.strip():
            c = json.loads(raw)
            lines = tuple((int(side), str(text)) for side, text in c["lines"])
            assert c["label"] in ("grooming", "benign"), c["id"]
            out.append(Conversation(c["id"], c["label"], lines))
    return out


def paths(lang: str, which: str) -> tuple[list[Path], list[Path]]:
    """The line files and conversation files of one language's set (missing ones are skipped)."""
    if lang == "en":
        if which == "tuning":
            rows, convs = [DATA / "text_corpus.tsv"], [DATA / "text_conversations.jsonl"]
        else:
            rows, convs = [DATA / "text_heldout.tsv"], [LANG / "en_heldout_conversations.jsonl"]
    else:
        rows, convs = [LANG / f"{lang}_{which}.tsv"], [LANG / f"{lang}_{which}_conversations.jsonl"]
    return [p for p in rows if p.exists()], [p for p in convs if p.exists()]


def load_set(lang: str, which: str) -> tuple[list[Row], list[Conversation]]:
    row_paths, conv_paths = paths(lang, which)
    rows = [r for p in row_paths for r in load_rows(p)]
    convs = [c for p in conv_paths for c in load_conversations(p)]
    return rows, convs


@dataclass(frozen=True)
class Figures:
    """One language's set, scored.

    Masking, per line: precision and recall of "the line was changed", and the share of
    ordinary lines changed. Signals, per (line, signal). Prompts, per conversation: the share of
    grooming conversations in which a side crossed the threshold (recall), how many ordinary
    ones did, and the precision of a prompt.
    """

    mask_tp: int
    mask_fp: int
    mask_fn: int
    ordinary_lines: int
    signal_tp: int
    signal_fp: int
    signal_fn: int
    grooming: int
    grooming_prompted: int
    benign: int
    benign_prompted: int
    mask_misses: tuple[str, ...]
    mask_false: tuple[str, ...]
    conv_misses: tuple[str, ...]

    @staticmethod
    def _ratio(a: int, b: int) -> float:
        return a / b if b else 1.0

    @property
    def mask_precision(self) -> float:
        return self._ratio(self.mask_tp, self.mask_tp + self.mask_fp)

    @property
    def mask_recall(self) -> float:
        return self._ratio(self.mask_tp, self.mask_tp + self.mask_fn)

    @property
    def ordinary_changed(self) -> float:
        return self.mask_fp / self.ordinary_lines if self.ordinary_lines else 0.0

    @property
    def signal_precision(self) -> float:
        return self._ratio(self.signal_tp, self.signal_tp + self.signal_fp)

    @property
    def signal_recall(self) -> float:
        return self._ratio(self.signal_tp, self.signal_tp + self.signal_fn)

    @property
    def prompt_recall(self) -> float:
        return self._ratio(self.grooming_prompted, self.grooming)

    @property
    def prompt_precision(self) -> float:
        return self._ratio(self.grooming_prompted, self.grooming_prompted + self.benign_prompted)


def prompted(conversation: Conversation) -> bool:
    risk = ConversationRisk()
    return any(risk.feed(text, side) is not None for side, text in conversation.lines)


def score(rows: Sequence[Row], conversations: Sequence[Conversation]) -> Figures:
    mtp = mfp = mfn = ordinary = stp = sfp = sfn = 0
    misses: list[str] = []
    false: list[str] = []
    for row in rows:
        if row.task == "mask":
            hit = mask_contacts(row.text)[0] != row.text
            if row.labels:
                mtp += hit
                mfn += not hit
                if not hit:
                    misses.append(row.text)
            else:
                ordinary += 1
                mfp += hit
                if hit:
                    false.append(row.text)
        else:
            found = {str(s) for s in line_signals(row.text)}
            stp += len(found & row.labels)
            sfp += len(found - row.labels)
            sfn += len(row.labels - found)
    grooming = [c for c in conversations if c.label == "grooming"]
    benign = [c for c in conversations if c.label == "benign"]
    g_hits = [c for c in grooming if prompted(c)]
    b_hits = [c for c in benign if prompted(c)]
    conv_misses = [c.id for c in grooming if c not in g_hits] + [c.id for c in b_hits]
    return Figures(
        mtp, mfp, mfn, ordinary, stp, sfp, sfn,
        len(grooming), len(g_hits), len(benign), len(b_hits),
        tuple(misses), tuple(false), tuple(conv_misses),
    )  # fmt: skip


def table() -> dict[tuple[str, str], Figures]:
    """Every language's tuning and held-out figures, and later held-out rounds where written."""
    out = {(lang, which): score(*load_set(lang, which)) for lang in LANGUAGES for which in SETS}
    for lang, which in LATER_ROUNDS:
        out[lang, which] = score(*load_set(lang, which))
    return out


def format_table(figures: dict[tuple[str, str], Figures]) -> list[str]:
    out = [
        f"{'lang':<4} {'set':<8} {'mask P':>6} {'mask R':>6} {'ord.chg':>7} {'sig P':>6} "
        f"{'sig R':>6} {'prompted':>9} {'benign prompted':>15} {'prompt P':>8}"
    ]
    for (lang, which), f in figures.items():
        out.append(
            f"{lang:<4} {which:<8} {f.mask_precision:>6.3f} {f.mask_recall:>6.3f} "
            f"{f.ordinary_changed:>7.3f} {f.signal_precision:>6.3f} {f.signal_recall:>6.3f} "
            f"{f.grooming_prompted:>4}/{f.grooming:<4} {f.benign_prompted:>7}/{f.benign:<7} "
            f"{f.prompt_precision:>8.3f}"
        )
    return out


if __name__ == "__main__":  # a quick look while writing rules: python tests/harness/text_quality.py
    figs = table()
    print("\n".join(format_table(figs)))
    for (lang, which), f in figs.items():
        for text in f.mask_misses:
            print(f"{lang} {which} MISSED   {text}")
        for text in f.mask_false:
            print(f"{lang} {which} CHANGED  {text}")
        for cid in f.conv_misses:
            print(f"{lang} {which} CONV     {cid}")
