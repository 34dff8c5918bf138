"""Synthetic camera stills for the vision tests: the kind of thing a fake camera shows.

Gradients, shapes, a moving disc and a clock-like text (as Chromium's fake camera draws), noise,
flat colours; JPEG-encoded at most 320 px, like the page's sampler. Pillow only (a test dep).
"""

from __future__ import annotations

import base64
import io
import random

from PIL import Image, ImageDraw

MAX_PX = 320


def jpeg(image: Image.Image, quality: int = 70) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def gradient(w: int = 320, h: int = 240, seed: int = 0) -> Image.Image:
    img = Image.new("RGB", (w, h))
    px = img.load()
    assert px is not None
    for y in range(h):
        for x in range(w):
            px[x, y] = ((x * 255 // w + seed * 37) % 256, y * 255 // h, (x + y + seed) % 256)
    return img


def fake_camera(frame: int = 0, w: int = 320, h: int = 240) -> Image.Image:
    """Green field, a disc with a moving wedge and a frame counter: Chromium's fake device."""
    img = Image.new("RGB", (w, h), (0, 150, 60))
    d = ImageDraw.Draw(img)
    cx, cy, r = w // 2, h // 2, min(w, h) // 3
    d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(240, 240, 0))
    start = (frame * 30) % 360
    d.pieslice((cx - r, cy - r, cx + r, cy + r), start, start + 60, fill=(0, 0, 0))
    d.text((8, 8), f"{frame // 30:02d}:{frame % 30:02d} frame {frame}", fill=(255, 255, 255))
    return img


def shapes(seed: int = 0, w: int = 320, h: int = 180) -> Image.Image:
    rng = random.Random(seed)
    img = Image.new("RGB", (w, h), tuple(rng.randrange(256) for _ in range(3)))
    d = ImageDraw.Draw(img)
    for _ in range(12):
        x0, y0 = rng.randrange(w), rng.randrange(h)
        box = (x0, y0, x0 + rng.randrange(10, 120), y0 + rng.randrange(10, 120))
        color = tuple(rng.randrange(256) for _ in range(3))
        if rng.random() < 0.5:
            d.rectangle(box, fill=color)
        else:
            d.ellipse(box, fill=color)
    d.text((10, h - 20), "Parley test pattern", fill=(0, 0, 0))
    return img


def noise(seed: int = 0, w: int = 240, h: int = 320) -> Image.Image:
    rng = random.Random(seed)
    return Image.frombytes("RGB", (w, h), bytes(rng.randrange(256) for _ in range(w * h * 3)))


def flat(color: tuple[int, int, int] = (20, 20, 20), w: int = 320, h: int = 240) -> Image.Image:
    return Image.new("RGB", (w, h), color)


def ordinary_stills() -> list[tuple[str, bytes]]:
    """(name, JPEG) pairs of ordinary synthetic frames, each at most 320 px."""
    out = [(f"fake_camera_{i}", jpeg(fake_camera(i * 7))) for i in range(4)]
    out += [(f"gradient_{i}", jpeg(gradient(seed=i))) for i in range(2)]
    out += [(f"shapes_{i}", jpeg(shapes(i))) for i in range(4)]
    out += [("noise", jpeg(noise())), ("black", jpeg(flat())), ("white", jpeg(flat((250,) * 3)))]
    out += [("grey_l_mode", jpeg_grey(gradient(seed=3)))]
    return out


def jpeg_grey(image: Image.Image) -> bytes:
    """A one-channel (greyscale) JPEG, which some cameras and encoders produce."""
    out = io.BytesIO()
    image.convert("L").save(out, "JPEG", quality=70)
    return out.getvalue()


def distinct_stills(n: int) -> list[bytes]:
    """``n`` small JPEGs that differ from each other (for telling which ones were dropped)."""
    return [jpeg(flat(((i * 40) % 256, (i * 90) % 256, (i * 150) % 256), 64, 48)) for i in range(n)]
