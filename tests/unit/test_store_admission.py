"""A hello's facts read in batches (store/admission.py) are exactly what the one-at-a-time queries
answer, on SQLite and on PostgreSQL (``store`` is parametrized), and a batch never answers a
caller with what it read before that caller asked."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from harness.stores import dev, lines
from parley.pool import Pool
from parley.store import Store
from parley.store.admission import AdmissionAsk, AdmissionFacts
from parley.store.coalesced import Coalesced

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
POOL = Pool.parse("adult:text:en")


async def one_at_a_time(store: Store, ask: AdmissionAsk, now: datetime) -> AdmissionFacts:
    """The same facts, one query each (as hello asked before)."""
    device, ips = ask.device, list(ask.ips)
    return AdmissionFacts(
        device=await store.get_device(device) if device else None,
        ban=await store.active_ban(device, ips, now=now),
        blocked=frozenset(await store.blocked_pairs_for(device)) if device else frozenset(),
        address_refused_under_age=await store.address_refused_under_age(ips, now=now),
        appeal=await store.pending_decision_for(device, ips),
    )


async def test_batched_facts_equal_the_single_queries(store: Store) -> None:
    ip = {n: await store.current_ip_hash(f"198.51.100.{n}") for n in range(1, 8)}
    banned, victim, sibling, plain, blocker, teen, appealer = (
        dev(n) for n in ("banned", "victim", "sibling", "plain", "blocker", "teen", "appealer")
    )
    for d in (banned, victim, sibling, plain, blocker):
        await store.touch_device(d, declared_band="adult", now=T0)
    await store.remember_under_age(
        device=teen, device_until=T0 + timedelta(days=1), ip=ip[5], ip_until=T0 + timedelta(hours=1)
    )
    # A device ban with its address companion, made on a report by ``victim`` (same address):
    # the address ban spares the reporter, not the sibling.
    ref = await store.add_report(
        reporter=victim,
        reported=banned,
        category="harassment",
        pair_id="p-1",
        pool=POOL,
        transcript=lines("hi", "go away"),
        reported_ip=ip[1],
        now=T0,
    )
    for target in ({"device": banned}, {"ip": ip[1]}):
        await store.add_ban(
            **target,
            reason="You harassed someone.",
            category="harassment",
            actor="system:mass-report",
            ends_at=T0 + timedelta(days=3),
            source_ref=ref,
            now=T0,
        )
    await store.add_ban(  # over before the hellos
        device=plain,
        reason="Old.",
        category="spam",
        actor="alice",
        starts_at=T0 - timedelta(days=1),
        ends_at=T0,
        now=T0 - timedelta(days=1),
    )
    await store.add_block(blocker, plain, now=T0)
    await store.add_block(victim, blocker, now=T0)
    lifted = await store.add_ban(
        device=appealer, reason="Spam.", category="spam", actor="alice", now=T0
    )
    appeal = await store.add_appeal(lifted.id, "It was not me.", now=T0)
    await store.decide_appeal(appeal.id, "lifted", actor="bob", reason="Fair.", now=T0)
    now = T0 + timedelta(minutes=5)
    asks = [
        AdmissionAsk(banned, (ip[2],)),
        AdmissionAsk(victim, (ip[1],)),  # spared: reported the banned device
        AdmissionAsk(sibling, (ip[1],)),  # held by the address ban
        AdmissionAsk(None, (ip[1],)),  # a new device there
        AdmissionAsk(plain, (ip[3],)),  # only an ended ban; blocked by blocker
        AdmissionAsk(blocker, (ip[4],)),
        AdmissionAsk(teen, (ip[6],)),
        AdmissionAsk(None, (ip[5],)),  # a new device where a minor was refused
        AdmissionAsk(appealer, (ip[7],)),  # a lifted appeal to tell
        AdmissionAsk(dev("stranger"), (ip[6], ip[7])),
        AdmissionAsk(banned, (ip[2],)),  # the same device twice in one batch
    ]
    got = await store.admissions(asks, now=now)
    want = [await one_at_a_time(store, ask, now) for ask in asks]
    assert got == want
    # ...and the cases above are what they say, so the comparison is not of empty answers.
    assert [f.ban is not None for f in got] == [1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1]
    assert got[4].blocked == {blocker} and got[5].blocked == {plain, victim}
    assert got[6].device is not None and got[6].device.under_age_until is not None
    assert got[7].address_refused_under_age and not got[3].address_refused_under_age
    assert got[8].appeal is not None and got[8].appeal.decision == "lifted"
    assert got[4].ban is None


async def test_concurrent_hellos_share_batches_and_each_sees_what_came_before(
    store: Store,
) -> None:
    devices = [dev(f"storm-{i}") for i in range(300)]
    ips = [[await store.current_ip_hash(f"203.0.113.{i % 250}")] for i in range(300)]
    await store.add_ban(device=devices[7], reason="Spam.", category="spam", actor="alice")
    facts = await asyncio.gather(
        *(store.admission(d, i) for d, i in zip(devices, ips, strict=True))
    )
    assert [f.ban is not None for f in facts] == [i == 7 for i in range(300)]
    # A ban committed before a hello asks is seen by it, however busy the batch.
    late = [asyncio.ensure_future(store.admission(d, i)) for d, i in zip(devices, ips, strict=True)]
    await asyncio.sleep(0)  # the first batch is under way
    await store.add_ban(device=devices[9], reason="Spam.", category="spam", actor="alice")
    after = await store.admission(devices[9], ips[9])
    assert after.ban is not None and after.ban.device_hash == devices[9]
    await asyncio.gather(*late)


async def test_a_caller_joins_the_next_batch_never_one_already_running() -> None:
    batches: list[list[int]] = []
    running = asyncio.Event()
    release = asyncio.Event()

    async def run(items: list[int]) -> list[int]:
        batches.append(list(items))
        running.set()
        await release.wait()
        return [i * 10 for i in items]

    coalesced: Coalesced[int, int] = Coalesced(run, limit=3)
    first = [asyncio.ensure_future(coalesced(i)) for i in (1, 2)]
    await running.wait()
    later = [asyncio.ensure_future(coalesced(i)) for i in (3, 4, 5, 6)]
    await asyncio.sleep(0)
    assert batches == [[1, 2]]  # 3-6 wait for the batch that reads after they asked
    release.set()
    assert await asyncio.gather(*first, *later) == [10, 20, 30, 40, 50, 60]
    assert batches == [[1, 2], [3, 4, 5], [6]]


async def test_a_failed_batch_fails_its_callers_and_the_next_batch_runs() -> None:
    calls = 0

    async def run(items: list[str]) -> list[str]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("database gone")
        return items

    coalesced: Coalesced[str, str] = Coalesced(run)
    outcomes = await asyncio.gather(coalesced("a"), coalesced("b"), return_exceptions=True)
    assert [type(o) for o in outcomes] == [OSError, OSError]
    assert await coalesced("c") == "c"
