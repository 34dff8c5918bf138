"""Finding the nearest of N PDQ hashes within a Hamming distance: two indexes, one chosen by size.

- :class:`LinearIndex` compares the query with every hash: XOR and popcount over (N, 4) 64-bit
  words in numpy. Cost grows with N.
- :class:`MultiIndex` is multi-index hashing (Norouzi, Punjani and Fleet, "Fast Search in Hamming
  Space with Multi-Index Hashing", CVPR 2012) over the sixteen 16-bit chunks of a hash. If two
  hashes are within distance ``d``, then by the pigeonhole principle at least one of their
  chunks is within ``d // 16`` (with ``d`` = 31: some chunk differs in at most one bit). So only
  the hashes that share a chunk value with one of the query's chunks flipped in at most
  ``d // 16`` bits are candidates (17 values per chunk at ``d`` = 31), and only those are
  compared exactly. The answer is the same as the linear scan's; the work is not.

  Each chunk position keeps the hashes' positions sorted by that chunk's value and where each
  of the 65,536 values starts: 4 bytes per hash per chunk (64 bytes per hash, plus 32 for the
  hash: about 100 MB for a million hashes).

:func:`index_for` picks by the number of hashes, at :data:`MULTI_INDEX_FROM`, the crossover that
``bench/hash_match.py`` measured (README of bench/: "Hash matching").
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Protocol

import numpy as np
import numpy.typing as npt

from parley.safety.pdq import BYTES

CHUNKS = 16
CHUNK_VALUES = 1 << 16
#: Lists of at least this many hashes get a multi-index. bench/hash_match.py --crossover, match
#: only: the scan is faster at 8,000 hashes (32 us against 40), the multi-index at 16,000 (44 us
#: against 53); the multi-index's cost hardly grows with N, the scan's grows linearly.
MULTI_INDEX_FROM = 10_000

Hashes = npt.NDArray[np.uint8]  # (N, 32): one PDQ hash per row


@dataclass(frozen=True, slots=True)
class Nearest:
    position: int  # row of the hash in the list it was built from
    distance: int


class Index(Protocol):
    size: int

    def nearest(self, query: bytes, within: int) -> Nearest | None:
        """A closest hash at distance ``within`` or less, or None."""
        ...


def as_rows(hashes: Hashes) -> npt.NDArray[np.uint64]:
    """The hashes as (N, 4) 64-bit words: one cache line per hash, for gathering a few."""
    return np.ascontiguousarray(hashes).view(np.uint64).reshape(-1, BYTES // 8)


def _query_words(query: bytes) -> npt.NDArray[np.uint64]:
    if len(query) != BYTES:
        raise ValueError(f"a PDQ hash is {BYTES} bytes")
    return np.frombuffer(query, dtype=np.uint64)


def _closest(
    columns: npt.NDArray[np.uint64],
    query: bytes,
    within: int,
    rows: npt.NDArray[np.int64] | None = None,
) -> Nearest | None:
    """The nearest of the hashes given as (4, M) words (their rows in the list: ``rows``, or
    0..M-1) within ``within``. Column by column, XOR and popcount run over contiguous memory:
    twice as fast as row by row (measured)."""
    q = _query_words(query)
    if not columns.shape[1]:
        return None
    distances = np.bitwise_count(columns[0] ^ q[0]).astype(np.uint16)
    for k in range(1, len(q)):
        distances += np.bitwise_count(columns[k] ^ q[k])
    best = int(np.argmin(distances))
    d = int(distances[best])
    if d > within:
        return None
    return Nearest(best if rows is None else int(rows[best]), d)


class LinearIndex:
    def __init__(self, hashes: Hashes) -> None:
        self.columns = np.ascontiguousarray(as_rows(hashes).T)
        self.size = self.columns.shape[1]

    def nearest(self, query: bytes, within: int) -> Nearest | None:
        return _closest(self.columns, query, within)


def _flips(radius: int) -> npt.NDArray[np.int64]:
    """Every 16-bit mask with at most ``radius`` bits set (0 first)."""
    masks = [0]
    for r in range(1, radius + 1):
        masks += [sum(1 << b for b in bits) for bits in combinations(range(16), r)]
    return np.array(masks, dtype=np.int64)


class MultiIndex:
    def __init__(self, hashes: Hashes) -> None:
        self.words = as_rows(hashes)
        self.size = n = len(self.words)
        # Native 16-bit chunks: numpy's stable sort of 16-bit integers is a radix sort.
        chunks = np.ascontiguousarray(hashes).view(">u2").reshape(n, CHUNKS).astype(np.uint16)
        order = np.empty((CHUNKS, n), dtype=np.uint32)
        starts = np.empty((CHUNKS, CHUNK_VALUES + 1), dtype=np.int64)
        for j in range(CHUNKS):
            column = np.ascontiguousarray(chunks[:, j])
            order[j] = np.argsort(column, kind="stable")
            starts[j, 0] = 0
            np.cumsum(np.bincount(column, minlength=CHUNK_VALUES), out=starts[j, 1:])
        # One flat array, so that a chunk's bucket is one slice: offset j * n for chunk j.
        self._order = order.reshape(-1)
        self._starts = starts + (np.arange(CHUNKS, dtype=np.int64) * n)[:, None]
        self._flips: dict[int, npt.NDArray[np.int64]] = {}

    @property
    def order_bytes(self) -> int:
        return int(self._order.nbytes)

    @property
    def starts_bytes(self) -> int:
        return int(self._starts.nbytes)

    def nearest(self, query: bytes, within: int) -> Nearest | None:
        if self.size == 0:
            return None
        radius = max(0, within) // CHUNKS
        flips = self._flips.get(radius)
        if flips is None:
            flips = self._flips[radius] = _flips(radius)
        q = np.frombuffer(query, dtype=">u2").astype(np.int64)  # the query's 16 chunks
        probes = q[:, None] ^ flips[None, :]  # (16, M) chunk values to look up
        rows = np.arange(CHUNKS)[:, None]
        lo = self._starts[rows, probes].reshape(-1)
        hi = self._starts[rows, probes + 1].reshape(-1)
        lengths = hi - lo
        total = int(lengths.sum())
        if total == 0:
            return None
        if total >= self.size:  # buckets this full (a degenerate list): scanning is cheaper
            return _closest(np.ascontiguousarray(self.words.T), query, within)
        # Concatenate the buckets' slices without a Python loop.
        ends = np.cumsum(lengths)
        picks = np.arange(total, dtype=np.int64) + np.repeat(lo - (ends - lengths), lengths)
        # A hash found through two chunks is compared twice: cheaper than removing repeats.
        found = self._order.take(picks).astype(np.int64)
        candidates = np.ascontiguousarray(self.words.take(found, axis=0).T)
        return _closest(candidates, query, within, found)


def index_for(hashes: Hashes) -> Index:
    """The index to use for this many hashes (measured: bench/hash_match.py)."""
    if len(hashes) >= MULTI_INDEX_FROM:
        return MultiIndex(hashes)
    return LinearIndex(hashes)
