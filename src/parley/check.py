"""``parley check``: validate a configuration before going live.

Each check returns findings: a level (ok, warning, error), a topic and one line that says what
is wrong and what to do. The settings are read exactly as ``parley serve`` reads them
(``PARLEY_*`` and ``.env``); a setting the service would refuse becomes an error line here.
"""

from __future__ import annotations

import asyncio
import ipaddress
import tempfile
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import ValidationError

from parley.config import Settings
from parley.redis_url import (
    SENTINEL_SCHEME,
    is_redis_url,
    parse_sentinel,
    redis_client,
    scheme,
    sentinel_manager,
)
from parley.safety.assurance import age_policy, attestation_verifier
from parley.safety.policy import DECLARED_WARNING, OPEN_MINOR_POOL_WARNING, AgePolicy

#: How long the database and Redis get to answer before they count as unreachable.
CONNECT_TIMEOUT = 5.0
#: Shorter secrets are guessable offline from anything they sign (device tokens, address tags).
MIN_SECRET_CHARS = 32
TOO_SHORT_CHARS = 16
#: Values people type when they mean "fill this in later"; checked case-insensitively, and
#: after removing separators ("change-me" is "changeme").
WEAK_SECRETS = frozenset(
    {"secret", "changeme", "changeit", "password", "passw0rd", "parley", "dev", "development",
     "test", "testing", "example", "default", "admin", "letmein", "qwerty", "replacewith",
     "replacewithparleyturnsecret", "yoursecret", "mysecret", "supersecret", "secretkey",
     "parleysecret", "todo", "xxx", "none", "null"}
)  # fmt: skip
_GENERATE = "generate one with `openssl rand -hex 32`"
_SENSITIVE = ("secret", "password", "token", "url")  # their values never go into a line


class Level(StrEnum):
    OK = "ok"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Finding:
    level: Level
    topic: str
    message: str

    def line(self) -> str:
        return f"{self.level.value:<7} {self.topic}: {self.message}"


def ok(topic: str, message: str) -> Finding:
    return Finding(Level.OK, topic, message)


def warning(topic: str, message: str) -> Finding:
    return Finding(Level.WARNING, topic, message)


def error(topic: str, message: str) -> Finding:
    return Finding(Level.ERROR, topic, message)


# ---- settings --------------------------------------------------------------------------------


def settings_errors(exc: ValidationError) -> list[Finding]:
    """One line per invalid setting, named as the operator writes it (``PARLEY_PORT``)."""
    out = []
    for err in exc.errors(include_url=False):
        message = str(err["msg"]).removeprefix("Value error, ")
        if not err["loc"]:  # a check across settings: the message names them
            out.append(error("settings", message))
            continue
        field = str(err["loc"][0])
        name = f"PARLEY_{field.upper()}"
        shown = "" if any(s in field for s in _SENSITIVE) else f"={err.get('input')!r}"
        out.append(error("settings", f"{name}{shown}: {message}"))
    return out


def load_settings() -> tuple[Settings | None, list[Finding]]:
    try:
        settings = Settings()
    except ValidationError as exc:
        return None, settings_errors(exc)
    return settings, [ok("settings", "every PARLEY_* setting is valid")]


# ---- secrets and the data directory ----------------------------------------------------------


def secret_weakness(value: str) -> tuple[Level, str] | None:
    """Why ``value`` is a poor secret (and how bad), or None when it looks random enough."""
    folded = "".join(c for c in value.lower() if c.isalnum())
    if folded in WEAK_SECRETS or len(set(value)) <= 2:
        return Level.ERROR, "is a well-known placeholder value"
    if len(value) < TOO_SHORT_CHARS:
        return Level.ERROR, f"is only {len(value)} characters long"
    if len(value) < MIN_SECRET_CHARS:
        return Level.WARNING, f"is only {len(value)} characters long (use {MIN_SECRET_CHARS}+)"
    return None


def check_secret(s: Settings) -> list[Finding]:
    if s.secret:
        weak = secret_weakness(s.secret)
        if weak is not None:
            level, why = weak
            return [
                Finding(
                    level,
                    "secret",
                    f"PARLEY_SECRET {why}: anyone who guesses it can forge device tokens and "
                    f"undo address hashing; {_GENERATE} and set it on every node",
                )
            ]
        return [ok("secret", "PARLEY_SECRET is set")]
    path = s.data_dir / "secret.key"
    several_nodes = urlsplit(s.broker_url).scheme != "memory"
    where = "kept in" if path.exists() else "generated at first start into"
    if several_nodes:
        return [
            warning(
                "secret",
                f"PARLEY_SECRET is empty, so each node uses the secret {where} its own {path}: "
                "device tokens and bans then work on one node only unless every node shares "
                f"that file; {_GENERATE} and set the same PARLEY_SECRET on every node",
            )
        ]
    return [ok("secret", f"PARLEY_SECRET is empty: the secret is {where} {path} (one node)")]


def _writable(folder: Path) -> str | None:
    """None when a file can be created in ``folder``, else why not."""
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".parley-check-"):
            return None
    except OSError as exc:
        return exc.strerror or exc.__class__.__name__


def check_data_dir(s: Settings) -> list[Finding]:
    folder = s.data_dir
    if not folder.exists():
        parent = next((p for p in folder.absolute().parents if p.exists()), Path("/"))
        why = _writable(parent) if parent.is_dir() else "not a directory"
        if why is None:
            return [ok("data dir", f"{folder} does not exist yet; the service creates it")]
        return [
            error(
                "data dir",
                f"{folder} does not exist and cannot be created in {parent} ({why}): create it "
                "writable for the service's user, or point PARLEY_DATA_DIR elsewhere",
            )
        ]
    if not folder.is_dir():
        return [error("data dir", f"{folder} is not a directory: fix PARLEY_DATA_DIR")]
    why = _writable(folder)
    if why is not None:
        return [
            error(
                "data dir",
                f"{folder} is not writable ({why}): the service keeps its secret (and the SQLite "
                "database) there; give the service's user write access, or set PARLEY_DATA_DIR",
            )
        ]
    return [ok("data dir", f"{folder} is writable")]


# ---- where the service listens -----------------------------------------------------------------


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def _trusts_everyone(entries: list[str]) -> bool:
    return any(e == "*" or e in ("0.0.0.0/0", "::/0") for e in entries)


def check_forwarded(s: Settings) -> list[Finding]:
    entries = [e.strip() for e in s.forwarded_allow_ips.split(",") if e.strip()]
    where = f"{s.host}:{s.port}"
    public = not is_loopback(s.host)
    out: list[Finding] = []
    bad = []
    for entry in entries:
        if entry == "*":
            continue
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            bad.append(entry)
    if bad:
        out.append(
            warning(
                "forwarded",
                f"PARLEY_FORWARDED_ALLOW_IPS has entries that are no address or network: "
                f"{', '.join(bad)}; they trust nobody. List your load balancers' addresses",
            )
        )
    if _trusts_everyone(entries):
        if public:
            out.append(
                error(
                    "forwarded",
                    f"PARLEY_FORWARDED_ALLOW_IPS trusts any peer while listening on {where}: "
                    "anyone can send X-Forwarded-For and pick the address that per-address "
                    "limits and bans see. List only your load balancers' addresses",
                )
            )
        else:
            out.append(
                warning(
                    "forwarded",
                    "PARLEY_FORWARDED_ALLOW_IPS trusts any peer: only processes on this host can "
                    f"connect to {where}, but any of them can forge a client's address; list "
                    "the proxy's address (127.0.0.1) instead",
                )
            )
    elif public and entries == ["127.0.0.1"]:
        out.append(
            warning(
                "forwarded",
                f"listening on {where} with only 127.0.0.1 trusted to name clients: behind a "
                "load balancer on another host every client looks like that one address (so "
                "one ban or limit hits everyone); add the balancer's address to "
                "PARLEY_FORWARDED_ALLOW_IPS, or set it empty if clients connect directly",
            )
        )
    elif not out:
        trusted = ", ".join(entries) if entries else "nobody (clients connect directly)"
        out.append(ok("forwarded", f"client addresses forwarded by: {trusted}"))
    return out


def check_metrics(s: Settings) -> list[Finding]:
    if is_loopback(s.host):
        return [ok("metrics", "/metrics is reachable from this host only")]
    if "metrics_token" in Settings.model_fields:  # a setting that not every version has
        if getattr(s, "metrics_token", ""):
            return [ok("metrics", "/metrics needs PARLEY_METRICS_TOKEN")]
        fix = "set PARLEY_METRICS_TOKEN, or block /metrics at your proxy"
    else:
        fix = "block /metrics at your proxy or firewall except for your Prometheus"
    return [
        warning(
            "metrics",
            f"/metrics is open to anyone who can reach {s.host}:{s.port} (it tells how many "
            f"people are online and waiting); {fix}",
        )
    ]


# ---- age assurance ---------------------------------------------------------------------------


def _describe(policy: AgePolicy) -> str:
    minors = ",".join(sorted(policy.minor_modes)) if policy.minor_pool_open else "closed"
    return (
        f"{policy.assurance}; refused under {policy.min_age}, adult from {policy.adult_age}; "
        f"minors: {minors}; adults: {','.join(sorted(policy.adult_modes))}"
    )


def check_age(s: Settings) -> list[Finding]:
    try:
        policy = age_policy(s)
    except ValueError as exc:
        return [
            error(
                "age",
                f"{exc}: fix PARLEY_MIN_AGE, PARLEY_ADULT_AGE, PARLEY_MINOR_MODES or "
                "PARLEY_ADULT_MODES (docs/age-assurance.md)",
            )
        ]
    out = [ok("age", _describe(policy))]
    if s.age_assurance == "declared" and not is_loopback(s.host):
        out.append(warning("age", DECLARED_WARNING))
    if s.age_assurance == "declared" and policy.minor_pool_open:
        # Wherever it listens: a minor pool on typed ages is the harm at the heart of the design.
        out.append(warning("age", OPEN_MINOR_POOL_WARNING))
    return out


def check_attestation(s: Settings) -> list[Finding]:
    attested = s.age_assurance == "attested"
    if s.attestation_keys is None:
        if attested:
            return [
                error(
                    "attestation",
                    "PARLEY_AGE_ASSURANCE=attested needs PARLEY_ATTESTATION_KEYS (the issuer's "
                    "public keys, a PEM or JWKS file), PARLEY_ATTESTATION_ISSUER and "
                    "PARLEY_ATTESTATION_AUDIENCE (docs/age-assurance.md)",
                )
            ]
        if s.video_requires_attestation:
            return [
                warning(
                    "attestation",
                    "PARLEY_VIDEO_REQUIRES_ATTESTATION is on but no PARLEY_ATTESTATION_KEYS: "
                    "nobody can use video; configure an issuer or turn the setting off",
                )
            ]
        return []
    try:
        verifier = attestation_verifier(s)
    except OSError as exc:
        return [
            error(
                "attestation",
                f"cannot read PARLEY_ATTESTATION_KEYS={s.attestation_keys} "
                f"({exc.strerror or exc.__class__.__name__}): give the path of the issuer's "
                "public keys (PEM or JWKS), readable by the service's user",
            )
        ]
    except ValueError as exc:
        return [
            error(
                "attestation",
                f"{exc}: check PARLEY_ATTESTATION_KEYS ({s.attestation_keys}), "
                "PARLEY_ATTESTATION_ISSUER and PARLEY_ATTESTATION_AUDIENCE "
                "(docs/age-assurance.md)",
            )
        ]
    assert verifier is not None
    return [
        ok(
            "attestation",
            f"{len(verifier.keys)} key(s) from {s.attestation_keys} for issuer "
            f"{verifier.issuer!r}, audience {verifier.audience!r}",
        )
    ]


# ---- video and TURN --------------------------------------------------------------------------


def _urls(text: str) -> list[str]:
    return [u.strip() for u in text.split(",") if u.strip()]


def check_video(s: Settings) -> list[Finding]:
    try:
        policy = age_policy(s)
    except ValueError:
        return []  # check_age says why
    if "video" not in policy.adult_modes | policy.minor_modes:
        return [ok("video", "video is off (no mode lists it); no TURN server needed")]
    out: list[Finding] = []
    bad = [u for u in _urls(s.turn_urls) if urlsplit(u).scheme not in ("turn", "turns")]
    bad += [u for u in _urls(s.stun_urls) if urlsplit(u).scheme not in ("stun", "stuns")]
    if bad:
        out.append(
            error(
                "video",
                f"not a turn:/turns: (or stun:) URL: {', '.join(bad)}; browsers refuse the whole "
                "ICE configuration, so no call connects (docs/deploy-turn.md)",
            )
        )
    if not _urls(s.turn_urls):
        out.append(
            warning(
                "video",
                "video is on but no TURN server is configured: calls between people behind "
                "strict NATs or firewalls fail, and the two people can learn each other's IP "
                "address; set PARLEY_TURN_URLS and PARLEY_TURN_SECRET (docs/deploy-turn.md), or "
                "remove video from PARLEY_ADULT_MODES/PARLEY_MINOR_MODES",
            )
        )
        return out
    weak = secret_weakness(s.turn_secret)
    if weak is not None:
        level, why = weak
        out.append(
            Finding(
                level,
                "video",
                f"PARLEY_TURN_SECRET {why}: anyone who guesses it can mint credentials and "
                f"relay traffic through your TURN server; {_GENERATE} (same value in coturn's "
                "static-auth-secret)",
            )
        )
    if out:
        return out
    turn = f"{len(_urls(s.turn_urls))} TURN URL(s)"
    if s.ice_transport_policy == "relay":
        return [ok("video", f"{turn}; relay-only ICE: strangers never see each other's address")]
    return [
        ok(
            "video",
            f"{turn}; PARLEY_ICE_TRANSPORT_POLICY=all lets strangers learn each other's IP "
            "address when a call connects directly",
        )
    ]


# ---- database and broker ---------------------------------------------------------------------


def _problem(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {CONNECT_TIMEOUT:.0f} s"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__


async def check_database(s: Settings, *, migrate: bool) -> list[Finding]:
    from sqlalchemy import make_url

    from parley.store import Database, head_revision, known_revision

    url = s.resolved_database_url
    try:
        parsed = make_url(url)
        shown = parsed.render_as_string(hide_password=True)
    except Exception:  # the parser's message repeats the URL, password and all
        return [
            error(
                "database",
                "PARLEY_DATABASE_URL is not a database URL: use "
                "postgresql://user:password@host:5432/db, or leave it empty for SQLite",
            )
        ]
    is_sqlite = parsed.get_backend_name() == "sqlite"
    missing = (
        is_sqlite and parsed.database and not await asyncio.to_thread(Path(parsed.database).exists)
    )
    if missing and not migrate:
        return [
            warning(
                "database",
                f"no database at {parsed.database} yet: the service creates and migrates it at "
                "start-up; to do it now, run `parley check --migrate`",
            )
        ]
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            db = await Database.open(url, schema=s.database_schema or None)
    except Exception as exc:  # unreachable, refused, bad credentials, unsupported URL
        return [
            error(
                "database",
                f"cannot open {shown} ({_problem(exc)}): check PARLEY_DATABASE_URL, that the "
                "server runs and that this host may connect",
            )
        ]
    try:
        head = head_revision()
        if migrate:
            migrated = await db.migrate()
            return [ok("database", f"{shown} migrated to revision {migrated} (head)")]
        current = await db.schema_revision()
    except Exception as exc:
        return [error("database", f"{shown}: reading the schema failed ({_problem(exc)})")]
    finally:
        await db.close()
    if current == head:
        return [ok("database", f"{shown} reachable, schema at revision {head} (head)")]
    if current is not None and not known_revision(current):
        return [
            error(
                "database",
                f"{shown} is at revision {current}, which this version of Parley does not know "
                f"(its head is {head}): a newer version migrated it; run that version",
            )
        ]
    return [
        warning(
            "database",
            f"{shown} is at revision {current or 'none (empty)'}, head is {head}: the service "
            "migrates it at start-up; to do it now, run `parley check --migrate`",
        )
    ]


async def check_broker(s: Settings) -> list[Finding]:
    if scheme(s.broker_url) == "memory":
        return [ok("broker", "memory:// (one node; use redis:// to run several)")]
    if not is_redis_url(s.broker_url):
        return [
            error(
                "broker",
                f"PARLEY_BROKER_URL scheme {scheme(s.broker_url)!r} is not supported: use "
                "memory://, redis://host:port/db or redis+sentinel://host:26379,.../service/db",
            )
        ]
    if scheme(s.broker_url) == SENTINEL_SCHEME:
        return await _check_sentinels(s.broker_url)
    parts = urlsplit(s.broker_url)
    where = parts.path if parts.scheme == "unix" else f"{parts.hostname}:{parts.port or 6379}"
    problem = await _ping(s.broker_url)
    if problem is not None:
        return [
            error(
                "broker",
                f"Redis at {where} does not answer PING ({problem}): start it, or fix "
                "PARLEY_BROKER_URL",
            )
        ]
    return [ok("broker", f"Redis at {where} answers PING")]


async def _ping(url: str) -> str | None:
    """What stops the Redis ``url`` names from answering PING, or None if it answers."""
    client = redis_client(
        url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=CONNECT_TIMEOUT
    )
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT * 2):
            await client.ping()
    except Exception as exc:  # refused, timed out, auth failed, not Redis, no primary known
        return _problem(exc)
    finally:
        await client.aclose()
    return None


async def _check_sentinels(url: str) -> list[Finding]:
    """Each Sentinel answers, and the primary they name answers PING."""
    try:
        target = parse_sentinel(url)
    except ValueError as exc:
        return [error("broker", f"PARLEY_BROKER_URL: {exc}")]
    sentinel = sentinel_manager(target)
    silent = []
    try:
        for (host, port), client in zip(target.sentinels, sentinel.sentinels, strict=True):
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT):
                    await client.ping()
            except Exception as exc:  # down, refused, auth failed
                silent.append(f"{host}:{port} ({_problem(exc)})")
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                host, port = await sentinel.discover_master(target.service)
        except Exception as exc:  # none answers, or none knows a healthy primary by that name
            return [
                error(
                    "broker",
                    f"no Sentinel of {target.shown()} names a healthy primary "
                    f"{target.service!r} ({_problem(exc)}): check the Sentinels' "
                    "`sentinel monitor` name, or fix PARLEY_BROKER_URL",
                )
            ]
    finally:
        await sentinel.aclose()
    problem = await _ping(url)
    if problem is not None:
        return [
            error(
                "broker",
                f"the primary {target.service!r} at {host}:{port} does not answer PING "
                f"({problem}): check its credentials in PARLEY_BROKER_URL",
            )
        ]
    found = [
        ok(
            "broker",
            f"Redis primary {target.service!r} at {host}:{port} answers PING (found through "
            f"{len(target.sentinels) - len(silent)} of {len(target.sentinels)} Sentinels)",
        )
    ]
    if silent:
        found.append(
            warning(
                "broker",
                f"Sentinels that do not answer: {', '.join(silent)}; a failover needs a "
                "majority of them to agree",
            )
        )
    elif len(target.sentinels) < 3:
        found.append(
            warning(
                "broker",
                f"{len(target.sentinels)} Sentinel(s) named: run at least three, on separate "
                "machines, so that a failover has a majority when one machine is lost",
            )
        )
    return found


# ---- all of it -------------------------------------------------------------------------------

SYNC_CHECKS: tuple[Callable[[Settings], list[Finding]], ...] = (
    check_age,
    check_attestation,
    check_video,
    check_secret,
    check_data_dir,
    check_forwarded,
    check_metrics,
)


async def run_checks(s: Settings, *, migrate: bool = False) -> list[Finding]:
    out: list[Finding] = []
    for check in SYNC_CHECKS:
        out += check(s)
    slow: Iterable[Awaitable[list[Finding]]] = (check_database(s, migrate=migrate), check_broker(s))
    for found in await asyncio.gather(*slow):
        out += found
    return out


def check(*, migrate: bool = False) -> tuple[list[Finding], int]:
    """Every finding for the configuration of this environment, and the exit code."""
    settings, findings = load_settings()
    if settings is not None:
        findings += asyncio.run(run_checks(settings, migrate=migrate))
    failed = any(f.level is Level.ERROR for f in findings)
    return findings, 1 if failed else 0


def summary(findings: list[Finding]) -> str:
    counts = {level: sum(f.level is level for f in findings) for level in Level}
    return (
        f"{counts[Level.ERROR]} error(s), {counts[Level.WARNING]} warning(s), {counts[Level.OK]} ok"
    )
