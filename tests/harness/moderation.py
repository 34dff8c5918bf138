"""Helpers shared by the moderator console tests (no tests here).

- ``add_moderator(handle, name, role)``: ``parley moderator add`` (this checkout's code) as a
  subprocess against the server's data directory; returns the printed one-time password;
- ``logged_in(handle, name, password)``: an httpx client holding the session cookie, with the
  CSRF token in its default headers;
- ``reported_chat(handle, ...)``: two real protocol clients chat, one reports the other; returns
  the report reference and both clients.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from typing import Any

import httpx

from harness.client import Client
from harness.safety import chat, isolated_pair
from harness.server import ServerHandle, cli_env


def one_time_moderator(handle: ServerHandle, name: str, role: str = "moderator") -> str:
    out = subprocess.run(
        [sys.executable, "-m", "parley", "moderator", "add", name, "--role", role,
         "--data-dir", str(handle.data_dir)],
        capture_output=True, text=True, timeout=60, check=True,
        env=cli_env(),
    )  # fmt: skip
    password = out.stdout.strip().splitlines()[-1]
    assert len(password) >= 16, out
    return password


def add_moderator(handle: ServerHandle, name: str, role: str = "moderator") -> str:
    one_time = one_time_moderator(handle, name, role)
    own = "own-" + secrets.token_urlsafe(12)
    with httpx.Client(base_url=handle.url, timeout=20) as client:
        r = client.post("/api/mod/login", json={"name": name, "password": one_time})
        assert r.status_code == 200 and r.json()["must_change_password"] is True, r.text
        r = client.post(
            "/api/mod/password",
            json={"current": one_time, "new": own},
            headers={"X-CSRF-Token": r.json()["csrf"]},
        )
        assert r.status_code == 200, r.text
        client.post("/api/mod/logout", headers={"X-CSRF-Token": r.json()["csrf"]})
    return own


async def logged_in(handle: ServerHandle, name: str, password: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=handle.url, timeout=20)
    r = await client.post("/api/mod/login", json={"name": name, "password": password})
    assert r.status_code == 200, r.text
    client.headers["X-CSRF-Token"] = r.json()["csrf"]
    return client


async def reported_chat(
    handle: ServerHandle,
    lines: list[str] | None = None,
    *,
    category: str = "harassment",
    comment: str = "",
) -> tuple[str, Client, Client]:
    """``a`` reports ``b`` after a short chat; returns (ref, reporter, reported)."""
    a, b, pair_id = await isolated_pair(handle)
    await chat(a, b, lines or ["hi", "hello stranger"])
    fields: dict[str, Any] = {"comment": comment} if comment else {}
    rid = a.next_id()
    await a.send("report", pair=pair_id, category=category, id=rid, **fields)
    ack = await a.expect("reported", strict=True)
    return str(ack["ref"]), a, b
