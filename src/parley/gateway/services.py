"""What every handler shares: the node's settings, broker, store, safety and its live sessions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from parley.broker import Broker
from parley.config import Settings
from parley.gateway.peer import Peer
from parley.gateway.video import VideoModeration
from parley.metrics import Metrics
from parley.protocol import Limits
from parley.quotas.base import Quotas
from parley.safety.age_memory import AgeMemory
from parley.safety.assurance import AgeAssurance
from parley.safety.devices import DeviceTokens
from parley.safety.sanctions import Sanctions
from parley.store import Ban, Store


@dataclass(eq=False, slots=True)
class Services:
    settings: Settings
    broker: Broker
    store: Store
    metrics: Metrics
    devices: DeviceTokens
    assurance: AgeAssurance
    quotas: Quotas
    sanctions: Sanctions
    ages: AgeMemory
    video: VideoModeration
    limits: Limits
    enforce: Callable[[Ban], Awaitable[None]]  # announce a new ban to every node
    sessions: dict[str, Peer] = field(default_factory=dict)  # admitted here, by session id
    frame_limit: int = 0  # above max_frame_bytes only for `frame` stills, when vision is on
