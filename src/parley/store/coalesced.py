"""Calls coalesced into batches: many callers, one round trip to the database.

A caller's item joins the next batch to *start*, never one already running, so that what a batch
reads was committed before that caller asked (a ban committed before a ``hello`` arrived is seen
by it, exactly as with a query of its own). While one batch runs, the next one gathers; a lone
caller waits for one batch of one, so nothing is held back waiting for company.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Q = TypeVar("Q")
R = TypeVar("R")


class Coalesced(Generic[Q, R]):
    """``await coalesced(item)`` runs ``run([item, ...])`` with the items of other callers waiting
    at the same time (at most ``limit`` per batch); ``run`` returns one result per item, in order.
    An exception from ``run`` is raised to every caller of that batch."""

    def __init__(self, run: Callable[[list[Q]], Awaitable[Sequence[R]]], limit: int = 256) -> None:
        self._run = run
        self._limit = limit
        self._waiting: list[tuple[Q, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None

    async def __call__(self, item: Q) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._task is None:
            self._task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[: self._limit]
                del self._waiting[: self._limit]
                batch = [(q, f) for q, f in batch if not f.done()]  # callers that gave up
                if not batch:
                    continue
                try:
                    results = await self._run([q for q, _ in batch])
                except Exception as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                except BaseException:  # cancelled (shut down): nobody is left to answer
                    for _, future in batch + self._waiting:
                        future.cancel()
                    self._waiting.clear()
                    raise
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._task = None
