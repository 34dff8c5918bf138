"""Bench of the text safety filter (``parley.safety.text``): throughput and quality.

    .venv/bin/python -m bench.text_filter            # about 30 s
    .venv/bin/python -m bench.text_filter --quick    # about 5 s
    .venv/bin/python -m bench.text_filter --json out.json

Throughput: every line of the labelled corpora (``tests/data/``) in a fixed shuffled order,
repeated to ``--lines`` lines, on one core (the process pins itself). Each contender runs once
per round, in a rotating order, so a neighbour's burst of load hits all of them alike:

- ``baseline``: ``str.lower()`` and one regex pass for digits, links and "@": the cheapest
  filter one could write, measured in the same run to give a ratio;
- ``mask``: :func:`mask_contacts`;
- ``feed``: :meth:`ConversationRisk.feed` alone (contact kinds given, so no contact scan);
- ``mask+feed``: both, the kinds of the first handed to the second (target >= 20,000 lines/s);
- ``screen_line``: both in one call, folding and scanning the line once (what the gateway uses).

A stress workload follows: three corpus lines joined into one (about 67 characters, and dense
in trigger words, since every corpus line is a contact, a signal or a look-alike), for
``baseline``, ``mask+feed`` and ``screen_line``. It shows how the cost grows with long lines
that wake many rules; ordinary chat is shorter and sparser.

Lines/s is computed from the process's CPU time, which does not depend on how much of the core
the neighbours leave us; wall-clock lines/s is reported next to it. The median over rounds is
shown, with the median per-round ratio to the baseline.

Quality: precision and recall of masking (per line) and of signal categories (per line and
category) on the main corpus and on the held-out rounds, whose first-run figures (before any
tuning, from the file's header) are printed too; and, over whole conversations, how many grooming
conversations cross the threshold and how many benign ones do. Then the same per language (en, id,
es, hi) on each language's tuning and held-out sets (``tests/harness/text_quality.py``), with the
held-out sets' first-pass figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import pin_to_one_core
from parley.safety.text import (
    ConversationRisk,
    line_signals,
    mask_contacts,
    screen_line,
)

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
sys.path.insert(0, str(DATA.parent))
from harness import text_quality  # noqa: E402

TARGET_LINES_PER_S = 20_000
LINES_PER_PAIR = 100  # a fresh ConversationRisk every this many lines, like a new pair


@dataclass(frozen=True)
class Row:
    task: str
    labels: frozenset[str]
    text: str


def load_rows(name: str) -> list[Row]:
    rows = []
    for raw in (DATA / name).read_text(encoding="utf-8").splitlines():
        if raw.strip() and not raw.startswith("#"):
            task, label, text = raw.split("\t")
            rows.append(
                Row(task, frozenset() if label == "-" else frozenset(label.split(",")), text)
            )
    return rows


def load_conversations() -> list[dict[str, Any]]:
    raw = (DATA / "text_conversations.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in raw if line.strip()]


def first_run_notes() -> list[str]:
    """The held-out rounds' first-run figures, as written in the file's header."""
    head = (DATA / "text_heldout.tsv").read_text(encoding="utf-8").splitlines()
    return [line.lstrip("# ").rstrip() for line in head if line.startswith("#   round")]


# ---- throughput ------------------------------------------------------------------------------

_BASELINE = re.compile(r"\d{7,}|https?://\S+|www\.\S+|\S+@\S+|@\w+")


def run_baseline(lines: Sequence[str]) -> None:
    search = _BASELINE.search
    for line in lines:
        search(line.lower())


def run_mask(lines: Sequence[str]) -> None:
    for line in lines:
        mask_contacts(line)


def run_feed(lines: Sequence[str]) -> None:
    risk = ConversationRisk()
    for i, line in enumerate(lines):
        if i % LINES_PER_PAIR == 0:
            risk = ConversationRisk()
        risk.feed(line, i & 1, contact_kinds=())


def run_mask_feed(lines: Sequence[str]) -> None:
    risk = ConversationRisk()
    for i, line in enumerate(lines):
        if i % LINES_PER_PAIR == 0:
            risk = ConversationRisk()
        _, kinds = mask_contacts(line)
        risk.feed(line, i & 1, contact_kinds=kinds)


def run_screen(lines: Sequence[str]) -> None:
    risk = ConversationRisk()
    for i, line in enumerate(lines):
        if i % LINES_PER_PAIR == 0:
            risk = ConversationRisk()
        screen_line(line, mask=True, risk=risk, from_side=i & 1)


CONTENDERS: dict[str, Callable[[Sequence[str]], None]] = {
    "baseline": run_baseline,
    "mask": run_mask,
    "feed": run_feed,
    "mask+feed": run_mask_feed,
    "screen_line": run_screen,
}


def measure(fn: Callable[[Sequence[str]], None], lines: Sequence[str]) -> tuple[float, float]:
    """CPU seconds and wall seconds for one pass."""
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    fn(lines)
    return time.process_time() - cpu, time.perf_counter() - wall


def throughput(
    lines: Sequence[str], rounds: int, names: Sequence[str] = tuple(CONTENDERS)
) -> dict[str, dict[str, float]]:
    names = list(names)
    cpu: dict[str, list[float]] = {n: [] for n in names}
    wall: dict[str, list[float]] = {n: [] for n in names}
    run_mask(lines[:2000])  # warm the per-character fold cache and the regex cache
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            c, w = measure(CONTENDERS[name], lines)
            cpu[name].append(len(lines) / c)
            wall[name].append(len(lines) / w)
        print(f"  round {r + 1}/{rounds}: " + ", ".join(f"{n} {cpu[n][-1]:,.0f}" for n in names))
    out = {}
    for name in names:
        ratios = [a / b for a, b in zip(cpu[name], cpu["baseline"], strict=True)]
        out[name] = {
            "cpu_lines_per_s": statistics.median(cpu[name]),
            "wall_lines_per_s": statistics.median(wall[name]),
            "ratio_to_baseline": statistics.median(ratios),
            "us_per_line": 1e6 / statistics.median(cpu[name]),
        }
    return out


def hostile_worst_ms() -> tuple[str, float]:
    """The slowest 1,000-character hostile line (see tests/unit/test_text_filter.py)."""
    units = ["1", "1 ", "0812-", "(.", "a@", "a at ", "x dot ", "x.com ", "sc: ", "@ab_1.", "s3nd "]
    worst = ("", 0.0)
    for unit in units:
        text = (unit * (1000 // len(unit) + 1))[:1000]
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            screen_line(text, mask=True, risk=ConversationRisk())
            best = min(best, time.perf_counter() - start)
        if best > worst[1]:
            worst = (unit, best)
    return worst[0], worst[1] * 1e3


# ---- quality ---------------------------------------------------------------------------------


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    return {
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def mask_quality(rows: Sequence[Row]) -> dict[str, float]:
    tp = fp = fn = 0
    for row in rows:
        if row.task == "mask":
            hit = mask_contacts(row.text)[0] != row.text
            tp += bool(row.labels) and hit
            fn += bool(row.labels) and not hit
            fp += not row.labels and hit
    return prf(tp, fp, fn)


def signal_quality(rows: Sequence[Row]) -> dict[str, float]:
    tp = fp = fn = 0
    for row in rows:
        if row.task == "signal":
            found = {str(c) for c in line_signals(row.text)}
            tp += len(found & row.labels)
            fp += len(found - row.labels)
            fn += len(row.labels - found)
    return prf(tp, fp, fn)


def conversation_quality(conversations: Sequence[dict[str, Any]]) -> dict[str, int]:
    out = {"grooming": 0, "grooming_flagged": 0, "benign": 0, "benign_flagged": 0}
    for c in conversations:
        risk = ConversationRisk()
        flagged = any(risk.feed(text, side) is not None for side, text in c["lines"])
        out[c["label"]] += 1
        out[f"{c['label']}_flagged"] += flagged
    return out


# ---- main ------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=60_000, help="lines per pass")
    parser.add_argument("--rounds", type=int, default=5, help="passes per contender")
    parser.add_argument("--cpu", type=int, default=None, help="core to pin to (default: last)")
    parser.add_argument("--quick", action="store_true", help="20,000 lines, 3 rounds")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.quick:
        args.lines, args.rounds = 20_000, 3

    main_rows = load_rows("text_corpus.tsv")
    heldout = load_rows("text_heldout.tsv")
    conversations = load_conversations()
    corpus_lines = [r.text for r in main_rows + heldout]
    corpus_lines += [text for c in conversations for _, text in c["lines"]]
    # Every other language's lines too, so the mix is a quarter each of en, id, es and hi sets.
    for lang in text_quality.LANGUAGES[1:]:
        for which in text_quality.SETS:
            lang_rows, lang_convs = text_quality.load_set(lang, which)
            corpus_lines += [r.text for r in lang_rows]
            corpus_lines += [t for c in lang_convs for _, t in c.lines]
    random.Random(1).shuffle(corpus_lines)
    lines = (corpus_lines * (args.lines // len(corpus_lines) + 1))[: args.lines]
    mean_chars = sum(map(len, corpus_lines)) / len(corpus_lines)

    core = pin_to_one_core(args.cpu)
    print(
        f"text filter bench: {len(corpus_lines)} distinct lines (mean {mean_chars:.0f} chars), "
        f"{len(lines):,} lines per pass, {args.rounds} rounds, pinned to core {core}"
    )
    speed = throughput(lines, args.rounds)
    rng = random.Random(2)
    joined = [" ".join(rng.choice(corpus_lines) for _ in range(3)) for _ in range(len(lines) // 3)]
    joined_chars = sum(map(len, joined)) / len(joined)
    print(f"stress: {len(joined):,} lines of 3 joined corpus lines (mean {joined_chars:.0f} chars)")
    stress = throughput(joined, args.rounds, ("baseline", "mask+feed", "screen_line"))
    worst_unit, worst_ms = hostile_worst_ms()

    quality = {
        "mask_main": mask_quality(main_rows),
        "mask_heldout": mask_quality(heldout),
        "signals_main": signal_quality(main_rows),
        "signals_heldout": signal_quality(heldout),
    }
    convs = conversation_quality(conversations)

    print()
    header = ("contender", "lines/s (cpu)", "lines/s (wall)", "us/line", "x baseline")
    print(f"{header[0]:<13} {header[1]:>14} {header[2]:>15} {header[3]:>8} {header[4]:>11}")
    for name, fig in speed.items():
        print(
            f"{name:<13} {fig['cpu_lines_per_s']:>14,.0f} {fig['wall_lines_per_s']:>15,.0f} "
            f"{fig['us_per_line']:>8.1f} {fig['ratio_to_baseline']:>11.3f}"
        )
    for name, fig in stress.items():
        label = f"{name} (3x)"
        print(
            f"{label:<13} {fig['cpu_lines_per_s']:>14,.0f} {fig['wall_lines_per_s']:>15,.0f} "
            f"{fig['us_per_line']:>8.1f} {fig['ratio_to_baseline']:>11.3f}"
        )
    target = speed["mask+feed"]["cpu_lines_per_s"]
    verdict = "meets" if target >= TARGET_LINES_PER_S else "MISSES"
    print(f"mask+feed {verdict} the target of {TARGET_LINES_PER_S:,} lines/s on one core")
    print(f"slowest hostile 1,000-char line: {worst_ms:.2f} ms ({worst_unit!r} repeated)")

    print()
    print(f"{'quality':<18} {'precision':>9} {'recall':>7} {'tp':>5} {'fp':>4} {'fn':>4}")
    for name, q in quality.items():
        print(
            f"{name:<18} {q['precision']:>9.3f} {q['recall']:>7.3f} "
            f"{q['tp']:>5.0f} {q['fp']:>4.0f} {q['fn']:>4.0f}"
        )
    print(
        f"conversations: {convs['grooming_flagged']}/{convs['grooming']} grooming flagged, "
        f"{convs['benign_flagged']}/{convs['benign']} benign flagged"
    )
    print("held-out first runs (before tuning; the honest estimate for unseen phrasings):")
    for note in first_run_notes():
        print(f"  {note}")
    print()
    print("per language (mask P/R per line, ord.chg = ordinary lines changed, signals per line")
    print("and signal, prompts per conversation):")
    languages = text_quality.table()
    print("\n".join(text_quality.format_table(languages)))
    print("held-out first pass, before any change (issue 18):")
    for lang, note in text_quality.FIRST_PASS.items():
        print(f"  {lang}: {note}")

    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "lines_per_pass": len(lines),
                    "rounds": args.rounds,
                    "core": core,
                    "throughput": speed,
                    "stress_throughput": stress,
                    "stress_mean_chars": joined_chars,
                    "hostile_worst_ms": worst_ms,
                    "quality": quality,
                    "conversations": convs,
                    "heldout_first_runs": first_run_notes(),
                    "languages": {
                        f"{lang}/{which}": {
                            "mask_precision": f.mask_precision,
                            "mask_recall": f.mask_recall,
                            "ordinary_changed": f.ordinary_changed,
                            "signal_precision": f.signal_precision,
                            "signal_recall": f.signal_recall,
                            "prompt_recall": f.prompt_recall,
                            "prompt_precision": f.prompt_precision,
                            "benign_prompted": f.benign_prompted,
                        }
                        for (lang, which), f in languages.items()
                    },
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
