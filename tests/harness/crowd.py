"""A crowd of people on Parley's WebSocket, each acting at random (one coroutine each), with the
matching invariants checked from what every person is told, as it is told, and at the end.

Used by tests/cluster/test_multinode_stress.py (what the checks are is described there) and by
the Sentinel failover test (tests/cluster/test_sentinel_failover.py), whose people also live
through a Redis outage: ``World.outage`` lets them be answered ``server_busy`` and recover.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from harness.protocol import sample, scrape
from harness.safety import database
from harness.server import ServerHandle
from parley.store.hashing import device_hash
from parley.store.values import DeviceHash

# Generous: a CI machine under load answered a start in > 15 s; a reply never sent still fails.
REPLY_TIMEOUT = 30.0
# Per-session limits would (rightly) refuse this pace; the invariants are what is under test.
FAST = {
    name: "1000000"
    for name in (
        "PARLEY_MESSAGE_RATE", "PARLEY_MESSAGE_BURST", "PARLEY_FRAME_RATE", "PARLEY_FRAME_BURST",
        "PARLEY_NEXT_RATE", "PARLEY_NEXT_BURST", "PARLEY_TYPING_RATE", "PARLEY_TYPING_BURST",
        "PARLEY_SIGNAL_RATE", "PARLEY_SIGNAL_BURST", "PARLEY_MAX_CONNECTIONS_PER_IP",
    )
}  # fmt: skip
# Answers a racing person may rightly get: its partner left a moment before its line arrived.
RACES = {"stale_pair", "not_chatting"}
WORDS = ("hi", "hello there", "how are you", "cats or dogs", "bye")
QUESTIONS = ("What do you think about cats and dogs?", "Is it better to travel or stay home?")


class Violation(AssertionError):
    pass


@dataclass
class World:
    members: dict[str, list[Person]] = field(default_factory=dict)  # pair/room id -> told matched
    # `block`s sent: (pair or room, the blocker, in a room the seat it named)
    blocks: list[tuple[str, Person, str | None]] = field(default_factory=list)
    seats: dict[str, dict[str, Person]] = field(default_factory=dict)  # room -> seat -> person
    ops: Counter[str] = field(default_factory=Counter)
    # Blocks answered with an error: the broker may have applied them all the same (see
    # docs/scaling.md, "Known limits"), so two such people waiting apart is no violation.
    maybe_blocks: list[tuple[str, Person, str | None]] = field(default_factory=list)
    unseen_blocks: set[frozenset[str]] = field(default_factory=set)  # see `unresolved`
    violations: list[str] = field(default_factory=list)
    # Redis may be unreachable for a while (a failover): `server_busy` is a right answer then,
    # and whoever gets it for a request becomes "unsure" of its state and stops (see `act`).
    outage: bool = False
    reply_timeout: float = REPLY_TIMEOUT  # how long an answer may take (a loaded machine: more)

    def blocked(self, a: str | None, b: str | None, *, maybe: bool = False) -> bool:
        """Did these two devices block each other? (Resolved from the members when asked: a
        block may be sent before the other has even read its `matched`.)"""
        for pid, blocker, about in self.blocks + (self.maybe_blocks if maybe else []):
            members = self.members.get(pid, [])
            if about is None:
                devices = {o.device for o in members}
            else:
                named = self.seated(pid, about)
                devices = {blocker.device, named.device if named else None}
            if devices == {a, b}:
                return True
        return False

    def unresolved(self, p: Person) -> bool:
        """Did ``p`` block someone the test never saw: a partner who vanished before reading its
        `matched`? (Whom that was is then known only to the server: see ``_stored_blocks``.)"""
        for pid, blocker, about in self.blocks + self.maybe_blocks:
            if blocker is p and (
                len(self.members.get(pid, [])) < 2
                if about is None
                else self.seated(pid, about) is None
            ):
                return True
        return False

    def seated(self, pid: str, seat: str) -> Person | None:
        return self.seats.get(pid, {}).get(seat)

    def fail(self, why: str) -> None:
        self.violations.append(why)

    @property
    def done(self) -> int:
        return sum(self.ops.values())


@dataclass(eq=False)
class Person:
    name: str
    age: int
    mode: str
    interests: list[str]
    world: World
    nodes: list[ServerHandle]
    rng: random.Random
    ws: ClientConnection | None = None
    device: str | None = None
    # idle | asked (start/next sent) | waiting | paired | stopping | unsure (see World.outage)
    state: str = "idle"
    pair: str | None = None  # in question mode, the room
    seat: str | None = None  # question mode: asker | stranger1 | stranger2
    ending: str | None = None  # the pair our own `next` is leaving: its last frames may still come
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    reader: asyncio.Task[None] | None = None
    leaving: bool = False  # we are closing this socket ourselves
    asked: int = 0  # id of the last frame that waits for an answer
    refused: str | None = None  # the error code that answered it, if one did
    asking: str = ""  # the kind of that frame
    pongs: set[asyncio.Future[None]] = field(default_factory=set)
    log: deque[str] = field(default_factory=lambda: deque(maxlen=16))  # shown with a violation

    @property
    def band(self) -> str:
        return "minor" if self.age < 18 else "adult"

    @property
    def pool(self) -> tuple[str, str]:
        """Who may meet: one band, one mode (askers and discussers meet each other in rooms)."""
        return (self.band, "room" if self.in_rooms else self.mode)

    @property
    def in_rooms(self) -> bool:
        return self.mode in ("question", "discuss")

    # ---- connection --------------------------------------------------------------------------

    async def connect(self) -> None:
        node = self.rng.choice(self.nodes)
        self.ws = await connect(node.ws_url, open_timeout=REPLY_TIMEOUT, ping_interval=None)
        hello: dict[str, Any] = {"type": "hello", "age": self.age, "mode": self.mode}
        if self.interests:
            hello["interests"] = self.interests
        if self.device is not None:
            hello["device"] = self.device
        await self.ws.send(json.dumps(hello))
        welcome = json.loads(await asyncio.wait_for(self.ws.recv(), REPLY_TIMEOUT))
        while welcome.get("type") == "ping":  # the heartbeat may come before the welcome
            await self.ws.send('{"type":"pong"}')
            welcome = json.loads(await asyncio.wait_for(self.ws.recv(), REPLY_TIMEOUT))
        if welcome.get("type") != "welcome":
            raise Violation(f"{self.name}: hello answered {welcome}")
        self.device = welcome["device"]
        self.state, self.pair, self.seat, self.leaving = "idle", None, None, False
        self.reader = asyncio.create_task(self.read(self.ws))
        self.log.append(f"-- on node {self.nodes.index(node)}")
        self.world.ops["connect"] += 1

    async def disconnect(self, clean: bool) -> None:
        assert self.ws is not None and self.reader is not None
        self.leaving = True
        self.log.append(f"-- {'close' if clean else 'drop'} ({self.state} {self.pair or ''})")
        if clean:
            await self.ws.close()
        else:
            self.ws.transport.abort()  # vanished: no closing handshake
        await asyncio.wait_for(self.reader, REPLY_TIMEOUT)
        self.ws = None
        self.world.ops["close" if clean else "drop"] += 1

    async def send(self, kind: str, **fields: Any) -> None:
        assert self.ws is not None
        await self.ws.send(json.dumps({"type": kind, **fields}))
        self.log.append(f"-> {kind} {fields.get('pair', '')} ({self.state})")
        self.world.ops[kind] += 1

    # ---- what the server says -------------------------------------------------------------------

    async def read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                self.on_frame(json.loads(raw), ws)
        except Exception:  # a dropped socket ends the reader; who closed it is checked below
            pass
        if not self.leaving:
            self.world.fail(
                f"{self.name}: closed by the server ({ws.close_code} {ws.close_reason})"
            )

    def on_frame(self, f: dict[str, Any], ws: ClientConnection) -> None:
        kind, w = f.get("type"), self.world
        if kind != "ping":
            self.log.append(f"<- {kind} {f.get('pair', '')} {f.get('code', '')}")
        seen = len(w.violations)
        self.handle(f, ws)
        if len(w.violations) > seen:
            w.violations[-1] += f" | {self.name}: {list(self.log)}"

    def _pong_sent(self, pong: asyncio.Future[None]) -> None:
        # A pong to a socket that has just closed fails; the reader sees the close. Retrieved
        # here, so that no "Task exception was never retrieved" is logged when the garbage
        # collector finalises it: that logging formats a traceback (ast.parse) and, landing inside
        # another ast.parse, trips CPython 3.11.7's "AST constructor recursion depth mismatch".
        self.pongs.discard(pong)
        if not pong.cancelled():
            pong.exception()

    def handle(self, f: dict[str, Any], ws: ClientConnection) -> None:
        kind, w = f.get("type"), self.world
        if kind == "ping":
            pong = asyncio.ensure_future(ws.send('{"type":"pong"}'))
            self.pongs.add(pong)
            pong.add_done_callback(self._pong_sent)
        elif kind == "waiting":
            # (A `stop` may cross the interest fallback's second `waiting`.)
            if self.state not in ("asked", "waiting", "stopping", "unsure"):
                w.fail(f"{self.name}: waiting while {self.state}")
            if self.state == "asked":
                self.state, self.ending = "waiting", None
                self.answered.set()
        elif kind == "matched":
            pid = f["pair"]
            # (A `stop` may cross a match: then `stopped` ends this pair.)
            if (
                self.state not in ("asked", "waiting", "stopping", "unsure")
                or self.pair is not None
            ):
                w.fail(f"{self.name}: matched into {pid} while {self.state} in {self.pair}")
            others = w.members.setdefault(pid, [])
            for o in others:
                if o.pool != self.pool:
                    w.fail(f"{pid}: {o.name} {o.pool} paired with {self.name} {self.pool}")
                if o.device == self.device or w.blocked(o.device, self.device):
                    w.fail(f"{pid}: {o.name} and {self.name}: same or blocked devices")
            seat = f.get("seat")
            if self.in_rooms != (seat is not None) or (seat == "asker") != (
                self.mode == "question"
            ):
                w.fail(f"{self.name} ({self.mode}) seated as {seat}")
            if seat is not None and w.seated(pid, seat) is not None:
                w.fail(f"{pid}: {seat} given to {self.name} and {w.seated(pid, seat)}")
            others.append(self)
            if seat is not None:
                w.seats.setdefault(pid, {})[seat] = self
            if len(others) > (3 if self.in_rooms else 2):
                w.fail(f"{pid}: told to {[o.name for o in others]}")
            self.pair, self.seat, self.ending = pid, seat, None
            if self.state not in ("stopping", "unsure"):
                self.state = "paired"
                self.answered.set()
        elif kind == "partner_left":
            if f["pair"] == self.pair:
                self.state, self.pair, self.seat = "idle", None, None
        elif kind in ("message", "typing", "signal"):
            if f["pair"] not in (self.pair, self.ending):
                w.fail(f"{self.name}: {kind} for {f['pair']} while in {self.pair}")
            sender = sender_of(f)
            if sender is not None:
                names = [o.name for o in w.members.get(f["pair"], [])]
                if sender == self.name or sender not in names:
                    w.fail(f"{self.name}: {kind} from {sender}, pair {f['pair']} is {names}")
            if self.in_rooms:  # labelled with a discusser's seat, who is that sender
                by = w.seated(f["pair"], f.get("from", ""))
                if by is None or by.seat == "asker" or by is self or by.name != (sender or by.name):
                    w.fail(f"{self.name}: {kind} from seat {f.get('from')} in {f['pair']}")
        elif kind == "notice" and f.get("code") == "asker_left":
            if self.mode != "discuss" or f["pair"] not in (self.pair, self.ending):
                w.fail(f"{self.name}: asker_left for {f['pair']} as {self.seat} in {self.pair}")
        elif kind == "stopped":
            self.state, self.pair, self.seat = "idle", None, None
            self.answered.set()
        elif kind == "blocked":
            self.refused = None
            self.answered.set()
        elif kind == "error":
            code = f.get("code")
            if (
                code not in RACES
                and not (code == "watch_only" and self.mode == "question")
                and not (code == "server_busy" and w.outage)
            ):
                w.fail(f"{self.name}: error {f}")
            if f.get("ref") == self.asked:
                self.refused = f.get("code")
                self.answered.set()
        else:
            w.fail(f"{self.name}: unexpected {f}")

    # ---- acting --------------------------------------------------------------------------------

    async def ask(self, kind: str, **fields: Any) -> None:
        """Send and wait for this person's answer (waiting/matched/stopped/blocked, or an error
        that names this frame by its id: lines are sent without one)."""
        self.answered.clear()
        self.refused = None
        self.asked += 1
        self.asking = kind
        await self.send(kind, id=self.asked, **fields)
        try:
            await asyncio.wait_for(self.answered.wait(), self.world.reply_timeout)
        except TimeoutError:
            raise Violation(
                f"{self.name}: no answer to {kind} ({self.state}, {self.pair}) sent at "
                f"{time.monotonic() - self.world.reply_timeout:.1f}: {list(self.log)}"
            ) from None
        if self.refused == "server_busy":  # Redis was unreachable: what holds now is unknown
            self.state = "unsure"
            self.ending, self.pair, self.seat = self.pair or self.ending, None, None

    async def act(self) -> None:
        r = self.rng.random()
        if self.ws is None:
            await self.connect()
        elif self.state == "unsure":  # leave whatever the refused request left (stop: `stopped`)
            self.state = "stopping"
            await self.ask("stop")
            if self.state == "unsure":
                await asyncio.sleep(0.2)  # Redis is still unreachable
        elif self.state == "idle":
            if r < 0.85:
                self.state = "asked"
                await self.ask("start", **self.question())
            else:
                await self.disconnect(clean=r < 0.93)
        elif self.state == "waiting":
            if r < 0.2:
                self.state = "stopping"
                await self.ask("stop")
            elif r < 0.25:
                await self.disconnect(clean=False)
            else:
                await asyncio.sleep(self.rng.uniform(0.0, 0.02))  # wait a moment to be met
        elif self.state == "paired" and self.seat == "asker":
            await self.act_asking(r)
        elif self.state == "paired":
            pair = self.pair
            if r < 0.35:
                # (Words only: digits in a teen chat are masked as possible phone numbers.)
                text = f"{self.name} says {self.rng.choice(WORDS)}"
                await self.send("message", pair=pair, text=text)
            elif r < 0.45:
                await self.send("typing", pair=pair, on=r < 0.4)
            elif r < 0.55 and self.mode == "video":
                sdp = f"v=0\r\ns={self.name}\r\n"
                await self.send("signal", pair=pair, description={"type": "offer", "sdp": sdp})
            elif r < 0.75:
                self.state, self.pair, self.seat, self.ending = (
                    "asked",
                    None,
                    None,
                    pair,
                )  # our own next
                await self.ask("next", **self.question())
            elif r < 0.85:
                self.state = "stopping"
                await self.ask("stop")
            elif r < 0.865:  # rare: blocks add up, and 16 people a pool run out of strangers
                about = None
                if self.seat is not None:  # in a room: the other discusser, or the question
                    about = self.rng.choice(["asker", "stranger1", "stranger2"])
                    if about == self.seat or self.world.seated(pair or "", about) is None:
                        about = "stranger2" if self.seat == "stranger1" else "stranger1"
                await self.block(pair, about)
            else:
                await self.disconnect(clean=r < 0.95)
            await asyncio.sleep(0)
        else:  # asked/stopping: an answer is on its way
            await asyncio.sleep(0.001)

    def question(self) -> dict[str, str]:
        return {"question": self.rng.choice(QUESTIONS)} if self.mode == "question" else {}

    async def block(self, pair: str | None, about: str | None) -> None:
        block = (pair or "", self, about)
        self.world.blocks.append(block)  # before the answer: it may hold at once
        self.state = "stopping"
        await self.ask("block", pair=pair, **({"about": about} if about else {}))
        if self.refused is not None:  # (a race: the pair had just ended; or Redis was down)
            self.world.blocks.remove(block)
            self.world.maybe_blocks.append(block)
        if self.state != "unsure":
            self.state, self.pair, self.seat = "idle", None, None

    async def act_asking(self, r: float) -> None:
        """The asker of a room only watches: its lines are refused, it may ask anew or leave."""
        pair = self.pair
        if r < 0.1:
            await self.ask("message", pair=pair, text=f"{self.name} says hi")  # watch_only
        elif r < 0.4:
            await asyncio.sleep(self.rng.uniform(0.0, 0.02))
        elif r < 0.65:
            self.state, self.pair, self.seat, self.ending = "asked", None, None, pair
            await self.ask("next", **self.question())
        elif r < 0.85:
            self.state = "stopping"
            await self.ask("stop")
        elif r < 0.865:
            await self.block(pair, self.rng.choice(["stranger1", "stranger2"]))
        else:
            await self.disconnect(clean=r < 0.93)


def sender_of(f: dict[str, Any]) -> str | None:
    if f["type"] == "message":
        return str(f["text"]).split(" ", 1)[0]
    if f["type"] == "signal" and "description" in f:
        return str(f["description"]["sdp"]).split("s=", 1)[1].split("\r\n", 1)[0]
    return None


async def node_status(nodes: list[ServerHandle]) -> list[dict[str, Any]]:
    """Each node's online and waiting counts, every pool's (/metrics: /api/status hides the
    minor pools)."""
    out = []
    for n in nodes:
        samples = await scrape(n.url)
        waiting = {
            dict(labels)["pool"]: int(v)
            for (name, labels), v in samples.items()
            if name == "parley_waiting"
        }
        out.append({"online": int(sample(samples, "parley_online")), "waiting": waiting})
    return out


def blocks_of(world: World, names: set[str]) -> list[str]:
    """The blocks these people sent or were in the pair of, as the test resolved them."""
    out = []
    for pid, blocker, about in world.blocks + world.maybe_blocks:
        members = [o.name for o in world.members.get(pid, [])]
        if blocker.name in names or names & set(members):
            out.append(f"{blocker.name} blocked {about or 'partner'} in {pid} of {members}")
    return out


async def stored_blocks(data_dir: Path, blockers: list[Person]) -> dict[str, set[DeviceHash]]:
    """The devices each of ``blockers`` blocked (or was blocked by), from the nodes' database."""
    if not blockers:
        return {}
    async with database(data_dir) as store:
        return {
            str(p.device): await store.blocked_pairs_for(device_hash(str(p.device)))
            for p in blockers
        }


def end_state(people: list[Person], world: World, stored: dict[str, set[DeviceHash]]) -> list[str]:
    problems = []
    for p in people:
        if p.state == "paired":
            # Everyone in a pair or room has the others they talk with there, live: the partner;
            # in a room the other discusser (the asker may have gone), and for the asker both.
            asker = world.seated(p.pair or "", "asker")
            partners = [o for o in world.members[p.pair or ""] if o is not p and o is not asker]
            if len(partners) != (2 if p.seat == "asker" else 1) or any(
                o.pair != p.pair or o.ws is None for o in partners
            ):
                problems.append(f"{p.name} in {p.pair} with no live partner there")
        elif p.state not in ("idle", "waiting"):
            problems.append(f"{p.name} still {p.state}")
    waiters = [p for p in people if p.state == "waiting"]

    def blocked(a: Person, b: Person) -> bool:
        if world.blocked(a.device, b.device, maybe=True):
            return True
        # One of them blocked a partner who vanished before reading its `matched`: the server
        # alone knows who that was (the block's durable record).
        for x, y in ((a, b), (b, a)):
            if device_hash(str(y.device)) in stored.get(str(x.device), set()):
                world.unseen_blocks.add(frozenset((a.name, b.name)))
                return True
        return False

    def free(*them: Person) -> bool:  # could these meet?
        return all(
            a.device != b.device and not blocked(a, b)
            for i, a in enumerate(them)
            for b in them[i + 1 :]
        )

    chat = [p for p in waiters if not p.in_rooms]
    for i, a in enumerate(chat):
        for b in chat[i + 1 :]:
            if a.pool == b.pool and free(a, b):
                problems.append(f"{a.name} and {b.name} both wait in {a.pool}")
    askers = [p for p in waiters if p.mode == "question"]
    discussers = [p for p in waiters if p.mode == "discuss"]
    for a in askers:
        for i, d1 in enumerate(discussers):
            for d2 in discussers[i + 1 :]:
                if a.band == d1.band == d2.band and free(a, d1, d2):
                    problems.append(f"{a.name} asks while {d1.name} and {d2.name} wait")
    return problems


async def settle(
    people: list[Person], world: World, nodes: list[ServerHandle], within: float = 20.0
) -> None:
    """Everyone connected, then quiet: wait until the fallbacks (1 s) and every partner_left have
    landed and the end state holds, with the nodes' counts agreeing with the people's."""
    for p in people:
        if p.ws is None:
            await p.connect()
    deadline = time.monotonic() + within
    while True:
        await asyncio.sleep(0.5)
        stored = await stored_blocks(nodes[0].data_dir, [p for p in people if world.unresolved(p)])
        problems = end_state(people, world, stored)
        statuses = await node_status(nodes)
        waiting = sum(p.state == "waiting" for p in people)
        counts = {(st["online"], sum(st["waiting"].values())) for st in statuses}
        if not problems and counts == {(len(people), waiting)}:
            return
        if time.monotonic() > deadline:
            named = set(re.findall(r"\bp\d+\b", " ".join(problems)))
            logs = {p.name: list(p.log) for p in people if p.name in named}
            raise Violation(
                f"end state: {problems[:10]}; nodes {counts} vs {len(people)}, {waiting}; "
                f"their last frames: {logs}; blocks: {blocks_of(world, named)}"
            )
