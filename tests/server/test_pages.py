"""The published pages (privacy, terms, rules, about, status), the public figures, and /metrics
protection, against real servers (docs/pages.md)."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect

from conftest import TEST_SERVER_ENV
from harness.client import Client
from harness.protocol import own_server, person, sample, scrape
from harness.server import ServerHandle, free_port
from harness.services import RedisHandle
from parley.cli import _warn_if_metrics_public
from parley.config import Settings

TOKEN = "s3cret-operator-token"
# Settings that differ from the defaults, so a page can only show them by reading them.
RUNNING = {
    "PARLEY_RETENTION_DAYS": 17,
    "PARLEY_LEGAL_HOLD_DAYS": 400,
    "PARLEY_EVIDENCE_LINES": 37,
    "PARLEY_REPORT_GRACE": 90,
    "PARLEY_MASS_REPORT_BAN_SECONDS": 7200,
    "PARLEY_MIN_AGE": 14,
}
# What each page must state from RUNNING, per language.
STATED = {
    ("privacy", "en"): ["after 17 days", "last 37 lines", "90 seconds", "at least 400 days"],
    ("privacy", "id"): ["17 hari", "37 baris", "90 detik", "400 hari"],
    ("rules", "en"): ["90 seconds", "banned for 2 hours", "under 14"],
    ("rules", "id"): ["90 detik", "selama 2 jam", "di bawah 14 tahun"],
    ("terms", "en"): ["14 or older"],
    ("terms", "id"): ["berusia 14 tahun"],
    ("about", "en"): ["37 lines", "17 days"],
    ("about", "id"): ["37 baris", "17 hari"],
}
OVERRIDE = """{% extends "base.html" %}
{% block title %}Who we are{% endblock %}
{% block content %}<h1>Run by the Example Club</h1>
<p data-testid="kept">Reports are kept {{ retention_days }} days. {{ "<b>escaped</b>" }}</p>
{% endblock %}
"""
BROKEN: dict[str, tuple[str | bytes, str]] = {  # file -> (content, the reason the log gives)
    "terms.id.html": ("{% block content %}{% if %}{% endblock %}", "TemplateSyntaxError"),
    "rules.en.html": ("<p>{{ no_such_setting }}</p>", "UndefinedError"),
    "status.id.html": (b"<p>\xff\xfe not utf-8</p>", "UnicodeDecodeError"),
    # `online` exists on the status page only: checked with what the page gets at request time.
    "privacy.en.html": ("<p>{{ online }} people online</p>", "UndefinedError"),
}


@pytest.fixture(scope="module")
def pages_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pages")
    (folder / "about.en.html").write_text(OVERRIDE, encoding="utf-8")
    (folder / "notes.txt").write_text("not a page: ignored", encoding="utf-8")
    for name, (body, _reason) in BROKEN.items():
        path = folder / name
        if isinstance(body, bytes):
            path.write_bytes(body)
        else:
            path.write_text(body, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, pages_dir: Path) -> Iterator[ServerHandle]:
    """The default public rounding (10), a metrics token, the running settings and overrides."""
    env: dict[str, object] = {
        **TEST_SERVER_ENV,
        "PARLEY_PUBLIC_ONLINE_STEP": None,  # the built-in default
        "PARLEY_METRICS_TOKEN": TOKEN,
        "PARLEY_PAGES_DIR": str(pages_dir),
        **RUNNING,
    }
    with own_server(tmp_path_factory, "pages", **env) as handle:
        yield handle


@pytest_asyncio.fixture
async def http(site: ServerHandle) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=site.url, timeout=10) as client:
        yield client


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


# ---- the pages ------------------------------------------------------------------------------


# ("about", "en") is the page the site's operator override replaces: see
# test_an_override_replaces_the_default.
@pytest.mark.parametrize(("page", "lang"), sorted(set(STATED) - {("about", "en")}))
async def test_each_page_states_the_running_settings(
    http: httpx.AsyncClient, page: str, lang: str
) -> None:
    response = await http.get(f"/{page}", params={"lang": lang})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-language"] == lang
    assert f'<html lang="{lang}">' in response.text
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "<script" not in response.text  # nothing inline for the CSP to refuse
    text = _text(response.text)
    for fact in STATED[(page, lang)]:
        assert fact in text, (page, lang, fact)
    for p in ("privacy", "terms", "rules", "about", "status"):
        assert f'href="/{p}?lang={lang}" data-testid="page-link-{p}"' in response.text


@pytest.mark.parametrize(
    ("query", "accept", "expected"),
    [
        (None, None, "en"),
        (None, "id-ID,id;q=0.9,en;q=0.5", "id"),
        (None, "fr, en;q=0.4, id;q=0.8", "id"),  # by weight, not by order
        (None, "fr, de;q=0.5", "en"),
        ("id", "en", "id"),  # ?lang= first
        ("en", "id", "en"),
        ("xx", "id", "id"),  # an unknown ?lang= is ignored
    ],
)
async def test_lang_then_accept_language_choose_the_language(
    http: httpx.AsyncClient, query: str | None, accept: str | None, expected: str
) -> None:
    params = {"lang": query} if query else {}
    headers = {"Accept-Language": accept} if accept else {}
    response = await http.get("/privacy", params=params, headers=headers)

    assert response.status_code == 200
    assert f'<html lang="{expected}">' in response.text
    title = {"en": "Privacy notice", "id": "Pemberitahuan privasi"}[expected]
    assert f"<h1>{title}</h1>" in response.text


async def test_an_override_replaces_the_default(http: httpx.AsyncClient) -> None:
    mine = await http.get("/about", params={"lang": "en"})
    other_language = await http.get("/about", params={"lang": "id"})

    assert mine.status_code == 200
    assert "<h1>Run by the Example Club</h1>" in mine.text
    assert "Reports are kept 17 days." in mine.text  # the running setting, in the operator's text
    assert "&lt;b&gt;escaped&lt;/b&gt;" in mine.text  # autoescaped
    assert "<b>escaped</b>" not in mine.text
    assert "<h1>Tentang Parley</h1>" in other_language.text  # no about.id.html: the default


@pytest.mark.parametrize("name", sorted(BROKEN))
async def test_a_broken_override_falls_back_and_the_log_says_why_once(
    http: httpx.AsyncClient, site: ServerHandle, name: str
) -> None:
    page, lang, _ = name.split(".")
    response = await http.get(f"/{page}", params={"lang": lang})

    assert response.status_code == 200
    assert "Traceback" not in response.text
    assert f'<html lang="{lang}">' in response.text
    default_h1 = {
        "terms": "<h1>Ketentuan penggunaan</h1>",
        "rules": "<h1>Community rules</h1>",
        "status": "<h1>Status</h1>",
        "privacy": "<h1>Privacy notice</h1>",
    }[page]
    assert default_h1 in response.text
    lines = [line for line in site.logs().splitlines() if f"page override {name} not used" in line]
    assert len(lines) == 1, lines  # at start-up, once, not per request
    assert BROKEN[name][1] in lines[0]
    assert "notes.txt" not in site.logs()


def test_the_landing_page_and_the_appeal_page_link_every_page() -> None:
    web = Path(__file__).parents[2] / "src" / "parley"
    landing = (web / "web" / "index.html").read_text(encoding="utf-8")
    appeal = (web / "moderation" / "templates" / "appeal.html").read_text(encoding="utf-8")
    for page in ("privacy", "terms", "rules", "about", "status"):
        assert re.search(rf'<a href="/{page}[^"]*" data-testid="footer-{page}"', landing), page
        assert re.search(rf'<a href="/{page}" data-testid="footer-{page}"', appeal), page


async def test_the_footer_links_are_served(http: httpx.AsyncClient) -> None:
    for path in ("/", "/appeal"):
        html = (await http.get(path)).text
        hrefs = re.findall(r'<a href="([^"]+)" data-testid="footer-', html)
        assert len(hrefs) == 5, (path, hrefs)
        for href in hrefs:
            assert (await http.get(href)).status_code == 200, href


# ---- the public figures -----------------------------------------------------------------------


async def _public(http: httpx.AsyncClient) -> tuple[dict[str, Any], str]:
    status = (await http.get("/api/status")).json()
    page = (await http.get("/status")).text
    online = re.search(r'data-testid="status-online"[^>]*>(.*?)</p>', page, re.S)
    assert online is not None, page
    return status, online.group(0)


async def _until_metrics(site: ServerHandle, **expected: float) -> None:
    """Poll /metrics (with the token) until each sample has its value: ``parley_online=1``,
    or ``minor_text_en=1`` for the people waiting in a pool."""
    deadline = time.monotonic() + 10
    while True:
        samples = await scrape(site.url, token=TOKEN)
        values = {
            key: sample(samples, key)
            if key.startswith("parley_")
            else sample(samples, "parley_waiting", pool=key.replace("_", ":"))
            for key in expected
        }
        if values == expected:
            return
        assert time.monotonic() < deadline, values
        await asyncio.sleep(0.05)


async def test_no_public_figure_reveals_a_minor_waiting(
    http: httpx.AsyncClient, site: ServerHandle
) -> None:
    adults = [await person(site) for _ in range(12)]
    await _until_metrics(site, parley_online=12)
    before = await _public(http)

    minor = await person(site, age=15)
    assert (await minor.start())["type"] == "waiting"
    # The operator sees the minor waiting, so the public figures below had something to hide.
    await _until_metrics(site, parley_online=13, minor_text_en=1)
    late = await Client.open(site)
    welcome = await late.hello()
    await _until_metrics(site, parley_online=14)
    after = await _public(http)

    status, online_html = after
    assert after == before  # 12 adults, or 12 adults and a waiting minor: the same to the public
    assert status == {
        "online": 10,
        "waiting": {},
        "min_age": 14,  # RUNNING
        "adult_age": 18,
        "minor_pool_open": True,  # settings, the same whoever is here
    }
    assert not any(pool.startswith("minor") for pool in status["waiting"])
    assert 'data-online="10"' in online_html and "At least 10 people online." in online_html
    assert welcome["online"] == 10
    page = (await http.get("/status")).text
    assert 'data-testid="status-state" data-state="up"' in page
    assert '<meta http-equiv="refresh" content="30">' in page
    assert "minor" not in page.lower()

    await minor.close()
    for c in (late, *adults):
        await c.close()


async def test_api_status_lists_adult_pools_only(
    http: httpx.AsyncClient, site: ServerHandle
) -> None:
    adult = await person(site)
    await adult.start()
    minor = await person(site, age=15)
    await minor.start()
    await _until_metrics(site, adult_text_en=1, minor_text_en=1)

    status = (await http.get("/api/status")).json()

    assert status["waiting"] == {"adult:text:en": 1}
    await adult.close()
    await minor.close()


async def test_api_status_says_who_may_use_the_service(
    http: httpx.AsyncClient, server_factory: Any
) -> None:
    """The landing page's age notice comes from here: whether teens are served at all (closed
    by default under declared ages) and the ages, never a copy in the page."""
    opened = (await http.get("/api/status")).json()
    assert (opened["minor_pool_open"], opened["min_age"], opened["adult_age"]) == (True, 14, 18)
    closed = server_factory(PARLEY_MINOR_POOL_OPEN=None, PARLEY_ADULT_AGE=21)  # the default
    async with httpx.AsyncClient(base_url=closed.url, timeout=10) as other:
        status = (await other.get("/api/status")).json()
        page = (await other.get("/")).text
        schema = (await other.get("/api/openapi.json")).json()
    assert (status["minor_pool_open"], status["min_age"], status["adult_age"]) == (False, 13, 21)
    # The page itself claims no age: the notice is filled in from /api/status.
    assert "13 or older" not in page and "minimal 13" not in page
    assert '<span data-testid="age-notice" hidden></span>' in page
    fields = schema["components"]["schemas"]["Status"]["properties"]
    assert {"min_age", "adult_age", "minor_pool_open"} <= fields.keys()


async def test_status_says_down_when_the_broker_is_down(
    server_factory: Callable[..., ServerHandle], redis_factory: Callable[[], RedisHandle]
) -> None:
    redis = redis_factory()
    srv = server_factory(PARLEY_BROKER_URL=redis.url)
    async with httpx.AsyncClient(base_url=srv.url, timeout=10) as http:
        assert 'data-state="up"' in (await http.get("/status", params={"lang": "id"})).text
        redis.stop()
        deadline = time.monotonic() + 15
        while (await http.get("/readyz")).status_code != 503:
            assert time.monotonic() < deadline, "readyz never noticed redis was gone"
            await asyncio.sleep(0.05)

        page = (await http.get("/status", params={"lang": "id"})).text

    assert 'data-testid="status-state" data-state="down"' in page
    assert "Parley sedang tidak aktif" in page


# ---- /metrics ---------------------------------------------------------------------------------


async def test_metrics_needs_the_bearer_token(http: httpx.AsyncClient) -> None:
    missing = await http.get("/metrics")
    wrong = await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"})
    basic = await http.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"})
    right = await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    for refused in (missing, wrong, basic):
        assert refused.status_code == 401
        assert refused.json() == {"detail": "a bearer token is required"}
        assert refused.headers["www-authenticate"] == "Bearer"
        assert "parley_online" not in refused.text
    assert right.status_code == 200
    assert "parley_online" in right.text


async def test_metrics_bind_serves_metrics_on_its_own_listener_only(
    server_factory: Callable[..., ServerHandle],
) -> None:
    port = free_port()
    srv = server_factory(PARLEY_METRICS_BIND=f"127.0.0.1:{port}")
    async with httpx.AsyncClient(timeout=10) as http:
        public = await http.get(f"{srv.url}/metrics")
        deadline = time.monotonic() + 10
        while True:  # the listener opens just after the public one
            try:
                private = await http.get(f"http://127.0.0.1:{port}/metrics")
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, srv.logs()
                await asyncio.sleep(0.05)
        other = await http.get(f"http://127.0.0.1:{port}/api/status")

    assert public.status_code == 404
    assert private.status_code == 200
    assert "parley_ready 1.0" in private.text
    assert other.status_code == 404  # the operators' listener serves /metrics and nothing else


def test_serve_warns_when_metrics_are_public_on_a_public_address(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cases = {
        ("0.0.0.0", "", ""): True,
        ("127.0.0.1", "", ""): False,
        ("0.0.0.0", TOKEN, ""): False,
        ("0.0.0.0", "", "127.0.0.1:9100"): False,
        ("0.0.0.0", "", "0.0.0.0:9100"): True,  # its own listener, but public too
        ("0.0.0.0", TOKEN, "0.0.0.0:9100"): False,
        ("127.0.0.1", "", "[::1]:9100"): False,
    }
    for (host, token, bind), warns in cases.items():
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="parley"):
            _warn_if_metrics_public(
                Settings(host=host, metrics_token=token, metrics_bind=bind)  # no socket is opened
            )
        said = any("/metrics is public" in r.getMessage() for r in caplog.records)
        assert said is warns, (host, token, bind)


def test_a_bad_metrics_bind_stops_start_up() -> None:
    for bad in ("9100", "localhost:", "host:port", "127.0.0.1:70000"):
        with pytest.raises(ValueError, match="PARLEY_METRICS_BIND"):
            Settings(metrics_bind=bad)


@pytest.mark.browser
async def test_the_footer_links_follow_the_language_and_the_keyboard(
    browser: Browser, site: ServerHandle
) -> None:
    context = await browser.new_context(locale="en-US")
    page = await context.new_page()
    await page.goto(f"{site.url}/")
    await page.locator("[data-testid=lang]").select_option("id")
    link = page.locator("[data-testid=footer-privacy]")
    await expect(link).to_have_text("Privasi")
    await expect(link).to_have_attribute("href", "/privacy?lang=id")

    await page.locator("[data-testid=start]").focus()
    for _ in range(20):  # Tab from the start button reaches the footer
        await page.keyboard.press("Tab")
        if await link.evaluate("el => el === document.activeElement"):
            break
    else:
        raise AssertionError("the footer link is not reachable with Tab")
    await page.keyboard.press("Enter")

    await expect(page).to_have_url(f"{site.url}/privacy?lang=id")
    await expect(page.locator("h1")).to_have_text("Pemberitahuan privasi")
    await context.close()
