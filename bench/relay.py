"""Relay throughput and round trip A→B→A, Parley and the baseline interleaved.

Both servers run at once; ``pairs`` pairs of clients are connected to each, spread over
``procs`` client processes (a server may pair clients of different processes; that does not
matter). In each pair the ``offerer`` (the role the server assigned) is the sender A and the
``answerer`` is the echo side B, which sends every ``message`` it receives straight back.

Time is cut into slots on the machine-wide monotonic clock, and only one server is driven per
slot, alternating ABBA round by round, so that a burst of noise from a neighbour on these
shared machines hits both servers alike and each round yields a same-moment ratio:

1. **load** slots: each A keeps ``window`` messages in flight; after ``slot_warmup`` s the
   delivered ``message`` frames (both directions) are counted for ``slot`` s → msgs/s, with the
   server's CPU use over the same interval, and the round trips of those messages ("loaded RTT",
   which includes queueing behind the window).
2. **light** slots: each A sends one message at a time, ``light_rate`` per second, with a random
   phase → round trip on an almost idle server (docs/design.md quotes a 0.6-0.75 ms median).

The message text carries its sequence number as a word of letters only (a text filter could take
digits for contact details), so that each echo is matched to its send time.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import queue
import random
import statistics
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import msgspec
import psutil  # type: ignore[import-untyped]  # psutil ships no type hints

from bench.common import (
    PONG_FRAME,
    START,
    BenchError,
    Incoming,
    expect,
    log,
    now,
    quiet_gc,
    summarize,
)
from bench.servers import HOST, Server
from bench.wsclient import QueueClient, text_frame

_TO_LETTERS = str.maketrans("0123456789", "ghijklmnop")
_FROM_LETTERS = str.maketrans("ghijklmnop", "0123456789")
_FILLER = (
    "the quick brown fox jumps over the lazy dog while a stranger says hello from far away "
) * 20


def seq_word(seq: int) -> str:
    return "q" + format(seq, "x").translate(_TO_LETTERS)


def parse_seq(text: str) -> int | None:
    word = text.split(" ", 1)[0]
    if len(word) < 2 or word[0] != "q":
        return None
    try:
        return int(word[1:].translate(_FROM_LETTERS), 16)
    except ValueError:
        return None


@dataclass
class RelayConfig:
    pairs: int = 20
    procs: int = 2
    window: int = 16
    text_len: int = 100
    rounds: int = 5  # load slots per server
    slot: float = 1.0  # counted seconds per load slot
    slot_warmup: float = 0.3
    gap: float = 0.2
    light_rounds: int = 3
    light_slot: float = 1.0
    light_rate: float = 50.0  # round trips per second per pair in light slots
    setup_timeout: float = 30.0


@dataclass(frozen=True)
class Slot:
    index: int
    target: int
    kind: str  # "warm" | "load" | "light"
    start: float  # offsets from t0
    count_start: float
    count_end: float
    end: float


def schedule(cfg: RelayConfig, n_targets: int) -> list[Slot]:
    """The common timetable of main and workers (offsets from t0)."""
    slots: list[Slot] = []
    t = 0.0

    def add(target: int, kind: str, length: float, warm: float) -> None:
        nonlocal t
        cs = t + warm
        ce = cs + length
        slots.append(Slot(len(slots), target, kind, t, cs, ce, ce + cfg.gap))
        t = ce + cfg.gap

    order = list(range(n_targets))
    for target in order:
        add(target, "warm", 0.5, 0.0)
    for r in range(cfg.rounds):
        for target in order if r % 2 == 0 else order[::-1]:
            add(target, "load", cfg.slot, cfg.slot_warmup)
    for r in range(cfg.light_rounds):
        for target in order if r % 2 == 0 else order[::-1]:
            add(target, "light", cfg.light_slot, 0.0)
    return slots


class TargetState:
    """Counters for one server, shared by all endpoints on it within one worker."""

    def __init__(self) -> None:
        self.mode = "idle"
        self.count_start = 0.0
        self.count_end = 0.0
        self.delivered = 0
        self.rtt_load: list[float] = []
        self.rtt_light: list[float] = []
        self.light_lost = 0
        self.errors: Counter[str] = Counter()
        self.partner_left = 0


class Endpoint:
    """One client of a pair, driven by callbacks (no per-frame coroutine switch)."""

    def __init__(self, client: QueueClient, pair: str, role: str, st: TargetState) -> None:
        self.client = client
        self.sender = role == "offerer"
        self.st = st
        self.text_len = 100
        self.seq = 0
        self.sent: dict[int, float] = {}
        self.waiter: asyncio.Future[None] | None = None
        self.waiting_seq = -1
        self._head = b'{"type":"message","pair":' + msgspec.json.encode(pair) + b',"text":"'
        self._decode = msgspec.json.Decoder(Incoming).decode

    def send_one(self) -> int:
        self.seq += 1
        seq = self.seq
        word = seq_word(seq)
        text = word + " " + _FILLER[: max(0, self.text_len - len(word) - 1)]
        self.sent[seq] = now()
        self.client.send_raw(text_frame(self._head + text.encode() + b'"}'))
        return seq

    def on_text(self, payload: bytes) -> None:
        msg = self._decode(payload)
        st = self.st
        if msg.type == "message":
            t = now()
            if st.count_start <= t < st.count_end:
                st.delivered += 1
            if not self.sender:
                self.client.send_raw(text_frame(payload))
                return
            seq = parse_seq(msg.text)
            sent = self.sent.pop(seq, None) if seq is not None else None
            if st.mode == "load":
                if sent is not None and st.count_start <= sent < st.count_end:
                    st.rtt_load.append(t - sent)
                if t < st.count_end:
                    self.send_one()
            elif st.mode == "light" and seq == self.waiting_seq:
                if sent is not None:
                    st.rtt_light.append(t - sent)
                if self.waiter is not None and not self.waiter.done():
                    self.waiter.set_result(None)
        elif msg.type == "ping":
            self.client.send_raw(PONG_FRAME)
        elif msg.type == "error":
            st.errors[msg.code] += 1
        elif msg.type == "partner_left":
            st.partner_left += 1

    async def paced(self, t_end: float, rate: float) -> None:
        interval = 1.0 / rate
        await asyncio.sleep(random.random() * interval)
        loop = asyncio.get_running_loop()
        while now() < t_end - 0.01 and not self.client.closed:
            tick = now()
            self.waiter = loop.create_future()
            self.waiting_seq = self.send_one()
            try:
                await asyncio.wait_for(self.waiter, max(0.05, t_end + 1.0 - now()))
            except TimeoutError:
                self.st.light_lost += 1
            self.waiting_seq = -1
            await asyncio.sleep(max(0.0, tick + interval - now()))


async def _setup(n: int, port: int, st: TargetState, limit: float) -> list[Endpoint]:
    clients = [QueueClient() for _ in range(n)]
    await asyncio.gather(*(c.connect(HOST, port, within=limit) for c in clients))

    async def one(c: QueueClient) -> Incoming:
        c.send(b'{"type":"hello","age":30,"mode":"text","language":"en"}')
        await expect(c, "welcome", limit)
        c.send(START)
        return await expect(c, "matched", limit)

    matched = await asyncio.gather(*(one(c) for c in clients))
    return [Endpoint(c, m.pair, m.role, st) for c, m in zip(clients, matched, strict=True)]


async def _sleep_until(t: float) -> None:
    await asyncio.sleep(max(0.0, t - now()))


async def _worker_main(
    wid: int, ports: list[int], n: int, cfg: RelayConfig, ctrl: Any, res: Any
) -> None:
    loop = asyncio.get_running_loop()
    states = [TargetState() for _ in ports]
    eps: list[list[Endpoint]] = []
    try:
        for port, st in zip(ports, states, strict=True):
            eps.append(await _setup(n, port, st, cfg.setup_timeout))
    except Exception as exc:
        res.put(("failed", wid, f"{type(exc).__name__}: {exc}"))
        return
    for group in eps:
        for ep in group:
            ep.text_len = cfg.text_len
            ep.client.on_text = ep.on_text
    res.put(("ready", wid, [sum(ep.sender for ep in g) for g in eps]))
    t0: float = await loop.run_in_executor(None, ctrl.get, True, cfg.setup_timeout + 60)
    with quiet_gc():
        slots = await _slots(wid, t0, cfg, ports, states, eps, res)
    res.put(
        (
            "done",
            wid,
            {
                "slots": slots,
                "targets": [
                    {
                        "rtt_load": st.rtt_load,
                        "rtt_light": st.rtt_light,
                        "light_lost": st.light_lost,
                        "errors": dict(st.errors),
                        "partner_left": st.partner_left,
                        "closed": sum(ep.client.closed for ep in group),
                    }
                    for st, group in zip(states, eps, strict=True)
                ],
            },
        )
    )
    for group in eps:
        for ep in group:
            ep.client.abort()


async def _slots(
    wid: int,
    t0: float,
    cfg: RelayConfig,
    ports: list[int],
    states: list[TargetState],
    eps: list[list[Endpoint]],
    res: Any,
) -> list[dict[str, Any]]:
    slots: list[dict[str, Any]] = []
    for slot in schedule(cfg, len(ports)):
        st = states[slot.target]
        senders = [ep for ep in eps[slot.target] if ep.sender]
        await _sleep_until(t0 + slot.start)
        if slot.kind == "light":
            st.mode = "light"
            await asyncio.gather(*(ep.paced(t0 + slot.count_end, cfg.light_rate) for ep in senders))
            st.mode = "idle"
            continue
        st.count_start, st.count_end = t0 + slot.count_start, t0 + slot.count_end
        if slot.kind == "warm":  # pipeline runs, nothing is counted
            st.count_start = st.count_end
        st.mode = "load"
        for ep in senders:
            for _ in range(cfg.window):
                ep.send_one()
        await _sleep_until(st.count_end)
        st.mode = "idle"
        if slot.kind == "load":
            slots.append({"index": slot.index, "target": slot.target, "delivered": st.delivered})
            res.put(("slot", wid, slot.index, st.delivered))
        st.delivered = 0
    await asyncio.sleep(0.2)  # late echoes
    return slots


def worker(wid: int, ports: list[int], n: int, cfg_d: dict[str, Any], ctrl: Any, res: Any) -> None:
    import uvloop

    cfg = RelayConfig(**cfg_d)
    try:
        uvloop.run(_worker_main(wid, ports, n, cfg, ctrl, res))
    except KeyboardInterrupt:
        pass
    except Exception as exc:
        res.put(("failed", wid, f"{type(exc).__name__}: {exc}"))


def _split(total_pairs: int, parts: int) -> list[int]:
    """Connections per process: an even number each, summing to 2 × pairs."""
    base, extra = divmod(total_pairs, parts)
    return [2 * (base + (1 if i < extra else 0)) for i in range(parts)]


def run(servers: list[Server], cfg: RelayConfig) -> dict[str, dict[str, Any]]:
    """Drive the relay bench against running servers; returns raw figures per server name."""
    ctx = mp.get_context("spawn")
    res: Any = ctx.Queue()
    shares = [s for s in _split(cfg.pairs, max(1, cfg.procs)) if s > 0]
    ctrls: list[Any] = [ctx.Queue() for _ in shares]
    ports = [s.port for s in servers]
    procs = [
        ctx.Process(
            target=worker,
            args=(i, ports, n, asdict(cfg), ctrls[i], res),
            daemon=True,
            name=f"relay-client-{i}",
        )
        for i, n in enumerate(shares)
    ]
    for p in procs:
        p.start()
    try:
        return _drive(servers, cfg, procs, ctrls, res)
    finally:
        for p in procs:
            p.join(timeout=3)
            if p.is_alive():
                p.terminate()
                p.join(timeout=2)


def _get(res: Any, deadline: float, timeout: float = 0.05) -> tuple[Any, ...]:
    left = deadline - now()
    if left <= 0:
        raise BenchError("relay clients timed out")
    try:
        item: tuple[Any, ...] = res.get(timeout=min(left, timeout))
    except queue.Empty:
        return ()
    if item[0] == "failed":
        raise BenchError(f"relay client {item[1]} failed: {item[2]}")
    return item


def _drive(
    servers: list[Server], cfg: RelayConfig, procs: list[Any], ctrls: list[Any], res: Any
) -> dict[str, dict[str, Any]]:
    names = [s.name for s in servers]
    log(
        f"[relay] {cfg.pairs} pairs on each of {', '.join(names)}; {len(procs)} client processes "
        f"(sharing the machine's {psutil.cpu_count()} cores with the servers); connecting …"
    )
    deadline = now() + cfg.setup_timeout * len(servers) + 20
    ready: dict[int, list[int]] = {}
    while len(ready) < len(procs):
        item = _get(res, deadline, 0.25)
        if item and item[0] == "ready":
            ready[item[1]] = item[2]
        for p in procs:
            if not p.is_alive() and p.exitcode not in (None, 0):
                raise BenchError(f"relay client process exited with {p.exitcode}")
    t0 = now() + 0.3
    for c in ctrls:
        c.put(t0)
    slots = schedule(cfg, len(servers))
    load_slots = [s for s in slots if s.kind == "load"]
    ps_clients = [psutil.Process(p.pid) for p in procs if p.pid is not None]

    def clients_cpu() -> float:
        total = 0.0
        for p in ps_clients:
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                total += t.user + t.system
        return total

    # CPU use of the active server (and of the clients) over each counted interval.
    marks: list[tuple[float, Slot, bool]] = []
    for s in load_slots:
        marks += [(t0 + s.count_start, s, False), (t0 + s.count_end, s, True)]
    cpu_at: dict[tuple[int, bool], tuple[float, float, float]] = {}
    slot_counts: dict[int, dict[int, int]] = {}
    printed: set[int] = set()
    done: dict[int, dict[str, Any]] = {}
    hard_deadline = t0 + slots[-1].end + 20
    light_announced = False
    while len(done) < len(procs):
        t = now()
        while marks and t >= marks[0][0]:
            _, s, is_end = marks.pop(0)
            cpu_at[(s.index, is_end)] = (now(), servers[s.target].cpu_times(), clients_cpu())
        for s in load_slots:
            got = slot_counts.get(s.index, {})
            if s.index not in printed and len(got) == len(procs) and (s.index, True) in cpu_at:
                printed.add(s.index)
                k = sum(1 for x in load_slots if x.target == s.target and x.index <= s.index)
                a, b = cpu_at[(s.index, False)], cpu_at[(s.index, True)]
                cpu = 100 * (b[1] - a[1]) / max(1e-9, b[0] - a[0])
                log(
                    f"[relay] {names[s.target]} round {k}/{cfg.rounds}: "
                    f"{sum(got.values()) / cfg.slot / 1000:.1f}k msgs/s (server CPU {cpu:.0f}%)"
                )
        if not light_announced and t >= t0 + load_slots[-1].end:
            light_announced = True
            log(
                f"[relay] round trips at {cfg.light_rate:g}/s per pair "
                f"({cfg.light_rounds} × {cfg.light_slot:g} s per server) …"
            )
        wait = min([0.05] + [m[0] - now() for m in marks[:1]])
        item = _get(res, hard_deadline, max(0.001, wait))
        if not item:
            continue
        if item[0] == "slot":
            slot_counts.setdefault(item[2], {})[item[1]] = item[3]
        elif item[0] == "done":
            done[item[1]] = item[2]

    out: dict[str, dict[str, Any]] = {}
    per_slot: dict[int, int] = {}
    for d in done.values():
        for s in d["slots"]:
            per_slot[s["index"]] = per_slot.get(s["index"], 0) + s["delivered"]
    for ti, server in enumerate(servers):
        mine = [s for s in load_slots if s.target == ti]
        rates = [per_slot.get(s.index, 0) / cfg.slot for s in mine]
        us_per_msg = [
            1e6
            * (cpu_at[(s.index, True)][1] - cpu_at[(s.index, False)][1])
            / max(1, per_slot.get(s.index, 0))
            for s in mine
        ]
        cpu_s = sum(cpu_at[(s.index, True)][1] - cpu_at[(s.index, False)][1] for s in mine)
        cli_s = sum(cpu_at[(s.index, True)][2] - cpu_at[(s.index, False)][2] for s in mine)
        wall = sum(cpu_at[(s.index, True)][0] - cpu_at[(s.index, False)][0] for s in mine)
        tds = [d["targets"][ti] for d in done.values()]
        rtt_load = [x for td in tds for x in td["rtt_load"]]
        rtt_light = [x for td in tds for x in td["rtt_light"]]
        errors: Counter[str] = Counter()
        for td in tds:
            errors.update(td["errors"])
        out[server.name] = {
            "pairs": cfg.pairs,
            "client_processes": len(procs),
            "senders": sum(r[ti] for r in ready.values()),
            "window": cfg.window,
            "text_len": cfg.text_len,
            "counted_s": cfg.slot * len(mine),
            "msgs_per_s": sum(rates) / len(rates),
            "msgs_per_s_by_round": rates,
            "server_cpu_pct": 100 * cpu_s / wall,
            "clients_cpu_pct": 100 * cli_s / wall,
            "server_cpu_us_per_msg": 1e6 * cpu_s / max(1, sum(rates) * cfg.slot),
            "msgs_per_server_cpu_s": sum(rates) * cfg.slot / cpu_s if cpu_s > 0 else None,
            "server_cpu_us_per_msg_by_round": us_per_msg,
            "rtt_load_s": summarize(rtt_load),
            "rtt_light_s": summarize(rtt_light),
            "light_rate_per_pair": cfg.light_rate,
            "light_lost": sum(td["light_lost"] for td in tds),
            "errors": dict(errors),
            "partner_left": sum(td["partner_left"] for td in tds),
            "closed_clients": sum(td["closed"] for td in tds),
            "_samples": {"rtt_load": rtt_load, "rtt_light": rtt_light},
        }
    if len(servers) == 2:
        a, b = (out[s.name]["msgs_per_s_by_round"] for s in servers)
        ratios = [x / y for x, y in zip(a, b, strict=True) if y > 0]
        out[servers[0].name]["ratio_by_round"] = ratios
        out[servers[0].name]["ratio_median"] = statistics.median(ratios) if ratios else None
        ua, ub = (out[s.name]["server_cpu_us_per_msg_by_round"] for s in servers)
        cpu_ratios = [y / x for x, y in zip(ua, ub, strict=True) if x > 0]
        out[servers[0].name]["cpu_ratio_by_round"] = cpu_ratios
        out[servers[0].name]["cpu_ratio_median"] = (
            statistics.median(cpu_ratios) if cpu_ratios else None
        )
    for server in servers:
        o = out[server.name]
        log(
            f"[relay] {server.name}: {o['msgs_per_s'] / 1000:.1f}k msgs/s "
            f"(server CPU {o['server_cpu_pct']:.0f}%, {o['server_cpu_us_per_msg']:.1f} µs/msg; "
            f"clients {o['clients_cpu_pct']:.0f}%), RTT light p50 {_ms(o['rtt_light_s'])} ms "
            f"p99 {_ms(o['rtt_light_s'], 'p99')} ms, loaded p50 {_ms(o['rtt_load_s'])} ms"
        )
    return out


def _ms(s: dict[str, Any], key: str = "p50") -> str:
    v = s.get(key)
    return "n/a" if v is None else f"{v * 1000:.2f}"
