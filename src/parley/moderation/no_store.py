"""``Cache-Control: no-store`` on every answer of the console's JSON API and the public appeal
API, errors and redirects included: they carry evidence, names and ban reasons that no browser
cache or proxy may keep. (The console's HTML pages set it themselves, in ``console.render``.)
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PREFIXES = ("/api/mod", "/api/appeal")


class NoStore:
    """Pure ASGI middleware: replaces any Cache-Control header under :data:`PREFIXES`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(PREFIXES):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"
                ]
                headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_no_store)
