"""Upscales and edits: the input image is fetched at submission (a bad one is a 400 before any
credit is taken), and the result's size and content follow the input, the factor and the preset."""

from __future__ import annotations

import io
import socket
from typing import Any

import pytest
from PIL import Image

from bot.apiframe.sandbox import outpaint_canvas, topaz_cost
from tests.pictures import Pictures, picture
from tests.sandbox.conftest import Answer, Api

RED = (220, 30, 30)
PLACEHOLDER = {(255, 0, 255), (48, 48, 48)}


def topaz(url: str, **params: Any) -> dict[str, Any]:
    return {"model": "topaz-image-upscale", "topazUpscaleParams": {"image": url, **params}}


def clarity(url: str, **params: Any) -> dict[str, Any]:
    return {"model": "clarity-upscale", "clarityUpscaleParams": {"image": url, **params}}


def outpaint(url: str, preset: str, **params: Any) -> dict[str, Any]:
    fields = {"image": url, "prompt": "more sea", "mode": "outpaint", "outpaint": preset}
    return {"model": "flux-fill-pro", "fluxFillParams": {**fields, **params}}


async def finished(api: Api, answer: Answer) -> dict[str, Any]:
    """The job of an accepted submission once the clock has passed its end."""
    assert answer.status == 202, answer.body
    api.sandbox.advance(60)
    return await api.job(answer.body["jobId"])


async def result(api: Api, job: dict[str, Any]) -> Image.Image:
    assert job["status"] == "COMPLETED", job
    status, data, _ = await api.download(job["result"]["images"][0])
    assert status == 200
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the input image ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", "Could not be downloaded: its server answered 404"),
        ("error", "Could not be downloaded: its server answered 500"),
        ("text", "Is not a JPEG, PNG or WebP image"),
        ("gif", "Is not a JPEG, PNG or WebP image"),
        ("truncated", "Is not a JPEG, PNG or WebP image"),
        ("unreachable", "Could not be downloaded: its server could not be reached"),
        ("slow", "Could not be downloaded within 0.2 s"),
        ("large", "Is larger than 1,024 bytes"),
        ("large-chunked", "Is larger than 1,024 bytes"),
    ],
)
@pytest.mark.parametrize("route", ["topaz", "clarity", "outpaint"])
async def test_an_unusable_input_is_400_before_any_credit(
    api: Api, pictures: Pictures, setup: str, message: str, route: str
) -> None:
    """A 404 or 500, text, a GIF, a cut-off PNG, a refused connection, a server slower than the
    time limit or a file over the size cap (announced or streamed): 400 naming the image
    field, no job, nothing paid."""
    api.sandbox.config.credits = 50
    api.sandbox.config.input_timeout_seconds = 0.2
    urls = {
        "missing": pictures.url("nowhere.png"),
        "error": pictures.add("broken.png", b"oops", status=500),
        "text": pictures.add("notes.png", b"just some words", "text/plain"),
        "gif": pictures.add("anim.gif", picture(8, 8, fmt="GIF"), "image/gif"),
        "truncated": pictures.add("cut.png", picture(64, 64)[:60]),
        "unreachable": f"http://127.0.0.1:{closed_port()}/a.png",
        "slow": pictures.add("slow.png", picture(8, 8), delay=1.0),
        "large": pictures.add("large.png", picture(400, 300, fmt="BMP")),
        "large-chunked": pictures.add("chunks.png", picture(400, 300, fmt="BMP"), chunked=True),
    }
    if setup.startswith("large"):
        api.sandbox.config.input_max_bytes = 1024
    body = {"topaz": topaz, "clarity": clarity}.get(route)
    sent = body(urls[setup]) if body else outpaint(urls[setup], "Zoom out 2x")
    path = "/v2/images/edit" if route == "outpaint" else "/v2/images/upscale"
    answer = await api.post(path, sent)
    field = {
        "topaz": "topazUpscaleParams",
        "clarity": "clarityUpscaleParams",
        "outpaint": "fluxFillParams",
    }[route]
    assert answer.status == 400
    assert answer.body == {"error": "Invalid input image", "details": {f"{field}.image": [message]}}
    assert api.sandbox.jobs == {}
    assert api.sandbox.config.credits == 50
    assert api.sandbox.stats["credits"] == 0


async def test_an_unusable_mask_is_400_naming_the_mask(api: Api, pictures: Pictures) -> None:
    """Inpaint fetches its mask too: a mask that is not a picture is refused by name."""
    body = outpaint(pictures.url("red.png"), "Zoom out 2x")
    del body["fluxFillParams"]["outpaint"]
    mask = pictures.add("m.png", b"no", "text/plain")
    body["fluxFillParams"] |= {"mode": "inpaint", "mask": mask}
    answer = await api.edit(body)
    assert (answer.status, answer.body["details"]) == (
        400,
        {"fluxFillParams.mask": ["Is not a JPEG, PNG or WebP image"]},
    )


async def test_a_mask_over_the_pixel_cap_is_refused(api: Api, pictures: Pictures) -> None:
    """The mask is decoded to be applied, so a mask over max_output_pixels is refused too."""
    api.sandbox.config.max_output_pixels = 200_000
    body = {
        "model": "flux-fill-pro",
        "fluxFillParams": {
            "image": pictures.url("red.png"),
            "mask": pictures.add("huge-mask.png", picture(1000, 1000, (255, 255, 255))),
            "prompt": "a boat",
            "mode": "inpaint",
        },
    }
    answer = await api.edit(body)
    assert answer.status == 400
    assert answer.body["details"] == {
        "fluxFillParams.mask": [
            "The mask is 1000x1000 (1.0 MP); the sandbox renders at most 0.2 MP"
        ]
    }


async def test_a_finished_generation_can_be_upscaled_from_the_cdn(api: Api) -> None:
    """The sandbox's own CDN URL of a 0.5 MP generation upscales x2 to 1408x1408."""
    generation = await api.finished(resolution="0.5MP")
    job = await finished(api, await api.upscale(topaz(generation["result"]["images"][0])))
    image = await result(api, job)
    assert image.size == (1408, 1408)


async def test_a_jpeg_and_a_webp_input_are_read(api: Api, pictures: Pictures) -> None:
    """JPEG and WebP inputs are pictures too (the size comes from the file, not its name)."""
    for name, fmt in (("in.jpg", "JPEG"), ("in.webp", "WEBP")):
        url = pictures.add(name, picture(120, 80, fmt=fmt), "application/octet-stream")
        job = await finished(api, await api.upscale(clarity(url, scale_factor=4)))
        assert (await result(api, job)).size == (480, 320)


# --- upscale --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "factor", "size"),
    [
        ("topaz", None, (800, 600)),
        ("topaz", 1, (400, 300)),
        ("topaz", 2, (800, 600)),
        ("topaz", 4, (1600, 1200)),
        ("topaz", 6, (2400, 1800)),
        ("clarity", None, (800, 600)),
        ("clarity", 1, (400, 300)),
        ("clarity", 2, (800, 600)),
        ("clarity", 4, (1600, 1200)),
        ("clarity", 8, (3200, 2400)),
    ],
)
async def test_an_upscale_multiplies_both_sides_by_its_factor(
    api: Api, pictures: Pictures, model: str, factor: int | None, size: tuple[int, int]
) -> None:
    """upscale_factor (Topaz) and scale_factor (Clarity) multiply the input's sides; 2 when
    absent; the picture stays the input's (a red picture comes back red)."""
    url = pictures.url("red.png")
    if model == "topaz":
        body = topaz(url, output_format="png", **({"upscale_factor": factor} if factor else {}))
    else:
        body = clarity(url, **({"scale_factor": factor} if factor else {}))
    image = await result(api, await finished(api, await api.upscale(body)))
    assert image.size == size
    assert image.convert("RGB").getpixel((size[0] // 2, size[1] // 2)) == RED


@pytest.mark.parametrize(
    ("body", "fmt", "content_type"),
    [
        (topaz, "jpg", "image/jpeg"),
        (lambda u: topaz(u, output_format="png"), "png", "image/png"),
        (clarity, "png", "image/png"),
        (lambda u: clarity(u, output_format="jpg"), "jpg", "image/jpeg"),
        (lambda u: clarity(u, output_format="webp"), "webp", "image/webp"),
        (lambda u: outpaint(u, "Make square"), "jpg", "image/jpeg"),
        (lambda u: outpaint(u, "Make square", output_format="png"), "png", "image/png"),
    ],
)
async def test_output_formats_and_their_defaults(
    api: Api, pictures: Pictures, body: Any, fmt: str, content_type: str
) -> None:
    """Topaz and Fill answer JPEG unless asked for PNG; Clarity answers PNG unless asked for
    JPEG or WebP; the CDN name and Content-Type follow."""
    job = await finished(api, await api.post(_path(body), body(pictures.url("red.png"))))
    url = job["result"]["images"][0]
    assert url.endswith(f"-1.{fmt}")
    _, _, headers = await api.download(url)
    assert headers["Content-Type"] == content_type


def _path(body: Any) -> str:
    sample = body("https://x.example/a.png")
    return "/v2/images/edit" if sample["model"] == "flux-fill-pro" else "/v2/images/upscale"


async def test_results_over_the_pixel_cap_are_refused(api: Api, pictures: Pictures) -> None:
    """A result over max_output_pixels (64 MP by default) is a 400 saying so, before any
    credit: a 1408x1408 picture upscaled x6 (71 MP), or an outpaint over a lowered cap."""
    api.sandbox.config.credits = 100
    big = pictures.add("big.png", picture(1408, 1408))
    answer = await api.upscale(topaz(big, upscale_factor=6))
    assert answer.status == 400
    [message] = answer.body["details"]["topazUpscaleParams.upscale_factor"]
    assert message == ("The result would be 8448x8448 (71.4 MP); the sandbox renders at most 64 MP")
    assert (await api.upscale(topaz(big, upscale_factor=4))).status == 202  # 31.7 MP
    api.sandbox.config.max_output_pixels = 1_000_000
    answer = await api.edit(outpaint(pictures.url("red.png"), "Zoom out 2x"))  # 800x600
    assert answer.status == 202
    answer = await api.edit(outpaint(big, "Zoom out 1.5x"))
    assert "fluxFillParams.outpaint" in answer.body["details"]
    assert api.sandbox.config.credits == 100 - 32 - 9


# --- edit -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("preset", "input_size", "canvas", "where"),
    [
        ("Zoom out 1.5x", (400, 300), (608, 464), "centre"),
        ("Zoom out 2x", (400, 300), (800, 608), "centre"),
        ("Zoom out 2x", (320, 240), (640, 480), "centre"),
        ("Make square", (400, 300), (400, 400), "centre"),
        ("Make square", (240, 480), (480, 480), "centre"),
        ("Make square", (320, 320), (320, 320), "centre"),
        ("Left outpaint", (400, 300), (608, 304), "right"),
        ("Right outpaint", (400, 300), (608, 304), "left"),
        ("Top outpaint", (400, 300), (400, 464), "bottom"),
        ("Bottom outpaint", (400, 300), (400, 464), "top"),
    ],
)
async def test_outpaint_presets_extend_the_canvas_around_the_original(
    api: Api,
    pictures: Pictures,
    preset: str,
    input_size: tuple[int, int],
    canvas: tuple[int, int],
    where: str,
) -> None:
    """Zoom out scales each side (x1.5, x2), Make square takes the longer side, a pan adds half
    the picture on its side; sides round up to multiples of 16. The original sits centred (or
    flush against the side opposite the pan) and the new area is the placeholder pattern."""
    w, h = input_size
    url = pictures.add(f"in-{w}x{h}.png", picture(w, h))
    job = await finished(api, await api.edit(outpaint(url, preset, output_format="png")))
    image = (await result(api, job)).convert("RGB")
    assert image.size == canvas
    assert outpaint_canvas(w, h, preset)[:2] == canvas
    width, height = canvas
    x, y = {
        "centre": ((width - w) // 2, (height - h) // 2),
        "right": (width - w, (height - h) // 2),
        "left": (0, (height - h) // 2),
        "bottom": ((width - w) // 2, height - h),
        "top": ((width - w) // 2, 0),
    }[where]
    corners = [(x, y), (x + w - 1, y), (x, y + h - 1), (x + w - 1, y + h - 1)]
    inside = [*corners, (x + w // 2, y + h // 2)]
    assert {image.getpixel(p) for p in inside} == {RED}
    outside = [
        (px, py)
        for px in range(0, width, 7)
        for py in range(0, height, 7)
        if not (x <= px < x + w and y <= py < y + h)
    ]
    assert (not outside) == (canvas == input_size)
    assert {image.getpixel(p) for p in outside} <= PLACEHOLDER
    if outside:
        assert {image.getpixel(p) for p in outside} == PLACEHOLDER  # a pattern, not a fill


async def test_inpaint_repaints_the_masks_white_area(api: Api, pictures: Pictures) -> None:
    """Inpaint keeps the size; white in the mask is repainted, black is kept."""
    mask = Image.new("L", (400, 300), 0)
    mask.paste(255, (0, 0, 200, 300))
    buffer = io.BytesIO()
    mask.save(buffer, "PNG")
    body = {
        "model": "flux-fill-pro",
        "fluxFillParams": {
            "image": pictures.url("red.png"),
            "mask": pictures.add("mask.png", buffer.getvalue()),
            "prompt": "a boat",
            "mode": "inpaint",
            "output_format": "png",
        },
    }
    image = (await result(api, await finished(api, await api.edit(body)))).convert("RGB")
    assert image.size == (400, 300)
    assert {image.getpixel((x, 150)) for x in range(0, 200, 5)} == PLACEHOLDER
    assert {image.getpixel((x, 150)) for x in range(200, 400, 5)} == {RED}


def test_topaz_prices_started_output_megapixels() -> None:
    """Topaz costs per_mp credits per started output MP (10^6 px), at least the minimum."""
    assert topaz_cost(1000, 1000, 1, 2) == 2
    assert topaz_cost(1000, 1000, 3, 2) == 3
    assert topaz_cost(1000, 1001, 1, 2) == 2
    assert topaz_cost(2400, 1800, 1, 2) == 5
    assert topaz_cost(2816, 2816, 1, 2) == 8
    assert topaz_cost(2816, 2816, 2, 2) == 16
