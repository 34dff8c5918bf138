"""Question mode (Omegle's spy mode), the gateway's side: the asker's question and ``about``.

An *asker* (hello mode ``question``) writes a question; two *discussers* (mode ``discuss``) from
the same band and language discuss it in a room while the asker watches, read-only. The broker
forms and runs rooms (``broker/matchmaker.py`` ``RoomQueue``, ``broker/memory.py``); this module
checks what a client sends about them, before anything reaches the broker.
"""

from __future__ import annotations

from parley.broker.base import Evidence
from parley.protocol import (
    QUESTION_MAX_CHARS,
    QUESTION_MIN_CHARS,
    ErrorCode,
    ProtocolError,
    Seat,
)
from parley.safety.text import clean_message, line_signals, screen_line

_LENGTH = f"Ask a question of {QUESTION_MIN_CHARS} to {QUESTION_MAX_CHARS} characters."
_REFUSED = (
    "This question can't be asked in teen chats: it asks about age, where someone lives, "
    "pictures, secrets, gifts or meeting up. Please ask something else."
)


def check_question(raw: str | None, *, minor: bool, mask: bool) -> tuple[str, tuple[str, ...]]:
    """The question as the discussers will see it, and the contact kinds masked in it.

    The same filter as chat lines: contact details are masked where chat lines are masked.
    A question goes to two strangers at once and sets the topic of a whole conversation, so in
    the minor pool a question that carries a grooming signal is refused (``bad_question``)
    rather than scored line by line.
    """
    if raw is None:
        raise ProtocolError(ErrorCode.BAD_QUESTION, _LENGTH)
    try:
        text = clean_message(raw, max_chars=QUESTION_MAX_CHARS)
    except ProtocolError:
        raise ProtocolError(ErrorCode.BAD_QUESTION, _LENGTH) from None
    if len(text) < QUESTION_MIN_CHARS:
        raise ProtocolError(ErrorCode.BAD_QUESTION, _LENGTH)
    if minor and line_signals(text):
        raise ProtocolError(ErrorCode.BAD_QUESTION, _REFUSED)
    if not mask:
        return text, ()
    screened = screen_line(text, mask=True)
    return screened.text, screened.kinds


def resolve_about(evidence: Evidence, about: Seat | None) -> Evidence:
    """The evidence naming the person a ``report``/``block`` is about.

    Chat: ``about`` must be absent. Asker: must name a discusser. Discusser: the asker or the
    other discusser, by default the other discusser. Anything else is ``bad_message``.
    """
    mine = evidence.reporter_seat
    if mine is None:
        if about is not None:
            raise ProtocolError(ErrorCode.BAD_MESSAGE, "about is only for question mode")
        return evidence
    if about is None:
        if mine == "asker":
            raise ProtocolError(
                ErrorCode.BAD_MESSAGE, "say which stranger: about 'stranger1' or 'stranger2'"
            )
        return evidence
    if about == mine:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "about names your own seat")
    named = evidence.about(about)
    if named is None:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"nobody sat in {about}")
    return named
