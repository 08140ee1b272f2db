"""A generation's references (`input_images`, `image_prompt`) are fetched at submission as
Apiframe fetches them: one it cannot use is a 400 before anything is paid, each usable one is
billed by its megapixels, and the picture shows their thumbnails in its bottom-right corner."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from bot.apiframe.sandbox import THUMBNAIL_GAP, dimensions, thumbnail_boxes
from tests.pictures import Pictures, picture
from tests.sandbox.conftest import BODY, Api

BLUE = (20, 40, 230)


def with_references(*urls: str, first_as_prompt: bool = True, **params: Any) -> dict[str, Any]:
    """A generation with these references, the first also as image_prompt (as the bot sends)."""
    flux: dict[str, Any] = {"resolution": "1MP", "input_images": list(urls), **params}
    if first_as_prompt and urls:
        flux["image_prompt"] = urls[0]
    return {**BODY, "fluxParams": flux}


async def picture_of(api: Api, body: dict[str, Any]) -> Image.Image:
    answer = await api.submit(body)
    assert answer.status == 202, answer.body
    api.sandbox.advance(60)
    job = await api.job(answer.body["jobId"])
    status, data, _ = await api.download(job["result"]["images"][0])
    assert status == 200
    image = Image.open(io.BytesIO(data))
    image.load()
    return image.convert("RGB")


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", "Could not be downloaded: its server answered 404"),
        ("text", "Is not a JPEG, PNG, GIF or WebP image"),
        ("unreachable", "Could not be downloaded: its server could not be reached"),
    ],
)
async def test_an_unusable_reference_is_400_before_any_credit(
    api: Api, pictures: Pictures, setup: str, message: str
) -> None:
    """A 404, a text file called .png or a refused connection, second of two references: a 400
    naming its field in Apiframe's ValidationError shape; no job, nothing paid."""
    api.sandbox.config.credits = 50
    bad = {
        "missing": pictures.url("nowhere.png"),
        "text": pictures.add("notes.png", b"just some words", "text/plain"),
        "unreachable": "http://127.0.0.1:9/a.png",
    }[setup]
    answer = await api.submit(with_references(pictures.url("red.png"), bad))
    assert answer.status == 400
    assert answer.body == {
        "error": "Invalid input image",
        "details": {"fluxParams.input_images.1": [message]},
    }
    assert api.sandbox.jobs == {}
    assert (api.sandbox.config.credits, api.sandbox.stats["credits"]) == (50, 0)


async def test_gif_jpeg_and_webp_references_are_taken(api: Api, pictures: Pictures) -> None:
    """References take GIFs too (FLUX.2 does), unlike an upscale's or edit's input."""
    urls = [
        pictures.add(f"ref.{fmt.lower()}", picture(64, 64, fmt=fmt), f"image/{fmt.lower()}")
        for fmt in ("GIF", "JPEG", "WEBP")
    ]
    answer = await api.submit(with_references(*urls))
    assert answer.status == 202, answer.body


async def test_a_bad_first_reference_names_both_fields_it_is_in(
    api: Api, pictures: Pictures
) -> None:
    """The first reference goes in image_prompt and input_images.0: it is fetched once, and its
    problem is reported under both."""
    missing = pictures.url("gone.png")
    answer = await api.submit(with_references(missing))
    assert (answer.status, answer.body["details"]) == (
        400,
        {
            "fluxParams.image_prompt": ["Could not be downloaded: its server answered 404"],
            "fluxParams.input_images.0": ["Could not be downloaded: its server answered 404"],
        },
    )
    assert pictures.hits == ["gone.png"]


async def test_a_reference_over_the_pixel_cap_is_refused(api: Api, pictures: Pictures) -> None:
    api.sandbox.config.max_output_pixels = 100 * 100
    big = pictures.add("big.png", picture(200, 100))
    answer = await api.submit(with_references(big, first_as_prompt=False))
    assert answer.status == 400
    assert answer.body["details"] == {
        "fluxParams.input_images.0": [
            "The image is 200x100 (0.0 MP); the sandbox renders at most 0.01 MP"
        ]
    }


async def test_references_are_billed_by_their_megapixels(api: Api, pictures: Pictures) -> None:
    """1 MP out is 7 credits; a 1000x1000 reference adds 3 (one megapixel at 3 each), another
    of 500x400 adds 0.6 more: 7 + ceil(1.2 x 3) = 11. image_prompt naming the first reference
    again is not billed twice."""
    one = pictures.add("one.png", picture(1000, 1000))
    small = pictures.add("small.png", picture(500, 400))
    api.sandbox.config.credits = 100
    answer = await api.submit(with_references(one))
    assert answer.status == 202, answer.body
    assert api.sandbox.config.credits == 100 - 10
    answer = await api.submit(with_references(one, small))
    assert answer.status == 202, answer.body
    assert api.sandbox.config.credits == 100 - 10 - 11
    job = await api.job(answer.body["jobId"])
    assert job["creditCost"] == 11


async def test_the_picture_shows_each_reference_in_order_in_its_corner(
    api: Api, pictures: Pictures
) -> None:
    """Thumbnails in a row at the bottom right, the first reference leftmost, on white; the
    rest of the picture is the usual noisy gradient, and a generation without references has
    no such corner."""
    blue = pictures.add("blue.png", picture(300, 300, BLUE))
    image = await picture_of(api, with_references(pictures.url("red.png"), blue))
    assert image.size == dimensions("1MP", "1:1")
    (x1, y1, side), (x2, _, _) = thumbnail_boxes(image.width, image.height, 2)
    assert x2 + side + THUMBNAIL_GAP == image.width
    red_at = image.getpixel((x1 + side // 2, y1 + side // 2))
    blue_at = image.getpixel((x2 + side // 2, y1 + side // 2))
    assert max(abs(a - b) for a, b in zip(red_at, (220, 30, 30), strict=True)) < 12  # JPEG
    assert max(abs(a - b) for a, b in zip(blue_at, BLUE, strict=True)) < 12
    # The 400x300 red one is letterboxed in its square box, on white.
    assert min(image.getpixel((x1 + side // 2, y1 + 2))) > 240
    plain = await picture_of(api, {**BODY, "fluxParams": {"resolution": "1MP"}})
    assert min(plain.getpixel((x2 + side // 2, y1 + side // 2))) < 240


@pytest.mark.parametrize(("resolution", "aspect"), [("0.5MP", "9:16"), ("4MP", "16:9")])
def test_ten_thumbnails_fit_inside_any_picture(resolution: str, aspect: str) -> None:
    width, height = dimensions(resolution, aspect)
    boxes = thumbnail_boxes(width, height, 10)
    assert boxes[0][0] >= THUMBNAIL_GAP
    assert all(side >= 32 and y >= 0 for _, y, side in boxes)
    assert boxes[-1][0] + boxes[-1][2] + THUMBNAIL_GAP == width


async def test_reused_pictures_still_show_their_own_references(
    api: Api, pictures: Pictures
) -> None:
    """`reuse_images` shares one render per shape, but never across references."""
    api.sandbox.config.reuse_images = True
    blue = pictures.add("blue.png", picture(300, 300, BLUE))
    plain = await picture_of(api, {**BODY, "fluxParams": {"resolution": "1MP"}})
    referenced = await picture_of(api, with_references(blue))
    assert plain.tobytes() != referenced.tobytes()
