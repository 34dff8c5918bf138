"""Helpers shared by the protocol test modules (no tests here).

- what docs/protocol.md documents (error codes, close codes, message types), parsed from the
  document itself, so a test fails when the server and the contract disagree;
- ``/metrics`` scraping;
- unique interests, which give a test its own corner of the shared server's pools;
- short-hands for people in a given state (said hello, waiting, matched);
- servers of a test module's own (``own_server``), and ``until_quiet`` to start a test on one
  of them only once nobody from an earlier test is still connected.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness.client import Client
from harness.server import ServerHandle, start_server

PROTOCOL_MD = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"

#: Doc version 1 defaults (the session server changes only the heartbeat and the fallback).
DEFAULT_LIMITS = {
    "max_frame_bytes": 16 * 1024,
    "max_message_chars": 1000,
    "max_interests": 10,
    "max_interest_chars": 32,
}
TRANSPORT_CAP = 64 * 1024

# A window in which a frame that was going to come would have come: used only to show that
# nothing happened, and always followed by a positive check that proves the path was live.
QUIET = 0.3


def unique_interest(prefix: str = "t") -> str:
    """An interest no other test uses (at most 32 characters)."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def isolated(interest: str | None = None, **fields: Any) -> dict[str, Any]:
    """Hello fields that keep a test's people among themselves on the shared server.

    Pools are (band, mode, language), shared by every test; a unique interest with
    ``fallback: false`` means only people with the same interest can be matched.
    """
    return {"interests": [interest or unique_interest()], "fallback": False, **fields}


async def person(target: Any, *, ip: str | None = None, **hello: Any) -> Client:
    """A connected client that has said hello (age 25 unless given), and was welcomed.

    ``ip``: connect from that loopback address (e.g. 127.0.0.42; all of 127.0.0.0/8 is loopback
    on Linux), so a test can tell device bans from address bans.
    """
    c = await (Client.open(target, local_addr=(ip, 0)) if ip else Client.open(target))
    await c.hello(**hello)
    return c


async def waiting(target: Any, **hello: Any) -> Client:
    """A client that said hello and is waiting in its pool."""
    c = await person(target, **hello)
    frame = await c.start()
    assert frame["type"] == "waiting", frame
    return c


async def matched_pair(a: Client, b: Client) -> str:
    """Both sides' ``matched`` frames name the same pair; returns it."""
    ma = await a.expect("matched")
    mb = await b.expect("matched")
    assert ma["pair"] == mb["pair"]
    return str(ma["pair"])


# ---- servers of a module's own ------------------------------------------------------------------


@contextlib.contextmanager
def own_server(
    tmp_path_factory: pytest.TempPathFactory, name: str, **env: object
) -> Iterator[ServerHandle]:
    """A server for the tests of one module (a fixture of module scope wraps this)."""
    handle = start_server(tmp_path_factory.mktemp(name), env)
    try:
        yield handle
    finally:
        handle.stop()


async def until_quiet(server: ServerHandle) -> None:
    """Wait until no one is connected (earlier tests' sockets are closed, but the server learns
    of a close a moment after the client does)."""
    # From /metrics: the public /api/status rounds "online" and hides the minor pools.
    deadline = time.monotonic() + 10
    while True:
        samples = await scrape(server.url)
        counts = ("parley_online", "parley_waiting")
        busy = {k: v for k, v in samples.items() if k[0] in counts and v}
        if not busy:
            return
        assert time.monotonic() < deadline, f"the server never became quiet: {busy}"
        await asyncio.sleep(0.02)


# ---- the contract, read from docs/protocol.md -----------------------------------------------


def _section(title: str) -> str:
    text = PROTOCOL_MD.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}.*?$(.*?)(?=^## |\Z)", text, re.M | re.S)
    if match is None:
        raise AssertionError(f"docs/protocol.md has no section {title!r}")
    return match.group(1)


def _first_column(section: str) -> list[str]:
    """The first cell of every table row of a section, without backquotes."""
    cells = []
    for line in section.splitlines():
        m = re.match(r"^\|\s*`?([^|`]+?)`?\s*\|", line)
        if m and not set(m.group(1)) <= set("- ") and m.group(1) not in ("code", "type"):
            cells.append(m.group(1).strip())
    return cells


@cache
def documented_error_codes() -> frozenset[str]:
    return frozenset(_first_column(_section("Error codes")))


@cache
def documented_close_codes() -> frozenset[int]:
    return frozenset(int(c) for c in _first_column(_section("Close codes")))


@cache
def documented_server_types() -> frozenset[str]:
    return frozenset(_first_column(_section("Server → client")))


@cache
def documented_client_types() -> frozenset[str]:
    return frozenset(_first_column(_section("Client → server")))


# ---- /metrics ---------------------------------------------------------------------------------


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(base_url: str, token: str = "") -> Samples:
    """Every sample of ``GET /metrics``, keyed by (name, sorted labels); ``token``: the
    server's PARLEY_METRICS_TOKEN."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=base_url, timeout=5, headers=headers) as http:
        response = await http.get("/metrics")
    response.raise_for_status()
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def sample(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def error_count(base_url: str, code: str) -> float:
    return sample(await scrape(base_url), "parley_errors_total", code=code)


# ---- one metric, read over HTTP ---------------------------------------------------------------


def metric(handle: ServerHandle, name: str) -> float:
    text = httpx.get(f"{handle.url}/metrics", timeout=5).text
    found = re.search(rf"^{name} ([0-9.e+-]+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


async def until(check: Callable[[], bool], within: float = 10.0) -> None:
    """Wait until ``check()`` holds (polled; it reads state the server exposes over HTTP)."""
    async with asyncio.timeout(within):
        while not await asyncio.to_thread(check):  # noqa: ASYNC110 -- server state, over HTTP
            await asyncio.sleep(0.05)


async def wait_metric(handle: ServerHandle, name: str, at_least: float) -> float:
    await until(lambda: metric(handle, name) >= at_least)
    return metric(handle, name)
