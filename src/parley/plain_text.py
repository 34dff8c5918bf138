"""Free text that people type for others to read (report comments, appeals, moderators'
reasons) is kept as plain text: no character that reorders or hides what a reader sees.

Bidirectional embeddings, overrides and isolates can make "evil.example" read as
"elpmaxe.live", or hide the end of a line; zero-width characters split words past a filter or
smuggle a message in plain sight. Neither belongs in evidence or in a statement of reasons. The
store applies this to every such field (``store.audit.plain``), whoever writes it: the gateway,
the console or the appeal API. A top-level module: the store may not import ``parley.safety``.
"""

from __future__ import annotations

import re

# C0/C1 controls except tab and newline; Arabic letter mark; Mongolian vowel separator;
# zero-width space, non-joiner, joiner; LRM, RLM; embeddings and overrides (LRE..RLO, PDF); word
# joiner and invisible operators; isolates (LRI..PDI); zero-width no-break space (BOM). Written
# as regex escapes that ECMA-262 (JSON Schema), Python and Rust (pydantic) regexes all read.
_INVISIBLE = (
    r"\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u180e\u200b-\u200f\u202a-\u202e"
    r"\u2060-\u2064\u2066-\u2069\ufeff"
)
INVISIBLE = re.compile(f"[{_INVISIBLE}]")

#: A JSON Schema ``pattern`` (a search, not a full match) for text that still says something
#: once stripped of the characters above and of white space: it holds one character that is
#: neither. The APIs declare it on every such field, so their schema says what they accept.
SAYS_SOMETHING = rf"[^\s{_INVISIBLE}]"


def strip_invisible(text: str) -> str:
    """``text`` without the characters above (everything else, emoji included, is kept)."""
    return INVISIBLE.sub("", text)
