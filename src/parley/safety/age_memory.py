"""What the server remembers of declared ages (issue 13, finding 6; docs/safety.md, "Ages").

A declared age is only a statement, but it should be one statement: a device refused as under
``min_age`` stays refused for ``PARLEY_AGE_REFUSAL_SECONDS`` whatever it declares next, and so
does any *new* device on that address for ``PARLEY_AGE_REFUSAL_IP_SECONDS`` (the page's
localStorage is not where this is kept). A device that has declared an adult age cannot then
declare a minor's age and join the teen pool. Only bands and end times are kept, never an age.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from parley.config import Settings
from parley.pool import Band
from parley.safety.policy import Admission, Admitted, RefusalCode, Refused
from parley.store import AdmissionFacts, DeviceHash, Store, StoreError, declaration_changes

log = logging.getLogger("parley.safety")

ADULT_TO_MINOR = (
    "This device said before that you are an adult, so it cannot join the teen chats. "
    "If that was a mistake, use the device of the person it belongs to."
)


class AgeMemory:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store

    def _under_age(self) -> Refused:
        return Refused(
            RefusalCode.AGE_REFUSED,
            f"Parley is only for people aged {self.settings.min_age} and over.",
        )

    async def recall(
        self,
        decision: Admission,
        device: DeviceHash | None,
        ip: str,
        facts: AdmissionFacts | None,
    ) -> Admission:
        """``decision`` as the policy made it, held against what was declared before here.
        ``device``: the hello's (valid) device token's hash, None for a new one; ``facts``: what
        the store knows of it (:meth:`Store.admission`), needed unless ``decision`` refuses. A
        store failure leaves the decision as it was (the hello then meets the store again)."""
        try:
            return await self._recall(decision, device, ip, facts)
        except StoreError:
            log.exception("age memory unavailable")
            return decision

    async def _recall(
        self,
        decision: Admission,
        device: DeviceHash | None,
        ip: str,
        facts: AdmissionFacts | None,
    ) -> Admission:
        s = self.settings
        now = datetime.now(UTC)
        if isinstance(decision, Refused):
            if decision.code is RefusalCode.AGE_REFUSED:
                ips = await self.store.ip_hash(ip)
                await self.store.remember_under_age(
                    device=device,
                    device_until=now + timedelta(seconds=s.age_refusal_seconds),
                    ip=ips[0] if ips and s.age_refusal_ip_seconds > 0 else None,
                    ip_until=now + timedelta(seconds=max(1.0, s.age_refusal_ip_seconds)),
                )
            return decision
        if facts is None:
            raise ValueError("an admission is held against the store's facts")
        known = facts.device if device is not None else None
        if known is not None and known.under_age_until is not None and known.under_age_until > now:
            return self._under_age()
        if known is None and facts.address_refused_under_age:
            return self._under_age()  # a new device where someone was just refused
        if known is not None and isinstance(decision, Admitted):
            if known.declared_band == Band.ADULT and decision.band is Band.MINOR:
                return Refused(RefusalCode.AGE_MISMATCH, ADULT_TO_MINOR)
            # A write only when it changes something: a returning device costs no commit.
            if declaration_changes(known.declared_band, str(decision.band)):
                await self.store.declare_band(known.device_hash, str(decision.band))
        return decision
