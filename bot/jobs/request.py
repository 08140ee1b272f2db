"""What a member asked for: one typed request per kind of job, stored with the job as JSON, and
its one mapping onto Apiframe's wire body.

`/flux`, the buttons, the CLI and the tests all build a request here and send it through
`to_apiframe`; nothing else spells out the options, their ranges or their defaults.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from bot.apiframe.models import (
    MAX_INPUT_IMAGES,
    AspectRatio,
    ClarityUpscaleParams,
    ClarityUpscaleRequest,
    EditRequest,
    FillFormat,
    FluxFillParams,
    FluxParams,
    GenerateRequest,
    OutpaintPreset,
    OutputFormat,
    Resolution,
    Submission,
    TopazUpscaleParams,
    TopazUpscaleRequest,
    WebhookEvent,
)

# Discord's INTEGER option carries at most 2**53 - 1, and Apiframe takes any integer: one range
# for every way in (a slash command, a button, the CLI).
SEED_MAX = 2**53 - 1
# Apiframe takes the reference strength in steps of 0.05. A value between two steps is rounded
# to the nearest one (0.33 → 0.35), never refused: the same rule for /flux and the CLI.
STRENGTH_STEP = Decimal("0.05")
DEFAULT_ASPECT_RATIO: AspectRatio = "1:1"  # Apiframe's own default, named so it can be shown
DEFAULT_FORMAT: OutputFormat = "jpg"
WEBHOOK_EVENTS: list[WebhookEvent] = ["progress", "completed", "failed"]


def new_seed() -> int:
    """A seed for a job asked for without one: chosen here, so the seed shown reproduces it."""
    return random.randint(0, SEED_MAX)  # noqa: S311 - a seed, not a secret


def round_strength(value: float) -> float:
    """`value` on Apiframe's 0.05 grid (half rounds up)."""
    steps = (Decimal(str(value)) / STRENGTH_STEP).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return float(steps * STRENGTH_STEP)


class Generate(BaseModel):
    """A new image from a prompt, optionally guided by reference images."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["generate"] = "generate"
    resolution: Resolution
    aspect_ratio: AspectRatio = DEFAULT_ASPECT_RATIO
    references: tuple[str, ...] = Field(default=(), max_length=MAX_INPUT_IMAGES)
    strength: float | None = Field(default=None, ge=0, le=1)
    output_format: OutputFormat = DEFAULT_FORMAT
    quality: int | None = Field(default=None, ge=0, le=100)
    upsample: bool = False
    seed: int = Field(default_factory=new_seed, ge=0, le=SEED_MAX)
    origin: str | None = None  # the message the references came from, linked on the result

    @field_validator("strength")
    @classmethod
    def _on_the_grid(cls, value: float | None) -> float | None:
        return None if value is None else round_strength(value)

    def changed(self, **changes: Any) -> Self:
        """A copy with `changes`, validated like a new request."""
        return type(self).model_validate({**self.model_dump(), **changes})


MAX_SIDE = 100_000  # far past any image the tools make (64 MP), short of overflowing a float
Side = Annotated[int, Field(ge=1, le=MAX_SIDE)]


def known_size(size: tuple[int, int] | None) -> tuple[int, int] | None:
    """`size` when it is a real picture's (each side 1 to MAX_SIDE), else None (unknown)."""
    if size is None or not all(1 <= side <= MAX_SIDE for side in size):
        return None
    return size


class _FromImage(BaseModel):
    """A job that works on one existing image (its URL, and its size when known)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    image: str = Field(min_length=1)
    size: tuple[Side, Side] | None = None  # width, height of `image`, for the estimate
    output_format: FillFormat = "jpg"
    seed: int = Field(default_factory=new_seed, ge=0, le=SEED_MAX)
    origin: str | None = None  # the message of `image`, linked on the result

    def changed(self, **changes: Any) -> Self:
        """A copy with `changes`, validated like a new request."""
        return type(self).model_validate({**self.model_dump(), **changes})


# "subtle": Topaz, faithful to the picture; "creative": Clarity, which invents detail.
UpscaleMode = Literal["subtle", "creative"]
UPSCALE_MODELS = {"subtle": "topaz-image-upscale", "creative": "clarity-upscale"}  # i18n: not shown


class Upscale(_FromImage):
    """The same picture with `factor` times the pixels on each side."""

    kind: Literal["upscale"] = "upscale"
    mode: UpscaleMode = "subtle"
    factor: Literal[2, 4] = 2


class Outpaint(_FromImage):
    """The picture on a bigger canvas (zoom out, make square, pan), the rest drawn to match
    the prompt."""

    kind: Literal["outpaint"] = "outpaint"
    preset: OutpaintPreset
    upsample: bool = False


# One member per kind of job.
JobRequest = Annotated[Generate | Upscale | Outpaint, Field(discriminator="kind")]
JobKind = Literal["generate", "upscale", "outpaint"]
JOB_KINDS: tuple[JobKind, ...] = ("generate", "upscale", "outpaint")
_ADAPTER: TypeAdapter[JobRequest] = TypeAdapter(JobRequest)


def load_request(data: object) -> JobRequest:
    """A stored request, validated (a row written by hand or by an older version is refused)."""
    return _ADAPTER.validate_python(data)


def timing_group(kind: str, fields: Mapping[str, Any]) -> str:
    """Jobs that take about as long as one another, to learn how long they take: a generation
    by its resolution, an upscale by its model and factor, an outpaint alone. `fields`: the
    request's fields, or its stored JSON."""
    if kind == "generate":
        return f"generate {fields.get('resolution')}"  # i18n: not shown
    if kind == "upscale":
        return f"upscale {fields.get('mode')} {fields.get('factor')}"  # i18n: not shown
    return kind


def to_apiframe(prompt: str, request: JobRequest, *, webhook_url: str | None = None) -> Submission:
    """The body Apiframe receives for `request`, for the route of its kind.

    For a generation, the first reference goes to `image_prompt` (+ strength), as the model page
    documents, and every reference to `input_images`, FLUX.2's reference field in the API
    schema; nothing the schema lacks is sent, and `resolution` uses the no-space form ("2MP").
    """
    hooks: dict[str, Any] = {  # Apiframe's field names
        "webhook_url": webhook_url,  # i18n: not shown
        "webhook_events": WEBHOOK_EVENTS if webhook_url else None,  # i18n: not shown
    }
    if isinstance(request, Upscale):
        if request.mode == "creative":
            return ClarityUpscaleRequest(
                clarity_params=ClarityUpscaleParams(
                    image=request.image,
                    scale_factor=request.factor,
                    prompt=prompt or None,
                    output_format=request.output_format,
                    seed=request.seed,
                ),
                **hooks,
            )
        return TopazUpscaleRequest(
            topaz_params=TopazUpscaleParams(
                image=request.image,
                upscale_factor=request.factor,
                output_format=request.output_format,
                seed=request.seed,
            ),
            **hooks,
        )
    if isinstance(request, Outpaint):
        return EditRequest(
            flux_fill_params=FluxFillParams(
                image=request.image,
                prompt=prompt,
                outpaint=request.preset,
                output_format=request.output_format,
                prompt_upsampling=True if request.upsample else None,
                seed=request.seed,
            ),
            **hooks,
        )
    first = request.references[0] if request.references else None
    params = FluxParams(
        resolution=request.resolution,
        aspect_ratio=request.aspect_ratio,
        image_prompt=first,
        image_prompt_strength=request.strength if first else None,
        input_images=list(request.references) or None,
        output_format=request.output_format,
        output_quality=request.quality,
        prompt_upsampling=True if request.upsample else None,
        seed=request.seed,
    )
    return GenerateRequest(prompt=prompt, flux_params=params, **hooks)


REMOVED = "removed"  # where a scrubbed request's image URL was


def scrubbed(data: dict[str, Any]) -> dict[str, Any]:
    """A stored request (its JSON) without what points at the member's pictures and messages
    (references, the input image, the message it came from); its settings and seed stay, for
    usage reports. On the JSON, unvalidated: the history purge goes through thousands."""
    if data.get("kind", "generate") == "generate":
        return {**data, "references": [], "strength": None, "origin": None}
    return {**data, "image": REMOVED, "origin": None}


def generate(*, default_resolution: Resolution, **asked: Any) -> Generate:
    """A generate request from what a member (or the CLI) asked: an option left out (None)
    takes its default; the resolution's comes from the settings (`DEFAULT_RESOLUTION`)."""
    given = {key: value for key, value in asked.items() if value is not None}
    given.setdefault("resolution", default_resolution)
    return Generate.model_validate(given)
