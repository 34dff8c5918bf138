"""``redis://``: the broker for many nodes sharing one Redis (Redis 7 or Valkey).

- Matching, leaving and pair look-ups are Lua scripts (``redis_lua``), atomic across nodes. All
  keys of one band and mode share the hash tag ``{band:mode}`` (the queues are per language
  below it), so each script touches a single Cluster slot, a match across languages too.
- Blocks are per-device sets ``<prefix>:{d:<device>}:blocked``; the node reads the set of the
  device that is being matched and passes it to the script (blocks are stored both ways).
- Each node has a channel ``<prefix>:node:<id>``. Events for a session on another node are
  published there (one publisher per pair side, so order within a pair holds) and the receiving
  node checks the pair is still the session's current one before delivering.
- Presence: ``<prefix>:{n:<id>}:alive`` with a TTL, refreshed every second, and the hash
  ``<prefix>:{n:<id>}:sessions`` (session -> pool). Every node runs a reaper; the first to take
  ``<prefix>:reap:<id>`` (SET NX) cleans up a dead node: queues left, pairs ended, partners told
  ``partner_left`` ``disconnected``.
- Redis down: operations answer ``Outcome.UNAVAILABLE``; relay between two sessions on this node
  keeps working; the node reconnects with backoff and, once subscribed again, reconciles its
  sessions with Redis before it matches again (``_recover``).
- Bans: ``announce_ban`` publishes on ``<prefix>:bans``, which every node hears.
- Quotas shared by all nodes (``parley.quotas.redis.RedisQuotas``): per-address and per-device
  limits.
- Question rooms: both sides of one band and language share the tag ``{rm:<band>:<lang>}``;
  forming, leaving and relaying are scripts there, and each member's node is told on its channel
  (see "question rooms" below).

See docs/scaling.md for the key layout and the figures.
"""

from __future__ import annotations

from parley.broker.redis_blocks import RedisBlocks
from parley.broker.redis_pairs import RedisPairs
from parley.broker.redis_presence import RedisPresence
from parley.broker.redis_pubsub import RedisPubSub
from parley.broker.redis_rooms import RedisRooms

__all__ = ["RedisBroker"]


class RedisBroker(RedisPresence, RedisPairs, RedisRooms, RedisBlocks, RedisPubSub):
    """The ``redis://`` broker: its parts, one concept each, composed over ``RedisCore``."""
