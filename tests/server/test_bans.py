"""Blocks and bans over a real server (docs/protocol.md `block`, `banned`, close 4007).

- A block ends the chat, and the two devices are never matched again: after reconnecting with
  their device tokens, after kill -9 and a restart, and for every tab either device has open.
- Mass reports: N reports from distinct addresses within the window ban the reported device at
  once (mid-chat, 4007) and on every later hello, and flag it for priority review.
- Escalation: repeated abuse closes (4000/4001) from one device become a temporary ban.
- A ban by IP hash refuses any device from that address, with the statement of reasons; the
  database never holds a raw address.

"Never matched" is shown positively: the two wait in a pool that only they and two controls
share; each control who arrives is matched with one of them (the longest waiting), so the two
were free and compatible with everyone but each other.

Clients connect from distinct loopback addresses (127.0.0.x) where bans are involved, so that a
ban on one test's address touches no one else.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from harness.client import Client
from harness.safety import (
    REPORT_REF,
    chat,
    database,
    dev,
    expect_banned,
    from_ip,
    hello_refused,
    isolated_pair,
    log_events,
    person,
    stored_bytes,
    unique_interest,
)
from harness.server import ServerHandle, start_server
from parley.store import BanCategory, FlagKind, ItemKind, device_hash

ABUSE_BAN_AFTER = 3
MASS_REPORT_BAN = 3600.0


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    """A server of this module's own: quick abuse closes, the documented mass-report rule."""
    handle = start_server(
        tmp_path_factory.mktemp("bans-server"),
        {
            "PARLEY_HEARTBEAT_INTERVAL": 1,
            "PARLEY_HEARTBEAT_TIMEOUT": 3,
            "PARLEY_MASS_REPORT_THRESHOLD": 3,
            "PARLEY_MASS_REPORT_WINDOW": 600,
            "PARLEY_MASS_REPORT_BAN_SECONDS": MASS_REPORT_BAN,
            # Every report weighs fully here (fresh devices, short chats): the trust ramps are
            # tested in test_trust_abuse.py; the distinct addresses still count.
            "PARLEY_REPORT_TRUST_DEVICE_AGE": 0,
            "PARLEY_REPORT_TRUST_TALK_SECONDS": 0,
            "PARLEY_MAX_PROTOCOL_STRIKES": 3,
            "PARLEY_MAX_RATE_STRIKES": 2,
            "PARLEY_ABUSE_BAN_AFTER": ABUSE_BAN_AFTER,
            "PARLEY_ABUSE_WINDOW": 600,
        },
    )
    yield handle
    handle.stop()


async def assert_never_matched(
    target: Any, a: Client, b: Client, interest: str, *, ip: str | None = None
) -> None:
    """``a`` and ``b`` (said hello with ``interest``, no fallback, idle) are not matched with
    each other, though each is matched with the next compatible person who comes."""
    assert (await a.start())["type"] == "waiting"
    second = await b.start()
    assert second["type"] == "waiting", f"{b} was matched with {a} despite the block: {second}"
    c = await person(target, ip=ip, interests=[interest], fallback=False)
    got_c = await c.start()
    assert got_c["type"] == "matched"
    assert (await a.expect("matched", strict=True))["pair"] == got_c["pair"]
    d = await person(target, ip=ip, interests=[interest], fallback=False)
    got_d = await d.start()
    assert got_d["type"] == "matched"
    assert (await b.expect("matched", strict=True))["pair"] == got_d["pair"]


# ---- blocks --------------------------------------------------------------------------------------


async def test_a_block_is_acknowledged_ends_the_chat_and_holds_across_reconnects_and_restarts(
    server_factory: Any,
) -> None:
    srv1 = server_factory()
    interest = unique_interest("block")
    a, b, p = await isolated_pair(srv1, interest)
    await chat(a, b, ["hi", "creep"])

    await b.send("block", pair=p, id=5)

    assert (await b.expect("blocked", strict=True))["pair"] == p
    left = await a.expect("partner_left", strict=True)
    assert (left["pair"], left["reason"]) == (p, "left")
    await assert_never_matched(srv1, a, b, interest)

    # Both come back with their device tokens: still never matched.
    assert a.device is not None and b.device is not None
    tokens = (a.device, b.device)
    await a.close()
    await b.close()
    a2 = await person(srv1, device=tokens[0], interests=[interest], fallback=False)
    b2 = await person(srv1, device=tokens[1], interests=[interest], fallback=False)
    assert (a2.device, b2.device) == tokens
    await assert_never_matched(srv1, a2, b2, interest)

    # The block was committed before `blocked`: kill -9 and a restart on the same data.
    srv1.kill()
    srv2 = server_factory(PARLEY_DATA_DIR=str(srv1.data_dir))
    a3 = await person(srv2, device=tokens[0], interests=[interest], fallback=False)
    b3 = await person(srv2, device=tokens[1], interests=[interest], fallback=False)
    assert (a3.device, b3.device) == tokens
    await assert_never_matched(srv2, a3, b3, interest)
    async with database(srv2) as store:
        assert await store.is_blocked(device_hash(tokens[0]), device_hash(tokens[1]))


@pytest.mark.parametrize("how", ["stop", "disconnect"])
async def test_a_block_right_after_the_partner_left_still_works(
    srv: ServerHandle, how: str
) -> None:
    interest = unique_interest("grace")
    a, b, p = await isolated_pair(srv, interest)
    await chat(a, b, ["hi", "ugh"])
    if how == "stop":
        await b.stop()
    else:
        await b.close()
    await a.expect("partner_left", strict=True)

    await a.send("block", pair=p)

    assert (await a.expect("blocked", strict=True))["pair"] == p
    if how == "disconnect":  # b comes back with its device token
        b = await person(srv, device=b.device, interests=[interest], fallback=False)
    await assert_never_matched(srv, a, b, interest)


async def test_a_block_naming_no_pair_of_yours_is_refused(srv: ServerHandle) -> None:
    a, b, p = await isolated_pair(srv)
    idle = await person(srv)
    await idle.send("block", pair=p, id=1)
    error = await idle.expect("error", strict=True)
    assert (error["code"], error["ref"]) in {("not_chatting", 1), ("stale_pair", 1)}
    await a.send("block", pair="p_made.up", id=2)
    assert (await a.expect("error", strict=True))["code"] == "stale_pair"
    await a.say("still chatting")  # the real pair is untouched
    assert (await b.expect("message", strict=True))["text"] == "still chatting"


async def test_a_block_holds_for_every_tab_of_the_two_devices(srv: ServerHandle) -> None:
    """Two tabs of one browser share its device token. A block made in one tab must keep the
    two devices apart in tabs that were already open (their block lists were loaded at hello)."""
    interest = unique_interest("tabs")
    a1 = await person(srv, interests=[interest], fallback=False)
    a2 = await person(srv, device=a1.device, interests=[interest], fallback=False)
    b1 = await person(srv, interests=[interest], fallback=False)
    b2 = await person(srv, device=b1.device, interests=[interest], fallback=False)
    assert (await a1.start())["type"] == "waiting"
    p = (await b1.start())["pair"]
    assert (await a1.expect("matched", strict=True))["pair"] == p

    await a1.send("block", pair=p)
    await a1.expect("blocked", strict=True)
    await b1.expect("partner_left", strict=True)

    await assert_never_matched(srv, a2, b2, interest)


# ---- mass reports -------------------------------------------------------------------------------


@dataclass
class MassReport:
    """``x`` reported by ``r1`` (twice), ``r2`` and ``r3``, one chat each; ``refs`` in order."""

    x: Client
    reporters: list[tuple[Client, str]]  # (reporter, pair)
    refs: list[str]
    hello: dict[str, Any]
    before: float  # just before the third distinct report


async def mass_report(srv: ServerHandle, x_ip: str, ips: list[str]) -> MassReport:
    """Three distinct devices (from ``ips``) report ``x`` (from ``x_ip``). Checks on the way
    that two distinct reporters (three reports, one device twice) do not ban ``x``."""
    hello: dict[str, Any] = {"interests": [unique_interest("mass")], "fallback": False}
    x = await person(srv, ip=x_ip, **hello)
    assert (await x.start())["type"] == "waiting"
    done = MassReport(x, [], [], hello, 0.0)

    async def meet(ip: str) -> tuple[Client, str]:
        if done.reporters:
            assert (await x.next())["type"] == "waiting"
            await done.reporters[-1][0].expect("partner_left", strict=True)
        r = await person(srv, ip=ip, **hello)
        matched = await r.start()
        assert matched["type"] == "matched"
        assert (await x.expect("matched", strict=True))["pair"] == matched["pair"]
        await chat(x, r, ["hey", "stop it"])
        done.reporters.append((r, matched["pair"]))
        return r, matched["pair"]

    async def report(r: Client, p: str) -> None:
        await r.send("report", pair=p, category="harassment", id=r.next_id())
        ref = (await r.expect("reported", strict=True))["ref"]
        assert REPORT_REF.match(ref)
        done.refs.append(ref)

    r1, p1 = await meet(ips[0])
    await report(r1, p1)
    await report(r1, p1)  # the same device twice counts once
    r2, p2 = await meet(ips[1])
    await report(r2, p2)
    # Two distinct reporters (three reports): x still chats.
    await r2.say("are you still there?")
    assert (await x.expect("message", strict=True))["text"] == "are you still there?"
    r3, p3 = await meet(ips[2])
    done.before = time.time()
    await report(r3, p3)
    return done


async def test_reports_from_three_distinct_devices_ban_the_reported_device(
    srv: ServerHandle,
) -> None:
    m = await mass_report(srv, "127.0.0.31", ["127.0.0.32", "127.0.0.33", "127.0.0.34"])
    x, refs, hello, before = m.x, m.refs, m.hello, m.before
    (r1, _), (r2, _), (r3, p3) = m.reporters
    last = refs[-1]

    banned = await expect_banned(x, "mass_report")
    assert before + MASS_REPORT_BAN - 5 <= banned["ends_at"] <= time.time() + MASS_REPORT_BAN + 5
    left = await r3.expect("partner_left", strict=True)
    assert left["pair"] == p3
    # The reporters are not touched: each can chat on.
    for r in (r1, r2, r3):
        assert not r.closed
        assert (await r.start())["type"] in ("waiting", "matched")

    # x comes back with its device token, from another address: refused on hello.
    again = await hello_refused(srv, "mass_report", ip="127.0.0.35", device=x.device, **hello)
    assert again["ban"] == banned["ban"]

    async with database(srv) as store:
        ban = await store.active_ban(dev(x))
        assert ban is not None and ban.id == banned["ban"]
        assert (ban.category, ban.source_report, ban.created_by) == (
            BanCategory.MASS_REPORT, last, "system:mass-report",
        )  # fmt: skip
        assert ban.ends_at is not None
        assert abs(ban.ends_at.timestamp() - banned["ends_at"]) < 1
        queue = await store.queue(limit=1000)
        flags = [
            item for item in queue.items if item.kind is ItemKind.FLAG and item.device == dev(x)
        ]
        assert [f.label for f in flags] == [FlagKind.MASS_REPORT]
        harassment = max(i.priority for i in queue.items if i.ref in refs)
        assert flags[0].priority > harassment, "the flag is not ahead of ordinary reports"
        flag = await store.get_item(flags[0].ref)
        assert flag is not None and flag.details is not None
        assert flag.details["reports"] == 3  # distinct reporters
        assert flag.details["ban"] == ban.id


async def test_a_reporter_on_the_reported_persons_network_is_not_banned_with_them(
    srv: ServerHandle,
) -> None:
    """Siblings at home, a school's Wi-Fi, a carrier's NAT: the third reporter shares the
    reported person's address. The automatic ban must not close the reporter's chat with
    "several people reported you", nor refuse them."""
    m = await mass_report(srv, "127.0.0.41", ["127.0.0.42", "127.0.0.43", "127.0.0.41"])
    await expect_banned(m.x, "mass_report")
    r3, _ = m.reporters[2]

    frame = await r3.expect(("partner_left", "banned"), strict=True)

    assert frame["type"] == "partner_left", f"the reporter was banned: {frame}"
    assert (await r3.start())["type"] in ("waiting", "matched")


async def test_a_reporter_on_the_reported_persons_network_can_come_back(
    srv: ServerHandle,
) -> None:
    """The automatic ban also covers the reported person's address for a while (so a fresh
    device token from there is refused). The person who *reported* from that address, with
    their own device token, must not be refused with "several people reported you"."""
    m = await mass_report(srv, "127.0.0.51", ["127.0.0.52", "127.0.0.53", "127.0.0.51"])
    await expect_banned(m.x, "mass_report")
    reporter, _ = m.reporters[2]
    await reporter.close()

    back = await from_ip(srv, "127.0.0.51")
    await back.send("hello", age=25, device=reporter.device)
    frame = await back.expect(("welcome", "banned"), strict=True)

    assert frame["type"] == "welcome", f"the reporter was refused: {frame}"
    await hello_refused(srv, "mass_report", ip="127.0.0.51")  # a fresh device from there is


# ---- escalation of abuse -------------------------------------------------------------------------


async def abuse_close(target: Any, ip: str, kind: str, device: str | None) -> str:
    """Connect (with ``device``), say hello, and get closed for abuse. Returns the token."""
    c = await from_ip(target, ip)
    await c.hello(device=device)
    assert device is None or c.device == device
    if kind == "protocol":  # max_protocol_strikes=3
        for _ in range(3):
            await c.send_raw("nonsense")
        expected = 4000
    else:  # start/next: a burst of 6 (one answer, then no-ops), then 2 refused (max 2)
        for _ in range(8):
            await c.send("start")
        expected = 4001
    assert await c.wait_closed() == expected
    assert c.device is not None
    return c.device


async def test_repeated_abuse_closes_become_a_temporary_ban(srv: ServerHandle) -> None:
    ip = "127.0.0.21"
    token = await abuse_close(srv, ip, "protocol", None)
    token = await abuse_close(srv, ip, "rate", token)
    # Two closes: a warning and closes so far, no ban. The device is still served.
    still = await from_ip(srv, ip)
    assert (await still.hello(device=token))["device"] == token
    await still.close()

    before = time.time()
    await abuse_close(srv, ip, "protocol", token)  # the third within the window

    banned = await hello_refused(srv, "flood", ip="127.0.0.22", device=token)
    assert before + 600 - 5 <= banned["ends_at"] <= time.time() + 600 + 5
    async with database(srv) as store:
        ban = await store.active_ban(device_hash(token))
        assert ban is not None and (ban.id, ban.category) == (banned["ban"], BanCategory.FLOOD)


async def test_an_abuse_ban_reaches_the_devices_other_live_sessions(srv: ServerHandle) -> None:
    """A ban is enforced mid-chat too: the flooding device's tab that is chatting is told."""
    hello = {"interests": [unique_interest()], "fallback": False}
    chatting = await person(srv, ip="127.0.0.23", **hello)
    partner = await person(srv, ip="127.0.0.24", **hello)
    await chatting.start()
    await partner.start()
    await chatting.expect("matched")
    token = chatting.device
    for kind in ("protocol", "rate", "protocol"):
        await abuse_close(srv, "127.0.0.23", kind, token)

    # The ban was committed before the third close code was sent: it is due at once.
    await expect_banned(chatting, "flood", within=2)
    await partner.expect("partner_left", timeout=2)


# ---- bans by IP hash -------------------------------------------------------------------------


async def test_a_ban_by_ip_hash_refuses_any_device_from_that_address(srv: ServerHandle) -> None:
    banned_ip, other_ip = "127.0.0.77", "127.0.0.78"
    # Some history for the database to hold: a report that carries the reported's IP hash.
    _, b, p = await isolated_pair(srv)
    known = await person(srv, ip=banned_ip)  # a device first seen before the ban
    await known.close()
    ends = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    reason = "Spam links sent to many people from this network. Appeal if this is a mistake."
    async with database(srv) as store:
        ip_hash = await store.current_ip_hash(banned_ip)
        ban = await store.add_ban(
            ip=ip_hash, reason=reason, category="spam", actor="mod:test", ends_at=ends
        )

    for device in (None, known.device):
        frame = await hello_refused(srv, "spam", ip=banned_ip, device=device)
        assert (frame["reason"], frame["ban"]) == (reason, ban.id)
        assert abs(frame["ends_at"] - ends.timestamp()) < 1
    ok = await person(srv, ip=other_ip)  # the next address is served
    assert ok.welcome is not None

    async with database(srv) as store:
        assert await store.lift_ban(ban.id, actor="mod:test", reason="appeal upheld")
    lifted = await person(srv, ip=banned_ip)  # bans are read at each hello: lifted is lifted
    assert lifted.welcome is not None

    await b.send("report", pair=p, category="spam", id=1)
    await b.expect("reported", strict=True)
    data = stored_bytes(srv)
    logs = srv.logs()
    for ip in (banned_ip, other_ip, "127.0.0.1", "127.0.0.21", "127.0.0.31"):
        assert ip.encode() not in data, f"the raw address {ip} is in the database"
    for ip in (banned_ip, other_ip):  # (127.0.0.1 is also the server's own, logged at start)
        assert ip not in logs, f"the client address {ip} is in the server log"
    assert not log_events(srv, "report not stored")
