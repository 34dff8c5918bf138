"""Issue 13, finding 16 (part): a client that hangs up mid-body is not a 500, and a forwarded
address that is not an IP, from a trusted proxy, is ignored with a warning that does not repeat
it (the test's server trusts 127.0.0.1, the default ``PARLEY_FORWARDED_ALLOW_IPS``).
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from conftest import ServerFactory
from harness.server import ServerHandle

pytestmark = [pytest.mark.timeout(120)]

JUNK = "zz-not-an-address-<b>7731"


async def test_a_non_ip_forwarded_address_is_ignored_not_a_500(
    server_factory: ServerFactory,
) -> None:
    srv = server_factory()
    async with httpx.AsyncClient(base_url=srv.url) as h:
        headers = {"X-Forwarded-For": JUNK}
        r = await h.post("/api/mod/login", json={"name": "x", "password": "y"}, headers=headers)
        assert r.status_code == 401, r.text
        r = await h.post("/api/appeal/status", json={"device": "nonsense"}, headers=headers)
        assert r.status_code == 403, r.text
    await asyncio.sleep(0.3)
    logs = srv.logs()
    assert "not an IP address" in logs
    assert JUNK not in logs and "zz-not-an-address" not in logs
    assert "Traceback" not in logs


async def _hang_up(srv: ServerHandle, path: str, content_type: str) -> None:
    host, port = srv.url.split("//")[1].split(":")
    _reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
        f"X-Parley-Device: nonsense\r\nContent-Length: 5000\r\n\r\n".encode()
        + b"x" * 100
    )
    await writer.drain()
    await asyncio.sleep(0.2)
    writer.close()
    await writer.wait_closed()


async def test_a_client_that_hangs_up_mid_body_is_not_a_server_error(
    server_factory: ServerFactory,
) -> None:
    srv = server_factory()
    for path, kind in (
        ("/api/mod/login", "application/json"),
        ("/mod/login", "application/x-www-form-urlencoded"),
        ("/api/appeal", "application/json"),
    ):
        await _hang_up(srv, path, kind)
    await asyncio.sleep(0.5)
    logs = srv.logs()
    assert "ClientDisconnect" not in logs and "Traceback" not in logs, logs[-3000:]
    assert srv.healthz() == 200
