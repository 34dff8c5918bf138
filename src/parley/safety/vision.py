"""Vision moderation's machinery: the classifier's process pool, thresholds, sampling cadence.

- **Pool.** The classifier runs in worker processes (one per core by default, niced so the chat
  keeps priority), each loading the model once in its initializer. At most one frame per worker is
  in flight; the rest wait in one bounded queue here. When that queue is full the *oldest* waiting
  frame is dropped (and counted): a newer still says more about a live video, and the chat never
  waits on the classifier.
- **Thresholds.** A frame is positive when any configured class scores at or above its threshold;
  *suspect* when one scores above ``suspect_ratio`` of it (sampling then speeds up for a while).
- **Cadence.** Fast for the first seconds of a pair and after a flag, then the default interval.
- **Warm-up.** A built-in model's first inference is much slower than the next ones (the
  runtime allocates and plans on first use), and the first still it would judge is a new
  stranger's, whose video stays blurred until then. So each worker classifies one blank still
  in its initializer, before the pool is ready, and the time it took is logged.
- **Hashes.** The worker also computes each still's PDQ hash (:mod:`parley.safety.pdq`), which
  the event loop matches against the known-image lists (:mod:`parley.safety.known_images`).

The action on a positive (blur, end the pair, ban, queue the still) is in
:mod:`parley.gateway.video`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import logging
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Final

from PIL import Image

from parley.safety.classifier import (
    Classifier,
    ClassifierError,
    Detection,
    UnreadableImage,
    make_classifier,
)
from parley.safety.pdq import Pdq, UnhashableImage, pdq_of

log = logging.getLogger("parley.vision")

START_TIMEOUT = 120.0  # loading the model in every worker, on a slow disk


# ---- results -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Classified:
    detections: tuple[Detection, ...]
    seconds: float  # time the classifier took in the worker
    pdq: Pdq | None = None  # the still's PDQ hash, for the known-image lists (safety/pdq.py)


@dataclass(frozen=True, slots=True)
class Unreadable:
    reason: str


Result = Classified | Unreadable | None  # None: dropped under overload, or the pool is closing


@dataclass(frozen=True, slots=True)
class Verdict:
    positive: tuple[Detection, ...]  # detections at or above their class's threshold
    suspect: bool  # something scored above suspect_ratio of a threshold


class Thresholds:
    """Per-class action thresholds (classes not listed never act)."""

    def __init__(self, by_label: Mapping[str, float], suspect_ratio: float) -> None:
        self.by_label = dict(by_label)
        self.suspect_ratio = suspect_ratio

    def judge(self, detections: tuple[Detection, ...]) -> Verdict:
        positive: list[Detection] = []
        suspect = False
        for d in detections:
            limit = self.by_label.get(d.label)
            if limit is None:
                continue
            if d.score >= limit:
                positive.append(d)
            elif d.score >= limit * self.suspect_ratio:
                suspect = True
        return Verdict(tuple(positive), suspect or bool(positive))


def sample_interval(
    *,
    pair_age: float,
    flagged: bool,
    interval: float,
    fast_interval: float,
    fast_window: float,
) -> float:
    """Seconds between stills: fast in a pair's first ``fast_window`` seconds or after a flag."""
    if flagged or pair_age < fast_window:
        return min(fast_interval, interval)
    return interval


# ---- worker side (runs in the pool's processes) --------------------------------------------

_worker: Classifier | None = None
_worker_error: str | None = None
_warm_ms: float | None = None  # the warm-up inference, for the start-up log
_warm_error: str | None = None

# The models warmed at start: the built-in ones. A plug-in is not, since one inference may be a
# paid call to a vendor's API (or a test's stand-in that counts its stills).
WARMED: Final = frozenset({"nudenet", "opennsfw"})


def _blank_still() -> bytes:
    """A mid-grey still the size the pages send: nothing in it for a model to find."""
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (128, 128, 128)).save(out, "JPEG", quality=80)
    return out.getvalue()


def warm(classifier: Classifier) -> float | None:
    """Run one inference (and the hash) on a blank still, so that the first real still is not
    the slow one; the milliseconds it took (``None`` for a model that is not warmed)."""
    if classifier.name not in WARMED:
        return None
    still = _blank_still()
    t0 = time.perf_counter()
    pdq_of(still)
    classifier.classify(still)
    return (time.perf_counter() - t0) * 1000


def _init_worker(spec: str, nice: int) -> None:
    global _worker, _worker_error, _warm_ms, _warm_error
    if nice:
        with contextlib.suppress(OSError):
            os.nice(nice)  # classification yields the CPU to the event loop carrying the chat
    try:
        classifier = make_classifier(spec)
        classifier.load()
        _worker = classifier
    except Exception as exc:  # report it on every call instead of breaking the pool silently
        _worker_error = f"{type(exc).__name__}: {exc}"
        return
    try:
        _warm_ms = warm(classifier)  # here, in the worker process: never on the event loop
    except Exception as exc:  # the pool still starts: each real still reports its own failure
        _warm_error = f"{type(exc).__name__}: {exc}"


def _loaded() -> Classifier:
    if _worker is None:
        raise ClassifierError(_worker_error or "the classifier is not loaded")
    return _worker


def _worker_ready() -> tuple[str, float | None, str | None]:
    """The loaded model's name, and its warm-up: milliseconds, or why it failed."""
    return _loaded().name, _warm_ms, _warm_error


def _worker_classify(jpeg: bytes) -> Classified:
    """Classify a still, and hash it for the known-image lists in the same worker: hashing
    costs a few milliseconds of CPU, which the event loop should not pay."""
    classifier = _loaded()
    try:
        pdq = pdq_of(jpeg)
    except UnhashableImage as exc:
        raise UnreadableImage("not a decodable image") from exc
    t0 = time.perf_counter()
    detections = tuple(classifier.classify(jpeg))
    return Classified(detections, time.perf_counter() - t0, pdq)


# ---- event-loop side -----------------------------------------------------------------------


@dataclass(slots=True)
class _Job:
    jpeg: bytes
    future: asyncio.Future[Result]


class VisionPool:
    """Classify stills in worker processes, with a bounded drop-oldest queue in front."""

    def __init__(
        self,
        spec: str,
        *,
        workers: int,
        queue_bound: int,
        nice: int = 5,
        on_drop: Callable[[], None] = lambda: None,
    ) -> None:
        self.spec = spec
        self.nice = nice
        self.workers = max(1, workers)
        self.queue_bound = max(1, queue_bound)
        self.on_drop = on_drop
        self.name = spec
        self._executor: ProcessPoolExecutor | None = None
        self._pending: deque[_Job] = deque()
        self._busy = 0
        self._closed = False

    @property
    def waiting(self) -> int:
        return len(self._pending)

    def _new_executor(self) -> ProcessPoolExecutor:
        # spawn, not fork: the server process has threads (asyncio, the database driver).
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(self.spec, self.nice),
        )

    async def start(self) -> None:
        """Start the workers and wait until each has loaded the model; ClassifierError if it
        cannot be loaded (the message says why)."""
        self._executor = self._new_executor()
        loop = asyncio.get_running_loop()
        try:
            ready = await asyncio.wait_for(
                asyncio.gather(
                    *(
                        loop.run_in_executor(self._executor, _worker_ready)
                        for _ in range(self.workers)
                    )
                ),
                START_TIMEOUT,
            )
        except (ClassifierError, BrokenProcessPool, TimeoutError, OSError) as exc:
            await self.close()
            raise ClassifierError(str(exc) or type(exc).__name__) from exc
        self.name = ready[0][0]
        # (A call above may reach a worker that had already answered: these are the workers
        # that answered. Every worker warms itself in its initializer all the same.)
        warm_ms = [round(ms) for _, ms, _ in ready if ms is not None]
        if warm_ms:
            log.info(
                "vision model warmed up on a blank still",
                extra={"classifier": self.name, "warm_up_ms": warm_ms},
            )
        for error in {error for _, _, error in ready if error is not None}:
            log.warning(
                "vision model warm-up failed", extra={"classifier": self.name, "error": error}
            )

    def submit(self, jpeg: bytes) -> asyncio.Future[Result]:
        """Queue a still; the future gives its result, or None if it was dropped. Never waits."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        if self._closed or self._executor is None:
            future.set_result(None)
            return future
        if len(self._pending) >= self.queue_bound:
            oldest = self._pending.popleft()
            if not oldest.future.done():
                oldest.future.set_result(None)
            self.on_drop()
        self._pending.append(_Job(jpeg, future))
        self._pump()
        return future

    def _pump(self) -> None:
        while self._busy < self.workers and self._pending and self._executor is not None:
            job = self._pending.popleft()
            self._busy += 1
            try:
                done = asyncio.wrap_future(self._executor.submit(_worker_classify, job.jpeg))
            except (BrokenProcessPool, RuntimeError) as exc:
                self._busy -= 1
                self._broken(exc)
                job.future.set_result(None)
                continue
            done.add_done_callback(functools.partial(self._finished, job))

    def _finished(self, job: _Job, done: asyncio.Future[Classified]) -> None:
        self._busy -= 1
        result: Result = None
        if done.cancelled():
            pass
        elif isinstance(exc := done.exception(), UnreadableImage):
            result = Unreadable(str(exc))
        elif exc is not None:
            log.error("vision worker failed: %s", exc)
            if isinstance(exc, BrokenProcessPool):
                self._broken(exc)
        else:
            result = done.result()
        if not job.future.done():
            job.future.set_result(result)
        self._pump()

    def _broken(self, exc: BaseException) -> None:
        """A worker died (e.g. out of memory): start a fresh pool; frames meanwhile are lost."""
        if self._closed or self._executor is None:
            return
        log.error("vision pool broken (%s); restarting it", exc)
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._executor = self._new_executor()

    async def close(self) -> None:
        self._closed = True
        while self._pending:
            job = self._pending.popleft()
            if not job.future.done():
                job.future.set_result(None)
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: executor.shutdown(wait=True, cancel_futures=True)
            )
