"""Request validation the way Apiframe's schema does it, and the values it accepts."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

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
