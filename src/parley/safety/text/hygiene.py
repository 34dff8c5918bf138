"""Bounds and hygiene for every line: interests and chat messages."""

from __future__ import annotations

import re
import unicodedata

from parley.protocol import ErrorCode, ProtocolError

_SPACE = re.compile(r"\s+")
# C0/C1 controls, except tab and newline, and bidi overrides that can disguise text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def normalise_interests(raw: list[str], *, max_count: int, max_chars: int) -> list[str]:
    """NFKC, lower case, trimmed, leading '#' dropped, inner spaces collapsed, deduplicated."""
    if len(raw) > max_count * 4:  # cheap guard before doing any Unicode work
        raise ProtocolError(ErrorCode.BAD_INTERESTS, f"at most {max_count} interests")
    seen: dict[str, None] = {}
    for item in raw:
        text = _CONTROL.sub("", unicodedata.normalize("NFKC", item[: max_chars * 4]))
        text = _SPACE.sub(" ", text).strip().lstrip("#").strip().casefold()
        if not text:
            continue
        if len(text) > max_chars:
            raise ProtocolError(
                ErrorCode.BAD_INTERESTS, f"each interest may have at most {max_chars} characters"
            )
        seen[text] = None
    if len(seen) > max_count:
        raise ProtocolError(ErrorCode.BAD_INTERESTS, f"at most {max_count} interests")
    return list(seen)


def clean_message(text: str, *, max_chars: int) -> str:
    """Strip control characters and surrounding whitespace; enforce 1..max_chars."""
    if len(text) > max_chars * 2:
        raise ProtocolError(
            ErrorCode.MESSAGE_TOO_LONG, f"messages are at most {max_chars} characters"
        )
    cleaned = _CONTROL.sub("", text).strip()
    if not cleaned:
        raise ProtocolError(ErrorCode.EMPTY_MESSAGE, "message is empty")
    if len(cleaned) > max_chars:
        raise ProtocolError(
            ErrorCode.MESSAGE_TOO_LONG, f"messages are at most {max_chars} characters"
        )
    return cleaned
