"""What a broker outcome other than OK tells the person: an error code and its words."""

from __future__ import annotations

from parley.broker import Outcome
from parley.gateway.peer import Peer
from parley.protocol import ErrorCode

STATE_ERRORS = {
    Outcome.STALE: (ErrorCode.STALE_PAIR, "that chat has ended"),
    Outcome.NOT_PAIRED: (ErrorCode.NOT_CHATTING, "you are not in a chat"),
    Outcome.BAD_STATE: (ErrorCode.BAD_STATE, "you are already in a chat"),
    Outcome.UNAVAILABLE: (ErrorCode.SERVER_BUSY, "service busy, retrying"),
    Outcome.WATCH_ONLY: (ErrorCode.WATCH_ONLY, "you asked the question: you watch, you don't type"),
}


def answer(peer: Peer, outcome: Outcome, ref: int | None) -> None:
    code, text = STATE_ERRORS[outcome]
    peer.error(code, text, ref)
