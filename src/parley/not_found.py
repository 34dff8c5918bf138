"""What a missing address answers: an HTML page for a browser, JSON for a program.

A browser that follows a stale or mistyped link gets a page with a way home; ``/api/...`` and
any client that does not ask for HTML first keep FastAPI's ``{"detail": ...}``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException

from parley.assets import Page

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def prefers_html(accept: str) -> bool:
    """Whether an Accept header ranks HTML above JSON (``*/*`` alone, as fetch() and HTTP
    libraries send, does not count: they get JSON)."""
    html = json = 0.0
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        media = media.lower()
        if media in HTML_TYPES:
            html = max(html, q)
        elif media == "application/json":
            json = max(json, q)
    return html > 0 and html >= json


def is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def install(app: FastAPI, page: Page) -> None:
    """Answer a browser's 404 outside /api with ``page``; every other HTTP error as before."""

    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if (
            exc.status_code == 404
            and not is_api(request.url.path)
            and prefers_html(request.headers.get("accept", ""))
        ):
            return HTMLResponse(page.body, status_code=404, headers={"Cache-Control": "no-store"})
        return await http_exception_handler(request, exc)

    app.add_exception_handler(HTTPException, handler)
