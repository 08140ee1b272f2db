"""The typed job request: one set of defaults, ranges and rules, and its one wire mapping."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.i18n import render
from bot.jobs import describe
from bot.jobs.request import (
    DEFAULT_ASPECT_RATIO,
    DEFAULT_FORMAT,
    SEED_MAX,
    Generate,
    Outpaint,
    Upscale,
    generate,
    load_request,
    round_strength,
    to_apiframe,
)

IMAGE = "https://cdn.example/picture.png"


def test_every_option_reaches_flux_params() -> None:
    """Each option lands in its fluxParams field; the first reference in both fields."""
    request = Generate(
        resolution="4MP",
        aspect_ratio="16:9",
        references=("https://cdn.example/ref.png", "https://cdn.example/two.png"),
        strength=0.65,
        output_format="png",
        quality=77,
        upsample=True,
        seed=42,
    )
    wire = to_apiframe("a fox", request, webhook_url="https://bot.example/hook/x").to_wire()
    assert wire == {
        "prompt": "a fox",
        "model": "flux-2-max",
        "fluxParams": {
            "resolution": "4MP",
            "aspect_ratio": "16:9",
            "image_prompt": "https://cdn.example/ref.png",
            "image_prompt_strength": 0.65,
            "input_images": ["https://cdn.example/ref.png", "https://cdn.example/two.png"],
            "output_format": "png",
            "output_quality": 77,
            "prompt_upsampling": True,
            "seed": 42,
        },
        "webhookUrl": "https://bot.example/hook/x",
        "webhookEvents": ["progress", "completed", "failed"],
    }


def test_defaults_come_from_one_place() -> None:
    """Left-out options take the request's defaults; the resolution the setting's."""
    request = generate(default_resolution="2MP", resolution=None, aspect_ratio=None, seed=None)
    assert request.resolution == "2MP"
    assert request.aspect_ratio == DEFAULT_ASPECT_RATIO
    assert request.output_format == DEFAULT_FORMAT
    assert 0 <= request.seed <= SEED_MAX
    wire = to_apiframe("a fox", request).to_wire()
    assert wire["fluxParams"] == {
        "resolution": "2MP",
        "aspect_ratio": DEFAULT_ASPECT_RATIO,
        "output_format": DEFAULT_FORMAT,
        "seed": request.seed,
    }
    assert "webhookUrl" not in wire


def test_a_seed_is_chosen_once_and_kept() -> None:
    """A request without a seed gets one at creation; its copies keep it."""
    request = generate(default_resolution="1MP")
    assert request.changed(aspect_ratio="16:9").seed == request.seed
    assert len({generate(default_resolution="1MP").seed for _ in range(20)}) > 1


@pytest.mark.parametrize(
    ("given", "sent"), [(0.33, 0.35), (0.32, 0.3), (0.025, 0.05), (0.6, 0.6), (1, 1.0), (0, 0.0)]
)
def test_strength_is_rounded_to_the_nearest_step(given: float, sent: float) -> None:
    """One rule for every way in: between two 0.05 steps, the nearest is taken."""
    assert round_strength(given) == sent
    request = Generate(resolution="1MP", references=("https://cdn.example/r.png",), strength=given)
    assert to_apiframe("x", request).flux_params.image_prompt_strength == sent


def test_strength_without_a_reference_is_not_sent() -> None:
    wire = to_apiframe("x", Generate(resolution="1MP", strength=0.5)).to_wire()
    assert "image_prompt_strength" not in wire["fluxParams"]


@pytest.mark.parametrize(
    "bad",
    [
        {"seed": -1},
        {"seed": SEED_MAX + 1},
        {"strength": 1.2},
        {"quality": 101},
        {"resolution": "3MP"},
        {"aspect_ratio": "2:1"},
        {"references": ["https://cdn.example/r.png"] * 9},
        {"colour": "red"},  # unknown options are refused, not carried along
    ],
)
def test_out_of_range_options_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Generate.model_validate({"resolution": "1MP", **bad})


def test_the_largest_seed_discord_sends_is_accepted() -> None:
    request = Generate(resolution="1MP", seed=SEED_MAX)
    assert to_apiframe("x", request).flux_params.seed == SEED_MAX == 2**53 - 1


def test_stored_json_round_trips_and_is_validated_on_load() -> None:
    """A request is stored as JSON with its kind, and checked again when read."""
    request = Generate(resolution="0.5MP", references=("https://cdn.example/r.png",), seed=7)
    stored = request.model_dump(mode="json")
    assert stored["kind"] == "generate"
    assert load_request(stored) == request
    with pytest.raises(ValidationError):
        load_request({**stored, "kind": "teleport"})
    with pytest.raises(ValidationError):
        load_request({**stored, "seed": "seven"})


def _english(facts: list[describe.Fact]) -> list[tuple[str, str]]:
    return [(render(label), render(value)) for label, value in facts]


def test_one_formatter_names_every_setting() -> None:
    request = Generate(
        resolution="2MP",
        aspect_ratio="9:16",
        references=("https://cdn.example/r.png",),
        strength=0.6,
        quality=80,
        upsample=True,
        seed=5,
    )
    assert _english(describe.facts(request)) == [
        ("Resolution", "2MP"),
        ("Aspect", "9:16"),
        ("Seed", "5"),
        ("Format", "JPG"),
        ("Quality", "80"),
        ("Reference", "strength 0.6"),
        ("Upsampling", "on"),
    ]
    assert _english(describe.facts(request, file_format="png"))[3] == ("Format", "PNG")
    assert describe.summary(Generate(resolution="1MP", seed=1)) == (
        "Resolution 1MP · Aspect 1:1 · Seed 1 · Format JPG"
    )


def test_several_references_are_counted() -> None:
    refs = ("https://cdn.example/a.png", "https://cdn.example/b.png")
    assert str(describe.reference_label(Generate(resolution="1MP", references=refs))) == (
        "2 images"
    )
    one = Generate(resolution="1MP", references=refs[:1])
    assert str(describe.reference_label(one)) == "used"
    assert describe.reference_label(Generate(resolution="1MP")) is None


def test_an_upscale_goes_to_topaz_or_clarity() -> None:
    """Subtle is Topaz (faithful), Creative is Clarity (guided by the prompt); both ×2."""
    subtle = Upscale(image=IMAGE, seed=4, output_format="png")
    creative = Upscale(image=IMAGE, seed=4, mode="creative")
    topaz = to_apiframe("a fox", subtle, webhook_url="https://bot.example/hook/s")
    clarity = to_apiframe("a fox", creative)
    assert topaz.path == clarity.path == "/v2/images/upscale"
    assert topaz.to_wire() == {
        "model": "topaz-image-upscale",
        "topazUpscaleParams": {
            "image": IMAGE,
            "upscale_factor": 2,
            "output_format": "png",
            "seed": 4,
        },
        "webhookUrl": "https://bot.example/hook/s",
        "webhookEvents": ["progress", "completed", "failed"],
    }
    assert clarity.to_wire() == {
        "model": "clarity-upscale",
        "clarityUpscaleParams": {
            "image": IMAGE,
            "scale_factor": 2,
            "prompt": "a fox",
            "output_format": "jpg",
            "seed": 4,
        },
    }


def test_an_outpaint_goes_to_flux_fill_with_the_prompt() -> None:
    request = Outpaint(image=IMAGE, preset="Left outpaint", seed=8, upsample=True)
    body = to_apiframe("a fox", request)
    assert body.path == "/v2/images/edit"
    assert body.to_wire() == {
        "model": "flux-fill-pro",
        "fluxFillParams": {
            "image": IMAGE,
            "prompt": "a fox",
            "mode": "outpaint",
            "outpaint": "Left outpaint",
            "output_format": "jpg",
            "prompt_upsampling": True,
            "seed": 8,
        },
    }


def test_every_kind_round_trips_through_storage() -> None:
    for request in (
        Generate(resolution="2MP", references=[IMAGE], origin="https://discord.com/channels/1/2/3"),
        Upscale(image=IMAGE, size=(1024, 768), mode="creative", factor=4),
        Outpaint(image=IMAGE, preset="Make square"),
    ):
        assert load_request(request.model_dump(mode="json")) == request
    with pytest.raises(ValidationError):
        load_request({"kind": "upscale", "image": IMAGE, "factor": 3})
    with pytest.raises(ValidationError):
        load_request({"kind": "outpaint", "image": IMAGE, "preset": "Zoom in"})


def test_every_kind_reads_the_same_everywhere() -> None:
    assert describe.summary(Upscale(image=IMAGE, seed=1, mode="creative")) == (
        "Upscale Creative (Clarity) ×2 · Seed 1 · Format JPG"
    )
    assert describe.summary(Outpaint(image=IMAGE, seed=2, preset="Top outpaint")) == (
        "Outpaint Pan ⬆ · Seed 2 · Format JPG"
    )


@pytest.mark.parametrize(
    "request_",
    [
        Upscale(image=IMAGE, seed=1),
        Upscale(image=IMAGE, seed=1, mode="creative", factor=4, output_format="png"),
        Outpaint(image=IMAGE, preset="Zoom out 1.5x", upsample=True),
        Outpaint(image=IMAGE, preset="Bottom outpaint", output_format="png"),
    ],
    ids=["topaz", "clarity", "zoom", "pan"],
)
def test_every_body_passes_apiframes_own_schema(request_: Upscale | Outpaint) -> None:
    """Checked against the route's schema from Apiframe's OpenAPI (unknown keys rejected)."""
    from bot.apiframe.sandbox.validation import validate_image_body

    body = to_apiframe("a fox", request_, webhook_url="https://bot.example/hook/x")
    models = (
        ("topaz-image-upscale", "clarity-upscale")
        if isinstance(request_, Upscale)
        else ("flux-fill-pro",)
    )
    assert validate_image_body(body.to_wire(), models) == {}


def test_a_scrubbed_request_keeps_its_settings_and_nothing_of_the_member() -> None:
    """What the history purge and forget-me leave of a request: still a valid request of its
    kind, with its settings and seed, without references, input image or origin."""
    from bot.jobs.request import REMOVED, Outpaint, Upscale, load_request, scrubbed

    made = Generate(
        resolution="2MP",
        aspect_ratio="16:9",
        references=("https://cdn.discord/a.png",),
        strength=0.5,
        seed=4,
        origin="https://discord.com/channels/1/2/3",
    )
    clean = load_request(scrubbed(made.model_dump(mode="json")))
    assert clean == Generate(resolution="2MP", aspect_ratio="16:9", seed=4)
    for tool in (
        Upscale(image="https://cdn.discord/b.png", size=(512, 512), factor=4, seed=5),
        Outpaint(image="https://cdn.discord/b.png", preset="Make square", seed=6, origin="x"),
    ):
        kept = load_request(scrubbed(tool.model_dump(mode="json")))
        assert kept == tool.changed(image=REMOVED, origin=None)
