"""Hello and admission: version, age assurance, device token, bans, then the broker."""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime

from parley.gateway.identity import Identity
from parley.gateway.notices import APPEAL_LIFTED, APPEAL_UPHELD, BUSY, banned_notice
from parley.gateway.peer import Peer
from parley.gateway.services import Services
from parley.ice import ice_config
from parley.pool import Pool
from parley.protocol import PROTOCOL_VERSION, CloseCode, ErrorCode, Hello, Notice, Welcome
from parley.public_figures import public_online
from parley.safety.devices import mint
from parley.safety.policy import RefusalCode, Refused
from parley.safety.text import normalise_interests
from parley.store import Appeal, StoreError, device_hash

log = logging.getLogger("parley.gateway")

# Refusals that no other hello on this connection could fix; the rest may be retried.
_FINAL_REFUSALS = frozenset(
    {RefusalCode.AGE_REFUSED, RefusalCode.MINOR_POOL_CLOSED, RefusalCode.AGE_MISMATCH}
)


async def hello(peer: Peer, svc: Services, m: Hello) -> None:
    peer.greeted = True  # being answered: the hello timeout is for the silent (heartbeat.py)
    try:
        await answer(peer, svc, m)
    finally:
        peer.greeted = peer.ident is not None  # not admitted: it may time out again


async def answer(peer: Peer, svc: Services, m: Hello) -> None:
    s = svc.settings
    if m.version != PROTOCOL_VERSION:
        peer.error(
            ErrorCode.UNSUPPORTED_VERSION,
            f"this server speaks version {PROTOCOL_VERSION}",
            m.id,
        )
        await peer.close(CloseCode.UNSUPPORTED_VERSION)
        return
    tokens = svc.devices
    known = m.device if m.device and tokens.verify(m.device) else None
    returning = device_hash(known) if known else None
    store = svc.store
    admission = await svc.assurance.admit(age=m.age, attestation=m.attestation, mode=m.mode)
    facts = None
    if not isinstance(admission, Refused):
        try:
            # Device record, bans, blocks, age memory and appeal news in one read, shared
            # with the other hellos waiting now (store/admission.py).
            peer.ips = await store.ip_hash(peer.ip)
            facts = await store.admission(returning, peer.ips)
        except StoreError:
            log.exception("store unavailable at hello")
            peer.error(ErrorCode.SERVER_BUSY, BUSY, m.id)
            return
    admission = await svc.ages.recall(admission, returning, peer.ip, facts)
    if isinstance(admission, Refused):
        peer.error(ErrorCode(admission.code.value), admission.message, m.id)
        if admission.code in _FINAL_REFUSALS:
            await peer.close(CloseCode.REFUSED)
        return
    band = admission.band
    interests = normalise_interests(
        m.interests, max_count=s.max_interests, max_chars=s.max_interest_chars
    )
    language = m.language.strip().lower().split("-")[0][:8]
    if language not in s.language_set:
        language = "en"
    token = known or await mint(
        tokens, svc.quotas, peer.ip, s.device_mint_rate, s.device_mint_burst
    )
    if token is None:
        peer.rate_limited(m.id)
        return
    device = device_hash(token)
    assert facts is not None  # read above for every hello not refused
    # A new token's device has no record, blocks or ban of its own: its facts are the address's.
    ban = facts.ban
    try:
        if ban is None:
            blocked = facts.blocked
            # A durable write per hello would cap admissions; write only what is new.
            expires = admission.expires_at
            if admission.attested or facts.device is None:
                await store.touch_device_batched(
                    device,
                    age_band=str(band) if admission.attested else None,
                    declared_band=str(band),
                    band_expires_at=(
                        datetime.fromtimestamp(expires, UTC) if expires is not None else None
                    ),
                )
    except StoreError:
        log.exception("store unavailable at hello")
        peer.error(ErrorCode.SERVER_BUSY, BUSY, m.id)
        return
    if ban is not None:
        await appeal_outcome(peer, svc, facts.appeal)  # an upheld appeal is news to the banned too
        peer.deliver(banned_notice(ban))
        await peer.close(CloseCode.BANNED)
        return
    session = "s_" + secrets.token_urlsafe(12)
    ident = Identity(
        session, device, Pool(band, m.mode, language), tuple(interests), m.fallback, m.any_language
    )
    ice = ice_config(s, session)
    peer.ice_expires = ice.expires_at
    if not peer.admit(ident):
        return  # closed while the hello waited: never joins the broker
    peer.sampling = svc.video.sampling_for(m.mode)
    await svc.broker.attach(session, device, peer, blocked)
    if peer.closing:  # closed during the attach: its close may have detached too early
        await svc.broker.detach(session)
        return
    stats = await svc.broker.stats()
    peer.deliver(
        Welcome(
            version=PROTOCOL_VERSION,
            session=session,
            device=token,
            online=public_online(stats.online, s.public_online_step),
            limits=svc.limits,
            ice=ice,
            vision=svc.video.enabled,
            first_look=svc.video.first_look(band),
        )
    )
    log.debug("hello", extra={"session": session, "pool": str(ident.pool)})
    await appeal_outcome(peer, svc, facts.appeal)


async def appeal_outcome(peer: Peer, svc: Services, appeal: Appeal | None) -> None:
    """Tell a person the decision on their appeal (read with the hello's facts), once, on their
    next visit."""
    if appeal is None or appeal.decision not in ("lifted", "upheld"):
        return
    try:
        await svc.store.mark_decision_seen(appeal.id)
    except StoreError:
        return
    if appeal.decision == "lifted":
        peer.deliver(Notice(code="appeal_lifted", text=APPEAL_LIFTED))
    else:
        reason = appeal.decision_reason or ""
        peer.deliver(Notice(code="appeal_upheld", text=f"{APPEAL_UPHELD} {reason}".strip()))
