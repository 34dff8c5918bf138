"""The pages an operator publishes: privacy notice, terms of use, community rules, about, and the
public status page (docs/pages.md).

Each page is a Jinja2 template per language, ``NAME.LANG.html``. Figures that are settings (how
long reports are kept, how long bans last...) are rendered from the running settings, so the
page cannot drift from what the service does. An operator replaces any of them with a file of
the same name in ``PARLEY_PAGES_DIR``; each such file is checked once at start-up, and a broken
one is logged and not used (the default page is served instead).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, Template

from parley.broker.base import Broker
from parley.config import Settings
from parley.pages.facts import facts
from parley.pages.language import LANGUAGES, choose_language
from parley.public_figures import public_online

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
#: Route -> template name. ``status`` is a page too (an operator may restyle it).
PAGES = ("privacy", "terms", "rules", "about", "status")
log = logging.getLogger("parley.pages")


def _environment(*folders: Path) -> Environment:
    return Environment(
        loader=ChoiceLoader([FileSystemLoader(str(f)) for f in folders]),
        autoescape=True,  # every variable is escaped, in the operator's templates too
        undefined=StrictUndefined,  # a misspelt variable is an error at start-up, not a blank
        trim_blocks=True,
        lstrip_blocks=True,
    )


class Pages:
    """The templates in use, after the start-up check of the operator's overrides."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.defaults = _environment(TEMPLATES)
        self.templates: dict[str, Template] = {}
        overrides = self._override_environment(settings.pages_dir)
        for page in PAGES:
            for lang in LANGUAGES:
                name = f"{page}.{lang}.html"
                chosen = overrides and self._checked_override(overrides, name, lang)
                self.templates[name] = chosen or self.defaults.get_template(name)

    def _override_environment(self, pages_dir: str) -> Environment | None:
        if not pages_dir:
            return None
        folder = Path(pages_dir)
        if not folder.is_dir():
            log.warning("PARLEY_PAGES_DIR %s is not a folder; serving the default pages", folder)
            return None
        # An override may extend the default layout ({% extends "base.html" %}).
        return _environment(folder, TEMPLATES)

    def _checked_override(self, env: Environment, name: str, lang: str) -> Template | None:
        """The operator's ``name`` if it exists and renders; None (logged once) otherwise."""
        folder = Path(self.settings.pages_dir)
        if not (folder / name).exists():
            return None  # no override: the default, silently
        try:
            template = env.get_template(name)
            # Every branch the page may take on this server: video moderated or not, and for
            # the status page, up or down.
            extras = _STATUS_SAMPLES if name.startswith("status.") else [None]
            for vision in (True, False):
                for extra in extras:
                    template.render(self.context(lang, name, vision=vision, extra=extra))
        except Exception as exc:  # anything an operator's file can do wrong: keep the default
            log.warning(
                "page override %s not used, serving the default page: %s: %s",
                name,
                type(exc).__name__,
                exc,
            )
            return None
        log.info("page override %s in use", name)
        return template

    def context(
        self, lang: str, name: str, *, vision: bool, extra: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        page = name.split(".", 1)[0]
        return {
            **facts(self.settings, lang, vision=vision),
            "lang": lang,
            "page": page,
            "pages": PAGES,
            "languages": LANGUAGES,
            **(extra or {}),
        }

    def render(self, name: str, context: dict[str, Any]) -> str:
        try:
            return self.templates[name].render(context)
        except Exception:  # checked at start-up, so a surprise: log it, never show it
            log.exception("page %s failed to render; serving the default", name)
            return self.defaults.get_template(name).render(context)


# What the status page is checked with at start-up (it receives these names on every request).
_STATUS_SAMPLES: list[dict[str, Any] | None] = [
    {"up": True, "online": 0},
    {"up": False, "online": 20},
]


def mount(
    app: FastAPI,
    settings: Settings,
    broker: Broker,
    ready: Callable[[], Awaitable[bool]],
    vision_on: Callable[[], bool],
) -> Pages:
    """Add /privacy, /terms, /rules, /about, /status and /pages.css to ``app``. ``vision_on``
    says whether video stills are being checked now (known once the gateway started)."""
    pages = Pages(settings)

    def html(request: Request, page: str, extra: dict[str, Any] | None = None) -> HTMLResponse:
        lang = choose_language(
            request.query_params.get("lang"), request.headers.get("accept-language")
        )
        name = f"{page}.{lang}.html"
        body = pages.render(name, pages.context(lang, name, vision=vision_on(), extra=extra))
        return HTMLResponse(
            body,
            headers={
                "Content-Language": lang,
                "Vary": "Accept-Language",
                "Cache-Control": "no-cache",
            },
        )

    def static_page(page: str) -> Callable[[Request], Awaitable[HTMLResponse]]:
        async def endpoint(request: Request) -> HTMLResponse:
            return html(request, page)

        return endpoint

    for page in PAGES:
        if page != "status":
            app.add_api_route(
                f"/{page}", static_page(page), methods=["GET"], include_in_schema=False
            )

    @app.get("/status", include_in_schema=False)
    async def status(request: Request) -> HTMLResponse:
        """Up (as /readyz decides) and people online, as public as /api/status."""
        up = await ready()
        stats = await broker.stats()
        online = public_online(stats.online, settings.public_online_step)
        return html(request, "status", {"up": up, "online": online})

    @app.get("/pages.css", include_in_schema=False)
    async def stylesheet() -> Response:
        return FileResponse(HERE / "static" / "pages.css", headers={"Cache-Control": "no-cache"})

    return pages
