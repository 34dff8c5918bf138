"""Evidence checks: the transcript shape, the still frame, and public references."""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Sequence
from typing import Any

from parley.jpeg import NotAJpeg, reencode
from parley.pool import Pool
from parley.store.errors import InvalidInput
from parley.store.values import (
    MAX_LINE_CHARS,
    MAX_STILL_BYTES,
    MAX_TRANSCRIPT_LINES,
    REF_ALPHABET,
    REF_LENGTH,
    REF_PREFIX,
    SEATS,
    ItemKind,
    TranscriptLine,
)

_SPEAKERS = frozenset({"reporter", "reported", "other"})


def new_ref(kind: ItemKind) -> str:
    return REF_PREFIX[kind] + "".join(secrets.choice(REF_ALPHABET) for _ in range(REF_LENGTH))


def kind_of_ref(ref: str) -> ItemKind | None:
    for kind, prefix in REF_PREFIX.items():
        if (
            ref.startswith(prefix)
            and len(ref) == len(prefix) + REF_LENGTH
            and all(c in REF_ALPHABET for c in ref[len(prefix) :])
        ):
            return kind
    return None


def check_transcript(lines: Sequence[TranscriptLine]) -> list[dict[str, Any]]:
    """The transcript as stored (plain JSON), or InvalidInput."""
    if len(lines) > MAX_TRANSCRIPT_LINES:
        raise InvalidInput(f"a transcript holds at most {MAX_TRANSCRIPT_LINES} lines")
    out: list[dict[str, Any]] = []
    for line in lines:
        t, speaker, text = line.get("t"), line.get("from"), line.get("text")
        if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t) or t < 0:
            raise InvalidInput("transcript line: t must be epoch seconds")
        if speaker not in _SPEAKERS:
            raise InvalidInput("transcript line: from must be 'reporter', 'reported' or 'other'")
        if not isinstance(text, str) or len(text) > MAX_LINE_CHARS:
            raise InvalidInput(f"transcript line: text must be at most {MAX_LINE_CHARS} chars")
        seat = line.get("seat")
        if seat is not None and seat not in SEATS:
            raise InvalidInput("transcript line: seat must be 'asker', 'stranger1' or 'stranger2'")
        out.append({"t": float(t), "from": speaker, "text": text})
        if seat is not None:
            out[-1]["seat"] = seat
    return out


def pool_takes_stills(pool: Pool) -> bool:
    """Only video pools have a camera: a text or question chat has no still to keep, whatever a
    client sends."""
    return pool.mode == "video"


def check_still(still: bytes | None, pool: Pool) -> tuple[bytes | None, str | None]:
    """The still as it will be stored (decoded and re-encoded: :func:`parley.jpeg.reencode`) and
    its SHA-256, or InvalidInput for anything but a bounded JPEG from a video pool. Decoding
    takes milliseconds: async callers run this in a thread."""
    if still is None:
        return None, None
    if len(still) > MAX_STILL_BYTES:
        raise InvalidInput(f"a still frame is at most {MAX_STILL_BYTES} bytes")
    try:
        image = reencode(still)
    except NotAJpeg as exc:
        raise InvalidInput("a still frame must be a JPEG") from exc
    if not pool_takes_stills(pool):
        raise InvalidInput("a still frame belongs to a video chat only")
    return image, hashlib.sha256(image).hexdigest()
