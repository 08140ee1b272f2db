"""Credit estimates per kind of job, reserved against a guild's budget."""

from __future__ import annotations

import pytest

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
