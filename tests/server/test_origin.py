"""Other sites cannot drive the socket (issue 13, finding 8): a browser on evil.example that opens
``/ws`` sends ``Origin: https://evil.example``, and the handshake is refused with 403 before any
frame. The page's own origin, the operator's ``PARLEY_ALLOWED_ORIGINS``, and clients that send no
``Origin`` (scripts, native apps: they could forge one anyway) are let in."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from websockets.exceptions import InvalidStatus

from conftest import ServerFactory
from harness.client import Client
from harness.server import ServerHandle
from parley.config import Settings
from parley.origin import normalise

pytestmark = [pytest.mark.timeout(60)]


async def _refused(srv: ServerHandle | str, origin: str, **kw: Any) -> int:
    with pytest.raises(InvalidStatus) as e:
        await Client.open(srv, origin=origin, **kw)
    return e.value.response.status_code


async def _welcomed(srv: ServerHandle | str, origin: str | None, **kw: Any) -> None:
    c = await Client.open(srv, origin=origin, **kw)
    assert (await c.hello(age=30))["type"] == "welcome"
    await c.close()


async def test_another_sites_origin_is_refused_before_any_frame(server: ServerHandle) -> None:
    assert await _refused(server, "https://evil.example") == 403
    assert await _refused(server, "null") == 403  # sandboxed iframes and file:// pages
    # Same host, other port or scheme: another origin too.
    assert await _refused(server, f"http://{server.host}:{server.port + 1}") == 403
    assert await _refused(server, f"https://{server.host}:{server.port}") == 403


async def test_the_pages_own_origin_and_scripts_without_one_are_welcome(
    server: ServerHandle,
) -> None:
    await _welcomed(server, server.url)
    await _welcomed(server, None)


async def test_behind_a_proxy_the_host_header_names_the_origin(server: ServerHandle) -> None:
    # nginx passes the public Host through (deploy/nginx): the page at https://chat.example.org
    # opens wss://chat.example.org/ws. The scheme behind a TLS proxy is the forwarded one. (The
    # URL names the public host, so the Host header does; the TCP connection goes to the server.)
    public = "ws://chat.example.org/ws"
    proxied = {"host": server.host, "port": server.port}
    headers = {"X-Forwarded-Proto": "https"}
    await _welcomed(public, "https://chat.example.org", additional_headers=headers, **proxied)
    await _welcomed(public, None, **proxied)
    assert (
        await _refused(public, "http://chat.example.org", additional_headers=headers, **proxied)
        == 403
    )
    assert (
        await _refused(public, "https://evil.example", additional_headers=headers, **proxied) == 403
    )


async def test_allowed_origins_lets_the_operators_other_sites_in(
    server_factory: ServerFactory,
) -> None:
    srv = server_factory(PARLEY_ALLOWED_ORIGINS="https://chat.example.org, https://m.example.org")
    await _welcomed(srv, "https://m.example.org")
    await _welcomed(srv, srv.url)
    assert await _refused(srv, "https://evil.example") == 403


def test_origins_are_compared_in_their_normal_form() -> None:
    assert normalise("HTTPS://Chat.Example.ORG:443") == "https://chat.example.org"
    assert normalise("http://[::1]:8000") == "http://[::1]:8000"
    for junk in ("null", "file://", "chat.example.org", "ws://x", "http://x:99999"):
        assert normalise(junk) is None, junk


def test_a_typo_in_allowed_origins_stops_start_up() -> None:
    with pytest.raises(ValidationError, match="not an http"):
        Settings(allowed_origins="https://ok.example, chat.example.org")
    assert Settings(allowed_origins=" https://ok.example ,").allowed_origins
