"""Age assurance as the gateway sees it: settings → policy + verifier → an admission decision."""

from __future__ import annotations

import logging

from parley.config import Settings
from parley.safety.age import (
    AttestationError,
    AttestationVerifier,
    AttestedUnderAge,
    load_keys,
)
from parley.safety.policy import Admission, AgePolicy, RefusalCode, Refused, admit, parse_modes

log = logging.getLogger("parley.safety")


class AgeAssurance:
    def __init__(self, policy: AgePolicy, verifier: AttestationVerifier | None) -> None:
        if policy.assurance == "attested" and verifier is None:
            raise ValueError("attested assurance needs an attestation issuer, audience and keys")
        self.policy = policy
        self.verifier = verifier

    @classmethod
    def from_settings(cls, s: Settings) -> AgeAssurance:
        return cls(age_policy(s), attestation_verifier(s))

    async def admit(self, *, age: int | None, attestation: str | None, mode: str) -> Admission:
        verified = None
        if attestation is not None and self.verifier is not None:
            try:
                verified = await self.verifier.verify(attestation)
            except AttestedUnderAge:
                return Refused(
                    RefusalCode.AGE_REFUSED,
                    f"Parley is only for people aged {self.policy.min_age} and over.",
                )
            except AttestationError as exc:
                # Treated as no attestation at all; the reason helps operators debug providers.
                log.info("attestation rejected", extra={"reason": str(exc.reason)})
        return admit(self.policy, declared_age=age, attestation=verified, mode=mode)


def age_policy(s: Settings) -> AgePolicy:
    """The operator's age policy; ValueError on inconsistent age settings."""
    return AgePolicy(
        assurance=s.age_assurance,
        minor_pool_open=s.minor_pool_open,
        minor_modes=parse_modes(s.minor_modes),
        adult_modes=parse_modes(s.adult_modes),
        video_requires_attestation=s.video_requires_attestation,
        min_age=s.min_age,
        adult_age=s.adult_age,
    )


def attestation_verifier(s: Settings) -> AttestationVerifier | None:
    """The verifier for ``PARLEY_ATTESTATION_KEYS``, or None when no keys are configured.
    OSError when the key file cannot be read, ValueError when it or the issuer is unusable."""
    if s.attestation_keys is None:
        return None
    return AttestationVerifier(
        issuer=s.attestation_issuer,
        keys=load_keys(s.attestation_keys),
        audience=s.attestation_audience,
        max_age=s.attestation_max_age,
    )
