"""``python -m bench.vision_compare``: nudenet and open_nsfw on the same benign stills.

For each classifier Parley ships (``nudenet``, the ``vision`` extra; ``opennsfw``, the
``opennsfw`` extra):

- **speed**: stills classified per second per core, by CPU time in this process with the
  one-thread ONNX session a worker uses, the two classifiers alternated (ABBA) so that a busy
  neighbour hurts both alike; then the real :class:`VisionPool` with one worker process, wall
  clock. The decode-only rate of the same stills is the baseline every classifier pays.
- **false positives** on benign stills (``harness.stills.benign_stills``: synthetic camera frames,
  variants of the one photograph matplotlib ships, renders of its other sample data, and
  skin-coloured stills). No explicit image is, or may be, in this repository, so this measures
  false positives only, never detection.

Hold-out: the stills alternate into a *tuning* half (even positions) and a *held-out* half (odd
positions). open_nsfw's threshold is chosen on the tuning half alone (:func:`choose_threshold`):
the lowest score on a 0.05 grid from 0.5 (where its two outputs, NSFW and SFW, cross) at which
no tuning still is positive, nor even *suspect* (``PARLEY_VISION_SUSPECT_RATIO`` of it: a margin
of 2 at the default 0.5). False positives are then counted on the held-out half, at that
threshold and at the defaults Parley ships (nudenet's per-class thresholds, and ``NSFW``).

    .venv/bin/python -m bench.vision_compare            # about 2 minutes
    .venv/bin/python -m bench.vision_compare --quick    # a short smoke run

Writes ``bench/results/<UTC timestamp>-vision-compare.json`` and prints a table. Needs both
extras (scripts/bootstrap installs them).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import io
import os
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import log, ratio
from bench.servers import ROOT
from bench.vision import cpu_rate, pool_rate, write_report

CLASSIFIERS = ("nudenet", "opennsfw")
GRID = [round(0.5 + 0.05 * i, 2) for i in range(10)]  # 0.50 .. 0.95


def benign() -> list[tuple[str, bytes]]:
    sys.path.insert(0, str(ROOT / "tests"))
    from harness.stills import benign_stills

    return benign_stills()


def split(stills: list[tuple[str, bytes]]) -> tuple[list[tuple[str, bytes]], ...]:
    """(tuning, held-out): alternate positions, so each family of stills is in both halves."""
    return stills[0::2], stills[1::2]


def choose_threshold(tuning_scores: list[float], suspect_ratio: float) -> float:
    """The lowest grid score at which no tuning still is positive or suspect."""
    worst = max(tuning_scores, default=0.0)
    for threshold in GRID:
        if worst < threshold * suspect_ratio:
            return threshold
    return GRID[-1]


def decode_only(jpeg: bytes) -> None:
    """What any classifier pays before its model: the JPEG decoded to RGB pixels."""
    from PIL import Image

    Image.open(io.BytesIO(jpeg)).convert("RGB")


def judged(
    detections: dict[str, list[Any]], thresholds: dict[str, float], suspect_ratio: float
) -> dict[str, Any]:
    """Which stills Parley's own judge (``Thresholds``) calls positive, and suspect."""
    from parley.safety.vision import Thresholds

    judge = Thresholds(thresholds, suspect_ratio)
    positive: list[str] = []
    suspect: list[str] = []
    for name, found in detections.items():
        verdict = judge.judge(tuple(found))
        if verdict.positive:
            positive.append(f"{name} ({', '.join(f'{d.label} {d.score:.2f}' for d in found)})")
        elif verdict.suspect:
            scores = ", ".join(f"{d.label} {d.score:.2f}" for d in found if d.label in thresholds)
            suspect.append(f"{name} ({scores})")
    return {"stills": len(detections), "false_positives": positive, "suspect": suspect}


def measure(seconds: float, rounds: int, pool_n: int) -> dict[str, Any]:
    from parley.config import Settings
    from parley.safety.classifier import Classifier, make_classifier

    settings = Settings(_env_file=None)
    shipped = settings.vision_threshold_map()
    ratio_ = settings.vision_suspect_ratio
    stills = benign()
    tuning, held_out = split(stills)
    log(f"[stills] {len(stills)} benign: {len(tuning)} tuning, {len(held_out)} held out")

    loaded: dict[str, Classifier] = {}
    for name in CLASSIFIERS:
        loaded[name] = make_classifier(name)
        loaded[name].load()
    found = {
        name: {still: c.classify(jpeg) for still, jpeg in stills} for name, c in loaded.items()
    }

    # speed: CPU time per core, ABBA over the two classifiers and the decode baseline
    jpegs = [jpeg for _, jpeg in stills]
    runs: list[tuple[str, Callable[[bytes], object]]] = [
        ("decode", decode_only),
        *((name, c.classify) for name, c in loaded.items()),
    ]
    rates: dict[str, list[float]] = {name: [] for name, _ in runs}
    for r in range(rounds):
        for name, fn in runs if r % 2 == 0 else runs[::-1]:
            rates[name].append(cpu_rate(fn, jpegs, seconds))
    baseline = statistics.median(rates["decode"])
    report: dict[str, Any] = {
        "stills": {"total": len(stills), "tuning": len(tuning), "held_out": len(held_out)},
        "decode_baseline_per_cpu_second": baseline,
        "shipped_thresholds": shipped,
        "suspect_ratio": ratio_,
    }

    # the threshold for open_nsfw, from the tuning half only
    tuning_scores = [d.score for s, _ in tuning for d in found["opennsfw"][s] if d.label == "NSFW"]
    chosen = choose_threshold(tuning_scores, ratio_)
    held_scores = [d.score for s, _ in held_out for d in found["opennsfw"][s] if d.label == "NSFW"]
    log(
        f"[threshold] open_nsfw: highest benign score {max(tuning_scores):.3f} (tuning), "
        f"{max(held_scores):.3f} (held out) -> NSFW={chosen} (shipped: {shipped.get('NSFW')})"
    )
    report["opennsfw_threshold"] = {
        "chosen_on_tuning": chosen,
        "shipped": shipped.get("NSFW"),
        "rule": "lowest of 0.50..0.95 (step 0.05) with every tuning score < threshold * "
        "suspect_ratio",
        "max_tuning_score": max(tuning_scores),
        "max_held_out_score": max(held_scores),
        "scores": {s: round(d.score, 4) for s, ds in found["opennsfw"].items() for d in ds},
    }
    for name in CLASSIFIERS:
        per_core = statistics.median(rates[name])
        pool = asyncio.run(pool_rate(1, pool_n, name))
        held = {s: found[name][s] for s, _ in held_out}
        tune = {s: found[name][s] for s, _ in tuning}
        entry: dict[str, Any] = {
            "stills_per_cpu_second": per_core,
            "rounds": rates[name],
            "ratio_to_decode_baseline": ratio(per_core, baseline),
            "pool_1_worker_per_s": pool,
            "held_out_at_shipped": judged(held, shipped, ratio_),
            "tuning_at_shipped": judged(tune, shipped, ratio_),
        }
        if name == "opennsfw":
            entry["held_out_at_chosen"] = judged(held, {"NSFW": chosen}, ratio_)
        report[name] = entry
        log(
            f"[{name}] {per_core:.1f} stills/s per core (CPU), pool of 1: {pool:.1f}/s wall; "
            f"held out: {len(entry['held_out_at_shipped']['false_positives'])} false positives, "
            f"{len(entry['held_out_at_shipped']['suspect'])} suspect of {len(held)}"
        )
    return report


def print_table(r: dict[str, Any]) -> None:
    st, th = r["stills"], r["opennsfw_threshold"]
    rows = [("", "nudenet", "opennsfw")]
    n, o = r["nudenet"], r["opennsfw"]
    held = st["held_out"]

    def fp(e: dict[str, Any], key: str) -> str:
        j = e[key]
        return f"{len(j['false_positives'])} of {j['stills']} (suspect {len(j['suspect'])})"

    rows += [
        ("stills/s per core (CPU time, 1 thread)",
         f"{n['stills_per_cpu_second']:.1f}", f"{o['stills_per_cpu_second']:.1f}"),
        ("  decode-only baseline", f"{r['decode_baseline_per_cpu_second']:.0f}", ""),
        ("pool, 1 worker process (wall)",
         f"{n['pool_1_worker_per_s']:.1f}/s", f"{o['pool_1_worker_per_s']:.1f}/s"),
        (f"false positives, tuning {st['tuning']}",
         fp(n, "tuning_at_shipped"), fp(o, "tuning_at_shipped")),
        (f"false positives, held out {held}",
         fp(n, "held_out_at_shipped"), fp(o, "held_out_at_shipped")),
        ("open_nsfw threshold chosen on tuning", "", f"NSFW={th['chosen_on_tuning']} "
         f"(shipped {th['shipped']})"),
        ("highest benign NSFW score, tuning / held out", "",
         f"{th['max_tuning_score']:.3f} / {th['max_held_out_score']:.3f}"),
    ]  # fmt: skip
    width = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  " + "  ".join(f"{c:<{w}}" for c, w in zip(row, width, strict=True)))
    for name in CLASSIFIERS:
        for key in ("held_out_at_shipped", "tuning_at_shipped"):
            for label in ("false_positives", "suspect"):
                for item in r[name][key][label]:
                    print(f"  {name} {key.split('_at')[0]} {label.replace('_', ' ')}: {item}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.vision_compare", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    q = args.quick
    report: dict[str, Any] = {
        "when": dt.datetime.now(dt.UTC).isoformat(),
        "cpus": os.cpu_count(),
        "load_avg": os.getloadavg(),
    }
    report |= measure(1.0 if q else 4.0, 2 if q else 4, 30 if q else 150)
    print_table(report)
    write_report(report, args.json, "vision-compare")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        raise SystemExit(main())
