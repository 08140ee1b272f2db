"""Credit estimates per kind of job, reserved against a guild's budget."""

from __future__ import annotations

import pytest

from bot.apiframe.models import CatalogEntry
from bot.config import load_settings
from bot.jobs.cost import Prices, estimate, prices_from
from bot.jobs.request import Generate, Outpaint, Upscale

PRICES = Prices()
IMAGE = "https://cdn.example/a.png"


@pytest.mark.parametrize(
    ("resolution", "credits"), [("0.5MP", 7), ("1MP", 7), ("2MP", 10), ("4MP", 16)]
)
def test_a_generation_follows_flux_2_max_pricing(resolution: str, credits: int) -> None:
    assert estimate(Generate(resolution=resolution), PRICES) == credits


def test_every_reference_counts_about_one_megapixel() -> None:
    one = Generate(resolution="1MP", references=[IMAGE])
    four = Generate(resolution="1MP", references=[IMAGE] * 4)
    assert (estimate(one, PRICES), estimate(four, PRICES)) == (10, 19)


def test_a_subtle_upscale_is_priced_by_output_megapixels() -> None:
    sized = Upscale(image=IMAGE, size=(1000, 1000), factor=2)  # 4 MP out
    unsized = Upscale(image=IMAGE, factor=2)  # assumed 4 MP in, 16 MP out
    assert estimate(sized, Prices(upscale_subtle_per_mp=2)) == 8
    assert estimate(unsized, Prices(upscale_subtle_per_mp=2)) == 32


def test_creative_upscale_and_outpaint_are_flat() -> None:
    assert estimate(Upscale(image=IMAGE, mode="creative", size=(4000, 4000)), PRICES) == 3
    assert estimate(Outpaint(image=IMAGE, preset="Zoom out 2x"), PRICES) == 9


def test_prices_come_from_the_settings() -> None:
    settings = load_settings(
        _env_file=None,
        discord_token="x" * 60,
        apiframe_api_key="afk_test",
        credits_outpaint=12,
        credits_upscale_creative=5,
    )
    prices = prices_from(settings)
    assert (prices.outpaint, prices.upscale_creative) == (12, 5)


def test_the_catalogue_gives_flat_prices_the_operator_did_not_set() -> None:
    catalogue = [
        CatalogEntry(id="flux-fill-pro", pricingMode="flat", costMin=11, costMax=11),
        CatalogEntry(id="clarity-upscale", pricingMode="flat", costMax=4.2),
        CatalogEntry(id="topaz-image-upscale", pricingMode="per-output", costMax=64),
    ]
    defaults = load_settings(_env_file=None, discord_token="x" * 60, apiframe_api_key="afk_t")
    prices = prices_from(defaults, catalogue)
    assert (prices.outpaint, prices.upscale_creative) == (11, 5)
    assert prices.upscale_subtle_per_mp == 1  # priced per output: the setting stays
    chosen = load_settings(
        _env_file=None, discord_token="x" * 60, apiframe_api_key="afk_t", credits_outpaint=9
    )
    assert prices_from(chosen, catalogue).outpaint == 9  # the operator's own price wins
