"""Bench of known-image hash matching: stills hashed (PDQ) and matched per second per core.

    .venv/bin/python -m bench.hash_match            # about 2 minutes
    .venv/bin/python -m bench.hash_match --quick    # about 30 s (10k and 100k only)

For 10,000, 100,000 and 1,000,000 hashes in a list, each still goes through what the server does
with it: decode the JPEG and compute its PDQ hash (:func:`parley.safety.pdq.pdq_of`), then find
the nearest list entry within distance 31. Contenders, on one pinned core, in a rotating order
each round so that a neighbour's burst of load hits all of them alike:

- ``hash only``: decoding and hashing, no matching (the floor);
- ``linear``: hashing, then the linear numpy scan (:class:`LinearIndex`): the baseline;
- ``multi-index``: hashing, then multi-index hashing over 16-bit chunks (:class:`MultiIndex`).

Stills per second come from the process's CPU time (wall-clock is reported next to it); the
median over rounds is shown, with the median per-round ratio to the linear scan. Matching alone
(microseconds per query, same queries) is reported too, and, with ``--crossover``, the list size
from which the multi-index is the faster (``MULTI_INDEX_FROM`` in parley/safety/hash_index.py).

The list is random hashes, with the hashes of half the stills planted in it a few bits off (so
that both the "found" and the "not found" paths run, and both indexes must agree on every
answer). Real lists are less uniform than random hashes: a bucket of the multi-index then holds
more entries, and the index falls back to the scan when its buckets hold more than the list.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import pin_to_one_core
from parley.safety.hash_index import Index, LinearIndex, MultiIndex
from parley.safety.pdq import pdq_of

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from harness.stills import benign_stills  # noqa: E402

WITHIN = 31
SIZES = (10_000, 100_000, 1_000_000)
CROSSOVER_SIZES = (1_000, 2_000, 4_000, 8_000, 16_000, 32_000)


def make_list(size: int, planted: Sequence[bytes], seed: int) -> np.ndarray:
    """``size`` random hashes with ``planted`` (each a few bits off) among them."""
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 256, (size, 32), dtype=np.uint8)
    where = rng.choice(size, len(planted), replace=False)
    for row, digest in zip(where, planted, strict=True):
        near = np.frombuffer(digest, dtype=np.uint8).copy()
        for bit in rng.choice(256, int(rng.integers(0, 12)), replace=False):
            near[bit // 8] ^= 1 << (7 - bit % 8)
        hashes[row] = near
    return hashes


def contenders(linear: Index, multi: Index) -> dict[str, Callable[[bytes], object]]:
    return {
        "hash only": lambda jpeg: pdq_of(jpeg),
        "linear": lambda jpeg: linear.nearest(pdq_of(jpeg).digest, WITHIN),
        "multi-index": lambda jpeg: multi.nearest(pdq_of(jpeg).digest, WITHIN),
    }


def timed(fn: Callable[[bytes], object], stills: Sequence[bytes]) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    for jpeg in stills:
        fn(jpeg)
    return time.process_time() - cpu, time.perf_counter() - wall


def per_still(linear: Index, multi: Index, stills: Sequence[bytes], rounds: int) -> dict[str, Any]:
    runs = contenders(linear, multi)
    names = list(runs)
    cpu: dict[str, list[float]] = {n: [] for n in names}
    wall: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            c, w = timed(runs[name], stills)
            cpu[name].append(len(stills) / c if c > 0 else float("inf"))
            wall[name].append(len(stills) / w)
    out: dict[str, Any] = {}
    for name in names:
        ratios = [a / b for a, b in zip(cpu[name], cpu["linear"], strict=True)]
        out[name] = {
            "cpu_stills_per_s": statistics.median(cpu[name]),
            "wall_stills_per_s": statistics.median(wall[name]),
            "ratio_to_linear": statistics.median(ratios),
        }
    return out


def match_only(index: Index, queries: Sequence[bytes], rounds: int) -> float:
    """Median CPU microseconds per query."""
    figures = []
    for _ in range(rounds):
        cpu = time.process_time()
        for q in queries:
            index.nearest(q, WITHIN)
        figures.append((time.process_time() - cpu) / len(queries) * 1e6)
    return statistics.median(figures)


def queries_for(hashes: np.ndarray, digests: Sequence[bytes], seed: int) -> list[bytes]:
    """The stills' hashes and as many random ones (mostly no match)."""
    rng = np.random.default_rng(seed)
    extra = [rng.integers(0, 256, 32, dtype=np.uint8).tobytes() for _ in digests]
    return [*digests, *extra]


def agree(linear: Index, multi: Index, queries: Sequence[bytes]) -> int:
    """Both indexes give the same distance for every query; returns how many matched."""
    found = 0
    for q in queries:
        a, b = linear.nearest(q, WITHIN), multi.nearest(q, WITHIN)
        assert (a is None) == (b is None), (a, b)
        if a is not None and b is not None:
            assert a.distance == b.distance, (a, b)
            found += 1
    return found


def crossover(rounds: int, queries_n: int = 400) -> dict[int, dict[str, float]]:
    out = {}
    rng = np.random.default_rng(7)
    for size in CROSSOVER_SIZES:
        hashes = rng.integers(0, 256, (size, 32), dtype=np.uint8)
        queries = [rng.integers(0, 256, 32, dtype=np.uint8).tobytes() for _ in range(queries_n)]
        queries += [hashes[i].tobytes() for i in rng.choice(size, queries_n)]
        lin, mul = LinearIndex(hashes), MultiIndex(hashes)
        a, b = match_only(lin, queries, rounds), match_only(mul, queries, rounds)
        out[size] = {"linear_us": a, "multi_us": b, "multi_faster": float(b < a)}
        print(f"  {size:>7,}: linear {a:8.1f} us, multi-index {b:8.1f} us")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="passes per contender")
    parser.add_argument("--repeat", type=int, default=4, help="passes over the stills per round")
    parser.add_argument("--cpu", type=int, default=None, help="core to pin to (default: last)")
    parser.add_argument("--quick", action="store_true", help="10k and 100k, 3 rounds")
    parser.add_argument("--crossover", action="store_true", help="also time 1k-32k, match only")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    sizes = SIZES[:2] if args.quick else SIZES
    if args.quick:
        args.rounds = 3

    stills = [jpeg for _, jpeg in benign_stills()]
    digests = [pdq_of(jpeg).digest for jpeg in stills]
    workload = stills * args.repeat
    core = pin_to_one_core(args.cpu)
    print(
        f"hash match bench: {len(stills)} distinct stills (320 px JPEG), {len(workload)} per "
        f"pass, {args.rounds} rounds, distance <= {WITHIN}, pinned to core {core}"
    )
    results: dict[str, Any] = {}
    for size in sizes:
        hashes = make_list(size, digests[::2], seed=size)
        t0 = time.perf_counter()
        linear = LinearIndex(hashes)
        t1 = time.perf_counter()
        multi = MultiIndex(hashes)
        t2 = time.perf_counter()
        queries = queries_for(hashes, digests, seed=size + 1)
        found = agree(linear, multi, queries)
        stills_figs = per_still(linear, multi, workload, args.rounds)
        lin_us = match_only(linear, queries, args.rounds)
        mul_us = match_only(multi, queries, args.rounds)
        results[str(size)] = {
            "per_still": stills_figs,
            "match_only_us": {"linear": lin_us, "multi-index": mul_us},
            "build_s": {"linear": t1 - t0, "multi-index": t2 - t1},
            "index_bytes": {
                "linear": int(linear.columns.nbytes),
                "multi-index": int(multi.words.nbytes + multi.order_bytes + multi.starts_bytes),
            },
            "queries_found": found,
            "queries": len(queries),
        }
        print(f"\n{size:,} hashes ({found}/{len(queries)} queries found; both indexes agree)")
        print(f"{'contender':<12} {'stills/s (cpu)':>15} {'stills/s (wall)':>16} {'x linear':>9}")
        for name, fig in stills_figs.items():
            print(
                f"{name:<12} {fig['cpu_stills_per_s']:>15,.0f} {fig['wall_stills_per_s']:>16,.0f}"
                f" {fig['ratio_to_linear']:>9.2f}"
            )
        print(
            f"match only: linear {lin_us:,.0f} us, multi-index {mul_us:,.0f} us per query "
            f"(x{lin_us / mul_us:.1f}); build {t2 - t1:.2f} s, "
            f"{results[str(size)]['index_bytes']['multi-index'] / 2**20:.0f} MiB"
        )
    if args.crossover:
        print("\ncrossover (match only, CPU):")
        results["crossover"] = crossover(args.rounds)

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.json or ROOT / "bench" / "results" / f"{stamp}-hash-match.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"at": stamp, "core": core, "rounds": args.rounds, "within": WITHIN, **results}
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
