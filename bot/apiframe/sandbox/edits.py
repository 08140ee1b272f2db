"""The image routes beyond generation: upscale and edit, priced and sized by their input image,
and the public model catalogue that quotes every route's price."""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web

from bot.apiframe.sandbox.config import SandboxConfig
from bot.apiframe.sandbox.images import (
    FACTOR_KEYS,
    credit_cost,
    outpaint_canvas,
    topaz_cost,
    upscale_factor,
)
from bot.apiframe.sandbox.inputs import InputError, InputImage
from bot.apiframe.sandbox.routes import (
    INVALID_INPUT,
    Priced,
    _apply_fault,
    fetch_input,
    invalid,
    json_reply,
    submit,
    too_large,
)
from bot.apiframe.sandbox.state import SANDBOX_KEY, Sandbox
from bot.apiframe.sandbox.validation import (
    EDIT_MODELS,
    PARAMS_KEYS,
    UPSCALE_MODELS,
    validate_image_body,
)

MODALITIES = ("image", "video", "music")


async def _fetch(sandbox: Sandbox, url: str, where: str) -> InputImage | web.Response:
    """The picture at `url`, or the 400 naming `where` that says why it cannot be used."""
    got = await fetch_input(sandbox, url)
    if isinstance(got, InputError):
        return invalid({where: [str(got)]}, INVALID_INPUT)
    return got


async def _price_upscale(sandbox: Sandbox, body: dict[str, Any]) -> Priced | web.Response:
    model = str(body["model"])
    key = PARAMS_KEYS[model]
    params = body[key]
    image = await _fetch(sandbox, params["image"], f"{key}.image")
    if isinstance(image, web.Response):
        return image
    factor = upscale_factor(model, params)
    width, height = image.width * factor, image.height * factor
    if problem := too_large(sandbox, width, height):
        return invalid({f"{key}.{FACTOR_KEYS[model]}": [problem]})
    config = sandbox.config
    if model == "clarity-upscale":
        cost = config.cost_clarity
    else:
        cost = topaz_cost(width, height, config.cost_topaz_per_mp, config.cost_topaz_min)
    return Priced(cost, image.data)


async def _price_edit(sandbox: Sandbox, body: dict[str, Any]) -> Priced | web.Response:
    params = body["fluxFillParams"]
    image = await _fetch(sandbox, params["image"], "fluxFillParams.image")
    if isinstance(image, web.Response):
        return image
    mask = None
    if params["mode"] == "inpaint":
        fetched = await _fetch(sandbox, params["mask"], "fluxFillParams.mask")
        if isinstance(fetched, web.Response):
            return fetched
        if problem := too_large(sandbox, fetched.width, fetched.height, "The mask is"):
            return invalid({"fluxFillParams.mask": [problem]})  # it is decoded to be applied
        mask, width, height, where = fetched.data, image.width, image.height, "image"
    else:
        width, height, _, _ = outpaint_canvas(image.width, image.height, params["outpaint"])
        where = "outpaint"
    if problem := too_large(sandbox, width, height):
        return invalid({f"fluxFillParams.{where}": [problem]})
    return Priced(sandbox.config.cost_edit, image.data, mask)


async def upscale(request: web.Request) -> web.Response:
    return await submit(
        request, "upscale", lambda body: validate_image_body(body, UPSCALE_MODELS), _price_upscale
    )


async def edit(request: web.Request) -> web.Response:
    return await submit(
        request, "edit", lambda body: validate_image_body(body, EDIT_MODELS), _price_edit
    )


def catalogue(config: SandboxConfig) -> list[dict[str, Any]]:
    """The sandbox's models as `GET /v2/models` lists them, priced by the sandbox's knobs."""
    first, extra = config.cost_first_mp, config.cost_per_extra_mp
    largest = math.isqrt(config.max_output_pixels)
    entries = [
        ("flux-2-max", "FLUX.2 [max]", "Black Forest Labs' top text-to-image and editing model.",
         credit_cost("0.5MP", first, extra), credit_cost("4MP", first, extra), "per-output",
         "/v2/images/generate"),
        ("flux-fill-pro", "Flux Fill Pro", "Inpaint with a mask or outpaint to extend the canvas.",
         config.cost_edit, config.cost_edit, "flat", "/v2/images/edit"),
        ("topaz-image-upscale", "Topaz Image Upscale",
         "Faithful upscale for realistic content, priced by output megapixels.",
         config.cost_topaz_min,
         topaz_cost(largest, largest, config.cost_topaz_per_mp, config.cost_topaz_min),
         "per-output", "/v2/images/upscale"),
        ("clarity-upscale", "Clarity Upscaler",
         "Creative upscale that invents detail, with an optional steering prompt.",
         config.cost_clarity, config.cost_clarity, "flat", "/v2/images/upscale"),
    ]  # fmt: skip
    return [
        {
            "id": model,
            "label": label,
            "description": description,
            "modality": "image",
            "costMin": low,
            "costMax": high,
            "pricingMode": mode,
            "endpoint": endpoint,
            "paramsKey": PARAMS_KEYS.get(model, "fluxParams"),
        }
        for model, label, description, low, high, mode, endpoint in entries
    ]


async def models(request: web.Request) -> web.Response:
    """`GET /v2/models[?modality=]`: public, no key."""
    sandbox = request.app[SANDBOX_KEY]
    if (faulty := await _apply_fault(request, sandbox, "models")) is not None:
        return faulty
    modality = request.query.get("modality")
    if modality is not None and modality not in MODALITIES:
        expected = " | ".join(f"'{m}'" for m in MODALITIES)
        message = f"Invalid enum value. Expected {expected}, received '{modality}'"
        return invalid({"modality": [message]}, "Invalid query parameters")
    listed = catalogue(sandbox.config)
    return json_reply({"models": [m for m in listed if modality in (None, m["modality"])]})
