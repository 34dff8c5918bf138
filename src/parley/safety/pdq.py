"""PDQ, Meta's perceptual hash for photos: the 256-bit hash of a still, its quality, distances.

The hash is computed by Meta's reference C++ code through the ``pdqhash`` binding, the way
ThreatExchange's own Python hasher (which HMA uses) does it: the image decoded by Pillow as RGB,
the 256 bits packed most significant first, so that :attr:`Pdq.hex` is the 64-hex-digit form
that HMA, ThreatExchange and NCMEC's hash lists carry. Two hashes are "the same image" when they
differ in at most 31 bits, and a hash of quality below 50 is too unreliable to match on: both
are the recommendations of PDQ's authors (ThreatExchange, ``pdq/README.md``), and the defaults
of ``PARLEY_HASH_MATCH_DISTANCE`` and ``PARLEY_HASH_MIN_QUALITY``.

Hashing a 320 px still takes about 2.5 ms of one core (decode included): vision stills are
hashed in the classifier's worker processes, report stills in a thread.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pdqhash
from PIL import Image

from parley.jpeg import UNDECODABLE

BITS = 256
BYTES = BITS // 8
HEX_DIGITS = BITS // 4
#: Larger stills are scaled down by the JPEG decoder first (PDQ itself works on 64x64): a
#: report's still may be up to 4096x4096, and the hash must not cost a core for long.
MAX_SIDE = 1024


class UnhashableImage(ValueError):
    """The bytes are not an image that can be decoded."""


@dataclass(frozen=True, slots=True)
class Pdq:
    """A PDQ hash: 32 bytes, the first byte holding the hash's highest 8 bits."""

    digest: bytes
    quality: int  # 0-100: how much detail the image has; below 50 a match is unreliable

    @property
    def hex(self) -> str:
        return self.digest.hex()


def pdq_of(image_bytes: bytes) -> Pdq:
    """The PDQ hash of an encoded image (JPEG here), or :class:`UnhashableImage`."""
    try:
        with Image.open(io.BytesIO(image_bytes)) as image:
            if max(image.size) > MAX_SIDE:
                image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # JPEG's cheap DCT downscale
            pixels = np.asarray(image.convert("RGB"), dtype=np.uint8)
    except UNDECODABLE as exc:
        raise UnhashableImage("not a decodable image") from exc
    bits, quality = pdqhash.compute(pixels)
    return Pdq(np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes(), int(quality))


def parse_hex(text: str) -> bytes:
    """The 32 bytes of a PDQ hash written as 64 hex digits (either case), or ValueError."""
    text = text.strip()
    if len(text) != HEX_DIGITS:
        raise ValueError(f"a PDQ hash is {HEX_DIGITS} hex digits, not {len(text)} characters")
    try:
        return bytes.fromhex(text)
    except ValueError as exc:
        raise ValueError("a PDQ hash is written in hex digits only") from exc


def distance(a: bytes, b: bytes) -> int:
    """Hamming distance: how many of the 256 bits differ."""
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()
