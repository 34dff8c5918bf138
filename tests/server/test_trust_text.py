"""Issue 13, finding 15: bidirectional controls and zero-width characters are stripped from every
free-text field that is stored or shown to a moderator: report comments, appeal texts and the
moderators' reasons (on SQLite and PostgreSQL, ``store``), and a comment sent over a real
WebSocket reaches the console clean.
"""

from __future__ import annotations

import pytest

from conftest import ServerFactory
from harness.moderation import add_moderator, logged_in, reported_chat
from harness.stores import dev
from parley.plain_text import strip_invisible
from parley.pool import Pool
from parley.store import Store

pytestmark = [pytest.mark.timeout(120)]

RLO, PDF, ZWSP, ZWJ, LRI, PDI, BOM, RLM = (
    "\u202e", "\u202c", "\u200b", "\u200d", "\u2066", "\u2069", "\ufeff", "\u200f"
)  # fmt: skip
HOSTILE = f"pay at {RLO}moc.elpmaxe{PDF} now{ZWSP}{ZWJ} {LRI}x{PDI}{BOM}{RLM}!"
CLEAN = "pay at moc.elpmaxe now x!"


def test_strip_invisible_keeps_the_visible_text() -> None:
    assert strip_invisible(HOSTILE) == CLEAN
    assert strip_invisible("héllo 👋 مرحبا 你好\tline\nnext") == "héllo 👋 مرحبا 你好\tline\nnext"


async def test_every_free_text_field_is_stored_plain(store: Store) -> None:
    ref = await store.add_report(
        reporter=dev("r"),
        reported=dev("d"),
        category="harassment",
        pair_id="p1",
        pool=Pool.parse("adult:text:en"),
        comment=HOSTILE,
    )
    item = await store.get_item(ref)
    assert item is not None and item.comment == CLEAN
    assert await store.set_legal_hold(ref, actor="mod", reason=HOSTILE)
    assert await store.claim(ref, "mod")
    assert await store.close_item(ref, "mod", resolution="banned", reason=HOSTILE)
    ban = await store.add_ban(
        device=dev("d"), reason=HOSTILE, category="harassment", actor="mod", source_ref=ref
    )
    assert ban.reason == CLEAN
    appeal = await store.add_appeal(ban.id, HOSTILE)
    assert appeal.text == CLEAN
    decided = await store.decide_appeal(appeal.id, "upheld", actor="mod", reason=HOSTILE)
    assert decided.decision_reason == CLEAN
    for entry in await store.audit_log(limit=100):
        assert entry.reason is None or entry.reason == CLEAN, entry


async def test_a_comment_over_the_websocket_reaches_the_console_clean(
    server_factory: ServerFactory,
) -> None:
    srv = server_factory()
    ref, reporter, reported = await reported_chat(srv, comment=HOSTILE)
    h = await logged_in(srv, "reader", add_moderator(srv, "reader"))
    item = (await h.get(f"/api/mod/items/{ref}")).json()
    assert item["comment"] == CLEAN
    page = await h.get(f"/mod/items/{ref}")
    assert RLO not in page.text and ZWSP not in page.text
    await h.aclose()
    for c in (reporter, reported):
        await c.close()
