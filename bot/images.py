"""Image checks and re-encoding with Pillow, never on the event loop: checks run in a thread,
re-encodes in worker processes (`fit_async`)."""

from __future__ import annotations

import asyncio
import io
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from bot.i18n import Renderable, Text, t

# Reference images: what a member may attach.
REFERENCE_FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif"}
REFERENCE_MAX_BYTES = 20 * 2**20
REFERENCE_MAX_SIDE = 8192
# Apiframe scales references down for the model: more pixels than this only cost decoding.
REFERENCE_MAX_PIXELS = 16_000_000
_DECODES = asyncio.Semaphore(2)  # at most this many reference decodes at once, per process
REFERENCE_MIN_SIDE = 64
# Bound decoding work: a decompression bomb is refused before it eats memory.
MAX_PIXELS = 64_000_000
# Re-encoding a 4 MP result takes about a second of CPU, much of it holding the GIL (WebP,
# JPEG and PNG encoders): in threads, a few at once stalled the event loop for up to ~1 s
# (bench/bench_loop.py). Worker processes have GILs of their own.
ENCODE_WORKERS = max(1, min(4, os.cpu_count() or 1))
ENCODE_NICENESS = 10
_encoders: ProcessPoolExecutor | None = None

EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif"}
CONTENT_TYPES = {
    "png": "image/png",  # i18n: not shown (MIME types)
    "jpg": "image/jpeg",  # i18n: not shown
    "webp": "image/webp",  # i18n: not shown
    "gif": "image/gif",  # i18n: not shown
}


class ImageProblem(ValueError):
    """The bytes are not an acceptable image; `text` is written for the member (a clause,
    "that image file is damaged"), to be rendered in their language."""

    def __init__(self, text: Renderable) -> None:
        super().__init__(text)
        self.text = text


@dataclass(frozen=True, slots=True)
class ImageInfo:
    format: str  # file extension: png, jpg, webp, gif
    width: int
    height: int
    size: int

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]


@dataclass(frozen=True, slots=True)
class FittedImage:
    data: bytes
    info: ImageInfo
    reencoded: bool
    note: Text | None  # what was done to make it fit, for the embed


async def warm_up() -> None:
    """Load Pillow's format plugins now, off the event loop (done lazily, the first images
    after a start would each wait on the import lock), and start the encoding processes."""
    await asyncio.to_thread(Image.init)
    await asyncio.gather(
        *(asyncio.wrap_future(_pool().submit(Image.init)) for _ in range(ENCODE_WORKERS))
    )


def _pool() -> ProcessPoolExecutor:
    """The processes that re-encode, shared by the whole process (like the default thread
    pool), started on first use; "spawn", as forking a process with threads is unsafe (so a
    script that delivers images needs the `if __name__ == "__main__":` guard)."""
    global _encoders
    if _encoders is None:
        _encoders = ProcessPoolExecutor(
            ENCODE_WORKERS,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_encoder,
        )
    return _encoders


def _start_encoder() -> None:
    """In an encoding process: yield the CPU to the bot's event loop when both want it (a
    re-encode is batch work; the loop answers Discord), and leave Ctrl-C to the bot, which
    stops its workers itself (else each would print a KeyboardInterrupt traceback)."""
    if hasattr(os, "nice"):
        os.nice(ENCODE_NICENESS)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _open(data: bytes) -> Image.Image:
    # Opening reads only the header; the pixel cap below refuses a bomb before any decoding.
    # (No warnings.catch_warnings() here: it changes process-wide state, and this runs in
    # threads beside other Pillow work.)
    try:
        image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise ImageProblem(t("that file is not an image I can read")) from None
    except OSError:
        raise ImageProblem(t("that image file is damaged")) from None
    if image.width * image.height > MAX_PIXELS:
        raise ImageProblem(t("that image has too many pixels"))
    return image


def identify(data: bytes, *, decode: bool = True) -> ImageInfo:
    """Read format and size from the bytes (not a file name); with `decode`, also check the
    whole image decodes (slower: done for members' uploads, skipped for Apiframe's results)."""
    image = _open(data)
    fmt = EXTENSIONS.get(image.format or "")
    if fmt is None:
        raise ImageProblem(t("that image format is not supported; use PNG, JPEG, WebP or GIF"))
    if decode:
        try:
            image.load()
        except (OSError, SyntaxError, ValueError):
            raise ImageProblem(t("that image file is damaged or cut short")) from None
    return ImageInfo(format=fmt, width=image.width, height=image.height, size=len(data))


def check_reference(data: bytes) -> ImageInfo:
    """Validate a member's reference image: real image bytes, within size and dimension caps."""
    if len(data) > REFERENCE_MAX_BYTES:
        size = f"{len(data) / 2**20:.1f}"
        raise ImageProblem(
            t(
                "the reference image is {size} MiB; the limit is {limit} MiB",
                size=size,
                limit=REFERENCE_MAX_BYTES // 2**20,
            )
        )
    info = identify(data, decode=False)  # the header only: sizes are checked before decoding
    if max(info.width, info.height) > REFERENCE_MAX_SIDE:
        raise ImageProblem(
            t(
                "the reference image is {width}×{height}; the longest side may be at most"
                " {limit} px",
                width=str(info.width),
                height=str(info.height),
                limit=str(REFERENCE_MAX_SIDE),
            )
        )
    if min(info.width, info.height) < REFERENCE_MIN_SIDE:
        raise ImageProblem(
            t(
                "the reference image is {width}×{height}; each side must be at least {limit} px",
                width=str(info.width),
                height=str(info.height),
                limit=str(REFERENCE_MIN_SIDE),
            )
        )
    if (pixels := info.width * info.height) > REFERENCE_MAX_PIXELS:
        raise ImageProblem(
            t(
                "the reference image is {width}×{height}, {pixels} megapixels; the limit is"
                " {limit} megapixels",
                width=str(info.width),
                height=str(info.height),
                pixels=round(pixels / 1e6),
                limit=REFERENCE_MAX_PIXELS // 1_000_000,
            )
        )
    identify(data)  # now the whole image: it must decode intact
    return info


def _encode(image: Image.Image, fmt: str, quality: int) -> bytes:
    buffer = io.BytesIO()
    if fmt == "jpg":
        image.convert("RGB").save(buffer, "JPEG", quality=quality, optimize=True)
    elif fmt == "webp":
        # method 2: within ~1 % of method 4's size at half its time (bench/bench_loop.py).
        image.save(buffer, "WEBP", quality=quality, method=2)
    else:
        image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def fit(data: bytes, limit: int) -> FittedImage:
    """Return the image unchanged when it fits `limit` bytes, else a re-encoded copy that does.

    Order: WebP at falling quality, then JPEG, then downscaling in 15 % steps.
    """
    info = identify(data, decode=False)
    if len(data) <= limit:
        return FittedImage(data, info, reencoded=False, note=None)
    image = _open(data)
    try:
        image.load()
    except (OSError, SyntaxError, ValueError):  # truncated or corrupt: Pillow says OSError
        raise ImageProblem(t("that image file is damaged or cut short")) from None
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    for fmt in ("webp", "jpg"):
        for quality in (90, 80, 70, 60):
            encoded = _encode(image, fmt, quality)
            if len(encoded) <= limit:
                note = t(
                    "re-encoded as {format} q{quality} to fit Discord's upload limit"
                    " (original {size} MiB)",
                    format=fmt.upper(),
                    quality=str(quality),
                    size=_mib(info),
                )
                return _fitted(encoded, fmt, image, note)
    scaled = image
    while min(scaled.size) > 64:
        scaled = scaled.resize(
            (int(scaled.width * 0.85), int(scaled.height * 0.85)), Image.Resampling.LANCZOS
        )
        encoded = _encode(scaled, "webp", 80)
        if len(encoded) <= limit:
            note = t(
                "downscaled to {width}×{height} WEBP q80 to fit Discord's upload limit"
                " (original {size} MiB)",
                width=str(scaled.width),
                height=str(scaled.height),
                size=_mib(info),
            )
            return _fitted(encoded, "webp", scaled, note)
    raise ImageProblem(t("the image could not be made small enough to upload"))


def _mib(original: ImageInfo) -> str:
    return f"{original.size / 2**20:.1f}"


def _fitted(data: bytes, fmt: str, image: Image.Image, note: Text) -> FittedImage:
    info = ImageInfo(format=fmt, width=image.width, height=image.height, size=len(data))
    return FittedImage(data, info, reencoded=True, note=note)


async def check_reference_async(data: bytes) -> ImageInfo:
    async with _DECODES:
        return await asyncio.to_thread(check_reference, data)


async def fit_async(data: bytes, limit: int) -> FittedImage:
    """`fit` off the event loop: a header read in a thread when the image fits as it is, a
    re-encode in an encoding process when it does not."""
    if len(data) <= limit:
        return await asyncio.to_thread(fit, data, limit)
    global _encoders
    pool = _pool()
    try:
        return await asyncio.wrap_future(pool.submit(fit, data, limit))
    except BrokenProcessPool:
        # A worker died (killed for memory?): the next image gets fresh processes; this
        # one's step is retried later by the caller.
        if _encoders is pool:
            _encoders = None
        raise
