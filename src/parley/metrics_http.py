"""``GET /metrics`` for operators: on the public listener (optionally behind a bearer token), or
only on a listener of its own (``PARLEY_METRICS_BIND``, run by ``parley serve``)."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.applications import Starlette
from starlette.routing import Route

from parley.broker.base import Broker
from parley.metrics import Metrics

_LOOPBACK = ("127.", "::1", "localhost")


def is_loopback(host: str) -> bool:
    return host.strip("[]").startswith(_LOOPBACK)


def _authorized(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # compare_digest: the time taken does not tell how much of a guess was right.
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


def metrics_endpoint(
    metrics: Metrics, broker: Broker, ready: Callable[[], Awaitable[bool]], token: str
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        """Prometheus text exposition (operators only: see PARLEY_METRICS_TOKEN/_BIND)."""
        if token and not _authorized(request, token):
            return JSONResponse(
                {"detail": "a bearer token is required"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        metrics.ready = await ready()
        metrics.latest = await broker.stats()
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    return endpoint


def metrics_router(endpoint: Callable[[Request], Awaitable[Response]]) -> APIRouter:
    """/metrics on the public app."""
    router = APIRouter(tags=["ops"])
    router.add_api_route("/metrics", endpoint, methods=["GET"], response_class=Response)
    return router


def metrics_app(endpoint: Callable[[Request], Awaitable[Response]]) -> Starlette:
    """/metrics alone, for the operators' listener (no lifespan: the public app owns it)."""
    return Starlette(routes=[Route("/metrics", endpoint, methods=["GET"])])
