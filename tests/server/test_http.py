"""The HTTP side of a real server: health, the page, the API schema, status, metrics, headers,
and privacy of the logs (docs/design.md invariant 5: IP addresses are never logged).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from harness.client import Client, pair
from harness.protocol import isolated, own_server, person, sample, scrape, until_quiet
from harness.server import ServerHandle

IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
# Who may use a server with the default settings, as /api/status says: adults only.
WHO_MAY_USE = {"min_age": 13, "adult_age": 18, "minor_pool_open": False}


@pytest_asyncio.fixture
async def http(server: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
        yield client


async def test_healthz_answers_200(http: httpx.AsyncClient) -> None:
    response = await http.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_answers_200_when_the_broker_is_ready(http: httpx.AsyncClient) -> None:
    response = await http.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_the_chat_page_is_served_at_root(http: httpx.AsyncClient) -> None:
    response = await http.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<html" in response.text.lower()


async def test_the_openapi_schema_is_json_and_lists_the_public_api(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/api/openapi.json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert {"/api/status", "/healthz", "/readyz"} <= set(schema["paths"])


@pytest.mark.parametrize("path", ["/", "/api/status", "/healthz", "/api/openapi.json"])
async def test_security_headers_are_on_every_response(http: httpx.AsyncClient, path: str) -> None:
    headers = (await http.get(path)).headers

    csp = headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"


@pytest.fixture(scope="module")
def quiet_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    """A server of this module's own, logging at debug level; the tests that count people on it
    wait with ``until_quiet`` until nobody from an earlier test is still connected."""
    # Exact public counts (step 1): the default rounding is tested in tests/server/test_pages.py.
    with own_server(
        tmp_path_factory, "http", PARLEY_LOG_LEVEL="debug", PARLEY_PUBLIC_ONLINE_STEP=1
    ) as handle:
        yield handle


async def test_welcome_and_status_count_the_people_online(quiet_server: ServerHandle) -> None:
    srv = quiet_server
    await until_quiet(srv)
    async with httpx.AsyncClient(base_url=srv.url, timeout=5) as http:
        a = await Client.open(srv)
        assert (await a.hello())["online"] == 1
        b = await Client.open(srv)
        assert (await b.hello())["online"] == 2
        await a.start()  # waits: no one else is looking

        assert (await http.get("/api/status")).json() == {
            "online": 2,
            "waiting": {"adult:text:en": 1},
            **WHO_MAY_USE,
        }
        await b.close()
        await a.stop()

        deadline = time.monotonic() + 5  # b's close reaches the server's session soon after
        while (status := (await http.get("/api/status")).json())["online"] != 1:
            assert time.monotonic() < deadline, status
            await asyncio.sleep(0.02)
        assert status == {"online": 1, "waiting": {}, **WHO_MAY_USE}


async def test_metrics_count_people_matches_relays_and_errors(quiet_server: ServerHandle) -> None:
    srv = quiet_server
    await until_quiet(srv)
    before = await scrape(srv.url)
    a, b, _p = await pair(srv)
    await a.say("one line")
    await b.expect("message")
    waiter = await person(srv)
    await waiter.start()
    await waiter.send_raw("not json")
    await waiter.expect("error")

    after = await scrape(srv.url)

    def grew(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert sample(after, "parley_ready") == 1
    assert sample(after, "parley_online") == 3
    assert sample(after, "parley_waiting", pool="adult:text:en") == 1
    assert grew("parley_matches_total", pool="adult:text:en") == 1
    assert grew("parley_time_to_match_seconds_count") == 2  # both people of the match
    assert grew("parley_time_to_match_seconds_bucket", le="+Inf") == 2
    assert grew("parley_messages_relayed_total") == 1
    assert grew("parley_errors_total", code="bad_json") == 1


async def test_no_ip_address_is_logged(quiet_server: ServerHandle) -> None:
    srv = quiet_server
    ports = []
    a, b, _p = await pair(srv, **isolated())
    await a.say("hello")
    await b.expect("message")
    c = await person(srv)
    await c.send_raw("not json")
    await c.expect("error")
    young = await Client.open(srv)
    await young.send("hello", age=12)
    await young.wait_closed()
    for client in (a, b, c, young):
        ports.append(client.ws.local_address[1])
    await b.abort()
    await a.expect("partner_left")
    await a.close()
    async with httpx.AsyncClient(base_url=srv.url, timeout=5) as http:
        await http.get("/api/status")
        await http.get("/nope")

    logs = srv.logs()
    assert '"event": "hello"' in logs  # the debug log of the sessions above was captured
    for line in logs.splitlines():
        if '"event": "listening on http://' in line:
            continue  # the server's own listening address, not a person's
        assert not IPV4.search(line), f"an IP address was logged: {line}"
        for port in ports:
            assert f":{port}" not in line, f"a client address was logged: {line}"
