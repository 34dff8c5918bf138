"""The store's operations, each run on SQLite and on PostgreSQL (``store`` is parametrized).

Migrations and model/migration agreement: test_store_migrations.py.
kill -9 durability: test_store_durability.py.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ipaddress
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine

from harness.stores import (
    JPEG,
    dev,
    lines,
    sqlite_files,
    target,
)
from parley.pool import Pool
from parley.store import (
    MAX_COMMENT_CHARS,
    MAX_STILL_BYTES,
    MAX_TRANSCRIPT_LINES,
    AlreadyDecided,
    AppealExists,
    DeviceHash,
    InvalidInput,
    ItemKind,
    ItemStatus,
    ModeratorExists,
    NotFound,
    NotOnLegalHold,
    Store,
    device_hash,
    ip_prefix,
)
from parley.store.database import Database, normalise_url
from parley.store.legal import canonical
from parley.store.models import Base

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
POOL = Pool.parse("adult:text:en")
VIDEO = Pool.parse("adult:video:en")  # stills only from video chats (issue 13, finding 9)


async def another_node(store: Store) -> Store:
    """A second Store on the same database, as another server node would have."""
    return await Store.open(store.engine.url.render_as_string(False), schema=store.schema)


async def report(
    store: Store,
    reported: DeviceHash,
    *,
    reporter: str = "reporter",
    category: str = "harassment",
    now: datetime = T0,
    **kwargs: Any,
) -> str:
    return await store.add_report(
        reporter=dev(reporter),
        reported=reported,
        category=category,
        pair_id="p-1",
        pool=POOL,
        transcript=lines("hi", "hello"),
        now=now,
        **kwargs,
    )


# ---- connection ----------------------------------------------------------------------------


async def test_ping_and_revision(store: Store) -> None:
    assert await store.ping()
    assert await store.schema_revision() == "0004"


async def test_sqlite_runs_wal_full_sync_with_foreign_keys(tmp_path: Path) -> None:
    s = await Store.open(f"sqlite:///{tmp_path / 'x' / 'p.db'}")  # plain URL, missing folder
    try:
        async with s.engine.connect() as conn:
            pragma = {
                name: (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
        assert pragma == {
            "journal_mode": "wal",
            "synchronous": 2,  # FULL
            "foreign_keys": 1,
            "busy_timeout": 5000,
        }
    finally:
        await s.close()


async def test_open_takes_the_options_of_connect_and_no_others(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    s = await Store.open(url, busy_timeout=2.5)
    try:
        async with s.engine.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar() == 2500
    finally:
        await s.close()
    with pytest.raises(TypeError, match="busy_timout"):  # a misspelt option is not ignored
        await Store.open(url, busy_timout=2.5)  # type: ignore[call-arg]


def test_urls_pick_the_async_drivers() -> None:
    assert normalise_url("sqlite:///a.db").drivername == "sqlite+aiosqlite"
    assert normalise_url("postgres://u@h/db").drivername == "postgresql+asyncpg"
    assert normalise_url("postgresql://u@h/db").drivername == "postgresql+asyncpg"
    with pytest.raises(ValueError, match="in-memory"):
        normalise_url("sqlite://")
    with pytest.raises(ValueError, match="unsupported"):
        normalise_url("mysql://u@h/db")


async def test_ping_is_false_when_the_database_is_unreachable() -> None:
    db = Database(create_async_engine("postgresql+asyncpg://postgres@127.0.0.1:1/none"))
    try:
        assert not await db.ping(within=2.0)
    finally:
        await db.close()


# ---- devices and blocks --------------------------------------------------------------------


async def test_device_records_band_and_last_seen(store: Store) -> None:
    d = dev("alice")
    await store.touch_device(d, age_band="adult", band_expires_at=T0 + timedelta(days=30), now=T0)
    await store.touch_device(d, now=T0 + timedelta(hours=1))  # no band: keeps the attested one
    got = await store.get_device(d)
    assert got is not None
    assert (got.age_band, got.band_expires_at) == ("adult", T0 + timedelta(days=30))
    assert (got.created_at, got.last_seen_at) == (T0, T0 + timedelta(hours=1))
    await store.touch_device(d, age_band="minor", band_expires_at=None, now=T0)
    assert (await store.get_device(d)) is not None
    assert (await store.get_device(dev("nobody"))) is None


async def test_raw_tokens_are_refused_where_hashes_belong(store: Store) -> None:
    with pytest.raises(InvalidInput, match="device_hash"):
        await store.touch_device(DeviceHash("d_abc.def"))
    with pytest.raises(InvalidInput):
        await store.add_block(DeviceHash("d_abc.def"), dev("b"))
    assert device_hash("d_x.y") == hashlib.sha256(b"d_x.y").hexdigest()


async def test_blocks_are_unordered_unique_and_listed(store: Store) -> None:
    a, b, c = dev("a"), dev("b"), dev("c")
    assert await store.add_block(a, b)
    assert not await store.add_block(b, a)  # same pair, other order
    assert await store.add_block(c, a)
    assert await store.is_blocked(a, b) and await store.is_blocked(b, a)
    assert not await store.is_blocked(b, c)
    assert await store.blocked_pairs_for(a) == {b, c}
    assert await store.blocked_pairs_for(b) == {a}
    assert await store.blocked_pairs_for(dev("z")) == set()
    with pytest.raises(InvalidInput):
        await store.add_block(a, a)


# ---- reports and flags ---------------------------------------------------------------------


async def test_report_keeps_its_evidence(store: Store) -> None:
    bad = dev("bad")
    ip = await store.current_ip_hash("198.51.100.7")
    ref = await store.add_report(
        reporter=dev("me"),
        reported=bad,
        category="nudity",
        comment="<script>alert(1)</script> he showed",
        pair_id="pair-42",
        pool=Pool.parse("adult:video:en"),
        transcript=lines("hello", "show me", "no"),
        still=JPEG,
        reported_ip=ip,
        now=T0,
    )
    assert ref.startswith("R-") and len(ref) == 8
    item = await store.get_item(ref)
    assert item is not None
    assert item.kind is ItemKind.REPORT and item.status is ItemStatus.OPEN
    assert (item.category, item.priority) == ("nudity", 50)
    assert item.comment == "<script>alert(1)</script> he showed"
    assert (item.reporter, item.reported, item.reported_ip) == (dev("me"), bad, ip)
    assert (item.pair_id, item.pool, item.created_at) == ("pair-42", "adult:video:en", T0)
    assert item.transcript == lines("hello", "show me", "no")
    assert item.frame == JPEG and item.frame_sha256 == hashlib.sha256(JPEG).hexdigest()
    assert not item.legal_hold
    assert await store.get_item("R-2222222") is None
    assert await store.get_item("nonsense") is None


async def test_report_priority_follows_category(store: Store) -> None:
    prio = {}
    for cat in ("minor_in_danger", "nudity", "harassment", "spam", "self_harm", "other"):
        item = await store.get_item(await report(store, dev("x"), category=cat))
        assert item is not None
        prio[cat] = item.priority
    assert prio["minor_in_danger"] > prio["nudity"] > prio["harassment"]
    assert prio["harassment"] == prio["spam"] == prio["self_harm"] == prio["other"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"category": "rude"}, "category"),
        ({"comment": "x" * (MAX_COMMENT_CHARS + 1)}, "comment"),
        ({"transcript": [{"t": 1.0, "from": "moderator", "text": "x"}]}, "from"),
        ({"transcript": [{"t": float("nan"), "from": "reporter", "text": "x"}]}, "epoch"),
        ({"transcript": lines(*["x"] * (MAX_TRANSCRIPT_LINES + 1))}, "at most"),
        ({"still": b"GIF89a...."}, "JPEG"),
        ({"still": JPEG + b"\0" * MAX_STILL_BYTES}, "bytes"),
        ({"pair_id": "p" * 65}, "pair id"),
    ],
)
async def test_report_input_is_bounded(store: Store, change: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {
        "reporter": dev("r"),
        "reported": dev("d"),
        "category": "spam",
        "pair_id": "p",
        "pool": POOL,
        "transcript": lines("a"),
    }
    with pytest.raises(InvalidInput, match=message):
        await store.add_report(**(args | change))
    assert (await store.queue()).open == 0


async def test_count_recent_reports_counts_distinct_reporters_in_window(store: Store) -> None:
    bad = dev("bad")
    for i, minutes in enumerate([0, 1, 2, 3, 50]):
        await report(store, bad, reporter=f"r{i % 3}", now=T0 - timedelta(minutes=minutes))
    await report(store, dev("other"), now=T0)
    window = timedelta(minutes=10)
    assert await store.count_recent_reports_against(bad, window=window, now=T0) == 3
    assert (
        await store.count_recent_reports_against(
            bad, window=window, distinct_reporters=False, now=T0
        )
        == 4
    )
    assert await store.count_recent_reports_against(bad, window=timedelta(hours=1), now=T0) == 3
    assert await store.count_recent_reports_against(dev("none"), window=window, now=T0) == 0


async def test_flags_carry_kind_priority_and_details(store: Store) -> None:
    minor, adult = dev("minor"), dev("adult")
    ref = await store.add_flag(
        kind="grooming",
        device=adult,
        other_device=minor,
        pair_id="p-9",
        pool=Pool.parse("minor:text:en"),
        transcript=lines("how old are you", "15", "dont tell your parents"),
        details={"score": 7.5, "signals": ["age_probe", "secrecy"]},
        now=T0,
    )
    assert ref.startswith("F-")
    item = await store.get_item(ref)
    assert item is not None and item.kind is ItemKind.FLAG
    assert (item.category, item.priority, item.reported, item.reporter) == (
        "grooming",
        100,
        adult,
        minor,
    )
    assert item.details == {"score": 7.5, "signals": ["age_probe", "secrecy"]}
    vision = await store.add_flag(
        kind="vision", device=adult, pair_id="p", pool=VIDEO, still=JPEG, priority=77
    )
    got = await store.get_item(vision)
    assert got is not None and got.priority == 77 and got.frame == JPEG
    with pytest.raises(InvalidInput):
        await store.add_flag(kind="telepathy", device=adult, pair_id="p", pool=POOL)


async def test_device_history_lists_reports_flags_and_bans(store: Store) -> None:
    bad = dev("bad")
    r1 = await report(store, bad, now=T0)
    r2 = await report(store, bad, category="spam", now=T0 + timedelta(minutes=1))
    f1 = await store.add_flag(kind="flood", device=bad, pair_id="p", pool=POOL, now=T0)
    await report(store, dev("someone-else"))
    ban = await store.add_ban(
        device=bad, reason="spam", category="spam", actor="mod", source_ref=r2, now=T0
    )
    history = await store.device_history(bad)
    assert [r.ref for r in history.reports] == [r2, r1]
    assert [f.ref for f in history.flags] == [f1]
    assert [(b.id, b.source_report) for b in history.bans] == [(ban.id, r2)]
    assert history.reports[0].label == "spam"


# ---- queue and claims ----------------------------------------------------------------------


async def test_queue_sorts_by_priority_then_age_with_counts(store: Store) -> None:
    d = dev("d")
    spam_old = await report(store, d, category="spam", now=T0)
    nude = await report(store, d, category="nudity", now=T0 + timedelta(minutes=1))
    minor_new = await report(store, d, category="minor_in_danger", now=T0 + timedelta(minutes=5))
    minor_old = await report(store, d, category="minor_in_danger", now=T0 + timedelta(minutes=2))
    groom = await store.add_flag(
        kind="grooming", device=d, pair_id="p", pool=POOL, now=T0 + timedelta(minutes=3)
    )
    other_new = await report(store, d, category="other", now=T0 + timedelta(minutes=9))
    closed = await report(store, d, category="minor_in_danger", now=T0 - timedelta(hours=1))
    assert await store.close_item(closed, "mod", resolution="dismissed", reason="dup")
    assert await store.claim(nude, "mod", now=T0 + timedelta(minutes=10))

    q = await store.queue()
    assert [i.ref for i in q.items] == [minor_old, groom, minor_new, nude, spam_old, other_new]
    assert [i.kind for i in q.items][:2] == [ItemKind.REPORT, ItemKind.FLAG]
    assert (q.open_reports, q.open_flags, q.claimed, q.open) == (4, 1, 1, 5)
    assert q.oldest_open_at == T0  # spam_old; the claimed and closed ones do not count
    assert q.oldest_age(T0 + timedelta(minutes=30)) == 1800.0
    claimed = next(i for i in q.items if i.ref == nude)
    assert (claimed.status, claimed.claimed_by) == (ItemStatus.CLAIMED, "mod")

    only_open = await store.queue(statuses=[ItemStatus.OPEN], limit=2)
    assert [i.ref for i in only_open.items] == [minor_old, groom]
    page2 = await store.queue(statuses=[ItemStatus.OPEN], limit=2, offset=2)
    assert [i.ref for i in page2.items] == [minor_new, spam_old]


async def test_empty_queue(store: Store) -> None:
    q = await store.queue()
    assert (q.items, q.open, q.claimed, q.oldest_open_at) == ([], 0, 0, None)
    assert q.oldest_age(T0) == 0.0


async def test_claim_release_close_rules(store: Store) -> None:
    ref = await report(store, dev("d"))
    assert await store.claim(ref, "alice", now=T0)
    assert await store.claim(ref, "alice", now=T0)  # already hers
    assert not await store.claim(ref, "bob", now=T0 + timedelta(minutes=5))
    assert not await store.close_item(ref, "bob", resolution="dismissed", reason="x")
    assert not await store.release(ref, "bob")
    # a stale claim may be taken over
    assert not await store.claim(
        ref, "bob", stale_after=timedelta(minutes=30), now=T0 + timedelta(minutes=10)
    )
    assert await store.claim(
        ref, "bob", stale_after=timedelta(minutes=30), now=T0 + timedelta(hours=1)
    )
    assert await store.release(ref, "bob", now=T0 + timedelta(hours=1, minutes=1))
    item = await store.get_item(ref)
    assert item is not None and (item.status, item.claimed_by) == (ItemStatus.OPEN, None)
    assert await store.claim(ref, "alice", now=T0 + timedelta(hours=2))
    assert await store.close_item(
        ref, "alice", resolution="banned", reason="harassment, 7 days", now=T0 + timedelta(hours=3)
    )
    item = await store.get_item(ref)
    assert item is not None
    assert (item.status, item.resolution, item.closed_by, item.closed_at) == (
        ItemStatus.CLOSED,
        "banned",
        "alice",
        T0 + timedelta(hours=3),
    )
    assert not await store.claim(ref, "alice")  # closed stays closed
    with pytest.raises(NotFound):
        await store.claim("R-2222222", "alice")
    with pytest.raises(NotFound):
        await store.claim("X-1", "alice")
    with pytest.raises(InvalidInput):
        await store.close_item(ref, "alice", resolution="vaporised", reason="x")
    actions = [e.action for e in await store.audit_log(item_type="report", item_id=ref)]
    assert actions == [
        "item.banned",
        "item.claim",
        "item.release",
        "item.claim",
        "item.claim",
        "item.claim",
        "report.add",  # what came in, kept for the transparency report
    ]
    banned = (await store.audit_log(action="item.banned"))[0]
    assert (banned.actor, banned.reason) == ("alice", "harassment, 7 days")


async def test_concurrent_claims_have_exactly_one_winner(store: Store) -> None:
    """Four moderators on two nodes (two Stores, two connection pools) race for each item."""
    node1, node2 = store, await another_node(store)
    try:
        refs = [await report(node1, dev("d"), reporter=f"r{i}") for i in range(12)]
        racers = ((node1, "alice"), (node2, "bob"), (node1, "carol"), (node2, "dave"))
        results = await asyncio.gather(
            *(node.claim(ref, name) for ref in refs for node, name in racers)
        )
        for i, ref in enumerate(refs):
            assert sum(results[i * 4 : i * 4 + 4]) == 1, ref
            item = await node2.get_item(ref)
            assert item is not None and item.status is ItemStatus.CLAIMED
        claims = await node1.audit_log(action="item.claim", limit=1000)
        assert sorted(c.item_id or "" for c in claims) == sorted(refs)
    finally:
        await node2.close()


# ---- bans ----------------------------------------------------------------------------------


async def test_device_ban_lifecycle(store: Store) -> None:
    bad = dev("bad")
    ref = await report(store, bad)
    ban = await store.add_ban(
        device=bad,
        reason="You harassed another user.",
        category="harassment",
        actor="alice",
        ends_at=T0 + timedelta(days=7),
        source_ref=ref,
        now=T0,
    )
    assert (ban.starts_at, ban.ends_at, ban.source_report, ban.permanent) == (
        T0,
        T0 + timedelta(days=7),
        ref,
        False,
    )
    assert await store.get_ban(ban.id) == ban
    found = await store.active_ban(bad, now=T0 + timedelta(days=1))
    assert found == ban and found.active(T0 + timedelta(days=1))
    assert await store.active_ban(bad, now=T0 + timedelta(days=7)) is None  # ended
    assert await store.active_ban(bad, now=T0 - timedelta(seconds=1)) is None  # not started
    assert await store.active_ban(dev("good"), now=T0 + timedelta(days=1)) is None
    assert await store.active_ban(None, now=T0) is None

    perm = await store.add_ban(
        device=bad, reason="again", category="harassment", actor="bob", now=T0
    )
    assert (await store.active_ban(bad, now=T0 + timedelta(days=1))) == perm  # permanent wins
    assert await store.lift_ban(perm.id, actor="admin", reason="mistake", now=T0)
    assert not await store.lift_ban(perm.id, actor="admin", reason="again")
    assert (await store.active_ban(bad, now=T0 + timedelta(days=1))) == ban
    lifted = await store.get_ban(perm.id)
    assert lifted is not None and (lifted.lifted_at, lifted.lifted_by) == (T0, "admin")
    with pytest.raises(NotFound):
        await store.lift_ban(999_999, actor="admin", reason="x")
    assert [e.action for e in await store.audit_log(item_type="ban")] == [
        "ban.lift",
        "ban.add",
        "ban.add",
    ]


async def test_ban_input_rules(store: Store) -> None:
    with pytest.raises(InvalidInput, match="device or an IP"):
        await store.add_ban(reason="x", category="spam", actor="a")
    with pytest.raises(InvalidInput, match="statement"):
        await store.add_ban(device=dev("d"), reason="  ", category="spam", actor="a")
    with pytest.raises(InvalidInput, match="category"):
        await store.add_ban(device=dev("d"), reason="x", category="vibes", actor="a")
    with pytest.raises(InvalidInput, match="end after"):
        await store.add_ban(
            device=dev("d"), reason="x", category="spam", actor="a", ends_at=T0, now=T0
        )
    with pytest.raises(NotFound):
        await store.add_ban(
            device=dev("d"), reason="x", category="spam", actor="a", source_ref="R-2222222"
        )
    with pytest.raises(InvalidInput, match="raw address"):
        await store.active_ban(None, ["203.0.113.9"])  # type: ignore[list-item]
    with pytest.raises(InvalidInput, match="naive"):
        await store.add_ban(
            device=dev("d"), reason="x", category="spam", actor="a", now=datetime(2030, 1, 1)
        )


async def test_ip_ban_covers_the_whole_ipv6_64(store: Store) -> None:
    ip = await store.current_ip_hash("2001:db8:aa:bb:1::1")
    ban = await store.add_ban(ip=ip, reason="spam", category="spam", actor="a", now=T0)
    same64 = await store.ip_hash("2001:db8:aa:bb:ffff:ffff:ffff:ffff")
    other64 = await store.ip_hash("2001:db8:aa:bc::1")
    assert (await store.active_ban(dev("new-device"), same64, now=T0)) == ban
    assert await store.active_ban(dev("new-device"), other64, now=T0) is None
    assert await store.active_ban(None, [h.digest for h in same64], now=T0) == ban  # bare IpHash


# ---- appeals -------------------------------------------------------------------------------


async def test_appeal_round_trip(store: Store) -> None:
    bad = dev("bad")
    ban = await store.add_ban(device=bad, reason="spam", category="spam", actor="alice", now=T0)
    appeal = await store.add_appeal(ban.id, "  It was my brother.  ", now=T0)
    assert (appeal.text, appeal.decision, appeal.seen_by_user) == (
        "It was my brother.",
        None,
        False,
    )
    assert await store.appeal_for_ban(ban.id) == appeal
    with pytest.raises(AppealExists):
        await store.add_appeal(ban.id, "please")
    assert [a.id for a in await store.appeals_queue()] == [appeal.id]
    assert await store.pending_decision_for(bad) is None  # not decided yet

    decided = await store.decide_appeal(
        appeal.id, "lifted", actor="bob", reason="Believable; lifted.", now=T0 + timedelta(hours=1)
    )
    assert (decided.decision, decided.decided_by, decided.decision_reason) == (
        "lifted",
        "bob",
        "Believable; lifted.",
    )
    assert await store.active_ban(bad, now=T0 + timedelta(hours=2)) is None  # lifted with it
    lifted = await store.get_ban(ban.id)
    assert lifted is not None and lifted.lifted_by == "bob"
    with pytest.raises(AlreadyDecided):
        await store.decide_appeal(appeal.id, "upheld", actor="carol", reason="no")
    assert await store.appeals_queue() == []

    pending = await store.pending_decision_for(bad)
    assert pending is not None and pending.decision == "lifted"
    await store.mark_decision_seen(appeal.id)
    assert await store.pending_decision_for(bad) is None
    assert [e.action for e in await store.audit_log(item_type="appeal")] == [
        "appeal.lifted",
        "appeal.add",
    ]


async def test_upheld_appeal_keeps_the_ban_and_is_shown_by_ip(store: Store) -> None:
    ip = await store.current_ip_hash("192.0.2.55")
    ban = await store.add_ban(ip=ip, reason="flood", category="flood", actor="system", now=T0)
    appeal = await store.add_appeal(ban.id, "sorry", now=T0)
    await store.decide_appeal(appeal.id, "upheld", actor="bob", reason="No.", now=T0)
    assert await store.active_ban(None, await store.ip_hash("192.0.2.55"), now=T0) is not None
    shown = await store.pending_decision_for(None, await store.ip_hash("192.0.2.55"))
    assert shown is not None and shown.decision == "upheld"
    assert await store.pending_decision_for(None) is None


async def _ban_with_address(store: Store, name: str, ip: str, *, at: datetime) -> tuple[int, int]:
    """A device ban and the address ban made with it (same moment, actor and reasons), as the
    console and the automatic sanctions make them."""
    ban = await store.add_ban(
        device=dev(name), reason="Rude.", category="spam", actor="mia", now=at
    )
    address = await store.current_ip_hash(ip)
    companion = await store.add_ban(
        ip=address, reason="Rude.", category="spam", actor="mia", now=at
    )
    return ban.id, companion.id


async def test_every_lifted_ban_is_audited_with_its_address_companion(store: Store) -> None:
    # Lifting a device ban also lifts its address ban: both ends are on record, by whom and why.
    ban, companion = await _ban_with_address(store, "lifted-here", "198.51.100.40", at=T0)
    assert await store.lift_ban(ban, actor="ana", reason="Mistake.", now=T0)
    entries = await store.audit_log(action="ban.lift")
    assert sorted((e.item_id, e.actor, e.reason, e.details) for e in entries) == sorted(
        [
            (str(ban), "ana", "Mistake.", None),
            (str(companion), "ana", "Mistake.", {"with": ban}),
        ]
    )
    assert not await store.lift_ban(ban, actor="ana", reason="Again.")  # nothing more to lift
    assert len(await store.audit_log(action="ban.lift")) == 2

    # An appeal that lifts a ban records each ban it lifted, and which appeal did it.
    ban, companion = await _ban_with_address(store, "appealed", "198.51.100.41", at=T0)
    appeal = await store.add_appeal(ban, "It was not me.", now=T0)
    await store.decide_appeal(appeal.id, "lifted", actor="bob", reason="Believable.", now=T0)
    entries = await store.audit_log(action="ban.lift", actor="bob")
    assert sorted((e.item_id, e.reason, e.details) for e in entries) == sorted(
        [
            (str(ban), "Believable.", {"appeal": appeal.id}),
            (str(companion), "Believable.", {"appeal": appeal.id, "with": ban}),
        ]
    )
    for lifted in (await store.get_ban(ban), await store.get_ban(companion)):
        assert lifted is not None and lifted.lifted_by == "bob"


async def test_one_appeal_per_ban_even_when_racing(store: Store) -> None:
    ban = await store.add_ban(device=dev("x"), reason="spam", category="spam", actor="a")
    outcomes = await asyncio.gather(
        *(store.add_appeal(ban.id, f"attempt {i}") for i in range(6)), return_exceptions=True
    )
    assert sum(not isinstance(o, BaseException) for o in outcomes) == 1
    assert all(isinstance(o, AppealExists) for o in outcomes if isinstance(o, BaseException))
    with pytest.raises(NotFound):
        await store.add_appeal(987_654, "no such ban")
    with pytest.raises(InvalidInput):
        await store.add_appeal(ban.id, "   ")


async def test_two_moderators_cannot_both_decide(store: Store) -> None:
    ban = await store.add_ban(device=dev("x"), reason="spam", category="spam", actor="a")
    appeal = await store.add_appeal(ban.id, "please")
    outcomes = await asyncio.gather(
        store.decide_appeal(appeal.id, "upheld", actor="alice", reason="no"),
        store.decide_appeal(appeal.id, "lifted", actor="bob", reason="yes"),
        return_exceptions=True,
    )
    winners = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(o, AlreadyDecided) for o in outcomes if isinstance(o, BaseException))
    final = await store.appeal_for_ban(ban.id)
    assert final is not None and final.decision == winners[0].decision
    with pytest.raises(NotFound):
        await store.decide_appeal(123_456, "upheld", actor="a", reason="x")


# ---- audit log -----------------------------------------------------------------------------


async def test_audit_log_filters(store: Store) -> None:
    for i in range(5):
        await store.audit(
            actor="alice" if i % 2 else "bob",
            action="item.warned" if i < 3 else "moderator.add",
            item_type="report",
            item_id=f"R-{i}",
            reason=f"because {i}",
            details={"i": i},
            now=T0 + timedelta(minutes=i),
        )
    every = await store.audit_log()
    assert [e.item_id for e in every] == ["R-4", "R-3", "R-2", "R-1", "R-0"]  # newest first
    assert [e.item_id for e in await store.audit_log(actor="alice")] == ["R-3", "R-1"]
    assert len(await store.audit_log(action="item.")) == 3  # prefix
    assert len(await store.audit_log(action="item")) == 0  # exact
    assert [e.item_id for e in await store.audit_log(item_id="R-2")] == ["R-2"]
    window = await store.audit_log(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3))
    assert [e.item_id for e in window] == ["R-2", "R-1"]
    assert [e.item_id for e in await store.audit_log(limit=2, offset=1)] == ["R-3", "R-2"]
    assert every[0].details == {"i": 4} and every[0].at == T0 + timedelta(minutes=4)


async def test_audit_log_is_append_only(store: Store) -> None:
    await store.audit(actor="alice", action="item.claim", item_type="report", item_id="R-1")
    for statement in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"):
            async with store.engine.begin() as conn:
                await conn.execute(text(statement))
    if store.dialect == "postgresql":
        with pytest.raises(Exception, match="append-only"):
            async with store.engine.begin() as conn:
                await conn.execute(text("TRUNCATE audit_log"))
    assert [e.actor for e in await store.audit_log()] == ["alice"]


# ---- moderators ----------------------------------------------------------------------------


async def test_moderator_accounts(store: Store) -> None:
    m = await store.add_moderator(
        "alice", role="admin", password_hash="$argon2id$v=19$...", actor="cli"
    )
    assert (m.name, m.role, m.last_login_at) == ("alice", "admin", None)
    await store.add_moderator("bob", role="moderator", password_hash="h", actor="alice")
    with pytest.raises(ModeratorExists):
        await store.add_moderator("bob", role="moderator", password_hash="h", actor="alice")
    with pytest.raises(InvalidInput):
        await store.add_moderator("carol", role="god", password_hash="h", actor="alice")
    assert [x.name for x in await store.list_moderators()] == ["alice", "bob"]
    assert await store.set_moderator_role("bob", "admin", actor="alice")
    assert (await store.get_moderator("bob")).role == "admin"  # type: ignore[union-attr]
    assert await store.set_moderator_password("bob", "h2", actor="alice")
    assert (await store.get_moderator("bob")).password_hash == "h2"  # type: ignore[union-attr]
    assert not await store.set_moderator_role("nobody", "admin", actor="alice")
    assert await store.delete_moderator("bob", actor="alice")
    assert not await store.delete_moderator("bob", actor="alice")
    assert await store.get_moderator("bob") is None
    assert [e.action for e in await store.audit_log(item_type="moderator")] == [
        "moderator.delete",
        "moderator.password",
        "moderator.role",
        "moderator.add",
        "moderator.add",
    ]


async def test_a_login_is_recorded(store: Store) -> None:
    await store.add_moderator("alice", role="moderator", password_hash="h", actor="cli")
    await store.record_login_success("alice", now=T0)
    m = await store.get_moderator("alice")
    assert m is not None and m.last_login_at == T0


# ---- IP hashing and key rotation -----------------------------------------------------------


def test_ip_prefix_groups_a_64_and_keeps_ipv4_whole() -> None:
    assert ip_prefix("2001:db8:1:2::1") == ip_prefix("2001:db8:1:2:ffff:eeee:dddd:cccc")
    assert ip_prefix("2001:db8:1:2::1") != ip_prefix("2001:db8:1:3::1")
    assert ip_prefix("203.0.113.1") != ip_prefix("203.0.113.2")
    assert ip_prefix("::ffff:203.0.113.1") == ip_prefix("203.0.113.1")
    assert ip_prefix(" 203.0.113.1 ") == ip_prefix("203.0.113.1")
    with pytest.raises(InvalidInput):
        ip_prefix("not-an-ip")


async def test_ip_hashes_equal_within_a_64_and_differ_across(store: Store) -> None:
    a = await store.ip_hash("2001:db8:5:6::1")
    b = await store.ip_hash("2001:db8:5:6:aaaa::9")
    c = await store.ip_hash("2001:db8:5:7::1")
    v4 = await store.ip_hash("203.0.113.10")
    assert a == b and a != c and len(a) == 1
    assert v4 != await store.ip_hash("203.0.113.11")
    assert all(len(h.digest) == 64 for h in a + c + v4)
    assert await store.current_ip_hash("2001:db8:5:6::1") == a[0]


async def test_ip_hash_depends_on_the_server_secret(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    async with target("sqlite", request, tmp_path) as where:
        s1 = await where.open(pepper=b"one")
        await s1.migrate()
        s2 = await where.open(pepper=b"two")
        try:
            h1, h2 = await s1.ip_hash("203.0.113.5"), await s2.ip_hash("203.0.113.5")
            assert h1[0].key_id == h2[0].key_id and h1[0].digest != h2[0].digest
        finally:
            await s1.close()
            await s2.close()


async def test_ip_ban_survives_one_rotation_and_dies_with_its_key(store: Store) -> None:
    ip = "198.51.100.23"
    d = dev("evader")
    ip_only = await store.add_ban(
        ip=await store.current_ip_hash(ip), reason="spam", category="spam", actor="a", now=T0
    )
    both = await store.add_ban(
        device=d, ip=await store.current_ip_hash(ip), reason="x", category="spam", actor="a", now=T0
    )
    old = await store.current_ip_hash(ip)
    new_key = await store.rotate_ip_key(now=T0 + timedelta(days=1))
    hashes = await store.ip_hash(ip)
    assert [h.key_id for h in hashes] == [new_key, old.key_id]  # current first
    assert hashes[0].digest != old.digest and hashes[1] == old
    assert await store.current_ip_hash(ip) == hashes[0]
    # still banned by address after the rotation
    assert (await store.active_ban(dev("fresh"), hashes, now=T0 + timedelta(days=2))) in (
        ip_only,
        both,
    )
    # purge 31 days after the retirement (retention 30): the old key and its hashes go
    report_ = await store.purge(retention_days=30, now=T0 + timedelta(days=32))
    assert report_.ip_keys_deleted == 1 and report_.ip_key_rotated
    assert report_.bans_deleted == 1  # the IP-only ban
    assert await store.get_ban(ip_only.id) is None
    kept = await store.get_ban(both.id)
    assert kept is not None and (kept.device_hash, kept.ip_hash, kept.ip_key_id) == (d, None, None)
    assert (
        await store.active_ban(dev("fresh"), await store.ip_hash(ip), now=T0 + timedelta(days=33))
        is None
    )
    assert (await store.active_ban(d, now=T0 + timedelta(days=33))) == kept


async def test_no_raw_ip_is_stored_anywhere(store: Store) -> None:
    v4, v6 = "203.0.113.77", "2001:db8:1234:5678::abcd"
    for ip in (v4, v6):
        h = await store.current_ip_hash(ip)
        ref = await report(store, dev("d"), reported_ip=h)
        await store.add_flag(kind="flood", device=dev("d"), pair_id="p", pool=POOL, device_ip=h)
        await store.add_ban(
            ip=h, device=dev("d"), reason="r", category="spam", actor="a", source_ref=ref
        )
    await store.rotate_ip_key()
    await store.add_ban(ip=await store.current_ip_hash(v4), reason="r", category="spam", actor="a")
    await store.purge(retention_days=30)
    dump = await _dump(store)
    needles = [v4, v6, "2001:db8:1234:5678", ipaddress.ip_address(v6).exploded]
    packed = [ipaddress.ip_address(v4).packed, ipaddress.ip_address(v6).packed[:8]]
    for needle in needles:
        assert needle not in dump.text, needle
    for blob in packed:
        assert blob not in dump.blobs
    if store.dialect == "sqlite":  # and not in the file's bytes either (free pages, WAL)
        async with store.engine.connect() as conn:
            await conn.exec_driver_sql("PRAGMA wal_checkpoint(FULL)")
        path = Path(str(store.engine.url.database))
        raw = b"".join(p.read_bytes() for p in sqlite_files(path))
        for needle in needles:
            assert needle.encode() not in raw
        assert packed[0] not in raw and packed[1] not in raw


class _Dump:
    def __init__(self) -> None:
        self.text = ""
        self.blobs = b""


async def _dump(store: Store) -> _Dump:
    """Every value of every table, as text and bytes."""
    out = _Dump()
    parts, blobs = [], []
    async with store._read() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        blobs.append(bytes(value))
                    else:
                        parts.append(json.dumps(value, default=str))
    out.text = "\n".join(parts)
    out.blobs = b"\0".join(blobs)
    return out


# ---- retention -----------------------------------------------------------------------------


async def test_purge_applies_the_retention_rules(store: Store) -> None:
    now = T0 + timedelta(days=400)
    old = now - timedelta(days=31)
    d = dev("d")
    old_report = await report(store, d, now=old)
    new_report = await report(store, d, now=now - timedelta(days=29))
    old_flag = await store.add_flag(
        kind="vision", device=d, pair_id="p", pool=VIDEO, still=JPEG, now=old
    )
    # legal hold placed 364 days ago on a 380-day-old report: kept (>= 1 year from the hold)
    held = await report(store, d, category="minor_in_danger", now=now - timedelta(days=380))
    await store.set_legal_hold(held, actor="admin", reason="NCMEC", now=now - timedelta(days=364))
    # held 366 days ago: the hold has run its year, and the report is past retention
    expired_hold = await report(store, d, category="minor_in_danger", now=now - timedelta(days=390))
    await store.set_legal_hold(
        expired_hold, actor="admin", reason="NCMEC", now=now - timedelta(days=366)
    )
    held_flag = await store.add_flag(kind="grooming", device=d, pair_id="p", pool=POOL, now=old)
    await store.set_legal_hold(held_flag, actor="admin", reason="NCMEC", now=old)

    ip = await store.current_ip_hash("192.0.2.1")
    ended = await store.add_ban(
        device=d,
        ip=ip,
        reason="r",
        category="spam",
        actor="a",
        ends_at=now - timedelta(days=1),
        now=now - timedelta(days=8),
    )
    ended_long_ago = await store.add_ban(
        device=d, reason="r", category="spam", actor="a", ends_at=old, now=old - timedelta(days=1)
    )
    lifted = await store.add_ban(
        device=d, ip=ip, reason="r", category="spam", actor="a", now=now - timedelta(days=2)
    )
    await store.lift_ban(lifted.id, actor="a", reason="r", now=now - timedelta(days=1))
    permanent = await store.add_ban(
        device=d, ip=ip, reason="r", category="spam", actor="a", now=old
    )
    running = await store.add_ban(
        ip=ip, reason="r", category="spam", actor="a", ends_at=now + timedelta(days=1), now=old
    )
    await store.touch_device(dev("gone"), now=old)
    await store.touch_device(dev("here"), now=now - timedelta(days=1))
    await store.add_block(dev("gone"), dev("here"), now=old)

    result = await store.purge(retention_days=30, now=now)
    assert (result.reports_deleted, result.flags_deleted, result.legal_holds_kept) == (2, 1, 2)
    assert (result.ban_ip_hashes_cleared, result.bans_deleted, result.devices_deleted) == (2, 1, 1)

    assert await store.get_item(old_report) is None
    assert await store.get_item(old_flag) is None
    assert await store.get_item(expired_hold) is None
    for kept in (new_report, held, held_flag):
        assert await store.get_item(kept) is not None, kept
    for ban_id in (ended.id, lifted.id):
        b = await store.get_ban(ban_id)
        assert b is not None and b.ip_hash is None and b.device_hash == d
    assert await store.get_ban(ended_long_ago.id) is None
    p = await store.get_ban(permanent.id)
    assert p is not None and p.ip_hash == ip.digest  # in force: keeps its IP hash
    assert (await store.get_ban(running.id)) is not None
    assert await store.get_device(dev("gone")) is None
    assert await store.get_device(dev("here")) is not None
    assert await store.is_blocked(dev("gone"), dev("here"))  # blocks are kept
    entry = (await store.audit_log(action="retention.purge"))[0]
    assert entry.details is not None and entry.details["reports_deleted"] == 2

    # held report: gone once its hold has run a year
    later = await store.purge(retention_days=30, now=now + timedelta(days=2))
    assert later.reports_deleted == 2  # the held one, and new_report now past 30 days
    assert await store.get_item(held) is None and await store.get_item(new_report) is None

    with pytest.raises(InvalidInput, match="365"):
        await store.purge(retention_days=30, legal_hold_days=30)
    with pytest.raises(InvalidInput):
        await store.purge(retention_days=0)


async def test_there_is_no_table_for_unreported_chat() -> None:
    """Invariant 5: chat lines are written only as evidence; no table could hold a chat log."""
    assert set(Base.metadata.tables) == {
        "devices",
        "blocks",
        "reports",
        "flags",
        "bans",
        "appeals",
        "audit_log",
        "moderators",
        "ip_keys",
        "age_refusals",
        "hash_lists",  # PDQ hashes of known images (32 bytes and a list's reference each)
        "hash_entries",
    }
    transcript_columns = [
        (t.name, c.name)
        for t in Base.metadata.sorted_tables
        for c in t.columns
        if c.name in ("transcript", "text", "frame")
    ]
    assert sorted(transcript_columns) == [
        ("appeals", "text"),  # the banned person's own appeal
        ("flags", "frame"),
        ("flags", "transcript"),
        ("reports", "frame"),
        ("reports", "transcript"),
    ]


# ---- legal hold ----------------------------------------------------------------------------


async def test_legal_hold_export_bundle(store: Store) -> None:
    bad = dev("bad")
    ip = await store.current_ip_hash("198.51.100.200")
    ref = await store.add_report(
        reporter=dev("kid"),
        reported=bad,
        category="minor_in_danger",
        comment="he asked my age",
        pair_id="p-7",
        pool=Pool.parse("minor:video:en"),
        transcript=lines("how old r u", "14", "send pic"),
        still=JPEG,
        reported_ip=ip,
        now=T0,
    )
    with pytest.raises(NotOnLegalHold):
        await store.export_legal_hold(ref, actor="admin")
    await store.claim(ref, "alice", now=T0)
    ban = await store.add_ban(
        device=bad,
        ip=ip,
        reason="CSE",
        category="minor_in_danger",
        actor="alice",
        source_ref=ref,
        now=T0,
    )
    assert await store.set_legal_hold(ref, actor="alice", reason="report to NCMEC", now=T0)
    assert not await store.set_legal_hold(ref, actor="alice", reason="again")
    with pytest.raises(NotFound):
        await store.set_legal_hold("R-2222222", actor="alice", reason="x")

    bundle = await store.export_legal_hold(ref, actor="admin", now=T0 + timedelta(hours=1))
    json.dumps(bundle)  # plain JSON
    assert bundle["format"] == "parley.legal-hold/1"
    assert bundle["item"]["ref"] == ref and bundle["item"]["category"] == "minor_in_danger"
    assert bundle["item"]["legal_hold_at"] == T0.isoformat()
    ids = bundle["identifiers"]
    assert ids["reported_device_sha256"] == bad and ids["reporter_device_sha256"] == dev("kid")
    assert ids["reported_ip_hmac"] == {"key_id": ip.key_id, "hmac_sha256": ip.digest}
    ev = bundle["evidence"]
    assert [x["text"] for x in ev["transcript"]] == ["how old r u", "14", "send pic"]
    frame = base64.b64decode(ev["frame"]["base64"])
    assert frame == JPEG and ev["frame"]["sha256"] == hashlib.sha256(JPEG).hexdigest()
    # every digest checks out
    for line in ev["transcript"]:
        body = {k: v for k, v in line.items() if k != "sha256"}
        assert line["sha256"] == hashlib.sha256(canonical(body)).hexdigest()
    digests = bundle["digests"]
    assert digests["frame_sha256"] == ev["frame"]["sha256"]
    assert digests["comment_sha256"] == hashlib.sha256(b"he asked my age").hexdigest()
    assert digests["item_sha256"] == hashlib.sha256(canonical(bundle["item"])).hexdigest()
    rest = {k: v for k, v in bundle.items() if k != "bundle_sha256"}
    assert bundle["bundle_sha256"] == hashlib.sha256(canonical(rest)).hexdigest()
    assert [b["id"] for b in bundle["bans"]] == [ban.id]
    actions = [a["action"] for a in bundle["actions"]]
    assert actions == ["report.add", "item.claim", "item.legal_hold"]
    # audited as what it holds: the still's bytes are in it (issue 13, finding 1)
    exports = await store.audit_log(action="item.legal_export_still")
    assert exports[0].details == {
        "bundle_sha256": bundle["bundle_sha256"],
        "frame_sha256": hashlib.sha256(JPEG).hexdigest(),
    }


async def test_flag_can_be_held_and_exported(store: Store) -> None:
    ref = await store.add_flag(
        kind="grooming",
        device=dev("a"),
        other_device=dev("m"),
        pair_id="p",
        pool=POOL,
        transcript=lines("x"),
    )
    await store.set_legal_hold(ref, actor="alice", reason="r")
    bundle = await store.export_legal_hold(ref, actor="alice")
    assert bundle["item"]["kind"] == "flag" and bundle["evidence"]["frame"] is None
    assert bundle["identifiers"]["reported_ip_hmac"] is None


async def test_a_report_is_never_lost_over_a_deleted_ip_key(store: Store) -> None:
    stale = await store.current_ip_hash("192.0.2.99")
    later = datetime.now(UTC) + timedelta(days=40)
    await store.purge(retention_days=30, now=later)  # retires the key
    result = await store.purge(retention_days=30, now=later + timedelta(days=40))  # deletes it
    assert result.ip_keys_deleted == 1
    ref = await report(store, dev("d"), reported_ip=stale)
    item = await store.get_item(ref)
    assert item is not None and item.reported_ip is None
    with pytest.raises(InvalidInput, match="hash the address again"):
        await store.add_ban(ip=stale, reason="r", category="spam", actor="a")


async def test_a_reference_clash_is_retried(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    refs = iter(["R-AAAAAA", "R-AAAAAA", "R-AAAAAA", "R-BBBBBB"])
    monkeypatch.setattr("parley.store.reports.new_ref", lambda kind: next(refs))
    assert await report(store, dev("d")) == "R-AAAAAA"
    assert await report(store, dev("d")) == "R-BBBBBB"
    assert (await store.queue()).open_reports == 2
