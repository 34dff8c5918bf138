"""Attacks on the trust in reports, bans and devices, played over a real server (issue 13).

Every client comes through the test's own trusted proxy: the server trusts ``X-Forwarded-For``
from 127.0.0.1 (``PARLEY_FORWARDED_ALLOW_IPS``), so one test plays many addresses
(documentation ranges, RFC 5737) without touching another test's.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta
from typing import Any

from harness.client import Client
from harness.safety import database, dev, unique_interest
from harness.server import ServerHandle
from parley.store import ItemKind

PROXIED = {"PARLEY_FORWARDED_ALLOW_IPS": "127.0.0.1"}
FULL_TRUST = {"PARLEY_REPORT_TRUST_DEVICE_AGE": 0, "PARLEY_REPORT_TRUST_TALK_SECONDS": 0}
_hosts = itertools.count(1)
_WINDOW = timedelta(seconds=600)


def address() -> str:
    """A fresh address of TEST-NET-3 (203.0.113.0/24), then TEST-NET-2."""
    n = next(_hosts)
    return f"203.0.113.{n}" if n < 255 else f"198.51.100.{n - 254}"


async def via(srv: ServerHandle, ip: str) -> Client:
    """A WebSocket from ``ip``, as the trusted proxy says; no hello sent."""
    return await Client.open(srv, additional_headers={"X-Forwarded-For": ip})


async def at(srv: ServerHandle, ip: str, **hello: Any) -> Client:
    """A person at ``ip`` who said hello (age 25 unless given) and was welcomed."""
    c = await via(srv, ip)
    await c.hello(**hello)
    return c


async def meet(srv: ServerHandle, victim: Client, ip: str, hello: dict[str, Any]) -> Client:
    """A new person at ``ip`` matched with ``victim`` (waiting, alone in its pool)."""
    c = await at(srv, ip, **hello)
    got = await c.start()
    assert got["type"] == "matched", got
    assert (await victim.expect("matched", strict=True))["pair"] == got["pair"]
    return c


async def report_and_leave(reporter: Client, victim: Client, category: str) -> str:
    """File a report on the current pair, close the socket; the victim waits again."""
    await reporter.send("report", pair=reporter.pair, category=category, id=reporter.next_id())
    ref = (await reporter.expect("reported", strict=True))["ref"]
    await reporter.close()
    await victim.expect("partner_left", strict=True)
    assert (await victim.next())["type"] == "waiting"
    return str(ref)


async def assert_not_banned(srv: ServerHandle, victim: Client) -> None:
    await victim.assert_silent(0.5)
    assert not victim.closed
    async with database(srv) as store:
        assert await store.active_ban(dev(victim)) is None


# ---- finding 3: one attacker cannot get a stranger banned ----------------------------------------


async def test_three_fresh_devices_on_one_address_cannot_ban_a_stranger(
    server_factory: Any,
) -> None:
    """The attack of finding 3, with every report at full trust (no ramps, and the victim says
    hello each time): still one address, one voice."""
    srv = server_factory(**PROXIED, **FULL_TRUST)
    hello: dict[str, Any] = {"interests": [unique_interest("victim")], "fallback": False}
    victim = await at(srv, address(), **hello)
    assert (await victim.start())["type"] == "waiting"
    attacker = address()

    for _ in range(3):
        sock = await meet(srv, victim, attacker, hello)
        await victim.say("hello")
        assert (await sock.expect("message", strict=True))["text"] == "hello"
        await report_and_leave(sock, victim, "harassment")

    await assert_not_banned(srv, victim)
    async with database(srv) as store:
        score, addresses = await store.mass_report_score(dev(victim), window=_WINDOW)
        assert (score, addresses) == (1.0, 1)


async def test_fresh_devices_that_never_talked_weigh_little_even_from_many_addresses(
    server_factory: Any,
) -> None:
    """Three addresses, but devices minted seconds ago that matched and reported at once."""
    srv = server_factory(**PROXIED)  # the default trust ramps
    hello: dict[str, Any] = {"interests": [unique_interest("victim")], "fallback": False}
    victim = await at(srv, address(), **hello)
    assert (await victim.start())["type"] == "waiting"

    for _ in range(3):
        sock = await meet(srv, victim, address(), hello)
        await report_and_leave(sock, victim, "harassment")

    await assert_not_banned(srv, victim)
    async with database(srv) as store:
        score, addresses = await store.mass_report_score(dev(victim), window=_WINDOW)
        assert addresses == 3 and score < 0.1


async def test_honest_reports_from_distinct_addresses_that_talked_still_ban(
    server_factory: Any,
) -> None:
    """Reporters whose devices have some history, on three addresses, each after a real (if
    short, in this test's settings) conversation: the automatic ban still comes."""
    srv = server_factory(
        **PROXIED, PARLEY_REPORT_TRUST_DEVICE_AGE=1, PARLEY_REPORT_TRUST_TALK_SECONDS=1
    )
    hello: dict[str, Any] = {"interests": [unique_interest("creep")], "fallback": False}
    x = await at(srv, address(), **hello)
    assert (await x.start())["type"] == "waiting"
    refs = []
    for n in range(3):
        r = await meet(srv, x, address(), hello)
        await r.say("hi")
        assert (await x.expect("message", strict=True))["text"] == "hi"
        await asyncio.sleep(1.1)
        await x.say("send me a picture or else")
        assert (await r.expect("message", strict=True))["text"] == "send me a picture or else"
        await r.send("report", pair=r.pair, category="harassment", id=r.next_id())
        refs.append((await r.expect("reported", strict=True))["ref"])
        if n < 2:
            await r.close()
            await x.expect("partner_left", strict=True)
            assert (await x.next())["type"] == "waiting"

    banned = await x.expect("banned", strict=True)
    assert banned["category"] == "mass_report"
    assert await x.wait_closed() == 4007
    async with database(srv) as store:
        ban = await store.active_ban(dev(x))
        assert ban is not None and ban.source_report == refs[-1]
        queue = await store.queue(limit=100)
        (flag,) = [i for i in queue.items if i.kind is ItemKind.FLAG and i.device == dev(x)]
        item = await store.get_item(flag.ref)
        assert item is not None and item.details is not None
        assert item.details["addresses"] == 3 and item.details["score"] >= 3


# ---- finding 4: report volume from one address ---------------------------------------------------


async def pair_at(srv: ServerHandle, ip: str) -> tuple[Client, Client]:
    """Two fresh devices at ``ip``, matched with each other (an interest no one else has)."""
    hello: dict[str, Any] = {"interests": [unique_interest("flood")], "fallback": False}
    a = await at(srv, ip, **hello)
    b = await at(srv, ip, **hello)
    assert (await a.start())["type"] == "waiting"
    assert (await b.start())["type"] == "matched"
    await a.expect("matched", strict=True)
    return a, b


async def file(c: Client, category: str) -> dict[str, Any]:
    """File a report on ``c``'s pair; the answer (``reported`` or an ``error``)."""
    ident = c.next_id()
    await c.send("report", pair=c.pair, category=category, id=ident)
    return await c.expect(("reported", "error"), strict=True)


async def test_one_address_cannot_flood_the_queue_with_fresh_devices(server_factory: Any) -> None:
    """Fresh devices on one address pair with each other and report "a minor in danger": past
    the address's burst they are refused with ``rate_limited``, and past the queue cap the
    address's reports no longer rank above an honest one from elsewhere."""
    srv = server_factory(**PROXIED, PARLEY_REPORT_ADDRESS_BURST=8, PARLEY_REPORT_ADDRESS_RATE=0.001)
    attacker = address()
    fakes = []
    for _ in range(4):
        a, b = await pair_at(srv, attacker)
        for c in (a, b):
            got = await file(c, "minor_in_danger")
            assert got["type"] == "reported", got
            fakes.append(got["ref"])
    a, _ = await pair_at(srv, attacker)
    refused = await file(a, "minor_in_danger")
    assert (refused["type"], refused["code"]) == ("error", "rate_limited")

    honest, _ = await pair_at(srv, address())
    real = await file(honest, "minor_in_danger")
    assert real["type"] == "reported"

    async with database(srv) as store:
        queue = await store.queue(limit=100)
        order = [item.ref for item in queue.items]
        priority = {item.ref: item.priority for item in queue.items}
    assert len(fakes) == 8 and set(fakes) <= set(order)
    assert sorted((priority[r] for r in fakes), reverse=True) == [100] * 5 + [1] * 3
    assert priority[real["ref"]] == 100
    assert order.index(real["ref"]) == 5, "the flood outranks the honest report"


# ---- finding 7: ban evasion with fresh device tokens ---------------------------------------------


async def abuse_closed(srv: ServerHandle, ip: str) -> None:
    """A fresh device at ``ip`` says hello, then sends garbage until closed for abuse."""
    c = await at(srv, ip)
    for _ in range(3):
        await c.send_raw("nonsense")
    assert await c.wait_closed() == 4000


async def test_abuse_closes_count_per_address_and_the_ban_covers_older_devices(
    server_factory: Any,
) -> None:
    srv = server_factory(
        **PROXIED,
        PARLEY_MAX_PROTOCOL_STRIKES=3,
        PARLEY_ABUSE_BAN_AFTER=3,
        PARLEY_ABUSE_ADDRESS_BAN_AFTER=3,
        PARLEY_ABUSE_WINDOW=600,
    )
    flooder = address()
    earlier = await at(srv, flooder)  # a token minted there before any ban
    await earlier.close()

    for _ in range(3):  # each with a fresh device token
        await abuse_closed(srv, flooder)

    for device in (None, earlier.device):
        c = await via(srv, flooder)
        await c.send("hello", age=25, device=device)
        banned = await c.expect("banned", strict=True)
        assert banned["category"] == "flood"
        assert await c.wait_closed() == 4007
    assert (await at(srv, address())).welcome is not None  # another address is not touched


async def test_minting_device_tokens_is_limited_per_address(server_factory: Any) -> None:
    srv = server_factory(**PROXIED, PARLEY_DEVICE_MINT_BURST=3, PARLEY_DEVICE_MINT_RATE=0.001)
    ip = address()
    minted = [await at(srv, ip) for _ in range(3)]

    c = await via(srv, ip)
    await c.send("hello", age=25, id=1)
    refused = await c.expect("error", strict=True)
    assert (refused["code"], refused["ref"]) == ("rate_limited", 1)

    back = await at(srv, ip, device=minted[0].device)  # a returning device is not minting
    assert back.device == minted[0].device
    assert (await at(srv, address())).device is not None  # nor is anyone elsewhere limited


# ---- finding 6: ages are tied to the device and the address --------------------------------------


async def hello_answer(srv: ServerHandle, ip: str, age: int, device: str | None = None) -> Any:
    """The answer to a hello from ``ip``: ``welcome``, or the refusal ``error``."""
    c = await via(srv, ip)
    await c.send("hello", age=age, device=device, id=1)
    return c, await c.expect(("welcome", "error"), strict=True)


async def test_an_under_age_refusal_is_remembered_for_the_address_and_the_device(
    server_factory: Any,
) -> None:
    srv = server_factory(**PROXIED, PARLEY_AGE_REFUSAL_IP_SECONDS=3600)  # the test env's is 0
    home = address()
    c, got = await hello_answer(srv, home, 12)
    assert got["code"] == "age_refused"
    assert await c.wait_closed() == 4003

    _, again = await hello_answer(srv, home, 13)  # same address, no token: still refused
    assert again.get("code") == "age_refused", again
    _, elsewhere = await hello_answer(srv, address(), 13)  # nobody else is touched
    assert elsewhere["type"] == "welcome"

    # A device that was refused is refused on any address, whatever it declares next.
    adult = await at(srv, address())
    await adult.close()
    _, refused = await hello_answer(srv, address(), 12, adult.device)
    assert refused["code"] == "age_refused"
    _, later = await hello_answer(srv, address(), 25, adult.device)
    assert later.get("code") == "age_refused", later


async def test_a_device_that_declared_an_adult_age_cannot_join_the_teen_pool(
    server_factory: Any,
) -> None:
    srv = server_factory(**PROXIED)
    adult = await at(srv, address(), age=25)
    await adult.close()

    c, got = await hello_answer(srv, address(), 15, adult.device)

    assert (got["type"], got["code"]) == ("error", "age_mismatch")
    assert "adult" in got["message"]
    assert await c.wait_closed() == 4003
    # The other way is a birthday: a teen device may later declare an adult age.
    teen = await at(srv, address(), age=16)
    await teen.close()
    _, grown = await hello_answer(srv, address(), 18, teen.device)
    assert grown["type"] == "welcome"
