"""The gateway: one session state machine per WebSocket, and the heartbeat that reaps the dead.

Data flows one way: socket → gateway (decode, bounds, rates) → safety (age, text) → broker →
the partner's mailbox. Every frame a connection receives is queued in its own bounded outbox and
written by a short-lived writer task, so a slow reader can never stall its partner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import deque
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any

from starlette.types import Receive, Scope, Send

from parley.broker import Broker, Outcome, Ticket
from parley.broker.base import BanOrder, Evidence
from parley.config import Settings
from parley.ice import ice_config
from parley.metrics import Metrics
from parley.protocol import (
    PROTOCOL_STRIKES,
    PROTOCOL_VERSION,
    Banned,
    Block,
    Blocked,
    ClientMessage,
    CloseCode,
    Error,
    ErrorCode,
    Hello,
    Ice,
    Limits,
    Message,
    Next,
    Notice,
    PartnerMessage,
    PartnerSignal,
    PartnerTyping,
    Ping,
    Pong,
    ProtocolError,
    Report,
    Reported,
    ServerMessage,
    Signal,
    Start,
    Stop,
    Stopped,
    Typing,
    VideoFrame,
    Welcome,
    decode,
    encode,
)
from parley.public_figures import public_online
from parley.question import SIDES, check_question, resolve_about, side_of
from parley.safety.age_memory import AgeMemory
from parley.safety.assurance import AgeAssurance
from parley.safety.ban_poll import BanPoll
from parley.safety.devices import DeviceTokens, mint
from parley.safety.limits import Strikes, TokenBucket, quotas_for
from parley.safety.policy import RefusalCode, Refused
from parley.safety.sanctions import Sanctions
from parley.safety.text import (
    ConversationRisk,
    RiskAlert,
    RiskPolicy,
    clean_message,
    normalise_interests,
    screen_line,
)
from parley.safety.video import Sampling, VideoModeration
from parley.store import (
    Ban,
    DeviceHash,
    FlagKind,
    KeyedIpHash,
    Store,
    StoreError,
    TranscriptLine,
    device_hash,
)

log = logging.getLogger("parley.gateway")
SWEEP_STEPS = 10  # heartbeat sweep slices per tick

_STATE_ERRORS = {
    Outcome.STALE: (ErrorCode.STALE_PAIR, "that chat has ended"),
    Outcome.NOT_PAIRED: (ErrorCode.NOT_CHATTING, "you are not in a chat"),
    Outcome.BAD_STATE: (ErrorCode.BAD_STATE, "you are already in a chat"),
    Outcome.UNAVAILABLE: (ErrorCode.SERVER_BUSY, "service busy, retrying"),
    Outcome.WATCH_ONLY: (ErrorCode.WATCH_ONLY, "you asked the question: you watch, you don't type"),
    Outcome.MODE_UNAVAILABLE: (
        ErrorCode.MODE_UNAVAILABLE,
        "question mode is not available on this server yet",
    ),
}
_BUSY = "service busy, please try again"
CONTACT_MASKED = (
    "Contact details and invitations to other apps are hidden in teen chats, to keep you safe."
)
APPEAL_LIFTED = "Your appeal was accepted and the ban has been lifted. Welcome back."
APPEAL_UPHELD = "Your appeal was reviewed and the ban stays in place."
SAFETY_PROMPT = (
    "This conversation has some warning signs: questions about where you live or who is home, "
    "requests for pictures, secrets or gifts. You can leave at any time, and you can report "
    "this stranger with one click."
)
_ABUSE_CLOSES = frozenset({CloseCode.PROTOCOL_ABUSE, CloseCode.RATE_ABUSE})


def banned_notice(ban: Ban) -> Banned:
    return Banned(
        reason=ban.reason,
        category=ban.category,
        ends_at=ban.ends_at.timestamp() if ban.ends_at else None,
        ban=ban.id,
        appeal_url="/appeal",  # parley.moderation.APPEAL_PATH: the ban's owner appeals there
    )


# Refusals that no other hello on this connection could fix; the rest may be retried.
_FINAL_REFUSALS = frozenset(
    {RefusalCode.AGE_REFUSED, RefusalCode.MINOR_POOL_CLOSED, RefusalCode.AGE_MISMATCH}
)


def _transcript(evidence: Evidence, *, reported: str) -> list[TranscriptLine]:
    """The ring buffer as the store keeps it: each line labelled by the side that said it (in
    a question room also by seat; the third person there is "other")."""
    lines: list[TranscriptLine] = []
    for line in evidence.lines:
        if line.sender == reported:
            lines.append({"t": line.at, "from": "reported", "text": line.text})
        elif line.seat is None or line.sender == evidence.reporter:
            lines.append({"t": line.at, "from": "reporter", "text": line.text})
        else:
            lines.append({"t": line.at, "from": "other", "text": line.text})
        if line.seat is not None:
            lines[-1]["seat"] = line.seat
    return lines


class Identity:
    """What a valid hello established. Immutable for the life of the connection."""

    __slots__ = ("device", "fallback", "interests", "mode", "pool", "session")

    def __init__(
        self,
        session: str,
        device: DeviceHash,
        mode: str,
        pool: str,
        interests: tuple[str, ...],
        fallback: bool,
    ) -> None:
        self.session = session
        self.device = device
        self.mode = mode
        self.pool = pool
        self.interests = interests
        self.fallback = fallback

    def ticket(self, question: str | None = None) -> Ticket:
        side = side_of(self.mode)
        if side is not None:  # question mode ignores interests
            return Ticket(self.session, self.device, self.pool, side=side, question=question)
        return Ticket(self.session, self.device, self.pool, self.interests, self.fallback)


class Connection:
    """One browser tab. Implements the broker's Mailbox."""

    __slots__ = (
        "_closer",
        "_closing",
        "_outbox",
        "_writer",
        "buckets",
        "gateway",
        "ice_expires",
        "ident",
        "ip",
        "ips",
        "last_ping",
        "last_seen",
        "masked_in",
        "opened",
        "protocol_strikes",
        "quota",
        "rate_strikes",
        "receive",
        "risk",
        "sampling",
        "send",
    )

    def __init__(self, gateway: Gateway, receive: Receive, send: Send, ip: str) -> None:
        s = gateway.settings
        now = time.monotonic()
        self.gateway = gateway
        self.receive = receive
        self.send = send
        self.ip = ip
        self.ident: Identity | None = None
        self.ice_expires: float | None = None
        self.ips: list[KeyedIpHash] = []  # keyed hashes of the address; the address is not kept
        self.quota: str | None = None  # the per-address connection quota this connection holds
        # Grooming signals in the lines this person sends in one pair: (pair id, scorer).
        self.risk: tuple[str, ConversationRisk] | None = None
        self.masked_in: str | None = None  # the pair in which contact_masked was last said
        self.sampling: Sampling | None = None  # video stills for vision moderation, when on
        self.opened = self.last_seen = self.last_ping = now
        self.buckets = {
            "frame": TokenBucket(s.frame_rate, s.frame_burst, now=now),
            "message": TokenBucket(s.message_rate, s.message_burst, now=now),
            "typing": TokenBucket(s.typing_rate, s.typing_burst, now=now),
            "match": TokenBucket(s.next_rate, s.next_burst, now=now),
            "signal": TokenBucket(s.signal_rate, s.signal_burst, now=now),
            "report": TokenBucket(s.report_rate, s.report_burst, now=now),
            "still": TokenBucket(s.vision_frame_rate, s.vision_frame_burst, now=now),
        }
        self.protocol_strikes = Strikes(s.max_protocol_strikes, s.strike_window)
        self.rate_strikes = Strikes(s.max_rate_strikes, s.strike_window)
        self._outbox: deque[str] = deque()
        self._writer: asyncio.Task[None] | None = None
        self._closing = False
        self._closer: asyncio.Task[None] | None = None

    # --- outbound -------------------------------------------------------------------------

    def deliver(self, event: ServerMessage) -> None:
        if self._closing:
            return
        if len(self._outbox) >= self.gateway.settings.outbound_queue:
            self.close_soon(CloseCode.SLOW_CONSUMER)
            return
        self._outbox.append(encode(event))
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._drain())
        if self.sampling is not None:  # follows the pair; a match starts sampling
            self.gateway.video.track(self, self.sampling, event)

    async def _drain(self) -> None:
        try:
            while self._outbox:
                await self.send({"type": "websocket.send", "text": self._outbox.popleft()})
        except Exception:  # the peer is gone; the reader loop notices and cleans up
            self._outbox.clear()
        finally:
            self._writer = None

    def error(self, code: ErrorCode, message: str, ref: int | None = None) -> None:
        self.gateway.metrics.errors.labels(code.value).inc()
        self.deliver(Error(code=code, message=message, ref=ref))

    # --- closing --------------------------------------------------------------------------

    @property
    def closing(self) -> bool:
        """A close is under way or scheduled: nothing more is delivered."""
        return self._closing or self._closer is not None

    def close_soon(self, code: CloseCode) -> None:
        if not self._closing and self._closer is None:
            self._closer = asyncio.get_running_loop().create_task(self.close(code))

    async def close(self, code: CloseCode) -> None:
        """Leave every queue and pair at once, flush what is queued, then close the socket."""
        if self._closing:
            return
        self._closing = True
        self.gateway.metrics.closes.labels(str(int(code))).inc()
        await self.gateway.forget(self)
        if code in _ABUSE_CLOSES and self.ident is not None:
            with contextlib.suppress(StoreError):
                ban = await self.gateway.sanctions.after_abuse_close(
                    self.ident.device, self.ips[0] if self.ips else None
                )
                if ban is not None:
                    await self.gateway.enforce(ban)
        writer = self._writer
        if writer is not None and code != CloseCode.SLOW_CONSUMER:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(writer), 2.0)
        if self._writer is not None:
            self._writer.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.send({"type": "websocket.close", "code": int(code)}), 2)

    # --- inbound --------------------------------------------------------------------------

    async def run(self) -> None:
        receive = self.receive
        while not self._closing:
            msg = await receive()
            if self._closing:
                break
            kind = msg["type"]
            if kind == "websocket.receive":
                self.last_seen = time.monotonic()
                await self.on_frame(msg)
            elif kind == "websocket.disconnect":
                return
        # Closing from another task: returning now would let the server drop the TCP connection
        # before the close frame (with its code) is written.
        if self._closer is not None:
            await asyncio.shield(self._closer)

    async def on_frame(self, msg: MutableMapping[str, Any]) -> None:
        s = self.gateway.settings
        text = msg.get("text")
        if text is None:
            self.strike(ErrorCode.BAD_FRAME, "only text frames are accepted")
            return
        if not self.buckets["frame"].take():
            self.rate_limited(None)
            return
        n = len(text)  # UTF-8 needs at most 4 bytes a character: encode only when it matters
        limit = self.gateway.frame_limit  # above max_frame_bytes only for `frame` stills
        size = len(text.encode()) if n * 4 > s.max_frame_bytes else n
        if size > limit:
            self.strike(ErrorCode.FRAME_TOO_LARGE, f"frames are at most {s.max_frame_bytes} bytes")
            return
        try:
            message: ClientMessage | None = decode(text)
        except ProtocolError as exc:
            if size <= s.max_frame_bytes:
                self.strike(exc.code, exc.message, exc.ref)
                return
            message = None
        if size > s.max_frame_bytes and not isinstance(message, VideoFrame):
            self.strike(ErrorCode.FRAME_TOO_LARGE, f"frames are at most {s.max_frame_bytes} bytes")
            return
        assert message is not None
        try:
            await self.dispatch(message)
        except ProtocolError as exc:
            self.strike(exc.code, exc.message, message.id if exc.ref is None else exc.ref)

    def strike(self, code: ErrorCode, message: str, ref: int | None = None) -> None:
        self.error(code, message, ref)
        if code in PROTOCOL_STRIKES and self.protocol_strikes.hit():
            self.close_soon(CloseCode.PROTOCOL_ABUSE)

    def rate_limited(self, ref: int | None) -> None:
        self.error(ErrorCode.RATE_LIMITED, "slow down", ref)
        if self.rate_strikes.hit():
            self.close_soon(CloseCode.RATE_ABUSE)

    async def dispatch(self, m: ClientMessage) -> None:
        ident = self.ident
        if isinstance(m, Pong):
            return
        if isinstance(m, Hello):
            if ident is not None:
                raise ProtocolError(ErrorCode.ALREADY_HELLO, "hello was already sent", m.id)
            await self.hello(m)
            return
        if ident is None:
            raise ProtocolError(ErrorCode.HELLO_REQUIRED, "send hello first", m.id)
        broker = self.gateway.broker
        if isinstance(m, Message):
            if ident.mode == "question":
                self.answer(Outcome.WATCH_ONLY, m.id)
                return
            if not self.buckets["message"].take():
                self.rate_limited(m.id)
                return
            text = clean_message(m.text, max_chars=self.gateway.settings.max_message_chars)
            text, alert = self.screen(ident, m.pair, text)
            outcome = await broker.relay(
                ident.session, m.pair, PartnerMessage(pair=m.pair, text=text)
            )
            if outcome is Outcome.OK:
                self.gateway.metrics.relayed.inc()
                if alert is not None:
                    await self.raise_alarm(ident, m.pair, alert)
            else:
                self.answer(outcome, m.id)
        elif isinstance(m, Typing):
            if ident.mode == "question":
                self.answer(Outcome.WATCH_ONLY, m.id)
                return
            if not self.buckets["typing"].take():
                self.rate_limited(m.id)
                return
            outcome = await broker.relay(ident.session, m.pair, PartnerTyping(pair=m.pair, on=m.on))
            if outcome is not Outcome.OK:
                self.answer(outcome, m.id)
        elif isinstance(m, Signal):
            await self.signal(ident, m)
        elif isinstance(m, Start | Next):
            if not self.buckets["match"].take():
                self.rate_limited(m.id)
                return
            op = broker.start_match if isinstance(m, Start) else broker.next_match
            outcome = await op(self.match_ticket(ident, m))
            if outcome not in (Outcome.OK, Outcome.WAITING):  # already waiting: nothing to say
                self.answer(outcome, m.id)
        elif isinstance(m, Stop):
            outcome = await broker.stop(ident.session)
            if outcome is Outcome.UNAVAILABLE:
                self.answer(outcome, m.id)
            else:
                self.deliver(Stopped())
        elif isinstance(m, Block):
            await self.block(ident, m)
        elif isinstance(m, Report):
            await self.report(ident, m)
        elif isinstance(m, VideoFrame):
            self.gateway.video.on_frame(self, ident, m)

    def match_ticket(self, ident: Identity, m: Start | Next) -> Ticket:
        """The ticket for ``start``/``next``; in question mode with the asker's question,
        screened like a chat line."""
        if ident.mode not in SIDES:
            if m.question is not None:
                raise ProtocolError(ErrorCode.BAD_MESSAGE, "question is only for question mode")
            return ident.ticket()
        if not self.gateway.broker.supports_rooms:
            raise ProtocolError(*_STATE_ERRORS[Outcome.MODE_UNAVAILABLE])
        if ident.mode != "question":
            if m.question is not None:
                raise ProtocolError(ErrorCode.BAD_MESSAGE, "only the asker sends a question")
            return ident.ticket()
        minor, mask = self.text_policy(ident)
        question, masked = check_question(m.question, minor=minor, mask=mask)
        if masked:
            self.deliver(Notice(code="contact_masked", text=CONTACT_MASKED))
        return ident.ticket(question)

    def text_policy(self, ident: Identity) -> tuple[bool, bool]:
        """(in the minor pool, contact details masked) for this person's text."""
        s = self.gateway.settings
        minor = ident.pool.startswith("minor:")
        mask = s.text_mask_contacts == "everyone" or (s.text_mask_contacts == "minors" and minor)
        return minor, mask

    def screen(self, ident: Identity, pair: str, text: str) -> tuple[str, RiskAlert | None]:
        """The text filter: mask contact details and score grooming signals (minor pool)."""
        s = self.gateway.settings
        minor, mask = self.text_policy(ident)
        if not minor and not mask:
            return text, None
        risk = None
        if minor:
            if self.risk is None or self.risk[0] != pair:
                self.risk = (pair, ConversationRisk(RiskPolicy(threshold=s.text_risk_threshold)))
            risk = self.risk[1]
        screened = screen_line(text, mask=mask, risk=risk)
        if mask and screened.kinds and self.masked_in != pair:  # once per chat is enough
            self.masked_in = pair
            self.deliver(Notice(code="contact_masked", text=CONTACT_MASKED, pair=pair))
        return screened.text, screened.alert

    async def raise_alarm(self, ident: Identity, pair: str, alert: RiskAlert) -> None:
        """Grooming signals crossed the threshold: prompt the partner, flag for a moderator."""
        broker = self.gateway.broker
        prompt = Notice(code="safety_prompt", text=SAFETY_PROMPT, pair=pair)
        await broker.relay(ident.session, pair, prompt)
        evidence = await broker.evidence(ident.session, pair)
        if evidence is None or self.risk is None:
            return
        transcript = _transcript(evidence, reported=ident.session)
        try:
            await self.gateway.store.add_flag(
                kind=FlagKind.GROOMING,
                device=ident.device,
                other_device=DeviceHash(evidence.reported_device),
                pair_id=pair,
                pool=evidence.pool,
                transcript=transcript,
                details={"score": alert.score, **self.risk[1].snapshot()},
                device_ip=self.ips[0] if self.ips else None,
            )
        except StoreError:
            log.exception("grooming flag not stored")
        self.gateway.metrics.flags.labels("grooming").inc()

    async def block(self, ident: Identity, m: Block) -> None:
        broker = self.gateway.broker
        evidence = await broker.evidence(ident.session, m.pair)
        if evidence is not None:
            evidence = resolve_about(evidence, m.about)
        # The seat the person named (or, in a room, the other discusser by default): the broker
        # blocks that one even if the look-up above missed.
        seat = evidence.reported_seat if evidence is not None else m.about
        if seat is not None:
            outcome = await broker.block_seat(ident.session, m.pair, seat)
        else:
            outcome = await broker.block(ident.session, m.pair)
        if outcome is Outcome.OK and evidence is None:
            # Blocked, though the look-up before missed (the pair changed in between, or Redis
            # blinked): the pair's record is kept for reports, so whom to store is still known.
            evidence = await broker.evidence(ident.session, m.pair)
            if evidence is not None:
                evidence = resolve_about(evidence, m.about)
        if outcome is not Outcome.OK:
            self.answer(outcome, m.id)
            return
        if evidence is None or not await self._store_block(ident.device, evidence):
            # Enforced by the broker for now, but not durable: say so rather than acknowledge.
            self.error(ErrorCode.SERVER_BUSY, "the block could not be saved; try again", m.id)
            return
        self.deliver(Blocked(pair=m.pair))

    async def _store_block(self, device: DeviceHash, evidence: Evidence) -> bool:
        try:
            await self.gateway.store.add_block(device, DeviceHash(evidence.reported_device))
        except StoreError:
            log.exception("block not stored")
            return False
        return True

    async def report(self, ident: Identity, m: Report) -> None:
        """Store the report with its evidence, then acknowledge with a reference (invariant 4)."""
        s = self.gateway.settings
        if (
            not self.buckets["report"].take()
            or not await self.gateway.quotas.take(
                f"report:{ident.device}", s.report_rate, s.report_burst
            )  # per device too: a new tab or node does not reset the budget
            or not await self.gateway.sanctions.may_report(self.ips)  # and per address
        ):
            self.rate_limited(m.id)
            return
        evidence = await self.gateway.broker.evidence(ident.session, m.pair)
        if evidence is None:
            self.answer(Outcome.STALE, m.id)
            return
        evidence = resolve_about(evidence, m.about)
        comment = m.comment.strip()[:1000]
        reported = DeviceHash(evidence.reported_device)
        other = self.gateway.sessions.get(evidence.reported)
        reported_ip = other.ips[0] if other is not None and other.ips else None
        transcript = _transcript(evidence, reported=evidence.reported)
        store = self.gateway.store
        try:
            ref = await store.add_report(
                reporter=ident.device,
                reported=reported,
                category=m.category,
                pair_id=evidence.pair,
                pool=evidence.pool,
                transcript=transcript,
                comment=comment,
                reported_ip=reported_ip,
                reporter_ip=self.ips[0] if self.ips else None,
                weight=await self.gateway.sanctions.weigh(ident.device, transcript),
            )
        except StoreError:
            log.exception("report not stored")
            self.error(ErrorCode.SERVER_BUSY, "your report could not be saved; try again", m.id)
            return
        self.deliver(Reported(pair=m.pair, ref=ref, ref_id=m.id))
        self.gateway.metrics.reports.labels(m.category).inc()
        if m.category == "nudity" and other is not None and other.sampling is not None:
            self.gateway.video.flag(other.sampling)  # sample the reported camera faster
        try:
            ban = await self.gateway.sanctions.after_report(
                reported, reported_ip, ref, evidence.pair, evidence.pool
            )
        except StoreError:
            log.exception("mass-report check failed")
            return
        if ban is not None:
            await self.gateway.enforce(ban)

    async def signal(self, ident: Identity, m: Signal) -> None:
        if not self.buckets["signal"].take():
            self.rate_limited(m.id)
            return
        if ident.mode != "video":
            self.error(ErrorCode.NOT_VIDEO, "signals are only for video chats", m.id)
            return
        if (m.description is None) == (m.candidate is None):
            self.error(ErrorCode.BAD_SIGNAL, "a signal carries a description or a candidate", m.id)
            return
        event = PartnerSignal(pair=m.pair, description=m.description, candidate=m.candidate)
        outcome = await self.gateway.broker.relay(ident.session, m.pair, event)
        if outcome is not Outcome.OK:
            self.answer(outcome, m.id)

    def refresh_ice(self, now: float) -> None:
        """Send new TURN credentials when the current ones are four-fifths through their life."""
        if self.ident is None or self.ice_expires is None:
            return
        if self.ice_expires - now > self.gateway.settings.turn_ttl / 5:
            return
        ice = ice_config(self.gateway.settings, self.ident.session, now)
        self.ice_expires = ice.expires_at
        self.deliver(Ice(ice=ice))

    def answer(self, outcome: Outcome, ref: int | None) -> None:
        code, text = _STATE_ERRORS[outcome]
        self.error(code, text, ref)

    async def hello(self, m: Hello) -> None:
        s = self.gateway.settings
        if m.version != PROTOCOL_VERSION:
            self.error(
                ErrorCode.UNSUPPORTED_VERSION,
                f"this server speaks version {PROTOCOL_VERSION}",
                m.id,
            )
            await self.close(CloseCode.UNSUPPORTED_VERSION)
            return
        tokens = self.gateway.devices
        known = m.device if m.device and tokens.verify(m.device) else None
        admission = await self.gateway.assurance.admit(
            age=m.age, attestation=m.attestation, mode=m.mode
        )
        admission = await self.gateway.ages.recall(
            admission, device_hash(known) if known else None, self.ip
        )
        if isinstance(admission, Refused):
            self.error(ErrorCode(admission.code.value), admission.message, m.id)
            if admission.code in _FINAL_REFUSALS:
                await self.close(CloseCode.REFUSED)
            return
        band = admission.band
        interests = normalise_interests(
            m.interests, max_count=s.max_interests, max_chars=s.max_interest_chars
        )
        language = m.language.strip().lower().split("-")[0][:8]
        if language not in s.language_set:
            language = "en"
        token = known or await mint(
            tokens, self.gateway.quotas, self.ip, s.device_mint_rate, s.device_mint_burst
        )
        if token is None:
            self.rate_limited(m.id)
            return
        device = device_hash(token)
        store = self.gateway.store
        try:
            self.ips = await store.ip_hash(self.ip)
            ban = await self.gateway.sanctions.active_ban(device, self.ips)
            if ban is None:
                blocked = await store.blocked_pairs_for(device)
                # A durable write per hello would cap admissions; write only what is new.
                expires = admission.expires_at
                if admission.attested or await store.get_device(device) is None:
                    await store.touch_device(
                        device,
                        age_band=str(band) if admission.attested else None,
                        declared_band=str(band),
                        band_expires_at=(
                            datetime.fromtimestamp(expires, UTC) if expires is not None else None
                        ),
                    )
        except StoreError:
            log.exception("store unavailable at hello")
            self.error(ErrorCode.SERVER_BUSY, _BUSY, m.id)
            return
        if ban is not None:
            await self.appeal_outcome(device)  # an upheld appeal is news to a banned person too
            self.deliver(banned_notice(ban))
            await self.close(CloseCode.BANNED)
            return
        session = "s_" + secrets.token_urlsafe(12)
        self.ident = Identity(
            session, device, m.mode, f"{band}:{m.mode}:{language}", tuple(interests), m.fallback
        )
        ice = ice_config(s, session)
        self.ice_expires = ice.expires_at
        self.gateway.sessions[session] = self
        self.sampling = self.gateway.video.sampling_for(m.mode)
        await self.gateway.broker.attach(session, device, self, frozenset(blocked))
        stats = await self.gateway.broker.stats()
        self.deliver(
            Welcome(
                version=PROTOCOL_VERSION,
                session=session,
                device=token,
                online=public_online(stats.online, s.public_online_step),
                limits=self.gateway.limits,
                ice=ice,
                vision=self.gateway.video.enabled,
            )
        )
        log.debug("hello", extra={"session": session, "pool": self.ident.pool})
        await self.appeal_outcome(device)

    async def appeal_outcome(self, device: DeviceHash) -> None:
        """Tell a person the decision on their appeal, once, on their next visit."""
        store = self.gateway.store
        try:
            appeal = await store.pending_decision_for(device, self.ips)
            if appeal is None or appeal.decision not in ("lifted", "upheld"):
                return
            await store.mark_decision_seen(appeal.id)
        except StoreError:
            return
        if appeal.decision == "lifted":
            self.deliver(Notice(code="appeal_lifted", text=APPEAL_LIFTED))
        else:
            reason = appeal.decision_reason or ""
            self.deliver(Notice(code="appeal_upheld", text=f"{APPEAL_UPHELD} {reason}".strip()))


class Gateway:
    def __init__(
        self,
        settings: Settings,
        broker: Broker,
        metrics: Metrics,
        devices: DeviceTokens,
        assurance: AgeAssurance,
        store: Store,
    ) -> None:
        self.settings = settings
        self.assurance = assurance
        self.store = store
        self.broker = broker
        self.metrics = metrics
        self.devices = devices
        self.connections: set[Connection] = set()
        self.sessions: dict[str, Connection] = {}
        self.quotas = quotas_for(broker)  # per address and per device: shared by all nodes
        self.sanctions = Sanctions(settings, store, self.quotas)
        self.ages = AgeMemory(settings, store)
        self.limits = Limits(
            max_frame_bytes=settings.max_frame_bytes,
            max_message_chars=settings.max_message_chars,
            max_interests=settings.max_interests,
            max_interest_chars=settings.max_interest_chars,
            heartbeat_interval=settings.heartbeat_interval,
            heartbeat_timeout=settings.heartbeat_timeout,
            interest_fallback=settings.interest_fallback,
        )
        self._heartbeat: asyncio.Task[None] | None = None
        self._ban_poll: asyncio.Task[None] | None = None
        broker.on_ban(self.apply_ban)
        self.video = VideoModeration(
            settings, broker, store, self.sanctions, metrics, enforce=self.enforce
        )
        self.frame_limit = settings.max_frame_bytes

    async def start(self) -> None:
        await self.video.start()  # loads the classifier in its workers (or warns: vision off)
        if self.video.enabled:
            self.frame_limit = max(self.settings.max_frame_bytes, self.settings.vision_frame_chars)
        loop = asyncio.get_running_loop()
        self._heartbeat = loop.create_task(self._beat())
        # Many nodes (shared quotas mean a shared broker): a ban whose announcement this node
        # missed still reaches its live sessions, from the store, within a poll interval.
        if self.broker.quotas() is not None and self.settings.ban_poll_seconds > 0:
            every = self.settings.ban_poll_seconds
            poll = BanPoll(self.store, self.apply_ban, banned_notice, every)
            self._ban_poll = loop.create_task(poll.run())

    async def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        if self._ban_poll is not None:
            self._ban_poll.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ban_poll
        await asyncio.gather(
            *(c.close(CloseCode.GOING_AWAY) for c in list(self.connections)),
            return_exceptions=True,
        )
        await self.video.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The raw ASGI WebSocket endpoint: no framework layer on the hot path."""
        if (await receive())["type"] != "websocket.connect":
            return
        client = scope.get("client")
        ip = client[0] if client else "unknown"
        await send({"type": "websocket.accept"})
        conn = Connection(self, receive, send, ip)
        s = self.settings
        self.connections.add(conn)
        full = len(self.connections) > s.max_connections or not await self.admit_address(conn)
        self.metrics.connections.inc()
        try:
            if full:
                await conn.close(CloseCode.SERVER_FULL)
                return
            await conn.run()
        finally:
            await self.forget(conn)

    async def admit_address(self, conn: Connection) -> bool:
        """The per-address connection cap, counted across every node (keyed by a digest: the
        address is not kept)."""
        key = f"conn:{self.devices.address_tag(conn.ip)}"
        if not await self.quotas.hold(key, self.settings.max_connections_per_ip):
            return False
        conn.quota = key
        return True

    async def enforce(self, ban: Ban) -> None:
        """Apply a new ban mid-chat on every node, through the broker (``apply_ban`` here)."""
        await self.broker.announce_ban(BanOrder(ban.device_hash, ban.ip_hash, banned_notice(ban)))

    def apply_ban(self, order: BanOrder) -> None:
        """Every local session a ban covers sees the reasons and leaves (closed 4007). The same
        ban may come twice (announced, then read from the store): a closing session is left be."""
        for conn in list(self.sessions.values()):
            ident = conn.ident
            if ident is None or conn.closing:
                continue
            by_ip = order.ip_hash is not None and any(h.digest == order.ip_hash for h in conn.ips)
            if ident.device == order.device or by_ip:
                conn.deliver(order.notice)
                conn.close_soon(CloseCode.BANNED)

    async def forget(self, conn: Connection) -> None:
        """Remove a connection from every structure. Idempotent."""
        if conn not in self.connections:
            return
        self.connections.discard(conn)
        if conn.quota is not None:
            quota, conn.quota = conn.quota, None
            await self.quotas.release(quota)
        if conn.ident is not None:
            self.sessions.pop(conn.ident.session, None)
            await self.broker.detach(conn.ident.session)

    async def _beat(self) -> None:
        s = self.settings
        tick = max(0.05, min(1.0, s.heartbeat_interval / 2, s.hello_timeout / 4))
        ping = Ping()
        # Each tick's sweep is done in SWEEP_STEPS slices, with the event loop free in between:
        # with tens of thousands of sockets one pass (and its burst of pings) would stall every
        # other connection for as long as it takes.
        due: list[Connection] = []
        step = slices = 0
        while True:
            if slices == 0:  # once a tick, as one pass would
                due, slices = list(self.connections), SWEEP_STEPS
                step = -(-len(due) // SWEEP_STEPS)
            await asyncio.sleep(tick / SWEEP_STEPS)
            slices -= 1
            now = time.monotonic()
            wall = time.time()
            batch, due = due[:step], due[step:]
            for conn in batch:
                if conn not in self.connections:
                    continue  # closed since this sweep began
                conn.refresh_ice(wall)
                if conn.sampling is not None:
                    self.video.tick(conn, conn.sampling, now)
                silent = now - conn.last_seen > s.heartbeat_timeout
                no_hello = conn.ident is None and now - conn.opened > s.hello_timeout
                if silent or no_hello:
                    conn.close_soon(CloseCode.HEARTBEAT_TIMEOUT)
                elif now - max(conn.last_seen, conn.last_ping) >= s.heartbeat_interval:
                    conn.last_ping = now
                    conn.deliver(ping)
