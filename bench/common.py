"""Shared bits: frames the clients send, a tolerant decoder for what they receive, statistics."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import os
import time
from collections.abc import Iterator, Sequence
from typing import Any

import msgspec

from bench.wsclient import QueueClient, text_frame

HELLO = b'{"type":"hello","age":30,"mode":"text","language":"en"}'
START = b'{"type":"start"}'
NEXT = b'{"type":"next"}'
STOP = b'{"type":"stop"}'
PONG = b'{"type":"pong"}'
PONG_FRAME = text_frame(PONG)
START_FRAME = text_frame(START)
NEXT_FRAME = text_frame(NEXT)

now = time.monotonic  # CLOCK_MONOTONIC: one clock for every process on the machine


def hello(*, interests: Sequence[str] = (), fallback: bool = True, age: int = 30) -> bytes:
    return msgspec.json.encode(
        {
            "type": "hello",
            "age": age,
            "mode": "text",
            "language": "en",
            "interests": list(interests),
            "fallback": fallback,
        }
    )


def pin_to_one_core(cpu: int | None) -> int | None:
    """Pin this process to ``cpu`` (default: the last core it may use), so that timings of one
    core are not spread over several; the core, or None where the OS cannot pin."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    chosen = cpu if cpu is not None else max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {chosen})
    return chosen


class Incoming(msgspec.Struct):
    """Any server frame; fields a frame type does not have keep their defaults."""

    type: str = ""
    pair: str = ""
    text: str = ""
    role: str = ""
    code: str = ""
    reason: str = ""


decode_incoming = msgspec.json.Decoder(Incoming).decode


class BenchError(RuntimeError):
    pass


async def expect(client: QueueClient, want: str, within: float = 10.0) -> Incoming:
    """Read frames (answering pings) until one of type ``want``; raise on error/close/timeout."""
    deadline = now() + within
    while True:
        left = deadline - now()
        if left <= 0:
            raise BenchError(f"no {want!r} within {within:.0f} s")
        try:
            payload = await client.recv(left)
        except TimeoutError:
            raise BenchError(f"no {want!r} within {within:.0f} s") from None
        if payload is None:
            raise BenchError(f"closed ({client.close_code}) while waiting for {want!r}")
        msg = decode_incoming(payload)
        if msg.type == want:
            return msg
        if msg.type == "ping":
            client.send_raw(PONG_FRAME)
        elif msg.type == "error":
            raise BenchError(f"error {msg.code} while waiting for {want!r}: {payload[:200]!r}")


async def gather_bounded(coros: Sequence[Any], limit: int) -> list[Any]:
    """Run coroutines with at most ``limit`` at once; results in order (exceptions returned)."""
    sem = asyncio.Semaphore(limit)

    async def one(c: Any) -> Any:
        async with sem:
            return await c

    return list(await asyncio.gather(*(one(c) for c in coros), return_exceptions=True))


def quantile(sorted_xs: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile of an already sorted sequence (nan when empty)."""
    if not sorted_xs:
        return math.nan
    pos = q * (len(sorted_xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_xs) - 1)
    return sorted_xs[lo] + (sorted_xs[hi] - sorted_xs[lo]) * (pos - lo)


def summarize(samples: Sequence[float]) -> dict[str, Any]:
    """p50/p90/p99/max/mean plus a 101-point quantile sketch (enough to redraw a CDF)."""
    xs = sorted(samples)
    if not xs:
        return {"n": 0}
    return {
        "n": len(xs),
        "mean": sum(xs) / len(xs),
        "p50": quantile(xs, 0.5),
        "p90": quantile(xs, 0.9),
        "p99": quantile(xs, 0.99),
        "max": xs[-1],
        "quantiles": [quantile(xs, i / 100) for i in range(101)],
    }


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0 or math.isnan(a) or math.isnan(b):
        return None
    return a / b


async def probe_http(
    host: str, port: int, start: float, end: float, interval: float = 0.01, path: str = "/healthz"
) -> list[float]:
    """Latency of ``GET path`` on one keep-alive connection, every ``interval`` s in [start, end).

    A stall of the server's event loop (a sweep over all sessions, a GC pause) shows up as a
    slow answer, even when no client frame happened to be waiting at that moment.
    """
    await asyncio.sleep(max(0.0, start - now()))
    samples: list[float] = []
    reader, writer = await asyncio.open_connection(host, port)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    try:
        while now() < end:
            t = now()
            writer.write(request)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            samples.append(now() - t)
            await asyncio.sleep(max(0.0, t + interval - now()))
    finally:
        writer.close()
    return samples


@contextlib.contextmanager
def quiet_gc() -> Iterator[None]:
    """No garbage-collector pauses in the load generator while it measures.

    Everything alive now is frozen out of the collector's reach, and automatic collection is
    off until the block ends (the measured windows are short, so memory stays bounded).
    """
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


def log(msg: str) -> None:
    print(msg, flush=True)
