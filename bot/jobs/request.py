"""What a member asked for: one typed request per kind of job, stored with the job as JSON, and
its one mapping onto Apiframe's wire body.

`/flux`, the buttons, the CLI and the tests all build a request here and send it through
`to_apiframe`; nothing else spells out the options, their ranges or their defaults.
"""

from __future__ import annotations

import random
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from bot.apiframe.models import (
    MAX_INPUT_IMAGES,
    AspectRatio,
    FluxParams,
    GenerateRequest,
    OutputFormat,
    Resolution,
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

    @field_validator("strength")
    @classmethod
    def _on_the_grid(cls, value: float | None) -> float | None:
        return None if value is None else round_strength(value)

    def changed(self, **changes: Any) -> Generate:
        """A copy with `changes`, validated like a new request."""
        return type(self).model_validate({**self.model_dump(), **changes})


# One member per kind of job; the next kinds (upscale, outpaint) join this union.
JobRequest = Annotated[Generate, Field(discriminator="kind")]
_ADAPTER: TypeAdapter[JobRequest] = TypeAdapter(JobRequest)


def load_request(data: object) -> JobRequest:
    """A stored request, validated (a row written by hand or by an older version is refused)."""
    return _ADAPTER.validate_python(data)


def to_apiframe(
    prompt: str, request: JobRequest, *, webhook_url: str | None = None
) -> GenerateRequest:
    """The body Apiframe receives for `request`.

    The first reference goes to `image_prompt` (+ strength), as the model page documents, and
    every reference to `input_images`, FLUX.2's reference field in the API schema; nothing the
    schema lacks is sent, and `resolution` uses the no-space form ("2MP").
    """
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
    return GenerateRequest(
        prompt=prompt,
        flux_params=params,
        webhook_url=webhook_url,
        webhook_events=WEBHOOK_EVENTS if webhook_url else None,
    )


def generate(*, default_resolution: Resolution, **asked: Any) -> Generate:
    """A generate request from what a member (or the CLI) asked: an option left out (None)
    takes its default; the resolution's comes from the settings (`DEFAULT_RESOLUTION`)."""
    given = {key: value for key, value in asked.items() if value is not None}
    given.setdefault("resolution", default_resolution)
    return Generate.model_validate(given)
