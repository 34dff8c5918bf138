"""The heartbeat: ping the quiet, reap the dead and the silent, refresh TURN credentials, and
move each video connection's sampling on."""

from __future__ import annotations

import asyncio
import time

from parley.config import Settings
from parley.gateway.connection import Connection, State
from parley.gateway.peer import Peer
from parley.gateway.services import Services
from parley.ice import ice_config
from parley.protocol import CloseCode, Ice, Ping

SWEEP_STEPS = 10  # heartbeat sweep slices per tick


async def heartbeat(connections: set[Connection], svc: Services) -> None:
    s = svc.settings
    tick = max(0.05, min(1.0, s.heartbeat_interval / 2, s.hello_timeout / 4))
    ping = Ping()
    # Each tick's sweep is done in SWEEP_STEPS slices, with the event loop free in between:
    # with tens of thousands of sockets one pass (and its burst of pings) would stall every
    # other connection for as long as it takes.
    due: list[Connection] = []
    step = slices = 0
    while True:
        if slices == 0:  # once a tick, as one pass would
            due, slices = list(connections), SWEEP_STEPS
            step = -(-len(due) // SWEEP_STEPS)
        await asyncio.sleep(tick / SWEEP_STEPS)
        slices -= 1
        now = time.monotonic()
        wall = time.time()
        batch, due = due[:step], due[step:]
        for conn in batch:
            if conn not in connections:
                continue  # closed since this sweep began
            refresh_ice(conn, s, wall)
            if conn.sampling is not None:
                svc.video.tick(conn, conn.sampling, now)
            silent = now - conn.last_seen > s.heartbeat_timeout
            # A hello being answered is not timed out: in a reconnect storm that would throw
            # away the work done for it, and the person would only come back to queue again.
            no_hello = (
                conn.state is State.CONNECTED
                and not conn.greeted
                and now - conn.opened > s.hello_timeout
            )
            if silent or no_hello:
                conn.close_soon(CloseCode.HEARTBEAT_TIMEOUT)
            elif now - max(conn.last_seen, conn.last_ping) >= s.heartbeat_interval:
                conn.last_ping = now
                conn.deliver(ping)


def refresh_ice(peer: Peer, s: Settings, now: float) -> None:
    """Send new TURN credentials when the current ones are four-fifths through their life."""
    if peer.ident is None or peer.ice_expires is None:
        return
    if peer.ice_expires - now > s.turn_ttl / 5:
        return
    ice = ice_config(s, peer.ident.session, now)
    peer.ice_expires = ice.expires_at
    peer.deliver(Ice(ice=ice))
