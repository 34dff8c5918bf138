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


# ---- benign stills from what the test packages ship (vision tests, bench.vision_compare) -----


def sample_photo() -> Image.Image:
    """The one photograph matplotlib (a test dependency) ships: Grace Hopper, 512x600."""
    return shipped_picture("grace_hopper.jpg")


def shipped_picture(name: str) -> Image.Image:
    """An image file of matplotlib's sample data, as RGB (transparency over white)."""
    import matplotlib.cbook
    import numpy as np

    sample = matplotlib.cbook.get_sample_data(name)
    assert not isinstance(sample, np.ndarray)  # an image file comes back as an open binary file
    with sample as f:
        image = Image.open(io.BytesIO(f.read()))
        image.load()
    background = Image.new("RGB", image.size, (255, 255, 255))
    background.paste(image.convert("RGBA"), mask=image.convert("RGBA"))
    return background


def fit(image: Image.Image, long_side: int = MAX_PX) -> Image.Image:
    """``image`` scaled down to at most ``long_side`` px, as the page's sampler does."""
    out = image.copy()
    out.thumbnail((long_side, long_side))
    return out


def portrait() -> bytes:
    """The sample photograph at 320 px, as a page would send it."""
    return jpeg(fit(sample_photo()))


def photo_variants() -> list[tuple[str, bytes]]:
    """Crops, rescales, flips and colour shifts of the sample photograph: variants of ONE real
    photograph of a clothed person, not independent photographs."""
    from PIL import ImageEnhance, ImageFilter, ImageOps

    photo = sample_photo()
    w, h = photo.size

    def crop(left: float, top: float, right: float, bottom: float) -> Image.Image:
        return photo.crop((int(w * left), int(h * top), int(w * right), int(h * bottom)))

    def tint(rgb: tuple[float, float, float]) -> Image.Image:
        bands = zip(photo.split(), rgb, strict=True)
        return Image.merge("RGB", [b.point(lambda v, k=k: min(255, int(v * k))) for b, k in bands])

    def small(px: int) -> Image.Image:  # a low-resolution camera, scaled back up
        return fit(photo, px).resize((w * MAX_PX // h, MAX_PX), Image.Resampling.BILINEAR)

    variants = {
        "full": photo,
        "face": crop(0.25, 0.1, 0.75, 0.55),
        "close_face": crop(0.35, 0.15, 0.65, 0.45),
        "uniform": crop(0.0, 0.5, 1.0, 1.0),
        "left_half": crop(0.0, 0.0, 0.5, 1.0),
        "right_half": crop(0.5, 0.0, 1.0, 1.0),
        "top_half": crop(0.0, 0.0, 1.0, 0.5),
        "mirror": ImageOps.mirror(photo),
        "grey": ImageOps.grayscale(photo),
        "saturated": ImageEnhance.Color(photo).enhance(1.8),
        "warm": tint((1.15, 1.0, 0.8)),
        "cool": tint((0.8, 0.95, 1.2)),
        "bright": ImageEnhance.Brightness(photo).enhance(1.4),
        "dark": ImageEnhance.Brightness(photo).enhance(0.5),
        "blurred": photo.filter(ImageFilter.GaussianBlur(4)),
        "tilted": photo.rotate(12, expand=False, fillcolor=(40, 40, 40)),
        "low_res": small(80),
        "landscape": photo.crop((0, int(h * 0.2), w, int(h * 0.2) + w * 3 // 4)),
    }
    out = [(f"photo_{name}", jpeg(fit(image))) for name, image in variants.items()]
    out.append(("photo_quality_20", jpeg(fit(photo), quality=20)))
    return out


def rendered_data() -> list[tuple[str, bytes]]:
    """Images of the other data matplotlib ships: an MRI slice, elevation maps, a logo, a
    clip-art present, each rendered to a 320 px still."""
    import gzip

    import matplotlib
    import matplotlib.cbook
    import numpy as np

    def render(values: np.ndarray, cmap: str) -> Image.Image:
        lo, hi = float(values.min()), float(values.max())
        rgba = matplotlib.colormaps[cmap]((values - lo) / ((hi - lo) or 1.0), bytes=True)
        return Image.fromarray(rgba[..., :3]).resize((320, 240), Image.Resampling.BILINEAR)

    mri_file = matplotlib.cbook.get_sample_data("s1045.ima.gz")
    assert isinstance(mri_file, gzip.GzipFile)
    with mri_file as f:
        mri = np.frombuffer(f.read(), np.uint16).reshape(256, 256).astype(float)
    dem = np.asarray(matplotlib.cbook.get_sample_data("jacksboro_fault_dem.npz")["elevation"])
    topo = np.asarray(matplotlib.cbook.get_sample_data("topobathy.npz")["topo"])
    images = {
        "mri_grey": render(mri, "gray"),
        "mri_bone": render(mri, "bone"),
        "dem_terrain": render(dem, "terrain"),
        "dem_copper": render(dem, "copper"),  # skin-like browns
        "topo_earth": render(topo, "gist_earth"),
        "topo_pink": render(topo, "pink"),  # skin-like pinks
        "logo": shipped_picture("logo2.png"),
        "present": shipped_picture("Minduka_Present_Blue_Pack.png"),
    }
    return [(f"data_{name}", jpeg(fit(image))) for name, image in images.items()]


# Skin tones of light to dark complexions (sRGB), for stills that are mostly "skin-coloured"
# without being anything: the hard case for a whole-image model.
SKIN_TONES = [(255, 224, 196), (234, 192, 160), (224, 172, 140), (198, 134, 66), (141, 85, 36),
              (92, 56, 40)]  # fmt: skip


def skin_coloured() -> list[tuple[str, bytes]]:
    """Flat skin tones, a skin-tone gradient, shapes on skin, and the photograph's face on a
    skin-tone background: benign, but the colours a nudity model may lean on."""
    out = [(f"skin_flat_{i}", jpeg(flat(tone))) for i, tone in enumerate(SKIN_TONES)]
    ramp = Image.new("RGB", (320, 240))
    d = ImageDraw.Draw(ramp)
    for x in range(320):
        a, b = SKIN_TONES[0], SKIN_TONES[-1]
        d.line([(x, 0), (x, 239)], fill=tuple(a[k] + (b[k] - a[k]) * x // 319 for k in range(3)))
    out.append(("skin_gradient", jpeg(ramp)))
    for i, tone in enumerate(SKIN_TONES[1:4]):
        img = shapes(20 + i, 320, 240)
        img.paste(tone, (0, 0, 320, 120))
        out.append((f"skin_with_shapes_{i}", jpeg(img)))
    face = fit(sample_photo().crop((128, 60, 384, 330)), 160)
    for i, tone in enumerate(SKIN_TONES[2:4]):
        img = flat(tone)
        img.paste(face, (80, 40))
        out.append((f"skin_with_face_{i}", jpeg(img)))
    return out


def benign_stills() -> list[tuple[str, bytes]]:
    """(name, JPEG) of every benign still above: synthetic frames, photograph variants, rendered
    data, skin-coloured stills. Deterministic."""
    return [*ordinary_stills(), *photo_variants(), *rendered_data(), *skin_coloured()]
