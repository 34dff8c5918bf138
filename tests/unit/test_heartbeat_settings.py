"""The server's heartbeat settings must make sense together (docs/protocol.md, "Heartbeat")."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from parley.config import Settings


@pytest.mark.parametrize(("interval", "timeout"), [(10, 10), (10, 5), (30, 29.9)])
def test_a_timeout_within_the_interval_stops_start_up(interval: float, timeout: float) -> None:
    with pytest.raises(ValidationError, match="PARLEY_HEARTBEAT_TIMEOUT must be longer"):
        Settings(heartbeat_interval=interval, heartbeat_timeout=timeout)


def test_the_defaults_ping_before_they_close() -> None:
    s = Settings()
    assert s.heartbeat_interval < s.heartbeat_timeout
    assert Settings(heartbeat_interval=1, heartbeat_timeout=3).heartbeat_timeout == 3
