"""A reconnect storm: a node's people all reconnect at once when it comes back, and every one is
admitted with their device kept (issue 15; docs/scaling.md, "Admission").

``PARLEY_STORM_PEOPLE`` people (default 2,000; ``python -m bench.admission --storm 10000`` runs
the issue's 10,000 with figures) get device tokens and stay connected; the node is killed
(``kill -9``) and started again on the same database, and they all reconnect in the same moment.
Every one must get ``welcome`` with the device token they sent, except the one person banned
while the node was down, who must be refused with the ban. A person told something the page
retries on (a hello timeout 4002, ``server_full`` 4005, ``server_busy``, a refused TCP
connection) tries again after a pause, as the page does; any other error fails the test.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from harness.safety import database
from harness.server import ServerHandle, start_server
from parley.protocol import CloseCode
from parley.store import device_hash

PEOPLE = int(os.environ.get("PARLEY_STORM_PEOPLE", "2000"))
WITHIN = 50.0  # seconds for the whole storm: a bound for a loaded CI machine, not a goal
OPEN = {
    "PARLEY_MAX_CONNECTIONS_PER_IP": 1_000_000,  # every test client is 127.0.0.1
    "PARLEY_MAX_CONNECTIONS": 1_000_000,
    "PARLEY_DEVICE_MINT_RATE": 1_000_000,
    "PARLEY_DEVICE_MINT_BURST": 1_000_000,
}
RETRY_CLOSES = {int(CloseCode.HEARTBEAT_TIMEOUT), int(CloseCode.SERVER_FULL)}
RETRY_ERRORS = {"server_busy"}
HELLO = {"type": "hello", "age": 30, "mode": "text", "language": "en"}


class Refused(Exception):
    """An answer the page would not retry on."""


async def hello(url: str, device: str | None, hold: list[Any] | None = None) -> str | int:
    """One connection and its hello: the welcome's device token, or a close code to retry on."""
    ws: ClientConnection | None = await connect(
        url, open_timeout=30, max_queue=None, ping_interval=None
    )
    assert ws is not None
    try:
        await ws.send(json.dumps({**HELLO, **({"device": device} if device else {})}))
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == "welcome":
                if hold is not None:
                    hold.append(ws)  # stays connected (closed with the node)
                    ws = None
                return str(frame["device"])
            if frame["type"] == "error" and frame["code"] in RETRY_ERRORS:
                return 0
            if frame["type"] in ("error", "banned"):
                if frame["type"] == "banned":
                    continue  # the close that follows says it
                raise Refused(frame)
    except ConnectionClosed as closed:
        code = closed.rcvd.code if closed.rcvd else 1006
        if code in RETRY_CLOSES:
            return code
        raise Refused(f"closed {code}") from closed
    finally:
        if ws is not None:
            await ws.close()


async def admitted(url: str, device: str, deadline: float) -> tuple[str, list[str]]:
    """Hello until admitted (retrying what the page retries); (device or "banned", why each
    retry was)."""
    retries: list[str] = []
    while True:
        try:
            got = await hello(url, device)
            if isinstance(got, str):
                return got, retries
            retries.append(str(got))
        except Refused as refused:
            if f"closed {int(CloseCode.BANNED)}" == str(refused):
                return "banned", retries
            raise
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            # the listen backlog overflowed, or the handshake timed out: the page retries
            retries.append(exc.__class__.__name__)
        assert time.monotonic() < deadline, f"{device} not admitted in time"
        await asyncio.sleep(random.uniform(0.2, 1.0))


async def test_every_person_is_admitted_when_a_restarted_node_is_stormed(
    tmp_path: Path,
) -> None:
    first = start_server(tmp_path / "before", OPEN)
    held: list[Any] = []
    try:
        gate = asyncio.Semaphore(100)

        async def newcomer() -> str:
            async with gate:
                got = await hello(first.ws_url, None, held)
                assert isinstance(got, str)
                return got

        minting = time.monotonic()
        devices = await asyncio.gather(*(newcomer() for _ in range(PEOPLE)))
        print(f"{PEOPLE} devices minted in {time.monotonic() - minting:.1f} s")
        assert len(set(devices)) == PEOPLE
    finally:
        first.kill()  # the node dies under its people
    for ws in held:
        ws.transport.abort()
    banned = devices[PEOPLE // 2]
    async with database(first.data_dir) as store:  # banned while the node was down
        await store.add_ban(
            device=device_hash(banned), reason="Spam.", category="spam", actor="alice"
        )
    again: ServerHandle = start_server(
        tmp_path / "after", {**OPEN, "PARLEY_DATA_DIR": first.data_dir}
    )
    try:
        started = time.monotonic()
        deadline = started + WITHIN
        results = await asyncio.gather(*(admitted(again.ws_url, d, deadline) for d in devices))
        took = time.monotonic() - started
        outcome = [got for got, _ in results]
        assert outcome == ["banned" if d == banned else d for d in devices], (
            "someone was not admitted as themselves"
        )
        retries = Counter(why for _, whys in results for why in whys)
        print(f"storm of {PEOPLE}: all admitted in {took:.1f} s; retries: {dict(retries)}")
        problems = [line for line in again.logs().splitlines() if "Traceback" in line]
        assert not problems, again.logs()[-4000:]
    finally:
        again.stop()
