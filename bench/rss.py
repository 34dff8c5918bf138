"""Memory per idle connection: RSS growth of a fresh server holding ``connections`` idle sockets.

Each client connects, sends ``hello``, waits for ``welcome`` and then stays idle, answering
``ping`` with ``pong``. Connections are opened with bounded concurrency so that the listen
backlog is never overrun. RSS is read with psutil (server process plus any children) after a few
warm-up connections have come and gone (so imports and first-use caches are not counted), and
again once every client is idle and the server's CPU has settled.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any

from bench.common import (
    PONG_FRAME,
    BenchError,
    decode_incoming,
    expect,
    gather_bounded,
    hello,
    log,
    now,
    probe_http,
    summarize,
)
from bench.servers import HOST, Server
from bench.wsclient import QueueClient


@dataclass
class RssConfig:
    connections: int = 5000
    concurrency: int = 100
    settle: float = 2.0
    probe: float = 3.0
    timeout: float = 30.0


def _idle(client: QueueClient) -> None:
    def on_text(payload: bytes) -> None:
        if decode_incoming(payload).type == "ping":
            client.send_raw(PONG_FRAME)

    client.on_text = on_text


async def _open(server: Server, cfg: RssConfig) -> QueueClient:
    c = QueueClient()
    await c.connect(HOST, server.port, within=cfg.timeout)
    c.send(hello())
    await expect(c, "welcome", cfg.timeout)
    _idle(c)
    return c


async def _settle(server: Server, seconds: float) -> None:
    """Wait ``seconds``, then until the server's CPU use is below 5% over 0.5 s (bounded)."""
    await asyncio.sleep(seconds)
    for _ in range(10):
        c0 = server.cpu_times()
        await asyncio.sleep(0.5)
        if server.cpu_times() - c0 < 0.025:
            return


async def run(server: Server, cfg: RssConfig) -> dict[str, Any]:
    clients: list[QueueClient] = []
    try:
        warm = await gather_bounded([_open(server, cfg) for _ in range(20)], 20)
        for c in warm:
            if isinstance(c, QueueClient):
                c.close()
        await _settle(server, 1.0)
        rss_before = server.rss()
        log(
            f"[rss] {server.name}: RSS {rss_before / 2**20:.1f} MiB before; opening "
            f"{cfg.connections} idle connections ({cfg.concurrency} at a time) …"
        )
        step = max(1, cfg.connections // 5)
        for start in range(0, cfg.connections, step):
            n = min(step, cfg.connections - start)
            got = await gather_bounded([_open(server, cfg) for _ in range(n)], cfg.concurrency)
            bad = [g for g in got if not isinstance(g, QueueClient)]
            clients += [g for g in got if isinstance(g, QueueClient)]
            if bad:
                raise BenchError(f"{len(bad)} connections failed, first: {bad[0]!r}")
            log(
                f"[rss] {server.name} {len(clients)}/{cfg.connections} connected, "
                f"RSS {server.rss() / 2**20:.1f} MiB"
            )
        await _settle(server, cfg.settle)
        rss_after = server.rss()
        # Responsiveness with every connection open: periodic sweeps over all sessions show up
        # as slow /healthz answers (the probe spans a few heartbeat ticks).
        t = now()
        healthz = summarize(await probe_http(HOST, server.port, t, t + cfg.probe))
        alive = sum(not c.closed for c in clients)
        per_conn = (rss_after - rss_before) / cfg.connections
        log(
            f"[rss] {server.name}: {per_conn / 1024:.1f} KiB per idle connection "
            f"({rss_before / 2**20:.1f} → {rss_after / 2**20:.1f} MiB, {alive} still open); "
            f"/healthz p50 {healthz.get('p50', math.nan) * 1000:.2f} ms, "
            f"max {healthz.get('max', math.nan) * 1000:.1f} ms over {cfg.probe:g} s"
        )
        return {
            "connections": cfg.connections,
            "rss_before_bytes": rss_before,
            "rss_after_bytes": rss_after,
            "kib_per_connection": per_conn / 1024,
            "still_open": alive,
            "healthz_latency_s": healthz,
        }
    finally:
        for c in clients:
            c.abort()
        await asyncio.sleep(0.2)
