"""What a valid hello established about a connection."""

from __future__ import annotations

from parley.broker import Ticket
from parley.pool import Pool
from parley.protocol import Mode
from parley.store import DeviceHash


class Identity:
    """What a valid hello established. Immutable for the life of the connection."""

    __slots__ = ("any_language", "device", "fallback", "interests", "pool", "session")

    def __init__(
        self,
        session: str,
        device: DeviceHash,
        pool: Pool,
        interests: tuple[str, ...],
        fallback: bool,
        any_language: bool = False,
    ) -> None:
        self.session = session
        self.device = device
        self.pool = pool
        self.interests = interests
        self.fallback = fallback
        self.any_language = any_language

    @property
    def mode(self) -> Mode:
        return self.pool.mode

    def ticket(self, question: str | None = None) -> Ticket:
        side = self.pool.side
        if side is not None:  # question mode ignores interests
            return Ticket(self.session, self.device, self.pool, side=side, question=question)
        return Ticket(
            self.session,
            self.device,
            self.pool,
            self.interests,
            self.fallback,
            any_language=self.any_language,
        )
