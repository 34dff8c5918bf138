"""Parley on Redis: match throughput and time to match, 1 node and 3 nodes, against the in-memory
broker in the same run; then the sustained match rate one node on Redis holds with p99 < 100 ms.

    .venv/bin/python -m bench.multinode            # full run (< 3 min)
    .venv/bin/python -m bench.multinode --quick    # smoke run (< 1 min)

Everything runs on 127.0.0.1: a redis-server of the bench's own on a free port (each
configuration gets its own key prefix), Parley nodes started as bench/servers.py does (rate
limits and per-IP caps raised), and the load from this machine too.

Part 1, churn (bench/match.py's ``Churner``): people start → matched → after a random pause the
offerer sends ``next``, its partner ``start`` again. Three configurations, each measured over
ABAB windows: (a) memory broker, 1 node (the baseline); (b) Redis broker, 1 node; (c) Redis
broker, 3 nodes with the clients spread round-robin (so most pairs span two nodes). Client-side
time to match runs from sending start/next to receiving ``matched``; the server side is the
delta of each node's ``parley_time_to_match_seconds`` histogram, summed over the nodes.

Part 2, paced ramp on one Redis node: a separate client process holds a pool of pre-connected
idle people and sends ``start`` at a paced arrival rate (two per match) of each offered rate in
turn; on ``matched`` the offerer sends ``stop``, and both go back to the idle pool. The sustained
rate is the highest offered rate whose window had client p99 < 100 ms and delivered ≥ 95% of
the offered matches.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import math
import multiprocessing as mp
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]  # psutil ships no type hints

from bench.common import (
    START_FRAME,
    BenchError,
    decode_incoming,
    expect,
    log,
    now,
    quiet_gc,
    ratio,
    summarize,
)
from bench.match import (
    ChurnConfig,
    Churner,
    LagMonitor,
    Tally,
    connect_many,
    count_window,
    histogram_quantile,
    parse_histogram,
    scrape,
)
from bench.profile import Profiler, show
from bench.servers import (
    HOST,
    ROOT,
    Server,
    parley_server,
    raise_nofile,
    stop_all,
)
from bench.wsclient import QueueClient, text_frame
from harness.server import free_port

RESULTS_DIR = ROOT / "bench" / "results"
STOP_FRAME = text_frame(b'{"type":"stop"}')
PONG_FRAME = text_frame(b'{"type":"pong"}')
P99_LIMIT_S = 0.100
TARGET_RATE = 1000.0
MACHINE_NOTE = (
    "one {cores}-core machine runs everything: the Parley node(s), redis-server, and the load "
    "clients; they compete for the same cores, so the figures are a lower bound"
)


# ---- redis-server of the bench's own ----------------------------------------------------------


@dataclass
class RedisServer:
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    tmpdir: str = ""
    _ps: psutil.Process | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        binary = shutil.which("redis-server") or shutil.which("valkey-server")
        if binary is None:
            raise BenchError("no redis-server (or valkey-server) on PATH")
        self.tmpdir = tempfile.mkdtemp(prefix="parley-bench-redis-")
        self.port = free_port()
        argv = [
            binary, "--port", str(self.port), "--bind", HOST, "--save", "",
            "--appendonly", "no", "--dir", self.tmpdir, "--logfile", "redis.log",
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True
        )
        self._ps = psutil.Process(self.proc.pid)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"redis-server exited with {self.proc.returncode}")
            if self.ping():
                return self
            time.sleep(0.05)
        self.stop()
        raise BenchError(f"redis-server not answering within {timeout:.0f} s")

    def ping(self) -> bool:
        try:
            with socket.create_connection((HOST, self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def version(self) -> str:
        with socket.create_connection((HOST, self.port), timeout=1.0) as s:
            s.sendall(b"INFO server\r\n")
            data = b""
            while b"redis_version:" not in data or not data.endswith(b"\r\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        for line in data.decode(errors="replace").splitlines():
            if line.startswith("redis_version:"):
                return line.split(":", 1)[1]
        return "?"

    def cpu_times(self) -> float:
        if self._ps is None:
            return 0.0
        with contextlib.suppress(psutil.Error):
            t = self._ps.cpu_times()
            return float(t.user + t.system)
        return 0.0

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = ""


def start_nodes(n: int, broker_url: str | None) -> list[Server]:
    env = {"PARLEY_BROKER_URL": broker_url} if broker_url else {}
    nodes = [parley_server(env) for _ in range(n)]
    for s in nodes:
        s.start()
    return nodes


# ---- part 1: churn over one or more nodes -----------------------------------------------------


class RetryingChurner(Churner):
    """bench/match.py's churner, but one that asks again 50 ms after a ``server_busy`` error (as
    the page does) instead of dropping out of the churn for the rest of the run."""

    def on_text(self, payload: bytes) -> None:
        super().on_text(payload)
        if b'"error"' in payload and self.win.running:
            msg = decode_incoming(payload)
            if msg.type == "error" and msg.code == "server_busy" and self.t_req is not None:
                self.loop.call_later(0.05, self._retry)

    def _retry(self) -> None:
        if self.win.running and not self.pair and self.t_req is not None:
            self.request(START_FRAME)


async def churn_window(
    nodes: list[Server],
    bots: list[Churner],
    cfg: ChurnConfig,
    tally: Tally,
    redis: RedisServer | None,
    label: str,
) -> None:
    """One counted window of churn over all ``nodes``; adds its figures to ``tally``."""

    def cpu() -> float:
        return sum(s.cpu_times() for s in nodes) + (redis.cpu_times() if redis else 0.0)

    w = await count_window(nodes, bots, cfg, tally, cpu=cpu)
    log(
        f"[multinode] {label}: {w.matches_per_s:.0f} matches/s, client p99 "
        f"{w.client_p99 * 1000:.2f} ms, servers+redis CPU {w.cpu_pct:.0f}%, "
        f"bench loop max lag {w.lag_max * 1000:.1f} ms"
    )


async def churn_config(
    name: str, nodes: list[Server], cfg: ChurnConfig, windows: int, redis: RedisServer | None
) -> dict[str, Any]:
    """``cfg.churners`` people spread round-robin over ``nodes``, churning for ``windows``."""
    per_node: list[list[QueueClient]] = []
    bots: list[Churner] = []
    try:
        for i, s in enumerate(nodes):
            share = len(range(i, cfg.churners, len(nodes)))
            frames = [b'{"type":"hello","age":30,"mode":"text","language":"en"}'] * share
            per_node.append(
                await connect_many(s, frames, cfg.connect_concurrency, cfg.timeout, "churners")
            )
        # Round-robin: person k is on node k % n.
        order = [per_node[k % len(nodes)][k // len(nodes)] for k in range(cfg.churners)]
        bots = [RetryingChurner(c, cfg) for c in order]
        tally = Tally()
        with quiet_gc():
            for w in range(windows):
                await churn_window(nodes, bots, cfg, tally, redis, f"{name} window {w + 1}")
        out = tally.result({"nodes": len(nodes), "churners": cfg.churners})
        out.pop("_samples", None)
        out.pop("healthz_latency_s", None)
        out["closed_clients"] = sum(b.client.closed for b in bots)
        return out
    finally:
        for clients in per_node:
            for c in clients:
                c.abort()
        await asyncio.sleep(0.2)


# ---- part 2: paced arrivals on one node (in a separate client process) ------------------------


@dataclass
class Step:
    rate: float
    win_start: float
    win_end: float
    samples: list[float] = field(default_factory=list)
    matched: int = 0  # matched frames received in the window (two per match)
    sent: int = 0  # starts sent in the window
    starved: int = 0  # starts due but no idle person in the pool
    errors: Counter[str] = field(default_factory=Counter)
    lag_max: float = 0.0


class Person:
    """One pre-connected person of the paced pool: idle → waiting → paired → idle."""

    def __init__(self, client: QueueClient, idle: deque[Person], steps: list[Step]) -> None:
        self.client = client
        self.idle = idle
        self.steps = steps
        self.state = "idle"  # idle | waiting | paired | stopping
        self.t_req: float | None = None
        self.step: Step | None = None
        self.loop = asyncio.get_running_loop()
        client.on_text = self.on_text

    def start(self, step: Step | None) -> None:
        self.state = "waiting"
        self.t_req = now()
        self.step = step
        self.client.send_raw(START_FRAME)

    def _stop(self) -> None:
        if self.state == "stopping":
            self.client.send_raw(STOP_FRAME)

    def _idle(self) -> None:
        if self.state != "idle":
            self.state = "idle"
            self.t_req = None
            self.idle.append(self)

    def on_text(self, payload: bytes) -> None:
        msg = decode_incoming(payload)
        kind = msg.type
        if kind == "matched":
            t = now()
            step = self.step
            if step is not None and self.t_req is not None:
                step.samples.append(t - self.t_req)
            for s in self.steps:
                if s.win_start <= t < s.win_end:
                    s.matched += 1
            self.t_req = None
            self.state = "paired"
            if msg.role == "offerer":
                self.state = "stopping"
                self._stop()
        elif kind in ("stopped", "partner_left"):
            self._idle()
        elif kind == "ping":
            self.client.send_raw(PONG_FRAME)
        elif kind == "error":
            if self.step is not None:
                self.step.errors[msg.code] += 1
            if self.state == "stopping":  # the stop failed: ask again
                self.loop.call_later(0.05, self._stop)
            elif self.state == "waiting":  # the start failed: back to the pool
                self._idle()


async def _paced_main(port: int, pool: int, ctrl: Any, res: Any) -> list[dict[str, Any]]:
    """Connects ``pool`` people, says ``ready`` on ``res``, then reads the schedule from
    ``ctrl``: (rate, ramp_start, win_start, win_end) on the shared monotonic clock."""
    idle: deque[Person] = deque()
    clients: list[QueueClient] = []
    sem = asyncio.Semaphore(64)

    async def one() -> QueueClient:
        async with sem:
            c = QueueClient()
            await c.connect(HOST, port, within=15)
            c.send(b'{"type":"hello","age":30,"mode":"text","language":"en"}')
            await expect(c, "welcome", 15)
            return c

    clients = list(await asyncio.gather(*(one() for _ in range(pool))))
    res.put(("ready", None))
    schedule: list[tuple[float, float, float, float]] = await asyncio.to_thread(ctrl.get)
    steps = [Step(rate, ws, we) for rate, _, ws, we in schedule]
    for c in clients:
        idle.append(Person(c, idle, steps))
    try:
        with quiet_gc():
            for (_, ramp, ws, we), step in zip(schedule, steps, strict=True):
                await asyncio.sleep(max(0.0, ramp - now()))
                t0 = now()
                due_sent = 0
                lag = LagMonitor()
                lag_task = asyncio.create_task(lag.run(ws, we))
                tick = 0.002
                while True:
                    t = now()
                    if t >= we:
                        break
                    due = int((t - t0) * step.rate * 2)
                    in_win = ws <= t < we
                    while due_sent < due:
                        due_sent += 1
                        if idle:
                            idle.popleft().start(step if in_win else None)
                            if in_win:
                                step.sent += 1
                        elif in_win:
                            step.starved += 1
                    await asyncio.sleep(tick)
                await lag_task
                step.lag_max = lag.max
        await asyncio.sleep(0.3)  # late answers
    finally:
        for c in clients:
            c.abort()
    return [
        {
            "rate": s.rate,
            "samples": s.samples,
            "matched": s.matched,
            "sent": s.sent,
            "starved": s.starved,
            "errors": dict(s.errors),
            "lag_max": s.lag_max,
        }
        for s in steps
    ]


def _paced_worker(port: int, pool: int, ctrl: Any, res: Any) -> None:
    random.seed()
    try:
        import uvloop

        res.put(("ok", uvloop.run(_paced_main(port, pool, ctrl, res))))
    except BaseException as exc:  # reported to the parent
        res.put(("error", repr(exc)))


async def paced_ramp(
    node: Server, redis: RedisServer, rates: list[float], warm: float, win: float, pool: int
) -> list[dict[str, Any]]:
    gap = 0.5  # between steps: in-flight matches settle, people go back to the pool
    ctx = mp.get_context("spawn")
    ctrl, q = ctx.Queue(), ctx.Queue()
    proc = ctx.Process(target=_paced_worker, args=(node.port, pool, ctrl, q), daemon=True)
    proc.start()
    results: list[dict[str, Any]] = []
    try:
        status, payload = await asyncio.to_thread(q.get, True, 60.0)
        if status != "ready":
            raise BenchError(f"paced client process failed: {payload}")
        log(f"[multinode] paced: {pool} people connected to one Redis node (client process)")
        schedule: list[tuple[float, float, float, float]] = []
        t = now() + 0.5
        for r in rates:
            schedule.append((r, t, t + warm, t + warm + win))
            t += warm + win + gap
        ctrl.put(schedule)
        scraped: list[tuple[str | None, str | None, float, float, float]] = []
        for _, _, ws, we in schedule:
            await asyncio.sleep(max(0.0, ws - now()))
            before, n0, r0, w0 = await scrape(node), node.cpu_times(), redis.cpu_times(), now()
            await asyncio.sleep(max(0.0, we - now()))
            after, n1, r1, w1 = await scrape(node), node.cpu_times(), redis.cpu_times(), now()
            pct = 100 * (n1 - n0 + r1 - r0) / (w1 - w0)
            scraped.append((before, after, pct, n1 - n0, r1 - r0))
        status, payload = await asyncio.to_thread(q.get, True, 60.0)
        if status != "ok":
            raise BenchError(f"paced client process failed: {payload}")
        for (rate, _, ws, we), raw, (before, after, cpu_pct, node_cpu, redis_cpu) in zip(
            schedule, payload, scraped, strict=True
        ):
            seconds = we - ws
            server: dict[str, Any] = {}
            if before and after:
                b0, _, n0 = parse_histogram(before, "parley_time_to_match_seconds")
                b1, _, n1 = parse_histogram(after, "parley_time_to_match_seconds")

                hist = {le: v - b0.get(le, 0.0) for le, v in b1.items()}
                server = {
                    "count": n1 - n0,
                    "p50": histogram_quantile(0.5, hist),
                    "p99": histogram_quantile(0.99, hist),
                }
            c = summarize(raw["samples"])
            c.pop("quantiles", None)
            mps = raw["matched"] / 2 / seconds
            ok = (
                c.get("n", 0) > 0
                and c["p99"] < P99_LIMIT_S
                and mps >= 0.95 * rate
                and not raw["errors"]
            )
            row = {
                "offered_matches_per_s": rate,
                "matches_per_s": mps,
                "client_ttm_s": c,
                "server_ttm_s": server,
                "starved_starts": raw["starved"],
                "errors": raw["errors"],
                "client_loop_max_lag_s": raw["lag_max"],
                "node_plus_redis_cpu_pct": cpu_pct,
                # CPU per match is steadier than a rate on a shared machine.
                "node_cpu_ms_per_match": 1000 * node_cpu / max(1.0, raw["matched"] / 2),
                "redis_cpu_ms_per_match": 1000 * redis_cpu / max(1.0, raw["matched"] / 2),
                "held": ok,
            }
            results.append(row)
            log(
                f"[multinode] paced {rate:.0f}/s offered: {mps:.0f} matches/s, client p50/p99 "
                f"{_ms(c.get('p50'))}/{_ms(c.get('p99'))} ms, server p99 "
                f"{_ms(server.get('p99'))} ms, node+redis CPU {cpu_pct:.0f}% "
                f"({row['node_cpu_ms_per_match']:.2f}+{row['redis_cpu_ms_per_match']:.2f} ms per "
                f"match), client lag "
                f"{raw['lag_max'] * 1000:.1f} ms, starved {raw['starved']}"
                + (f", errors {raw['errors']}" if raw["errors"] else "")
                + (" — held" if ok else " — NOT held")
            )
    finally:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()
    return results


# ---- report -----------------------------------------------------------------------------------


def _ms(v: float | None) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v * 1000:.2f}"


def _x(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f}x"


def table(configs: dict[str, dict[str, Any]], ramp: list[dict[str, Any]], sustained: float) -> str:
    base = configs.get("a_memory_1node", {})
    lines = [
        f"{'configuration':<24} {'matches/s':>9} {'ratio':>6} {'client p50':>10} {'p99':>8} "
        f"{'ratio':>6} {'server p50':>10} {'p99':>8} {'ratio':>6} {'CPU%':>5}",
    ]
    for name, o in configs.items():
        c, s = o["client_ttm_s"], o.get("server_ttm", {})
        bc, bs = base.get("client_ttm_s", {}), base.get("server_ttm", {})
        lines.append(
            f"{name:<24} {o['matches_per_s']:>9.0f} "
            f"{_x(ratio(o['matches_per_s'], base.get('matches_per_s'))):>6} "
            f"{_ms(c.get('p50')):>10} {_ms(c.get('p99')):>8} "
            f"{_x(ratio(c.get('p99'), bc.get('p99'))):>6} "
            f"{_ms(s.get('p50')):>10} {_ms(s.get('p99')):>8} "
            f"{_x(ratio(s.get('p99'), bs.get('p99'))):>6} {o['server_cpu_pct']:>5.0f}"
        )
    lines.append("(times in ms; ratios are to a_memory_1node; CPU% = nodes + redis, of one core)")
    lines.append("")
    lines.append(
        f"{'paced, 1 Redis node':<24} {'got/s':>9} {'client p50':>10} {'p99':>8} "
        f"{'server p99':>10} {'CPU%':>5}  held (p99 < 100 ms)"
    )
    for r in ramp:
        c, s = r["client_ttm_s"], r["server_ttm_s"]
        lines.append(
            f"{r['offered_matches_per_s']:>20.0f}/s {r['matches_per_s']:>9.0f} "
            f"{_ms(c.get('p50')):>10} {_ms(c.get('p99')):>8} {_ms(s.get('p99')):>10} "
            f"{r['node_plus_redis_cpu_pct']:>5.0f}  {'yes' if r['held'] else 'no'}"
        )
    verdict = "meets" if sustained >= TARGET_RATE else "BELOW"
    lines.append(
        f"sustained rate on one Redis node with p99 < 100 ms: {sustained:.0f} matches/s "
        f"({verdict} the {TARGET_RATE:.0f}/s target)"
    )
    return "\n".join(lines)


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        return ""


async def run(args: argparse.Namespace) -> dict[str, Any]:
    cfg = ChurnConfig(
        churners=args.churners,
        warmup=1.0,
        window=args.window,
        grace=0.5,
    )
    windows = args.windows
    rates = [float(x) for x in args.rates.split(",")]
    redis = RedisServer().start()
    configs: dict[str, dict[str, Any]] = {}
    ramp: list[dict[str, Any]] = []
    profile: dict[str, Any] | None = None
    try:
        log(f"[multinode] redis-server {redis.version()} on {HOST}:{redis.port}")
        plan: list[tuple[str, int, str | None]] = [
            ("a_memory_1node", 1, None),
            ("b_redis_1node", 1, f"{redis.url}?prefix=b"),
            ("c_redis_3nodes", 3, f"{redis.url}?prefix=c"),
        ]
        for name, n, url in [] if args.ramp_only else plan:
            nodes = start_nodes(n, url)
            try:
                configs[name] = await churn_config(name, nodes, cfg, windows, redis)
            finally:
                for s in nodes:
                    problems = s.log_problems()
                    if problems:
                        log(f"[multinode] {name} node {s.port} log problems: {problems[:3]}")
                    s.stop()
        (node,) = start_nodes(1, f"{redis.url}?prefix=ramp")
        profiler = None
        if args.profile and node.proc is not None:
            profiler = Profiler(node.proc.pid, args.out / f"profile-ramp-{node.port}.txt")
            profiler.start()
        try:
            ramp = await paced_ramp(node, redis, rates, 1.0, args.step, args.pool)
        finally:
            problems = node.log_problems() + [
                line[:200] for line in node.log(200000).splitlines() if "broker.redis" in line
            ]
            if problems:
                log(f"[multinode] ramp node {node.port} log problems: {problems[:5]}")
            if profiler is not None:
                prof = profiler.stop()
                show("ramp node", prof, 20)
                profile = prof
            node.stop()
    finally:
        stop_all()
        redis.stop()
    held = [r["offered_matches_per_s"] for r in ramp if r["held"]]
    sustained = max(held) if held else 0.0
    figures: dict[str, Any] = {"configs": configs, "ramp": ramp}
    figures["sustained_matches_per_s"] = sustained
    if profile is not None:
        figures["ramp_profile"] = profile
    return figures


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.multinode", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run (< 1 min)")
    p.add_argument("--churners", type=int, default=None, help="churning people (default 1000)")
    p.add_argument("--windows", type=int, default=None, help="counted windows per configuration")
    p.add_argument("--window", type=float, default=None, help="seconds per counted window")
    p.add_argument("--rates", default=None, help="paced offered matches/s, comma list")
    p.add_argument("--step", type=float, default=None, help="counted seconds per paced rate")
    p.add_argument("--pool", type=int, default=None, help="pre-connected people for the ramp")
    p.add_argument("--out", type=Path, default=RESULTS_DIR)
    p.add_argument("--ramp-only", action="store_true", help="skip the churn configurations")
    p.add_argument("--profile", action="store_true", help="py-spy the ramp node")
    args = p.parse_args(argv)
    quick = args.quick
    args.churners = args.churners or (300 if quick else 1000)
    args.windows = args.windows or 2
    args.window = args.window or (2.0 if quick else 4.0)
    args.rates = args.rates or ("250,1000,2000" if quick else "500,1000,1250,1500,1750,2000")
    args.step = args.step or (2.0 if quick else 4.0)
    args.pool = args.pool or (1000 if quick else 1500)

    raise_nofile()
    cores = os.cpu_count() or 1
    note = MACHINE_NOTE.format(cores=cores)
    log(f"[multinode] note: {note}")
    t0 = time.monotonic()
    try:
        import uvloop

        figures = uvloop.run(run(args))
    finally:
        stop_all()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = {
        "bench": "multinode",
        "date_utc": stamp,
        "command": " ".join([".venv/bin/python -m bench.multinode", *(argv or sys.argv[1:])]),
        "quick": quick,
        "machine": {
            "note": note,
            "cores": cores,
            "cpu": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        },
        "git_commit": git_commit(),
        "settings": {
            "churners": args.churners,
            "windows": args.windows,
            "window_s": args.window,
            "rates": args.rates,
            "step_s": args.step,
            "pool": args.pool,
            "p99_limit_s": P99_LIMIT_S,
        },
        **figures,
        "duration_s": time.monotonic() - t0,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{stamp}-multinode.json"
    path.write_text(json.dumps(out, indent=1, default=str))
    print()
    print(table(figures["configs"], figures["ramp"], figures["sustained_matches_per_s"]))
    print(f"note: {note}")
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    print(f"took {out['duration_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
