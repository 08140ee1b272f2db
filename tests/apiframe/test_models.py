"""Request validation before anything is sent, and lenient parsing of what comes back."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from bot.apiframe.models import FluxParams, GenerateRequest, Job, JobStatus, parse_result_urls


@pytest.mark.parametrize(
    ("field", "good", "bad"),
    [
        ("resolution", ["0.5MP", "1MP", "2MP", "4MP"], ["1 MP", "8MP", "", 2]),
        (
            "aspect_ratio",
            ["1:1", "3:4", "4:3", "9:16", "16:9"],
            ["2:1", "match_input_image", "1x1"],
        ),
        ("image_prompt", ["https://cdn.example/a.png"], ["not a url", "ftp://x/y.png"]),
        ("image_prompt_strength", [0, 0.05, 0.5, 0.95, 1], [-0.05, 1.05, 0.33, 0.501]),
        ("input_images", [["https://a.example/1.png"] * 8, []], [["https://a.example/1.png"] * 9]),
        ("output_format", ["jpg", "png", "webp"], ["jpeg", "gif"]),
        ("output_quality", [0, 90, 100], [-1, 101, 50.5, "90"]),
        ("prompt_upsampling", [True, False], ["maybe"]),
        ("seed", [0, 42, 2**53 - 1], [-1, 1.5, "7", 2**53]),
    ],
)
def test_each_flux_parameter_is_validated(field: str, good: list[Any], bad: list[Any]) -> None:
    """Allowed values pass; every out-of-range or mistyped value is refused locally."""
    for value in good:
        FluxParams.model_validate({field: value})
    for value in bad:
        with pytest.raises(ValidationError):
            FluxParams.model_validate({field: value})


def test_unknown_parameters_are_refused() -> None:
    """Nothing the published schema lacks can be sent (e.g. safety_tolerance, webhook_url)."""
    with pytest.raises(ValidationError):
        FluxParams.model_validate({"safety_tolerance": 2})
    with pytest.raises(ValidationError):
        GenerateRequest.model_validate({"prompt": "x", "webhook_secret": "s"})
    # The snake-case field name is accepted in Python but always goes out as `webhookUrl`.
    wire = GenerateRequest(prompt="x", webhook_url="https://a.example/h").to_wire()
    assert "webhook_url" not in wire
    assert wire["webhookUrl"] == "https://a.example/h"


@pytest.mark.parametrize("prompt", ["", "   ", "x" * 2001])
def test_prompt_length_and_blank(prompt: str) -> None:
    """Prompts must hold 1 to 2000 characters and not be blank."""
    with pytest.raises(ValidationError):
        GenerateRequest(prompt=prompt)


def test_wire_form_is_camel_case_without_nulls() -> None:
    """The body uses fluxParams/webhookUrl/webhookEvents and leaves unset options out."""
    request = GenerateRequest.model_validate(
        {
            "prompt": "x" * 2000,
            "fluxParams": {"seed": 3},
            "webhookUrl": "https://bot.example/hook",
            "webhookEvents": ["completed"],
        }
    )
    assert request.to_wire() == {
        "prompt": "x" * 2000,
        "model": "flux-2-max",
        "fluxParams": {"seed": 3},
        "webhookUrl": "https://bot.example/hook",
        "webhookEvents": ["completed"],
    }


def test_job_parsing_is_lenient() -> None:
    """Unknown fields are ignored, `jobId` is accepted for `id`, odd progress values settle."""
    job = Job.model_validate(
        {"jobId": "j1", "status": "PROCESSING", "progress": "40", "brandNew": {"x": 1}}
    )
    assert (job.id, job.progress) == ("j1", 40)
    assert Job.model_validate({"id": "j", "status": "QUEUED", "progress": None}).progress is None
    assert Job.model_validate({"id": "j", "status": "QUEUED", "progress": 150.7}).progress == 100


def test_unknown_status_means_keep_waiting() -> None:
    """A status this client does not know is not terminal."""
    job = Job.model_validate({"id": "j", "status": "REASONING"})
    assert job.status is JobStatus.UNKNOWN
    assert not job.status.is_terminal
    assert JobStatus.CANCELLED.is_terminal


@pytest.mark.parametrize(
    ("result", "urls"),
    [
        ("https://cdn/a.png", ["https://cdn/a.png"]),
        (["https://cdn/a.png", "https://cdn/b.png"], ["https://cdn/a.png", "https://cdn/b.png"]),
        ({"images": ["https://cdn/a.png"], "gridUrl": "g"}, ["https://cdn/a.png"]),
        ({"url": "https://cdn/a.png"}, ["https://cdn/a.png"]),
        ({"imageUrl": "https://cdn/a.png"}, ["https://cdn/a.png"]),
        ({"image_url": "https://cdn/a.png"}, ["https://cdn/a.png"]),
        (None, []),
        ("", []),
        ({"videoUrl": "v"}, []),
        (42, []),
    ],
)
def test_result_shapes(result: Any, urls: list[str]) -> None:
    """Every result shape the API has used yields its URLs; anything else yields none."""
    assert parse_result_urls(result) == urls


@pytest.mark.parametrize("progress", [float("inf"), float("-inf"), float("nan"), 1e308 * 10])
def test_a_progress_that_is_no_finite_number_is_ignored(progress: float) -> None:
    """A signed webhook or poll saying `"progress": 1e999` is read as no progress, not a crash."""
    import json

    body = json.loads(json.dumps({"id": "j1", "status": "PROCESSING", "progress": progress}))
    assert Job.model_validate(body).progress is None
    assert (
        Job.model_validate_json('{"id": "j1", "status": "PROCESSING", "progress": 1e999}').progress
        is None
    )


@pytest.mark.parametrize(
    ("progress", "read"), [("42", 42), (" 7 ", 7), ("²", None), ("9" * 5000, None), ("٣", 3)]
)
def test_a_progress_in_odd_digits_never_makes_a_job_unreadable(
    progress: str, read: int | None
) -> None:
    """ "²" is a digit int() refuses, and 5000 digits exceed int()'s limit: unknown, not an
    unreadable job (found by fuzzing)."""
    assert (
        Job.model_validate({"id": "j", "status": "PROCESSING", "progress": progress}).progress
        == read
    )


def test_result_urls_nested_past_a_few_levels_are_not_followed() -> None:
    """A result nested deeper than any shape the API uses is ignored, not a RecursionError
    wherever in the stack it is read (found by fuzzing)."""
    shallow: object = "https://cdn.example.com/a.png"
    for _ in range(3):
        shallow = {"images": [shallow]}
    assert parse_result_urls(shallow) == ["https://cdn.example.com/a.png"]
    deep: object = "https://cdn.example.com/a.png"
    for _ in range(5000):
        deep = [deep]
    assert parse_result_urls(deep) == []
