"""Helpers shared by the server-level safety tests (no tests here).

- ``database(handle)``: the server's own SQLite store, opened from the test (with the server's
  secret, so IP hashes computed here are the ones the server computes);
- ``stored_bytes(handle)``: every byte of the server's data directory (database, WAL, shared
  memory), to show what was never written;
- ``from_ip(target, ip)``: a client whose connection comes from another loopback address
  (127.0.0.0/8 is all loopback on Linux), so a test can tell device bans from address bans;
- ``isolated_pair``: two people kept among themselves on a shared server by a unique interest
  with no fallback (``person`` and ``unique_interest`` are harness.protocol's, re-exported).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from harness.client import Client, pair
from harness.protocol import isolated
from harness.protocol import person as person  # re-exported: the safety tests' person
from harness.protocol import unique_interest as unique_interest  # re-exported
from harness.server import ServerHandle
from parley.keys import load_secret
from parley.store import DeviceHash, Store, device_hash

#: A report reference: "R-" and six characters of Crockford base32 without 0 and 1.
REPORT_REF = re.compile(r"^R-[23456789ABCDEFGHJKMNPQRSTVWXYZ]{6}$")


def dev(client: Client) -> DeviceHash:
    """The stored form of a client's device token (from its ``welcome``)."""
    assert client.device, "the client has not been welcomed"
    return device_hash(client.device)


def db_url(data_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{(data_dir / 'parley.db').as_posix()}"


@asynccontextmanager
async def database(handle: ServerHandle | Path) -> AsyncIterator[Store]:
    """The store of a server (running or not), opened with the server's secret."""
    data_dir = handle if isinstance(handle, Path) else handle.data_dir
    store = await Store.open(db_url(data_dir), pepper=load_secret("", data_dir))
    try:
        yield store
    finally:
        await store.close()


def stored_bytes(handle: ServerHandle | Path) -> bytes:
    """Everything in the data directory: the database file, its WAL and shared memory."""
    data_dir = handle if isinstance(handle, Path) else handle.data_dir
    files = sorted(p for p in data_dir.rglob("*") if p.is_file())
    assert any(p.name == "parley.db" for p in files), f"no database in {data_dir}"
    return b"".join(p.read_bytes() for p in files)


async def from_ip(target: Any, ip: str, **connect_kw: Any) -> Client:
    """A client connecting from loopback address ``ip`` (e.g. 127.0.0.42); no hello sent."""
    return await Client.open(target, local_addr=(ip, 0), **connect_kw)


async def isolated_pair(
    target: Any, interest: str | None = None, **hello: Any
) -> tuple[Client, Client, str]:
    """Two matched people who share an interest no one else has (and accept no one else)."""
    return await pair(target, **isolated(interest, **hello))


async def chat(a: Client, b: Client, lines: list[str]) -> None:
    """``a`` and ``b`` take turns saying ``lines`` (a first); each line is seen arriving."""
    for n, text in enumerate(lines):
        sender, receiver = (a, b) if n % 2 == 0 else (b, a)
        await sender.say(text)
        assert (await receiver.expect("message", strict=True))["text"] == text


def log_events(handle: ServerHandle, event: str) -> list[dict[str, Any]]:
    """The server's JSON log records whose ``event`` is ``event``."""
    out = []
    for line in handle.logs().splitlines():
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if record.get("event") == event:
            out.append(record)
    return out


async def expect_banned(c: Client, category: str, within: float = 5.0) -> dict[str, Any]:
    """The next frame is ``banned`` (with a statement of reasons), then the socket closes 4007."""
    frame = await c.expect("banned", within, strict=True)
    assert frame["category"] == category
    assert isinstance(frame["reason"], str) and len(frame["reason"]) > 20
    assert isinstance(frame["ban"], int)
    assert await c.wait_closed() == 4007
    return frame


async def hello_refused(target: Any, category: str, *, ip: str, **hello: Any) -> dict[str, Any]:
    """A fresh connection from ``ip`` whose hello is answered ``banned`` and closed 4007."""
    c = await from_ip(target, ip)
    await c.send("hello", age=25, **hello)
    return await expect_banned(c, category)
