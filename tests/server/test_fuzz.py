"""Fuzzing the WebSocket protocol: random and malformed frames over real sockets, real server.

Two passes, each on a server of its own:

- ``raised``: rate limits and strike limits raised, so nearly every frame is parsed and acted on
  (the interest fallback is short, so fuzzed sessions also match each other and chat);
- ``default``: every limit at its built-in default, so rate limiting and the abuse closes are
  fuzzed too.

Automatic bans are off in both (see ``NO_AUTO_BANS``).

Hypothesis (derandomized, bounded ``max_examples``) draws batches of frames: random text and
bytes, random JSON values, frames of every client type with mutated, missing or wrong-typed
fields, huge frames, deep nesting, Unicode edge cases, non-UTF-8 text frames, and valid frames
in whatever state the session happens to be. Four fuzzed connections take them.

What must hold (docs/protocol.md, docs/design.md invariant 6):

- every frame the server sends is a documented server frame that matches the schema, and every
  ``error`` carries a documented code;
- a connection the server closes is closed with a documented close code (then the test
  reconnects and goes on). One exception: right after a frame the transport itself refuses
  (over the 64 KiB cap, or not UTF-8) the close frame may be lost to a TCP reset (1006), see
  ``FuzzConnection.finish_closed``;
- after each batch every fuzzed connection still answers (a sync frame gets its error, with
  ``ref``), so the server neither hangs nor stalls;
- two bystanders chatting on the same server the whole time get each of their lines exactly
  once and in order, and nothing else;
- the server stays up (``/healthz``) and logs no unhandled exception.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import hypothesis.strategies as st
import msgspec
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from websockets.exceptions import ConnectionClosed

from harness.client import Client, pair
from harness.protocol import (
    TRANSPORT_CAP,
    documented_client_types,
    documented_close_codes,
    documented_error_codes,
    documented_server_types,
    isolated,
)
from parley.protocol import decode_server

pytestmark = pytest.mark.timeout(240)

CONNECTIONS = 4
ABNORMAL = 1006  # the close code a client sees when TCP ends without a close frame
# Ids of sync frames, within the ids the server echoes (0..2**53 - 1, docs/protocol.md); fuzzed
# ids are very unlikely to hit these.
SYNC_BASE = 2**53 - 2**30

# Automatic bans stay off in both passes: a mass-report or abuse ban also covers the reported
# person's IP address, and every socket here comes from 127.0.0.1, the bystanders' too.
NO_AUTO_BANS = {"PARLEY_MASS_REPORT_THRESHOLD": 1_000_000, "PARLEY_ABUSE_BAN_AFTER": 1_000_000}

RAISED = {
    **{
        f"PARLEY_{name}_{kind}": 1_000_000
        for name in ("FRAME", "MESSAGE", "TYPING", "NEXT", "SIGNAL", "REPORT")
        for kind in ("RATE", "BURST")
    },
    "PARLEY_MAX_PROTOCOL_STRIKES": 1_000_000,
    "PARLEY_MAX_RATE_STRIKES": 1_000_000,
    **NO_AUTO_BANS,
    "PARLEY_HEARTBEAT_INTERVAL": 1,
    "PARLEY_HEARTBEAT_TIMEOUT": 30,
    "PARLEY_INTEREST_FALLBACK": 0.2,
}
# Every limit at its built-in default (None also drops the session server's fast heartbeat and
# fallback); only the automatic bans are off.
DEFAULTS: dict[str, Any] = {
    **NO_AUTO_BANS,
    "PARLEY_HEARTBEAT_INTERVAL": None,
    "PARLEY_HEARTBEAT_TIMEOUT": None,
    "PARLEY_INTEREST_FALLBACK": None,
}

PASSES = {
    # name: (server env, examples, frames per example, bystander pause between lines)
    "raised": (RAISED, 105, 100, 0.05),
    "default": (DEFAULTS, 30, 30, 0.4),
}


# ---- strategies -------------------------------------------------------------------------------

EDGE_TEXT = [
    "",
    " ",
    "\x00",
    "\t\n",
    "\u202e\u2066evil",
    "\ufeff",
    "\u200b",
    "e\u0301",
    "😀" * 3,
    "\U0010ffff",
    "ＭＵＳＩＣ",
    "#",
    " # ",
    "ﬀ",
    "İ",
    "\\",
    '"',
    "</script>",
    "a" * 33,
    "x" * 1001,
]

CURRENT, OLD = "\x00current-pair", "\x00old-pair"  # placeholders filled in at send time

texts = st.text(max_size=40) | st.sampled_from(EDGE_TEXT)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | texts
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=8,
)
pair_ids = st.sampled_from([CURRENT, CURRENT, OLD, "p_", "p_made_up"]) | texts

FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "age": st.integers(-2, 130) | st.sampled_from([12, 13, 17, 18, 120, 121, 10**20]),
    "interests": st.lists(texts, max_size=12),
    "mode": st.sampled_from(["text", "video", "question", "discuss", "audio", ""]),
    "language": st.sampled_from(["en", "id", "EN-us", "fr", "", "x" * 50]),
    "device": st.none() | st.sampled_from(["d_x.y", "d_"]) | texts,
    "attestation": st.none() | st.sampled_from(["e30.e30.", "a.b.c", "x" * 9000]) | texts,
    "fallback": st.booleans(),
    "version": st.sampled_from([1, 1, 1, 0, 2]),
    "pair": pair_ids,
    "text": texts | st.integers(990, 1010).map(lambda n: "w" * n),
    "on": st.booleans(),
    "category": st.sampled_from(["nudity", "minor_in_danger", "harassment", "spam", "other", "x"]),
    "comment": texts | st.just("c" * 1200),
    "description": st.fixed_dictionaries(
        {"type": st.sampled_from(["offer", "answer", "pranswer"]), "sdp": texts}
    ),
    "candidate": st.fixed_dictionaries(
        {"candidate": texts},
        optional={
            "sdpMid": st.none() | texts,
            "sdpMLineIndex": st.none() | st.integers(-1, 5),
            "usernameFragment": st.none() | texts,
        },
    ),
    "id": st.none() | st.integers(),
    "question": texts | st.integers(195, 205).map(lambda n: "q" * n),
    "about": st.sampled_from(["asker", "stranger1", "stranger2", "stranger3", ""]),
    # video stills: base64 of anything, a JPEG header, or not base64 at all
    "jpeg": texts
    | st.binary(max_size=200).map(lambda b: base64.b64encode(b).decode())
    | st.binary(max_size=200).map(lambda b: base64.b64encode(b"\xff\xd8\xff" + b).decode()),
}
SCHEMA = {
    "hello": [
        "age",
        "attestation",
        "interests",
        "mode",
        "language",
        "device",
        "fallback",
        "version",
    ],
    "start": ["question"],
    "next": ["question"],
    "stop": [],
    "message": ["pair", "text"],
    "typing": ["pair", "on"],
    "block": ["pair", "about"],
    "report": ["pair", "category", "comment", "about"],
    "signal": ["pair", "description", "candidate"],
    "pong": [],
    "ping": [],
    "frame": ["pair", "jpeg"],
}
OMIT = object()


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """Draw from one of the strategies, picked in proportion to its weight."""
    # (st.one_of would not do: it treats a strategy listed twice as listed once)
    slots = [i for i, (weight, _) in enumerate(choices) for _ in range(weight)]
    return st.sampled_from(slots).flatmap(lambda i: choices[i][1])


# A wrong value: any JSON value, kept small (nesting has a strategy of its own below).
wrong = scalars | st.lists(scalars, max_size=3) | st.dictionaries(texts, scalars, max_size=2)
# Per field: valid (3 in 5), of the wrong type or value (1 in 5), or missing (1 in 5).
MUTATED = {
    name: weighted((3, valid), (1, wrong), (1, st.just(OMIT))) for name, valid in FIELDS.items()
}


@st.composite
def typed_frames(draw: Callable[..., Any]) -> dict[str, Any]:
    """A frame of a client type; each field valid, wrong, or missing; maybe unknown fields."""
    kind = draw(st.sampled_from(sorted(SCHEMA)) | texts)
    frame: dict[str, Any] = {"type": kind}
    for name in [*SCHEMA.get(kind, []), "id"]:
        value = draw(MUTATED[name])
        if value is not OMIT:
            frame[name] = value
    if draw(st.booleans()):
        frame.update(draw(st.dictionaries(texts, wrong, max_size=2)))
    if draw(st.integers(0, 9)) == 0:
        del frame["type"]
    return frame


@dataclass(frozen=True)
class Frame:
    kind: str  # "obj" (a dict serialised at send time), "text", "bytes", "bad-utf8"
    payload: Any
    ascii: bool = True


def nested(depth: int, opener: str) -> str:
    closer = {"[": "]", '{"a":': "}"}[opener]
    return '{"type":"message","pair":"p_","text":' + opener * depth + "1" + closer * depth + "}"


def obj(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Frame]:
    return st.builds(Frame, st.just("obj"), strategy, st.booleans())


def text_frame(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[Frame]:
    return st.builds(Frame, st.just("text"), strategy)


def long_message(n: int, char: str) -> str:
    return '{"type":"message","pair":"p_","text":"' + char * n + '"}'


ids = {"id": st.integers(-5, 10**6)}
# mostly one pool (adult, text, en), so that fuzzed sessions meet each other and chat
valid_hello = st.fixed_dictionaries(
    {"type": st.just("hello"), "age": st.sampled_from([25, 25, 25, 40, 18, 17, 13, 120])},
    optional={
        "interests": st.lists(st.sampled_from(["chess", " #Chess ", "music", "cats"]), max_size=2),
        "mode": st.sampled_from(["text", "text", "text", "video"]),
        "language": st.sampled_from(["en", "en", "en", "id"]),
        "fallback": st.booleans(),
        **ids,
    },
)
current = st.sampled_from([CURRENT, CURRENT, CURRENT, OLD])
valid_frames = weighted(
    (4, st.fixed_dictionaries({"type": st.just("start")}, optional=ids)),
    (1, st.fixed_dictionaries({"type": st.sampled_from(["next", "stop", "pong"])}, optional=ids)),
    (
        5,
        st.fixed_dictionaries(
            {"type": st.just("message"), "pair": current, "text": texts}, optional=ids
        ),
    ),
    (
        2,
        st.fixed_dictionaries(
            {"type": st.just("typing"), "pair": current, "on": st.booleans()}, optional=ids
        ),
    ),
    (
        1,
        st.fixed_dictionaries(
            {"type": st.just("signal"), "pair": current, "description": FIELDS["description"]},
            optional=ids,
        ),
    ),
    (
        1,
        st.fixed_dictionaries(
            {"type": st.just("signal"), "pair": current, "candidate": FIELDS["candidate"]},
            optional=ids,
        ),
    ),
    (1, st.fixed_dictionaries({"type": st.just("block"), "pair": current}, optional=ids)),
    (
        1,
        st.fixed_dictionaries(
            {"type": st.just("report"), "pair": current, "category": FIELDS["category"]},
            optional={**ids, "comment": texts},
        ),
    ),
)

frames = weighted(
    (5, obj(valid_hello)),  # so that sessions get past hello, and into pairs
    (40, obj(valid_frames)),  # valid frames, in whatever state the session is
    (25, obj(typed_frames())),  # fields mutated, missing, of the wrong type, or unknown
    (8, obj(json_values)),  # any JSON value at all
    (5, text_frame(st.text(max_size=60))),
    (4, st.builds(Frame, st.just("bytes"), st.binary(max_size=60))),
    (4, text_frame(st.builds(nested, st.integers(1, 6000), st.sampled_from(["[", '{"a":'])))),
    (
        4,  # around max_frame_bytes, under the transport cap
        text_frame(
            st.builds(long_message, st.sampled_from([5000, 16300, 16384, 60000]), st.just("a"))
            | st.builds(long_message, st.sampled_from([5400, 5500, 20000]), st.just("€"))
        ),
    ),
    # frames the transport itself refuses: the socket is closed (1009, 1007)
    (1, text_frame(st.builds(long_message, st.sampled_from([65600, 70000]), st.just("a")))),
    (1, st.builds(Frame, st.just("bad-utf8"), st.sampled_from([b"\xff", b'{"x":"\xc3"}']))),
)


def batches(size: int) -> st.SearchStrategy[list[tuple[int, Frame]]]:
    """``size`` frames, each for one of the fuzzed connections."""
    return st.lists(
        st.tuples(st.integers(0, CONNECTIONS - 1), frames), min_size=size, max_size=size
    )


# ---- the rig ----------------------------------------------------------------------------------


class FuzzFailure(AssertionError):
    pass


@dataclass(eq=False)
class FuzzConnection:
    """One fuzzed socket; reconnected whenever the server closes it."""

    target: Any
    stats: Counter[str]
    client: Client | None = None
    reader: asyncio.Task[None] | None = None
    pair: str | None = None
    old_pair: str | None = None
    refs: set[int] = field(default_factory=set)
    problem: str | None = None
    recent: deque[str] = field(default_factory=lambda: deque(maxlen=5))  # frames sent last
    transport_violation: bool = False  # sent a frame the transport refuses (too big, not UTF-8)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def last_frames(self) -> str:
        return "\n  ".join(self.recent) or "(none)"

    async def ensure_open(self) -> Client:
        if self.client is not None and self.reader is not None and not self.reader.done():
            return self.client
        await self.finish_closed()
        self.client = await Client.open(self.target)
        self.pair = self.old_pair = None
        self.transport_violation = False
        self.recent.clear()
        self.reader = asyncio.create_task(self._read(self.client))
        self.stats["connections"] += 1
        return self.client

    async def finish_closed(self) -> None:
        """Wait for the reader of a closing socket; check the close code it got."""
        if self.client is None or self.reader is None:
            return
        await asyncio.wait_for(self.reader, 10)
        if self.problem:
            raise FuzzFailure(f"{self.problem}\nthe last frames sent:\n  {self.last_frames()}")
        code = self.client.close_code
        self.stats[f"close {code}"] += 1
        await self.client.close()
        self.client = self.reader = None
        if code == ABNORMAL and self.transport_violation:
            # The transport fails the connection on these (RFC 6455 7.1.7): it writes its close
            # frame and drops TCP at once. Frames this client had sent after the bad one are
            # still unread on the server, so the kernel answers with a reset, and the reset can
            # overtake the close frame. A client that waits after the bad frame gets the code.
            return
        if code not in documented_close_codes():
            raise FuzzFailure(
                f"the server closed a socket with undocumented code {code}; "
                f"the last frames sent on it:\n  {self.last_frames()}"
            )

    async def _read(self, client: Client) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in client.ws:
                self._check(raw)
                self.arrived.set()
        self.arrived.set()

    def _check(self, raw: str | bytes) -> None:
        if self.problem:
            return
        if isinstance(raw, bytes):
            self.problem = f"the server sent a binary frame {raw[:80]!r}"
            return
        try:
            decode_server(raw)
            frame = json.loads(raw)
        except (msgspec.ValidationError, msgspec.DecodeError, ValueError) as e:
            self.problem = f"the server sent a frame that breaks the schema ({e}): {raw[:300]}"
            return
        kind = frame["type"]
        self.stats[f"recv {kind}"] += 1
        if kind not in documented_server_types():
            self.problem = f"the server sent an undocumented frame type: {raw[:300]}"
        elif kind == "error":
            self.stats[f"error {frame['code']}"] += 1
            if frame["code"] not in documented_error_codes():
                self.problem = f"the server sent an undocumented error code: {raw[:300]}"
            if isinstance(frame.get("ref"), int):
                self.refs.add(frame["ref"])
        elif kind == "matched":
            self.pair = frame["pair"]
        elif kind == "partner_left" and frame["pair"] == self.pair:
            self.old_pair, self.pair = self.pair, None

    def render(self, frame: Frame) -> tuple[str | bytes, bool]:
        """The wire form of a frame: (data, as a text frame)."""
        if frame.kind == "obj":
            payload = frame.payload
            if isinstance(payload, dict):
                payload = dict(payload)
                if payload.get("pair") == CURRENT:
                    payload["pair"] = self.pair or "p_none"
                elif payload.get("pair") == OLD:
                    payload["pair"] = self.old_pair or "p_none"
            return json.dumps(payload, ensure_ascii=frame.ascii), True
        if frame.kind == "text":
            return frame.payload, True
        return frame.payload, frame.kind == "bad-utf8"

    async def send(self, frame: Frame) -> bool:
        """Send one frame (reconnecting first if needed); False if the socket closed under it."""
        client = await self.ensure_open()
        data, text = self.render(frame)
        self.recent.append(f"{'text' if text else 'binary'} {data[:200]!r} ({len(data)} long)")
        size = len(data.encode()) if isinstance(data, str) else len(data)
        if frame.kind == "bad-utf8" or size > TRANSPORT_CAP:
            self.transport_violation = True
        try:
            await client.ws.send(data, text=text)
        except ConnectionClosed:
            await self.finish_closed()
            return False
        self.stats["frames"] += 1
        return True

    async def sync(self, ref: int) -> None:
        """Send a frame that is always answered with an error carrying ``ref``; wait for it.

        A closed socket also ends the wait (its close code is checked). With default limits the
        sync frame itself may be dropped by the per-frame rate limit (an error without ref): it
        is then sent again, with a new id.
        """
        deadline = time.monotonic() + 15
        while True:
            if self.client is None or self.reader is None or self.reader.done():
                await self.finish_closed()
                return
            self.arrived.clear()
            with contextlib.suppress(ConnectionClosed):
                await self.client.send("typing", pair="p_sync", on=False, id=ref)
            resend_at = time.monotonic() + 1.0
            while ref not in self.refs and not self.reader.done():
                remaining = min(resend_at, deadline) - time.monotonic()
                if remaining <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.arrived.wait(), remaining)
                self.arrived.clear()
            if self.problem:
                raise FuzzFailure(f"{self.problem}\nthe last frames sent:\n  {self.last_frames()}")
            if ref in self.refs:
                return
            if time.monotonic() >= deadline:
                raise FuzzFailure(f"a fuzzed connection stopped answering (sync {ref})")
            ref += 1_000_000  # resend with a fresh id


@dataclass(eq=False)
class Bystanders:
    """Two people chatting on the fuzzed server, line by line, the whole time."""

    a: Client
    b: Client
    pair: str
    pause: float
    lines: int = 0
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def converse(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            for sender, receiver, name in ((self.a, self.b, "a"), (self.b, self.a, "b")):
                await sender.say(f"{name} {n}")
                got = await receiver.expect("message", strict=True, timeout=15)
                assert got == {"type": "message", "pair": self.pair, "text": f"{name} {n}"}, got
                self.lines += 1
            await asyncio.sleep(self.pause)  # pacing only (3 lines/s is the default limit)


# ---- the test -----------------------------------------------------------------------------------


def server_errors(logs: str) -> list[str]:
    """Parley's own log records at level error or worse (the server logs one JSON per line)."""
    found = []
    for line in logs.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        if str(record.get("logger")).startswith("parley") and record.get("level") in (
            "error",
            "critical",
        ):
            found.append(line[:500])
    return found


def test_the_fuzz_covers_every_documented_client_type() -> None:
    assert set(SCHEMA) == documented_client_types()


@pytest.mark.parametrize("name", sorted(PASSES))
async def test_fuzzed_frames_get_documented_answers_and_bystanders_chat_on(
    server_factory: Any, record_property: Any, name: str
) -> None:
    env, examples, per_example, pause = PASSES[name]
    srv = server_factory(**env)
    loop = asyncio.get_running_loop()
    stats: Counter[str] = Counter()
    conns = [FuzzConnection(srv, stats) for _ in range(CONNECTIONS)]
    sync_ids = iter(range(SYNC_BASE, SYNC_BASE + 10**6))

    a, b, p = await pair(srv, **isolated())
    bystanders = Bystanders(a, b, p, pause)
    chat = asyncio.create_task(bystanders.converse())

    async def run_batch(batch: list[tuple[int, Frame]]) -> None:
        for index, frame in batch:
            await conns[index].send(frame)
        for conn in conns:
            await conn.sync(next(sync_ids))
        if chat.done():
            chat.result()  # raises what went wrong for the bystanders
            raise FuzzFailure("the bystanders stopped chatting")

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        # no shrinking: the server is stateful, and a failure names the last frames sent
        phases=(Phase.generate,),
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(batch=batches(per_example))
    def fuzz(batch: list[tuple[int, Frame]]) -> None:
        asyncio.run_coroutine_threadsafe(run_batch(batch), loop).result(timeout=120)

    try:
        await asyncio.to_thread(fuzz)
    finally:
        bystanders.stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(chat, 20)
        print(f"\nfuzz pass {name!r}: {stats['frames']} frames; bystander lines {bystanders.lines}")
        print(", ".join(f"{k}: {v}" for k, v in sorted(stats.items())))
        record_property(f"fuzz_frames_{name}", stats["frames"])

    chat.result()
    await a.assert_silent(0.2)  # no line came twice
    await b.assert_silent(0.2)
    assert srv.healthz() == 200
    assert "Exception in ASGI application" not in srv.logs()
    assert not server_errors(srv.logs())
    assert stats["frames"] >= 0.95 * examples * per_example  # a few are lost to closed sockets
    assert bystanders.lines >= 2
