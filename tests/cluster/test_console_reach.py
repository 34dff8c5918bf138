"""What a moderator's decision reaches: the reported person's address as well as their device
(issue 13, finding 2), and a warning on whichever node holds the person (finding 17)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conftest import ServerFactory, TwoNodes
from harness.client import Client
from harness.moderation import add_moderator, logged_in
from harness.safety import chat, person, unique_interest
from harness.server import ServerHandle
from parley.store import Store, device_hash

pytestmark = [pytest.mark.timeout(180)]


async def _reported(
    reporter_node: ServerHandle, reported_node: ServerHandle, *, ip: str
) -> tuple[str, Client, Client]:
    """A reporter on one node reports a person (connected from ``ip``) after a short chat."""
    topic = unique_interest("reach")
    reporter = await person(reporter_node, ip="127.0.0.61", interests=[topic], fallback=False)
    x = await person(reported_node, ip=ip, interests=[topic], fallback=False)
    assert (await reporter.start())["type"] == "waiting"
    assert (await x.start())["type"] == "matched"
    pair = (await reporter.expect("matched"))["pair"]
    await chat(reporter, x, ["hi", "something rude"])
    await reporter.send("report", pair=pair, category="harassment")
    ref = str((await reporter.expect("reported"))["ref"])
    return ref, reporter, x


async def test_a_moderator_ban_covers_the_reported_address(server_factory: ServerFactory) -> None:
    srv = server_factory(PARLEY_HEARTBEAT_INTERVAL="20", PARLEY_HEARTBEAT_TIMEOUT="60")
    ref, _, x = await _reported(srv, srv, ip="127.0.0.62")
    mod = await logged_in(srv, "mia", add_moderator(srv, "mia"))
    r = await mod.post(
        f"/api/mod/items/{ref}/action",
        json={"action": "ban_temp", "duration": "24h", "reason": "Harassment."},
    )
    assert r.status_code == 200, r.text
    await x.expect("banned")
    assert await x.wait_closed() == 4007
    # Clearing the device token (a fresh device) on the same network does not get round it...
    fresh = await Client.open(srv, local_addr=("127.0.0.62", 0))
    await fresh.send("hello", age=30)
    assert (await fresh.expect("banned"))["reason"] == "Harassment."
    # ...while someone on another address is not touched by it.
    other = await person(srv, ip="127.0.0.63", age=30)
    assert other.device
    await mod.aclose()


async def test_a_warning_reaches_the_person_on_another_node(two_nodes: TwoNodes) -> None:
    _, n0, n1 = two_nodes()
    ref, _, x = await _reported(n0, n1, ip="127.0.0.64")
    mod = await logged_in(n0, "ana", add_moderator(n0, "ana"))
    r = await mod.post(
        f"/api/mod/items/{ref}/action", json={"action": "warn", "reason": "Please be kind."}
    )
    assert r.status_code == 200, r.text
    notice = await x.expect("notice", timeout=5)
    assert notice["code"] == "moderator_warning" and notice["text"] == "Please be kind."
    await mod.aclose()


async def test_lifting_a_device_ban_lifts_the_address_ban_made_with_it(store: Store) -> None:
    # An appeal that lifts a ban must not leave its person banned through their address.
    device = device_hash("d_appealed")
    ip = await store.current_ip_hash("198.51.100.20")
    other_ip = await store.current_ip_hash("198.51.100.21")
    now = datetime.now(UTC)
    ban = await store.add_ban(
        device=device, reason="Rude.", category="harassment", actor="mia", now=now
    )
    await store.add_ban(ip=ip, reason="Rude.", category="harassment", actor="mia", now=now)
    # The same moderator's same words about someone else, a moment earlier: another decision.
    earlier = now - timedelta(seconds=1)
    unrelated = await store.add_ban(
        ip=other_ip, reason="Rude.", category="harassment", actor="mia", now=earlier
    )
    assert await store.active_ban(device_hash("d_fresh"), [ip]) is not None
    assert await store.lift_ban(ban.id, actor="ana", reason="Appeal accepted.")
    assert await store.active_ban(device_hash("d_fresh"), [ip]) is None
    still = await store.active_ban(device_hash("d_fresh"), [other_ip])
    assert still is not None and still.id == unrelated.id
