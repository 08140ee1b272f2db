"""Fetching a job's input image when it is submitted, as Apiframe probes it to price the job:
a URL it cannot download, or bytes that are not a picture, are a 400 before anything is paid."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass, field

import aiohttp
from PIL import Image

FORMATS = ("JPEG", "PNG", "WEBP")  # an upscale's or edit's input
REFERENCE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP")  # FLUX.2's references take GIFs too
_NAMES = {"JPEG": "JPEG", "PNG": "PNG", "GIF": "GIF", "WEBP": "WebP"}


class InputError(Exception):
    """An input image the sandbox cannot use; the message is the 400's detail for its field."""


@dataclass(frozen=True)
class InputImage:
    data: bytes = field(repr=False)
    width: int
    height: int
    format: str  # Pillow's name: JPEG, PNG, WEBP (or GIF for a reference)


async def fetch_image(
    session: aiohttp.ClientSession,
    url: str,
    *,
    time_limit: float,
    max_bytes: int,
    formats: tuple[str, ...] = FORMATS,
) -> InputImage:
    """Download `url` (within `time_limit` seconds and `max_bytes`) and check it is a picture
    in one of `formats`; raises InputError saying what is wrong."""
    limit = f"{max_bytes // 2**20} MiB" if max_bytes % 2**20 == 0 else f"{max_bytes:,} bytes"
    too_big = f"Is larger than {limit}"
    data = bytearray()
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=time_limit)) as response:
            if not 200 <= response.status < 300:
                raise InputError(f"Could not be downloaded: its server answered {response.status}")
            if (response.content_length or 0) > max_bytes:
                raise InputError(too_big)
            async for chunk in response.content.iter_chunked(64 * 1024):
                data += chunk
                if len(data) > max_bytes:
                    raise InputError(too_big)
    except TimeoutError:
        raise InputError(f"Could not be downloaded within {time_limit:g} s") from None
    except aiohttp.ClientError:
        raise InputError("Could not be downloaded: its server could not be reached") from None
    width, height, kind = await asyncio.to_thread(probe, bytes(data), formats)
    return InputImage(bytes(data), width, height, kind)


def probe(data: bytes, formats: tuple[str, ...] = FORMATS) -> tuple[int, int, str]:
    """Width, height and format of a picture in one of `formats`; InputError for anything
    else ("Is not a JPEG, PNG or WebP image")."""
    try:
        with Image.open(io.BytesIO(data), formats=formats) as image:
            size, kind = image.size, str(image.format)
            image.verify()
    except Image.DecompressionBombError:
        raise InputError("Has too many pixels") from None
    except (OSError, SyntaxError, ValueError):
        names = [_NAMES[f] for f in formats]
        listed = ", ".join(names[:-1]) + f" or {names[-1]}"
        raise InputError(f"Is not a {listed} image") from None
    return size[0], size[1], kind
