"""Attested age: signature, algorithm allow-list, claims, replay, key loading.

Every key is generated here; tokens are signed the way a provider would (PyJWT), and the hostile
ones (alg none, HS256 keyed with our public key) are built by hand.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.pool import Band
from parley.protocol import ProtocolError
from parley.safety.age import (
    MAX_TOKEN_BYTES,
    AgeRefused,
    Attestation,
    AttestationError,
    AttestationReason,
    AttestationVerifier,
    AttestedUnderAge,
    MemoryReplayCache,
    VerificationKey,
    band_for_age,
    keys_from_jwks,
    keys_from_pem,
    load_keys,
)

NOW = 1_700_000_000.0
ISSUER = "https://agecheck.example"
AUDIENCE = "parley.test"
MAX_AGE = 600.0

EC_KEY = ec.generate_private_key(ec.SECP256R1())
ED_KEY = Ed25519PrivateKey.generate()
OTHER_EC_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_ED_KEY = Ed25519PrivateKey.generate()
PrivateKey = ec.EllipticCurvePrivateKey | Ed25519PrivateKey
KEYS: dict[str, PrivateKey] = {"ES256": EC_KEY, "EdDSA": ED_KEY}
R = AttestationReason


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(obj: object) -> str:
    return b64(json.dumps(obj).encode())


def claims(**overrides: Any) -> dict[str, Any]:
    """A valid adult attestation's claims; ``name=None`` drops a claim."""
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": int(NOW) - 10,
        "exp": int(NOW) + 300,
        "jti": uuid.uuid4().hex,
        "age_over_18": True,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(
    payload: dict[str, Any],
    alg: str = "ES256",
    key: PrivateKey | None = None,
    headers: dict[str, Any] | None = None,
) -> str:
    return jwt.encode(payload, key or KEYS[alg], algorithm=alg, headers=headers)


def public_pem(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def verifier(**kw: Any) -> AttestationVerifier:
    keys = kw.pop("keys", None) or keys_from_pem(public_pem(EC_KEY) + public_pem(ED_KEY))
    return AttestationVerifier(ISSUER, keys, AUDIENCE, MAX_AGE, **kw)


def verify(v: AttestationVerifier, token: str, now: float = NOW) -> Attestation:
    return asyncio.run(v.verify(token, now=now))


def reason(v: AttestationVerifier, token: str, now: float = NOW) -> AttestationReason:
    with pytest.raises(AttestationError) as info:
        verify(v, token, now)
    return info.value.reason


# ------------------------------------------------------------------------------ valid tokens


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_valid_adult_and_minor_attestations(alg: str) -> None:
    v = verifier()
    adult = verify(v, sign(claims(jti="a1"), alg))
    assert adult == Attestation(Band.ADULT, NOW + 300, "a1")
    minor = verify(v, sign(claims(age_over_18=None, age_band="13-17"), alg))
    assert minor.band is Band.MINOR


@pytest.mark.parametrize(
    ("age_claims", "expected"),
    [
        ({"age_over_18": True}, Band.ADULT),
        ({"age_over_18": False}, Band.MINOR),
        ({"age_band": "18+"}, Band.ADULT),
        ({"age_band": "13-17"}, Band.MINOR),
        ({"age_band": "13-17", "age_over_18": False}, Band.MINOR),
        ({"age_band": "18+", "age_over_18": True, "age_over_13": True}, Band.ADULT),
        ({"age_over_18": False, "age_over_13": True}, Band.MINOR),
        ({"age_band": "under_13"}, None),
        ({"age_over_18": False, "age_over_13": False}, None),
        ({"age_band": "under_13", "age_over_18": False}, None),
        # contradictions and nonsense are rejected, never resolved in anyone's favour
        ({"age_band": "18+", "age_over_18": False}, R.MALFORMED),
        ({"age_band": "13-17", "age_over_18": True}, R.MALFORMED),
        ({"age_band": "under_13", "age_over_13": True}, R.MALFORMED),
        ({"age_over_18": "true"}, R.MALFORMED),
        ({"age_over_18": 1}, R.MALFORMED),
        ({"age_over_18": None, "age_band": "adult"}, R.MALFORMED),
        ({"age_band": 18}, R.MALFORMED),
        ({"age_band": ["18+"]}, R.MALFORMED),
        ({"age_over_13": True}, R.MISSING_CLAIM),  # 13 or 40: no band
        ({"age_over_18": None}, R.MISSING_CLAIM),
    ],
)
def test_age_claims_map_to_band_refusal_or_rejection(
    age_claims: dict[str, Any], expected: Band | AttestationReason | None
) -> None:
    v = verifier()
    token = sign(claims(**{"age_over_18": None, **age_claims}))
    if isinstance(expected, Band):
        assert verify(v, token).band is expected
    elif expected is None:
        with pytest.raises(AttestedUnderAge):
            verify(v, token)
    else:
        assert reason(v, token) is expected


def test_under_13_is_an_age_refusal_and_uses_up_the_token() -> None:
    v = verifier()
    token = sign(claims(age_over_18=None, age_band="under_13"))
    with pytest.raises(AgeRefused):  # existing `except AgeRefused` handlers refuse it too
        verify(v, token)
    assert reason(v, token) is R.REPLAYED


def test_result_carries_no_identity() -> None:
    token = sign(claims(sub="user-42", name="Alice", birthdate="2000-01-01", email="a@x"))
    result = verify(verifier(), token)
    assert [f.name for f in dataclasses.fields(result)] == ["band", "expires_at", "jti"]
    assert "Alice" not in repr(result) and "user-42" not in repr(result)


def test_audience_may_be_a_list_and_timestamps_may_be_floats() -> None:
    token = sign(claims(aud=["other", AUDIENCE], iat=NOW - 1.5, exp=NOW + 0.5))
    assert verify(verifier(), token).expires_at == NOW + 0.5


# ----------------------------------------------------------------------- signatures and algs


@pytest.mark.parametrize(("alg", "other"), [("ES256", OTHER_EC_KEY), ("EdDSA", OTHER_ED_KEY)])
def test_forged_token_signed_by_another_key(alg: str, other: PrivateKey) -> None:
    assert reason(verifier(), sign(claims(), alg, key=other)) is R.BAD_SIGNATURE


def test_tampered_payload_fails_the_signature() -> None:
    header, _, sig = sign(claims(age_over_18=False)).split(".")
    forged_payload = b64json(claims(age_over_18=True))
    assert reason(verifier(), f"{header}.{forged_payload}.{sig}") is R.BAD_SIGNATURE


def test_signature_of_an_ed25519_token_is_not_accepted_for_es256() -> None:
    # Header says ES256, signature is Ed25519: an algorithm swap must not verify.
    _, payload, sig = sign(claims(), "EdDSA").split(".")
    token = f"{b64json({'alg': 'ES256', 'typ': 'JWT'})}.{payload}.{sig}"
    assert reason(verifier(), token) is R.BAD_SIGNATURE


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE", ""])
@pytest.mark.parametrize("signature", ["", "AAAA"])
def test_alg_none_is_rejected(alg: str, signature: str) -> None:
    token = f"{b64json({'alg': alg, 'typ': 'JWT'})}.{b64json(claims())}.{signature}"
    assert reason(verifier(), token) is R.BAD_ALGORITHM


def test_missing_or_non_string_alg_is_rejected() -> None:
    for header in ({"typ": "JWT"}, {"alg": None}, {"alg": ["ES256"]}, {"alg": 256}):
        token = f"{b64json(header)}.{b64json(claims())}.AAAA"
        assert reason(verifier(), token) is R.BAD_ALGORITHM


@pytest.mark.parametrize("hs", ["HS256", "HS384", "HS512"])
@pytest.mark.parametrize("key_form", ["pem", "der", "raw"])
def test_hmac_keyed_with_our_public_key_is_rejected(hs: str, key_form: str) -> None:
    # The classic confusion attack: the attacker knows our public key and uses it as the HMAC
    # secret, hoping the verifier hands the same key to an HMAC check.
    public = EC_KEY.public_key()
    secret = {
        "pem": public_pem(EC_KEY),
        "der": public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "raw": public.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        ),
    }[key_form]
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[hs]
    signing_input = f"{b64json({'alg': hs, 'typ': 'JWT'})}.{b64json(claims())}"
    mac = hmac.new(secret, signing_input.encode(), digest).digest()
    assert reason(verifier(), f"{signing_input}.{b64(mac)}") is R.BAD_ALGORITHM


def test_rs256_and_disallowed_algorithms_are_rejected() -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(claims(), rsa_key, algorithm="RS256")
    assert reason(verifier(), token) is R.BAD_ALGORITHM
    es256_only = verifier(algorithms=("ES256",))
    assert reason(es256_only, sign(claims(), "EdDSA")) is R.BAD_ALGORITHM
    assert verify(es256_only, sign(claims(), "ES256")).band is Band.ADULT


def test_verifier_refuses_unsupported_or_symmetric_algorithms() -> None:
    for algorithms in (("HS256",), ("ES256", "RS256"), ("none",), ()):
        with pytest.raises(ValueError):
            verifier(algorithms=algorithms)
    with pytest.raises(ValueError, match="no key usable"):
        verifier(keys=keys_from_pem(public_pem(ED_KEY)), algorithms=("ES256",))


def test_critical_header_extensions_are_rejected() -> None:
    token = sign(claims(), headers={"crit": ["exp"], "exp": 1})
    assert reason(verifier(), token) is R.MALFORMED


def test_key_urls_in_the_header_are_never_followed() -> None:
    # An attacker-supplied jwk/jku header must not become the verification key.
    attacker = Ed25519PrivateKey.generate()
    raw = attacker.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64(raw)}
    headers = {"jwk": jwk, "jku": "https://evil.example/jwks.json"}
    token = sign(claims(), "EdDSA", key=attacker, headers=headers)
    assert reason(verifier(), token) is R.BAD_SIGNATURE


# ----------------------------------------------------------------------------------- claims


def test_expired_is_rejected_after_the_leeway() -> None:
    v = verifier(leeway=30)
    assert reason(v, sign(claims(exp=NOW - 31))) is R.EXPIRED
    assert verify(v, sign(claims(exp=NOW - 29))).band is Band.ADULT  # clock skew tolerated


def test_wrong_audience_and_wrong_issuer() -> None:
    v = verifier()
    assert reason(v, sign(claims(aud="other.service"))) is R.WRONG_AUDIENCE
    assert reason(v, sign(claims(aud=["a", "b"]))) is R.WRONG_AUDIENCE
    assert reason(v, sign(claims(aud=[]))) is R.MALFORMED
    assert reason(v, sign(claims(aud=7))) is R.MALFORMED
    assert reason(v, sign(claims(iss="https://evil.example"))) is R.WRONG_ISSUER
    assert reason(v, sign(claims(iss=ISSUER + "/"))) is R.WRONG_ISSUER


def test_iat_too_old_or_in_the_future() -> None:
    v = verifier(leeway=30)
    assert reason(v, sign(claims(iat=NOW - MAX_AGE - 1))) is R.TOO_OLD
    assert verify(v, sign(claims(iat=NOW - MAX_AGE + 1))).band is Band.ADULT
    assert reason(v, sign(claims(iat=NOW + 31))) is R.NOT_YET_VALID
    assert verify(v, sign(claims(iat=NOW + 29))).band is Band.ADULT
    assert reason(v, sign(claims(nbf=NOW + 60))) is R.NOT_YET_VALID


@pytest.mark.parametrize("name", ["iss", "aud", "exp", "iat", "jti"])
def test_missing_required_claim(name: str) -> None:
    assert reason(verifier(), sign(claims(**{name: None}))) is R.MISSING_CLAIM


@pytest.mark.parametrize(
    "bad",
    [
        {"exp": "1700000300"},
        {"exp": True},
        {"exp": -1},
        {"exp": 10**30},
        {"iat": [1]},
        {"nbf": "soon"},
        {"jti": ""},
        {"jti": 12345},
        {"jti": "x" * 257},
    ],
)
def test_claims_of_the_wrong_type_are_malformed(bad: dict[str, Any]) -> None:
    assert reason(verifier(), sign(claims(**bad))) is R.MALFORMED


# ----------------------------------------------------------------------------------- replay


def test_replayed_jti_is_rejected_even_by_another_verifier_sharing_the_cache() -> None:
    cache = MemoryReplayCache()
    first, second = verifier(replay=cache), verifier(replay=cache)
    token = sign(claims())
    verify(first, token)
    assert reason(first, token) is R.REPLAYED
    assert reason(second, token) is R.REPLAYED
    # A different token carrying the same jti is the same presentation.
    jti = "fixed-jti"
    verify(first, sign(claims(jti=jti), "ES256"))
    assert reason(first, sign(claims(jti=jti), "EdDSA")) is R.REPLAYED


async def test_concurrent_presentations_of_one_token_admit_exactly_one() -> None:
    v = verifier()
    token = sign(claims())
    results = await asyncio.gather(
        *(v.verify(token, now=NOW) for _ in range(20)), return_exceptions=True
    )
    assert sum(isinstance(r, Attestation) for r in results) == 1
    assert all(r.reason is R.REPLAYED for r in results if isinstance(r, AttestationError))


def test_rejected_tokens_do_not_use_up_replay_space() -> None:
    cache = MemoryReplayCache()
    v = verifier(replay=cache)
    for bad in (claims(aud="x"), claims(exp=NOW - 100), claims(age_over_18="yes")):
        reason(v, sign(bad))
    assert len(cache) == 0


def test_replay_cache_forgets_jtis_once_they_cannot_be_accepted_anyway() -> None:
    cache = MemoryReplayCache()
    v = verifier(replay=cache, leeway=0)
    # exp far away, but iat + max_age bounds how long the token can be accepted
    token = sign(claims(iat=NOW, exp=NOW + 86_400))
    verify(v, token)
    assert len(cache) == 1
    later = NOW + MAX_AGE + 2
    assert reason(v, token, now=later) is R.TOO_OLD  # still refused, by age not replay
    verify(v, sign(claims(iat=later, exp=later + 60)), now=later)
    assert len(cache) == 1  # the first jti was purged


def test_full_replay_cache_fails_closed() -> None:
    v = verifier(replay=MemoryReplayCache(max_entries=2))
    verify(v, sign(claims()))
    verify(v, sign(claims()))
    assert reason(v, sign(claims())) is R.UNAVAILABLE
    # once the stored ones expire there is room again
    later = NOW + MAX_AGE + 60
    assert verify(v, sign(claims(iat=later, exp=later + 60)), now=later).band is Band.ADULT


# -------------------------------------------------------------------------------- malformed


@pytest.mark.parametrize(
    "token",
    [
        "",
        "hello",
        "a.b",
        "a.b.c.d",
        "a.b.c.d.e",  # JWE compact form
        "...",
        "!!!.???.***",
        "eyJ.eyJ.sig",
        "YQ.YQ.YQ",  # base64 of "a": not JSON
        "x" * (MAX_TOKEN_BYTES + 1),
        "a." + "A" * 100_000 + ".b",
        "é.é.é",
        "\x00.\x00.\x00",
    ],
)
def test_malformed_tokens(token: str) -> None:
    assert reason(verifier(), token) is R.MALFORMED


def test_huge_signed_token_is_rejected_before_verifying() -> None:
    token = sign(claims(padding="x" * MAX_TOKEN_BYTES))
    assert reason(verifier(), token) is R.MALFORMED


NOT_UTF8 = b64(b"\xff\xfe")
DUPLICATE_ALG = b64(b'{"alg":"ES256","alg":"none"}')


def test_bad_base64_and_json_inside_a_well_shaped_token() -> None:
    header, payload, sig = sign(claims()).split(".")
    for token in (
        f"{header}=.{payload}.{sig}",  # padding characters
        f"{header}.{payload}+/.{sig}",  # standard, not url-safe, alphabet
        f"{b64(b'[1,2]')}.{payload}.{sig}",  # header not an object
        f"{b64(b'{')}.{payload}.{sig}",
        f"{NOT_UTF8}.{payload}.{sig}",
        f"{DUPLICATE_ALG}.{payload}.{sig}",  # ES256 to one parser, none to another
        f"{b64json({'alg': 'ES256', 'kid': 7})}.{payload}.{sig}",
        f"{header}.{payload}.{sig[:-3]}",  # truncated signature: base64 length
    ):
        assert reason(verifier(), token) in (R.MALFORMED, R.BAD_SIGNATURE), token


@pytest.mark.parametrize(
    "payload",
    [
        b"[1, 2, 3]",
        b"not json",
        b'"a string"',
        b'{"iss": 1, "iss": 2}',
        b'{"exp": NaN}',
        b'{"exp": Infinity}',
        b"[" * 3000 + b"]" * 3000,
    ],
)
def test_signed_but_malformed_payloads(payload: bytes) -> None:
    header = b64json({"alg": "EdDSA", "typ": "JWT"})
    signing_input = f"{header}.{b64(payload)}"
    token = f"{signing_input}.{b64(ED_KEY.sign(signing_input.encode()))}"
    assert reason(verifier(), token) is R.MALFORMED


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200) | st.from_regex(r"[A-Za-z0-9_.-]{0,300}", fullmatch=True))
def test_random_strings_only_ever_give_attestation_errors(token: str) -> None:
    with pytest.raises(AttestationError):
        verify(verifier(), token)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0), st.integers(min_value=0, max_value=255))
def test_any_single_byte_change_is_rejected(position: int, value: int) -> None:
    token = sign(claims(jti="fixed"))
    i = position % len(token)
    mutated = token[:i] + chr(value) + token[i + 1 :]
    if mutated == token:
        return
    with pytest.raises(AttestationError):
        verify(verifier(), mutated)


def test_non_canonical_base64_in_any_segment_is_rejected() -> None:
    # Unused low bits in the last base64 character decode to the same bytes; a token must still
    # have exactly one spelling, or a "used" jti check keyed on the token text could be dodged.
    token = sign(claims(jti="canonical"))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    parts = token.split(".")
    accepted = []
    for index in range(3):
        for char in alphabet:
            mutated = list(parts)
            mutated[index] = parts[index][:-1] + char
            try:
                verify(verifier(), ".".join(mutated))
                accepted.append(".".join(mutated))
            except AttestationError:
                pass
    assert accepted == [token] * 3


# -------------------------------------------------------------------------------- key files


def jwk_of(key: PrivateKey, kid: str | None = None, **extra: Any) -> dict[str, Any]:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        numbers = key.public_key().public_numbers()
        size = (key.curve.key_size + 7) // 8
        jwk: dict[str, Any] = {
            "kty": "EC",
            "crv": {"secp256r1": "P-256", "secp384r1": "P-384"}[key.curve.name],
            "x": b64(numbers.x.to_bytes(size, "big")),
            "y": b64(numbers.y.to_bytes(size, "big")),
        }
    else:
        raw = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64(raw)}
    if kid is not None:
        jwk["kid"] = kid
    jwk.update(extra)
    return jwk


def test_jwks_file_loading_and_kid_selection(tmp_path: Path) -> None:
    rsa_jwk = {"kty": "RSA", "kid": "r", "n": "AQAB", "e": "AQAB", "use": "sig"}
    enc_jwk = jwk_of(OTHER_EC_KEY, "enc", use="enc")  # encryption keys are not for signatures
    jwks = {
        "keys": [
            rsa_jwk,
            enc_jwk,
            jwk_of(EC_KEY, "ec-1", alg="ES256", use="sig"),
            jwk_of(ED_KEY, "ed-1", alg="EdDSA"),
        ]
    }
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks))
    keys = load_keys(path)
    assert [(k.algorithm, k.kid) for k in keys] == [("ES256", "ec-1"), ("EdDSA", "ed-1")]
    v = verifier(keys=keys)
    assert verify(v, sign(claims(), "ES256", headers={"kid": "ec-1"})).band is Band.ADULT
    assert verify(v, sign(claims(), "EdDSA", headers={"kid": "ed-1"})).band is Band.ADULT
    assert verify(v, sign(claims(), "EdDSA")).band is Band.ADULT  # no kid: every key is tried
    # A kid naming the encryption key, or a key of ours, does not make a forgery verify.
    assert reason(v, sign(claims(), key=OTHER_EC_KEY, headers={"kid": "enc"})) is R.BAD_SIGNATURE
    assert reason(v, sign(claims(), key=OTHER_EC_KEY, headers={"kid": "ec-1"})) is R.BAD_SIGNATURE
    # A single JWK (not wrapped in a set) also loads.
    assert len(keys_from_jwks(json.dumps(jwk_of(ED_KEY)))) == 1


def test_jwks_rotation_accepts_old_and_new_keys() -> None:
    new = ec.generate_private_key(ec.SECP256R1())
    v = verifier(keys=keys_from_jwks({"keys": [jwk_of(EC_KEY, "old"), jwk_of(new, "new")]}))
    assert verify(v, sign(claims(), key=new, headers={"kid": "new"})).band is Band.ADULT
    assert verify(v, sign(claims(), headers={"kid": "old"})).band is Band.ADULT


@pytest.mark.parametrize(
    ("jwks", "match"),
    [
        ({"keys": [jwk_of(EC_KEY, d="c2VjcmV0")]}, "private"),
        ({"keys": [jwk_of(ec.generate_private_key(ec.SECP384R1()))]}, "no usable"),
        ({"keys": [{**jwk_of(EC_KEY), "y": jwk_of(OTHER_EC_KEY)["y"]}]}, "."),  # off curve
        ({"keys": [{**jwk_of(EC_KEY), "x": "AAAA"}]}, "32 bytes"),
        ({"keys": [{**jwk_of(ED_KEY), "x": "not base64!"}]}, "base64url"),
        ({"keys": [jwk_of(ED_KEY, alg="ES256")]}, "no usable"),  # alg does not fit the key
        ({"keys": "nope"}, "list"),
        ({"keys": [5]}, "object"),
        ({"keys": []}, "no usable"),
    ],
)
def test_bad_jwks_is_refused_at_load_time(jwks: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        keys_from_jwks(jwks)


def test_pem_file_loading_rotation_and_certificates(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "agecheck")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(ED_KEY.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(ED_KEY, None)
    )
    path = tmp_path / "keys.pem"
    path.write_bytes(public_pem(EC_KEY) + b"\n" + cert.public_bytes(serialization.Encoding.PEM))
    keys = load_keys(path)
    assert [k.algorithm for k in keys] == ["ES256", "EdDSA"]
    v = verifier(keys=keys)
    assert verify(v, sign(claims(), "EdDSA")).band is Band.ADULT
    assert verify(v, sign(claims(), "ES256")).band is Band.ADULT


def test_bad_pem_is_refused_at_load_time(tmp_path: Path) -> None:
    private = EC_KEY.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ValueError, match="PRIVATE"):
        keys_from_pem(private)
    with pytest.raises(ValueError, match="P-256"):
        keys_from_pem(public_pem(ec.generate_private_key(ec.SECP384R1())))
    rsa_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    with pytest.raises(ValueError, match="unsupported key type"):
        keys_from_pem(
            rsa_pem.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\x00\x01 not a key")
    with pytest.raises(ValueError):
        load_keys(garbage)


def test_verification_key_binds_one_algorithm() -> None:
    (key,) = keys_from_pem(public_pem(ED_KEY))
    assert key == VerificationKey(key.key, "EdDSA", None)


# --------------------------------------------------------------------------- declared (kept)


@pytest.mark.parametrize(
    ("age", "expected"),
    [(13, Band.MINOR), (17, Band.MINOR), (18, Band.ADULT), (120, Band.ADULT)],
)
def test_band_for_age_still_maps_declared_ages(age: int, expected: Band) -> None:
    assert band_for_age(age) is expected


def test_band_for_age_still_refuses() -> None:
    with pytest.raises(AgeRefused):
        band_for_age(12)
    for nonsense in (0, 121, True):
        with pytest.raises(ProtocolError):
            band_for_age(nonsense)
