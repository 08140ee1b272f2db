"""Pydantic models of Apiframe's v2 image API as FLUX.2 [max] uses it.

The request models are strict (nothing the published schema lacks is ever sent); the
response models are lenient (unknown fields ignored, unknown statuses kept as "still running").
"""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import (
    AliasChoices,
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
)

PROMPT_MAX_LENGTH = 2000
MAX_INPUT_IMAGES = 8

Resolution = Literal["0.5MP", "1MP", "2MP", "4MP"]
AspectRatio = Literal["1:1", "3:4", "4:3", "9:16", "16:9"]
OutputFormat = Literal["jpg", "png", "webp"]
WebhookEvent = Literal["progress", "completed", "failed"]
# Flux Fill and Topaz make JPEG or PNG only.
FillFormat = Literal["jpg", "png"]
OutpaintPreset = Literal[
    "Zoom out 1.5x",
    "Zoom out 2x",
    "Make square",
    "Left outpaint",
    "Right outpaint",
    "Top outpaint",
    "Bottom outpaint",
]
UpscaleModel = Literal["topaz-image-upscale", "clarity-upscale"]

RESOLUTIONS: tuple[Resolution, ...] = get_args(Resolution)  # smallest first
ASPECT_RATIOS: tuple[AspectRatio, ...] = get_args(AspectRatio)
OUTPUT_FORMATS: tuple[OutputFormat, ...] = get_args(OutputFormat)
MEGAPIXELS: dict[Resolution, float] = {"0.5MP": 0.5, "1MP": 1.0, "2MP": 2.0, "4MP": 4.0}

Url = Annotated[AnyHttpUrl, PlainSerializer(str, return_type=str)]


class FluxParams(BaseModel):
    """`fluxParams` of a generation request, validated before anything is sent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    resolution: Resolution | None = None
    aspect_ratio: AspectRatio | None = None
    image_prompt: Url | None = None
    image_prompt_strength: float | None = Field(default=None, ge=0, le=1)
    input_images: list[Url] | None = Field(default=None, max_length=MAX_INPUT_IMAGES)
    output_format: OutputFormat | None = None
    output_quality: int | None = Field(default=None, ge=0, le=100, strict=True)
    prompt_upsampling: bool | None = None
    seed: int | None = Field(default=None, ge=0, le=2**53 - 1, strict=True)

    @field_validator("image_prompt_strength")
    @classmethod
    def _step_of_five_hundredths(cls, value: float | None) -> float | None:
        if value is None:
            return None
        if (Decimal(str(value)) * 20) % 1 != 0:
            raise ValueError("must be a multiple of 0.05")
        return round(value, 2)


class Submission(BaseModel):
    """What every paid route takes besides its parameters: where to send webhooks."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    path: ClassVar[str]  # the route, e.g. "/v2/images/generate"

    webhook_url: Url | None = Field(default=None, alias="webhookUrl")
    webhook_events: list[WebhookEvent] | None = Field(
        default=None, alias="webhookEvents", min_length=1
    )

    def to_wire(self) -> dict[str, Any]:
        """The JSON body: camelCase keys, unset options left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


class GenerateRequest(Submission):
    """Body of `POST /v2/images/generate`."""

    path: ClassVar[str] = "/v2/images/generate"

    prompt: str = Field(min_length=1, max_length=PROMPT_MAX_LENGTH)
    model: Literal["flux-2-max"] = "flux-2-max"
    flux_params: FluxParams = Field(default_factory=FluxParams, alias="fluxParams")

    _prompt = field_validator("prompt")(_not_blank)


class FluxFillParams(BaseModel):
    """`fluxFillParams` of an outpaint (the bot never inpaints: it has no mask to give)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    image: Url
    prompt: str = Field(min_length=1, max_length=PROMPT_MAX_LENGTH)
    mode: Literal["outpaint"] = "outpaint"
    outpaint: OutpaintPreset
    output_format: FillFormat | None = None
    prompt_upsampling: bool | None = None
    seed: int | None = Field(default=None, ge=0, strict=True)

    _prompt = field_validator("prompt")(_not_blank)


class EditRequest(Submission):
    """Body of `POST /v2/images/edit` (Flux Fill Pro)."""

    path: ClassVar[str] = "/v2/images/edit"

    model: Literal["flux-fill-pro"] = "flux-fill-pro"
    flux_fill_params: FluxFillParams = Field(alias="fluxFillParams")


class TopazUpscaleParams(BaseModel):
    """`topazUpscaleParams`: a faithful upscale."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    image: Url
    upscale_factor: Literal[1, 2, 4, 6] = 2
    output_format: FillFormat | None = None
    seed: int | None = Field(default=None, ge=0, strict=True)


class ClarityUpscaleParams(BaseModel):
    """`clarityUpscaleParams`: an upscale that invents detail, guided by the prompt."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    image: Url
    scale_factor: Literal[1, 2, 4, 8] = 2
    prompt: str | None = Field(default=None, max_length=PROMPT_MAX_LENGTH)
    output_format: OutputFormat | None = None
    seed: int | None = Field(default=None, ge=0, strict=True)


class TopazUpscaleRequest(Submission):
    """Body of `POST /v2/images/upscale` with Topaz."""

    path: ClassVar[str] = "/v2/images/upscale"

    model: Literal["topaz-image-upscale"] = "topaz-image-upscale"
    topaz_params: TopazUpscaleParams = Field(alias="topazUpscaleParams")


class ClarityUpscaleRequest(Submission):
    """Body of `POST /v2/images/upscale` with Clarity."""

    path: ClassVar[str] = "/v2/images/upscale"

    model: Literal["clarity-upscale"] = "clarity-upscale"
    clarity_params: ClarityUpscaleParams = Field(alias="clarityUpscaleParams")


class CatalogEntry(BaseModel):
    """One model of `GET /v2/models`, the public price catalogue (loose: extra fields allowed)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str
    pricing_mode: str | None = Field(default=None, alias="pricingMode")
    cost_min: float | None = Field(default=None, alias="costMin")
    cost_max: float | None = Field(default=None, alias="costMax")


class JobStatus(StrEnum):
    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    UNKNOWN = "UNKNOWN"

    @classmethod
    def _missing_(cls, value: object) -> JobStatus:
        # A status this client does not know yet means "keep waiting".
        return cls.UNKNOWN

    @property
    def is_terminal(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


class JobAccepted(BaseModel):
    """The 202 answer to a submission."""

    model_config = ConfigDict(extra="ignore")

    job_id: str = Field(alias="jobId", min_length=1)
    status: JobStatus = JobStatus.QUEUED


class Job(BaseModel):
    """A job as `GET /v2/jobs/{id}` returns it (webhook bodies parse into it too)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    # Jobs say `id`; submissions and webhook bodies say `jobId`.
    id: str = Field(min_length=1, validation_alias=AliasChoices("id", "jobId"))
    status: JobStatus
    progress: int | None = None
    result: Any = None
    error: str | None = None
    credit_cost: int | None = Field(default=None, alias="creditCost")
    created_at: datetime | None = Field(default=None, alias="createdAt")
    completed_at: datetime | None = Field(default=None, alias="completedAt")
    expired: bool = False

    @field_validator("progress", mode="before")
    @classmethod
    def _clamp_progress(cls, value: object) -> object:
        if isinstance(value, int | float) and not isinstance(value, bool):
            # 1e999 parses as infinity: not a progress (and int() of it raises).
            return max(0, min(100, int(value))) if math.isfinite(value) else None
        if isinstance(value, str) and value.strip().isdigit():
            return max(0, min(100, int(value)))
        return None

    @property
    def image_urls(self) -> list[str]:
        """Every result URL, whichever shape the API used for `result`."""
        return parse_result_urls(self.result)


class JobPage(BaseModel):
    """A page of `GET /v2/jobs`: the caller's jobs, newest first. Entries that do not parse
    are left out (a poll of the job itself still reads it)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    jobs: list[Job] = Field(default_factory=list)
    next_cursor: str | None = Field(default=None, alias="nextCursor")
    has_more: bool = Field(default=False, alias="hasMore")

    @field_validator("jobs", mode="before")
    @classmethod
    def _parsable(cls, value: object) -> object:
        if not isinstance(value, list):
            return []
        kept = []
        for item in value:
            try:
                kept.append(Job.model_validate(item))
            except ValidationError:
                continue
        return kept


def parse_result_urls(result: object) -> list[str]:
    """Result URLs from a bare string, a list, `{"images": [...]}` or `{"url"|"imageUrl"|...}`."""
    if isinstance(result, str):
        return [result] if result.strip() else []
    if isinstance(result, list):
        return [url for item in result for url in parse_result_urls(item)]
    if isinstance(result, dict):
        if "images" in result:
            return parse_result_urls(result["images"])
        for key in ("url", "imageUrl", "image_url"):
            if isinstance(result.get(key), str):
                return parse_result_urls(result[key])
    return []
