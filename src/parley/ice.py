"""ICE configuration for WebRTC: STUN/TURN servers and short-lived TURN credentials.

Credentials follow coturn's ``use-auth-secret`` scheme (the "TURN REST API" draft): the username is
``"<unix expiry>:<session>"`` and the password is ``base64(HMAC-SHA1(secret, username))``. coturn
recomputes the same HMAC, so the static secret never leaves the server and a leaked credential dies
at its expiry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from parley.config import Settings
from parley.protocol import IceConfig, IceServer


def turn_credentials(secret: str, session: str, ttl: int, now: float) -> tuple[str, str]:
    username = f"{int(now) + ttl}:{session}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def _split(urls: str) -> list[str]:
    return [u.strip() for u in urls.split(",") if u.strip()]


def ice_config(settings: Settings, session: str, now: float | None = None) -> IceConfig:
    t = time.time() if now is None else now
    servers: list[IceServer] = []
    if stun := _split(settings.stun_urls):
        servers.append(IceServer(urls=stun))
    expires_at: float | None = None
    if (turn := _split(settings.turn_urls)) and settings.turn_secret:
        username, credential = turn_credentials(settings.turn_secret, session, settings.turn_ttl, t)
        servers.append(IceServer(urls=turn, username=username, credential=credential))
        expires_at = float(int(t) + settings.turn_ttl)
    return IceConfig(
        ice_servers=servers,
        ice_transport_policy=settings.ice_transport_policy,
        expires_at=expires_at,
    )
