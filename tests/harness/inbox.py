"""An attached session's inbox for broker tests: what the broker delivered to it, by kind."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from parley.protocol import Matched, ServerMessage

M = TypeVar("M", bound=ServerMessage)


@dataclass
class Box:
    events: list[ServerMessage] = field(default_factory=list)

    def deliver(self, event: ServerMessage) -> None:
        self.events.append(event)

    def of(self, kind: type[M]) -> list[M]:
        return [e for e in self.events if isinstance(e, kind)]

    def matched(self) -> Matched | None:
        """The latest ``matched``, if any."""
        found = self.of(Matched)
        return found[-1] if found else None
