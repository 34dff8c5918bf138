"""Report, block and the grooming alarm: what a person (or the text filter) says about a
partner, stored with its evidence."""

from __future__ import annotations

import logging

from parley.broker import Broker, Outcome
from parley.broker.base import Evidence
from parley.gateway.identity import Identity
from parley.gateway.notices import SAFETY_PROMPT
from parley.gateway.outcomes import answer
from parley.gateway.peer import Peer
from parley.gateway.services import Services
from parley.protocol import (
    REPORT_COMMENT_MAX_CHARS,
    Block,
    Blocked,
    ErrorCode,
    Notice,
    Report,
    Reported,
)
from parley.question import resolve_about
from parley.safety.text import RiskAlert
from parley.store import DeviceHash, FlagKind, StoreError, TranscriptLine

log = logging.getLogger("parley.gateway")


def transcript(evidence: Evidence, *, reported: str) -> list[TranscriptLine]:
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


async def raise_alarm(
    peer: Peer, svc: Services, ident: Identity, pair: str, alert: RiskAlert
) -> None:
    """Grooming signals crossed the threshold: prompt the partner, flag for a moderator."""
    broker = svc.broker
    prompt = Notice(code="safety_prompt", text=SAFETY_PROMPT, pair=pair)
    await broker.relay(ident.session, pair, prompt)
    evidence = await broker.evidence(ident.session, pair)
    if isinstance(evidence, Outcome) or peer.risk is None:
        return
    lines = transcript(evidence, reported=ident.session)
    try:
        await svc.store.add_flag(
            kind=FlagKind.GROOMING,
            device=ident.device,
            other_device=DeviceHash(evidence.reported_device),
            pair_id=pair,
            pool=evidence.pool,
            transcript=lines,
            details={"score": alert.score, **peer.risk[1].snapshot()},
            device_ip=peer.ips[0] if peer.ips else None,
        )
    except StoreError:
        log.exception("grooming flag not stored")
    svc.metrics.flags.labels("grooming").inc()


async def block(peer: Peer, svc: Services, ident: Identity, m: Block) -> None:
    broker = svc.broker
    evidence = await _evidence(broker, ident, m)
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
        evidence = await _evidence(broker, ident, m)
    if outcome is not Outcome.OK:
        answer(peer, outcome, m.id)
        return
    if evidence is None or not await _store_block(svc, ident.device, evidence):
        # Enforced by the broker for now, but not durable: say so rather than acknowledge.
        peer.error(ErrorCode.SERVER_BUSY, "the block could not be saved; try again", m.id)
        return
    peer.deliver(Blocked(pair=m.pair))


async def _evidence(broker: Broker, ident: Identity, m: Block) -> Evidence | None:
    """Whom the block names, if the broker can tell (the block itself is the broker's)."""
    found = await broker.evidence(ident.session, m.pair)
    return None if isinstance(found, Outcome) else resolve_about(found, m.about)


async def _store_block(svc: Services, device: DeviceHash, evidence: Evidence) -> bool:
    try:
        await svc.store.add_block(device, DeviceHash(evidence.reported_device))
    except StoreError:
        log.exception("block not stored")
        return False
    return True


async def report(peer: Peer, svc: Services, ident: Identity, m: Report) -> None:
    """Store the report with its evidence, then acknowledge with a reference (invariant 4)."""
    s = svc.settings
    if (
        not peer.buckets.report.take()
        or not await svc.quotas.take(
            f"report:{ident.device}", s.report_rate, s.report_burst
        )  # per device too: a new tab or node does not reset the budget
        or not await svc.sanctions.may_report(peer.ips)  # and per address
    ):
        peer.rate_limited(m.id)
        return
    evidence = await svc.broker.evidence(ident.session, m.pair)
    if isinstance(evidence, Outcome):  # stale, or busy: then the page sends it again
        answer(peer, evidence, m.id)
        return
    evidence = resolve_about(evidence, m.about)
    comment = m.comment.strip()[:REPORT_COMMENT_MAX_CHARS]
    reported = DeviceHash(evidence.reported_device)
    other = svc.sessions.get(evidence.reported)
    reported_ip = other.ips[0] if other is not None and other.ips else None
    lines = transcript(evidence, reported=evidence.reported)
    store = svc.store
    try:
        ref = await store.add_report(
            reporter=ident.device,
            reported=reported,
            category=m.category,
            pair_id=evidence.pair,
            pool=evidence.pool,
            transcript=lines,
            comment=comment,
            reported_ip=reported_ip,
            reporter_ip=peer.ips[0] if peer.ips else None,
            weight=await svc.sanctions.weigh(ident.device, lines),
        )
    except StoreError:
        log.exception("report not stored")
        peer.error(ErrorCode.SERVER_BUSY, "your report could not be saved; try again", m.id)
        return
    peer.deliver(Reported(pair=m.pair, ref=ref, ref_id=m.id))
    svc.metrics.reports.labels(m.category).inc()
    if m.category == "nudity" and other is not None and other.sampling is not None:
        svc.video.flag(other.sampling)  # sample the reported camera faster
    try:
        ban = await svc.sanctions.after_report(
            reported, reported_ip, ref, evidence.pair, evidence.pool
        )
    except StoreError:
        log.exception("mass-report check failed")
        return
    if ban is not None:
        await svc.enforce(ban)
