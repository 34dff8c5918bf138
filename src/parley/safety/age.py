"""Age assurance: which band a person belongs to, and who is refused.

The band decides the pool; pools never mix (docs/design.md, invariant 1). Two sources of a band:

- ``declared``: the person types an age (:func:`band_for_age`). Fine for development and closed
  communities, not enough for a public service.
- ``attested``: the client presents a signed age attestation (a JWT) minted by an age-check
  provider that the operator trusts (:class:`AttestationVerifier`). The provider has checked the
  person; we only learn an age band and an expiry, never who they are.

Which band may do what (pools, modes, closed minor pool) is policy, in ``safety/policy.py``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import json
import math
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from parley.pool import Band
from parley.protocol import ErrorCode, ProtocolError

MAX_AGE = 120


class AgeRefused(Exception):
    """The person is too young for the service at all."""


def band_for_age(age: int, *, min_age: int = 13, adult_age: int = 18) -> Band:
    """Map a declared age to a band, refusing under ``min_age``.

    Raises ProtocolError(invalid_age) for nonsense and AgeRefused for under-age.
    """
    if isinstance(age, bool) or not 1 <= age <= MAX_AGE:
        raise ProtocolError(
            ErrorCode.INVALID_AGE, f"age must be a whole number from 1 to {MAX_AGE}"
        )
    if age < min_age:
        raise AgeRefused
    return Band.ADULT if age >= adult_age else Band.MINOR


# --------------------------------------------------------------------------------------------
# Attested age
# --------------------------------------------------------------------------------------------

#: Algorithms this module can verify. Asymmetric only: with a symmetric algorithm anyone who
#: holds the verification key (every Parley operator) could mint attestations.
SUPPORTED_ALGORITHMS = frozenset({"ES256", "EdDSA"})

#: A real attestation is a few hundred bytes; the cap stops a huge token costing work before we
#: even look at it (invariant 6).
MAX_TOKEN_BYTES = 8 * 1024
MAX_JTI_CHARS = 256
MAX_KEY_FILE_BYTES = 1024 * 1024
#: Latest timestamp we accept (year ~5138). Keeps float conversion and arithmetic finite.
_MAX_TIMESTAMP = 10**11

_B64URL = re.compile(r"[A-Za-z0-9_-]*")


class AttestationReason(StrEnum):
    """Stable reasons an attestation is rejected; safe to log and to show as a code."""

    BAD_SIGNATURE = "bad_signature"  # not signed by a configured key (forged, or unknown kid)
    BAD_ALGORITHM = "bad_algorithm"  # alg none, HS*, RS*, or any alg not on the allow-list
    EXPIRED = "expired"  # exp has passed
    NOT_YET_VALID = "not_yet_valid"  # iat or nbf in the future beyond the leeway
    TOO_OLD = "too_old"  # iat older than max_age: a stale attestation being reused
    WRONG_AUDIENCE = "wrong_audience"  # minted for another service
    WRONG_ISSUER = "wrong_issuer"  # minted by a provider the operator does not trust
    REPLAYED = "replayed"  # this jti was already presented
    MISSING_CLAIM = "missing_claim"  # iss/aud/exp/iat/jti or an age claim absent
    MALFORMED = "malformed"  # not a JWS, bad base64/JSON, wrong claim types or values
    UNAVAILABLE = "unavailable"  # the replay cache cannot answer (full, or backend down)


class AttestationError(Exception):
    """An attestation was rejected. ``reason`` is stable; ``detail`` is for logs only."""

    def __init__(self, reason: AttestationReason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = reason
        self.detail = detail


class AttestedUnderAge(AgeRefused):
    """A valid attestation says the person is under 13.

    A subclass of AgeRefused so code that already refuses under-age people refuses these too.
    """


@dataclass(frozen=True, slots=True)
class Attestation:
    """What a verified attestation tells us, and nothing more.

    ``jti`` is the provider's id of this one token (single use), not of the person.
    """

    band: Band
    expires_at: float
    jti: str


PublicKey = ec.EllipticCurvePublicKey | Ed25519PublicKey


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """A public key bound to the one algorithm it may verify (no algorithm is taken on trust
    from a token header), with the JWKS ``kid`` when it has one."""

    key: PublicKey
    algorithm: str
    kid: str | None = None


def _bind(key: object, kid: str | None) -> VerificationKey:
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise ValueError(f"unsupported EC curve {key.curve.name}; only P-256 (ES256)")
        return VerificationKey(key, "ES256", kid)
    if isinstance(key, Ed25519PublicKey):
        return VerificationKey(key, "EdDSA", kid)
    raise ValueError(f"unsupported key type {type(key).__name__}; only EC P-256 and Ed25519")


_PEM_BLOCK = re.compile(rb"-----BEGIN (PUBLIC KEY|CERTIFICATE)-----.+?-----END \1-----", re.DOTALL)


def keys_from_pem(data: bytes) -> tuple[VerificationKey, ...]:
    """Public keys (or certificates' keys) from PEM text; several blocks allow key rotation."""
    keys: list[VerificationKey] = []
    for match in _PEM_BLOCK.finditer(data):
        block = match.group(0)
        if match.group(1) == b"CERTIFICATE":
            key: object = x509.load_pem_x509_certificate(block).public_key()
        else:
            key = load_pem_public_key(block)
        keys.append(_bind(key, None))
    if not keys:
        # A private key here is an operator mistake worth naming: it must never be on the server.
        hint = " (found a PRIVATE key: give Parley only the public key)"
        raise ValueError(
            "no PUBLIC KEY or CERTIFICATE block in PEM" + (hint if b"PRIVATE" in data else "")
        )
    return tuple(keys)


def _b64url_decode(value: object, what: str) -> bytes:
    if not isinstance(value, str) or not _B64URL.fullmatch(value):
        raise ValueError(f"{what} is not base64url")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{what} is not base64url") from exc


def _jwk_key(jwk: Mapping[str, Any]) -> VerificationKey | None:
    """One JWK to a key, or None for a kind we do not verify with (e.g. an RSA key that the
    provider publishes for another purpose)."""
    if "d" in jwk:
        raise ValueError("JWKS holds private key material: give Parley only public keys")
    if jwk.get("use", "sig") != "sig":
        return None
    ops = jwk.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        return None
    kid = jwk.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise ValueError("JWK kid must be a string")
    kty, crv, alg = jwk.get("kty"), jwk.get("crv"), jwk.get("alg")
    if kty == "EC" and crv == "P-256":
        if alg not in (None, "ES256"):
            return None
        x, y = _b64url_decode(jwk.get("x"), "x"), _b64url_decode(jwk.get("y"), "y")
        if len(x) != 32 or len(y) != 32:
            raise ValueError("P-256 JWK x and y must be 32 bytes each")
        # public_key() checks that the point is on the curve (invalid-curve attacks).
        numbers = ec.EllipticCurvePublicNumbers(
            int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
        )
        return _bind(numbers.public_key(), kid)
    if kty == "OKP" and crv == "Ed25519":
        if alg not in (None, "EdDSA", "Ed25519"):
            return None
        x = _b64url_decode(jwk.get("x"), "x")
        if len(x) != 32:
            raise ValueError("Ed25519 JWK x must be 32 bytes")
        return _bind(Ed25519PublicKey.from_public_bytes(x), kid)
    return None


def keys_from_jwks(document: str | bytes | Mapping[str, Any]) -> tuple[VerificationKey, ...]:
    """Keys from a JWKS (``{"keys": [...]}``) or a single JWK. Unsupported kinds are skipped;
    it is an error if nothing usable is left."""
    doc: object = _strict_json(document) if isinstance(document, str | bytes) else document
    if not isinstance(doc, Mapping):
        raise ValueError("JWKS must be a JSON object")
    entries: object = doc.get("keys", [doc])
    if not isinstance(entries, list):
        raise ValueError('JWKS "keys" must be a list')
    keys: list[VerificationKey] = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise ValueError("each JWK must be a JSON object")
        key = _jwk_key(entry)
        if key is not None:
            keys.append(key)
    if not keys:
        raise ValueError("JWKS has no usable EC P-256 or Ed25519 signature key")
    return tuple(keys)


def load_keys(path: str | Path) -> tuple[VerificationKey, ...]:
    """Keys from a file: PEM (public keys or certificates) or JWKS JSON, told apart by content."""
    data = Path(path).read_bytes()
    if len(data) > MAX_KEY_FILE_BYTES:
        raise ValueError(f"{path}: key file larger than {MAX_KEY_FILE_BYTES} bytes")
    if b"-----BEGIN" in data:
        return keys_from_pem(data)
    return keys_from_jwks(data)


class ReplayCacheUnavailable(Exception):
    """The replay cache cannot tell whether a token is new. Callers fail closed."""


class ReplayCache(Protocol):
    """Remembers presented token ids until they could no longer be accepted anyway.

    ``claim`` must be atomic check-and-set (Redis: ``SET key 1 NX PXAT until``): two nodes
    racing with the same token must not both win. Keys arrive already hashed and namespaced by
    issuer, so a shared backend needs no prefixing beyond its own.
    """

    async def claim(self, key: str, until: float, now: float) -> bool:
        """True if ``key`` was new (and is now remembered until ``until``), False if replayed.
        Raises ReplayCacheUnavailable when it cannot answer."""
        ...


class MemoryReplayCache:
    """In-process replay cache for one node, bounded in size.

    When full of live entries it refuses new tokens (ReplayCacheUnavailable) rather than forget
    one early: forgetting would reopen a replay window, refusing only delays honest users. The
    verifier keeps entries short-lived (at most ``max_age``), so the bound is only reached under
    a flood far beyond normal load.
    """

    def __init__(self, max_entries: int = 200_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._until: dict[str, float] = {}
        self._expiry: list[tuple[float, str]] = []  # min-heap, for purging in expiry order

    def __len__(self) -> int:
        return len(self._until)

    def _purge(self, now: float) -> None:
        heap = self._expiry
        while heap and heap[0][0] <= now:
            until, key = heapq.heappop(heap)
            if self._until.get(key) == until:
                del self._until[key]

    async def claim(self, key: str, until: float, now: float) -> bool:
        self._purge(now)
        if key in self._until:
            return False
        if len(self._until) >= self.max_entries:
            raise ReplayCacheUnavailable("replay cache full")
        self._until[key] = until
        heapq.heappush(self._expiry, (until, key))
        return True


def _reject_constant(name: str) -> object:
    raise ValueError(f"non-standard JSON constant {name}")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Duplicate names are how two parsers get to disagree about one token; refuse them.
    obj: dict[str, Any] = {}
    for name, value in pairs:
        if name in obj:
            raise ValueError(f"duplicate JSON member {name!r}")
        obj[name] = value
    return obj


def _strict_json(data: str | bytes) -> object:
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    return json.loads(text, object_pairs_hook=_unique_object, parse_constant=_reject_constant)


def _timestamp(claims: Mapping[str, Any], name: str, required: bool) -> float | None:
    if name not in claims:
        if required:
            raise AttestationError(AttestationReason.MISSING_CLAIM, f"no {name}")
        return None
    value = claims[name]
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 <= value <= _MAX_TIMESTAMP
    ):
        raise AttestationError(AttestationReason.MALFORMED, f"{name} is not a timestamp")
    return float(value)


# Each age claim narrows the person's age to an inclusive range; the band is read off the
# intersection. This handles any mix of claims and catches contradictory ones.
_NO_LIMIT = 10_000
_AGE_BANDS: dict[str, tuple[int, int]] = {
    "under_13": (0, 12),
    "13-17": (13, 17),
    "18+": (18, _NO_LIMIT),
}
_AGE_OVER: dict[str, int] = {"age_over_18": 18, "age_over_13": 13}


def _band(claims: Mapping[str, Any]) -> Band | None:
    """The band the claims prove; None means under 13. Raises AttestationError otherwise."""
    low, high, seen = 0, _NO_LIMIT, False
    for name, threshold in _AGE_OVER.items():
        if name in claims:
            value = claims[name]
            if not isinstance(value, bool):
                raise AttestationError(AttestationReason.MALFORMED, f"{name} is not a boolean")
            seen = True
            if value:
                low = max(low, threshold)
            else:
                high = min(high, threshold - 1)
    if "age_band" in claims:
        value = claims["age_band"]
        if not isinstance(value, str) or value not in _AGE_BANDS:
            raise AttestationError(AttestationReason.MALFORMED, "unknown age_band")
        seen = True
        band_low, band_high = _AGE_BANDS[value]
        low, high = max(low, band_low), min(high, band_high)
    if not seen:
        raise AttestationError(AttestationReason.MISSING_CLAIM, "no age_over_18 or age_band")
    if low > high:
        raise AttestationError(AttestationReason.MALFORMED, "age claims contradict each other")
    if low >= 18:
        return Band.ADULT
    if high <= 12:
        return None
    if high <= 17:
        # Note: age_over_18 false alone proves under 18 but not 13 or over; the 13 floor then
        # rests on the declared age, which the policy still checks.
        return Band.MINOR
    # e.g. only age_over_13: true. Could be 13 or 40: no band, and never the adult pool.
    raise AttestationError(AttestationReason.MISSING_CLAIM, "claims do not decide the band")


class AttestationVerifier:
    """Verifies age attestations from one trusted issuer.

    A token must be a compact JWS signed with an allowed algorithm by one of ``keys``, with
    ``iss == issuer``, ``aud`` containing ``audience``, ``exp``, ``iat`` (not in the future
    beyond ``leeway``, not older than ``max_age`` seconds), an unused ``jti``, and an age claim
    (``age_over_18`` bool and/or ``age_band`` in ``"under_13" | "13-17" | "18+"``).
    """

    def __init__(
        self,
        issuer: str,
        keys: Iterable[VerificationKey],
        audience: str,
        max_age: float,
        algorithms: Sequence[str] = ("ES256", "EdDSA"),
        replay: ReplayCache | None = None,
        *,
        leeway: float = 30.0,
    ) -> None:
        if not issuer or not audience:
            raise ValueError("issuer and audience must be non-empty")
        if not math.isfinite(max_age) or max_age <= 0:
            raise ValueError("max_age must be a positive number of seconds")
        if not math.isfinite(leeway) or not 0 <= leeway <= 300:
            raise ValueError("leeway must be 0-300 seconds")
        unknown = set(algorithms) - SUPPORTED_ALGORITHMS
        if unknown or not algorithms:
            raise ValueError(
                f"algorithms must be a non-empty subset of {sorted(SUPPORTED_ALGORITHMS)}"
            )
        self.issuer = issuer
        self.audience = audience
        self.max_age = float(max_age)
        self.leeway = float(leeway)
        self.algorithms = frozenset(algorithms)
        self.keys = tuple(k for k in keys if k.algorithm in self.algorithms)
        if not self.keys:
            raise ValueError("no key usable with the allowed algorithms")
        self.replay: ReplayCache = replay if replay is not None else MemoryReplayCache()
        self._jws = jwt.PyJWS()

    async def verify(self, token: str, now: float | None = None) -> Attestation:
        """Verify ``token`` and consume its jti.

        Raises AttestationError (with a stable ``reason``) if it is not acceptable, and
        AttestedUnderAge if it is valid and says the person is under 13.
        """
        now = time.time() if now is None else now
        claims = self._claims(token)
        attestation, until = self._check(claims, now)
        # Replay is checked last, so tokens that fail anything else never take cache space.
        digest = hashlib.sha256(f"{self.issuer}\x00{attestation.jti}".encode()).hexdigest()
        try:
            fresh = await self.replay.claim(digest, until, now)
        except ReplayCacheUnavailable as exc:
            raise AttestationError(AttestationReason.UNAVAILABLE, str(exc)) from exc
        if not fresh:
            raise AttestationError(AttestationReason.REPLAYED, "jti already presented")
        if attestation.band is None:
            raise AttestedUnderAge
        return Attestation(attestation.band, attestation.expires_at, attestation.jti)

    def _claims(self, token: str) -> dict[str, Any]:
        """Signature and header checks; returns the payload claims."""
        # ASCII only (a compact JWS is), so the character count is the byte count.
        if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES or not token.isascii():
            raise AttestationError(AttestationReason.MALFORMED, "token missing or too large")
        parts = token.split(".")
        if len(parts) != 3 or not all(_B64URL.fullmatch(p) for p in parts):
            raise AttestationError(AttestationReason.MALFORMED, "not a compact JWS")
        try:
            header = _strict_json(_b64url_decode(parts[0], "header"))
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            raise AttestationError(AttestationReason.MALFORMED, "bad header") from exc
        if not isinstance(header, dict):
            raise AttestationError(AttestationReason.MALFORMED, "header is not an object")
        alg = header.get("alg")
        # The allow-list is checked before any key is touched: "none", HS256 with our public
        # key as the HMAC secret, RS256 and friends all stop here.
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise AttestationError(AttestationReason.BAD_ALGORITHM, f"alg {alg!r} not allowed")
        if "crit" in header or "b64" in header:
            # RFC 7515 §4.1.11: we understand no extensions, so we must reject critical ones.
            raise AttestationError(AttestationReason.MALFORMED, "unsupported critical header")
        # jku / jwk / x5u / x5c headers are ignored on purpose: keys come only from the operator.
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise AttestationError(AttestationReason.MALFORMED, "kid is not a string")
        usable = [k for k in self.keys if k.algorithm == alg]
        # A kid only narrows the search; every configured key is trusted, so a token with no
        # kid (or an unknown one) is simply tried against each key of its algorithm.
        candidates = [k for k in usable if kid is not None and k.kid == kid] or usable
        if not candidates:
            raise AttestationError(AttestationReason.BAD_SIGNATURE, "no key for this algorithm")
        payload: bytes | None = None
        for candidate in candidates:
            try:
                decoded = self._jws.decode_complete(token, candidate.key, algorithms=[alg])
            except jwt.InvalidSignatureError:
                continue
            except jwt.InvalidAlgorithmError as exc:
                raise AttestationError(AttestationReason.BAD_ALGORITHM, str(exc)) from exc
            except jwt.PyJWTError as exc:
                raise AttestationError(AttestationReason.MALFORMED, str(exc)) from exc
            payload = decoded["payload"]
            break
        if payload is None:
            raise AttestationError(AttestationReason.BAD_SIGNATURE, "signature does not verify")
        try:
            claims = _strict_json(payload)
        except (ValueError, RecursionError) as exc:
            raise AttestationError(AttestationReason.MALFORMED, "payload is not JSON") from exc
        if not isinstance(claims, dict):
            raise AttestationError(AttestationReason.MALFORMED, "payload is not an object")
        return claims

    def _check(self, claims: Mapping[str, Any], now: float) -> tuple[_Checked, float]:
        """Claim checks; returns the result and how long its jti must be remembered."""
        if "iss" not in claims:
            raise AttestationError(AttestationReason.MISSING_CLAIM, "no iss")
        if claims["iss"] != self.issuer:
            raise AttestationError(AttestationReason.WRONG_ISSUER, "iss not trusted")
        if "aud" not in claims:
            raise AttestationError(AttestationReason.MISSING_CLAIM, "no aud")
        aud = claims["aud"]
        audiences = aud if isinstance(aud, list) else [aud]
        if not audiences or not all(isinstance(a, str) for a in audiences):
            raise AttestationError(AttestationReason.MALFORMED, "aud is not a string or list")
        if self.audience not in audiences:
            raise AttestationError(AttestationReason.WRONG_AUDIENCE, "aud is not this service")
        exp = _timestamp(claims, "exp", required=True)
        iat = _timestamp(claims, "iat", required=True)
        nbf = _timestamp(claims, "nbf", required=False)
        assert exp is not None and iat is not None  # required=True never returns None
        if now >= exp + self.leeway:
            raise AttestationError(AttestationReason.EXPIRED, "exp has passed")
        if iat > now + self.leeway or (nbf is not None and nbf > now + self.leeway):
            raise AttestationError(AttestationReason.NOT_YET_VALID, "iat or nbf in the future")
        if now - iat > self.max_age:
            raise AttestationError(AttestationReason.TOO_OLD, "iat older than max_age")
        if "jti" not in claims:
            raise AttestationError(AttestationReason.MISSING_CLAIM, "no jti")
        jti = claims["jti"]
        if not isinstance(jti, str) or not 1 <= len(jti) <= MAX_JTI_CHARS:
            raise AttestationError(AttestationReason.MALFORMED, "jti is not a short string")
        band = _band(claims)
        # After this instant the token fails `expired` or `too_old` anyway, so its jti need not
        # be remembered longer: this is what keeps the replay cache small.
        until = min(exp + self.leeway, iat + self.max_age) + 1.0
        return _Checked(band, exp, jti), until


@dataclass(frozen=True, slots=True)
class _Checked:
    band: Band | None  # None: under 13
    expires_at: float
    jti: str
