"""What the pages state about the service, from the running settings (never a copy)."""

from __future__ import annotations

from typing import Any

from parley.config import Settings

_UNITS = {
    "en": (("day", "days"), ("hour", "hours"), ("minute", "minutes"), ("second", "seconds")),
    "id": (("hari", "hari"), ("jam", "jam"), ("menit", "menit"), ("detik", "detik")),
}
_MODES = {
    "en": {"text": "text", "video": "video"},
    "id": {"text": "teks", "video": "video"},
}
_AND = {"en": " and ", "id": " dan "}


def duration(seconds: float, lang: str) -> str:
    """``seconds`` in the largest unit that divides it: "24 hours" (days from 2), "10 menit"."""
    names = _UNITS[lang]
    for size, (one, many) in zip((86400, 3600, 60, 1), names, strict=True):
        if size == 86400 and seconds < 2 * size:
            continue  # "24 hours", as bans are usually spoken of
        if seconds >= size and (seconds % size == 0 or size == 1):
            n = round(seconds / size)
            return f"{n} {one if n == 1 else many}"
    return f"{seconds:g} {names[3][1]}"


def _modes(value: str, lang: str) -> str:
    modes = [m.strip() for m in value.split(",") if m.strip()]
    return _AND[lang].join(_MODES[lang].get(m, m) for m in modes)


def facts(s: Settings, lang: str, *, vision: bool) -> dict[str, Any]:
    """The template variables about the service (docs/pages.md lists them)."""
    return {
        "retention_days": f"{s.retention_days:g}",
        "legal_hold_days": s.legal_hold_days,
        "evidence_lines": s.evidence_lines,
        "report_grace": duration(s.report_grace, lang),
        "mass_report_threshold": s.mass_report_threshold,
        "mass_report_window": duration(s.mass_report_window, lang),
        "mass_report_ban": duration(s.mass_report_ban_seconds, lang),
        "abuse_ban_after": s.abuse_ban_after,
        "abuse_window": duration(s.abuse_window, lang),
        "abuse_ban": duration(s.abuse_ban_seconds, lang),
        "ip_ban": duration(s.auto_ip_ban_seconds, lang),
        "vision": vision,
        "vision_ban": duration(s.vision_ban_seconds, lang),
        "min_age": s.min_age,
        "adult_age": s.adult_age,
        "age_assurance": s.age_assurance,
        "minor_pool_open": s.minor_pool_open,
        "minor_modes": _modes(s.minor_modes, lang),
        "adult_modes": _modes(s.adult_modes, lang),
        "relay_only": s.ice_transport_policy == "relay",
        "turn": bool(s.turn_urls.strip()),
        "max_message_chars": s.max_message_chars,
        "online_step": s.public_online_step,
    }
