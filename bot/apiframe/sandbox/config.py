"""The sandbox's knobs: its configuration and the faults and outcomes tests script."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MODERATION_ERROR = "Provider returned an error: content policy violation"


class SandboxConfig(BaseModel):
    """How the sandbox behaves; tests may change it between requests."""

    model_config = ConfigDict(extra="forbid")

    api_keys: set[str] = Field(default_factory=lambda: {"afk_sandbox"})
    inactive_keys: set[str] = Field(default_factory=set)
    credits: int | None = None  # None: unlimited
    queued_seconds: float = 1.0
    processing_seconds: float = 4.0
    duration_jitter: float = 0.0  # each job's processing time varies by up to ± this fraction
    # Processing seconds of generations by resolution ("4MP": 30.0); others: processing_seconds
    resolution_seconds: dict[str, float] = Field(default_factory=dict)
    progress_steps: list[int] = Field(default_factory=lambda: [10, 35, 60, 85])
    # "steps": progress_steps at even fractions of the processing time; "linear": the percent
    # of it done, floored (Apiframe documents progress "in real-time (0-100)").
    progress_mode: Literal["steps", "linear"] = "steps"
    result_shape: Literal["images", "string", "list", "url"] = "images"
    result_ttl_seconds: float | None = None  # None: results never expire
    public_url: str | None = None  # base of CDN URLs; None: the host the request came to
    cost_first_mp: int = 7  # credits for a job's first megapixel (and for 0.5 MP)
    cost_per_extra_mp: int = 3  # credits per further megapixel, rounded up
    cost_edit: int = 9  # flux-fill-pro (outpaint or inpaint), flat, as Apiframe's docs price it
    cost_clarity: int = 3  # clarity-upscale, flat, as Apiframe's docs price it
    cost_topaz_per_mp: int = 1  # topaz-image-upscale: per started output megapixel (Apiframe
    cost_topaz_min: int = 2  # prices it by output MP without a published rate) and at least this
    input_timeout_seconds: float = 10.0  # fetching an upscale's or edit's input image
    input_max_bytes: int = 50 * 2**20
    max_output_pixels: int = 64_000_000  # larger upscale or outpaint results are refused (400)
    idempotency_ttl_seconds: float = 24 * 3600
    # One generated picture per size and format instead of one per (prompt, seed): cheap, for
    # load tests. Upscales and edits are always drawn from their own input.
    reuse_images: bool = False
    webhook_retries: int = 3
    webhook_retry_delay: float = 0.2

    def processing_for(self, params: dict[str, Any]) -> float:
        """Processing seconds of a job with these model parameters."""
        return self.resolution_seconds.get(str(params.get("resolution")), self.processing_seconds)


class Fault(BaseModel):
    """Make the next `count` requests to `route` misbehave: answer `status` (429 carries
    Retry-After, 1 s unless given), `drop` the connection unanswered, add `delay` seconds, or
    `lose_answer`: do the work (a submission creates its job), then drop the connection, as
    when a network blip eats the response."""

    model_config = ConfigDict(extra="forbid")

    route: Literal["generate", "upscale", "edit", "job", "jobs", "cdn", "me", "models", "any"] = (
        "any"
    )
    kind: Literal["status", "drop", "latency", "lose_answer"] = "status"
    status: int = 503
    retry_after: str | None = None
    delay: float = 0.0
    count: int = 1


class Outcome(BaseModel):
    """How the next `count` submitted jobs end (NEVER: they stay PROCESSING for good)."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["COMPLETED", "FAILED", "CANCELLED", "NEVER"] = "FAILED"
    error: str | None = MODERATION_ERROR
    count: int = 1


class WebhookFaults(BaseModel):
    """Webhook misbehaviour, applied to every delivery while set."""

    model_config = ConfigDict(extra="forbid")

    drop: bool = False
    duplicate: bool = False
    bad_signature: bool = False
    bare_hex: bool = False
    out_of_order: bool = False  # a progress event after the terminal one
