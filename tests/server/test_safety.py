"""Invariant 1 over the real server and at scale: no match across age bands, ever.

- The age policy as a client meets it: a minor asking for video is told ``mode_not_allowed`` and
  may try again; with the minor pool closed a teen is refused (4003), never moved to the adults.
- Many real clients of mixed ages churn start/next on one server: every pair that both sides
  report is of one band (and one language).
- In process, against ``MemoryBroker`` and the ``admit`` policy (no sockets, so it is fast):
  at least 100,000 matches of random people under churn, zero cross-band pairs.
- Under ``declared`` assurance the server says at start-up that it is not enough.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from harness.client import Client
from harness.protocol import unique_interest
from harness.server import ServerHandle
from parley.broker.base import Outcome, Ticket
from parley.broker.memory import MemoryBroker
from parley.pool import Band, Pool
from parley.protocol import Matched, Mode, ServerMessage
from parley.safety.age import Attestation
from parley.safety.policy import (
    DECLARED_WARNING,
    OPEN_MINOR_POOL_WARNING,
    Admitted,
    AgePolicy,
    RefusalCode,
    admit,
)


def band_of(age: int) -> str:
    """The band the test expects, computed independently of the server's code."""
    return "adult" if age >= 18 else "minor"


# ---- the policy as a client meets it --------------------------------------------------------


async def test_a_minor_asking_for_video_may_try_again_with_text(server: ServerHandle) -> None:
    c = await Client.open(server)
    await c.send("hello", age=15, mode="video", id=7)

    error = await c.expect("error", strict=True)
    assert (error["code"], error["ref"]) == ("mode_not_allowed", 7)
    assert not c.closed

    welcome = await c.hello(age=15, mode="text")  # the same socket: a second hello is allowed
    assert welcome["type"] == "welcome"


async def test_by_default_the_minor_pool_is_closed_refuses_teens_and_never_moves_them(
    server_factory: Any,
) -> None:
    # The defaults (declared ages, no PARLEY_MINOR_POOL_OPEN): a typed age is not age assurance.
    srv = server_factory(PARLEY_MINOR_POOL_OPEN=None)
    interest = unique_interest()
    adult = await Client.open(srv)
    await adult.hello(age=30, interests=[interest], fallback=False)
    assert (await adult.start())["type"] == "waiting"

    for age in (13, 15, 17):
        teen = await Client.open(srv)
        await teen.send("hello", age=age, interests=[interest], fallback=False, id=1)
        error = await teen.expect("error", strict=True)
        assert (error["code"], error["ref"]) == ("minor_pool_closed", 1)
        assert "not available to people under 18" in error["message"]
        assert await teen.wait_closed() == 4003

    # The adult is still waiting for someone with the interest: no teen was put next to them.
    # An adult with the same interest is matched with them at once.
    other = await Client.open(srv)
    await other.hello(age=40, interests=[interest], fallback=False)
    matched = await other.start()
    assert matched["type"] == "matched"
    assert (await adult.expect("matched", strict=True))["pair"] == matched["pair"]
    assert "PARLEY_MINOR_POOL_OPEN=true" not in srv.logs()  # nothing to warn about


async def test_an_operator_who_opens_the_minor_pool_gets_teens_matched_with_teens(
    server_factory: Any,
) -> None:
    srv = server_factory(PARLEY_MINOR_POOL_OPEN="true")
    interest = unique_interest()
    a, b = await Client.open(srv), await Client.open(srv)
    await a.hello(age=15, interests=[interest], fallback=False)
    await b.hello(age=16, interests=[interest], fallback=False)
    assert (await a.start())["type"] == "waiting"
    assert (await b.start())["type"] == "matched"
    # `parley serve` said loudly what opening it on typed ages means (parley check too:
    # tests/unit/test_policy.py).
    warned = [json.loads(ln) for ln in srv.logs().splitlines() if "MINOR_POOL_OPEN=true" in ln]
    assert [(w["level"], w["event"]) for w in warned] == [("warning", OPEN_MINOR_POOL_WARNING)]


# ---- many real clients of mixed ages on one server ------------------------------------------


@dataclass
class Churner:
    """A client that goes Next as soon as it is matched, and Start again when left."""

    client: Client
    band: str
    language: str
    pairs: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


async def churn(person: Churner, until: float, rng: random.Random) -> None:
    c = person.client
    await c.send("next")
    while time.monotonic() < until:
        try:
            frame = await c.recv(timeout=max(0.05, until - time.monotonic()))
        except AssertionError:  # no frame before the end: waiting with nobody free
            break
        kind = frame["type"]
        if kind == "matched":
            person.pairs.append(frame["pair"])
            if rng.random() < 0.5:
                await asyncio.sleep(rng.random() * 0.02)
            await c.send("next")
        elif kind == "partner_left":
            await c.send("next")
        elif kind == "error":
            person.errors.append(frame)


async def test_no_cross_band_pair_among_hundreds_of_churning_clients(
    server_factory: Any,
) -> None:
    srv = server_factory(
        PARLEY_HEARTBEAT_INTERVAL=None,  # the built-in 10 s / 30 s: idle joiners are not dropped
        PARLEY_HEARTBEAT_TIMEOUT=None,
        PARLEY_MAX_CONNECTIONS_PER_IP=1000,
        # Churners click Next as fast as frames arrive: this test is about bands, not rates.
        PARLEY_NEXT_RATE=10_000,
        PARLEY_NEXT_BURST=10_000,
        PARLEY_FRAME_RATE=10_000,
        PARLEY_FRAME_BURST=10_000,
    )
    rng = random.Random(20250101)
    people: list[Churner] = []

    async def join(i: int) -> None:
        age = rng.randint(13, 30)
        language = rng.choice(["en", "id"])
        c = await Client.open(srv)
        await c.hello(age=age, language=language, timeout=30)  # each hello writes the device row
        people.append(Churner(c, band_of(age), language))

    t0 = time.monotonic()
    await asyncio.gather(*(join(i) for i in range(200)))
    print(f"joined in {time.monotonic() - t0:.2f} s")
    # Under-13s in the same crowd are refused and never reach a pool.
    for age in (10, 12):
        kid = await Client.open(srv)
        await kid.send("hello", age=age)
        assert (await kid.expect("error", strict=True))["code"] == "age_refused"
        assert await kid.wait_closed() == 4003

    until = time.monotonic() + 3.0
    await asyncio.gather(*(churn(p, until, random.Random(i)) for i, p in enumerate(people)))
    await asyncio.gather(*(p.client.close() for p in people))

    assert not [e for p in people for e in p.errors], "churning clients got errors"
    members: defaultdict[str, list[Churner]] = defaultdict(list)
    for p in people:
        for pair_id in p.pairs:
            members[pair_id].append(p)
    both_sides = {pid: ms for pid, ms in members.items() if len(ms) == 2}
    assert all(len(ms) <= 2 for ms in members.values()), "a pair with more than two people"
    crossed = [
        pid for pid, (x, y) in both_sides.items() if (x.band, x.language) != (y.band, y.language)
    ]
    assert not crossed, f"{len(crossed)} pairs crossed bands or languages"
    assert all(x is not y for x, y in both_sides.values()), "someone was matched with themself"
    by_band = Counter(ms[0].band for ms in both_sides.values())
    print(f"{len(both_sides)} pairs seen by both sides: {dict(by_band)}")
    assert len(both_sides) >= 500, f"only {len(both_sides)} pairs seen by both sides"
    assert by_band["minor"] >= 50 and by_band["adult"] >= 50, by_band


# ---- at least 100,000 matches in process -----------------------------------------------------


class Inbox:
    """A test-side mailbox that records every pair its session is matched into."""

    __slots__ = ("members", "session")

    def __init__(self, session: str, members: dict[str, list[str]]) -> None:
        self.session = session
        self.members = members

    def deliver(self, event: ServerMessage) -> None:
        if type(event) is Matched:
            self.members.setdefault(event.pair, []).append(self.session)


class Quiet:
    def matched(self, pool: Pool, waits: tuple[float, float]) -> None:
        return None

    def room_formed(
        self, pool: Pool, asker_wait: float, discusser_waits: tuple[float, float]
    ) -> None:
        return None


@dataclass(slots=True)
class Person:
    age: int  # the truth, which decides the band the test expects
    language: str
    device: str
    ticket: Ticket | None = None  # set while connected


async def test_a_hundred_thousand_random_matches_never_cross_bands() -> None:
    """Random people (ages 8-30, some with an attestation that may contradict them, some asking
    for video, some sharing a device, some with interests) connect, start, go Next, stop and
    disconnect at random; the policy admits them and the broker matches them. Every one of at
    least 100,000 pairs is checked against the band the test derived from the true age."""
    rng = random.Random(1_000_003)
    policy = AgePolicy(minor_pool_open=True)  # both bands in play
    members: dict[str, list[str]] = {}
    broker = MemoryBroker(interest_fallback=3600.0, observer=Quiet(), evidence_lines=4)
    people: list[Person] = []
    for i in range(600):
        age = rng.choice([rng.randint(8, 12), *[rng.randint(13, 30) for _ in range(6)]])
        # A few devices hold two people (two tabs): they must never be matched together.
        device = f"d{i - 1}" if i % 25 == 1 else f"d{i}"
        people.append(Person(age, rng.choice(["en", "id"]), device))
    truth: dict[str, Person] = {}
    refusals: Counter[RefusalCode] = Counter()
    interests = ("chess", "music", "films")
    generation = 0
    target = 100_000
    started = time.monotonic()
    steps = 0

    while len(members) < target:
        steps += 1
        if steps % 4096 == 0:
            await asyncio.sleep(0)  # let the loop breathe (no fallback timer is ever due)
        person = rng.choice(people)
        ticket = person.ticket
        if ticket is None:
            mode: Mode = "video" if rng.random() < 0.15 else "text"
            attestation = None
            if rng.random() < 0.2:
                claimed = Band.ADULT if rng.random() < 0.5 else Band.MINOR
                attestation = Attestation(claimed, time.time() + 300, uuid.uuid4().hex)
            decision = admit(policy, declared_age=person.age, attestation=attestation, mode=mode)
            if not isinstance(decision, Admitted):
                refusals[decision.code] += 1
                # Refused only for a reason the truth explains.
                if decision.code is RefusalCode.AGE_REFUSED:
                    assert person.age < 13
                elif decision.code is RefusalCode.MODE_NOT_ALLOWED:
                    assert band_of(person.age) == "minor" and mode == "video"
                else:
                    assert decision.code is RefusalCode.AGE_MISMATCH
                    assert attestation is not None and attestation.band != band_of(person.age)
                continue
            assert person.age >= 13 and str(decision.band) == band_of(person.age)
            generation += 1
            session = f"s{generation}"
            chosen = tuple(i for i in interests if rng.random() < 0.2)
            ticket = Ticket(
                session,
                person.device,
                Pool(decision.band, mode, person.language),
                chosen,
                fallback=not chosen or rng.random() < 0.5,
            )
            person.ticket = ticket
            truth[session] = person
            await broker.attach(session, person.device, Inbox(session, members))
            await broker.start_match(ticket)
            continue
        roll = rng.random()
        if roll < 0.80:
            assert await broker.next_match(ticket) in (Outcome.OK, Outcome.WAITING)
        elif roll < 0.90:
            await broker.stop(ticket.session)
        else:
            await broker.detach(ticket.session)
            person.ticket = None

    elapsed = time.monotonic() - started
    crossed = []
    for pair_id, sessions in members.items():
        assert len(sessions) == 2, f"{pair_id} delivered to {sessions}"
        a, b = truth[sessions[0]], truth[sessions[1]]
        assert sessions[0] != sessions[1] and a.device != b.device
        if band_of(a.age) != band_of(b.age):
            crossed.append(pair_id)
    assert not crossed, f"{len(crossed)} of {len(members)} pairs crossed bands"
    bands = Counter(band_of(truth[s[0]].age) for s in members.values())
    assert bands["minor"] > 10_000 and bands["adult"] > 10_000, bands
    assert refusals[RefusalCode.AGE_REFUSED] and refusals[RefusalCode.MODE_NOT_ALLOWED]
    assert refusals[RefusalCode.AGE_MISMATCH]
    print(f"{len(members)} matches in {elapsed:.1f} s, {dict(bands)}, refusals {dict(refusals)}")
    await broker.close()


# ---- declared assurance says it is not enough -------------------------------------------------


async def test_declared_assurance_warns_at_start_up(server: ServerHandle) -> None:
    assert server.env.get("PARLEY_AGE_ASSURANCE", "declared") == "declared"
    logs = server.logs()
    assert DECLARED_WARNING in logs
    line = next(x for x in logs.splitlines() if DECLARED_WARNING[:40] in x)
    assert '"level": "warning"' in line


async def test_under_thirteen_is_refused_on_the_session_server(server: ServerHandle) -> None:
    c = await Client.open(server)
    await c.send("hello", age=12, id=3)
    error = await c.expect("error", strict=True)
    assert (error["code"], error["ref"]) == ("age_refused", 3)
    assert await c.wait_closed() == 4003
