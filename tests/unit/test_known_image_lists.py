"""Hash lists in the store, and a node's copy of them (parley/store/hash_lists.py,
parley/safety/known_images.py), on SQLite and PostgreSQL (``store`` is parametrized).

What a match does is checked here at the store: a top-priority flag whose still only admins may
open, under legal hold, and a ban in the list's category on the device and the address hash.
Over a real server (a still in, the pair ended, the ban enforced): tests/server/.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from harness.stills import jpeg, shapes
from harness.stores import dev
from parley.config import Settings
from parley.metrics import Metrics
from parley.moderation.service import ban_category, still_allowed
from parley.pool import Pool
from parley.quotas.memory import MemoryQuotas
from parley.safety.known_images import KnownImages
from parley.safety.pdq import pdq_of
from parley.safety.sanctions import Sanctions
from parley.store import (
    HASH_MATCH_PRIORITY,
    Ban,
    InvalidInput,
    Store,
)

KNOWN = [pdq_of(jpeg(shapes(i, 320, 240), quality=90)) for i in range(3)]
OTHER = pdq_of(jpeg(shapes(9, 320, 240)))


def entries(*indexes: int) -> list[tuple[bytes, str | None]]:
    return [(KNOWN[i].digest, f"id-{i}") for i in indexes]


async def test_import_adds_only_new_hashes_and_moves_the_version(store: Store) -> None:
    first = await store.import_hashes("ncmec", entries(0, 1), actor="cli")
    assert (first.added, first.already) == (2, 0)
    assert (first.list.name, first.list.category, first.list.entries) == (
        "ncmec",
        "minor_in_danger",
        2,
    )
    again = await store.import_hashes("ncmec", entries(1, 2, 2), actor="cli", category="other")
    assert (again.added, again.already) == (1, 2)
    assert again.list.version == first.list.version + 1
    assert (again.list.category, again.list.entries) == ("other", 3)
    blob = await store.hash_list_hashes(again.list.id)
    assert blob == KNOWN[0].digest + KNOWN[1].digest + KNOWN[2].digest
    assert await store.hash_entry_ref(again.list.id, KNOWN[2].digest) == "id-2"
    replaced = await store.import_hashes("ncmec", entries(2), actor="cli", replace=True)
    assert (replaced.added, replaced.list.entries) == (1, 1)
    assert await store.hash_list_hashes(replaced.list.id) == KNOWN[2].digest
    actions = [e.action for e in await store.audit_log(item_type="hash_list")]
    assert actions.count("hash_list.import") == 3


async def test_names_categories_and_hashes_are_checked(store: Store) -> None:
    for bad_name in ("", "-x", "a b", "x" * 65, "../etc"):
        with pytest.raises(InvalidInput):
            await store.import_hashes(bad_name, entries(0), actor="cli")
    with pytest.raises(InvalidInput):
        await store.import_hashes("ok", entries(0), actor="cli", category="spam")
    with pytest.raises(InvalidInput):
        await store.import_hashes("ok", [(b"\x00" * 31, None)], actor="cli")
    assert await store.hash_lists() == []


async def test_remove_deletes_the_list_and_its_hashes(store: Store) -> None:
    made = await store.import_hashes("gone", entries(0, 1), actor="cli")
    await store.import_hashes("kept", entries(2), actor="cli")
    assert await store.remove_hash_list("gone", actor="cli")
    assert not await store.remove_hash_list("gone", actor="cli")
    assert [h.name for h in await store.hash_lists()] == ["kept"]
    assert await store.hash_list_hashes(made.list.id) == b""


def known_images(store: Store, enforced: list[Ban]) -> KnownImages:
    settings = Settings(hash_list_poll=3600)

    async def enforce(ban: Ban) -> None:
        enforced.append(ban)

    sanctions = Sanctions(settings, store, MemoryQuotas())
    return KnownImages(settings, store, sanctions, Metrics(), enforce)


async def test_a_node_follows_the_lists_and_matches_the_nearest(store: Store) -> None:
    known = known_images(store, [])
    assert not await known.refresh() and known.match(KNOWN[0]) is None
    await store.import_hashes("a", entries(0), actor="cli")
    await store.import_hashes("b", entries(1, 2), actor="cli", category="nudity")
    assert await known.refresh()
    assert not await known.refresh()  # nothing moved: nothing reloaded
    match = known.match(KNOWN[2])
    assert match is not None
    assert (match.list_name, match.category, match.distance, match.entry) == (
        "b",
        "nudity",
        0,
        KNOWN[2].digest,
    )
    assert known.match(OTHER) is None
    await store.remove_hash_list("b", actor="cli")
    assert await known.refresh()
    assert known.match(KNOWN[2]) is None and known.match(KNOWN[0]) is not None


async def test_a_match_is_an_admin_only_item_under_legal_hold_and_a_ban(store: Store) -> None:
    enforced: list[Ban] = []
    known = known_images(store, enforced)
    await store.import_hashes("ncmec", entries(0), actor="cli")
    await known.refresh()
    match = known.match(KNOWN[0])
    assert match is not None
    ip = await store.current_ip_hash("203.0.113.9")
    ref = await known.record(
        match,
        KNOWN[0],
        device=dev("sender"),
        other_device=dev("partner"),
        ip=ip,
        pair_id="p_1",
        pool=Pool.parse("adult:video:en"),
        image=jpeg(shapes(0, 320, 240)),
        source="vision",
    )
    assert ref is not None
    item = await store.get_item(ref)
    assert item is not None
    assert (item.category, item.priority, item.legal_hold, item.restricted) == (
        "hash_match",
        HASH_MATCH_PRIORITY,
        True,
        True,
    )
    assert item.details is not None
    assert (item.details["list"], item.details["distance"], item.details["list_ref"]) == (
        "ncmec",
        0,
        "id-0",
    )
    assert item.details["pdq"] == KNOWN[0].hex and item.details["threshold"] == 31
    # An adult-pool still, and yet: admins only.
    assert not still_allowed(item, admin=False) and still_allowed(item, admin=True)
    assert ban_category(item).value == "minor_in_danger"
    [ban] = enforced
    assert (ban.device_hash, ban.category, ban.created_by) == (
        dev("sender"),
        "minor_in_danger",
        "system:hash-match",
    )
    assert ref in ban.reason
    now = datetime.now(UTC)
    by_address = await store.active_ban(dev("someone-else"), [ip], now=now)
    assert by_address is not None and by_address.created_by == "system:hash-match"
    holds = await store.audit_log(action="item.legal_hold", item_id=ref)
    assert [h.actor for h in holds] == ["system:hash-match"]
