"""Which web pages may open the chat socket: the service's own, and the operator's list.

A browser sends ``Origin`` with every WebSocket handshake and lets any site open a socket to any
host, so without this check a page on another site could make its visitors' browsers act as
Parley clients (each with a real, distinct address). A handshake from a foreign origin is refused
with HTTP 403 before it is accepted. A handshake without ``Origin`` does not come from a web page
(a script or a native app, which can send whatever it likes): it is let in, and the per-address
limits hold it as they hold everyone.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

# ASGI scope schemes that mean the page was served over TLS (after uvicorn applied a trusted
# proxy's X-Forwarded-Proto).
_SECURE = {"https", "wss"}


def normalise(origin: str) -> str | None:
    """``scheme://host[:port]`` in lower case with default ports dropped, or None if ``origin``
    is not an http(s) origin (``null``, ``file://``, garbage)."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is None or port == (443 if scheme == "https" else 80):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def parse_allowed(value: str) -> frozenset[str]:
    """``PARLEY_ALLOWED_ORIGINS``: comma-separated origins; entries that are not origins are
    refused at start-up (a typo must not silently allow nothing, or everything)."""
    out: set[str] = set()
    for item in (v for v in value.split(",") if v.strip()):
        origin = normalise(item)
        if origin is None:
            raise ValueError(f"not an http(s) origin: {item.strip()!r}")
        out.add(origin)
    return frozenset(out)


def own_origin(scope: Scope) -> str | None:
    """The origin a page of this service has, as the handshake's Host header names it."""
    host = _header(scope["headers"], b"host")
    if host is None:
        return None
    scheme = "https" if scope.get("scheme") in _SECURE else "http"
    return normalise(f"{scheme}://{host}")


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class OriginCheck:
    """ASGI wrapper for a WebSocket endpoint: refuses handshakes from foreign origins."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = allowed

    def permits(self, scope: Scope) -> bool:
        sent = _header(scope["headers"], b"origin")
        if sent is None:
            return True
        origin = normalise(sent)
        return origin is not None and (origin == own_origin(scope) or origin in self.allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket" or self.permits(scope):
            await self.app(scope, receive, send)
            return
        if (await receive())["type"] == "websocket.connect":
            # A close before the accept is answered with HTTP 403 by the server.
            await send({"type": "websocket.close", "code": 1008})
