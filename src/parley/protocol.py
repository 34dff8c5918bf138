"""The wire protocol: typed messages, their codec, error codes and close codes.

``docs/protocol.md`` is the human contract; this module is the machine one. msgspec is used
because it decodes *and* validates a tagged union in one pass, several times faster than
pydantic for these small frames (see ``bench/codec.py``).
"""

from __future__ import annotations

import enum
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

PROTOCOL_VERSION = 1

Mode = Literal["text", "video", "question", "discuss"]
SdpRole = Literal["offerer", "answerer"]  # who sends the WebRTC (SDP) offer
# Question mode (Omegle's spy mode): the asker's seat and the two discussers' seats in a room.
Seat = Literal["asker", "stranger1", "stranger2"]
Discusser = Literal["stranger1", "stranger2"]
# How a video page treats a new stranger's picture (docs/protocol.md, "A guarded first look"):
# shown at once ("none": video is not moderated), or blurred until the server has judged a first
# still of theirs clean, with ("blur") or without ("hold": the minor pool) an earlier reveal.
FirstLook = Literal["none", "blur", "hold"]
QUESTION_MIN_CHARS = 10
QUESTION_MAX_CHARS = 200
REPORT_COMMENT_MAX_CHARS = 1000  # a longer `report.comment` is cut to this
# A frame's `id` is echoed as `ref`; it must survive a round trip through a JavaScript number, so
# it is bounded by Number.MAX_SAFE_INTEGER (and a huge integer costs nothing to refuse).
MAX_FRAME_ID = 2**53 - 1
# The page's own liveness check (docs/protocol.md, "Liveness"): after this many quiet seconds it
# sends `ping`, and presumes the link dead when no frame came within PING_TIMEOUT of that ping.
# 3 + 5 s (+ a watchdog tick) keeps a dead link noticed within about 10 s.
PING_AFTER = 3.0
PING_TIMEOUT = 5.0


class ErrorCode(enum.StrEnum):
    BAD_FRAME = "bad_frame"
    BAD_JSON = "bad_json"
    UNKNOWN_TYPE = "unknown_type"
    BAD_MESSAGE = "bad_message"
    FRAME_TOO_LARGE = "frame_too_large"
    MESSAGE_TOO_LONG = "message_too_long"
    EMPTY_MESSAGE = "empty_message"
    BAD_INTERESTS = "bad_interests"
    INVALID_AGE = "invalid_age"
    AGE_REFUSED = "age_refused"
    AGE_MISMATCH = "age_mismatch"
    MINOR_POOL_CLOSED = "minor_pool_closed"
    MODE_NOT_ALLOWED = "mode_not_allowed"
    ATTESTATION_REQUIRED = "attestation_required"
    UNSUPPORTED_VERSION = "unsupported_version"
    HELLO_REQUIRED = "hello_required"
    ALREADY_HELLO = "already_hello"
    NOT_CHATTING = "not_chatting"
    NOT_VIDEO = "not_video"
    BAD_SIGNAL = "bad_signal"
    STALE_PAIR = "stale_pair"
    BAD_STATE = "bad_state"
    RATE_LIMITED = "rate_limited"
    SERVER_BUSY = "server_busy"
    BAD_QUESTION = "bad_question"
    WATCH_ONLY = "watch_only"
    MODE_UNAVAILABLE = "mode_unavailable"  # no longer sent: every broker forms rooms
    BAD_FRAME_IMAGE = "bad_frame_image"  # a video still that is not a JPEG, too big or too large
    BAD_ID = "bad_id"  # a frame `id` that is not an integer in 0..MAX_FRAME_ID


class CloseCode(enum.IntEnum):
    NORMAL = 1000
    GOING_AWAY = 1001
    TOO_BIG = 1009
    PROTOCOL_ABUSE = 4000
    RATE_ABUSE = 4001
    HEARTBEAT_TIMEOUT = 4002
    REFUSED = 4003
    SLOW_CONSUMER = 4004
    SERVER_FULL = 4005
    UNSUPPORTED_VERSION = 4006
    BANNED = 4007


# Errors that count towards the protocol-abuse strike limit (the rest are ordinary mistakes or
# races a well-behaved client can hit, such as a stale pair right after Next).
PROTOCOL_STRIKES = frozenset(
    {
        ErrorCode.BAD_FRAME,
        ErrorCode.BAD_JSON,
        ErrorCode.UNKNOWN_TYPE,
        ErrorCode.BAD_MESSAGE,
        ErrorCode.FRAME_TOO_LARGE,
        ErrorCode.HELLO_REQUIRED,
        ErrorCode.ALREADY_HELLO,
        ErrorCode.BAD_ID,
    }
)


# --- client -> server -----------------------------------------------------------------------


FrameId = Annotated[int, msgspec.Meta(ge=0, le=MAX_FRAME_ID)]


class _Client(msgspec.Struct, tag_field="type", kw_only=True, frozen=True):
    id: FrameId | None = None  # echoed as `ref` (errors; `ack` for a message)


class Hello(_Client, tag="hello", frozen=True):
    age: int | None = None  # required under declared assurance
    attestation: str | None = None  # a signed age attestation (JWT), under attested assurance
    interests: list[str] = []
    mode: Mode = "text"
    language: str = "en"
    device: str | None = None
    fallback: bool = True
    # Revision 1.7: after ``language_wait`` seconds, also meet people who speak another language.
    any_language: bool = False
    version: int = PROTOCOL_VERSION


class Start(_Client, tag="start", frozen=True):
    question: str | None = None  # question mode (the asker) only


class Next(_Client, tag="next", frozen=True):
    question: str | None = None  # question mode (the asker) only


class Stop(_Client, tag="stop", frozen=True):
    pass


class Message(_Client, tag="message", frozen=True):
    pair: str
    text: str


class Typing(_Client, tag="typing", frozen=True):
    pair: str
    on: bool


ReportCategory = Literal["nudity", "minor_in_danger", "harassment", "spam", "self_harm", "other"]


class Report(_Client, tag="report", frozen=True):
    """Report the partner of ``pair`` (current, or one that ended moments ago)."""

    pair: str
    category: ReportCategory
    comment: str = ""
    about: Seat | None = None  # question mode: which seat is reported


class Block(_Client, tag="block", frozen=True):
    pair: str
    about: Seat | None = None  # question mode: which seat is blocked


class Pong(_Client, tag="pong", frozen=True):
    pass


class ClientPing(_Client, tag="ping", frozen=True):
    """The page checks that the link is alive (1.6); answered ``pong`` at once."""


class VideoFrame(_Client, tag="frame", frozen=True):
    """A still of the sender's own camera, for vision moderation (base64 of JPEG bytes)."""

    pair: str
    jpeg: str


# WebRTC dictionaries keep the standard's own field names (RTCSessionDescriptionInit,
# RTCIceCandidateInit), so a browser can pass them straight to RTCPeerConnection.
class SessionDescription(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    type: Literal["offer", "answer"]
    sdp: str


class IceCandidate(msgspec.Struct, frozen=True, omit_defaults=True):
    candidate: str
    sdpMid: str | None = None
    sdpMLineIndex: int | None = None
    usernameFragment: str | None = None


class Signal(_Client, tag="signal", frozen=True):
    """Exactly one of ``description`` and ``candidate``."""

    pair: str
    description: SessionDescription | None = None
    candidate: IceCandidate | None = None


ClientMessage = (
    Hello
    | Start
    | Next
    | Stop
    | Message
    | Typing
    | Block
    | Report
    | Signal
    | Pong
    | ClientPing
    | VideoFrame
)
CLIENT_TYPES = frozenset(
    t.__struct_config__.tag
    for t in (
        Hello,
        Start,
        Next,
        Stop,
        Message,
        Typing,
        Block,
        Report,
        Signal,
        Pong,
        ClientPing,
        VideoFrame,
    )
)

# --- server -> client -----------------------------------------------------------------------


class _Server(msgspec.Struct, tag_field="type", kw_only=True, frozen=True):
    pass


class Rate(msgspec.Struct, frozen=True):
    """A token bucket: ``rate`` frames a second sustained, ``burst`` at once."""

    rate: float
    burst: float


class Rates(msgspec.Struct, frozen=True):
    """The per-session token buckets, named after the frames they count (1.6)."""

    any: Rate  # every frame, before it is read
    message: Rate
    typing: Rate
    start: Rate  # start and next
    signal: Rate
    report: Rate
    frame: Rate  # video stills


class Limits(msgspec.Struct, frozen=True):
    max_frame_bytes: int
    max_message_chars: int
    max_interests: int
    max_interest_chars: int
    heartbeat_interval: float
    heartbeat_timeout: float
    interest_fallback: float
    language_wait: float  # revision 1.7: seconds before ``any_language`` widens the pool
    wait_hints: float  # revision 1.7: seconds of waiting before the page suggests changes
    # 1.6: what the page needs to refuse a line before sending it, and its liveness check.
    rates: Rates
    question_min_chars: int = QUESTION_MIN_CHARS
    question_max_chars: int = QUESTION_MAX_CHARS
    ping_after: float = PING_AFTER
    ping_timeout: float = PING_TIMEOUT


class IceServer(msgspec.Struct, frozen=True, omit_defaults=True):
    """An RTCIceServer: STUN needs only ``urls``; TURN carries short-lived credentials."""

    urls: list[str]
    username: str | None = None
    credential: str | None = None


class IceConfig(msgspec.Struct, frozen=True):
    ice_servers: list[IceServer]
    ice_transport_policy: Literal["all", "relay"]
    expires_at: float | None  # unix time when the TURN credentials stop working


class Ice(_Server, tag="ice", frozen=True):
    """Fresh ICE configuration, sent before the credentials in ``welcome`` expire."""

    ice: IceConfig


class Welcome(_Server, tag="welcome", frozen=True):
    version: int
    session: str
    device: str
    online: int
    limits: Limits
    ice: IceConfig
    vision: bool = False  # video is automatically moderated (stills are sampled)
    first_look: FirstLook = "none"


# Question-mode fields default to UNSET, which msgspec leaves out of the frame: two-person chat
# frames stay byte for byte what they were before question mode.


class Waiting(_Server, tag="waiting", frozen=True):
    stage: Literal["interests", "anyone", "any_language"]
    fallback_in: float | None = None
    # Revision 1.7: seconds until people of any language are met too (``hello.any_language``).
    language_in: float | UnsetType | None = UNSET
    since: float | UnsetType = UNSET  # question mode: unix time this wait began
    expected_wait: float | UnsetType | None = UNSET  # median recent wait (s); null: unknown


class Matched(_Server, tag="matched", frozen=True):
    pair: str  # in question mode: the room id, the same for all three
    common: list[str]
    role: SdpRole  # in question mode always "answerer", and meaningless
    seat: Seat | UnsetType = UNSET
    question: str | UnsetType = UNSET


class PartnerMessage(_Server, tag="message", frozen=True):
    pair: str
    text: str
    from_: Discusser | UnsetType = msgspec.field(default=UNSET, name="from")


class PartnerSignal(_Server, tag="signal", frozen=True, omit_defaults=True):
    pair: str
    description: SessionDescription | None = None
    candidate: IceCandidate | None = None


class PartnerTyping(_Server, tag="typing", frozen=True):
    pair: str
    on: bool
    from_: Discusser | UnsetType = msgspec.field(default=UNSET, name="from")


class PartnerLeft(_Server, tag="partner_left", frozen=True):
    pair: str
    reason: Literal["left", "disconnected"]
    who: Discusser | UnsetType = UNSET  # question mode: the discusser who left


class Reported(_Server, tag="reported", frozen=True):
    """The report is stored durably; ``ref`` is the reference to quote."""

    pair: str
    ref: str
    ref_id: int | None = None  # echoes the report frame's ``id``


class Blocked(_Server, tag="blocked", frozen=True):
    pair: str


class Banned(_Server, tag="banned", frozen=True):
    """A statement of reasons; the socket is then closed 4007."""

    reason: str
    category: str
    ends_at: float | None  # unix time; null: permanent
    ban: int
    appeal_url: str | None = None


class Stopped(_Server, tag="stopped", frozen=True):
    pass


class Notice(_Server, tag="notice", frozen=True):
    code: str
    text: str
    pair: str | None = None  # set when the notice is about one chat (e.g. safety_prompt)


class Ping(_Server, tag="ping", frozen=True):
    pass


class ServerPong(_Server, tag="pong", frozen=True):
    """The answer to the page's ``ping`` (1.6)."""


class Ack(_Server, tag="ack", frozen=True):
    """The ``message`` whose ``id`` is ``ref`` was accepted and passed on (1.6)."""

    ref: int


class Error(_Server, tag="error", frozen=True):
    code: ErrorCode
    message: str
    ref: int | None = None


class Sample(_Server, tag="sample", frozen=True):
    """Send a still of your own camera every ``interval`` seconds in ``pair`` (null: stop)."""

    pair: str
    interval: float | None
    max_px: int
    max_bytes: int
    quality: float


class Moderation(_Server, tag="moderation", frozen=True):
    """About the partner's video. ``blur``: it was found to show nudity, hide it now (the pair
    ends next). ``clear``: a first still of theirs in this pair was judged clean, so a page that
    holds their picture blurred (``welcome.first_look``) may show it."""

    pair: str
    action: Literal["blur", "clear"]
    reason: Literal["nudity"] | None


ServerMessage = (
    Welcome
    | Waiting
    | Matched
    | PartnerMessage
    | PartnerTyping
    | PartnerLeft
    | Stopped
    | Notice
    | Ping
    | ServerPong
    | Ack
    | Error
    | PartnerSignal
    | Ice
    | Reported
    | Blocked
    | Banned
    | Sample
    | Moderation
)

# --- codec ----------------------------------------------------------------------------------

_decoder = msgspec.json.Decoder(ClientMessage)
_server_decoder = msgspec.json.Decoder(ServerMessage)
_encoder = msgspec.json.Encoder()


class ProtocolError(Exception):
    """A frame that cannot become a ClientMessage; carries the stable code to answer with."""

    def __init__(self, code: ErrorCode, message: str, ref: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref


def decode(frame: str | bytes) -> ClientMessage:
    """Decode and schema-check one client frame, or raise ProtocolError."""
    try:
        message: ClientMessage = _decoder.decode(frame)
        return message
    except msgspec.ValidationError as exc:
        raise _classify(frame, str(exc)) from None
    except msgspec.DecodeError:
        raise ProtocolError(ErrorCode.BAD_JSON, "frame is not valid JSON") from None
    except RecursionError:
        raise ProtocolError(ErrorCode.BAD_JSON, "frame is nested too deeply") from None


def _classify(frame: str | bytes, detail: str) -> ProtocolError:
    # msgspec reports a bad tag at `$.type`; anything else is a field-level problem.
    try:
        raw = msgspec.json.decode(frame)
    except (msgspec.DecodeError, RecursionError):
        return ProtocolError(ErrorCode.BAD_JSON, "frame is not valid JSON")
    if not isinstance(raw, dict):
        return ProtocolError(ErrorCode.BAD_JSON, "frame must be a JSON object")
    ref = frame_id(raw.get("id"))
    if "id" in raw and raw["id"] is not None and ref is None:
        return ProtocolError(ErrorCode.BAD_ID, f"id must be an integer in 0..{MAX_FRAME_ID}")
    if raw.get("type") not in CLIENT_TYPES:
        return ProtocolError(ErrorCode.UNKNOWN_TYPE, "missing or unknown message type", ref)
    return ProtocolError(ErrorCode.BAD_MESSAGE, detail[:200], ref)


def frame_id(value: object) -> int | None:
    """``value`` if it is a valid frame ``id`` (an integer in 0..MAX_FRAME_ID), else None."""
    if type(value) is int and 0 <= value <= MAX_FRAME_ID:
        return value
    return None


def encode(message: ServerMessage) -> str:
    return _encoder.encode(message).decode()


def decode_server(frame: str | bytes) -> ServerMessage:
    """Decode a server frame; used by nodes relaying to each other and by tests."""
    message: ServerMessage = _server_decoder.decode(frame)
    return message
