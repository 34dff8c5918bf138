"""``bash scripts/bench``: Parley's benchmarks, each as a ratio to a bare baseline of the same run.

Phases (``--only`` picks some):

- ``codec``: msgspec vs pydantic v2 vs stdlib json for the wire protocol (``bench/codec.py``).
- ``relay``: relay throughput and round trip A→B→A, Parley vs the bare ASGI relay
  (``bench/baseline.py``), interleaved (``bench/relay.py``).
- ``match``: time to match with 1,000 people churning, Parley vs baseline; then Parley with 100
  churners and 1,000 people queued that never match vs none (``bench/match.py``).
- ``rss``: memory per idle connection at 5,000 connections (``bench/rss.py``).

Writes ``bench/results/<UTC timestamp>.json`` (every figure, machine info, git commit) and
``<timestamp>.png`` (time-to-match and round-trip distributions), then prints a table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from types import FrameType
from typing import Any

from bench import codec, match, profile, relay, rss
from bench.common import log, ratio
from bench.servers import (
    ROOT,
    UVICORN_FLAGS,
    Server,
    baseline_server,
    parley_available,
    parley_server,
    raise_nofile,
    stop_all,
)

PHASES = ("codec", "relay", "match", "rss")
RESULTS_DIR = ROOT / "bench" / "results"

TARGETS = {
    "relay_ratio_min": 0.60,
    "server_ttm_p99_max_s": 0.050,
    "rss_kib_per_conn_max": 40.0,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="short smoke run (< 1 min)")
    p.add_argument("--only", default=",".join(PHASES), help=f"comma list of {', '.join(PHASES)}")
    p.add_argument("--no-parley", action="store_true", help="baseline only")
    p.add_argument("--pairs", type=int, default=20, help="relay pairs per server (default 20)")
    p.add_argument("--client-procs", type=int, default=2, help="relay client processes (default 2)")
    p.add_argument("--window", type=int, default=16, help="relay messages in flight per pair")
    p.add_argument("--text-len", type=int, default=100, help="relay message length in characters")
    p.add_argument("--churners", type=int, default=1000, help="people churning (default 1000)")
    p.add_argument("--sitters", type=int, default=1000, help="people queued for ever (1000)")
    p.add_argument("--connections", type=int, default=None, help="idle connections for rss")
    p.add_argument("--out", type=Path, default=RESULTS_DIR, help="results directory")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG")
    p.add_argument(
        "--profile",
        action="store_true",
        help="sample Parley with py-spy during relay and match (slightly lowers its figures)",
    )
    args = p.parse_args(argv)
    args.phases = [x.strip() for x in args.only.split(",") if x.strip()]
    bad = [x for x in args.phases if x not in PHASES]
    if bad:
        p.error(f"unknown phase(s) {bad}; choose from {PHASES}")
    return args


# --- configuration per mode ---------------------------------------------------------------


def configs(args: argparse.Namespace) -> dict[str, Any]:
    q = args.quick
    relay_cfg = relay.RelayConfig(
        pairs=args.pairs,
        procs=args.client_procs,
        window=args.window,
        text_len=args.text_len,
        rounds=2 if q else 5,
        slot=0.75 if q else 1.0,
        light_rounds=1 if q else 3,
        light_slot=1.0,
    )
    churn = match.ChurnConfig(
        churners=args.churners,
        warmup=0.5 if q else 1.0,
        window=2.0 if q else 4.0,
        grace=0.5 if q else 1.0,
    )
    sit = match.ChurnConfig(
        churners=min(100, args.churners),
        pause_min=0.05,  # 100 people at ~the same match rate as 1,000 with 1 s pauses
        pause_max=0.15,
        warmup=0.5 if q else 1.0,
        window=1.5 if q else 3.0,
        grace=0.5 if q else 1.0,
    )
    rss_cfg = rss.RssConfig(
        connections=args.connections or (1000 if q else 5000),
        settle=1.0 if q else 2.0,
        probe=1.5 if q else 3.0,
    )
    return {
        "relay": relay_cfg,
        "churn": churn,
        "churn_rounds": 1 if q else 2,
        "sitters": sit,
        "sitters_n": args.sitters,
        "sitter_rounds": 1 if q else 2,
        "rss": rss_cfg,
        "codec_seconds": 0.05 if q else 0.2,
        "codec_repeats": 3 if q else 5,
    }


# --- phases -------------------------------------------------------------------------------


def _servers(use_parley: bool) -> list[Server]:
    return [parley_server(), baseline_server()] if use_parley else [baseline_server()]


def _log_problems(report: dict[str, Any], phase: str, servers: list[Server]) -> None:
    for s in servers:
        problems = s.log_problems()
        if problems:
            report.setdefault("server_log_problems", {})[f"{phase}/{s.name}"] = problems[:20]
            log(f"[{phase}] {s.name} logged {len(problems)} error line(s), first: {problems[0]}")


def phase_codec(cfg: dict[str, Any], use_parley: bool, report: dict[str, Any]) -> dict[str, Any]:
    return codec.run(cfg["codec_seconds"], cfg["codec_repeats"], log)


def _profiler(cfg: dict[str, Any], phase: str, servers: list[Server]) -> profile.Profiler | None:
    target = next((s for s in servers if s.name == "parley"), None)
    if not cfg.get("profile") or target is None or target.proc is None:
        return None
    out_dir, stamp = cfg["profile"]
    prof = profile.Profiler(target.proc.pid, out_dir / f"{stamp}-{phase}.pyspy.txt")
    return prof if prof.start() else None


def _profiled(report: dict[str, Any], phase: str, prof: profile.Profiler | None) -> None:
    if prof is not None:
        summary = prof.stop()
        report.setdefault("profiles", {})[phase] = summary
        profile.show(phase, summary)


def phase_relay(cfg: dict[str, Any], use_parley: bool, report: dict[str, Any]) -> dict[str, Any]:
    servers = _servers(use_parley)
    prof = None
    try:
        for s in servers:
            s.start()
        prof = _profiler(cfg, "relay", servers)
        out: dict[str, Any] = relay.run(servers, cfg["relay"])
    finally:
        _profiled(report, "relay", prof)
        for s in servers:
            s.stop()
        _log_problems(report, "relay", servers)
    return out


def phase_match(cfg: dict[str, Any], use_parley: bool, report: dict[str, Any]) -> dict[str, Any]:
    import uvloop

    servers = _servers(use_parley)

    async def go() -> dict[str, Any]:
        out: dict[str, Any] = {}
        out["churn"] = await match.compare_servers(servers, cfg["churn"], cfg["churn_rounds"])
        if use_parley and cfg["sitters_n"] > 0:
            out["sitters"] = await match.compare_sitters(
                servers[0], cfg["sitters"], cfg["sitters_n"], cfg["sitter_rounds"]
            )
        return out

    prof = None
    try:
        for s in servers:
            s.start()
        prof = _profiler(cfg, "match", servers)
        return uvloop.run(go())
    finally:
        _profiled(report, "match", prof)
        for s in servers:
            s.stop()
        _log_problems(report, "match", servers)


def phase_rss(cfg: dict[str, Any], use_parley: bool, report: dict[str, Any]) -> dict[str, Any]:
    import uvloop

    out: dict[str, Any] = {}
    for make in (baseline_server, parley_server) if use_parley else (baseline_server,):
        server = make()
        try:
            server.start()
            out[server.name] = uvloop.run(rss.run(server, cfg["rss"]))
        finally:
            server.stop()
            _log_problems(report, "rss", [server])
    return out


PHASE_FNS: dict[str, Callable[[dict[str, Any], bool, dict[str, Any]], dict[str, Any]]] = {
    "codec": phase_codec,
    "relay": phase_relay,
    "match": phase_match,
    "rss": phase_rss,
}


# --- machine and repository ---------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    import psutil  # type: ignore[import-untyped]  # psutil ships no type hints

    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions: dict[str, str | None] = {}
    for pkg in (
        "uvicorn",
        "websockets",
        "uvloop",
        "httptools",
        "fastapi",
        "starlette",
        "msgspec",
        "pydantic",
        "psutil",
    ):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu_model": cpu_model,
        "cpu_count": os.cpu_count(),
        "memory_bytes": psutil.virtual_memory().total,
        "loadavg_start": os.getloadavg(),
        "cpu_pressure_start": _cpu_pressure(),
        "packages": versions,
        "uvicorn_flags": UVICORN_FLAGS,
    }


def _cpu_pressure() -> str | None:
    try:
        return Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None


def git_info() -> dict[str, Any]:
    def git(*a: str) -> str | None:
        try:
            r = subprocess.run(
                ["git", "-C", str(ROOT), *a], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return r.stdout.strip() if r.returncode == 0 else None

    status = git("status", "--porcelain")
    return {
        "commit": git("rev-parse", "HEAD"),
        "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
        "dirty": bool(status) if status is not None else None,
    }


# --- summary ------------------------------------------------------------------------------


def _pop_samples(obj: Any, path: str, into: dict[str, list[float]]) -> None:
    """Move every ``_samples`` dict out of the results (too big for the JSON) into ``into``."""
    if isinstance(obj, dict):
        s = obj.pop("_samples", None)
        if isinstance(s, dict):
            for k, v in s.items():
                into[f"{path}/{k}"] = v
        for k, v in obj.items():
            _pop_samples(v, f"{path}/{k}" if path else k, into)


def _finite(obj: Any) -> Any:
    """NaN and infinities become null, so that the JSON is strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def _g(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def _fmt(v: Any, unit: str = "", scale: float = 1.0, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int | float):
        return f"{v * scale:,.{digits}f}{unit}"
    return str(v)


def _vs(what: str, pv: Any, bv: Any, *, scale: float = 1.0, digits: int = 2) -> list[str]:
    """A table row: Parley's figure, the baseline's, and their ratio (no target)."""
    return [
        what,
        _fmt(pv, scale=scale, digits=digits),
        _fmt(bv, scale=scale, digits=digits),
        _fmt(ratio(pv, bv)),
        "",
        "",
    ]


def summary_rows(results: dict[str, Any]) -> tuple[list[list[str]], dict[str, Any]]:
    """Table rows [what, parley, baseline, ratio, target, verdict] and the target verdicts."""
    rows: list[list[str]] = []
    verdicts: dict[str, Any] = {}

    def verdict(name: str, ok: bool | None, value: Any, target: str) -> str:
        verdicts[name] = {"ok": ok, "value": value, "target": target}
        return "-" if ok is None else ("PASS" if ok else "FAIL")

    c = results.get("codec")
    if c:
        for case, r in c["cases"].items():
            ops = r["ops_per_s"]
            rows.append(
                [
                    f"codec {case} (ops/s: msgspec | pydantic | stdlib)",
                    _fmt(ops["msgspec"] / 1e3, "k", digits=0),
                    f"{ops['pydantic'] / 1e3:,.0f}k | {ops['stdlib'] / 1e3:,.0f}k",
                    f"×{r['msgspec_vs_pydantic']:.1f} | ×{r['msgspec_vs_stdlib']:.1f}",
                    "",
                    "",
                ]
            )

    rl = results.get("relay")
    if rl:
        p, b = rl.get("parley", {}), rl.get("baseline", {})
        r_mean = ratio(p.get("msgs_per_s"), b.get("msgs_per_s"))
        r_med = p.get("ratio_median")
        c_pool = ratio(p.get("msgs_per_server_cpu_s"), b.get("msgs_per_server_cpu_s"))
        c_med = p.get("cpu_ratio_median")
        ok = None if c_med is None else c_med >= TARGETS["relay_ratio_min"]
        rows += [
            [
                f"relay msgs/s ({b.get('pairs', p.get('pairs'))} pairs, window "
                f"{b.get('window')}, {b.get('client_processes')} client procs)",
                _fmt(p.get("msgs_per_s"), digits=0),
                _fmt(b.get("msgs_per_s"), digits=0),
                f"{_fmt(r_mean)} (median/round {_fmt(r_med)})",
                "",
                "",
            ],
            [
                "relay msgs per server CPU-second (noise-robust)",
                _fmt(p.get("msgs_per_server_cpu_s"), digits=0),
                _fmt(b.get("msgs_per_server_cpu_s"), digits=0),
                f"{_fmt(c_pool)} (median/round {_fmt(c_med)})",
                "≥ 0.60",
                verdict(
                    "relay_throughput_ratio",
                    ok,
                    c_med,
                    "≥ 0.60 of baseline (msgs per server CPU-second, median of rounds)",
                ),
            ],
            _vs(
                "relay server CPU µs per message",
                p.get("server_cpu_us_per_msg"),
                b.get("server_cpu_us_per_msg"),
                digits=1,
            ),
            [
                "relay server CPU % while counted",
                _fmt(p.get("server_cpu_pct"), "%", digits=0),
                _fmt(b.get("server_cpu_pct"), "%", digits=0),
                "",
                "",
                "",
            ],
            [
                f"relay client processes' CPU % (sum of {b.get('client_processes')})",
                _fmt(p.get("clients_cpu_pct"), "%", digits=0),
                _fmt(b.get("clients_cpu_pct"), "%", digits=0),
                "",
                "",
                "",
            ],
        ]
        verdicts["relay_raw_throughput_ratio"] = {
            "ok": None if r_med is None else r_med >= TARGETS["relay_ratio_min"],
            "value": r_med,
            "target": "≥ 0.60 of baseline msgs/s (median of rounds; at the mercy of neighbours)",
            "informational": True,
        }
        for key, label in (("rtt_light_s", "RTT light"), ("rtt_load_s", "RTT loaded")):
            for q in ("p50", "p99"):
                rows.append(_vs(f"relay {label} {q} (ms)", _g(p, key, q), _g(b, key, q), scale=1e3))

    mt = results.get("match")
    if mt:
        ch = mt.get("churn", {})
        p, b = ch.get("parley", {}), ch.get("baseline", {})
        n = p.get("churners") or b.get("churners")
        rows.append(
            _vs(
                f"match/s, {n} churning",
                p.get("matches_per_s"),
                b.get("matches_per_s"),
                digits=0,
            )
        )
        for q in ("p50", "p99"):
            pv, bv = _g(p, "client_ttm_s", q), _g(b, "client_ttm_s", q)
            rows.append(_vs(f"time to match, client {q} (ms)", pv, bv, scale=1e3))
        sp99 = _g(p, "server_ttm", "p99")
        rows += [
            [
                "time to match, Parley server p50 (ms)",
                _fmt(_g(p, "server_ttm", "p50"), scale=1e3),
                "",
                "",
                "",
                "",
            ],
            [
                "time to match, Parley server p99 (ms)",
                _fmt(sp99, scale=1e3),
                "",
                "",
                "< 50",
                verdict(
                    "server_ttm_p99",
                    None if sp99 is None else sp99 < TARGETS["server_ttm_p99_max_s"],
                    sp99,
                    "< 50 ms",
                ),
            ],
            [
                "server /healthz during churn, p99 | max (ms)",
                _p99max(_g(p, "healthz_latency_s")),
                _p99max(_g(b, "healthz_latency_s")),
                _fmt(ratio(_g(p, "healthz_latency_s", "p99"), _g(b, "healthz_latency_s", "p99"))),
                "",
                "",
            ],
            _vs(
                "match server CPU ms per match",
                p.get("server_cpu_ms_per_match"),
                b.get("server_cpu_ms_per_match"),
            ),
        ]
        st = mt.get("sitters")
        if st:
            w, wo = st["with"], st["without"]
            k = st["sitters"]
            rows.append(
                _vs(
                    f"{w['churners']} churners with | without {k} queued: matches/s",
                    w.get("matches_per_s"),
                    wo.get("matches_per_s"),
                    digits=0,
                )
            )
            for label, path in (
                ("server p99 (ms)", ("server_ttm", "p99")),
                ("client p99 (ms)", ("client_ttm_s", "p99")),
            ):
                rows.append(_vs(f"  … {label}", _g(w, *path), _g(wo, *path), scale=1e3))
            wv, wov = w.get("server_cpu_ms_per_match"), wo.get("server_cpu_ms_per_match")
            rows.append(_vs("  … server CPU ms per match", wv, wov))
            sp = _g(w, "server_ttm", "p99")
            rows.append(
                [
                    "  … sitters wrongly matched",
                    str(st.get("sitters_matched")),
                    "",
                    "",
                    "0",
                    verdict(
                        "sitters_never_matched",
                        st.get("sitters_matched") == 0,
                        st.get("sitters_matched"),
                        "0",
                    ),
                ]
            )
            verdict(
                "server_ttm_p99_with_sitters",
                None if sp is None else sp < TARGETS["server_ttm_p99_max_s"],
                sp,
                "< 50 ms",
            )

    rs = results.get("rss")
    if rs:
        p, b = rs.get("parley", {}), rs.get("baseline", {})
        pv, bv = p.get("kib_per_connection"), b.get("kib_per_connection")
        n = p.get("connections") or b.get("connections")
        rows.append(
            [
                f"RSS KiB per idle connection ({n} conns)",
                _fmt(pv, digits=1),
                _fmt(bv, digits=1),
                _fmt(ratio(pv, bv)),
                "≤ 40",
                verdict(
                    "rss_per_connection",
                    None if pv is None else pv <= TARGETS["rss_kib_per_conn_max"],
                    pv,
                    "≤ 40 KiB",
                ),
            ]
        )
        rows.append(
            [
                f"  … /healthz with {n} idle conns, p99 | max (ms)",
                _p99max(p.get("healthz_latency_s")),
                _p99max(b.get("healthz_latency_s")),
                _fmt(ratio(_g(p, "healthz_latency_s", "p99"), _g(b, "healthz_latency_s", "p99"))),
                "",
                "",
            ]
        )
    return rows, verdicts


def _p99max(s: Any) -> str:
    if not isinstance(s, dict) or not s.get("n"):
        return "-"
    return f"{s['p99'] * 1e3:.1f} | {s['max'] * 1e3:.1f}"


def print_table(rows: list[list[str]]) -> None:
    head = ["", "parley", "baseline", "ratio", "target", ""]
    table = [head, *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    sep = "  "
    log("")
    for i, r in enumerate(table):
        log(
            sep.join(
                c.ljust(w) if j == 0 else c.rjust(w)
                for j, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
        if i == 0:
            log(sep.join("-" * w for w in widths))


# --- plot ---------------------------------------------------------------------------------


def plot(path: Path, samples: dict[str, list[float]], results: dict[str, Any]) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter, NullFormatter
    except ImportError:
        return False

    panels = [
        (
            "Time to match (1,000 churning), client side",
            [
                ("parley", "match/churn/parley/client_ttm"),
                ("baseline", "match/churn/baseline/client_ttm"),
                ("parley, 100 churning + 1,000 queued", "match/sitters/with/client_ttm"),
            ],
        ),
        (
            "Round trip A→B→A, light load",
            [("parley", "relay/parley/rtt_light"), ("baseline", "relay/baseline/rtt_light")],
        ),
        (
            "Round trip A→B→A, loaded (window in flight)",
            [("parley", "relay/parley/rtt_load"), ("baseline", "relay/baseline/rtt_load")],
        ),
    ]
    panels = [(t, [(lbl, k) for lbl, k in series if samples.get(k)]) for t, series in panels]
    panels = [(t, s) for t, s in panels if s]
    if not panels:
        return False
    colors = {
        "parley": "tab:blue",
        "baseline": "tab:orange",
        "parley, 100 churning + 1,000 queued": "tab:green",
    }
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.5), squeeze=False)
    for ax, (title, series) in zip(axes[0], panels, strict=True):
        for label, key in series:
            xs = sorted(x * 1000 for x in samples[key] if x > 0)
            ys = [(i + 1) / len(xs) for i in range(len(xs))]
            ax.step(
                xs,
                ys,
                where="post",
                label=f"{label} (n={len(xs):,})",
                color=colors.get(label),
                linewidth=1.4,
            )
        if title.startswith("Time to match"):
            hist = _g(results, "match", "churn", "parley", "server_ttm", "buckets")
            if hist:
                total = hist.get("+Inf") or 0
                pts: list[tuple[float, float]] = []
                for k, v in hist.items():
                    if k == "+Inf" or not total:
                        continue
                    pts.append((float(k) * 1000, v / total))
                    if v >= total:  # the rest of the buckets are all 1.0
                        break
                if pts:
                    ax.plot(
                        *zip(*pts, strict=True),
                        "o--",
                        color="tab:blue",
                        alpha=0.5,
                        markersize=4,
                        label="parley server histogram (bucket bounds)",
                    )
        for q in (0.5, 0.99):
            ax.axhline(q, color="grey", linewidth=0.5, linestyle=":")
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("milliseconds (log)")
        ax.set_ylabel("fraction ≤ x (CDF)")
        ax.set_ylim(0, 1.01)
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.2)
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(f"Parley bench {path.stem}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


# --- main ---------------------------------------------------------------------------------


def _rel(path: Path) -> Path:
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    started = dt.datetime.now(dt.UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    nofile = raise_nofile()
    use_parley = not args.no_parley
    if use_parley and not parley_available():
        log("[bench] src/parley/cli.py not found: measuring the baseline only")
        use_parley = False
    cfg = configs(args)
    cfg["profile"] = (args.out, stamp) if args.profile else None
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "timestamp": started.isoformat(),
        "command": [sys.argv[0], *(argv if argv is not None else sys.argv[1:])],
        "mode": "quick" if args.quick else "full",
        "phases": args.phases,
        "parley_measured": use_parley,
        "machine": machine_info(),
        "git": git_info(),
        "rlimit_nofile": nofile,
        "config": {
            k: (v.__dict__ if hasattr(v, "__dict__") else v)
            for k, v in cfg.items()
            if k != "profile"
        },
        "targets": TARGETS,
        "results": {},
    }
    log(
        f"[bench] {report['mode']} run {stamp}: {', '.join(args.phases)}; "
        f"{report['machine']['cpu_count']} cores, load {os.getloadavg()[0]:.2f}; "
        f"RLIMIT_NOFILE {nofile[0]}"
    )
    t0 = time.monotonic()
    status = 0
    try:
        for phase in args.phases:
            tp = time.monotonic()
            log(f"[bench] --- {phase} ---")
            report["results"][phase] = PHASE_FNS[phase](cfg, use_parley, report)
            log(f"[bench] {phase} took {time.monotonic() - tp:.0f} s")
    except KeyboardInterrupt:
        log("[bench] interrupted; stopping servers")
        report["interrupted"] = True
        status = 130
    except Exception as exc:
        traceback.print_exc()
        report["error"] = f"{type(exc).__name__}: {exc}"
        status = 1
    finally:
        stop_all()
    report["elapsed_s"] = time.monotonic() - t0
    report["machine"]["loadavg_end"] = os.getloadavg()
    report["machine"]["cpu_pressure_end"] = _cpu_pressure()

    samples: dict[str, list[float]] = {}
    _pop_samples(report["results"], "", samples)
    rows, verdicts = summary_rows(report["results"])
    report["verdicts"] = verdicts
    args.out.mkdir(parents=True, exist_ok=True)
    json_path = args.out / f"{stamp}.json"
    json_path.write_text(json.dumps(_finite(report), indent=1, default=str) + "\n")
    png_path = args.out / f"{stamp}.png"
    plotted = not args.no_plot and plot(png_path, samples, report["results"])

    print_table(rows)
    log("")
    if use_parley and "relay" in report["results"]:
        r = report["results"]["relay"]
        procs = next(iter(r.values())).get("client_processes")
        log(
            f"[bench] relay clients: {procs} processes, on the same {os.cpu_count()} cores as "
            "the server (server CPU % above shows whether the server was the limit)"
        )
    if report.get("server_log_problems"):
        log(f"[bench] servers logged errors: see 'server_log_problems' in {json_path.name}")
    log(f"[bench] results: {_rel(json_path)}")
    if plotted:
        log(f"[bench] plot:    {_rel(png_path)}")
    failed = [k for k, v in verdicts.items() if v["ok"] is False and not v.get("informational")]
    if failed:
        log(f"[bench] targets missed: {', '.join(failed)}")
    log(f"[bench] done in {report['elapsed_s']:.0f} s")
    return status
