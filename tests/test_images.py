"""Image checks by content and re-encoding to fit an upload limit."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image

from bot import images
from bot.images import ImageProblem


def _noise(width: int, height: int, fmt: str = "PNG", **save: object) -> bytes:
    image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save)
    return buffer.getvalue()


def test_identify_reads_bytes_not_names() -> None:
    """Format and size come from the bytes themselves."""
    info = images.identify(_noise(96, 64, "WEBP"))
    assert (info.format, info.width, info.height) == ("webp", 96, 64)
    assert info.content_type == "image/webp"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "not an image"),
        (b"", "not an image"),
        (_noise(128, 128)[:400], "damaged"),
    ],
    ids=["pdf", "empty", "truncated-png"],
)
def test_reference_refuses_non_images(data: bytes, message: str) -> None:
    """A PDF, an empty file and a cut-off PNG are refused with a plain reason."""
    with pytest.raises(ImageProblem, match=message):
        images.check_reference(data)


def test_reference_size_and_dimension_caps() -> None:
    """Too many bytes, too small a side and too long a side are each refused."""
    with pytest.raises(ImageProblem, match="MiB"):
        images.check_reference(b"\0" * (images.REFERENCE_MAX_BYTES + 1))
    with pytest.raises(ImageProblem, match="at least"):
        images.check_reference(_noise(32, 200))
    wide = Image.new("RGB", (images.REFERENCE_MAX_SIDE + 16, 80))
    buffer = io.BytesIO()
    wide.save(buffer, "PNG")
    with pytest.raises(ImageProblem, match="longest side"):
        images.check_reference(buffer.getvalue())


def test_reference_accepts_ordinary_image() -> None:
    """A normal JPEG passes."""
    assert images.check_reference(_noise(640, 480, "JPEG", quality=85)).format == "jpg"


def test_fit_leaves_small_images_alone() -> None:
    """An image under the limit comes back byte for byte."""
    data = _noise(100, 100)
    fitted = images.fit(data, len(data))
    assert fitted.data == data
    assert not fitted.reencoded
    assert fitted.note is None


def test_fit_reencodes_a_large_png_under_the_limit() -> None:
    """A noisy PNG over the limit is re-encoded (and if need be downscaled) until it fits."""
    data = _noise(1024, 1024)
    limit = len(data) // 4
    fitted = images.fit(data, limit)
    assert fitted.reencoded
    assert len(fitted.data) <= limit
    assert "upload limit" in str(fitted.note)
    reread = images.identify(fitted.data)
    assert reread == fitted.info


def test_fit_downscales_when_quality_is_not_enough() -> None:
    """A limit too tight for any quality step leads to a smaller image that fits."""
    data = _noise(512, 512)
    fitted = images.fit(data, 12_000)
    assert len(fitted.data) <= 12_000
    assert fitted.info.width < 512
    assert "downscaled" in str(fitted.note)


async def test_async_wrappers_run_off_the_loop() -> None:
    """The async forms give the same answers as the sync ones."""
    data = _noise(80, 80)
    assert await images.check_reference_async(data) == images.check_reference(data)
    assert (await images.fit_async(data, 10**9)).data == data


def test_a_damaged_image_over_the_limit_is_an_image_problem() -> None:
    """A truncated result too big to post as it is: a polite ImageProblem, not Pillow's OSError
    (which aborted /flux-inbox for the other held images)."""
    data = _noise(512, 512)
    with pytest.raises(images.ImageProblem, match="damaged"):
        images.fit(data[: len(data) // 2], 12_000)


def test_a_reference_of_too_many_pixels_is_refused_from_its_header() -> None:
    """A small file of a huge image (8192×7812 packs into a quarter MiB as PNG) is refused by
    its size alone, before it is decoded into hundreds of megabytes."""
    flat = Image.new("L", (8192, 7812))
    buffer = io.BytesIO()
    flat.save(buffer, "PNG")
    data = buffer.getvalue()
    assert len(data) < 2**20
    with pytest.raises(images.ImageProblem, match="64 megapixels; the limit is 16"):
        images.check_reference(data)


def _pid(data: bytes, limit: int) -> int:
    """Stands in for `images.fit`: says which process ran it."""
    return os.getpid()


async def test_re_encodes_run_in_an_encoding_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """A result over the limit is fitted in another process (its Pillow work cannot hold this
    process's GIL, and so the event loop); one that fits as it is stays here."""
    monkeypatch.setattr(images, "fit", _pid)
    assert await images.fit_async(b"x" * 100, 10) != os.getpid()
    assert await images.fit_async(b"x" * 10, 100) == os.getpid()


async def test_an_encoding_process_re_encodes_for_real_and_yields_the_cpu() -> None:
    """The worker's answer is the real fitted image (errors come back as ImageProblem); the
    workers run at a lower priority than the bot and leave Ctrl-C to it."""
    import asyncio
    import signal

    data = _noise(512, 512)
    fitted = await images.fit_async(data, len(data) // 3)
    assert fitted.reencoded
    assert len(fitted.data) <= len(data) // 3
    with pytest.raises(images.ImageProblem, match="damaged"):
        await images.fit_async(data[: len(data) // 2], 12_000)
    niceness = await asyncio.wrap_future(images._pool().submit(os.nice, 0))
    assert niceness == min(19, os.nice(0) + images.ENCODE_NICENESS)
    interrupt = await asyncio.wrap_future(images._pool().submit(signal.getsignal, signal.SIGINT))
    assert interrupt == signal.SIG_IGN


async def test_a_dead_encoding_process_is_replaced() -> None:
    """If a worker dies (killed for memory), that image's step fails (its caller retries it
    later) and the next image gets fresh processes."""
    import asyncio
    import contextlib
    from concurrent.futures.process import BrokenProcessPool

    data = _noise(256, 256)
    with contextlib.suppress(BrokenProcessPool):
        await asyncio.wrap_future(images._pool().submit(os._exit, 1))
    with pytest.raises(BrokenProcessPool):
        await images.fit_async(data, len(data) // 3)
    assert (await images.fit_async(data, len(data) // 3)).reencoded
