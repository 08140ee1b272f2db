"""GET /v2/models: Apiframe's public catalogue, quoting the sandbox's own prices."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from bot.apiframe.sandbox import SCHEMA_PATH, Fault
from tests.pictures import Pictures
from tests.sandbox.conftest import Api


def schema(name: str) -> Draft202012Validator:
    components = json.loads(SCHEMA_PATH.read_text())["components"]
    return Draft202012Validator({**components["schemas"][name], "components": components})


@pytest.mark.parametrize("query", ["", "?modality=image"])
async def test_the_catalogue_is_public_and_prices_each_model(api: Api, query: str) -> None:
    """Without a key, the four models with costMin/costMax/pricingMode matching what their
    jobs cost: FLUX.2 [max] 7 (0.5 MP) to 16 (4 MP) by output, Fill 9 and Clarity 3 flat,
    Topaz by output MP from its minimum to the 64 MP cap."""
    answer = await api.call("GET", f"/v2/models{query}", key=None)
    assert answer.status == 200
    assert list(schema("ModelCatalog").iter_errors(answer.body)) == []
    prices = {
        m["id"]: (m["modality"], m["costMin"], m["costMax"], m["pricingMode"], m["endpoint"])
        for m in answer.body["models"]
    }
    assert prices == {
        "flux-2-max": ("image", 7, 16, "per-output", "/v2/images/generate"),
        "flux-fill-pro": ("image", 9, 9, "flat", "/v2/images/edit"),
        "topaz-image-upscale": ("image", 2, 64, "per-output", "/v2/images/upscale"),
        "clarity-upscale": ("image", 3, 3, "flat", "/v2/images/upscale"),
    }
    assert all(m["label"] and m["description"] for m in answer.body["models"])


async def test_the_catalogue_follows_the_price_knobs(api: Api, pictures: Pictures) -> None:
    """Changing the sandbox's prices changes the catalogue and the jobs alike."""
    config = api.sandbox.config
    config.cost_edit, config.cost_clarity, config.cost_first_mp = 11, 5, 8
    config.cost_topaz_min, config.max_output_pixels = 4, 16_000_000
    models = (await api.call("GET", "/v2/models", key=None)).body["models"]
    prices = {m["id"]: (m["costMin"], m["costMax"]) for m in models}
    assert prices == {
        "flux-2-max": (8, 17),
        "flux-fill-pro": (11, 11),
        "topaz-image-upscale": (4, 16),
        "clarity-upscale": (5, 5),
    }
    body = {
        "model": "flux-fill-pro",
        "fluxFillParams": {
            "image": pictures.url("red.png"),
            "prompt": "p",
            "mode": "outpaint",
            "outpaint": "Make square",
        },
    }
    job_id = (await api.edit(body)).body["jobId"]
    assert (await api.job(job_id))["creditCost"] == 11


@pytest.mark.parametrize("modality", ["video", "music"])
async def test_other_modalities_list_nothing(api: Api, modality: str) -> None:
    """The sandbox serves images only: video and music are valid filters with no models."""
    answer = await api.call("GET", f"/v2/models?modality={modality}", key=None)
    assert (answer.status, answer.body) == (200, {"models": []})


@pytest.mark.parametrize("modality", ["images", "", "IMAGE"])
async def test_an_unknown_modality_is_400(api: Api, modality: str) -> None:
    """An invalid modality is a ValidationError naming the parameter."""
    answer = await api.call("GET", f"/v2/models?modality={modality}", key=None)
    assert answer.status == 400
    assert list(schema("ValidationError").iter_errors(answer.body)) == []
    assert answer.body["details"] == {
        "modality": [
            f"Invalid enum value. Expected 'image' | 'video' | 'music', received '{modality}'"
        ]
    }


async def test_the_catalogue_can_fail_on_demand(api: Api) -> None:
    """A `models` fault makes the catalogue answer 503 once."""
    api.sandbox.add_fault(Fault(route="models", status=503))
    assert (await api.call("GET", "/v2/models", key=None)).status == 503
    assert (await api.call("GET", "/v2/models", key=None)).status == 200
