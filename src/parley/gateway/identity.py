"""What a valid hello established about a connection."""

from __future__ import annotations

from parley.broker import Ticket
from parley.question import side_of
from parley.store import DeviceHash


class Identity:
    """What a valid hello established. Immutable for the life of the connection."""

    __slots__ = ("device", "fallback", "interests", "mode", "pool", "session")

    def __init__(
        self,
        session: str,
        device: DeviceHash,
        mode: str,
        pool: str,
        interests: tuple[str, ...],
        fallback: bool,
    ) -> None:
        self.session = session
        self.device = device
        self.mode = mode
        self.pool = pool
        self.interests = interests
        self.fallback = fallback

    def ticket(self, question: str | None = None) -> Ticket:
        side = side_of(self.mode)
        if side is not None:  # question mode ignores interests
            return Ticket(self.session, self.device, self.pool, side=side, question=question)
        return Ticket(self.session, self.device, self.pool, self.interests, self.fallback)
