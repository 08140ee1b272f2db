"""What a job costs and the picture it produces, both by resolution."""

from __future__ import annotations

import io
import math
import random

from PIL import Image

from bot.apiframe.sandbox.validation import RESOLUTIONS


def credit_cost(resolution: str | None, first: int = 7, per_extra: int = 3) -> int:
    """`first` credits for the first megapixel, `per_extra` for each further one, rounded up
    (FLUX.2 [max] pricing): 0.5 MP 7, 1 MP 7, 2 MP 10, 4 MP 16 with the defaults."""
    mp = RESOLUTIONS.get(resolution or "2MP", 2.0)
    return first + math.ceil(max(0.0, mp - 1) * per_extra)


def dimensions(resolution: str | None, aspect: str | None) -> tuple[int, int]:
    """Width and height: the asked megapixels at every aspect ratio (1 MP = 1,000,000 px), each
    side rounded down to a multiple of 16, as FLUX.2 does (so 4 MP at 16:9 is 2656x1488)."""
    pixels = RESOLUTIONS.get(resolution or "2MP", 2.0) * 1_000_000
    a, b = (int(x) for x in (aspect or "1:1").split(":"))
    width = math.sqrt(pixels * a / b)
    height = width * b / a
    return max(16, int(width) // 16 * 16), max(16, int(height) // 16 * 16)


def render(
    prompt: str, seed: int, resolution: str | None, aspect: str | None, fmt: str, quality: int
) -> bytes:
    """A deterministic picture for (prompt, seed): a gradient under fine noise, so file sizes
    behave like real photos (a 4 MP PNG is well over 10 MiB)."""
    width, height = dimensions(resolution, aspect)
    rng = random.Random(f"{seed}:{prompt}")  # noqa: S311 - test images
    noise = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    base = Image.new("RGB", (width, height), (rng.randrange(256), rng.randrange(256), 128))
    gradient = Image.linear_gradient("L").resize((width, height))
    base.paste((rng.randrange(256), 64, rng.randrange(256)), mask=gradient)
    image = Image.blend(base, noise, 0.5)
    buffer = io.BytesIO()
    if fmt == "png":
        image.save(buffer, "PNG", compress_level=1)
    elif fmt == "webp":
        image.save(buffer, "WEBP", quality=quality)
    else:
        image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()
