"""Which language a page is served in: ``?lang=``, then ``Accept-Language``, then English."""

from __future__ import annotations

LANGUAGES = ("en", "id")  # as the chat page (src/parley/web/i18n/)
DEFAULT = "en"


def _weight(part: str) -> float:
    for param in part.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "q":
            try:
                return max(0.0, min(1.0, float(value)))
            except ValueError:
                return 0.0
    return 1.0


def choose_language(query: str | None, accept_language: str | None) -> str:
    """A language of ``LANGUAGES``: the query's if it names one, else the first of the header
    by weight (``id-ID`` counts as ``id``), else ``DEFAULT``."""
    if query and query.strip().lower() in LANGUAGES:
        return query.strip().lower()
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "").split(",")[:32]):  # bounded work per request
        tag = part.split(";")[0].strip().lower().split("-")[0]
        weight = _weight(part)
        if tag in LANGUAGES and weight > 0:
            ranked.append((-weight, i, tag))
    return min(ranked)[2] if ranked else DEFAULT
