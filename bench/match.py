"""Time-to-match under churn.

Churners share one pool and keep churning: ``start`` → ``matched`` → after a random pause
(``pause_min``..``pause_max`` s) the ``offerer`` of the pair sends ``next`` (and is queued again);
the partner gets ``partner_left`` and sends ``start``. The client-side time to match runs from
sending ``start``/``next`` to receiving ``matched``; the server-side figure is the delta of
Parley's ``parley_time_to_match_seconds`` histogram over the counted windows.

A 1 s mean pause makes ~churners/2 matches/s: 1,000 churners give ~500 matches/s, the rate Omegle
is estimated to have served at peak (170-670/s, docs/design.md).

Clients stay connected to both servers and the servers take turns (windows ABBA), so that noise
from neighbours on shared machines hits both alike. Between windows the churners pause: pairs
stay as they are and nobody re-queues.

**Sitters**: extra clients in the same pool, each with a unique interest and
``"fallback": false``, who wait for ever. With them queued (``start``) or not (``stop``), in
alternating windows, the same churners show whether matching slows down as the queue grows.
"""

from __future__ import annotations

import asyncio
import math
import random
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bench.common import (
    NEXT_FRAME,
    PONG_FRAME,
    START_FRAME,
    BenchError,
    decode_incoming,
    expect,
    gather_bounded,
    hello,
    log,
    now,
    probe_http,
    quiet_gc,
    summarize,
)
from bench.servers import HOST, Server
from bench.wsclient import QueueClient, text_frame

STOP_FRAME = text_frame(b'{"type":"stop"}')


@dataclass
class ChurnConfig:
    churners: int = 1000
    pause_min: float = 0.5
    pause_max: float = 1.5
    warmup: float = 1.0  # per window, not counted
    window: float = 4.0  # counted seconds per window
    grace: float = 1.0  # after a window, for requests made inside it to be answered
    connect_concurrency: int = 64
    timeout: float = 15.0


class Window:
    """Counters of one counted window."""

    def __init__(self, win_start: float, win_end: float) -> None:
        self.running = True
        self.win_start = win_start
        self.win_end = win_end
        self.samples: list[float] = []  # client-side time to match, requests made in window
        self.matched = 0  # matched frames received in window (two per match)
        self.errors: Counter[str] = Counter()


class LagMonitor:
    """Largest event-loop stall of the bench process itself (a stalled client inflates TTM)."""

    def __init__(self) -> None:
        self.max = 0.0

    async def run(self, start: float, end: float, tick: float = 0.005) -> None:
        await asyncio.sleep(max(0.0, start - now()))
        while now() < end:
            t = now()
            await asyncio.sleep(tick)
            self.max = max(self.max, now() - t - tick)


class Churner:
    def __init__(self, client: QueueClient, cfg: ChurnConfig) -> None:
        self.client = client
        self.cfg = cfg
        self.win = Window(0.0, 0.0)
        self.win.running = False
        self.pair = ""
        self.role = ""
        self.t_req: float | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.loop = asyncio.get_running_loop()
        client.on_text = self.on_text

    def request(self, frame: bytes) -> None:
        self.t_req = now()
        self.client.send_raw(frame)

    def resume(self, win: Window) -> None:
        self.win = win
        if self.pair:
            if self.role == "offerer" and self.timer is None:
                self._arm(self.pair)
        elif self.t_req is None:
            self.request(START_FRAME)

    def _arm(self, pair: str) -> None:
        pause = random.uniform(self.cfg.pause_min, self.cfg.pause_max)
        self.timer = self.loop.call_later(pause, self.leave, pair)

    def on_text(self, payload: bytes) -> None:
        msg = decode_incoming(payload)
        kind = msg.type
        win = self.win
        if kind == "matched":
            t = now()
            if self.t_req is not None:
                if win.win_start <= self.t_req < win.win_end:
                    win.samples.append(t - self.t_req)
                self.t_req = None
            if win.win_start <= t < win.win_end:
                win.matched += 1
            self.pair, self.role = msg.pair, msg.role
            if msg.role == "offerer" and win.running:
                self._arm(msg.pair)
        elif kind == "partner_left":
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            self.pair = ""
            if win.running:
                self.request(START_FRAME)
        elif kind == "ping":
            self.client.send_raw(PONG_FRAME)
        elif kind == "error":
            win.errors[msg.code] += 1

    def leave(self, pair: str) -> None:
        self.timer = None
        if self.pair == pair and self.win.running:
            self.pair = ""
            self.request(NEXT_FRAME)


class Sitter:
    """Waits for ever (unique interest, no fallback) while queued; counts what it is told."""

    def __init__(self, client: QueueClient, counts: Counter[str]) -> None:
        self.client = client
        self.counts = counts
        client.on_text = self.on_text

    def on_text(self, payload: bytes) -> None:
        msg = decode_incoming(payload)
        if msg.type == "ping":
            self.client.send_raw(PONG_FRAME)
        else:
            self.counts[msg.type] += 1
            if msg.type == "error":
                self.counts["error:" + msg.code] += 1


async def connect_many(
    server: Server, frames: list[bytes], concurrency: int, limit: float, label: str
) -> list[QueueClient]:
    """Open one client per hello frame (bounded concurrency); each gets its ``welcome``."""
    n = len(frames)
    done = 0
    step = max(1, n // 4)

    async def one(frame: bytes) -> QueueClient:
        nonlocal done
        c = QueueClient()
        await c.connect(HOST, server.port, within=limit)
        try:
            c.send(frame)
            await expect(c, "welcome", limit)
        except BaseException:
            c.abort()
            raise
        done += 1
        if done % step == 0 or done == n:
            log(f"[match] {server.name} {label}: {done}/{n} connected")
        return c

    results = await gather_bounded([one(f) for f in frames], concurrency)
    clients = [r for r in results if isinstance(r, QueueClient)]
    if len(clients) < n:
        first = next(r for r in results if not isinstance(r, QueueClient))
        for c in clients:
            c.abort()
        raise BenchError(f"{n - len(clients)} of {n} {label} failed to connect: {first!r}")
    return clients


@dataclass
class Tally:
    """Everything measured for one server (or one condition) over its windows."""

    samples: list[float] = field(default_factory=list)
    matched: int = 0
    seconds: float = 0.0
    cpu_s: float = 0.0
    wall_s: float = 0.0
    errors: Counter[str] = field(default_factory=Counter)
    hist: dict[float, float] = field(default_factory=dict)
    hist_sum: float = 0.0
    hist_count: float = 0.0
    server_matches: float = 0.0
    scraped: bool = False
    client_lag_max: float = 0.0
    window_p99: list[float] = field(default_factory=list)
    window_mps: list[float] = field(default_factory=list)
    window_cpu_ms: list[float] = field(default_factory=list)  # server CPU per match
    healthz: list[float] = field(default_factory=list)

    def add_metrics(self, before: str, after: str) -> None:
        """Add one server's ``/metrics`` deltas (time-to-match histogram, matches) over a window."""
        b0, s0, n0 = parse_histogram(before, "parley_time_to_match_seconds")
        b1, s1, n1 = parse_histogram(after, "parley_time_to_match_seconds")
        if not b1:
            return
        self.scraped = True
        for le, v in b1.items():
            self.hist[le] = self.hist.get(le, 0.0) + v - b0.get(le, 0.0)
        self.hist_sum += s1 - s0
        self.hist_count += n1 - n0
        m0 = _counter_sum(before, "parley_matches_total") or 0.0
        m1 = _counter_sum(after, "parley_matches_total") or 0.0
        self.server_matches += m1 - m0

    def result(self, extra: dict[str, Any]) -> dict[str, Any]:
        mps = self.matched / 2 / self.seconds if self.seconds else math.nan
        out: dict[str, Any] = {
            **extra,
            "counted_s": self.seconds,
            "matches_per_s": mps,
            "client_ttm_s": summarize(self.samples),
            "errors": dict(self.errors),
            "server_cpu_pct": 100 * self.cpu_s / self.wall_s if self.wall_s else math.nan,
            "server_cpu_ms_per_match": 1000 * self.cpu_s / max(1.0, self.matched / 2),
            "bench_loop_max_lag_s": self.client_lag_max,
            "client_ttm_p99_by_window_s": self.window_p99,
            "matches_per_s_by_window": self.window_mps,
            "server_cpu_ms_per_match_by_window": self.window_cpu_ms,
            "healthz_latency_s": summarize(self.healthz),
            "_samples": {"client_ttm": self.samples},
        }
        if self.scraped:
            out["server_ttm"] = {
                "count": self.hist_count,
                "mean": self.hist_sum / self.hist_count if self.hist_count else math.nan,
                "p50": histogram_quantile(0.5, self.hist),
                "p90": histogram_quantile(0.9, self.hist),
                "p99": histogram_quantile(0.99, self.hist),
                "buckets": {
                    ("+Inf" if math.isinf(k) else repr(k)): v for k, v in sorted(self.hist.items())
                },
            }
            out["server_matches_per_s"] = self.server_matches / self.seconds
        return out


@dataclass
class WindowFigures:
    """What one counted window showed, for the caller's log line."""

    matches_per_s: float
    client_p99: float
    cpu_pct: float  # of one core, by what ``cpu`` measured
    lag_max: float  # the bench process's own largest event-loop stall
    healthz: list[float]  # /healthz latencies, when probed


async def count_window(
    servers: list[Server],
    bots: list[Churner],
    cfg: ChurnConfig,
    tally: Tally,
    *,
    cpu: Callable[[], float] | None = None,
    probe: bool = False,
) -> WindowFigures:
    """One counted window of churn over ``servers``; adds its figures to ``tally``.

    ``cpu`` gives the CPU seconds to count (default: the servers'); ``probe`` also times
    /healthz on the first server during the window.
    """

    def servers_cpu() -> float:
        return sum(s.cpu_times() for s in servers)

    cpu = cpu or servers_cpu
    t0 = now()
    win = Window(t0 + cfg.warmup, t0 + cfg.warmup + cfg.window)
    lag = LagMonitor()
    lag_task = asyncio.create_task(lag.run(win.win_start, win.win_end))
    probe_task = None
    if probe:
        # 40 GETs/s: enough to catch stalls, cheap enough not to weigh on the CPU per match.
        probe_task = asyncio.create_task(
            probe_http(HOST, servers[0].port, win.win_start, win.win_end, interval=0.025)
        )
    for b in bots:
        b.resume(win)
    await asyncio.sleep(max(0.0, win.win_start - now()))
    before = await asyncio.gather(*(scrape(s) for s in servers))
    cpu0, w0 = cpu(), now()
    await asyncio.sleep(max(0.0, win.win_end - now()))
    after = await asyncio.gather(*(scrape(s) for s in servers))
    cpu1, w1 = cpu(), now()
    win.running = False
    await asyncio.sleep(cfg.grace)
    await lag_task
    tally.client_lag_max = max(tally.client_lag_max, lag.max)
    hz: list[float] = []
    if probe_task is not None:
        try:
            hz = await probe_task
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            log(f"[match] {servers[0].name}: /healthz probe failed: {exc!r}")
    tally.healthz += hz
    tally.samples += win.samples
    tally.matched += win.matched
    tally.seconds += cfg.window
    tally.cpu_s += cpu1 - cpu0
    tally.wall_s += w1 - w0
    tally.errors.update(win.errors)
    for b_text, a_text in zip(before, after, strict=True):
        if b_text is not None and a_text is not None:
            tally.add_metrics(b_text, a_text)
    xs = sorted(win.samples)
    p99 = xs[min(len(xs) - 1, int(0.99 * len(xs)))] if xs else math.nan
    tally.window_p99.append(p99)
    tally.window_mps.append(win.matched / 2 / cfg.window)
    tally.window_cpu_ms.append(1000 * (cpu1 - cpu0) / max(1.0, win.matched / 2))
    return WindowFigures(
        matches_per_s=win.matched / 2 / cfg.window,
        client_p99=p99,
        cpu_pct=100 * (cpu1 - cpu0) / (w1 - w0),
        lag_max=lag.max,
        healthz=hz,
    )


async def window(
    server: Server,
    bots: list[Churner],
    cfg: ChurnConfig,
    tally: Tally,
    label: str,
) -> None:
    """One counted window of churn on ``server`` (with /healthz probed); adds to ``tally``."""
    w = await count_window([server], bots, cfg, tally, probe=True)
    log(
        f"[match] {server.name} {label}: {w.matches_per_s:.0f} matches/s, "
        f"client p99 {w.client_p99 * 1000:.2f} ms, server CPU {w.cpu_pct:.0f}%, "
        f"max /healthz {max(w.healthz, default=math.nan) * 1000:.1f} ms, "
        f"bench loop max lag {w.lag_max * 1000:.1f} ms"
    )


async def compare_servers(servers: list[Server], cfg: ChurnConfig, rounds: int) -> dict[str, Any]:
    """Churn ``cfg.churners`` on each server; windows alternate ABBA over ``rounds`` rounds."""
    groups: dict[str, list[Churner]] = {}
    tallies = {s.name: Tally() for s in servers}
    try:
        for s in servers:
            frames = [hello()] * cfg.churners
            clients = await connect_many(
                s, frames, cfg.connect_concurrency, cfg.timeout, "churners"
            )
            groups[s.name] = [Churner(c, cfg) for c in clients]
        k = 0
        with quiet_gc():
            for r in range(rounds):
                for s in servers if r % 2 == 0 else servers[::-1]:
                    k += 1
                    label = f"window {k}/{rounds * len(servers)}"
                    await window(s, groups[s.name], cfg, tallies[s.name], label)
        out = {}
        for s in servers:
            closed = sum(b.client.closed for b in groups[s.name])
            out[s.name] = tallies[s.name].result(
                {
                    "churners": cfg.churners,
                    "pause_s": [cfg.pause_min, cfg.pause_max],
                    "closed_clients": closed,
                }
            )
            _report(s.name, f"{cfg.churners} churners", out[s.name])
        return out
    finally:
        for bots in groups.values():
            for b in bots:
                b.client.abort()
        await asyncio.sleep(0.2)


async def compare_sitters(
    server: Server, cfg: ChurnConfig, sitters: int, rounds: int
) -> dict[str, Any]:
    """The same churners with ``sitters`` people queued or not, alternating windows."""
    counts: Counter[str] = Counter()
    sit_clients: list[QueueClient] = []
    bots: list[Churner] = []
    try:
        frames = [hello(interests=[f"solo {i}"], fallback=False) for i in range(sitters)]
        sit_clients = await connect_many(
            server, frames, cfg.connect_concurrency, cfg.timeout, "sitters"
        )
        for c in sit_clients:
            Sitter(c, counts)
        clients = await connect_many(
            server, [hello()] * cfg.churners, cfg.connect_concurrency, cfg.timeout, "churners"
        )
        bots = [Churner(c, cfg) for c in clients]

        async def queue_sitters(frame: bytes, answer: str) -> None:
            want = counts[answer] + len(sit_clients)
            for c in sit_clients:
                c.send_raw(frame)
            deadline = now() + cfg.timeout
            while counts[answer] < want:
                if now() > deadline:
                    raise BenchError(f"sitters: {want - counts[answer]} without {answer!r}")
                await asyncio.sleep(0.02)

        async def empty() -> None:
            await queue_sitters(STOP_FRAME, "stopped")

        async def full() -> None:
            await queue_sitters(START_FRAME, "waiting")

        tallies = {"without": Tally(), "with": Tally()}
        steps: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        for r in range(rounds):
            order = [("without", empty), ("with", full)]
            steps += order if r % 2 == 0 else order[::-1]
        queued = False
        with quiet_gc():
            for i, (cond, setup) in enumerate(steps, 1):
                if (cond == "with") != queued:
                    await setup()
                    queued = cond == "with"
                label = f"{cond} {sitters} sitters, window {i}/{len(steps)}"
                await window(server, bots, cfg, tallies[cond], label)
        out: dict[str, Any] = {}
        for cond, tally in tallies.items():
            out[cond] = tally.result(
                {
                    "churners": cfg.churners,
                    "sitters_queued": sitters if cond == "with" else 0,
                    "pause_s": [cfg.pause_min, cfg.pause_max],
                }
            )
            _report(server.name, f"{cfg.churners} churners, {cond} {sitters} sitters", out[cond])
        out["sitters"] = sitters
        out["sitters_matched"] = counts["matched"]
        out["sitter_errors"] = {k[6:]: v for k, v in counts.items() if k.startswith("error:")}
        return out
    finally:
        for c in sit_clients:
            c.abort()
        for b in bots:
            b.client.abort()
        await asyncio.sleep(0.2)


def _report(name: str, what: str, o: dict[str, Any]) -> None:
    c = o["client_ttm_s"]
    s = o.get("server_ttm", {})
    log(
        f"[match] {name} {what}: {o['matches_per_s']:.0f} matches/s, client p50/p99 "
        f"{_ms(c.get('p50'))}/{_ms(c.get('p99'))} ms"
        + (f", server p50/p99 {_ms(s.get('p50'))}/{_ms(s.get('p99'))} ms" if s else "")
        + f", {o['server_cpu_ms_per_match']:.2f} ms server CPU per match"
    )


async def scrape(server: Server) -> str | None:
    if server.name != "parley":
        return None
    try:
        return await asyncio.to_thread(server.get, "/metrics")
    except OSError as exc:
        log(f"[match] could not read /metrics: {exc}")
        return None


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")
_LE = re.compile(r'le="([^"]+)"')


def _samples(text: str, name: str) -> list[tuple[str, float]]:
    out = []
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if m and m.group(1) == name:
            out.append((m.group(2) or "", float(m.group(3))))
    return out


def _counter_sum(text: str, name: str) -> float | None:
    xs = _samples(text, name)
    return sum(v for _, v in xs) if xs else None


def parse_histogram(text: str, name: str) -> tuple[dict[float, float], float, float]:
    """Cumulative bucket counts by upper bound (summed over label sets), sum and count."""
    buckets: dict[float, float] = {}
    for labels, v in _samples(text, name + "_bucket"):
        m = _LE.search(labels)
        if m:
            le = math.inf if m.group(1) == "+Inf" else float(m.group(1))
            buckets[le] = buckets.get(le, 0.0) + v
    total = sum(v for _, v in _samples(text, name + "_sum"))
    count = sum(v for _, v in _samples(text, name + "_count"))
    return buckets, total, count


def histogram_quantile(q: float, buckets: dict[float, float]) -> float:
    """Prometheus-style: linear interpolation inside the bucket holding the q-th observation."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return math.nan
    rank = q * buckets[bounds[-1]]
    prev_b, prev_c = 0.0, 0.0
    for b in bounds:
        c = buckets[b]
        if c >= rank:
            if math.isinf(b):
                return prev_b  # above the largest finite bound: report that bound
            if c == prev_c:
                return b
            return prev_b + (b - prev_b) * (rank - prev_c) / (c - prev_c)
        prev_b, prev_c = b, c
    return prev_b


def _ms(v: float | None) -> str:
    return "n/a" if v is None or math.isnan(v) else f"{v * 1000:.2f}"
