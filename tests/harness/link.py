"""A switch on a page's WebSocket, for the tests of a dead link (tests/browser/).

``Link`` routes the page's ``/ws`` through Playwright (``page.route_web_socket``) to the real
server. While it is up, every frame and every close passes both ways. ``cut()`` makes the link
dead the way a lost network path is: no close and no error on either side, only silence; the
server notices by its heartbeat, the page by its own liveness check. A socket that lived through
a cut never comes back (as a TCP connection whose path died), and sockets the page opens while
the link is cut reach nothing; after ``restore()`` new sockets reach the server again.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from playwright.async_api import Page, WebSocketRoute

WS_PATH = re.compile(r"/ws$")


class Link:
    def __init__(self) -> None:
        self.up = True
        self.generation = 0  # sockets of an older generation were cut: they stay dead
        self.sockets = 0
        self._tasks: set[asyncio.Task[Any]] = set()

    async def install(self, page: Page) -> None:
        """Route ``page``'s WebSockets to ``/ws`` through this link (before the page opens one)."""
        await page.route_web_socket(WS_PATH, self._route)

    def cut(self) -> None:
        self.up = False
        self.generation += 1

    def restore(self) -> None:
        self.up = True
        self.generation += 1

    def _route(self, ws: WebSocketRoute) -> None:
        self.sockets += 1
        if not self.up:
            return  # the page's socket reaches nothing: no answer, no close
        born = self.generation
        server = ws.connect_to_server()

        def alive() -> bool:
            return self.up and born == self.generation

        def to_server(message: str | bytes) -> None:
            if alive():
                server.send(message)

        def to_page(message: str | bytes) -> None:
            if alive():
                ws.send(message)

        def page_closed(code: int | None, reason: str | None) -> None:
            if alive():
                self._spawn(server.close(code=code, reason=reason))

        def server_closed(code: int | None, reason: str | None) -> None:
            if alive():
                self._spawn(ws.close(code=code, reason=reason))

        ws.on_message(to_server)
        server.on_message(to_page)
        ws.on_close(page_closed)
        server.on_close(server_closed)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
