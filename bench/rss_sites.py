"""Where the memory of an idle connection goes: Python allocations by site, per connection.

Runs ``parley serve`` under ``tracemalloc`` (in a child process started through this module's
``serve`` subcommand), opens ``--connections`` idle connections the way ``bench/rss.py`` does
(``hello``, ``welcome``, then only ``pong``), and compares a snapshot taken before with one taken
after. Each site's growth is divided by the number of connections. The RSS growth of the same
run is printed next to it: what tracemalloc does not see is C memory (uvloop's transports and
read buffers, httptools, malloc's overhead and fragmentation).

tracemalloc itself costs memory (its own tables are excluded from the figures, but RSS includes
them), so the RSS figure here is higher than ``bench/rss.py``'s; compare sites, not totals.

    python -m bench.rss_sites [--connections 1000] [--env PARLEY_X=y …]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import signal
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

SNAPSHOT_ENV = "PARLEY_BENCH_SNAPSHOT"  # where the child writes a snapshot on SIGUSR1
FRAMES = 8


def serve(argv: list[str]) -> int:
    """``parley serve`` with tracemalloc on; SIGUSR1 writes a snapshot to $PARLEY_BENCH_SNAPSHOT."""
    # Imports first: under tracemalloc they take minutes; only growth after start-up counts.
    import parley.app  # noqa: F401
    from parley.cli import main as parley_main

    tracemalloc.start(FRAMES)
    target = os.environ[SNAPSHOT_ENV]

    def dump(_sig: int, _frame: object) -> None:
        tmp = target + ".tmp"
        tracemalloc.take_snapshot().dump(tmp)
        os.replace(tmp, target)  # the driver waits for the file to appear whole

    signal.signal(signal.SIGUSR1, dump)
    return parley_main(["serve", *argv])


def snapshot(pid: int, path: Path, timeout: float = 120.0) -> tracemalloc.Snapshot:
    path.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError("no snapshot from the server")
        time.sleep(0.1)
    return tracemalloc.Snapshot.load(str(path))


def _filters() -> list[tracemalloc.Filter]:
    return [
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap_external>"),
        tracemalloc.Filter(False, "<unknown>"),
    ]


def site_name(stat: tracemalloc.StatisticDiff, group: str) -> str:
    frames = list(stat.traceback)[::-1]  # most recent first
    if group == "traceback":
        return " <- ".join(f"{short(f.filename)}:{f.lineno}" for f in frames[:6])
    f = frames[0]
    return short(f.filename) if group == "filename" else f"{short(f.filename)}:{f.lineno}"


def short(filename: str) -> str:
    for marker in ("site-packages/", "/src/", "/lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


async def drive(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from bench import rss
    from bench.servers import BENCH_ENV, HOST, Server
    from harness.server import free_port

    port = free_port()
    snap_path = workdir / "snapshot.bin"
    env = {
        **BENCH_ENV,
        SNAPSHOT_ENV: str(snap_path),
        "PARLEY_HELLO_TIMEOUT": "120",  # tracemalloc slows hello; a loaded machine more so
        **dict(kv.split("=", 1) for kv in args.env),
    }
    argv = [sys.executable, "-m", "bench.rss_sites", "serve", "--host", HOST, "--port", str(port)]
    server = Server("parley", argv, env, port)
    server.start(timeout=120)
    assert server.proc is not None
    cfg = rss.RssConfig(connections=args.connections, concurrency=args.concurrency, timeout=120)
    clients: list[Any] = []
    try:
        warm = [await rss._open(server, cfg) for _ in range(20)]
        for c in warm:
            c.close()
        await rss._settle(server, 1.0)
        before = snapshot(server.proc.pid, snap_path)
        rss_before = server.rss()
        t0 = time.monotonic()
        from bench.common import gather_bounded

        got = await gather_bounded(
            [rss._open(server, cfg) for _ in range(args.connections)], args.concurrency
        )
        clients = [g for g in got if not isinstance(g, BaseException)]
        failed = [g for g in got if isinstance(g, BaseException)]
        opened_s = time.monotonic() - t0
        await rss._settle(server, 2.0)
        after = snapshot(server.proc.pid, snap_path)
        rss_after = server.rss()
        n = len(clients)
    finally:
        for c in clients:
            c.abort()
        server.stop()
    if failed:
        print(f"{len(failed)} connections failed, first: {failed[0]!r}", flush=True)
    before = before.filter_traces(_filters())
    after = after.filter_traces(_filters())
    by_group: dict[str, list[dict[str, Any]]] = {}
    traced = 0
    for group in ("filename", "lineno", "traceback"):
        diffs = after.compare_to(before, group)
        traced = sum(d.size_diff for d in diffs)
        by_group[group] = [
            {
                "site": site_name(d, group),
                "bytes_per_conn": d.size_diff / n,
                "blocks_per_conn": d.count_diff / n,
            }
            for d in diffs
            if abs(d.size_diff) >= n * 16  # under 16 bytes a connection is noise
        ]
    return {
        "bench": "rss_sites",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "connections": n,
        "failed": len(failed),
        "opened_in_s": opened_s,
        "env": args.env,
        "rss_kib_per_conn": (rss_after - rss_before) / n / 1024,
        "traced_kib_per_conn": traced / n / 1024,
        "sites": by_group,
    }


def table(report: dict[str, Any], group: str, top: int) -> str:
    lines = [
        f"{report['connections']} idle connections ({report['failed']} failed); "
        f"RSS {report['rss_kib_per_conn']:.1f} KiB/conn (with tracemalloc's own overhead), "
        f"Python-traced {report['traced_kib_per_conn']:.2f} KiB/conn",
        f"{'bytes/conn':>10} {'blocks':>7}  site ({group})",
    ]
    for s in report["sites"][group][:top]:
        lines.append(f"{s['bytes_per_conn']:>10.0f} {s['blocks_per_conn']:>7.1f}  {s['site']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    if raw[:1] == ["serve"]:
        return serve(raw[1:])
    ap = argparse.ArgumentParser(prog="python -m bench.rss_sites", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--connections", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--env", action="append", default=[], help="NAME=value for the server")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args(raw)
    from bench.servers import raise_nofile

    raise_nofile()
    import tempfile

    with tempfile.TemporaryDirectory(prefix="parley-rss-sites-") as tmp:
        report = asyncio.run(drive(args, Path(tmp)))
    for group in ("filename", "lineno", "traceback"):
        print(table(report, group, args.top), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = args.out / f"{stamp}-rss-sites.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
