"""Codec choice for the wire protocol: msgspec vs pydantic v2 vs stdlib json + hand checks.

One operation = what the gateway does per frame: decode the client's JSON, validate it against
the schema of its ``type`` (tagged union of the 8 client types), dispatch on the type, and encode
the server's reply frame. All three implementations check the same things: the ``type`` tag,
required fields, exact JSON types (no coercion: pydantic runs in strict mode), ``Literal`` values
and the raw length caps that come before normalisation. The models are written here, so the bench
does not depend on the server's code.

Cases: ``hello`` with interests (→ ``welcome``), ``message`` with 200 characters (→ the partner's
``message``), a mixed stream of all 8 client types, and an invalid frame (→ ``error``).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal

import msgspec
import pydantic
from msgspec import Meta

CaseFn = Callable[[bytes], bytes | None]

# --- frames -------------------------------------------------------------------------------

TEXT_200 = ("Hi! I'm from Lisbon, into chess and synth music; what brings you here tonight? " * 3)[
    :200
]
HELLO = json.dumps(
    {
        "type": "hello",
        "age": 24,
        "interests": ["chess", "music", "photography", "hiking"],
        "mode": "text",
        "language": "en",
        "device": "d_3q2x7k1m9v0w4r8t6y5u2i1o",
        "fallback": True,
        "version": 1,
    }
).encode()
MESSAGE = json.dumps(
    {"type": "message", "pair": "p_8f3a2c1d9e7b6a5f", "text": TEXT_200, "id": 42}
).encode()
MIXED = [
    HELLO,
    b'{"type":"start"}',
    MESSAGE,
    b'{"type":"typing","pair":"p_8f3a2c1d9e7b6a5f","on":true}',
    b'{"type":"next","id":7}',
    b'{"type":"block","pair":"p_8f3a2c1d9e7b6a5f"}',
    b'{"type":"pong"}',
    b'{"type":"stop"}',
]
INVALID = b'{"type":"message","pair":"p_8f3a2c1d9e7b6a5f","text":12345,"id":9}'

CASES: dict[str, list[bytes]] = {
    "hello": [HELLO],
    "message_200": [MESSAGE],
    "mixed_8_types": MIXED,
    "invalid": [INVALID],
}

LIMITS = {
    "max_frame_bytes": 16384,
    "max_message_chars": 1000,
    "max_interests": 10,
    "max_interest_chars": 32,
    "heartbeat_interval": 10.0,
    "heartbeat_timeout": 30.0,
    "interest_fallback": 8.0,
}

# --- msgspec ------------------------------------------------------------------------------

Pair = Annotated[str, Meta(min_length=1, max_length=64)]


class MClient(msgspec.Struct, tag_field="type", kw_only=True, frozen=True):
    id: int | None = None


class MHello(MClient, tag="hello", frozen=True):
    age: int
    interests: Annotated[list[Annotated[str, Meta(max_length=128)]], Meta(max_length=40)] = []
    mode: Literal["text", "video"] = "text"
    language: Annotated[str, Meta(max_length=16)] = "en"
    device: Annotated[str, Meta(max_length=64)] | None = None
    fallback: bool = True
    version: int = 1


class MStart(MClient, tag="start", frozen=True):
    pass


class MNext(MClient, tag="next", frozen=True):
    pass


class MStop(MClient, tag="stop", frozen=True):
    pass


class MMessage(MClient, tag="message", frozen=True):
    pair: Pair
    text: Annotated[str, Meta(max_length=2000)]


class MTyping(MClient, tag="typing", frozen=True):
    pair: Pair
    on: bool


class MBlock(MClient, tag="block", frozen=True):
    pair: Pair


class MPong(MClient, tag="pong", frozen=True):
    pass


class MServer(msgspec.Struct, tag_field="type", kw_only=True, frozen=True):
    pass


class MLimits(msgspec.Struct, frozen=True):
    max_frame_bytes: int
    max_message_chars: int
    max_interests: int
    max_interest_chars: int
    heartbeat_interval: float
    heartbeat_timeout: float
    interest_fallback: float


class MWelcome(MServer, tag="welcome", frozen=True):
    version: int
    session: str
    device: str
    online: int
    limits: MLimits


class MWaiting(MServer, tag="waiting", frozen=True):
    stage: Literal["interests", "anyone"]
    fallback_in: float | None = None


class MPartnerMessage(MServer, tag="message", frozen=True):
    pair: str
    text: str


class MPartnerTyping(MServer, tag="typing", frozen=True):
    pair: str
    on: bool


class MPartnerLeft(MServer, tag="partner_left", frozen=True):
    pair: str
    reason: Literal["left", "disconnected"]


class MStopped(MServer, tag="stopped", frozen=True):
    pass


class MError(MServer, tag="error", frozen=True):
    code: str
    message: str
    ref: int | None = None


MClientMsg = MHello | MStart | MNext | MStop | MMessage | MTyping | MBlock | MPong
_m_decode = msgspec.json.Decoder(MClientMsg).decode
_m_encode = msgspec.json.Encoder().encode
_M_LIMITS = MLimits(**LIMITS)  # type: ignore[arg-type]

_M_HANDLERS: dict[type, Callable[[Any], MServer | None]] = {
    MHello: lambda m: MWelcome(
        version=1, session="s_1234567890", device=m.device or "d_new", online=4242, limits=_M_LIMITS
    ),
    MStart: lambda m: MWaiting(stage="anyone"),
    MNext: lambda m: MWaiting(stage="anyone"),
    MStop: lambda m: MStopped(),
    MMessage: lambda m: MPartnerMessage(pair=m.pair, text=m.text),
    MTyping: lambda m: MPartnerTyping(pair=m.pair, on=m.on),
    MBlock: lambda m: MPartnerLeft(pair=m.pair, reason="left"),
    MPong: lambda m: None,
}


def msgspec_op(frame: bytes) -> bytes | None:
    try:
        msg = _m_decode(frame)
    except msgspec.ValidationError as exc:
        return _m_encode(MError(code="bad_message", message=str(exc)[:200]))
    reply = _M_HANDLERS[type(msg)](msg)
    return None if reply is None else _m_encode(reply)


# --- pydantic v2 --------------------------------------------------------------------------

_STRICT = pydantic.ConfigDict(strict=True, frozen=True)
PPair = Annotated[str, pydantic.Field(min_length=1, max_length=64)]


class PHello(pydantic.BaseModel):
    model_config = _STRICT
    type: Literal["hello"]
    id: int | None = None
    age: int
    interests: Annotated[
        list[Annotated[str, pydantic.Field(max_length=128)]], pydantic.Field(max_length=40)
    ] = []
    mode: Literal["text", "video"] = "text"
    language: Annotated[str, pydantic.Field(max_length=16)] = "en"
    device: Annotated[str, pydantic.Field(max_length=64)] | None = None
    fallback: bool = True
    version: int = 1


class PStart(pydantic.BaseModel):
    model_config = _STRICT
    type: Literal["start"]
    id: int | None = None


class PNext(pydantic.BaseModel):
    model_config = _STRICT
    type: Literal["next"]
    id: int | None = None


class PStop(pydantic.BaseModel):
    model_config = _STRICT
    type: Literal["stop"]
    id: int | None = None


class PMessage(pydantic.BaseModel):
    model_config = _STRICT
    type: Literal["message"]
    id: int | None = None
    pair: PPair
    text: Annotated[str, pydantic.Field(max_length=2000)]


class PTyping(pydantic.BaseModel):
    model_config = _STRICT
    type: Literal["typing"]
    id: int | None = None
    pair: PPair
    on: bool


class PBlock(pydantic.BaseModel):
    model_config = _STRICT
    type: Literal["block"]
    id: int | None = None
    pair: PPair


class PPong(pydantic.BaseModel):
    model_config = _STRICT
    type: Literal["pong"]
    id: int | None = None


class PLimits(pydantic.BaseModel):
    max_frame_bytes: int
    max_message_chars: int
    max_interests: int
    max_interest_chars: int
    heartbeat_interval: float
    heartbeat_timeout: float
    interest_fallback: float


class PWelcome(pydantic.BaseModel):
    type: Literal["welcome"] = "welcome"
    version: int
    session: str
    device: str
    online: int
    limits: PLimits


class PWaiting(pydantic.BaseModel):
    type: Literal["waiting"] = "waiting"
    stage: Literal["interests", "anyone"]
    fallback_in: float | None = None


class PPartnerMessage(pydantic.BaseModel):
    type: Literal["message"] = "message"
    pair: str
    text: str


class PPartnerTyping(pydantic.BaseModel):
    type: Literal["typing"] = "typing"
    pair: str
    on: bool


class PPartnerLeft(pydantic.BaseModel):
    type: Literal["partner_left"] = "partner_left"
    pair: str
    reason: Literal["left", "disconnected"]


class PStopped(pydantic.BaseModel):
    type: Literal["stopped"] = "stopped"


class PError(pydantic.BaseModel):
    type: Literal["error"] = "error"
    code: str
    message: str
    ref: int | None = None


PClientMsg = Annotated[
    PHello | PStart | PNext | PStop | PMessage | PTyping | PBlock | PPong,
    pydantic.Field(discriminator="type"),
]
_p_adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(PClientMsg)
_p_decode = _p_adapter.validate_json
_P_LIMITS = PLimits(**LIMITS)

_P_HANDLERS: dict[type, Callable[[Any], pydantic.BaseModel | None]] = {
    PHello: lambda m: PWelcome(
        version=1, session="s_1234567890", device=m.device or "d_new", online=4242, limits=_P_LIMITS
    ),
    PStart: lambda m: PWaiting(stage="anyone"),
    PNext: lambda m: PWaiting(stage="anyone"),
    PStop: lambda m: PStopped(),
    PMessage: lambda m: PPartnerMessage(pair=m.pair, text=m.text),
    PTyping: lambda m: PPartnerTyping(pair=m.pair, on=m.on),
    PBlock: lambda m: PPartnerLeft(pair=m.pair, reason="left"),
    PPong: lambda m: None,
}


def pydantic_op(frame: bytes) -> bytes | None:
    try:
        msg = _p_decode(frame)
    except pydantic.ValidationError as exc:
        return PError(code="bad_message", message=str(exc)[:200]).model_dump_json().encode()
    reply = _P_HANDLERS[type(msg)](msg)
    return None if reply is None else reply.model_dump_json().encode()


# --- stdlib json + hand-written checks ----------------------------------------------------


class Invalid(Exception):
    pass


def _opt_int(d: dict[str, Any], key: str) -> None:
    v = d.get(key)
    if v is not None and (type(v) is not int):
        raise Invalid(f"{key} must be an integer")


def _str(d: dict[str, Any], key: str, max_len: int, *, required: bool = True) -> str:
    v = d.get(key)
    if v is None and not required:
        return ""
    if type(v) is not str:
        raise Invalid(f"{key} must be a string")
    if len(v) > max_len:
        raise Invalid(f"{key} too long")
    return v


def _pair(d: dict[str, Any]) -> str:
    v = _str(d, "pair", 64)
    if not v:
        raise Invalid("pair is empty")
    return v


def _j_hello(d: dict[str, Any]) -> dict[str, Any]:
    _opt_int(d, "id")
    if type(d.get("age")) is not int:
        raise Invalid("age must be an integer")
    interests = d.get("interests", [])
    if type(interests) is not list or len(interests) > 40:
        raise Invalid("interests must be a list of at most 40")
    for item in interests:
        if type(item) is not str or len(item) > 128:
            raise Invalid("bad interest")
    if d.get("mode", "text") not in ("text", "video"):
        raise Invalid("bad mode")
    _str(d, "language", 16, required=False)
    device = d.get("device")
    if device is not None:
        _str(d, "device", 64)
    if type(d.get("fallback", True)) is not bool:
        raise Invalid("fallback must be a boolean")
    if type(d.get("version", 1)) is not int:
        raise Invalid("version must be an integer")
    return {
        "type": "welcome",
        "version": 1,
        "session": "s_1234567890",
        "device": device or "d_new",
        "online": 4242,
        "limits": LIMITS,
    }


def _j_waiting(d: dict[str, Any]) -> dict[str, Any]:
    _opt_int(d, "id")
    return {"type": "waiting", "stage": "anyone", "fallback_in": None}


def _j_stop(d: dict[str, Any]) -> dict[str, Any]:
    _opt_int(d, "id")
    return {"type": "stopped"}


def _j_message(d: dict[str, Any]) -> dict[str, Any]:
    _opt_int(d, "id")
    return {"type": "message", "pair": _pair(d), "text": _str(d, "text", 2000)}


def _j_typing(d: dict[str, Any]) -> dict[str, Any]:
    _opt_int(d, "id")
    pair = _pair(d)
    if type(d.get("on")) is not bool:
        raise Invalid("on must be a boolean")
    return {"type": "typing", "pair": pair, "on": d["on"]}


def _j_block(d: dict[str, Any]) -> dict[str, Any]:
    _opt_int(d, "id")
    return {"type": "partner_left", "pair": _pair(d), "reason": "left"}


def _j_pong(d: dict[str, Any]) -> None:
    _opt_int(d, "id")


_J_HANDLERS: dict[str, Callable[[dict[str, Any]], dict[str, Any] | None]] = {
    "hello": _j_hello,
    "start": _j_waiting,
    "next": _j_waiting,
    "stop": _j_stop,
    "message": _j_message,
    "typing": _j_typing,
    "block": _j_block,
    "pong": _j_pong,
}
_j_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def stdlib_op(frame: bytes) -> bytes | None:
    try:
        d = json.loads(frame)
        if type(d) is not dict:
            raise Invalid("not an object")
        handler = _J_HANDLERS.get(d.get("type"))  # type: ignore[arg-type]
        if handler is None:
            raise Invalid("unknown type")
        reply = handler(d)
    except (Invalid, ValueError) as exc:
        reply = {"type": "error", "code": "bad_message", "message": str(exc)[:200], "ref": None}
    return None if reply is None else _j_dumps(reply).encode()


IMPLS: dict[str, CaseFn] = {"msgspec": msgspec_op, "pydantic": pydantic_op, "stdlib": stdlib_op}


# --- timing -------------------------------------------------------------------------------


def _check() -> None:
    """All three must agree on what they accept and on the replies' content."""
    for name, frames in CASES.items():
        for frame in frames:
            outs = {impl: fn(frame) for impl, fn in IMPLS.items()}
            decoded = {k: (json.loads(v) if v is not None else None) for k, v in outs.items()}
            types = {k: (v or {}).get("type") for k, v in decoded.items()}
            if len(set(types.values())) != 1:
                raise AssertionError(f"{name}: implementations disagree: {types}")
            if types["msgspec"] != "error":
                ref = decoded["msgspec"]
                for k, v in decoded.items():
                    if v != ref:
                        raise AssertionError(f"{name}: {k} reply differs: {v} vs {ref}")


def _time(fn: CaseFn, frames: Sequence[bytes], seconds: float) -> float:
    """ops/s of fn over frames, measured for about ``seconds``."""
    batch = max(1, 2000 // len(frames))
    frames = list(frames) * batch
    n = 0
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while True:
        for f in frames:
            fn(f)
        n += len(frames)
        t = time.perf_counter()
        if t >= deadline:
            return n / (t - t0)


def run(
    seconds: float = 0.2, repeats: int = 5, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Median ops/s per implementation and case, repeats interleaved (noisy machines)."""
    _check()
    results: dict[str, dict[str, Any]] = {}
    for case, frames in CASES.items():
        runs: dict[str, list[float]] = {impl: [] for impl in IMPLS}
        for _ in range(repeats):
            for impl, fn in IMPLS.items():
                runs[impl].append(_time(fn, frames, seconds))
        med = {impl: statistics.median(v) for impl, v in runs.items()}
        results[case] = {
            "ops_per_s": med,
            "runs": runs,
            "msgspec_vs_pydantic": med["msgspec"] / med["pydantic"],
            "msgspec_vs_stdlib": med["msgspec"] / med["stdlib"],
        }
        log(
            f"[codec] {case:<14} msgspec {med['msgspec'] / 1e3:7.0f}k/s  "
            f"pydantic {med['pydantic'] / 1e3:6.0f}k/s  stdlib {med['stdlib'] / 1e3:6.0f}k/s  "
            f"→ msgspec ×{results[case]['msgspec_vs_pydantic']:.1f} vs pydantic, "
            f"×{results[case]['msgspec_vs_stdlib']:.1f} vs stdlib"
        )
    return {
        "versions": {
            "msgspec": msgspec.__version__,
            "pydantic": pydantic.VERSION,
        },
        "seconds_per_run": seconds,
        "repeats": repeats,
        "cases": results,
    }


if __name__ == "__main__":
    run()
