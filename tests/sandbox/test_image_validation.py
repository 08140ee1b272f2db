"""The upscale and edit routes validate like Apiframe's own schemas (bundled from its OpenAPI):
what the spec accepts is accepted, what it refuses is a 400 naming the field, before any fetch."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from bot.apiframe.sandbox import SCHEMA_PATH
from tests.pictures import Pictures
from tests.sandbox.conftest import Api

REFERENCE = Path(__file__).parents[3] / "shared" / "reference" / "apiframe-openapi.json"
IMAGE = "IMAGE-URL"  # replaced by the picture server's URL of a real picture
ROUTES = {"upscale": "/v2/images/upscale", "edit": "/v2/images/edit"}
SCHEMAS = {"upscale": "ImageUpscaleRequest", "edit": "ImageEditRequest"}


def schema_validator(name: str) -> Draft202012Validator:
    """A plain validator for one of the bundled schemas, `uri` checked as RFC 3986 says."""
    components = json.loads(SCHEMA_PATH.read_text())["components"]
    checker = FormatChecker(formats=())
    checker.checks("uri")(lambda v: bool(urlsplit(v).scheme and urlsplit(v).netloc))
    schema = {**components["schemas"][name], "components": components}
    return Draft202012Validator(schema, format_checker=checker)


def topaz(**params: Any) -> dict[str, Any]:
    return {"model": "topaz-image-upscale", "topazUpscaleParams": {"image": IMAGE, **params}}


def clarity(**params: Any) -> dict[str, Any]:
    return {"model": "clarity-upscale", "clarityUpscaleParams": {"image": IMAGE, **params}}


def fill(**params: Any) -> dict[str, Any]:
    fields = {"image": IMAGE, "prompt": "more sea", "mode": "outpaint", "outpaint": "Zoom out 2x"}
    return {"model": "flux-fill-pro", "fluxFillParams": {**fields, **params}}


def inpaint(**params: Any) -> dict[str, Any]:
    body = fill(mode="inpaint", mask=IMAGE, **params)
    del body["fluxFillParams"]["outpaint"]
    return body


def without(body: dict[str, Any], path: str) -> dict[str, Any]:
    body = copy.deepcopy(body)
    *parents, last = path.split(".")
    target = body
    for part in parents:
        target = target[part]
    del target[last]
    return body


def real(body: Any, url: str) -> Any:
    return json.loads(json.dumps(body).replace(IMAGE, url))


HOOK = {"webhookUrl": "https://hooks.example/flux", "webhookEvents": ["progress", "completed"]}
VALID = [
    ("upscale", topaz()),
    ("upscale", clarity()),
    (
        "upscale",
        topaz(
            upscale_factor=6,
            model_type="high-fidelity-v2",
            face_enhance=True,
            face_enhance_strength=1,
            face_enhance_creativity=0,
            output_format="png",
            seed=-5,
        )
        | HOOK,
    ),
    ("upscale", topaz(upscale_factor=1.0)),
    (
        "upscale",
        clarity(
            scale_factor=1,
            creativity=0.35,
            resemblance=3,
            dynamic=50,
            sharpen=0,
            num_inference_steps=100,
            prompt="x" * 2000,
            negative_prompt="",
            output_format="webp",
            seed=7,
        )
        | {"webhookUrl": "http://127.0.0.1:9/hook"},
    ),
    *[
        ("edit", fill(outpaint=preset))
        for preset in (
            "Zoom out 1.5x",
            "Zoom out 2x",
            "Make square",
            "Left outpaint",
            "Right outpaint",
            "Top outpaint",
            "Bottom outpaint",
        )
    ],
    ("edit", inpaint()),
    ("edit", fill(mask=IMAGE)),  # outpaint ignores a mask
    (
        "edit",
        fill(
            prompt="x" * 2000,
            output_format="png",
            seed=3,
            prompt_upsampling=True,
            steps=50,
            guidance=2,
            safety_tolerance=6,
        )
        | HOOK,
    ),
]

REFUSED = [
    # Unknown keys, at every level.
    ("upscale", topaz() | {"prompt": "x"}, "prompt"),
    ("upscale", topaz(scale_factor=2), "topazUpscaleParams.scale_factor"),
    ("upscale", clarity(upscale_factor=2), "clarityUpscaleParams.upscale_factor"),
    ("upscale", topaz() | {"clarityUpscaleParams": {"image": IMAGE}}, "clarityUpscaleParams"),
    ("edit", fill() | {"prompt": "the docs' example puts it here"}, "prompt"),
    ("edit", fill(strength=0.5), "fluxFillParams.strength"),
    ("edit", fill(output_quality=90), "fluxFillParams.output_quality"),
    ("edit", fill(webhookEvents=["progress"]), "fluxFillParams.webhookEvents"),
    # The model picks the branch.
    ("upscale", {**topaz(), "model": "real-esrgan"}, "model"),
    ("upscale", {"topazUpscaleParams": {"image": IMAGE}}, "model"),
    ("upscale", {**clarity(), "model": "topaz-image-upscale"}, "topazUpscaleParams"),
    ("edit", {**fill(), "model": "flux-kontext-pro"}, "model"),
    # Required fields.
    ("upscale", {"model": "topaz-image-upscale"}, "topazUpscaleParams"),
    ("upscale", without(topaz(), "topazUpscaleParams.image"), "topazUpscaleParams.image"),
    ("upscale", without(clarity(), "clarityUpscaleParams.image"), "clarityUpscaleParams.image"),
    ("edit", {"model": "flux-fill-pro"}, "fluxFillParams"),
    ("edit", without(fill(), "fluxFillParams.image"), "fluxFillParams.image"),
    ("edit", without(fill(), "fluxFillParams.prompt"), "fluxFillParams.prompt"),
    ("edit", without(fill(), "fluxFillParams.mode"), "fluxFillParams.mode"),
    ("edit", without(fill(), "model"), "model"),
    # Enums.
    ("upscale", topaz(upscale_factor=3), "topazUpscaleParams.upscale_factor"),
    ("upscale", topaz(upscale_factor=8), "topazUpscaleParams.upscale_factor"),
    ("upscale", topaz(upscale_factor="2"), "topazUpscaleParams.upscale_factor"),
    ("upscale", clarity(scale_factor=6), "clarityUpscaleParams.scale_factor"),
    ("upscale", topaz(model_type="standard"), "topazUpscaleParams.model_type"),
    ("upscale", topaz(output_format="webp"), "topazUpscaleParams.output_format"),
    ("upscale", clarity(output_format="gif"), "clarityUpscaleParams.output_format"),
    ("edit", fill(output_format="webp"), "fluxFillParams.output_format"),
    ("edit", fill(mode="expand"), "fluxFillParams.mode"),
    ("edit", fill(outpaint="Zoom out 3x"), "fluxFillParams.outpaint"),
    (
        "edit",
        fill() | {"webhookUrl": "https://h.example", "webhookEvents": ["a"]},
        "webhookEvents.0",
    ),
    # Ranges and lengths.
    ("upscale", topaz(face_enhance_strength=1.5), "topazUpscaleParams.face_enhance_strength"),
    ("upscale", topaz(face_enhance_creativity=-0.1), "topazUpscaleParams.face_enhance_creativity"),
    ("upscale", clarity(creativity=1.01), "clarityUpscaleParams.creativity"),
    ("upscale", clarity(resemblance=3.5), "clarityUpscaleParams.resemblance"),
    ("upscale", clarity(dynamic=0), "clarityUpscaleParams.dynamic"),
    ("upscale", clarity(sharpen=11), "clarityUpscaleParams.sharpen"),
    ("upscale", clarity(num_inference_steps=0), "clarityUpscaleParams.num_inference_steps"),
    ("upscale", clarity(prompt="x" * 2001), "clarityUpscaleParams.prompt"),
    ("edit", fill(prompt=""), "fluxFillParams.prompt"),
    ("edit", fill(prompt="x" * 2001), "fluxFillParams.prompt"),
    ("edit", fill(steps=51), "fluxFillParams.steps"),
    ("edit", fill(guidance=1.5), "fluxFillParams.guidance"),
    ("edit", fill(safety_tolerance=0), "fluxFillParams.safety_tolerance"),
    ("edit", fill() | {"webhookUrl": "https://h.example", "webhookEvents": []}, "webhookEvents"),
    # Types and formats.
    ("upscale", topaz(seed=1.5), "topazUpscaleParams.seed"),
    ("upscale", topaz(face_enhance="yes"), "topazUpscaleParams.face_enhance"),
    ("upscale", clarity(num_inference_steps=True), "clarityUpscaleParams.num_inference_steps"),
    ("upscale", topaz(image="not a url"), "topazUpscaleParams.image"),
    ("upscale", topaz() | {"webhookUrl": "hooks.example/x"}, "webhookUrl"),
    ("edit", fill(mask="mask.png"), "fluxFillParams.mask"),
    ("edit", fill(prompt_upsampling=1), "fluxFillParams.prompt_upsampling"),
    ("edit", {**fill(), "fluxFillParams": "Zoom out 2x"}, "fluxFillParams"),
]
# Rules the spec states in words only ("outpaint requires an outpaint preset; inpaint a mask").
WORDED = [
    ("edit", without(fill(), "fluxFillParams.outpaint"), "fluxFillParams.outpaint"),
    ("edit", without(inpaint(), "fluxFillParams.mask"), "fluxFillParams.mask"),
]


@pytest.mark.parametrize(("route", "body"), VALID)
async def test_bodies_the_spec_accepts_are_accepted(
    api: Api, pictures: Pictures, route: str, body: dict[str, Any]
) -> None:
    """Each valid body (every field at its limits, each preset, both upscalers) is a 202 and
    the reference schema agrees it is valid."""
    sent = real(body, pictures.url("red.png"))
    assert list(schema_validator(SCHEMAS[route]).iter_errors(sent)) == []
    answer = await api.post(ROUTES[route], sent)
    assert answer.status == 202, answer.body
    assert answer.body["status"] == "QUEUED"


@pytest.mark.parametrize(("route", "body", "path"), REFUSED + WORDED)
async def test_bodies_the_spec_refuses_name_their_field(
    api: Api, pictures: Pictures, route: str, body: dict[str, Any], path: str
) -> None:
    """An unknown key, a bad enum, a missing field or a value out of range is 400 {error:
    Invalid request body, details: {path: [message]}}; no job, no credit, no download."""
    api.sandbox.config.credits = 100
    answer = await api.post(ROUTES[route], real(body, pictures.url("red.png")))
    assert answer.status == 400, answer.body
    assert answer.body["error"] == "Invalid request body"
    assert path in answer.body["details"], answer.body["details"]
    messages = answer.body["details"][path]
    assert messages
    assert all(isinstance(m, str) and m for m in messages)
    assert list(schema_validator("ValidationError").iter_errors(answer.body)) == []
    assert (api.sandbox.jobs, api.sandbox.config.credits, pictures.hits) == ({}, 100, [])


@pytest.mark.parametrize(("route", "body", "path"), REFUSED)
def test_the_reference_schema_refuses_the_same_bodies(
    route: str, body: dict[str, Any], path: str
) -> None:
    """Each body the sandbox refuses is invalid under Apiframe's schema too (the sandbox is not
    stricter than the spec)."""
    errors = list(schema_validator(SCHEMAS[route]).iter_errors(real(body, "https://i.example/a")))
    assert errors, path


TOPAZ_TYPES = (
    "'standard-v2' | 'low-res-v2' | 'cgi' | 'high-fidelity-v2' | 'text-refine' | 'redefine'"
)
MESSAGES = [
    (topaz(zoom=2), "topazUpscaleParams.zoom", "Unrecognized key"),
    (topaz(upscale_factor=3), "topazUpscaleParams.upscale_factor",
     "Invalid input. Expected 1 | 2 | 4 | 6"),
    (topaz(model_type="cgi2"), "topazUpscaleParams.model_type",
     f"Invalid enum value. Expected {TOPAZ_TYPES}, received 'cgi2'"),
    (clarity(sharpen=11), "clarityUpscaleParams.sharpen",
     "Number must be less than or equal to 10"),
    (clarity(seed="1"), "clarityUpscaleParams.seed", "Expected integer, received string"),
    ({"model": "topaz-image-upscale"}, "topazUpscaleParams", "Required"),
    ({"model": "esrgan"}, "model",
     "Invalid discriminator value. Expected 'topaz-image-upscale' | 'clarity-upscale'"),
    ([topaz()], "", "Expected object, received array"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "path", "message"), MESSAGES)
async def test_messages_read_like_apiframes(api: Api, body: Any, path: str, message: str) -> None:
    """The details carry Zod-style messages, one path each, and nothing else."""
    answer = await api.upscale(real(body, "https://i.example/a.png"))
    assert (answer.status, answer.body["details"]) == (400, {path: [message]})


async def test_edit_rules_the_spec_states_in_words(api: Api) -> None:
    """outpaint without a preset and inpaint without a mask are refused with a reason."""
    answer = await api.edit(real(without(fill(), "fluxFillParams.outpaint"), "https://i.example/a"))
    assert answer.body["details"] == {
        "fluxFillParams.outpaint": ['Required when mode is "outpaint"']
    }
    answer = await api.edit(real(without(inpaint(), "fluxFillParams.mask"), "https://i.example/a"))
    assert answer.body["details"] == {"fluxFillParams.mask": ['Required when mode is "inpaint"']}


@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2"])
async def test_malformed_json_is_400(api: Api, route: str, raw: bytes) -> None:
    """A body that is not JSON answers 400 with an error text and creates nothing."""
    answer = await api.call(
        "POST", ROUTES[route], data=raw, headers={"Content-Type": "application/json"}
    )
    assert (answer.status, answer.body["error"]) == (400, "Invalid JSON body")
    assert api.sandbox.jobs == {}


@pytest.mark.skipif(
    # In CI the reference copy is always beside the checkout: its absence there fails.
    not REFERENCE.exists() and os.environ.get("CI") != "true",
    reason=f"no reference copy at {REFERENCE} to compare the bundled schemas with",
)
def test_the_bundled_schemas_are_the_reference_ones() -> None:
    """The sandbox validates with schemas copied from Apiframe's OpenAPI; each one is
    unchanged from the reference copy, and the licence sits beside them."""
    reference = json.loads(REFERENCE.read_text())["components"]["schemas"]
    bundled = json.loads(SCHEMA_PATH.read_text())["components"]["schemas"]
    assert {"ImageEditRequest", "ImageUpscaleRequest", "Job", "ModelCatalog"} <= set(bundled)
    for name, schema in bundled.items():
        assert schema == reference[name], name
    licence = SCHEMA_PATH.parent / "apiframe-openapi.LICENSE"
    assert licence.read_text().startswith("MIT License")
