"""A pool: the age band, mode and language a person waits and chats in. Bands and modes never
mix; languages of one band and mode do only for two people who both chose "any language" and
waited ``language_wait`` (``Ticket.any_language``, docs/protocol.md "Pools and matching").

Its text form ``band:mode:language`` (``adult:text:en``) appears on ``/status`` and ``/metrics``,
in the Redis broker's keys and in stored reports. This module is the one place that writes and
reads it: the gateway builds a ``Pool`` at hello, everything inside passes ``Pool`` values, and
text read back from Redis or the store is parsed here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final, Literal, cast, get_args

from parley.protocol import Mode


class Band(enum.StrEnum):
    """An age band. The band decides the pool (docs/design.md, invariant 1)."""

    MINOR = "minor"
    ADULT = "adult"


#: Question mode: which of a room's two queues a ticket waits in.
Side = Literal["asker", "discusser"]

#: hello modes of question mode, and the queue each one waits in.
SIDES: Final[dict[str, Side]] = {"question": "asker", "discuss": "discusser"}

_BANDS: Final = frozenset(b.value for b in Band)
_MODES: Final = frozenset(get_args(Mode))
_SEP = ":"
MAX_LANGUAGE_CHARS = 8
# Characters that would break the text form or the Redis hash tag ``{<pool>}`` the pool names.
_NOT_IN_LANGUAGE: Final = frozenset(":{}")


def check_language(language: str) -> str:
    """``language`` if it can name a pool's language, else ValueError saying why."""
    if not 1 <= len(language) <= MAX_LANGUAGE_CHARS:
        raise ValueError(
            f"pool language {language!r} must have 1 to {MAX_LANGUAGE_CHARS} characters"
        )
    if language != language.lower() or any(c in _NOT_IN_LANGUAGE or c.isspace() for c in language):
        raise ValueError(
            f"pool language {language!r} must be lower case, without spaces, ':', '{{' or '}}'"
        )
    return language


@dataclass(frozen=True, slots=True)
class Pool:
    """Who may be matched with whom: people of one band, mode and language (and of one band and
    mode, whatever the language, when both chose any language: ``Matchmaker.widen``)."""

    band: Band
    mode: Mode
    language: str

    def __post_init__(self) -> None:
        if not isinstance(self.band, Band):
            raise ValueError(f"pool band {self.band!r} is not one of {', '.join(Band)}")
        if self.mode not in _MODES:
            raise ValueError(f"pool mode {self.mode!r} is not one of {', '.join(sorted(_MODES))}")
        check_language(self.language)

    @classmethod
    def parse(cls, text: str) -> Pool:
        """The pool ``text`` (``band:mode:language``) names; ValueError if it names none."""
        parts = text.split(_SEP)
        if len(parts) != 3:
            raise ValueError(f"pool {text!r} is not band:mode:language")
        band, mode, language = parts
        if band not in _BANDS:
            raise ValueError(f"pool {text!r}: band {band!r} is not one of {', '.join(Band)}")
        if mode not in _MODES:
            raise ValueError(
                f"pool {text!r}: mode {mode!r} is not one of {', '.join(sorted(_MODES))}"
            )
        try:
            return cls(Band(band), cast(Mode, mode), language)
        except ValueError as e:
            raise ValueError(f"pool {text!r}: {e}") from None

    def __str__(self) -> str:
        return _SEP.join((self.band, self.mode, self.language))

    @property
    def minor(self) -> bool:
        return self.band is Band.MINOR

    @property
    def side(self) -> Side | None:
        """``asker``/``discusser`` in a question-mode pool (its people meet in rooms), else None."""
        return SIDES.get(self.mode)

    @property
    def room(self) -> str:
        """The band and language of a question-mode pool (``adult:en``): a room's asker and
        discussers share it, and rooms never span two."""
        return _SEP.join((self.band, self.language))
