"""The CDN: real images at the asked size, format and quality, deterministic per prompt and seed."""

from __future__ import annotations

import asyncio
import io

import pytest
from PIL import Image

from bot.apiframe.sandbox import dimensions, render
from tests.sandbox.conftest import BODY, Api

ASPECTS = ["1:1", "3:4", "4:3", "9:16", "16:9", "21:9"]
MEGAPIXELS = {"0.5MP": 0.5, "1MP": 1.0, "2MP": 2.0, "4MP": 4.0}


def _check_size(size: tuple[int, int], resolution: str, aspect: str) -> None:
    width, height = size
    assert width % 16 == 0
    assert height % 16 == 0
    a, b = (int(x) for x in aspect.split(":"))
    assert width / height == pytest.approx(a / b, rel=0.03)
    target = MEGAPIXELS[resolution] * 1_000_000
    assert 0.9 * target <= width * height <= target  # within the rounding to 16 px


@pytest.mark.parametrize("resolution", list(MEGAPIXELS))
@pytest.mark.parametrize("aspect", ASPECTS)
def test_dimensions_are_multiples_of_16_near_the_megapixels(resolution: str, aspect: str) -> None:
    """Sizes are multiples of 16 at the aspect ratio, ≈ the MP (1 MP = 10^6 px), never more."""
    _check_size(dimensions(resolution, aspect), resolution, aspect)


def test_defaults_and_the_largest_sizes() -> None:
    """Defaults are 2 MP 1:1; 4 MP keeps its megapixels at 16:9 too; match_input_image is 1 MP."""
    assert dimensions(None, None) == dimensions("2MP", "1:1") == (1408, 1408)
    assert dimensions("4MP", "16:9") == (2656, 1488)
    assert dimensions("4MP", "9:16") == (1488, 2656)
    assert dimensions("match_input_image", "1:1") == dimensions("1MP", "1:1") == (992, 992)


@pytest.mark.parametrize("resolution", list(MEGAPIXELS))
async def test_cdn_serves_each_resolution_and_aspect_at_its_size(api: Api, resolution: str) -> None:
    """Downloaded images have the computed dimensions for every aspect ratio."""
    for aspect in ASPECTS:
        job = await api.finished(resolution=resolution, aspect_ratio=aspect, output_quality=30)
        status, data, _ = await api.download(job["result"]["images"][0])
        assert status == 200
        size = Image.open(io.BytesIO(data)).size
        assert size == dimensions(resolution, aspect)
        _check_size(size, resolution, aspect)


@pytest.mark.parametrize(
    ("fmt", "pil_format", "content_type"),
    [("jpg", "JPEG", "image/jpeg"), ("png", "PNG", "image/png"), ("webp", "WEBP", "image/webp")],
)
async def test_format_and_headers(api: Api, fmt: str, pil_format: str, content_type: str) -> None:
    """Each output_format is served as that format with its Content-Type and Content-Length."""
    job = await api.finished(resolution="0.5MP", output_format=fmt)
    url = job["result"]["images"][0]
    assert url.endswith(f"-1.{fmt}")
    status, data, headers = await api.download(url)
    assert status == 200
    assert headers["Content-Type"] == content_type
    assert int(headers["Content-Length"]) == len(data)
    assert headers["x-request-id"]
    image = Image.open(io.BytesIO(data))
    assert image.format == pil_format
    image.load()


async def test_default_is_a_2mp_jpeg(api: Api) -> None:
    """Without fluxParams the result is a 1408x1408 JPEG."""
    job = await api.finished()
    _, data, _ = await api.download(job["result"]["images"][0])
    image = Image.open(io.BytesIO(data))
    assert (image.format, image.size) == ("JPEG", (1408, 1408))


async def test_quality_changes_jpeg_size_and_2mp_q90_is_a_few_mb(api: Api) -> None:
    """Higher output_quality gives bigger files; a 2 MP JPEG at q90 stays under 4 MiB."""
    sizes = {}
    for quality in (20, 90):
        job = await api.finished(resolution="2MP", output_quality=quality)
        sizes[quality] = len((await api.download(job["result"]["images"][0]))[1])
    assert sizes[20] < sizes[90] < 4 * 2**20
    assert sizes[90] > 500_000


async def test_a_4mp_png_is_over_discords_10_mib_limit(api: Api) -> None:
    """A 4 MP PNG comes out above 10 MiB, so the bot's upload-limit path gets exercised."""
    job = await api.finished(resolution="4MP", output_format="png")
    status, data, _ = await api.download(job["result"]["images"][0])
    assert status == 200
    assert len(data) > 10 * 2**20
    assert Image.open(io.BytesIO(data)).size == (2000, 2000)


async def test_images_are_deterministic_for_prompt_and_seed(api: Api) -> None:
    """The same prompt and seed give the same bytes; another seed or prompt does not."""
    params = {"resolution": "0.5MP", "seed": 7, "output_format": "png"}
    first, second = await api.finished(**params), await api.finished(**params)
    other_seed = await api.finished(**{**params, "seed": 8})
    one = (await api.download(first["result"]["images"][0]))[1]
    assert (await api.download(second["result"]["images"][0]))[1] == one
    assert (await api.download(other_seed["result"]["images"][0]))[1] != one
    other_prompt = await api.submit({**BODY, "prompt": "another", "fluxParams": params})
    api.sandbox.advance(60)
    job = await api.job(other_prompt.body["jobId"])
    assert (await api.download(job["result"]["images"][0]))[1] != one


def test_render_has_real_content() -> None:
    """The picture is not flat: it has a gradient and noise (many distinct colours)."""
    image = Image.open(io.BytesIO(render("p", 1, "0.5MP", "1:1", "png", 90)))
    assert len(image.getcolors(maxcolors=1_000_000) or []) > 10_000
    low, high = image.convert("L").getextrema()
    assert isinstance(low, int)
    assert isinstance(high, int)
    assert high - low > 100


async def test_cdn_404_for_unknown_unfinished_and_other_indexes(api: Api) -> None:
    """Unknown ids, jobs still running, index 2 and a wrong extension all answer 404."""
    job_id = await api.submit_ok(resolution="0.5MP")
    assert (await api.download(f"{api.url}/cdn/images/{job_id}-1.jpg"))[0] == 404
    api.sandbox.advance(60)
    assert (await api.download(f"{api.url}/cdn/images/{job_id}-1.jpg"))[0] == 200
    other_id = job_id[:-1] + ("1" if job_id.endswith("0") else "0")  # one character off
    for name in (f"{job_id}-2.jpg", f"{job_id}-1.gif", "nope.jpg", f"{other_id}-1.jpg"):
        assert (await api.download(f"{api.url}/cdn/images/{name}"))[0] == 404


async def test_parallel_downloads_get_identical_bytes(api: Api) -> None:
    """Concurrent downloads of one result all succeed with the same cached bytes."""
    job = await api.finished(resolution="1MP")
    url = job["result"]["images"][0]
    results = await asyncio.gather(*(api.download(url) for _ in range(5)))
    assert {r[1] for r in results} == {results[0][1]}
    assert all(r[0] == 200 for r in results)
    assert api.sandbox.jobs[job["id"]].image == results[0][1]
