"""Attested age assurance over a real server (docs/age-assurance.md).

The test plays the age-check provider: it makes an ES256 key pair, gives the server the public
key, and signs attestations with PyJWT. Under ``attested`` the band comes only from a verified
attestation: adults meet adults, minors meet minors, and anything unverifiable is
``attestation_required`` (the socket stays open for another try).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from harness.client import Client
from harness.safety import database, dev, log_events, stored_bytes, unique_interest
from harness.server import ServerHandle, start_server
from parley.safety.policy import DECLARED_WARNING

ISSUER = "https://agecheck.example"
AUDIENCE = "https://parley.test"
PROVIDER = ec.generate_private_key(ec.SECP256R1())
IMPOSTOR = ec.generate_private_key(ec.SECP256R1())


def public_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    workdir = tmp_path_factory.mktemp("attested-server")
    keys = workdir / "provider.pem"
    keys.write_bytes(public_pem(PROVIDER))
    handle = start_server(
        workdir,
        {
            "PARLEY_HEARTBEAT_INTERVAL": 1,
            "PARLEY_HEARTBEAT_TIMEOUT": 3,
            "PARLEY_AGE_ASSURANCE": "attested",
            "PARLEY_ATTESTATION_ISSUER": ISSUER,
            "PARLEY_ATTESTATION_KEYS": keys,
            "PARLEY_ATTESTATION_AUDIENCE": AUDIENCE,
        },
    )
    yield handle
    handle.stop()


def claims(**overrides: Any) -> dict[str, Any]:
    """A valid adult attestation's claims; ``name=None`` drops a claim."""
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now - 2,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        "age_over_18": True,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(payload: dict[str, Any], key: ec.EllipticCurvePrivateKey = PROVIDER) -> str:
    return jwt.encode(payload, key, algorithm="ES256")


def adult() -> str:
    return sign(claims())


def minor() -> str:
    return sign(claims(age_over_18=None, age_band="13-17"))


def b64(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


async def hello(
    srv: ServerHandle, attestation: str | None, interest: str | None = None, **fields: Any
) -> Client:
    """A welcomed client (no declared age: under ``attested`` it plays no part)."""
    c = await Client.open(srv)
    if interest is not None:
        fields |= {"interests": [interest], "fallback": False}
    fields.setdefault("age", None)
    await c.hello(attestation=attestation, **fields)
    return c


# ---- admitted by band -----------------------------------------------------------------------


async def test_attested_adults_are_matched_and_only_the_band_is_kept(srv: ServerHandle) -> None:
    interest = unique_interest("att")
    marker = uuid.uuid4().hex
    payload = claims(sub=f"subject-{marker}", name=f"Alice {marker}", birthdate="1990-01-01")
    token = sign(payload)
    a = await hello(srv, token, interest)
    b = await hello(srv, adult(), interest)

    assert (await a.start())["type"] == "waiting"
    got = await b.start()
    assert got["type"] == "matched"
    assert (await a.expect("matched", strict=True))["pair"] == got["pair"]

    async with database(srv) as store:
        device = await store.get_device(dev(a))
    assert device is not None
    assert device.age_band == "adult"
    assert device.band_expires_at is not None
    assert abs(device.band_expires_at.timestamp() - payload["exp"]) < 1
    data = stored_bytes(srv)
    assert marker.encode() not in data, "identity claims of the attestation were stored"
    assert token.split(".")[2].encode() not in data, "the attestation itself was stored"


async def test_attested_minors_meet_minors_and_never_the_adult_waiting(srv: ServerHandle) -> None:
    interest = unique_interest("att")
    grown = await hello(srv, adult(), interest)
    assert (await grown.start())["type"] == "waiting"

    teen = await hello(srv, minor(), interest)
    assert (await teen.start())["type"] == "waiting", "a minor was matched with the adult"
    teen2 = await hello(srv, minor(), interest, age=25)  # a typed adult age changes nothing
    got = await teen2.start()
    assert got["type"] == "matched"
    assert (await teen.expect("matched", strict=True))["pair"] == got["pair"]

    grown2 = await hello(srv, adult(), interest)  # the adult was free all along
    got = await grown2.start()
    assert got["type"] == "matched"
    assert (await grown.expect("matched", strict=True))["pair"] == got["pair"]

    async with database(srv) as store:
        record = await store.get_device(dev(teen2))
    assert record is not None and record.age_band == "minor"


async def test_an_attested_minor_may_not_use_video(srv: ServerHandle) -> None:
    c = await Client.open(srv)
    await c.send("hello", attestation=minor(), mode="video", id=4)
    error = await c.expect("error", strict=True)
    assert (error["code"], error["ref"]) == ("mode_not_allowed", 4)


# ---- refused -----------------------------------------------------------------------------------


def tampered() -> str:
    """A minor's valid token with its payload swapped for an adult's."""
    header, _, signature = minor().split(".")
    return f"{header}.{b64(claims())}.{signature}"


def alg_none() -> str:
    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims())}."


def hs256_with_our_public_key() -> str:
    """The algorithm-confusion attack: HMAC keyed with the provider's public key."""
    signing_input = f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{b64(claims())}"
    mac = hmac.new(public_pem(PROVIDER), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def expired() -> str:
    now = int(time.time())
    return sign(claims(iat=now - 200, exp=now - 100))  # past the 30 s leeway


REJECTED: dict[str, tuple[Callable[[], str], str]] = {
    "forged": (lambda: sign(claims(), IMPOSTOR), "bad_signature"),
    "tampered": (tampered, "bad_signature"),
    "expired": (expired, "expired"),
    "wrong_audience": (lambda: sign(claims(aud="https://other.example")), "wrong_audience"),
    "wrong_issuer": (lambda: sign(claims(iss="https://agecheck.evil")), "wrong_issuer"),
    "alg_none": (alg_none, "bad_algorithm"),
    "hs256_with_our_public_key": (hs256_with_our_public_key, "bad_algorithm"),
    "garbage": (lambda: "not-a-token", "malformed"),
}


async def replayed(srv: ServerHandle) -> str:
    """A valid token that was already accepted once."""
    token = adult()
    first = await hello(srv, token)
    await first.close()
    return token


@pytest.mark.parametrize("kind", [*REJECTED, "replayed", "declared_age_only"])
async def test_an_unverifiable_attestation_is_attestation_required_and_may_be_retried(
    srv: ServerHandle, kind: str
) -> None:
    reason: str | None
    if kind == "replayed":
        token: str | None = await replayed(srv)
        reason = "replayed"
    elif kind == "declared_age_only":
        token, reason = None, None
    else:
        make, reason = REJECTED[kind]
        token = make()
    seen = len(log_events(srv, "attestation rejected"))
    c = await Client.open(srv)

    await c.send("hello", age=30, attestation=token, id=9)

    error = await c.expect("error", strict=True)
    assert (error["code"], error["ref"]) == ("attestation_required", 9)
    assert error["message"]
    if reason is not None:  # rejected for the intended reason, not by accident
        events = log_events(srv, "attestation rejected")
        assert [e.get("reason") for e in events[seen:]] == [reason]
    # The socket stays open: a valid attestation on the same connection is welcomed.
    assert (await c.hello(age=None, attestation=adult()))["type"] == "welcome"


async def test_an_attestation_that_says_under_13_is_refused_and_closed(srv: ServerHandle) -> None:
    c = await Client.open(srv)
    await c.send("hello", attestation=sign(claims(age_over_18=None, age_band="under_13")), id=2)
    error = await c.expect("error", strict=True)
    assert (error["code"], error["ref"]) == ("age_refused", 2)
    assert await c.wait_closed() == 4003


async def test_a_typed_age_under_13_is_refused_even_with_an_adult_attestation(
    srv: ServerHandle,
) -> None:
    c = await Client.open(srv)
    await c.send("hello", age=11, attestation=adult())
    assert (await c.expect("error", strict=True))["code"] == "age_refused"
    assert await c.wait_closed() == 4003


async def test_attested_assurance_does_not_log_the_declared_warning(srv: ServerHandle) -> None:
    logs = srv.logs()
    assert "parley started" in logs
    assert DECLARED_WARNING not in logs
