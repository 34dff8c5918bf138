"""Age policy: who is admitted, to which band's pool, in which modes.

``admit`` is a pure function of the operator's :class:`AgePolicy` and what the client showed (a
declared age, a verified :class:`~parley.safety.age.Attestation`, a mode). Keeping it pure lets
the tests walk every combination, and keeps the rule for invariant 1 in one place: a session
whose band is uncertain is never admitted to the adult pool, and a closed minor pool refuses
teens instead of pushing them into the adult one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from parley.pool import Band
from parley.safety.age import MAX_AGE, Attestation

Assurance = Literal["declared", "attested"]
KNOWN_MODES = frozenset({"text", "video"})
#: Question mode's two sides are text chats: whoever may use text may use them.
TEXT_MODES = frozenset({"text", "question", "discuss"})

#: For ``parley serve`` to log at start-up when assurance is ``declared``.
DECLARED_WARNING = (
    "PARLEY_AGE_ASSURANCE=declared: ages are self-declared and unchecked. This is for "
    "development and closed communities only; a public service must use "
    "PARLEY_AGE_ASSURANCE=attested with an age-check provider."
)
#: Said by `parley serve` and `parley check` when an operator opens the minor pool on typed ages.
OPEN_MINOR_POOL_WARNING = (
    "PARLEY_MINOR_POOL_OPEN=true with PARLEY_AGE_ASSURANCE=declared: 13-17 year olds are matched "
    "with whoever TYPES an age of 13-17, and nothing stops an adult from typing one. "
    "Self-declaration is not age assurance (EU DSA Art. 28 guidelines, Ofcom). Only for a closed "
    "community whose members you know; otherwise use PARLEY_AGE_ASSURANCE=attested."
)


@dataclass(frozen=True, slots=True)
class AgePolicy:
    """The operator's age settings. Defaults suit development; see docs/age-assurance.md."""

    #: ``declared``: the band comes from the age the person types. ``attested``: only from a
    #: verified attestation (a declared age is still checked against ``min_age``).
    assurance: Assurance = "declared"
    #: Whether 13-17 year olds are served at all. Closed means they are refused, never moved.
    #: Closed unless the operator opens it (Settings opens it by default under ``attested``).
    minor_pool_open: bool = False
    #: Modes each band may use. Minors get text only by default.
    minor_modes: frozenset[str] = field(default_factory=lambda: frozenset({"text"}))
    adult_modes: frozenset[str] = field(default_factory=lambda: frozenset({"text", "video"}))
    #: Video needs a verified attestation even under ``declared`` assurance.
    video_requires_attestation: bool = False
    #: Below this age nobody is served; 13 is the floor the product promises (invariant 1).
    min_age: int = 13
    #: From this age a person is an adult.
    adult_age: int = 18

    def __post_init__(self) -> None:
        if self.assurance not in ("declared", "attested"):
            raise ValueError("assurance must be 'declared' or 'attested'")
        if not 13 <= self.min_age <= self.adult_age <= MAX_AGE:
            raise ValueError(f"need 13 <= min_age <= adult_age <= {MAX_AGE}")
        for name in ("minor_modes", "adult_modes"):
            modes = getattr(self, name)
            if not isinstance(modes, frozenset) or not modes <= KNOWN_MODES:
                raise ValueError(f"{name} must be a frozenset of {sorted(KNOWN_MODES)}")
        if self.assurance == "attested" and (self.adult_age != 18 or self.min_age not in (13, 18)):
            # Attestations speak in fixed bands (under 13, 13-17, 18+). With other boundaries
            # an "18+" could be 19 with adult_age 21: we could place them in neither pool.
            raise ValueError("attested assurance needs adult_age 18 and min_age 13 or 18")

    def modes_for(self, band: Band) -> frozenset[str]:
        return self.adult_modes if band is Band.ADULT else self.minor_modes

    @property
    def serves_minors(self) -> bool:
        """Whether anyone under ``adult_age`` is admitted at all (what the landing page says)."""
        return self.minor_pool_open and self.min_age < self.adult_age


def parse_modes(text: str) -> frozenset[str]:
    """``"text,video"`` → frozenset, for the ``PARLEY_*_MODES`` settings."""
    modes = frozenset(m.strip().lower() for m in text.split(",") if m.strip())
    unknown = modes - KNOWN_MODES
    if unknown:
        raise ValueError(f"unknown mode(s) {sorted(unknown)}; known: {sorted(KNOWN_MODES)}")
    return modes


class RefusalCode(StrEnum):
    """Stable codes for the client (and for ErrorCode in protocol.py)."""

    INVALID_AGE = "invalid_age"  # declared age missing or not 1-120
    AGE_REFUSED = "age_refused"  # under min_age
    AGE_MISMATCH = "age_mismatch"  # declared band contradicts the verified attestation
    MINOR_POOL_CLOSED = "minor_pool_closed"  # the operator serves adults only
    MODE_NOT_ALLOWED = "mode_not_allowed"  # e.g. video for minors, or an unknown mode
    ATTESTATION_REQUIRED = "attestation_required"  # no valid attestation where one is needed


@dataclass(frozen=True, slots=True)
class Admitted:
    """Admitted to ``band``'s pool. ``expires_at`` is the attestation's expiry, when attested:
    the band and this expiry are all a device record may keep."""

    band: Band
    attested: bool
    expires_at: float | None = None


@dataclass(frozen=True, slots=True)
class Refused:
    code: RefusalCode
    message: str


Admission = Admitted | Refused


def _refuse(code: RefusalCode, message: str) -> Refused:
    return Refused(code, message)


def admit(
    policy: AgePolicy,
    *,
    declared_age: int | None,
    attestation: Attestation | None,
    mode: str,
) -> Admission:
    """Decide admission. ``attestation`` must come from ``AttestationVerifier.verify`` (an
    invalid one is passed as None; a valid under-13 one never gets here, verify raises
    AttestedUnderAge).

    Order matters and is part of the contract: age validity and the age floor first, then the
    band (refusing when it is unknown or contradicted), then the pool, then the mode, then the
    attestation needed for video.
    """
    if declared_age is not None:
        if isinstance(declared_age, bool) or not 1 <= declared_age <= MAX_AGE:
            return _refuse(
                RefusalCode.INVALID_AGE, f"Age must be a whole number from 1 to {MAX_AGE}."
            )
        # Even under `attested`: someone who tells us they are under age is refused.
        if declared_age < policy.min_age:
            return _refuse(
                RefusalCode.AGE_REFUSED,
                f"Parley is only for people aged {policy.min_age} and over.",
            )

    if policy.assurance == "attested":
        if attestation is None:
            return _refuse(
                RefusalCode.ATTESTATION_REQUIRED,
                "This service needs a verified age check before you can chat.",
            )
        band = attestation.band  # the declared age plays no part in the band
    else:
        if declared_age is None:
            return _refuse(RefusalCode.INVALID_AGE, "Please tell us your age.")
        band = Band.ADULT if declared_age >= policy.adult_age else Band.MINOR
        # A verified attestation is stronger evidence than a typed age. If they disagree the
        # band is uncertain: an adult pool for a proven minor and a minor pool for a proven
        # adult are both wrong, so refuse.
        if attestation is not None and attestation.band is not band:
            return _refuse(
                RefusalCode.AGE_MISMATCH,
                "The age you entered does not match your verified age check.",
            )

    if band is Band.MINOR and policy.min_age >= policy.adult_age:
        return _refuse(
            RefusalCode.AGE_REFUSED, f"Parley is only for people aged {policy.min_age} and over."
        )
    if band is Band.MINOR and not policy.minor_pool_open:
        return _refuse(
            RefusalCode.MINOR_POOL_CLOSED,
            f"Sorry, this Parley service is not available to people under {policy.adult_age}.",
        )
    if ("text" if mode in TEXT_MODES else mode) not in policy.modes_for(band):
        what = f"{mode.capitalize()} chat" if mode in KNOWN_MODES else "That chat mode"
        return _refuse(RefusalCode.MODE_NOT_ALLOWED, f"{what} is not available to you here.")
    if mode == "video" and policy.video_requires_attestation and attestation is None:
        return _refuse(
            RefusalCode.ATTESTATION_REQUIRED,
            "Video chat on this service needs a verified age check first.",
        )
    if attestation is not None:
        return Admitted(band, attested=True, expires_at=attestation.expires_at)
    return Admitted(band, attested=False)
