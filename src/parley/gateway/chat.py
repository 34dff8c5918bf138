"""Chat traffic between partners: message, typing, WebRTC signals, and start/next/stop."""

from __future__ import annotations

from parley.broker import Outcome, Ticket
from parley.gateway.identity import Identity
from parley.gateway.notices import CONTACT_MASKED
from parley.gateway.outcomes import answer
from parley.gateway.peer import Peer
from parley.gateway.reports import raise_alarm
from parley.gateway.services import Services
from parley.protocol import (
    Ack,
    ErrorCode,
    Message,
    Next,
    Notice,
    PartnerMessage,
    PartnerSignal,
    PartnerTyping,
    ProtocolError,
    Signal,
    Start,
    Stop,
    Stopped,
    Typing,
)
from parley.question import check_question
from parley.quotas.bucket import TokenBucket
from parley.safety.text import (
    ConversationRisk,
    RiskAlert,
    RiskPolicy,
    clean_message,
    screen_line,
)


async def message(peer: Peer, svc: Services, ident: Identity, m: Message) -> None:
    if not _may_chat(peer, ident, peer.buckets.message, m.id):
        return
    text = clean_message(m.text, max_chars=svc.settings.max_message_chars)
    text, alert = screen(peer, svc, ident, m.pair, text)
    outcome = await svc.broker.relay(ident.session, m.pair, PartnerMessage(pair=m.pair, text=text))
    if outcome is Outcome.OK:
        svc.metrics.relayed.inc()
        if m.id is not None:  # 1.6: the page shows the line as sent only now
            peer.deliver(Ack(ref=m.id))
        if alert is not None:
            await raise_alarm(peer, svc, ident, m.pair, alert)
    else:
        answer(peer, outcome, m.id)


async def typing(peer: Peer, svc: Services, ident: Identity, m: Typing) -> None:
    if not _may_chat(peer, ident, peer.buckets.typing, m.id):
        return
    outcome = await svc.broker.relay(ident.session, m.pair, PartnerTyping(pair=m.pair, on=m.on))
    if outcome is not Outcome.OK:
        answer(peer, outcome, m.id)


def _may_chat(peer: Peer, ident: Identity, bucket: TokenBucket, ref: int | None) -> bool:
    """A question-mode watcher cannot write, and chat traffic is rate limited; else answered."""
    if ident.mode == "question":
        answer(peer, Outcome.WATCH_ONLY, ref)
        return False
    if not bucket.take():
        peer.rate_limited(ref)
        return False
    return True


async def signal(peer: Peer, svc: Services, ident: Identity, m: Signal) -> None:
    if not peer.buckets.signal.take():
        peer.rate_limited(m.id)
        return
    if ident.mode != "video":
        peer.error(ErrorCode.NOT_VIDEO, "signals are only for video chats", m.id)
        return
    if (m.description is None) == (m.candidate is None):
        peer.error(ErrorCode.BAD_SIGNAL, "a signal carries a description or a candidate", m.id)
        return
    event = PartnerSignal(pair=m.pair, description=m.description, candidate=m.candidate)
    outcome = await svc.broker.relay(ident.session, m.pair, event)
    if outcome is not Outcome.OK:
        answer(peer, outcome, m.id)


async def match(peer: Peer, svc: Services, ident: Identity, m: Start | Next) -> None:
    if not peer.buckets.match.take():
        peer.rate_limited(m.id)
        return
    broker = svc.broker
    op = broker.start_match if isinstance(m, Start) else broker.next_match
    outcome = await op(match_ticket(peer, svc, ident, m))
    if outcome not in (Outcome.OK, Outcome.WAITING):  # already waiting: nothing to say
        answer(peer, outcome, m.id)


async def stop(peer: Peer, svc: Services, ident: Identity, m: Stop) -> None:
    outcome = await svc.broker.stop(ident.session)
    if outcome is Outcome.UNAVAILABLE:
        answer(peer, outcome, m.id)
    else:
        peer.deliver(Stopped())


def match_ticket(peer: Peer, svc: Services, ident: Identity, m: Start | Next) -> Ticket:
    """The ticket for ``start``/``next``; in question mode with the asker's question,
    screened like a chat line."""
    if ident.pool.side is None:
        if m.question is not None:
            raise ProtocolError(ErrorCode.BAD_MESSAGE, "question is only for question mode")
        return ident.ticket()
    if ident.mode != "question":
        if m.question is not None:
            raise ProtocolError(ErrorCode.BAD_MESSAGE, "only the asker sends a question")
        return ident.ticket()
    minor, mask = text_policy(svc, ident)
    question, masked = check_question(m.question, minor=minor, mask=mask)
    if masked:
        peer.deliver(Notice(code="contact_masked", text=CONTACT_MASKED))
    return ident.ticket(question)


def text_policy(svc: Services, ident: Identity) -> tuple[bool, bool]:
    """(in the minor pool, contact details masked) for this person's text."""
    s = svc.settings
    minor = ident.pool.minor
    mask = s.text_mask_contacts == "everyone" or (s.text_mask_contacts == "minors" and minor)
    return minor, mask


def screen(
    peer: Peer, svc: Services, ident: Identity, pair: str, text: str
) -> tuple[str, RiskAlert | None]:
    """The text filter: mask contact details and score grooming signals (minor pool)."""
    s = svc.settings
    minor, mask = text_policy(svc, ident)
    if not minor and not mask:
        return text, None
    risk = None
    if minor:
        if peer.risk is None or peer.risk[0] != pair:
            peer.risk = (pair, ConversationRisk(RiskPolicy(threshold=s.text_risk_threshold)))
        risk = peer.risk[1]
    screened = screen_line(text, mask=mask, risk=risk)
    if mask and screened.kinds and peer.masked_in != pair:  # once per chat is enough
        peer.masked_in = pair
        peer.deliver(Notice(code="contact_masked", text=CONTACT_MASKED, pair=pair))
    return screened.text, screened.alert
