"""Age policy: the admission table, and properties that keep minors out of the adult pool.

Attestations here come through the real verifier (tokens signed with a key generated here), so
"invalid" means what it means in production: verify() raised, and admit() sees None.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from typing import Any, Literal

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.config import Settings
from parley.pool import Band
from parley.safety.age import (
    Attestation,
    AttestationError,
    AttestationVerifier,
    MemoryReplayCache,
    VerificationKey,
)
from parley.safety.policy import (
    Admission,
    Admitted,
    AgePolicy,
    RefusalCode,
    Refused,
    admit,
    parse_modes,
)

NOW = 1_700_000_000.0
KEY = Ed25519PrivateKey.generate()
FORGER = Ed25519PrivateKey.generate()
VERIFIER = AttestationVerifier(
    "https://agecheck.example",
    [VerificationKey(KEY.public_key(), "EdDSA")],
    "parley.test",
    600,
    replay=MemoryReplayCache(),
)

AttKind = Literal["none", "invalid", "adult", "minor"]


def attestation(kind: AttKind) -> Attestation | None:
    """What the gateway would hand to admit() for a client showing this kind of token."""
    if kind == "none":
        return None
    age: dict[str, Any] = {"adult": {"age_band": "18+"}, "minor": {"age_band": "13-17"}}.get(
        kind, {"age_over_18": True}
    )
    payload = {
        "iss": "https://agecheck.example",
        "aud": "parley.test",
        "iat": int(NOW),
        "exp": int(NOW) + 300,
        "jti": uuid.uuid4().hex,
        **age,
    }
    token = jwt.encode(payload, FORGER if kind == "invalid" else KEY, algorithm="EdDSA")
    try:
        return asyncio.run(VERIFIER.verify(token, now=NOW))
    except AttestationError:
        return None


ATT = {kind: attestation(kind) for kind in ("none", "invalid", "adult", "minor")}


def outcome(result: Admission) -> str:
    return str(result.band) if isinstance(result, Admitted) else str(result.code)


def test_invalid_attestation_really_is_rejected_by_the_verifier() -> None:
    assert ATT["invalid"] is None and ATT["none"] is None
    assert ATT["adult"] is not None and ATT["adult"].band is Band.ADULT
    assert ATT["minor"] is not None and ATT["minor"].band is Band.MINOR


# The table. Columns: assurance, minor pool open, video requires attestation, mode, declared age,
# attestation shown, expected outcome (a band, or a refusal code).
D: Literal["declared"] = "declared"
A: Literal["attested"] = "attested"
ADULT, MINOR = "adult", "minor"
TABLE: list[tuple[str, bool, bool, str, int | None, AttKind, str]] = [
    # declared, defaults
    (D, True, False, "text", 30, "none", ADULT),
    (D, True, False, "video", 30, "none", ADULT),
    (D, True, False, "text", 15, "none", MINOR),
    (D, True, False, "video", 15, "none", "mode_not_allowed"),
    (D, True, False, "text", 10, "none", "age_refused"),
    (D, True, False, "video", 12, "adult", "age_refused"),
    (D, True, False, "text", None, "none", "invalid_age"),
    (D, True, False, "text", None, "adult", "invalid_age"),
    (D, True, False, "video", 30, "adult", ADULT),
    (D, True, False, "text", 15, "minor", MINOR),
    (D, True, False, "text", 30, "invalid", ADULT),  # a bad token is as good as none
    (D, True, False, "text", 15, "invalid", MINOR),
    (D, True, False, "text", 30, "minor", "age_mismatch"),  # proven minor claiming adult
    (D, True, False, "text", 15, "adult", "age_mismatch"),  # proven adult claiming minor
    # declared, minor pool closed: teens are refused, never moved to the adult pool
    (D, False, False, "text", 15, "none", "minor_pool_closed"),
    (D, False, False, "video", 15, "none", "minor_pool_closed"),
    (D, False, False, "text", 15, "minor", "minor_pool_closed"),
    (D, False, False, "text", 15, "adult", "age_mismatch"),
    (D, False, False, "text", 30, "minor", "age_mismatch"),
    (D, False, False, "text", 30, "none", ADULT),
    (D, False, False, "video", 30, "invalid", ADULT),
    (D, False, False, "text", 10, "none", "age_refused"),
    # declared, video requires attestation
    (D, True, True, "video", 30, "none", "attestation_required"),
    (D, True, True, "video", 30, "invalid", "attestation_required"),
    (D, True, True, "video", 30, "adult", ADULT),
    (D, True, True, "text", 30, "none", ADULT),
    (D, True, True, "video", 15, "none", "mode_not_allowed"),
    (D, True, True, "video", 15, "minor", "mode_not_allowed"),
    (D, False, True, "video", 15, "none", "minor_pool_closed"),
    # attested: the band comes only from a verified attestation
    (A, True, False, "text", 30, "none", "attestation_required"),
    (A, True, False, "text", 30, "invalid", "attestation_required"),
    (A, True, False, "text", None, "none", "attestation_required"),
    (A, True, False, "text", 15, "invalid", "attestation_required"),
    (A, True, False, "text", 30, "adult", ADULT),
    (A, True, False, "video", 30, "adult", ADULT),
    (A, True, False, "text", 15, "adult", ADULT),  # declared age ignored for the band...
    (A, True, False, "text", 30, "minor", MINOR),  # ...both ways
    (A, True, False, "video", 30, "minor", "mode_not_allowed"),
    (A, True, False, "text", None, "adult", ADULT),
    (A, True, False, "text", None, "minor", MINOR),
    (A, True, False, "text", 10, "adult", "age_refused"),  # but a declared child is refused
    (A, True, False, "text", 0, "adult", "invalid_age"),
    # attested, minor pool closed
    (A, False, False, "text", 15, "minor", "minor_pool_closed"),
    (A, False, False, "video", 30, "minor", "minor_pool_closed"),
    (A, False, False, "text", 30, "adult", ADULT),
    (A, False, False, "text", 30, "invalid", "attestation_required"),
    (A, False, False, "text", 30, "none", "attestation_required"),
    # attested, video requires attestation (already implied)
    (A, True, True, "video", 30, "adult", ADULT),
    (A, True, True, "video", 30, "none", "attestation_required"),
    (A, True, True, "video", 15, "minor", "mode_not_allowed"),
    (A, False, True, "video", 15, "minor", "minor_pool_closed"),
    # unknown modes are not allowed for anyone
    (D, True, False, "audio", 30, "none", "mode_not_allowed"),
    (A, True, False, "", 30, "adult", "mode_not_allowed"),
]


@pytest.mark.parametrize(
    ("assurance", "pool_open", "video_att", "mode", "declared", "att", "expected"),
    TABLE,
    ids=[
        f"{a[0]}-{'open' if o else 'closed'}-{'vatt' if v else 'any'}-{m or 'empty'}-{d}-{k}"
        for a, o, v, m, d, k, _ in TABLE
    ],
)
def test_admission_table(
    assurance: Literal["declared", "attested"],
    pool_open: bool,
    video_att: bool,
    mode: str,
    declared: int | None,
    att: AttKind,
    expected: str,
) -> None:
    policy = AgePolicy(
        assurance=assurance, minor_pool_open=pool_open, video_requires_attestation=video_att
    )
    result = admit(policy, declared_age=declared, attestation=ATT[att], mode=mode)
    assert outcome(result) == expected
    if isinstance(result, Admitted):
        assert result.attested is (ATT[att] is not None)
        assert result.expires_at == (NOW + 300 if result.attested else None)
    else:
        assert result.message and result.message.strip() == result.message


@pytest.mark.parametrize(
    ("assurance", "pool_open", "video_att", "mode", "declared", "att"),
    list(
        itertools.product(
            (D, A),
            (True, False),
            (True, False),
            ("text", "video"),
            (None, 5, 12, 13, 15, 17, 18, 30),
            ("none", "invalid", "adult", "minor"),
        )
    ),
)
def test_every_combination_is_safe(
    assurance: Literal["declared", "attested"],
    pool_open: bool,
    video_att: bool,
    mode: str,
    declared: int | None,
    att: AttKind,
) -> None:
    """Walk the whole grid and check the rules that must hold in every cell."""
    policy = AgePolicy(
        assurance=assurance, minor_pool_open=pool_open, video_requires_attestation=video_att
    )
    attestation = ATT[att]
    result = admit(policy, declared_age=declared, attestation=attestation, mode=mode)
    evidence_minor = (declared is not None and declared < 18 and assurance == D) or (att == "minor")
    if declared is not None and declared < 13:
        assert outcome(result) == "age_refused"
    if not isinstance(result, Admitted):
        return
    assert mode in policy.modes_for(result.band)
    if result.band is Band.ADULT:
        assert not evidence_minor
        if assurance == A:
            assert att == "adult"
        else:
            assert declared is not None and declared >= 18 and att in ("none", "invalid", "adult")
    else:
        assert pool_open and mode == "text"
        assert att != "adult"
        assert policy.serves_minors  # what the landing page says (/api/status) is what happens
    if assurance == A or (mode == "video" and video_att):
        assert result.attested


def test_custom_modes_and_ages() -> None:
    both = frozenset({"text", "video"})
    minor_video = AgePolicy(minor_pool_open=True, minor_modes=both)
    assert outcome(admit(minor_video, declared_age=15, attestation=None, mode="video")) == MINOR
    text_only = AgePolicy(adult_modes=frozenset({"text"}))
    refused = admit(text_only, declared_age=30, attestation=None, mode="video")
    assert outcome(refused) == "mode_not_allowed"
    assert isinstance(refused, Refused) and refused.message.startswith("Video chat")
    sixteen = AgePolicy(minor_pool_open=True, min_age=16)
    assert outcome(admit(sixteen, declared_age=15, attestation=None, mode="text")) == "age_refused"
    assert outcome(admit(sixteen, declared_age=16, attestation=None, mode="text")) == MINOR
    adults_only = AgePolicy(min_age=18, minor_pool_open=True)
    assert outcome(admit(adults_only, declared_age=17, attestation=None, mode="text")) == (
        "age_refused"
    )
    assert not adults_only.serves_minors  # an open minor pool that nobody can be in
    attested_adults_only = AgePolicy(assurance="attested", min_age=18)
    for att, expected in (("minor", "age_refused"), ("adult", ADULT)):
        got = admit(attested_adults_only, declared_age=None, attestation=ATT[att], mode="text")
        assert outcome(got) == expected
    twenty_one = AgePolicy(minor_pool_open=True, adult_age=21)
    assert outcome(admit(twenty_one, declared_age=19, attestation=None, mode="text")) == MINOR


@pytest.mark.parametrize("age", [0, -1, 121, 10**9])
def test_nonsense_declared_ages(age: int) -> None:
    for assurance in (D, A):
        policy = AgePolicy(assurance=assurance)
        got = admit(policy, declared_age=age, attestation=ATT["adult"], mode="text")
        assert outcome(got) == "invalid_age"
    got = admit(AgePolicy(), declared_age=True, attestation=None, mode="text")
    assert outcome(got) == "invalid_age"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"assurance": "trust-me"},
        {"min_age": 12},  # under-13s are refused, whatever the operator sets
        {"min_age": 19, "adult_age": 18},
        {"adult_age": 121},
        {"minor_modes": frozenset({"audio"})},
        {"adult_modes": {"text"}},  # a mutable set would let the policy change under us
        {"assurance": "attested", "adult_age": 21},  # attestations only know 18+
        {"assurance": "attested", "min_age": 16},
    ],
)
def test_invalid_policies_fail_at_start_up(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        AgePolicy(**kwargs)


def test_defaults_match_the_documentation() -> None:
    p = AgePolicy()
    assert (p.assurance, p.minor_pool_open, p.video_requires_attestation) == (
        "declared",
        False,
        False,
    )
    assert p.minor_modes == {"text"} and p.adult_modes == {"text", "video"}
    assert (p.min_age, p.adult_age) == (13, 18)


def test_parse_modes() -> None:
    assert parse_modes("text") == {"text"}
    assert parse_modes(" Text , VIDEO,") == {"text", "video"}
    assert parse_modes("") == frozenset()
    with pytest.raises(ValueError, match="audio"):
        parse_modes("text,audio")


def test_refusal_codes_are_stable() -> None:
    assert {c.value for c in RefusalCode} == {
        "invalid_age",
        "age_refused",
        "age_mismatch",
        "minor_pool_closed",
        "mode_not_allowed",
        "attestation_required",
    }


# ---------------------------------------------------------------------------------- property

MODES = st.sampled_from(["text", "video", "audio", ""])
MODE_SETS = st.frozensets(st.sampled_from(["text", "video"]))


@st.composite
def policies(draw: st.DrawFn) -> AgePolicy:
    assurance: Literal["declared", "attested"] = draw(st.sampled_from([D, A]))
    if assurance == "attested":
        min_age, adult_age = draw(st.sampled_from([13, 18])), 18
    else:
        min_age = draw(st.integers(13, 30))
        adult_age = draw(st.integers(min_age, 40))
    return AgePolicy(
        assurance=assurance,
        minor_pool_open=draw(st.booleans()),
        minor_modes=draw(MODE_SETS),
        adult_modes=draw(MODE_SETS),
        video_requires_attestation=draw(st.booleans()),
        min_age=min_age,
        adult_age=adult_age,
    )


ATTESTATIONS = st.one_of(
    st.none(),
    st.builds(
        Attestation,
        band=st.sampled_from(Band),
        expires_at=st.floats(NOW, NOW + 3600),
        jti=st.text(min_size=1, max_size=8),
    ),
)


@settings(max_examples=1000, deadline=None)
@given(
    policies(),
    st.one_of(st.none(), st.integers(-5, 130)),
    ATTESTATIONS,
    MODES,
)
def test_property_minors_never_reach_the_adult_pool(
    policy: AgePolicy, declared: int | None, attestation: Attestation | None, mode: str
) -> None:
    result = admit(policy, declared_age=declared, attestation=attestation, mode=mode)
    attested_minor = attestation is not None and attestation.band is Band.MINOR
    declared_minor = declared is not None and declared < policy.adult_age
    if isinstance(result, Refused):
        return
    # Anyone admitted is at or above the floor, in an allowed mode.
    assert declared is None or declared >= policy.min_age
    assert mode in policy.modes_for(result.band)
    if result.band is Band.ADULT:
        if policy.assurance == "declared":
            assert declared is not None and declared >= policy.adult_age
            assert not attested_minor
        else:
            assert attestation is not None and attestation.band is Band.ADULT
    else:
        # A minor admission only ever lands in an open minor pool.
        assert policy.minor_pool_open
        assert policy.min_age < policy.adult_age
        if policy.assurance == "declared":
            assert declared_minor
        else:
            assert attested_minor
    # Under attested assurance there is no band without an attestation.
    if policy.assurance == "attested":
        assert result.attested
    # Closed minor pool: only adults get in, and nobody shown to be a minor is among them.
    if not policy.minor_pool_open:
        assert result.band is Band.ADULT and not attested_minor
        assert policy.assurance == "attested" or not declared_minor


def test_settings_close_the_minor_pool_on_typed_ages_and_open_it_on_proven_ones() -> None:
    assert Settings().minor_pool_open is False
    assert Settings(age_assurance="attested").minor_pool_open is True
    assert Settings(minor_pool_open=True).minor_pool_open is True
    assert Settings(age_assurance="attested", minor_pool_open=False).minor_pool_open is False


def test_check_warns_when_the_minor_pool_is_opened_on_typed_ages() -> None:
    from parley.check import check_age

    def age_lines(s: Settings) -> list[str]:
        return [f.line() for f in check_age(s) if f.level.name == "WARNING"]

    assert not any("MINOR_POOL_OPEN" in ln for ln in age_lines(Settings()))
    opened = age_lines(Settings(minor_pool_open=True))
    assert any("PARLEY_MINOR_POOL_OPEN=true" in ln and "adult" in ln for ln in opened), opened
