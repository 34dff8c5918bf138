"""Bench of admission: hellos admitted per second (``hello`` → ``welcome``) by one server process,
this checkout (B) against a baseline checkout (A, default ``main``) in the same run.

    .venv/bin/python -m bench.admission                          # 100 and 1,000 in flight
    .venv/bin/python -m bench.admission --inflight 1000 --rounds 5 --baseline-ref 452a0ef
    .venv/bin/python -m bench.admission --storm 10000             # the reconnect storm only

The baseline runs from a ``git worktree`` of ``--baseline-ref`` (removed at the end), with the
same Python, settings and uvicorn flags (bench/servers.py; rate limits raised). Both servers run
at once, each on its own SQLite file (or, with ``--database-url``, its own PostgreSQL schema).

Load: ``--inflight`` client slots spread over ``--client-procs`` processes (file limits). Each
slot loops: connect, ``hello``, wait for ``welcome``, close. Slots first get a device token
(not counted), so the counted hellos are *returning* devices, as after a node restart; a
``new``-device phase (no token, each hello mints one) is measured as well. Windows alternate
ABBA, one window per server per round; the table shows medians over rounds of hellos/s,
hellos per server CPU-second and the hello → welcome p99, each as a ratio to A.

``--storm N``: N returning devices (their tokens minted beforehand, then the server restarted
on the same database) connect at once; every one must be admitted. Prints the time until the
last ``welcome`` for A and B.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import msgspec
import uvloop

from bench.common import PONG_FRAME, log
from bench.servers import HOST, ROOT, Server, parley_server, raise_nofile, stop_all
from bench.wsclient import QueueClient, open_client

TIMEOUT = 30.0


class _Frame(msgspec.Struct):
    type: str = ""
    device: str = ""
    code: str = ""


_decode = msgspec.json.Decoder(_Frame).decode


def hello_frame(device: str | None) -> bytes:
    body: dict[str, Any] = {"type": "hello", "age": 30, "mode": "text", "language": "en"}
    if device:
        body["device"] = device
    return msgspec.json.encode(body)


async def admit_once(port: int, device: str | None) -> tuple[str | None, str]:
    """One connection: hello, then wait for welcome. Returns (device token, outcome)."""
    client: QueueClient | None = None
    try:
        client = await open_client(HOST, port, within=TIMEOUT)
        client.send(hello_frame(device))
        deadline = time.monotonic() + TIMEOUT
        while True:
            payload = await client.recv(max(0.001, deadline - time.monotonic()))
            if payload is None:
                return None, f"closed {client.close_code}"
            msg = _decode(payload)
            if msg.type == "welcome":
                return msg.device, "welcome"
            if msg.type == "ping":
                client.send_raw(PONG_FRAME)
            elif msg.type == "error":
                return None, f"error {msg.code}"
    except TimeoutError:
        return None, "timeout"
    except OSError as exc:
        return None, f"os {exc.__class__.__name__}"
    except Exception as exc:  # a handshake refused, a reset: counted, never fatal
        return None, f"{exc.__class__.__name__}"
    finally:
        if client is not None:
            client.abort()


# What the page tries again after a pause: a hello timeout, a full or busy server, a connection
# refused (the listen backlog overflowed) or timed out.
RETRY = ("closed 4002", "closed 4005", "error server_busy", "timeout", "os ", "HandshakeError")


async def admit_retrying(
    port: int, device: str | None, until: float, retries: Counter[str] | None = None
) -> tuple[str | None, str]:
    while True:
        token, outcome = await admit_once(port, device)
        if outcome == "welcome" or not outcome.startswith(RETRY) or time.monotonic() > until:
            return token, outcome
        if retries is not None:
            retries[outcome] += 1
        await asyncio.sleep(random.uniform(0.2, 1.0))


class Load:
    """The client side in one process: slots with device tokens per server port."""

    def __init__(self) -> None:
        self.tokens: dict[int, list[str | None]] = {}

    async def warm(self, port: int, slots: int) -> dict[str, Any]:
        """Give each slot a device token (its first hello mints one), 100 at a time."""
        tokens = self.tokens.setdefault(port, [])
        gate = asyncio.Semaphore(100)

        async def mint() -> tuple[str | None, str]:
            async with gate:
                return await admit_retrying(port, None, time.monotonic() + 120)

        results = await asyncio.gather(*(mint() for _ in range(max(0, slots - len(tokens)))))
        tokens.extend(t for t, _ in results)
        return {"outcomes": Counter(o for _, o in results)}

    async def window(
        self, port: int, slots: int, start_at: float, seconds: float, new: bool
    ) -> dict[str, Any]:
        """Loop each slot until the window ends; every hello started in it is counted (the
        last ones end after it: ``finished`` says when, for the rate)."""
        tokens = self.tokens.get(port, [])
        end = start_at + seconds
        outcomes: Counter[str] = Counter()
        latencies: list[float] = []

        async def slot(i: int) -> None:
            while (t0 := time.monotonic()) < end:
                device = None if new or i >= len(tokens) else tokens[i]
                _, outcome = await admit_once(port, device)
                outcomes[outcome] += 1
                if outcome == "welcome":
                    latencies.append(time.monotonic() - t0)

        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        await asyncio.gather(*(slot(i) for i in range(slots)))
        return {"outcomes": outcomes, "latencies": latencies, "finished": time.monotonic()}

    async def share(self, from_port: int, to_port: int) -> dict[str, Any]:
        self.tokens[to_port] = list(self.tokens.get(from_port, []))
        return {}

    async def storm(self, port: int, count: int, within: float) -> dict[str, Any]:
        """Every slot's token connects at once, retrying as the page does, for ``within`` s;
        ``latencies``: when each was welcomed, from the start."""
        tokens = self.tokens.get(port, [])[:count]
        t0 = time.monotonic()
        done: list[float] = []
        retries: Counter[str] = Counter()

        async def one(token: str | None) -> str:
            _, outcome = await admit_retrying(port, token, t0 + within, retries)
            if outcome == "welcome":
                done.append(time.monotonic() - t0)
            return outcome

        outcomes = await asyncio.gather(*(one(t) for t in tokens))
        return {"outcomes": Counter(outcomes), "latencies": done, "retries": retries}


def _worker(conn: Connection) -> None:
    raise_nofile()
    load = Load()

    async def serve() -> None:
        while True:
            cmd = await asyncio.to_thread(conn.recv)
            if cmd is None:
                return
            op, args = cmd
            conn.send(await getattr(load, op)(*args))

    uvloop.run(serve())


class Clients:
    """``procs`` load processes; a command is split evenly over them."""

    def __init__(self, procs: int) -> None:
        ctx = mp.get_context("spawn")
        self.pipes: list[Connection] = []
        self.procs = []
        for _ in range(procs):
            here, there = ctx.Pipe()
            p = ctx.Process(target=_worker, args=(there,), daemon=True)
            p.start()
            self.pipes.append(here)
            self.procs.append(p)

    def split(self, n: int) -> list[int]:
        k = len(self.pipes)
        return [n // k + (1 if i < n % k else 0) for i in range(k)]

    def run(self, op: str, n: int, *rest: Any) -> dict[str, Any]:
        for pipe, share in zip(self.pipes, self.split(n), strict=True):
            pipe.send((op, (rest[0], share, *rest[1:])))
        merged: dict[str, Any] = {
            "outcomes": Counter(),
            "latencies": [],
            "finished": 0.0,
            "retries": Counter(),
        }
        for pipe in self.pipes:
            got = pipe.recv()
            merged["outcomes"].update(got["outcomes"])
            merged["retries"].update(got.get("retries", {}))
            merged["latencies"].extend(got.get("latencies", []))
            merged["finished"] = max(merged["finished"], got.get("finished", 0.0))
        return merged

    def share(self, from_port: int, to_port: int) -> None:
        """The device tokens minted on one server, for another (same data and secret)."""
        for pipe in self.pipes:
            pipe.send(("share", (from_port, to_port)))
        for pipe in self.pipes:
            pipe.recv()

    def close(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send(None)
        for p in self.procs:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()


def _pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def _median_ratio(xs: list[float], base: list[float]) -> float | None:
    """The median of the rounds' ratios; None when A admitted no one in most rounds (a ratio
    to nothing)."""
    ratios = [x / y for x, y in zip(xs, base, strict=True) if y > 0 and x == x]
    return statistics.median(ratios) if 2 * len(ratios) > len(xs) else None


def _median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def _f(v: float | None, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def baseline_tree(ref: str) -> Path:
    sha = subprocess.run(
        ["git", "rev-parse", ref], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()
    path = Path(tempfile.mkdtemp(prefix=f"parley-admission-{sha[:8]}-"))
    subprocess.run(
        ["git", "worktree", "add", "--detach", "-q", str(path), sha], cwd=ROOT, check=True
    )
    return path


def drop_tree(path: Path) -> None:
    subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT, check=False)


def servers(base: Path, env: dict[str, str]) -> list[Server]:
    a = parley_server(env)
    a.name, a.src = "A (baseline)", base / "src"
    b = parley_server(env)
    b.name = "B (this checkout)"
    return [a, b]


def measure(
    pair: list[Server], clients: Clients, inflight: int, rounds: int, seconds: float, new: bool
) -> dict[str, dict[str, Any]]:
    per: dict[str, dict[str, list[Any]]] = {
        s.name: {"rate": [], "cpu_rate": [], "p99": [], "outcomes": []} for s in pair
    }
    for r in range(rounds):
        for s in pair if r % 2 == 0 else pair[::-1]:  # ABBA
            cpu0, t0 = s.cpu_times(), time.monotonic() + 0.3
            got = clients.run("window", inflight, s.port, t0, seconds, new)
            cpu = s.cpu_times() - cpu0
            ok = got["outcomes"].get("welcome", 0)
            took = got["finished"] - t0  # the window and the hellos still in flight at its end
            o = per[s.name]
            o["rate"].append(ok / took)
            o["cpu_rate"].append(ok / cpu if cpu > 0 else float("nan"))
            o["p99"].append(_pct(got["latencies"], 0.99))
            o["outcomes"].append(dict(got["outcomes"]))
            log(
                f"  {s.name}: {ok / took:.0f} hellos/s, {ok / max(cpu, 1e-9):.0f}/CPU-s, "
                f"{dict(got['outcomes'])}"
            )
    base = per[pair[0].name]
    out: dict[str, dict[str, Any]] = {}
    for s in pair:
        o = per[s.name]
        out[s.name] = {
            **o,
            "rate_median": statistics.median(o["rate"]),
            "cpu_rate_median": statistics.median(o["cpu_rate"]),
            "p99_median": _median([x for x in o["p99"] if x is not None]),
            # None: A admitted no one in any window (every hello timed out)
            "rate_ratio": _median_ratio(o["rate"], base["rate"]),
            "cpu_ratio": _median_ratio(o["cpu_rate"], base["cpu_rate"]),
        }
    return out


def storm(
    pair: list[Server], clients: Clients, count: int, within: float
) -> dict[str, dict[str, Any]]:
    """``count`` devices minted once (on B), their database copied for A, then for each server:
    started on its copy, and every device reconnects at once (retrying as the page does, for
    ``within`` seconds at most). B, then A, each alone on the machine."""
    a, b = pair
    b.start(timeout=60)
    minted = clients.run("warm", count, b.port)["outcomes"].get("welcome", 0)
    log(f"  {minted} devices minted")
    b.stop_keeping_data()
    source = b.env["PARLEY_DATA_DIR"]
    copy = tempfile.mkdtemp(prefix="parley-admission-storm-")
    shutil.copytree(source, copy, dirs_exist_ok=True)  # the secret too: the tokens hold on A
    a.env["PARLEY_DATA_DIR"] = copy
    clients.share(b.port, a.port)
    out: dict[str, dict[str, Any]] = {}
    try:
        for s in (b, a):  # B first: A's storm, thrashing to its end, leaves a busy machine
            s.start(timeout=60)
            cpu0 = s.cpu_times()
            got = clients.run("storm", count, s.port, within)
            cpu = s.cpu_times() - cpu0
            done = sorted(got["latencies"])
            out[s.name] = {
                "minted": minted,
                "outcomes": dict(got["outcomes"]),
                "retries": dict(got["retries"]),
                "server_cpu_s": cpu,
                "last_welcome_s": done[-1] if done else None,
                "p50_s": _pct(done, 0.5),
                "admitted_per_s": len(done) / done[-1] if done else None,
                "problems": s.log_problems()[:5],
            }
            s.stop()
            log(f"  {s.name}: {out[s.name]}")
    finally:
        shutil.rmtree(source, ignore_errors=True)
        shutil.rmtree(copy, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.admission", description=__doc__.split("\n\n")[0])
    p.add_argument("--inflight", default="100,1000", help="comma list of hellos in flight")
    p.add_argument("--rounds", type=int, default=3, help="rounds (one window per server each)")
    p.add_argument("--window", type=float, default=4.0, help="counted seconds per window")
    p.add_argument("--client-procs", type=int, default=3, help="load processes")
    p.add_argument("--baseline-ref", default="main", help="git ref the baseline A runs")
    p.add_argument("--no-new", action="store_true", help="skip the new-device phase")
    p.add_argument("--storm", type=int, default=0, help="only the reconnect storm of N people")
    p.add_argument("--storm-within", type=float, default=300.0, help="seconds a storm may take")
    p.add_argument("--database-url", default="", help="PostgreSQL URL (default: SQLite files)")
    args = p.parse_args(argv)
    soft, _ = raise_nofile()
    sizes = [int(x) for x in args.inflight.split(",") if x]
    need = (args.storm or max(sizes)) // args.client_procs + 100
    if soft < need:
        log(f"RLIMIT_NOFILE {soft} < {need}: use more --client-procs")
        return 2
    tree = baseline_tree(args.baseline_ref)
    clients = Clients(args.client_procs)
    results: dict[str, Any] = {"baseline_ref": args.baseline_ref, "rounds": args.rounds}
    rows: list[list[str]] = []
    env: dict[str, str] = {}
    try:
        if args.storm:
            results["storm"] = storm(servers(tree, env), clients, args.storm, args.storm_within)
            for name, o in results["storm"].items():
                rows.append(
                    [
                        f"storm {args.storm}",
                        name,
                        f"{o['outcomes'].get('welcome', 0)} welcomed",
                        f"last at {_f(o['last_welcome_s'], '.1f')} s",
                        f"{_f(o['admitted_per_s'], '.0f')}/s",
                        f"{sum(o['retries'].values())} retries",
                    ]
                )
        else:
            pair = servers(tree, env)
            if args.database_url:
                for i, s in enumerate(pair):
                    s.env |= _pg_schema(args.database_url, f"bench_admission_{i}")
            for s in pair:
                s.start()
            for s in pair:
                clients.run("warm", max(sizes), s.port)
            phases = [("returning", False)] + ([] if args.no_new else [("new", True)])
            for n in sizes:
                for phase, new in phases:
                    log(f"{n} in flight, {phase} devices")
                    r = measure(pair, clients, n, args.rounds, args.window, new)
                    results.setdefault(phase, {})[str(n)] = r
                    for name, o in r.items():
                        rows.append(
                            [
                                f"{n} in flight, {phase}",
                                name,
                                f"{o['rate_median']:.0f}/s",
                                _f(o["rate_ratio"], ".2f"),
                                f"{o['cpu_rate_median']:.0f}/CPU-s ({_f(o['cpu_ratio'], '.2f')})",
                                _f(o["p99_median"] and o["p99_median"] * 1000, ".0f") + " ms",
                            ]
                        )
            results["problems"] = {s.name: s.log_problems()[:5] for s in pair}
    finally:
        stop_all()
        clients.close()
        drop_tree(tree)
    head = ["phase", "server", "hellos/s", "÷ A", "per server CPU-s (÷ A)", "p99"]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for row in [head, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = ROOT / "bench" / "results" / f"{stamp}-admission.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"at": stamp, **results}, indent=2, default=str) + "\n")
    log(f"wrote {out.relative_to(ROOT)}")
    return 0


def _pg_schema(url: str, schema: str) -> dict[str, str]:
    """A fresh PostgreSQL schema for one server (dropped first if a run left it)."""
    code = (
        "import asyncio, asyncpg, sys\n"
        "async def m(u, s):\n"
        "    c = await asyncpg.connect(u)\n"
        "    await c.execute(f'DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s}')\n"
        "    await c.close()\n"
        "asyncio.run(m(sys.argv[1], sys.argv[2]))\n"
    )
    plain = url.replace("postgresql+asyncpg://", "postgresql://")
    subprocess.run([sys.executable, "-c", code, plain, schema], check=True)
    return {"PARLEY_DATABASE_URL": url, "PARLEY_DATABASE_SCHEMA": schema}


if __name__ == "__main__":
    raise SystemExit(main())
