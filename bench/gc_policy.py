"""Bench of the garbage-collector policy (``PARLEY_GC``): each policy against ``default`` in the
same run, on the churn and the relay.

    .venv/bin/python -m bench.gc_policy                      # control, freeze, tuned vs default
    .venv/bin/python -m bench.gc_policy --policies tuned,100000,50,100 --churners 1000

Each policy runs against ``default`` in a pair of Parley servers started as bench/servers.py
does (rate limits raised), both running at once; ``default`` as a policy is an A/A control that
shows the noise. Churn (bench/match.py): for each size, each server gets its own churners, and
the 4-second windows alternate in ABBA order, one window per server per round, so a neighbour's
burst of load hits both alike. Relay (bench/relay.py): 1-second slots, also
ABBA. Each round gives a ratio of the policy to ``default`` (matches/s; time-to-match p99 of
the window; relay msgs/s and msgs per server CPU-second); the table shows medians over rounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import uvloop

from bench import match, relay
from bench.common import log
from bench.servers import ROOT, Server, parley_server, raise_nofile, stop_all

BASE = "default"


def _pair(policy: str) -> list[Server]:
    """Two servers: ``default`` and ``policy`` (``default`` again makes an A/A control)."""
    out = []
    for i, value in enumerate([BASE, policy]):
        s = parley_server({"PARLEY_GC": value})
        s.name = f"gc={value}" + (" (control)" if i and value == BASE else "")
        out.append(s)
    return out


def _measured(
    policy: str, measure: Callable[[list[Server]], dict[str, Any]]
) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
    """Start ``default`` and ``policy``, run ``measure`` on both at once, stop them; returns the
    base's raw figures, and each server's name with its raw figures (the base's first)."""
    servers = _pair(policy)
    try:
        for s in servers:
            s.start()
        raw = measure(servers)
    finally:
        for s in servers:
            s.stop()
    return raw[servers[0].name], [(s.name, raw[s.name]) for s in servers]


def _median(xs: list[float]) -> float | None:
    xs = [x for x in xs if x == x]  # NaN: a window without a match
    return statistics.median(xs) if xs else None


def _ratios(a: list[float], b: list[float]) -> list[float]:
    return [x / y for x, y in zip(a, b, strict=True) if y > 0 and x == x and y == y]


def churn(policy: str, churners: int, rounds: int, window: float) -> dict[str, Any]:
    cfg = match.ChurnConfig(churners=churners, warmup=1.0, window=window, grace=1.0)
    base, each = _measured(
        policy, lambda servers: uvloop.run(match.compare_servers(servers, cfg, rounds))
    )
    out: dict[str, Any] = {}
    for name, o in each:
        mps, p99 = o["matches_per_s_by_window"], o["client_ttm_p99_by_window_s"]
        out[name] = {
            "matches_per_s_by_round": mps,
            "p99_s_by_round": p99,
            "matches_per_s_median": _median(mps),
            "p99_s_median": _median(p99),
            "mps_ratio_median": _median(_ratios(mps, base["matches_per_s_by_window"])),
            "p99_ratio_median": _median(_ratios(p99, base["client_ttm_p99_by_window_s"])),
            "server_cpu_ms_per_match": o["server_cpu_ms_per_match"],
            # matches per server CPU-second, as a ratio: the base's CPU per match over ours
            "cpu_ratio_median": _median(
                _ratios(
                    base["server_cpu_ms_per_match_by_window"],
                    o["server_cpu_ms_per_match_by_window"],
                )
            ),
            "healthz_max_s": o["healthz_latency_s"].get("max"),
        }
    return out


def relay_run(policy: str, pairs: int, rounds: int) -> dict[str, Any]:
    cfg = relay.RelayConfig(pairs=pairs, rounds=rounds, light_rounds=1)
    base, each = _measured(policy, lambda servers: relay.run(servers, cfg))
    out: dict[str, Any] = {}
    for name, o in each:
        rates, us = o["msgs_per_s_by_round"], o["server_cpu_us_per_msg_by_round"]
        out[name] = {
            "msgs_per_s_by_round": rates,
            "msgs_per_s_median": _median(rates),
            "ratio_median": _median(_ratios(rates, base["msgs_per_s_by_round"])),
            # msgs per server CPU-second, as a ratio: the base's CPU per message over ours
            "cpu_ratio_median": _median(_ratios(base["server_cpu_us_per_msg_by_round"], us)),
        }
    return out


def _f(v: Any, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.gc_policy", description=__doc__.split("\n\n")[0])
    p.add_argument("--policies", default="default,freeze,tuned", help="PARLEY_GC values vs default")
    p.add_argument("--churners", default="200,1000", help="comma list of churn sizes")
    p.add_argument("--rounds", type=int, default=3, help="rounds (one window per server each)")
    p.add_argument("--window", type=float, default=4.0, help="counted seconds per churn window")
    p.add_argument("--pairs", type=int, default=20, help="relay pairs per server (0: no relay)")
    args = p.parse_args(argv)
    # A threshold policy "T0,T1,T2" has commas too: split on commas, then rejoin runs of digits.
    parts = args.policies.split(",")
    policies: list[str] = []
    while parts:
        if parts[0].isdigit():
            policies.append(",".join(parts[:3]))
            parts = parts[3:]
        else:
            policies.append(parts.pop(0))
    raise_nofile()
    results: dict[str, Any] = {"policies": policies, "rounds": args.rounds, "churn": {}}
    rows: list[list[str]] = []
    try:
        for n, policy in ((int(x), p) for x in args.churners.split(",") if x for p in policies):
            r = churn(policy, n, args.rounds, args.window)
            results["churn"].setdefault(str(n), {})[policy] = r
            for name, o in r.items():
                rows.append(
                    [
                        f"churn {n}",
                        name,
                        f"{_f(o['matches_per_s_median'], '.0f')} pairs/s",
                        _f(o["mps_ratio_median"], ".3f"),
                        f"{_f(o['p99_s_median'] and o['p99_s_median'] * 1000, '.0f')} ms",
                        _f(o["p99_ratio_median"], ".3f"),
                        _f(o["cpu_ratio_median"], ".3f"),
                    ]
                )
        for policy in policies if args.pairs > 0 else []:
            rr = relay_run(policy, args.pairs, args.rounds)
            results.setdefault("relay", {})[policy] = rr
            for name, o in rr.items():
                rows.append(
                    [
                        f"relay {args.pairs} pairs",
                        name,
                        f"{_f(o['msgs_per_s_median'], '.0f')} msgs/s",
                        _f(o["ratio_median"], ".3f"),
                        "",
                        "",
                        _f(o["cpu_ratio_median"], ".3f"),
                    ]
                )
    finally:
        stop_all()
    head = ["phase", "server", "median", "÷ default", "p99", "÷ default", "per CPU-s ÷ default"]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for row in [head, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = ROOT / "bench" / "results" / f"{stamp}-gc-policy.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"at": stamp, **results}, indent=2) + "\n")
    log(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
