"""What a job costs and the picture it produces: a generation by resolution, an upscale by its
input and factor, an outpaint by its input and preset."""

from __future__ import annotations

import io
import math
import random
from typing import Any

from PIL import Image

from bot.apiframe.sandbox.validation import RESOLUTIONS


def credit_cost(
    resolution: str | None, first: int = 7, per_extra: int = 3, reference_pixels: int = 0
) -> int:
    """`first` credits for the first output megapixel, `per_extra` for each further one and for
    each megapixel of the references, rounded up (FLUX.2 [max] pricing, BFL's formula): 0.5 MP
    7, 1 MP 7, 2 MP 10, 4 MP 16 with the defaults; 1 MP with a 992x992 reference 10."""
    mp = RESOLUTIONS.get(resolution or "2MP", 2.0)
    return first + math.ceil((max(0.0, mp - 1) + reference_pixels / 1_000_000) * per_extra)


def dimensions(resolution: str | None, aspect: str | None) -> tuple[int, int]:
    """Width and height: the asked megapixels at every aspect ratio (1 MP = 1,000,000 px), each
    side rounded down to a multiple of 16, as FLUX.2 does (so 4 MP at 16:9 is 2656x1488)."""
    pixels = RESOLUTIONS.get(resolution or "2MP", 2.0) * 1_000_000
    a, b = (int(x) for x in (aspect or "1:1").split(":"))
    width = math.sqrt(pixels * a / b)
    height = width * b / a
    return max(16, int(width) // 16 * 16), max(16, int(height) // 16 * 16)


def render(
    prompt: str,
    seed: int,
    resolution: str | None,
    aspect: str | None,
    fmt: str,
    quality: int,
    references: tuple[bytes, ...] = (),
) -> bytes:
    """A deterministic picture for (prompt, seed): a gradient under fine noise, so file sizes
    behave like real photos (a 4 MP PNG is well over 10 MiB), with the references' thumbnails
    in the bottom-right corner, so a reference flow shows it sent them (blocking: a thread)."""
    width, height = dimensions(resolution, aspect)
    rng = random.Random(f"{seed}:{prompt}")  # noqa: S311 - test images
    noise = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    base = Image.new("RGB", (width, height), (rng.randrange(256), rng.randrange(256), 128))
    gradient = Image.linear_gradient("L").resize((width, height))
    base.paste((rng.randrange(256), 64, rng.randrange(256)), mask=gradient)
    picture = Image.blend(base, noise, 0.5)
    if references:
        _paste_thumbnails(picture, references)
    return encode(picture, fmt, quality)


THUMBNAIL_SHARE = 5  # a thumbnail's box is at most a fifth of the picture's shorter side
THUMBNAIL_GAP = 4  # pixels of white around and between thumbnails


def thumbnail_boxes(width: int, height: int, count: int) -> list[tuple[int, int, int]]:
    """(x, y, side) of the square box each reference's thumbnail fits in: a row along the
    bottom edge ending at the right one, the first reference leftmost, all within the width."""
    gap = THUMBNAIL_GAP
    side = min(min(width, height) // THUMBNAIL_SHARE, (width - gap) // count - gap)
    side = max(side, 1)
    y = height - gap - side
    start = width - count * (side + gap)
    return [(start + i * (side + gap), y, side) for i in range(count)]


def _paste_thumbnails(picture: Image.Image, references: tuple[bytes, ...]) -> None:
    boxes = thumbnail_boxes(picture.width, picture.height, len(references))
    gap = THUMBNAIL_GAP
    left, top = boxes[0][0] - gap, boxes[0][1] - gap
    picture.paste((255, 255, 255), (left, top, picture.width, picture.height))
    for (x, y, side), data in zip(boxes, references, strict=True):
        with Image.open(io.BytesIO(data)) as opened:
            opened.draft("RGB", (side, side))  # a large JPEG decodes at a fraction of its size
            thumb = opened.convert("RGB")
        thumb.thumbnail((side, side))
        picture.paste(thumb, (x + (side - thumb.width) // 2, y + (side - thumb.height) // 2))


def encode(image: Image.Image, fmt: str, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    if fmt == "png":
        image.save(buffer, "PNG", compress_level=1)
    elif fmt == "webp":
        image.save(buffer, "WEBP", quality=quality)
    else:
        image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


# --- upscale and edit -----------------------------------------------------------------

FACTOR_KEYS = {"topaz-image-upscale": "upscale_factor", "clarity-upscale": "scale_factor"}
OUTPAINT_PRESETS = (
    "Zoom out 1.5x",
    "Zoom out 2x",
    "Make square",
    "Left outpaint",
    "Right outpaint",
    "Top outpaint",
    "Bottom outpaint",
)
PAN_GROWTH = 1.5  # a pan preset extends its side by half the picture's size in that direction
EDIT_QUALITY = 95  # the upscale and edit routes take no output_quality


def upscale_factor(model: str, params: dict[str, Any]) -> int:
    """The factor an upscale asks for; 2 when absent, as both models default."""
    return int(params.get(FACTOR_KEYS[model], 2))


def _up16(value: float) -> int:
    return max(16, math.ceil(value / 16) * 16)


def outpaint_canvas(width: int, height: int, preset: str) -> tuple[int, int, int, int]:
    """(canvas width, height, x, y of the original on it) for an outpaint preset. Zoom out
    scales both sides and Make square takes the longer side, the original centred; a pan
    extends one side by half (PAN_GROWTH) with the original flush against the other edge.
    Each canvas side is rounded up to a multiple of 16, as FLUX outputs are."""
    if preset.startswith("Zoom out"):
        scale = 2.0 if preset == "Zoom out 2x" else 1.5
        canvas = _up16(width * scale), _up16(height * scale)
    elif preset == "Make square":
        canvas = (_up16(max(width, height)),) * 2
    elif preset in ("Left outpaint", "Right outpaint"):
        canvas = _up16(width * PAN_GROWTH), _up16(height)
    elif preset in ("Top outpaint", "Bottom outpaint"):
        canvas = _up16(width), _up16(height * PAN_GROWTH)
    else:
        raise ValueError(f"unknown outpaint preset {preset!r}")
    x, y = (canvas[0] - width) // 2, (canvas[1] - height) // 2
    if preset == "Left outpaint":
        x = canvas[0] - width
    elif preset == "Right outpaint":
        x = 0
    elif preset == "Top outpaint":
        y = canvas[1] - height
    elif preset == "Bottom outpaint":
        y = 0
    return canvas[0], canvas[1], x, y


def topaz_cost(width: int, height: int, per_mp: int, minimum: int) -> int:
    """`per_mp` credits per started output megapixel (10^6 px), at least `minimum`."""
    return max(minimum, -(-(width * height) // 1_000_000) * per_mp)


PLACEHOLDER = ((255, 0, 255), (48, 48, 48))  # magenta and dark grey squares
PLACEHOLDER_SQUARE = 32


def placeholder(width: int, height: int) -> Image.Image:
    """The pattern painted where an edit invents picture: a magenta and grey checkerboard,
    unlike any generated picture, so a test can tell new area from the original."""
    cols, rows = -(-width // PLACEHOLDER_SQUARE), -(-height // PLACEHOLDER_SQUARE)
    cells = Image.new("L", (cols, rows))
    cells.putdata([255 * ((c + r) % 2) for r in range(rows) for c in range(cols)])
    size = (cols * PLACEHOLDER_SQUARE, rows * PLACEHOLDER_SQUARE)
    mask = cells.resize(size, Image.Resampling.NEAREST)
    mask = mask.crop((0, 0, width, height))
    first, second = (Image.new("RGB", (width, height), colour) for colour in PLACEHOLDER)
    return Image.composite(first, second, mask)


def _open(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")


def upscale(data: bytes, factor: int, fmt: str) -> bytes:
    """The input enlarged `factor` times on each side."""
    image = _open(data)
    if factor != 1:
        size = (image.width * factor, image.height * factor)
        image = image.resize(size, Image.Resampling.BICUBIC)
    return encode(image, fmt, EDIT_QUALITY)


def outpaint(data: bytes, preset: str, fmt: str) -> bytes:
    """The input on the preset's canvas, the new area filled with the placeholder pattern."""
    image = _open(data)
    width, height, x, y = outpaint_canvas(image.width, image.height, preset)
    canvas = placeholder(width, height)
    canvas.paste(image, (x, y))
    return encode(canvas, fmt, EDIT_QUALITY)


def inpaint(data: bytes, mask: bytes, fmt: str) -> bytes:
    """The input with the mask's white area repainted with the placeholder pattern."""
    image = _open(data)
    with Image.open(io.BytesIO(mask)) as opened:
        where = opened.convert("L").resize(image.size)
    return encode(Image.composite(placeholder(*image.size), image, where), fmt, EDIT_QUALITY)
