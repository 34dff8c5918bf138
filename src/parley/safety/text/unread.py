"""Lines the text filter could not read: delivered all the same, and counted.

Two reasons. ``script``: most of the line's letters are in a script the word rules do not read
(Devanagari Hindi, Arabic, Thai ...); digits, addresses and links in it are still found, since
those fold to ASCII, but its words are not. ``error``: the filter failed on the line (a bug);
the line then passes unmasked rather than being dropped. Counts are per process, kept in
:mod:`parley.metrics` and read at scrape time (``parley_text_unread_lines``).
"""

from __future__ import annotations

from typing import Final, Literal

from parley.metrics import TEXT_UNREAD, count_text_unread

UnreadReason = Literal["script", "error"]
UNREAD_REASONS: Final[tuple[UnreadReason, ...]] = ("script", "error")
_LATIN_END: Final = "\u024f"  # the last Latin Extended-B letter


def count_unread(reason: UnreadReason) -> None:
    count_text_unread(reason)


def unread_counts() -> dict[str, int]:
    """Lines counted per reason since the process started."""
    return {reason: TEXT_UNREAD.get(reason, 0) for reason in UNREAD_REASONS}


def foreign_script(folded: str) -> bool:
    """Whether most letters of a folded line are outside the Latin script."""
    latin = other = 0
    for c in folded:
        if c.isalpha():
            if c <= _LATIN_END:
                latin += 1
            else:
                other += 1
    return other > latin
