"""Static files as a browser expects them, on a real server: versioned URLs cached for a year,
the page revalidated by ETag (304), gzip for public text, an HTML 404 for a browser and JSON for
/api (parley.assets, parley.not_found)."""

from __future__ import annotations

import gzip
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket
from websockets.asyncio.client import connect as ws_connect

import parley
from harness.browser import close_all, open_person
from harness.server import serve_in_process
from parley.assets import (
    IMMUTABLE,
    MIN_COMPRESSED_SIZE,
    VERSION_LENGTH,
    Assets,
    PublicCompression,
    content_hash,
)
from parley.not_found import prefers_html

WEB_DIR = Path(parley.__file__).parent / "web"
MOD_STATIC = Path(parley.__file__).parent / "moderation" / "static"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
VERSIONED = re.compile(rf"^/static/([0-9a-f]{{{VERSION_LENGTH}}})/")
# Every local reference of a page, and every static import of a module ("from './x.js'").
# What the page loads (stylesheets, modules, images), not where its links lead.
PAGE_REFERENCE = re.compile(r'<(?:link|script|img|source)\b[^>]*?\s(?:href|src)="(/[^"]*)"')
MODULE_IMPORT = re.compile(r'^\s*(?:import|export)\b[^"\']*?\bfrom\s+["\'](\.[^"\']+)["\']', re.M)


@pytest_asyncio.fixture
async def http(server: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
        yield client


async def page_prefix(http: httpx.AsyncClient) -> str:
    """The versioned prefix the page names its assets under."""
    page = (await http.get("/")).text
    match = re.search(r'src="(/static/[0-9a-f]+/)app\.js"', page)
    assert match, "the page does not load app.js from a versioned /static/<hash>/"
    return match.group(1)


# ---- versioned URLs and caching --------------------------------------------------------------


async def test_every_asset_of_the_page_is_versioned_immutable_and_found(
    http: httpx.AsyncClient,
) -> None:
    page = await http.get("/")
    references = [r for r in PAGE_REFERENCE.findall(page.text) if r != "/"]
    assert references, "the page names no local asset"
    prefixes = {m.group(0) if (m := VERSIONED.match(r)) else r for r in references}
    assert len(prefixes) == 1, f"an asset outside the one versioned prefix: {sorted(prefixes)}"

    # Follow the modules' relative imports too: they must resolve inside the same prefix.
    seen: set[str] = set()
    todo = list(references)
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        response = await http.get(path)
        assert response.status_code == 200, path
        assert response.headers["cache-control"] == IMMUTABLE, path
        if path.endswith(".js"):
            for relative in MODULE_IMPORT.findall(response.text):
                todo.append(str(httpx.URL(path).join(relative)))
    assert {p.rsplit("/", 1)[-1] for p in seen} >= {"app.js", "i18n.js", "session.js", "style.css"}
    assert all(VERSIONED.match(p) for p in seen)


async def test_the_translation_tables_are_under_the_versioned_prefix(
    http: httpx.AsyncClient,
) -> None:
    prefix = await page_prefix(http)
    i18n = (await http.get(f"{prefix}i18n.js")).text
    assert "/static/i18n/" not in i18n  # fetched relative to the module, not from a fixed path

    for lang in ("en", "id"):
        response = await http.get(f"{prefix}i18n/{lang}.json")
        assert response.status_code == 200
        assert response.headers["cache-control"] == IMMUTABLE
        assert response.json() == (await http.get(f"/static/i18n/{lang}.json")).json()


async def test_the_page_is_revalidated_and_answers_304_to_its_etag(
    http: httpx.AsyncClient,
) -> None:
    first = await http.get("/")
    assert first.status_code == 200
    assert first.headers["cache-control"] == "no-cache"
    etag = first.headers["etag"]

    again = await http.get("/", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert "default-src 'self'" in again.headers["content-security-policy"]

    listed = await http.get("/", headers={"If-None-Match": f'"other", {etag}'})
    assert listed.status_code == 304
    stale = await http.get("/", headers={"If-None-Match": 'W/"0000000000000000"'})
    assert stale.status_code == 200
    assert stale.content == first.content


async def test_a_static_file_answers_304_to_its_etag(http: httpx.AsyncClient) -> None:
    prefix = await page_prefix(http)
    for path in (f"{prefix}app.js", "/static/app.js"):
        first = await http.get(path)
        assert first.status_code == 200, path
        again = await http.get(path, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304, path
        assert again.headers["cache-control"] == first.headers["cache-control"]


async def test_plain_and_unknown_versions_are_served_but_revalidated(
    http: httpx.AsyncClient,
) -> None:
    prefix = await page_prefix(http)
    current = (await http.get(f"{prefix}app.js")).content
    other = "/static/" + "0" * VERSION_LENGTH + "/app.js"
    assert not prefix.startswith(other[: len(prefix)])

    for path in ("/static/app.js", other):
        response = await http.get(path)
        assert response.status_code == 200, path
        assert response.headers["cache-control"] == "no-cache", path
        assert response.content == current


async def test_a_path_outside_the_static_directory_is_not_served(
    http: httpx.AsyncClient,
) -> None:
    prefix = await page_prefix(http)
    for path in (f"{prefix}..%2F..%2Fapp.py", f"{prefix}%2E%2E/app.py", "/static/../app.py"):
        response = await http.get(path)
        assert response.status_code == 404, path


async def test_the_console_and_appeal_page_use_versioned_assets(
    http: httpx.AsyncClient,
) -> None:
    for page in ("/appeal", "/mod/login"):
        html = (await http.get(page)).text
        refs = [r for r in PAGE_REFERENCE.findall(html) if r.startswith("/mod/static/")]
        assert refs, page
        for ref in refs:
            assert re.match(rf"^/mod/static/[0-9a-f]{{{VERSION_LENGTH}}}/", ref), ref
            response = await http.get(ref)
            assert response.status_code == 200, ref
            assert response.headers["cache-control"] == IMMUTABLE, ref


def test_the_hash_changes_with_any_file_and_with_nothing_else(tmp_path: Path) -> None:
    site = tmp_path / "web"
    shutil.copytree(WEB_DIR, site)
    base = content_hash(site)
    assert re.fullmatch(rf"[0-9a-f]{{{VERSION_LENGTH}}}", base)

    # Same files elsewhere, touched later: same hash (every node of a release agrees).
    copy = tmp_path / "copy"
    shutil.copytree(site, copy)
    (copy / "app.js").touch()
    assert content_hash(copy) == base

    js = site / "app.js"
    original = js.read_bytes()
    js.write_bytes(original + b"\n")
    changed = content_hash(site)
    assert changed != base
    js.write_bytes(original)
    assert content_hash(site) == base

    (site / "i18n" / "en.json").rename(site / "i18n" / "en2.json")  # renamed, same bytes
    assert content_hash(site) not in {base, changed}


def test_the_page_is_rendered_once_with_the_prefix(tmp_path: Path) -> None:
    (tmp_path / "a.js").write_text("export const a = 1;\n")
    (tmp_path / "page.html").write_text(
        '<link rel="stylesheet" href="/static/s.css">\n<script type="module" src="/static/a.js">'
        '</script>\n<a href="/">home</a> <p>/static/ is text here</p>\n'
    )
    assets = Assets(tmp_path, "/static")
    html = assets.render("page.html")
    assert f'href="{assets.prefix}/s.css"' in html
    assert f'src="{assets.prefix}/a.js"' in html
    assert '<a href="/">home</a> <p>/static/ is text here</p>' in html

    page = assets.page("page.html")
    assert page.body == html.encode()
    (tmp_path / "a.js").write_text("export const a = 2;\n")
    assert Assets(tmp_path, "/static").page("page.html").etag != page.etag


# ---- compression -----------------------------------------------------------------------------


async def test_a_js_asset_is_gzipped_only_for_a_client_that_accepts_it(
    http: httpx.AsyncClient,
) -> None:
    prefix = await page_prefix(http)
    on_disk = (WEB_DIR / "session.js").read_bytes()
    assert len(on_disk) > MIN_COMPRESSED_SIZE

    async with http.stream("GET", f"{prefix}session.js", headers={"Accept-Encoding": "gzip"}) as r:
        raw = b"".join([chunk async for chunk in r.aiter_raw()])
    assert r.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in r.headers["vary"].lower()
    assert gzip.decompress(raw) == on_disk
    assert len(raw) < len(on_disk) / 2

    plain = await http.get(f"{prefix}session.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.content == on_disk


@pytest.mark.parametrize("name", ["style.css", "i18n/en.json"])
async def test_css_and_json_are_gzipped(http: httpx.AsyncClient, name: str) -> None:
    prefix = await page_prefix(http)
    response = await http.get(f"{prefix}{name}", headers={"Accept-Encoding": "gzip"})
    assert response.headers.get("content-encoding") == "gzip"
    assert response.content == (WEB_DIR / name).read_bytes()


async def test_the_page_is_gzipped(http: httpx.AsyncClient) -> None:
    response = await http.get("/", headers={"Accept-Encoding": "gzip"})
    assert response.headers.get("content-encoding") == "gzip"
    assert "etag" in response.headers


async def test_only_public_text_is_compressed_and_the_websocket_passes(tmp_path: Path) -> None:
    """Small files stay plain; pages outside the public paths (the console's carry a CSRF token
    beside text others can write: BREACH) stay plain however big; a WebSocket is untouched."""
    (tmp_path / "tiny.js").write_text("export const tiny = 1;\n")
    (tmp_path / "big.js").write_text("export const big = 1;\n" * 200)
    assets = Assets(tmp_path, "/static")
    big_page = "<p>moderation</p>\n" * 200

    async def console_page(request: Request) -> Response:
        return HTMLResponse(big_page)

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(await websocket.receive_text())
        await websocket.close()

    inner = Starlette(
        routes=[
            Mount("/static", assets.files),
            Route("/mod/queue", console_page),
            WebSocketRoute("/ws", echo),
        ]
    )
    async with (
        serve_in_process(PublicCompression(inner)) as url,
        httpx.AsyncClient(base_url=url, headers={"Accept-Encoding": "gzip"}) as client,
    ):
        tiny = await client.get(f"{assets.prefix}/tiny.js")
        big = await client.get(f"{assets.prefix}/big.js")
        console = await client.get("/mod/queue")
        ws_url = url.replace("http://", "ws://") + "/ws"
        async with ws_connect(ws_url, additional_headers={"Accept-Encoding": "gzip"}) as ws:
            await ws.send("x" * 5000)
            echoed = await ws.recv()
    assert tiny.status_code == big.status_code == console.status_code == 200
    assert len(tiny.content) < MIN_COMPRESSED_SIZE < len(big.content)
    assert "content-encoding" not in tiny.headers
    assert big.headers.get("content-encoding") == "gzip"
    assert "content-encoding" not in console.headers
    assert console.text == big_page
    assert echoed == "x" * 5000


# ---- not found -------------------------------------------------------------------------------


async def test_a_browser_gets_an_html_404_with_a_way_home(http: httpx.AsyncClient) -> None:
    for path in ("/no-such-page", "/static/no-such-file.js"):
        response = await http.get(path, headers={"Accept": BROWSER_ACCEPT})
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/html")
        home = re.search(r'<a [^>]*data-testid="not-found-home"[^>]*>', response.text)
        assert home and 'href="/"' in home.group(0)
        assert "Halaman tidak ditemukan" in response.text
        assert "default-src 'self'" in response.headers["content-security-policy"]
        stylesheet = re.search(r'href="(/static/[^"]+\.css)"', response.text)
        assert stylesheet and VERSIONED.match(stylesheet.group(1))
        assert (await http.get(stylesheet.group(1))).status_code == 200


async def test_api_paths_and_programs_keep_json_404s(http: httpx.AsyncClient) -> None:
    for path, accept in (
        ("/api/nope", BROWSER_ACCEPT),
        ("/api/mod/nope", BROWSER_ACCEPT),
        ("/no-such-page", "*/*"),
        ("/no-such-page", "application/json, text/html;q=0.5"),
    ):
        response = await http.get(path, headers={"Accept": accept})
        assert response.status_code == 404, path
        assert response.json() == {"detail": "Not Found"}, (path, accept)


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        (BROWSER_ACCEPT, True),
        ("text/html", True),
        ("*/*", False),
        ("", False),
        ("application/json", False),
        ("application/json, text/html;q=0.9", False),
        ("text/html;q=0", False),
        ("text/html;q=nonsense, */*", False),
    ],
)
def test_which_clients_get_html(accept: str, html: bool) -> None:
    assert prefers_html(accept) is html


# ---- in a browser ----------------------------------------------------------------------------

RESOURCES_JS = """() => performance.getEntriesByType("resource").map(
  (e) => ({ url: e.name, status: e.responseStatus, transferred: e.transferSize }))"""


@pytest.mark.browser
@pytest.mark.timeout(60)
async def test_a_browser_loads_everything_versioned_and_then_from_its_cache(
    browser: Browser, server: Any
) -> None:
    person = await open_person(browser, server.url, "S")
    page = person.page
    await person.tid("lang").select_option("id")  # fetches i18n/id.json at run time
    await expect(page.locator("html")).to_have_attribute("lang", "id")

    first = await page.evaluate(RESOURCES_JS)
    static = [e for e in first if httpx.URL(e["url"]).path.startswith("/static/")]
    paths = {httpx.URL(e["url"]).path for e in static}
    assert all(VERSIONED.match(p) for p in paths), sorted(paths)
    assert all(e["status"] == 200 for e in static), static
    names = {p.split("/", 3)[3] for p in paths}
    assert {"app.js", "session.js", "style.css", "i18n/id.json"} <= names

    # The next visit takes every asset from the browser's cache without asking the server.
    await page.goto(server.url)
    await person.ready()
    again = [e for e in await page.evaluate(RESOURCES_JS) if httpx.URL(e["url"]).path in paths]
    assert {httpx.URL(e["url"]).path for e in again} >= {p for p in paths if p.endswith(".js")}
    assert all(e["transferred"] == 0 for e in again), again
    await close_all(person)
