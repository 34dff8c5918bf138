"""The ASGI application: wiring of settings, broker, gateway and HTTP routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.routing import WebSocketRoute
from starlette.types import ASGIApp

from parley.assets import Assets, PublicCompression
from parley.broker import Broker, create_broker
from parley.config import Settings
from parley.gateway import Gateway
from parley.keys import load_secret
from parley.metrics import Metrics
from parley.metrics_http import metrics_app, metrics_endpoint, metrics_router
from parley.moderation import Console
from parley.moderation import mount as mount_moderation
from parley.not_found import install as install_not_found
from parley.origin import OriginCheck, parse_allowed
from parley.pages import mount as mount_pages
from parley.public_figures import public_online, public_waiting
from parley.redis_url import shown
from parley.reports_http import build_reports_router
from parley.safety.assurance import AgeAssurance
from parley.safety.devices import DeviceTokens
from parley.storage import prepare, store_for
from parley.store import Store

WEB_DIR = Path(__file__).parent / "web"
log = logging.getLogger("parley.app")


class Health(BaseModel):
    status: str


class Status(BaseModel):
    online: int
    waiting: dict[str, int]
    # Who may use the service (settings, not figures): the landing page says it.
    min_age: int
    adult_age: int
    minor_pool_open: bool


@dataclass(frozen=True, slots=True)
class Runtime:
    """What the app is made of, typed, in one place (``app.state.runtime``): the lifespan starts
    and stops these parts; `parley serve` takes ``metrics_app`` for the operators' listener."""

    settings: Settings
    metrics: Metrics
    broker: Broker
    store: Store
    gateway: Gateway
    console: Console
    metrics_app: ASGIApp


def runtime_of(app: FastAPI) -> Runtime:
    runtime: Runtime = app.state.runtime
    return runtime


def create_app(
    settings: Settings | None = None, *, broker: Broker | None = None, store: Store | None = None
) -> FastAPI:
    """The service. ``broker`` and ``store`` replace the ones the settings name (as
    encode/broadcaster takes a backend): the app starts and stops what it is given, and opens and
    migrates a ``store`` of its own in its lifespan."""
    settings = settings or Settings()
    metrics = Metrics()
    if broker is None:
        broker = create_broker(
            settings.broker_url,
            interest_fallback=settings.interest_fallback,
            language_wait=settings.language_wait,
            observer=metrics,
            evidence_lines=settings.evidence_lines,
            report_grace=settings.report_grace,
        )
    secret = load_secret(settings.secret, settings.data_dir)
    devices = DeviceTokens(secret)
    assurance = AgeAssurance.from_settings(settings)  # bad age settings stop start-up here
    own_store = store is None
    if store is None:
        store = store_for(settings, secret)
    gateway = Gateway(settings, broker, metrics, devices, assurance, store)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if own_store:
            await prepare(store)
        await broker.start()
        await gateway.start()
        await console.start()
        log.info("parley started", extra={"broker": shown(settings.broker_url)})
        try:
            yield
        finally:
            await console.close()
            await gateway.close()
            await broker.close()
            if own_store:
                await store.close()

    app = FastAPI(
        title="Parley",
        version="0.1.0",
        summary="Meet strangers at random, safely.",
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    gateway_endpoint = OriginCheck(gateway, parse_allowed(settings.allowed_origins))
    app.router.routes.append(WebSocketRoute("/ws", gateway_endpoint))
    # /mod, /api/mod, /appeal: the console reaches live sessions through the gateway's
    # enforcement and the broker, never the gateway itself.
    console = mount_moderation(app, settings, store, broker, metrics, devices, gateway.enforce)
    app.include_router(build_reports_router(store, devices, settings.report_grace, gateway.known))

    async def ready() -> bool:
        return await broker.ready() and await store.ping()

    @app.get("/healthz", response_model=Health, tags=["ops"])
    async def healthz() -> Health:
        """Liveness: the process is up and its event loop answers."""
        return Health(status="ok")

    @app.get(
        "/readyz",
        response_model=Health,
        responses={503: {"model": Health, "description": "A dependency is down"}},
        tags=["ops"],
    )
    async def readyz() -> Response:
        """Readiness: the broker and the database can take work."""
        if await ready():
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "unavailable"}, status_code=503)

    scrape = metrics_endpoint(metrics, broker, ready, settings.metrics_token)
    if settings.metrics_address() is None:  # else only on the operators' listener (cli.py)
        app.include_router(metrics_router(scrape))
    app.state.runtime = Runtime(
        settings, metrics, broker, store, gateway, console, metrics_app(scrape)
    )

    @app.get("/api/status", response_model=Status, tags=["public"])
    async def status() -> Status:
        """People online (rounded) and waiting in adult pools: no minor figure is public
        (parley.public_figures). Exact figures per pool are on /metrics, for operators. Also
        who may use the service: the ages, and whether teens are served here at all."""
        stats = await broker.stats()
        online = public_online(stats.online, settings.public_online_step)
        policy = assurance.policy
        return Status(
            online=online,
            waiting=public_waiting(stats.waiting),
            min_age=policy.min_age,
            adult_age=policy.adult_age,
            minor_pool_open=policy.serves_minors,
        )

    # /privacy /terms /rules /about /status
    mount_pages(app, settings, broker, ready, lambda: gateway.video.enabled)

    assets = Assets(WEB_DIR, "/static")  # hashed once: /static/<hash>/... is cached for a year
    index_page = assets.page("index.html")

    @app.get("/", include_in_schema=False)
    async def index(request: Request) -> Response:
        return index_page.response(request)

    app.mount("/static", assets.files, name="static")
    install_not_found(app, assets.page("not-found.html"))
    app.add_middleware(PublicCompression)

    @app.middleware("http")
    async def security_headers(request, call_next):  # type: ignore[no-untyped-def]
        response: Response = await call_next(request)
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
            "connect-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Permissions-Policy", "camera=(self), microphone=(self)")
        return response

    return app
