"""A month of moderation for the transparency tests (no tests here).

``seed_month(store)`` writes March 2030 as the service writes it: reports, flags, a moderator's
closures and bans with their address bans, automatic bans, appeals, a legal hold; the hash match
as the audit entries the hash matching will write. Something before and after the month checks
a period's edges. tests/unit/test_transparency_report.py works every figure out by hand.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from parley.pool import Pool
from parley.store import Ban, DeviceHash, KeyedIpHash, Store, device_hash

START = datetime(2030, 3, 1, tzinfo=UTC)
END = datetime(2030, 4, 1, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 3) -> datetime:
    return datetime(2030, month, day, hour, minute, second, tzinfo=UTC)


def device(name: str) -> DeviceHash:
    return device_hash(f"d_{name}.{hashlib.sha256(name.encode()).hexdigest()[:8]}")


async def report(store: Store, category: str, when: datetime, reported: str = "x") -> str:
    return await store.add_report(
        reporter=device(f"reporter-{when.isoformat()}"),
        reported=device(reported),
        category=category,
        pair_id=f"p-{when.timestamp():.0f}",
        pool=Pool.parse("adult:text:en"),
        now=when,
    )


async def moderator_ban(
    store: Store,
    ref: str,
    when: datetime,
    *,
    days: int | None,
    category: str,
    flag: bool = False,
    ip: KeyedIpHash | None = None,
) -> Ban:
    """As the console does it: the device ban, the address with it, the item closed."""
    ends = when + timedelta(days=days) if days else None
    ban = await store.add_ban(
        device=device(ref), reason=f"Banned for {ref}.", category=category, actor="alice",
        ends_at=ends, source_ref=None if flag else ref, flag_ref=ref if flag else None,
        pool=Pool.parse("adult:text:en"), now=when,
    )  # fmt: skip
    if ip is not None:
        await store.add_ban(
            ip=ip, reason=ban.reason, category=category, actor="alice",
            ends_at=when + timedelta(hours=1), source_ref=None if flag else ref, now=when,
        )  # fmt: skip
    closed = await store.close_item(
        ref, "alice", resolution="banned", reason=ban.reason, details={"ban": ban.id}, now=when
    )
    assert closed
    return ban


async def automatic_ban(
    store: Store, actor: str, category: str, when: datetime, seconds: float, **refs: Any
) -> Ban:
    return await store.add_ban(
        device=device(f"{actor}-{when.isoformat()}"), reason=f"Automatic: {category}.",
        category=category, actor=actor, ends_at=when + timedelta(seconds=seconds), now=when,
        **refs,
    )  # fmt: skip


async def seed_month(store: Store) -> None:
    ip = await store.current_ip_hash("198.51.100.9")
    # Before the period: a report, warned in the period (10 days after it came in).
    r0 = await report(store, "harassment", at(20, 10, month=2))
    await store.close_item(r0, "alice", resolution="warned", reason="Be kind.", now=at(2, 10))
    # A nudity report, banned for a day after 600 s (with its address), appealed and upheld.
    r1 = await report(store, "nudity", at(3, 10))
    b1 = await moderator_ban(store, r1, at(3, 10, 10), days=1, category="nudity", ip=ip)
    a2 = await store.add_appeal(b1.id, "Not me.", now=at(3, 11))
    await store.decide_appeal(a2.id, "upheld", actor="bob", reason="It was.", now=at(4, 11))
    # A minor in danger, banned for good after 1800 s, put under legal hold, appealed late.
    r2 = await report(store, "minor_in_danger", at(4, 12))
    b2 = await moderator_ban(store, r2, at(4, 12, 30), days=None, category="minor_in_danger")
    await store.set_legal_hold(r2, actor="alice", reason="For the police.", now=at(4, 12, 31))
    await store.add_appeal(b2.id, "Please.", now=at(31, 23))
    # Spam, dismissed.
    r3 = await report(store, "spam", at(5, 8))
    await store.close_item(r3, "alice", resolution="dismissed", reason="Not spam.", now=at(5, 9))
    # Three harassment reports against one device: the machine bans 30 s after the third.
    for minute in (0, 1, 2):
        r6 = await report(store, "harassment", at(6, 20, minute), reported="mobbed")
    await automatic_ban(
        store, "system:mass-report", "mass_report", at(6, 20, 2, 30), 86400, source_ref=r6
    )
    await store.add_flag(
        kind="mass_report", device=device("mobbed"), pair_id="m", pool=Pool.parse("adult:text:en"),
        now=at(6, 20, 2, 30),
    )  # fmt: skip
    # A grooming flag, banned for good by a moderator.
    f1 = await store.add_flag(
        kind="grooming",
        device=device("g"),
        pair_id="g",
        pool=Pool.parse("minor:text:en"),
        now=at(7, 15),
    )
    await moderator_ban(store, f1, at(7, 15, 20), days=None, category="minor_in_danger", flag=True)
    # Vision: the flag, the automatic ban (with its address), the flag dismissed, the ban lifted
    # on appeal after 7200 s.
    f2 = await store.add_flag(
        kind="vision",
        device=device("v"),
        pair_id="v",
        pool=Pool.parse("adult:video:en"),
        now=at(8, 9),
    )
    vision = await automatic_ban(
        store,
        "system:vision",
        "nudity",
        at(8, 9, 0, 1),
        86400,
        flag_ref=f2,
        pool=Pool.parse("adult:video:en"),
    )
    await store.add_ban(
        ip=ip, reason=vision.reason, category="nudity", actor="system:vision",
        ends_at=at(8, 10), flag_ref=f2, now=at(8, 9, 0, 1),
    )  # fmt: skip
    await store.close_item(f2, "carol", resolution="dismissed", reason="A poster.", now=at(8, 10))
    a1 = await store.add_appeal(vision.id, "A poster.", now=at(8, 11))
    await store.decide_appeal(a1.id, "lifted", actor="carol", reason="Yes.", now=at(8, 13))
    # Flooding.
    await automatic_ban(store, "system:flood", "flood", at(10, 0), 600)
    # A hash match, as the hash matching will record it.
    await store.audit(
        actor="system", action="flag.add", item_type="flag", item_id="F-HASH22",
        details={"kind": "hash_match", "priority": 1000, "pool": "adult:video:en"},
        now=at(12, 6),
    )  # fmt: skip
    await store.audit(
        actor="system:hash-match", action="ban.add", item_type="ban", item_id=999_001,
        reason="A known abuse image.", now=at(12, 6, 0, 1),
        details={"category": "hash_match", "device": device("h"), "ip": False, "ends_at": None,
                 "source": None, "flag": "F-HASH22", "pool": "adult:video:en"},
    )  # fmt: skip
    # After the period: nothing of this counts.
    r7 = await report(store, "nudity", at(2, 10, month=4))
    await moderator_ban(store, r7, at(2, 11, month=4), days=1, category="nudity")
