"""JPEG checks, for the gateway and the store alike (the store may not import safety).

- :func:`jpeg_size`: a cheap header check (is it a JPEG, and how large is it, without decoding
  the pixels). The gateway refuses an oversized still before it costs a worker anything.
- :func:`reencode`: the whole-file check before a still is stored. Pillow decodes every pixel and
  a fresh JPEG is written from them, so nothing the sender put around or inside the image (a
  trailing HTML page, comments, EXIF) is ever stored or served.
"""

from __future__ import annotations

import io

from PIL import Image, UnidentifiedImageError

JPEG_MAGIC = b"\xff\xd8\xff"
# Start-of-frame markers carry the image size: C0-CF except C4 (DHT), C8 (JPG), CC (DAC).
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field.
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
#: What Pillow raises for a file it cannot decode: truncated, corrupt, not an image, too large.
UNDECODABLE: tuple[type[Exception], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    UnidentifiedImageError,
    Image.DecompressionBombError,
)


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the first start-of-frame segment, or None if ``data`` is not a
    well-formed JPEG up to that segment."""
    if not data.startswith(JPEG_MAGIC):
        return None
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte before a marker
            i += 1
            continue
        if marker in _STANDALONE:
            i += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, or scan data before any frame header
            return None
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if length < 2:
            return None
        if marker in _SOF:
            if length < 7 or i + 9 > n:
                return None
            height = int.from_bytes(data[i + 5 : i + 7], "big")
            width = int.from_bytes(data[i + 7 : i + 9], "big")
            return (width, height) if width and height else None
        i += 2 + length
    return None


#: A still is a small camera frame; anything larger is refused before it is decoded.
MAX_PIXELS = 4096 * 4096
QUALITY = 90


class NotAJpeg(ValueError):
    """The bytes are not one complete, decodable JPEG image of a sane size."""


def reencode(data: bytes) -> bytes:
    """The image in ``data`` decoded completely and written again as a baseline JPEG, or
    :class:`NotAJpeg`."""
    size = jpeg_size(data)
    if size is None or size[0] * size[1] > MAX_PIXELS:
        raise NotAJpeg("not a JPEG image of a sane size")
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG"]) as image:
            image.load()  # every pixel: a truncated or corrupt file raises here
            mode = "L" if image.mode == "L" else "RGB"
            pixels = image.convert(mode)
            # Only the pixels go on: a comment, EXIF or ICC profile of the sender's is dropped.
            clean = Image.frombytes(mode, pixels.size, pixels.tobytes())
    except UNDECODABLE as exc:
        raise NotAJpeg("not a decodable JPEG image") from exc
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=QUALITY)
    return out.getvalue()
