"""The gateway: one session state machine per WebSocket, its handlers, and the heartbeat.

Data flows one way: socket → gateway (decode, bounds, rates) → safety (age, text) → broker →
the partner's mailbox.
"""

from parley.gateway.connection import Connection, State
from parley.gateway.gateway import Gateway
from parley.gateway.identity import Identity
from parley.gateway.notices import banned_notice
from parley.gateway.peer import Peer
from parley.gateway.services import Services

__all__ = ["Connection", "Gateway", "Identity", "Peer", "Services", "State", "banned_notice"]
