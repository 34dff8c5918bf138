"""Moderator accounts and login sessions.

- Passwords: argon2id (argon2-cffi), verified in a worker thread so a login never stalls chats.
- Sessions: a random id in a cookie (HttpOnly, SameSite=Strict, Secure unless plain http on
  loopback), kept (as a SHA-256 digest) with the moderator's name and a CSRF token in this
  process, or in Redis when the broker is ``redis://`` so any node answers (``sessions``); idle
  sessions end after ``PARLEY_MOD_SESSION_IDLE`` seconds. The role is read
  from the store on every request, so a demotion or a deletion takes effect at once.
- Every unsafe request (POST, PUT, PATCH, DELETE) must carry the session's CSRF token, in the
  ``X-CSRF-Token`` header (JSON API) or in the ``csrf`` form field (console forms).
- Logins are rate-limited per address (a token bucket keyed by the address's keyed hash, shared
  by every node on ``redis://``) and an account locks after
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
from parley.moderation.sessions import ModSession, SessionStore, session_store
from parley.quotas.base import Quotas
from parley.quotas.memory import MemoryQuotas
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
    def __init__(
        self, settings: Settings, store_of: StoreGetter, quotas: Quotas | None = None
    ) -> None:
        self.settings = settings
        self._store_of = store_of
        self._sessions: SessionStore = session_store(settings.broker_url, settings.mod_session_idle)
        self._quotas = quotas or MemoryQuotas()

    @property
    def store(self) -> Store:
        return self._store_of()

    # ---- login ---------------------------------------------------------------------------

    async def _limited(self, ip: str) -> bool:
        s = self.settings
        key = f"login:{(await self.store.current_ip_hash(ip)).digest}"
        return not await self._quotas.take(key, s.mod_login_rate, s.mod_login_burst)

    async def login(self, name: str, password: str, ip: str) -> tuple[str, ModSession | None]:
        if await self._limited(ip):
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
        await self._sessions.put(session)
        return LoginResult.OK, session

    async def logout(self, request: Request) -> None:
        sid = request.cookies.get(COOKIE)
        if sid:
            await self._sessions.delete(sid)

    async def end_sessions_of(self, name: str) -> None:
        await self._sessions.delete_of(name)

    # ---- requests ------------------------------------------------------------------------

    async def principal(self, request: Request) -> Principal | None:
        """The logged-in moderator, or None (no cookie, unknown, idle too long, deleted)."""
        sid = request.cookies.get(COOKIE)
        if not sid:
            return None
        session = await self._sessions.get(sid)  # None once idle too long
        if session is None:
            return None
        mod: Moderator | None = await self.store.get_moderator(session.name)
        if mod is None:
            await self._sessions.delete(sid)
            return None
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
