"""The console's and the appeal page's Indonesian: every text a template translates has an entry,
placeholders survive, dates are written the language's way (issue 17)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from parley.moderation.translations import BAN_WARNING, ID, REASONS, age, when

TEMPLATES = Path(__file__).parents[2] / "src" / "parley" / "moderation" / "templates"
# Texts a template translates through a variable: roles, kinds, states, chart titles.
DYNAMIC = {
    "admin", "moderator", "report", "flag", "Report", "Flag", "open", "claimed", "closed",
    "People online", "Waiting", "Matches per minute", "Open queue", BAN_WARNING, *REASONS,
}  # fmt: skip


def _literals() -> set[str]:
    found: set[str] = set()
    for template in TEMPLATES.glob("*.html"):
        for match in re.finditer(r"""_\((["'])(.*?)\1\)""", template.read_text(encoding="utf-8")):
            found.add(match.group(2))
    return found


def test_every_translated_text_has_an_indonesian_entry() -> None:
    texts = _literals() | DYNAMIC
    assert len(texts) > 100
    assert sorted(t for t in texts if t not in ID) == []


def test_placeholders_survive_translation() -> None:
    for english, indonesian in ID.items():
        assert re.findall(r"%\(\w+\)s", english) == re.findall(r"%\(\w+\)s", indonesian), english


def test_dates_and_ages_by_language() -> None:
    at = datetime(2026, 5, 7, 14, 3, 5, tzinfo=UTC)
    assert when("en", at) == "7 May 2026, 14:03:05 UTC"
    assert when("id", at) == "7 Mei 2026 14.03.05 UTC"
    assert age("en", 3 * 3600 + 120) == "3h 2m"
    assert age("id", 3 * 3600 + 120) == "3j 2mnt"
    assert age("id", 2 * 86400) == "2hr 0j"
