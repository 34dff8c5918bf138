"""The page's layout as a person sees it (issue 17, first increment), in headless Chromium at a
laptop's 1280x800 and a phone's 390x844 (touch-emulated):

- Start, and the under-13 refusal when it shows, are on the first screen without scrolling;
- the New button (Stop -> Really? -> New) stays readable while hovered, and after a tap on a phone;
- waiting shows what is happening and how to leave, in a live region;
- Next is the primary control, Report and Block are smaller but still keyboard-reachable;
- a moderator's warning is a labelled notice.

Colours are read with getComputedStyle and rated with the WCAG 2 contrast ratio.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Locator, ViewportSize, expect

from harness.browser import MATCHED, WAITING, Person, close_all, open_person
from harness.moderation import add_moderator, logged_in
from harness.protocol import person, unique_interest

pytestmark = pytest.mark.timeout(120)

LAPTOP: ViewportSize = {"width": 1280, "height": 800}
TALL_PHONE: ViewportSize = {"width": 390, "height": 844}
AA_TEXT = 4.5  # WCAG 2 AA, normal-size text

# Where an element is, in CSS pixels of the viewport, and how far the page has scrolled.
RECT_JS = """(el) => {
  const r = el.getBoundingClientRect();
  return {top: r.top, left: r.left, bottom: r.bottom, right: r.right, width: r.width,
          height: r.height, vw: innerWidth, vh: innerHeight, scrollY: scrollY};
}"""
# An element's text and background colours; the background is the first opaque one up the tree.
COLOURS_JS = """(el) => {
  const fg = getComputedStyle(el).color;
  let node = el, bg = "rgba(0, 0, 0, 0)";
  while (node) {
    bg = getComputedStyle(node).backgroundColor;
    if (!/rgba\\(.*,\\s*0\\)$/.test(bg) && bg !== "transparent") break;
    node = node.parentElement;
  }
  return {fg, bg, opacity: getComputedStyle(el).opacity};
}"""


def _rgb(css: str) -> tuple[float, float, float, float]:
    m = re.fullmatch(r"rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)", css)
    assert m is not None, f"not an rgb() colour: {css}"
    r, g, b, a = m.groups()
    return float(r), float(g), float(b), float(a) if a is not None else 1.0


def _luminance(rgb: tuple[float, float, float]) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg_css: str, bg_css: str) -> float:
    """The WCAG 2 contrast ratio of text ``fg_css`` (alpha blended) on opaque ``bg_css``."""
    br, bgr, bb, bg_alpha = _rgb(bg_css)
    assert bg_alpha == 1.0, f"background not opaque: {bg_css}"
    fr, fgr, fb, a = _rgb(fg_css)
    blended = (a * fr + (1 - a) * br, a * fgr + (1 - a) * bgr, a * fb + (1 - a) * bb)
    lum = sorted((_luminance(blended), _luminance((br, bgr, bb))), reverse=True)
    return (lum[0] + 0.05) / (lum[1] + 0.05)


async def rect(loc: Locator) -> dict[str, float]:
    result: dict[str, float] = await loc.evaluate(RECT_JS)
    return result


async def assert_on_first_screen(loc: Locator, what: str) -> None:
    """``loc`` is wholly inside the viewport, and the page was not scrolled to get there."""
    await expect(loc).to_be_visible()
    r = await rect(loc)
    assert r["scrollY"] == 0, f"{what}: the page scrolled ({r})"
    assert r["height"] > 0 and r["top"] >= 0 and r["left"] >= 0, f"{what}: {r}"
    assert r["bottom"] <= r["vh"] and r["right"] <= r["vw"], f"{what} is off-screen: {r}"


async def new_button_contrast(p: Person) -> float:
    colours: dict[str, str] = await p.stop.evaluate(COLOURS_JS)
    assert colours["opacity"] == "1", colours
    return contrast(colours["fg"], colours["bg"])


async def visitor(browser: Browser, url: str, viewport: ViewportSize, mobile: bool) -> Person:
    return await open_person(browser, url, "visitor", viewport=viewport, mobile=mobile)


@pytest_asyncio.fixture(params=[(LAPTOP, False), (TALL_PHONE, True)], ids=["laptop", "phone"])
async def on_each_screen(
    request: pytest.FixtureRequest, browser: Browser, server_factory: Any
) -> Person:
    """A visitor on a server of the test's own, at a laptop's size and on a touch phone."""
    viewport, mobile = request.param
    return await visitor(browser, server_factory().url, viewport, mobile)


async def screenshot(p: Person, artifacts_dir: Path, name: str) -> None:
    """``NAME-WIDTH.png`` in the artifacts, for a person to look at."""
    size = p.page.viewport_size
    assert size is not None
    await p.page.screenshot(path=str(artifacts_dir / f"{name}-{size['width']}.png"))


async def waiting_visitor(
    browser: Browser, srv: Any, viewport: ViewportSize, mobile: bool
) -> Person:
    """A visitor who pressed Start and is waiting alone."""
    p = await visitor(browser, srv.url, viewport, mobile)
    await p.start()
    await expect(p.status).to_contain_text(WAITING)
    return p


# ---- landing -------------------------------------------------------------------------------------


async def test_start_and_refusal_on_the_first_screen(
    on_each_screen: Person, artifacts_dir: Path
) -> None:
    p = on_each_screen
    await assert_on_first_screen(p.tid("start"), "Start")
    for mode in ("text", "video", "question"):
        await assert_on_first_screen(p.tid(f"mode-{mode}").locator(".."), f"mode {mode}")
    # The mode tiles are the big choice: each is taller than the age box.
    age_h = (await rect(p.tid("age")))["height"]
    assert (await rect(p.tid("mode-video").locator("..")))["height"] > age_h
    await screenshot(p, artifacts_dir, "landing")

    # Under 13: refused, and the refusal is on screen where the person is looking.
    await p.start(age=12)
    alert = p.page.get_by_role("alert")
    await expect(alert).to_contain_text("only for people aged 13 and over")
    await assert_on_first_screen(alert, "the under-13 refusal")
    await assert_on_first_screen(p.tid("start"), "Start after the refusal")
    await close_all(p)


async def test_an_empty_site_invites_rather_than_counts(
    browser: Browser, server_factory: Any
) -> None:
    # The public figure is rounded down to a step of 10: nobody else here reads 0.
    srv = server_factory(PARLEY_PUBLIC_ONLINE_STEP="10")
    p = await visitor(browser, srv.url, TALL_PHONE, True)
    online = p.tid("online")
    await expect(online).to_have_text("Be the first here")
    await expect(online).to_have_attribute("data-count", "0")
    assert "0" not in (await online.text_content() or "")
    await p.tid("lang").select_option("id")
    await expect(online).not_to_have_text("Be the first here")
    await expect(online).not_to_contain_text("0")
    await close_all(p)


# ---- Stop -> Really? -> New ----------------------------------------------------------------------


async def test_new_is_readable_while_the_pointer_rests_on_it(
    browser: Browser, server_factory: Any
) -> None:
    p = await waiting_visitor(browser, server_factory(), LAPTOP, False)
    await p.stop_chat()  # two clicks: the pointer is left resting on the button
    await expect(p.stop).to_have_attribute("data-state", "new")
    await p.stop.hover()
    assert await p.stop.evaluate("(el) => el.matches(':hover')")
    ratio = await new_button_contrast(p)
    assert ratio >= AA_TEXT, f"New while hovered: {ratio:.2f}:1"
    # The plain Stop state, hovered, is readable too.
    await p.stop.click()
    await expect(p.stop).to_have_attribute("data-state", "stop")
    await p.stop.hover()
    assert await new_button_contrast(p) >= AA_TEXT
    await close_all(p)


async def test_new_is_readable_after_a_tap_on_a_phone(
    browser: Browser, server_factory: Any
) -> None:
    p = await waiting_visitor(browser, server_factory(), TALL_PHONE, True)
    await p.stop.tap()
    await expect(p.stop).to_have_text("Really?")
    await p.stop.tap()
    await expect(p.stop).to_have_text("New")
    ratio = await new_button_contrast(p)
    assert ratio >= AA_TEXT, f"New after a tap: {ratio:.2f}:1"
    await close_all(p)


# ---- waiting -------------------------------------------------------------------------------------


async def test_waiting_says_what_is_happening_and_how_to_leave(
    on_each_screen: Person, artifacts_dir: Path
) -> None:
    p = on_each_screen
    await p.start()
    card = p.tid("waiting")
    await expect(card).to_be_visible()
    await expect(card).to_contain_text(WAITING)
    await expect(card).to_contain_text("Stop")  # how to leave
    # Announced: the text is inside a polite live region.
    live = await card.evaluate("(el) => el.closest('[aria-live=polite], [role=status]') !== null")
    assert live
    await assert_on_first_screen(card, "the waiting state")
    await screenshot(p, artifacts_dir, "waiting")
    # Leaving: the card goes, and says nothing stale.
    await p.stop_chat()
    await expect(card).to_be_hidden()
    await close_all(p)


# ---- chat controls -------------------------------------------------------------------------------


async def test_next_is_the_primary_control_on_a_phone(
    browser: Browser, server_factory: Any
) -> None:
    srv = server_factory()
    a = await visitor(browser, srv.url, TALL_PHONE, True)
    b = await open_person(browser, srv.url, "B")
    await a.start()
    await expect(a.status).to_contain_text(WAITING)
    await expect(a.tid("waiting")).to_be_visible()
    await b.start()
    await a.expect_matched()
    await expect(a.tid("waiting")).to_be_hidden()
    nxt = await rect(a.tid("next"))
    for secondary in ("report", "block"):
        other = await rect(a.tid(secondary))
        assert nxt["width"] * nxt["height"] > other["width"] * other["height"], secondary
        await expect(a.tid(secondary)).to_be_enabled()
    await assert_on_first_screen(a.tid("next"), "Next")
    # Next looks like the main action: a filled accent button, readable.
    colours: dict[str, str] = await a.tid("next").evaluate(COLOURS_JS)
    assert contrast(colours["fg"], colours["bg"]) >= AA_TEXT
    report_bg = await a.tid("report").evaluate("(el) => getComputedStyle(el).backgroundColor")
    assert report_bg != colours["bg"]
    # Report is still reached and used with the keyboard alone.
    await a.tid("report").focus()
    await a.page.keyboard.press("Enter")
    await expect(a.tid("report-dialog")).to_be_visible()
    await a.page.keyboard.press("Escape")
    await expect(a.tid("report-dialog")).to_be_hidden()
    await expect(a.status).to_contain_text(MATCHED)
    await close_all(a, b)


# ---- a moderator's warning -----------------------------------------------------------------------


async def test_a_moderators_warning_is_a_labelled_notice(
    browser: Browser, server_factory: Any
) -> None:
    srv = server_factory(PARLEY_HEARTBEAT_INTERVAL="20", PARLEY_HEARTBEAT_TIMEOUT="60")
    topic = unique_interest("warn")
    b = await visitor(browser, srv.url, TALL_PHONE, True)
    await b.start(interests=topic, only_shared=True)
    await expect(b.status).to_contain_text("Looking for someone who shares your interests")
    reporter = await person(srv, interests=[topic], fallback=False)
    assert (await reporter.start())["type"] == "matched"
    await b.expect_matched()
    pair = reporter.pair
    await b.say("something rude")
    await reporter.expect("message")
    await reporter.send("report", pair=pair, category="harassment")
    ref = str((await reporter.expect("reported"))["ref"])

    mod = await logged_in(srv, "ana", add_moderator(srv, "ana"))
    reason = "Please be kind. <b>Bold</b>"
    r = await mod.post(f"/api/mod/items/{ref}/action", json={"action": "warn", "reason": reason})
    assert r.status_code == 200, r.text
    await mod.aclose()

    warning = b.page.get_by_role("note", name="Warning from a moderator")
    await expect(warning).to_be_visible()
    await expect(warning).to_contain_text(reason)  # their words, as text
    await expect(warning).to_have_attribute("data-testid", "moderator-warning")
    assert await b.page.locator("b", has_text="Bold").count() == 0
    # In the log a screen reader hears (the message list is the live region).
    assert await warning.evaluate("(el) => el.closest('[role=log]') !== null")
    await reporter.close()
    await close_all(b)
