"""The page installs on a phone's home screen (issue 17, "Progressive web app"): a web app manifest
with icons, linked from the page, served as JSON under the versioned prefix; and nothing that
would keep a stale page after a deploy (no service worker).

What Chromium wants before it offers to install a page: a secure context (https, or localhost);
a linked manifest with ``name`` or ``short_name``, ``start_url``, ``display`` standalone (or
fullscreen / minimal-ui) and an icon of at least 144 px (192 and 512 are what it picks); no
``prefer_related_applications``. Since Chromium 108 (Android) and 112 (desktop) a service worker
with a fetch handler is no longer required, so Parley has none. Chromium says itself whether a page
is installable (``Page.getInstallabilityErrors`` over CDP): the last test asks it.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from playwright.async_api import async_playwright, expect

import parley
from harness.components import CHROMIUM_ARGS
from parley.assets import IMMUTABLE

WEB_DIR = Path(parley.__file__).parent / "web"
MANIFEST_LINK = re.compile(
    r'<link rel="manifest" href="(/static/[0-9a-f]+/manifest\.webmanifest)">'
)
THEME_META = re.compile(r'<meta name="theme-color" content="(#[0-9a-f]{6})">')
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest_asyncio.fixture
async def http(server: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
        yield client


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    assert data[:8] == PNG_SIGNATURE, "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def manifest_of(http: httpx.AsyncClient) -> tuple[httpx.URL, dict[str, Any], str]:
    page = (await http.get("/")).text
    match = MANIFEST_LINK.search(page)
    assert match, "the page links no manifest under the versioned prefix"
    response = await http.get(match.group(1))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/manifest+json")
    assert response.headers["cache-control"] == IMMUTABLE  # a deploy changes its URL
    manifest = json.loads(response.text)
    assert isinstance(manifest, dict)
    return response.url, manifest, page


async def test_the_manifest_is_linked_served_as_json_and_describes_the_app(
    http: httpx.AsyncClient,
) -> None:
    _, manifest, page = await manifest_of(http)
    assert manifest["name"].startswith("Parley") and manifest["short_name"] == "Parley"
    assert manifest["start_url"] == "/" and manifest["scope"] == "/" and manifest["id"] == "/"
    assert manifest["display"] == "standalone"
    assert not manifest.get("prefer_related_applications", False)

    # The theme colour is the page's own accent, in the manifest and in the page's meta tag.
    accent = re.search(r"--accent:\s*(#[0-9a-f]{6});", (WEB_DIR / "style.css").read_text())
    meta = THEME_META.search(page)
    assert accent and meta
    assert manifest["theme_color"] == meta.group(1) == accent.group(1)
    background = re.search(r"--bg:\s*(#[0-9a-f]{6});", (WEB_DIR / "style.css").read_text())
    assert background and manifest["background_color"] == background.group(1)


async def test_every_icon_is_reachable_with_its_type_and_size(http: httpx.AsyncClient) -> None:
    url, manifest, page = await manifest_of(http)
    sizes: dict[str, set[int]] = {"any": set(), "maskable": set()}
    for icon in manifest["icons"]:
        icon_url = url.join(icon["src"])  # relative to the manifest: the same versioned prefix
        assert icon_url.path.startswith(url.path.rsplit("/", 1)[0] + "/icons/"), icon_url
        response = await http.get(icon_url)
        assert response.status_code == 200, icon
        assert response.headers["content-type"].startswith(icon["type"]), icon
        if icon["type"] == "image/png":
            width, height = png_size(response.content)
            assert icon["sizes"] == f"{width}x{height}", icon
            sizes[icon["purpose"]].add(width)
        else:
            assert icon["sizes"] == "any" and b"<svg" in response.content
    assert {192, 512} <= sizes["any"], sizes
    assert 512 in sizes["maskable"], sizes
    # The home-screen icon iOS uses (it ignores the manifest's icons).
    apple = re.search(r'<link rel="apple-touch-icon" href="([^"]+)">', page)
    assert apple
    response = await http.get(apple.group(1))
    assert response.status_code == 200 and png_size(response.content) == (180, 180)


async def test_chromium_parses_the_manifest_and_finds_the_page_installable(
    chromium_path: str, server: Any, tmp_path: Path
) -> None:
    # A profile on disk: Playwright's usual contexts are incognito, where Chromium never installs.
    async with async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=chromium_path, args=list(CHROMIUM_ARGS)
        )
        try:
            page = await context.new_page()
            await page.goto(server.url)
            await expect(page.locator("body")).to_have_attribute("data-ready", "true")
            cdp = await context.new_cdp_session(page)
            parsed = await cdp.send("Page.getAppManifest")
            assert parsed["errors"] == [], parsed["errors"]
            assert parsed["url"].endswith("/manifest.webmanifest")
            assert json.loads(parsed["data"])["short_name"] == "Parley"
            installability = await cdp.send("Page.getInstallabilityErrors")
            assert installability["installabilityErrors"] == [], installability

            # Nothing caches the page or its code beyond HTTP caching: no service worker at all.
            registrations = await page.evaluate(
                "navigator.serviceWorker.getRegistrations().then((r) => r.length)"
            )
            assert registrations == 0
        finally:
            await context.close()
    for script in WEB_DIR.rglob("*.js"):
        assert "serviceWorker" not in script.read_text(encoding="utf-8"), script
