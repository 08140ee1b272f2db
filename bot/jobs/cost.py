"""What a job will probably cost, reserved against a guild's budget until Apiframe says.

Apiframe's `creditCost` on the finished job is the truth; these estimates only have to be
close enough that a budget is not overrun by the jobs in flight.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from bot.apiframe.models import MEGAPIXELS, CatalogEntry
from bot.config import Settings
from bot.jobs.request import Generate, JobRequest, Upscale

# A reference or an input image of unknown size is assumed to be this many megapixels.
ASSUMED_INPUT_MP = 1.0
# An upscale of an image of unknown size is assumed to start from the largest generation.
ASSUMED_UPSCALE_INPUT_MP = MEGAPIXELS["4MP"]


class Prices(BaseModel):
    """Credits per kind of job. The defaults are Apiframe's and BFL's published prices."""

    model_config = ConfigDict(frozen=True)

    first_mp: int = Field(default=7, ge=0)  # FLUX.2 [max]: the first output megapixel
    per_extra_mp: int = Field(default=3, ge=0)  # each further output or input megapixel
    outpaint: int = Field(default=9, ge=0)  # Flux Fill Pro, flat
    upscale_creative: int = Field(default=3, ge=0)  # Clarity, flat
    upscale_subtle_per_mp: int = Field(default=1, ge=0)  # Topaz, per output megapixel


def _megapixels(size: tuple[int, int] | None, assumed: float) -> float:
    return size[0] * size[1] / 1_000_000 if size else assumed


def estimate(request: JobRequest, prices: Prices) -> int:
    """Credits `request` will probably cost.

    FLUX.2 [max]: `first_mp` for the first output megapixel, `per_extra_mp` for each further
    one and for each megapixel of every reference (BFL bills references too; assume about one
    megapixel each). Topaz is billed by output megapixels; Clarity and Flux Fill are flat."""
    if isinstance(request, Generate):
        mp = MEGAPIXELS[request.resolution]
        cost = prices.first_mp + math.ceil(max(0.0, mp - 1) * prices.per_extra_mp)
        return cost + math.ceil(len(request.references) * ASSUMED_INPUT_MP * prices.per_extra_mp)
    if isinstance(request, Upscale):
        if request.mode == "creative":
            return prices.upscale_creative
        output_mp = _megapixels(request.size, ASSUMED_UPSCALE_INPUT_MP) * request.factor**2
        return max(1, math.ceil(output_mp * prices.upscale_subtle_per_mp))
    return prices.outpaint


# Flat-priced models whose price the catalogue gives, and the setting that overrides it.
_CATALOGUED = {  # model ids and setting names
    "flux-fill-pro": "credits_outpaint",  # i18n: not shown
    "clarity-upscale": "credits_upscale_creative",  # i18n: not shown
}


def prices_from(settings: Settings, catalogue: Iterable[CatalogEntry] = ()) -> Prices:
    """The prices to reserve: `CREDITS_*`, except that a flat price in Apiframe's public
    catalogue (`GET /v2/models`) replaces a default the operator did not set."""
    chosen = {  # field names
        "first_mp": settings.credits_first_mp,  # i18n: not shown
        "per_extra_mp": settings.credits_per_extra_mp,  # i18n: not shown
        "outpaint": settings.credits_outpaint,
        "upscale_creative": settings.credits_upscale_creative,  # i18n: not shown
        "upscale_subtle_per_mp": settings.credits_upscale_subtle_per_mp,  # i18n: not shown
    }
    for entry in catalogue:
        setting = _CATALOGUED.get(entry.id)
        if setting is None or setting in settings.model_fields_set:
            continue
        if entry.pricing_mode == "flat" and entry.cost_max is not None and entry.cost_max >= 0:
            chosen[setting.removeprefix("credits_")] = math.ceil(entry.cost_max)
    return Prices(**chosen)
