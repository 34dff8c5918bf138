"""``redis://`` blocks: per-device sets ``<prefix>:{d:<device>}:blocked``, each node's copies kept
current by announcements on ``<prefix>:blocks``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from parley.broker import redis_lua as lua
from parley.broker.redis_core import LocalSession, RedisCore, json_enc
from parley.broker.redis_envelopes import BlockMessage
from parley.broker.redis_replies import as_str
from parley.pool import Pool

BLOCK_TTL_S = 30 * 24 * 3600
RECENT_BLOCKS_S = 10.0  # block announcements replayed to sessions that attach this soon after


class RedisBlocks(RedisCore):
    """Storing, announcing and learning blocks between devices."""

    def _on_block(self, a: str, b: str) -> None:
        now = time.monotonic()
        self._recent_blocks.setdefault(a, {})[b] = now
        self._recent_blocks.setdefault(b, {})[a] = now
        for local in self._local.values():
            if local.device == a:
                self._learn_block(local, b)
            elif local.device == b:
                self._learn_block(local, a)

    def _replay_blocks(self, s: LocalSession, since: float) -> None:
        for other, at in self._recent_blocks.get(s.device, {}).items():
            if at >= since:
                self._learn_block(s, other)

    def _forget_old_blocks(self) -> None:
        horizon = time.monotonic() - RECENT_BLOCKS_S
        for device in list(self._recent_blocks):
            others = self._recent_blocks[device]
            for other in [o for o, at in others.items() if at < horizon]:
                del others[other]
            if not others:
                del self._recent_blocks[device]

    @staticmethod
    def _learn_block(s: LocalSession, other: str) -> None:
        if other not in s.blocked.split(lua.SEP):
            s.blocked = f"{s.blocked}{lua.SEP}{other}" if s.blocked else other

    def _block_key(self, device: str) -> str:
        return f"{self.prefix}:{{d:{device}}}:blocked"

    def _add_block(self, pipe: Any, a: str, b: str) -> None:
        for x, y in ((a, b), (b, a)):
            pipe.sadd(self._block_key(x), y)
            pipe.expire(self._block_key(x), BLOCK_TTL_S)

    async def _blocked(self, s: LocalSession) -> str:
        """The devices ``s``'s device blocked (or was blocked by). Read from Redis only when the
        copy may have missed an announcement on ``P:blocks``; otherwise no round trip."""
        now = time.monotonic()
        if s.blocked_at < self._blocks_epoch:
            members = await self._pipe.execute("SMEMBERS", self._block_key(s.device))
            s.blocked, s.blocked_at = lua.SEP.join(as_str(m) for m in members), now
            self._replay_blocks(s, now)  # heard while the read was on its way
        return s.blocked

    async def _store_block(self, mine: str, theirs: str) -> None:
        """A new block, made in a chat or a room: in both devices' sets, announced to every
        node's copies (ours at once), and in the records of their tabs waiting for a room."""
        async with self._redis.pipeline(transaction=False) as pipe:
            self._add_block(pipe, mine, theirs)
            pipe.publish(self._blocks_channel, json_enc.encode(BlockMessage(mine, theirs)))
            await pipe.execute()
        self._on_block(mine, theirs)
        await self._block_in_rooms(mine, theirs)

    async def _block_in_rooms(self, a: str, b: str) -> None:
        """A new block between devices ``a`` and ``b`` reaches the records of their sessions
        waiting for a room, under every band and language's tag (BLOCK_ROOM), whichever pool
        the block was made in."""
        pools = [Pool.parse(as_str(p)) for p in await self._redis.smembers(self._pools_key)]
        bases = {self._room_base(p) for p in pools if p.side is not None}
        if not bases:
            return
        await asyncio.gather(*(self._script("block_room", [x], [a, b]) for x in bases))
