"""``python -m bench.video_connect``: time from ``matched`` to a connected video call, in Chromium.

Two headless Chromium pages (separate browser contexts, fake camera and microphone, the flags
of docs/design.md) open the real page of a real ``parley serve``, choose video and press Start.
For every page the page itself measures (``window.parleyDebug``):

- **connect**: from handling the ``matched`` frame to ``RTCPeerConnection.connectionState ===
  'connected'``;
- **first frame**: from ``matched`` to the first decoded frame of the stranger's video.

Setups: ``direct`` (no ICE servers, host candidates on loopback) and ``turn`` (a coturn on
loopback started here, ``PARLEY_ICE_TRANSPORT_POLICY=relay``, credentials issued by Parley; the
selected candidate pair is checked to be a relay one). ``turn`` is skipped when ``turnserver`` is
not installed.

WebRTC between two browsers on one host needs a network namespace holding only loopback, with
the server and the browsers inside it: the script re-executes itself under
``unshare -n sh -c 'ip link set lo up && exec "$@"'`` unless it already runs in one.

Prints a table and writes ``bench/results/<UTC timestamp>-video.json``.

    python -m bench.video_connect                 # 12 pairs per setup, one pair at a time
    python -m bench.video_connect --pairs 20 --parallel 2 --setups direct
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import summarize  # importing bench puts tests/ on sys.path (harness)
from harness.components import CHROMIUM, CHROMIUM_ARGS, loopback_only_netns, turnserver_binary
from harness.server import ServerHandle, start_server
from harness.services import TurnHandle, start_turn

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
HOST = "127.0.0.1"
NETNS_SCRIPT = 'ip link set lo up && exec "$@"'
IN_NETNS_ENV = "PARLEY_BENCH_IN_NETNS"
# Many chats from one address in a short time: lift the per-session start/next bucket.
SERVER_ENV = {
    "PARLEY_NEXT_RATE": "1000",
    "PARLEY_NEXT_BURST": "1000",
    "PARLEY_LOG_LEVEL": "warning",
}
CONNECT_TIMEOUT_S = 30.0

#: JS statements that set `stats` and `pair` (the selected ICE candidate pair of the page's
#: call), or return null when there is none yet.
FIND_SELECTED_PAIR_JS = """
  const pc = window.parleyDebug.pc();
  if (!pc) return null;
  const stats = await pc.getStats();
  let pair = null;
  stats.forEach((r) => {
    if (r.type === "transport" && r.selectedCandidatePairId) {
      pair = stats.get(r.selectedCandidatePairId);
    }
  });
  if (!pair) return null;
"""
SELECTED_PAIR_JS = f"""async () => {{{FIND_SELECTED_PAIR_JS}
  return {{local: stats.get(pair.localCandidateId).candidateType,
          remote: stats.get(pair.remoteCandidateId).candidateType}};
}}"""


def log(msg: str) -> None:
    print(msg, flush=True)


# ---- the namespace ------------------------------------------------------------------------------


def reexec_in_netns(argv: list[str], module: str = "bench.video_connect") -> int:
    """Run ``python -m module argv`` again inside a fresh loopback-only network namespace."""
    name = module.rpartition(".")[2]
    if not (shutil.which("unshare") and shutil.which("ip")):
        log(f"{name}: needs `unshare` and `ip` (util-linux, iproute2) for a loopback netns")
        return 2
    cmd = ["unshare", "-n", "sh", "-c", NETNS_SCRIPT, "sh",
           sys.executable, "-m", module, *argv]  # fmt: skip
    env = {**os.environ, IN_NETNS_ENV: "1"}
    log(f"{name}: re-running inside a loopback-only network namespace: {' '.join(cmd)}")
    return subprocess.run(cmd, env=env, cwd=ROOT, check=False).returncode


# ---- processes under test -----------------------------------------------------------------------
# The test harness's own launchers (tests/harness): the same server environment and coturn
# recipe as the tests, so a benchmark measures what the tests check.

Stoppable = ServerHandle | TurnHandle


def start_parley(workdir: Path, extra_env: dict[str, str]) -> tuple[ServerHandle, str]:
    handle = start_server(workdir, {**SERVER_ENV, **extra_env})
    return handle, handle.url


def start_coturn(workdir: Path, secret: str) -> tuple[TurnHandle, str]:
    """coturn on loopback (-v: per-allocation usage lines in ``workdir/turn.log``)."""
    binary = turnserver_binary()
    if binary is None:
        raise RuntimeError("no turnserver binary (apt-get install coturn)")
    handle = start_turn(binary, workdir, secret=secret, realm="parley.bench")
    return handle, handle.url


# ---- one pair -----------------------------------------------------------------------------------


@dataclass
class PairResult:
    connect_ms: list[float] = field(default_factory=list)  # one per page
    first_frame_ms: list[float] = field(default_factory=list)
    candidate_types: list[dict[str, str]] = field(default_factory=list)
    error: str | None = None


async def open_page(browser: Any, url: str) -> tuple[Any, Any]:
    context = await browser.new_context(locale="en-US", viewport={"width": 1000, "height": 700})
    page = await context.new_page()
    await page.goto(url)
    await page.wait_for_selector("body[data-ready=true]", state="attached")
    await page.get_by_test_id("age").fill("30")
    await page.get_by_test_id("mode-video").check()
    return context, page


async def start_video_pair(browser: Any, url: str, contexts: list[Any]) -> list[Any]:
    """Two pages in a video chat, both showing the other's video; returns the pages. Their
    browser contexts are appended to ``contexts`` as they open (the caller closes them)."""
    pages = []
    for _ in range(2):
        context, page = await open_page(browser, url)
        contexts.append(context)
        pages.append(page)
    a, b = pages
    await a.get_by_test_id("start").click()
    # A queues first, so B's start is what makes the match.
    await a.wait_for_function(
        "() => document.querySelector('[data-testid=status]').textContent"
        ".includes('Looking for someone')"
    )
    await b.get_by_test_id("start").click()
    for page in pages:
        await page.wait_for_function(
            "() => window.parleyDebug && parleyDebug.firstFrameTimes().length > 0",
            timeout=CONNECT_TIMEOUT_S * 1000,
        )
    return pages


async def one_pair(browser: Any, url: str) -> PairResult:
    result = PairResult()
    contexts: list[Any] = []
    try:
        for page in await start_video_pair(browser, url, contexts):
            result.connect_ms.append((await page.evaluate("parleyDebug.connectTimes()"))[0])
            result.first_frame_ms.append((await page.evaluate("parleyDebug.firstFrameTimes()"))[0])
            result.candidate_types.append(await page.evaluate(SELECTED_PAIR_JS))
    except Exception as exc:  # a pair that fails is reported, not fatal
        result.error = f"{type(exc).__name__}: {str(exc)[:300]}"
    finally:
        for context in contexts:
            with contextlib.suppress(Exception):
                await context.close()
    return result


async def run_setup(browser: Any, url: str, pairs: int, parallel: int) -> list[PairResult]:
    results: list[PairResult] = []
    done = 0
    while done < pairs:
        batch = min(parallel, pairs - done)
        results.extend(await asyncio.gather(*(one_pair(browser, url) for _ in range(batch))))
        done += batch
        last = results[-1]
        shown = (
            f"connect {', '.join(f'{x:.0f}' for x in last.connect_ms)} ms"
            if not last.error
            else last.error
        )
        log(f"  {done}/{pairs}: {shown}")
    return results


@contextlib.asynccontextmanager
async def chromium(path: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=path, args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            await browser.close()


# ---- report -------------------------------------------------------------------------------------


def stats_of(results: list[PairResult]) -> dict[str, Any]:
    ok = [r for r in results if r.error is None]
    connect = [x for r in ok for x in r.connect_ms]
    first = [x for r in ok for x in r.first_frame_ms]
    pair_connect = [max(r.connect_ms) for r in ok]  # both ends connected
    return {
        "pairs": len(results),
        "failed_pairs": len(results) - len(ok),
        "errors": [r.error for r in results if r.error],
        "connect_ms": {k: v for k, v in summarize(connect).items() if k != "quantiles"},
        "pair_connect_ms": {k: v for k, v in summarize(pair_connect).items() if k != "quantiles"},
        "first_frame_ms": {k: v for k, v in summarize(first).items() if k != "quantiles"},
        "samples": {
            "connect_ms": connect,
            "first_frame_ms": first,
            "candidate_types": [c for r in ok for c in r.candidate_types],
        },
    }


def table(report: dict[str, Any]) -> str:
    head = (
        f"{'setup':<8} {'pairs':>5} {'fail':>4} {'n':>3}  {'p50':>6} {'p90':>6} {'max':>6}"
        f"  {'1st frame p50':>13} {'p90':>6}  path"
    )
    lines = [
        "ms from `matched` (as the page sees it) to connectionState 'connected', per page;",
        "1st frame: to the first decoded frame of the stranger's video",
        head,
        "-" * len(head),
    ]

    def ms(d: dict[str, Any], k: str) -> str:
        return f"{d[k]:.0f}" if k in d else "-"

    for name, s in report["setups"].items():
        c, f = s["connect_ms"], s["first_frame_ms"]
        path = "relay/relay" if s.get("all_relay") else "direct"
        lines.append(
            f"{name:<8} {s['pairs']:>5} {s['failed_pairs']:>4} {c.get('n', 0):>3}  "
            f"{ms(c, 'p50'):>6} {ms(c, 'p90'):>6} {ms(c, 'max'):>6}  "
            f"{ms(f, 'p50'):>13} {ms(f, 'p90'):>6}  {path}"
        )
    lines.append(f"load average at start: {report['machine']['loadavg_start'][0]:.1f}")
    return "\n".join(lines)


def chromium_version(path: str) -> str | None:
    try:
        r = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip() or None


def git_commit() -> dict[str, Any]:
    def git(*a: str) -> str | None:
        try:
            r = subprocess.run(["git", "-C", str(ROOT), *a], capture_output=True, text=True,
                               timeout=10)  # fmt: skip
        except (OSError, subprocess.TimeoutExpired):
            return None
        return r.stdout.strip() if r.returncode == 0 else None

    status = git("status", "--porcelain")
    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(status) if status else False}


# ---- main ---------------------------------------------------------------------------------------


async def bench(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    report: dict[str, Any] = {
        "bench": "video_connect",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "cpu_count": os.cpu_count(),
            "loadavg_start": os.getloadavg(),
            "chromium": chromium_version(args.chromium),
        },
        "git": git_commit(),
        "params": {"pairs": args.pairs, "parallel": args.parallel, "setups": args.setups},
        "setups": {},
    }
    procs: list[Stoppable] = []
    try:
        async with chromium(args.chromium) as browser:
            for setup in args.setups:
                sub = workdir / setup
                sub.mkdir()
                env: dict[str, str] = {}
                if setup == "turn":
                    if not args.turnserver:
                        log("turn: skipped, no turnserver binary (apt-get install coturn)")
                        continue
                    secret = secrets.token_urlsafe(16)
                    coturn, turn_url = start_coturn(sub, secret)
                    procs.append(coturn)
                    env = {
                        "PARLEY_TURN_URLS": turn_url,
                        "PARLEY_TURN_SECRET": secret,
                        "PARLEY_ICE_TRANSPORT_POLICY": "relay",
                    }
                server, url = start_parley(sub, env)
                procs.append(server)
                log(f"{setup}: {args.pairs} pairs, {args.parallel} at a time, server {url}")
                results = await run_setup(browser, url, args.pairs, args.parallel)
                report["setups"][setup] = stats_of(results)
                kinds = report["setups"][setup]["samples"]["candidate_types"]
                report["setups"][setup]["all_relay"] = bool(kinds) and all(
                    k and k["local"] == "relay" and k["remote"] == "relay" for k in kinds
                )
                server.stop()
    finally:
        for p in procs:
            p.stop()
    return report


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(prog="python -m bench.video_connect", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--pairs", type=int, default=12, help="pairs per setup (default 12)")
    ap.add_argument("--parallel", type=int, default=1, help="pairs connecting at once (default 1)")
    ap.add_argument("--setups", default="direct,turn", help="comma list: direct,turn")
    ap.add_argument("--chromium", default=CHROMIUM)
    ap.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = ap.parse_args(raw)
    args.setups = [s.strip() for s in args.setups.split(",") if s.strip()]
    if bad := set(args.setups) - {"direct", "turn"}:
        ap.error(f"unknown setups: {', '.join(sorted(bad))}")
    if args.pairs < 1 or args.parallel < 1:
        ap.error("--pairs and --parallel must be at least 1")

    if not loopback_only_netns():
        if os.environ.get(IN_NETNS_ENV) == "1":
            log("video_connect: still not in a loopback-only namespace after unshare; giving up")
            return 2
        return reexec_in_netns(raw)
    args.turnserver = turnserver_binary()
    if not os.access(args.chromium, os.X_OK):
        log(f"video_connect: no Chromium at {args.chromium} (apt-get install chromium)")
        return 2

    with tempfile.TemporaryDirectory(prefix="parley-video-bench-") as tmp:
        report = asyncio.run(bench(args, Path(tmp)))
    text = table(report)
    log("")
    log(text)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = args.out / f"{stamp}-video.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    log(f"\nwrote {path}")
    failed = any(s["failed_pairs"] for s in report["setups"].values())
    return 1 if failed or not report["setups"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
