"""Request validation the way Apiframe's schema does it, and the values it accepts.

`validate_body` checks a generation by hand; `validate_image_body` checks the upscale and edit
routes against Apiframe's own schemas, bundled in `schemas/` (MIT, see the licence there).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError as SchemaError

MODELS = {"flux-2-max", "flux-2-pro", "flux-2-flex", "flux-2-dev"}
RESOLUTIONS = {"0.5MP": 0.5, "1MP": 1.0, "2MP": 2.0, "4MP": 4.0, "match_input_image": 1.0}
FLUX_KEYS = {
    "resolution",
    "aspect_ratio",
    "image_prompt",
    "image_prompt_strength",
    "input_images",
    "output_format",
    "output_quality",
    "prompt_upsampling",
    "seed",
    "width",
    "height",
    "go_fast",
    "guidance",
    "steps",
    "raw",
}
TOP_KEYS = {"prompt", "model", "fluxParams", "webhookUrl", "webhookEvents"}
EVENTS = {"progress", "completed", "failed"}
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


def is_uri(value: Any) -> bool:
    return isinstance(value, str) and re.match(r"^https?://[^\s/]+", value) is not None


def validate_body(body: Any) -> dict[str, list[str]]:
    """Field errors, keyed by JSON path, the way Apiframe's schema reports them."""
    problems: dict[str, list[str]] = {}

    def bad(path: str, message: str) -> None:
        problems.setdefault(path, []).append(message)

    if not isinstance(body, dict):
        bad("", "Expected object")
        return problems
    for key in body.keys() - TOP_KEYS:
        bad(key, "Unrecognized key")
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not 1 <= len(prompt) <= 2000:
        bad("prompt", "String must contain between 1 and 2000 character(s)")
    if body.get("model") not in MODELS:
        bad("model", "Invalid enum value")
    params = body.get("fluxParams", {})
    if not isinstance(params, dict):
        bad("fluxParams", "Expected object")
        params = {}
    for key in params.keys() - FLUX_KEYS:
        bad(f"fluxParams.{key}", "Unrecognized key")
    checks: dict[str, Callable[[Any], bool]] = {
        "resolution": lambda v: v in RESOLUTIONS,
        # The schema's pattern lets "0:1" through; no picture has a side of 0.
        "aspect_ratio": lambda v: (
            isinstance(v, str)
            and re.match(r"^\d+:\d+$", v) is not None
            and all(int(side) > 0 for side in v.split(":"))
        ),
        "image_prompt": is_uri,
        "image_prompt_strength": lambda v: (
            isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1
        ),
        "input_images": lambda v: (
            isinstance(v, list) and len(v) <= 10 and all(is_uri(u) for u in v)
        ),
        "output_format": lambda v: v in CONTENT_TYPES,
        "output_quality": lambda v: (
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 100
        ),
        "prompt_upsampling": lambda v: isinstance(v, bool),
        "seed": lambda v: isinstance(v, int) and not isinstance(v, bool),
    }
    for key, ok in checks.items():
        if key in params and not ok(params[key]):
            bad(f"fluxParams.{key}", "Invalid value")
    if "webhookUrl" in body and not is_uri(body["webhookUrl"]):
        bad("webhookUrl", "Invalid url")
    if "webhookEvents" in body:
        events = body["webhookEvents"]
        if not isinstance(events, list) or not events or not set(events) <= EVENTS:
            bad("webhookEvents", "Expected a non-empty array of progress, completed, failed")
    return problems


SCHEMA_PATH = Path(__file__).parent / "schemas" / "apiframe-images.json"
UPSCALE_MODELS = ("topaz-image-upscale", "clarity-upscale")
EDIT_MODELS = ("flux-fill-pro",)
# The params block each model's body carries (a generation's is fluxParams).
PARAMS_KEYS = {
    "flux-fill-pro": "fluxFillParams",
    "topaz-image-upscale": "topazUpscaleParams",
    "clarity-upscale": "clarityUpscaleParams",
}


def params_of(body: dict[str, Any]) -> dict[str, Any]:
    """The model's params block of a request body (empty when absent)."""
    params = body.get(PARAMS_KEYS.get(str(body.get("model")), "fluxParams"))
    return dict(params) if isinstance(params, dict) else {}


@functools.cache
def request_validators() -> dict[str, Draft202012Validator]:
    """A validator per model, each one branch of its route's `oneOf` in the bundled schemas.
    Loaded once; the sandbox warms this off the event loop when it starts."""
    components = json.loads(SCHEMA_PATH.read_text())["components"]
    checker = FormatChecker(formats=())
    checker.checks("uri")(is_uri)
    validators = {}
    for name in ("ImageUpscaleRequest", "ImageEditRequest"):
        for branch in components["schemas"][name]["oneOf"]:
            [model] = branch["properties"]["model"]["enum"]
            schema = {**branch, "components": components}
            validators[model] = Draft202012Validator(schema, format_checker=checker)
    return validators


def validate_image_body(body: Any, models: tuple[str, ...]) -> dict[str, list[str]]:
    """Field errors of an upscale or edit body, keyed by JSON path as `validate_body`'s are.
    Several `models` make a union on `model`, as Apiframe's Zod schema is: an unknown model is
    the only error then. Edit's cross-field rules (outpaint needs a preset, inpaint a mask),
    which the schema states only in words, are checked too."""
    if not isinstance(body, dict):
        return {"": [f"Expected object, received {_kind(body)}"]}
    model = body.get("model")
    if model not in models and len(models) > 1:
        expected = " | ".join(_show(m) for m in models)
        return {"model": [f"Invalid discriminator value. Expected {expected}"]}
    problems: dict[str, list[str]] = {}
    for error in request_validators()[model if model in models else models[0]].iter_errors(body):
        for path, message in _describe(error):
            if message not in problems.setdefault(path, []):
                problems[path].append(message)
    params = body.get("fluxFillParams")
    if model == "flux-fill-pro" and isinstance(params, dict):
        for mode, needed in (("outpaint", "outpaint"), ("inpaint", "mask")):
            if params.get("mode") == mode and needed not in params:
                problems.setdefault(f"fluxFillParams.{needed}", []).append(
                    f'Required when mode is "{mode}"'
                )
    return problems


def _describe(error: SchemaError) -> Iterator[tuple[str, str]]:
    """A jsonschema error as (JSON path, message) pairs, worded like Zod's."""
    where = ".".join(str(part) for part in error.absolute_path)

    def at(key: object) -> str:
        return f"{where}.{key}" if where else str(key)

    rule, value, instance = error.validator, error.validator_value, error.instance
    if rule == "additionalProperties" and isinstance(instance, dict):
        known = set(error.schema.get("properties", {}))
        for key in sorted(instance.keys() - known):
            yield at(key), "Unrecognized key"
    elif rule == "required" and isinstance(instance, dict):
        for key in value:
            if key not in instance:
                yield at(key), "Required"
    elif rule == "enum":
        expected = " | ".join(_show(v) for v in value)
        yield where, f"Invalid enum value. Expected {expected}, received {_show(instance)}"
    elif rule == "anyOf":  # only the factors use it: a union of one-value enums
        choices = [v for branch in value for v in branch.get("enum", [])]
        yield where, f"Invalid input. Expected {' | '.join(_show(v) for v in choices)}"
    elif rule == "type":
        yield where, f"Expected {value}, received {_kind(instance)}"
    elif rule in ("minimum", "maximum"):
        bound = "greater" if rule == "minimum" else "less"
        yield where, f"Number must be {bound} than or equal to {value}"
    elif rule in ("minLength", "maxLength"):
        bound = "at least" if rule == "minLength" else "at most"
        yield where, f"String must contain {bound} {value} character(s)"
    elif rule == "minItems":
        yield where, f"Array must contain at least {value} element(s)"
    elif rule == "format":
        yield where, "Invalid url"
    else:
        yield where, error.message[:200]


def _show(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else json.dumps(value)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, float) and not value.is_integer():
        return "float"
    names = {int: "number", float: "number", str: "string", list: "array", dict: "object"}
    return names.get(type(value), type(value).__name__)
