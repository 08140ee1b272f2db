"""What a member asked for, and its mapping onto Apiframe's wire format (kept in this one place)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.apiframe.models import (
    AspectRatio,
    FluxParams,
    GenerateRequest,
    OutputFormat,
    Resolution,
    WebhookEvent,
)

WEBHOOK_EVENTS: list[WebhookEvent] = ["progress", "completed", "failed"]


class GenerationOptions(BaseModel):
    """The options of one generation, stored with the job as plain JSON."""

    model_config = ConfigDict(frozen=True)

    resolution: Resolution | None = None
    aspect_ratio: AspectRatio | None = None
    reference_url: str | None = None
    strength: float | None = Field(default=None, ge=0, le=1)
    output_format: OutputFormat | None = None
    quality: int | None = Field(default=None, ge=0, le=100)
    upsample: bool | None = None
    seed: int | None = Field(default=None, ge=0, le=2**53 - 1)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def build_request(
    prompt: str, options: GenerationOptions, *, webhook_url: str | None = None
) -> GenerateRequest:
    """The request Apiframe receives for these options.

    The reference image goes both to `image_prompt` (+ strength), as the model page documents,
    and to `input_images`, FLUX.2's reference field in the API schema; nothing else is sent that
    the schema lacks, and `resolution` uses the no-space form ("2MP").
    """
    reference = options.reference_url
    params = FluxParams(
        resolution=options.resolution,
        aspect_ratio=options.aspect_ratio,
        image_prompt=reference,
        image_prompt_strength=options.strength if reference else None,
        input_images=[reference] if reference else None,
        output_format=options.output_format,
        output_quality=options.quality,
        prompt_upsampling=options.upsample,
        seed=options.seed,
    )
    return GenerateRequest(
        prompt=prompt,
        flux_params=params,
        webhook_url=webhook_url,
        webhook_events=WEBHOOK_EVENTS if webhook_url else None,
    )
