"""Moderator accounts and login sessions.

- Passwords: argon2id (argon2-cffi), verified in a worker thread so a login never stalls chats.
- Sessions: a random id in a cookie (HttpOnly, SameSite=Strict, Secure unless plain http on
  loopback), kept (as a SHA-256 digest) with the moderator's name and a CSRF token in this
  process, or in Redis when the broker is ``redis://`` so any node answers (``sessions``); idle
  sessions end after ``PARLEY_MOD_SESSION_IDLE`` seconds, and every session ends
  ``PARLEY_MOD_SESSION_MAX`` seconds after its login. The account is read from the store on
  every request: a deletion, a role change or a password reset (in the console or with
  ``parley moderator reset``, another process) ends the session at once (``stamp``).
- Every unsafe request (POST, PUT, PATCH, DELETE) must carry the session's CSRF token, in the
  ``X-CSRF-Token`` header (JSON API) or in the ``csrf`` form field (console forms).
- Logins are rate-limited per address (a token bucket keyed by the address's keyed hash, shared
  by every node on ``redis://``) and slowed down with exponential backoff per address and per
  name (``throttle``): no account lock that a stranger could trigger. An unknown name and a wrong
  password get the same answer.
- A one-time password (a new account, an admin's reset) must be changed before anything else:
  ``Principal.must_change`` is set, and the console and the API refuse every other page and call
  until ``change_password`` succeeds. That change asks for the current password (rate-limited
  and backed off like a login), ends every session of the account, and starts a new one (new
  cookie, new CSRF token).

A chatter's device token is never looked at here: only this cookie grants access.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import math
import secrets
import string
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.requests import Request
from starlette.responses import Response

from parley.config import Settings
from parley.moderation.sessions import ModSession, SessionStore, session_store
from parley.moderation.throttle import LoginThrottle
from parley.quotas.base import Quotas
from parley.quotas.memory import MemoryQuotas
from parley.store import Moderator, Role, Store

log = logging.getLogger("parley.moderation")

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


def password_rule_broken(name: str, current: str, new: str) -> str:
    """Which rule a new password breaks ("" if none): a length, not the current one, not the
    account's name."""
    if len(new) < MIN_PASSWORD_CHARS:
        return ChangeResult.SHORT
    if len(new) > MAX_PASSWORD_CHARS:
        return ChangeResult.LONG
    if new == current:
        return ChangeResult.SAME
    if new.strip().casefold() == name.casefold():
        return ChangeResult.NAME
    return ""


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
    must_change: bool = False  # a one-time password: nothing but the change is allowed

    @property
    def admin(self) -> bool:
        return self.role is Role.ADMIN


class LoginResult:
    OK = "ok"
    INVALID = "invalid"  # an unknown name or a wrong password: the caller cannot tell which
    LIMITED = "limited"


#: The password rules of ``change_password`` (a one-time password has 20 characters).
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 256


class ChangeResult:
    OK = "ok"
    WRONG = "wrong_password"  # the current password is not the one given
    LIMITED = "limited"
    SHORT = "password_too_short"
    LONG = "password_too_long"
    SAME = "password_unchanged"  # the new password is the current one
    NAME = "password_is_name"


@dataclass(frozen=True, slots=True)
class Login:
    result: str
    session: ModSession | None = None
    retry_after: int = 0  # seconds, when LIMITED


def stamp(mod: Moderator) -> str:
    """What a session remembers of its account: a new password or role no longer matches."""
    return hashlib.sha256(f"{mod.password_hash}\0{mod.role.value}".encode()).hexdigest()[:32]


class Auth:
    def __init__(self, settings: Settings, store: Store, quotas: Quotas | None = None) -> None:
        self.settings = settings
        self.store = store
        self._sessions: SessionStore = session_store(
            settings.broker_url, settings.mod_session_idle, settings.mod_session_max
        )
        self._quotas = quotas or MemoryQuotas()
        self._throttle = LoginThrottle(
            free=settings.mod_login_max_failures, cap=settings.mod_login_lockout
        )
        # Wrong current passwords at a password change: someone holding a stolen session must
        # not get unlimited guesses at the password behind it.
        self._change_throttle = LoginThrottle(
            free=settings.mod_login_max_failures, cap=settings.mod_login_lockout
        )

    # ---- login ---------------------------------------------------------------------------

    async def _limited(self, ip: str) -> bool:
        s = self.settings
        key = f"login:{(await self.store.current_ip_hash(ip)).digest}"
        return not await self._quotas.take(key, s.mod_login_rate, s.mod_login_burst)

    async def login(self, name: str, password: str, ip: str) -> Login:
        """OK with a new session; INVALID for an unknown name or a wrong password alike; LIMITED
        while this address, or this name from an address that failed it, must wait
        (``retry_after`` seconds)."""
        address = (await self.store.current_ip_hash(ip)).digest
        wait = self._throttle.retry_after(address, name)
        if wait > 0:
            return self._limit(wait)
        if await self._limited(ip):
            return self._limit(1.0 / self.settings.mod_login_rate)
        mod = await self.store.get_moderator(name) if name else None
        if mod is None:
            await asyncio.to_thread(verify_password, _DUMMY_HASH, password)
            self._throttle.failed(address, name)
            return Login(LoginResult.INVALID)
        if not await asyncio.to_thread(verify_password, mod.password_hash, password):
            self._throttle.failed(address, name)
            return Login(LoginResult.INVALID)
        self._throttle.succeeded(address, name)
        await self.store.record_login_success(mod.name)
        return Login(LoginResult.OK, await self._new_session(mod))

    async def _new_session(self, mod: Moderator) -> ModSession:
        session = ModSession(
            sid=secrets.token_urlsafe(32),
            name=mod.name,
            csrf=secrets.token_urlsafe(32),
            last_seen=time.monotonic(),
            stamp=stamp(mod),
            created=time.time(),
        )
        await self._sessions.put(session)
        return session

    async def change_password(self, principal: Principal, current: str, new: str, ip: str) -> Login:
        """The owner picks a password. ``result`` is a ``ChangeResult``; OK comes with a new
        session (every other session of the account has ended: a stolen cookie dies here)."""
        address = (await self.store.current_ip_hash(ip)).digest
        name = principal.name
        wait = self._change_throttle.retry_after(address, name)
        if wait > 0:
            return self._limit(wait)
        if await self._limited(ip):
            return self._limit(1.0 / self.settings.mod_login_rate)
        mod = await self.store.get_moderator(name)
        if mod is None or not await asyncio.to_thread(verify_password, mod.password_hash, current):
            self._change_throttle.failed(address, name)
            return Login(ChangeResult.WRONG)
        self._change_throttle.succeeded(address, name)
        rule = password_rule_broken(name, current, new)
        if rule:
            return Login(rule)
        digest = await asyncio.to_thread(hash_password, new)
        if not await self.store.change_own_password(name, digest):
            return Login(ChangeResult.WRONG)  # the account was deleted meanwhile
        await self._sessions.delete_of(name)
        changed = await self.store.get_moderator(name)
        if changed is None:
            return Login(ChangeResult.WRONG)
        return Login(ChangeResult.OK, await self._new_session(changed))

    @staticmethod
    def _limit(wait: float) -> Login:
        return Login(LoginResult.LIMITED, retry_after=max(1, math.ceil(wait)))

    async def logout(self, request: Request) -> None:
        sid = request.cookies.get(COOKIE)
        if sid:
            await self._sessions.delete(sid)

    async def end_sessions_of(self, name: str) -> None:
        await self._sessions.delete_of(name)

    # ---- requests ------------------------------------------------------------------------

    async def principal(self, request: Request) -> Principal | None:
        """The logged-in moderator, or None (no cookie, unknown, idle too long, too old, deleted,
        password or role changed since the login)."""
        sid = request.cookies.get(COOKIE)
        if not sid:
            return None
        session = await self._sessions.get(sid)  # None once idle too long
        if session is None:
            return None
        mod: Moderator | None = await self.store.get_moderator(session.name)
        if mod is None or not hmac.compare_digest(stamp(mod), session.stamp):
            await self._sessions.delete(sid)
            return None
        return Principal(mod.name, mod.role, session.csrf, mod.must_change_password)

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


#: Stands in for an address that is not one (no peer, or a trusted proxy that forwarded junk):
#: every such request shares one rate-limit bucket, which errs on the side of limiting.
UNKNOWN_ADDRESS = "0.0.0.0"


def client_ip(request: Request) -> str:
    """The client's address (uvicorn applies ``X-Forwarded-For`` from trusted proxies). A value
    that is not an IP address is ignored with a warning that does not repeat it."""
    host = request.client.host if request.client else ""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        log.warning("ignored a client address that is not an IP address (X-Forwarded-For?)")
        return UNKNOWN_ADDRESS
