"""Moderator accounts and login sessions.

- Passwords: argon2id (argon2-cffi), verified in a worker thread so a login never stalls chats.
- Sessions: a random id in a cookie (HttpOnly, SameSite=Strict, Secure unless plain http on
  loopback), held in this process with the moderator's name, a CSRF token and the time of the
  last request; idle sessions end after ``PARLEY_MOD_SESSION_IDLE`` seconds. The role is read
  from the store on every request, so a demotion or a deletion takes effect at once.
- Every unsafe request (POST, PUT, PATCH, DELETE) must carry the session's CSRF token, in the
  ``X-CSRF-Token`` header (JSON API) or in the ``csrf`` form field (console forms).
- Logins are rate-limited per address (token bucket) and an account locks after
  ``PARLEY_MOD_LOGIN_MAX_FAILURES`` failures in a row (``store.record_login_failure``).

A chatter's device token is never looked at here: only this cookie grants access.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import string
import time
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.requests import Request
from starlette.responses import Response

from parley.config import Settings
from parley.safety.limits import TokenBucket
from parley.store import Moderator, Role, Store
from parley.store.values import utcnow

COOKIE = "parley_mod"
PRE_COOKIE = "parley_mod_login"  # double-submit token of the login form (before a session)
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
_PASSWORD_ALPHABET = string.ascii_letters + string.digits

_hasher = PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) parameters
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))  # equalises timing for unknown names


def new_password() -> str:
    """A one-time password: 20 characters from 62, about 119 bits."""
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(20))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(slots=True)
class ModSession:
    sid: str
    name: str
    csrf: str
    last_seen: float


@dataclass(frozen=True, slots=True)
class Principal:
    """The moderator behind a request, with the session's CSRF token."""

    name: str
    role: Role
    csrf: str

    @property
    def admin(self) -> bool:
        return self.role is Role.ADMIN


class LoginResult:
    OK = "ok"
    INVALID = "invalid"
    LOCKED = "locked"
    LIMITED = "limited"


class Auth:
    def __init__(self, settings: Settings, store_of: StoreGetter) -> None:
        self.settings = settings
        self._store_of = store_of
        self._sessions: dict[str, ModSession] = {}
        self._buckets: dict[str, TokenBucket] = {}

    @property
    def store(self) -> Store:
        return self._store_of()

    # ---- login ---------------------------------------------------------------------------

    def _limited(self, ip: str) -> bool:
        s = self.settings
        if len(self._buckets) > 10_000:  # bounded memory under a spray of addresses
            self._buckets.clear()
        bucket = self._buckets.get(ip)
        if bucket is None:
            bucket = self._buckets[ip] = TokenBucket(s.mod_login_rate, s.mod_login_burst)
        return not bucket.take()

    async def login(self, name: str, password: str, ip: str) -> tuple[str, ModSession | None]:
        if self._limited(ip):
            return LoginResult.LIMITED, None
        mod = await self.store.get_moderator(name) if name else None
        if mod is None:
            await asyncio.to_thread(verify_password, _DUMMY_HASH, password)
            return LoginResult.INVALID, None
        if mod.locked(utcnow()):
            return LoginResult.LOCKED, None
        if not await asyncio.to_thread(verify_password, mod.password_hash, password):
            after = await self.store.record_login_failure(
                mod.name,
                max_failures=self.settings.mod_login_max_failures,
                lock_for=timedelta(seconds=self.settings.mod_login_lockout),
            )
            if after is not None and after.locked(utcnow()):
                await self.store.audit(actor=mod.name, action="moderator.locked")
                return LoginResult.LOCKED, None
            return LoginResult.INVALID, None
        await self.store.record_login_success(mod.name)
        session = ModSession(
            sid=secrets.token_urlsafe(32),
            name=mod.name,
            csrf=secrets.token_urlsafe(32),
            last_seen=time.monotonic(),
        )
        self._expire()
        self._sessions[session.sid] = session
        return LoginResult.OK, session

    def logout(self, request: Request) -> None:
        sid = request.cookies.get(COOKIE)
        if sid:
            self._sessions.pop(sid, None)

    def end_sessions_of(self, name: str) -> None:
        for sid, session in list(self._sessions.items()):
            if session.name == name:
                del self._sessions[sid]

    def _expire(self) -> None:
        limit = time.monotonic() - self.settings.mod_session_idle
        for sid, session in list(self._sessions.items()):
            if session.last_seen < limit:
                del self._sessions[sid]

    # ---- requests ------------------------------------------------------------------------

    async def principal(self, request: Request) -> Principal | None:
        """The logged-in moderator, or None (no cookie, unknown, idle too long, deleted)."""
        sid = request.cookies.get(COOKIE)
        if not sid:
            return None
        session = self._sessions.get(sid)
        if session is None:
            return None
        now = time.monotonic()
        if now - session.last_seen > self.settings.mod_session_idle:
            del self._sessions[sid]
            return None
        mod: Moderator | None = await self.store.get_moderator(session.name)
        if mod is None:
            del self._sessions[sid]
            return None
        session.last_seen = now
        return Principal(mod.name, mod.role, session.csrf)

    @staticmethod
    def csrf_ok(principal: Principal, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(principal.csrf, token or "")

    def secure_cookie(self, request: Request) -> bool:
        mode = self.settings.mod_cookie_secure
        if mode != "auto":
            return mode == "always"
        host = (request.url.hostname or "").lower()
        return request.url.scheme == "https" or host not in _LOOPBACK

    def set_cookie(self, request: Request, response: Response, session: ModSession) -> None:
        response.set_cookie(
            COOKIE,
            session.sid,
            httponly=True,
            samesite="strict",
            secure=self.secure_cookie(request),
            path="/",
        )

    def clear_cookie(self, request: Request, response: Response) -> None:
        response.delete_cookie(
            COOKIE, path="/", httponly=True, samesite="strict", secure=self.secure_cookie(request)
        )


class StoreGetter:
    """Reads the store from the app state (it exists only once the lifespan opened it)."""

    def __init__(self, state: object) -> None:
        self._state = state

    def __call__(self) -> Store:
        store: Store = self._state.store  # type: ignore[attr-defined]
        return store


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"
