"""What each button under an image asks for, as plain requests."""

from __future__ import annotations

import pytest

from bot.jobs.actions import ACTIONS, RENAMED, Refused, derive, nearest_aspect, shown_actions
from bot.jobs.request import Generate, Outpaint, Upscale

IMAGE = "https://cdn.example/result.png"
ORIGIN = "https://discord.com/channels/1/2/3"
PARENT = Generate(resolution="2MP", aspect_ratio="16:9", output_format="png", seed=5)


def act(action: str, parent=PARENT, size=(1872, 1056)):  # type: ignore[no-untyped-def]
    return derive(action, parent, image=IMAGE, size=size, origin=ORIGIN, default_resolution="1MP")


def test_upscales_keep_the_format_and_know_the_size() -> None:
    subtle, creative = act("upscale-subtle"), act("upscale-creative")
    assert subtle == Upscale(
        image=IMAGE, size=(1872, 1056), output_format="png", origin=ORIGIN, seed=subtle.seed
    )
    assert (creative.mode, creative.output_format) == ("creative", "png")


def test_a_webp_image_is_upscaled_and_outpainted_as_jpeg() -> None:
    webp = PARENT.changed(output_format="webp")
    assert act("upscale-subtle", webp).output_format == "jpg"
    assert act("zoom-2", webp).output_format == "jpg"


@pytest.mark.parametrize(
    ("action", "preset"),
    [
        ("zoom-1.5", "Zoom out 1.5x"),
        ("zoom-2", "Zoom out 2x"),
        ("square", "Make square"),
        ("pan-left", "Left outpaint"),
        ("pan-right", "Right outpaint"),
        ("pan-up", "Top outpaint"),
        ("pan-down", "Bottom outpaint"),
    ],
)
def test_zoom_square_and_pan_are_outpaint_presets(action: str, preset: str) -> None:
    request = act(action)
    assert isinstance(request, Outpaint)
    assert (request.preset, request.image, request.origin) == (preset, IMAGE, ORIGIN)


def test_a_square_image_is_not_made_square() -> None:
    with pytest.raises(Refused, match="already square"):
        act("square", size=(1024, 1024))
    assert "square" not in shown_actions(PARENT, (1024, 1024))
    assert "square" in shown_actions(PARENT, (1024, 768))


def test_vary_keeps_the_settings_with_the_image_as_reference() -> None:
    subtle, strong = act("vary-subtle"), act("vary-strong")
    for varied in (subtle, strong):
        assert isinstance(varied, Generate)
        assert (varied.resolution, varied.aspect_ratio, varied.references) == (
            "2MP",
            "16:9",
            (IMAGE,),
        )
        assert varied.seed != PARENT.seed  # a new one, drawn from 2**53 values
    assert subtle.strength > strong.strength  # type: ignore[union-attr, operator]


def test_vary_of_an_upscale_is_a_generation_of_its_shape() -> None:
    upscaled = Upscale(image=IMAGE, size=(3744, 2112))
    varied = act("vary-strong", upscaled, size=(3744, 2112))
    assert isinstance(varied, Generate)
    assert (varied.resolution, varied.aspect_ratio) == ("1MP", "16:9")


def test_an_upscale_is_not_upscaled_rerolled_or_reprompted_again() -> None:
    shown = shown_actions(Upscale(image=IMAGE), (2048, 2048))
    assert not {"upscale-subtle", "upscale-creative", "reroll", "edit"} & set(shown)
    assert {"vary-subtle", "zoom-2", "pan-left", "delete"} <= set(shown)


def test_every_action_fits_discords_layout() -> None:
    rows: dict[int, int] = {}
    for action in ACTIONS.values():
        rows[action.row] = rows.get(action.row, 0) + 1
    assert max(rows) < 5
    assert max(rows.values()) <= 5
    assert set(RENAMED.values()) <= set(ACTIONS)


@pytest.mark.parametrize(
    ("size", "aspect"),
    [((1000, 1000), "1:1"), ((1920, 1080), "16:9"), ((768, 1024), "3:4"), (None, "1:1")],
)
def test_nearest_aspect(size: tuple[int, int] | None, aspect: str) -> None:
    assert nearest_aspect(size) == aspect


def test_reroll_keeps_everything_but_the_seed() -> None:
    rerolled = act("reroll")
    assert rerolled.seed != PARENT.seed
    assert rerolled.changed(seed=PARENT.seed, origin=None) == PARENT


@pytest.mark.parametrize("size", [(10**200, 10**200), (0, 512), (-3, 4), (200_000, 10)])
def test_a_size_no_picture_has_is_taken_as_unknown(size: tuple[int, int]) -> None:
    """An upscale of an impossible size overflowed the estimate (found by fuzzing): such a
    size counts as unknown, and a stored request holding one is refused."""
    from pydantic import ValidationError

    from bot.jobs.cost import Prices, estimate
    from bot.jobs.request import load_request

    upscale = derive(
        "upscale-subtle",
        Generate(resolution="1MP"),
        image="https://cdn.example.com/a.png",
        size=size,
        origin=None,
        default_resolution="1MP",
    )
    assert isinstance(upscale, Upscale)
    assert upscale.size is None
    assert estimate(upscale, Prices()) > 0
    with pytest.raises(ValidationError):
        load_request({"kind": "upscale", "image": "https://x/a.png", "size": list(size)})
