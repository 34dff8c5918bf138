"""The moderator console: ``/mod`` (HTML), ``/api/mod`` (JSON) and the public ``/appeal``.

``mount(app, ...)`` adds the routes, the static files under ``/mod/static/<hash>`` and the error
handlers, and returns the :class:`Console` whose ``start``/``close`` the app's lifespan calls.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.requests import ClientDisconnect

from parley.broker import Broker
from parley.config import Settings
from parley.metrics import Metrics
from parley.moderation.api import ApiError, build_api
from parley.moderation.auth import Auth
from parley.moderation.console import (
    ASSETS,
    Forbidden,
    LoginRequired,
    PasswordChangeRequired,
    build_console,
    render,
)
from parley.moderation.no_store import NoStore
from parley.moderation.service import Console, ConsoleError, Enforce
from parley.moderation.translations import gettext, language_of
from parley.safety.devices import DeviceTokens
from parley.safety.limits import quotas_for
from parley.store import Store

#: Where a banned person appeals (the ``appeal_url`` of a ``banned`` frame).
APPEAL_PATH = "/appeal"

__all__ = ["APPEAL_PATH", "Console", "mount"]


def mount(
    app: FastAPI,
    settings: Settings,
    store: Store,
    broker: Broker,
    metrics: Metrics,
    devices: DeviceTokens,
    enforce: Enforce,
) -> Console:
    quotas = quotas_for(broker)  # login attempts and appeals per address, across nodes
    auth = Auth(settings, store, quotas)
    console = Console(settings, store, broker, metrics, enforce)
    for router in build_api(auth, console, devices, quotas):
        app.include_router(router)
    app.include_router(build_console(auth, console))
    app.mount(ASSETS.mount_path, ASSETS.files, name="mod-static")
    app.add_middleware(NoStore)

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return JSONResponse(exc.body(), status_code=exc.status)

    async def console_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ConsoleError)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": exc.message}, status_code=exc.status)
        return render(
            "error.html", exc.status, lang=language_of(request), me=None, message=exc.message
        )

    async def login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        return RedirectResponse("/mod/login", status_code=303)

    async def forbidden(request: Request, exc: Exception) -> Response:
        lang = language_of(request)
        message = gettext(lang, "You are not allowed to do this.")
        response: HTMLResponse = render("error.html", 403, lang=lang, me=None, message=message)
        return response

    async def change_first(request: Request, exc: Exception) -> Response:
        return RedirectResponse("/mod/password", status_code=303)

    async def client_gone(request: Request, exc: Exception) -> Response:
        # A client that hangs up mid-body is not a server error (and nobody reads this answer).
        return JSONResponse({"detail": "the request ended early"}, status_code=400)

    app.add_exception_handler(ClientDisconnect, client_gone)
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(ConsoleError, console_error)
    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(Forbidden, forbidden)
    app.add_exception_handler(PasswordChangeRequired, change_first)
    return console
