"""How a member's defaults and presets fill in a request, and how a server's limits cap them."""

from __future__ import annotations

import pytest

from bot.i18n import render
from bot.jobs.defaults import (
    MEMBER_DEFAULTS,
    MemberDefaults,
    Preset,
    PresetRefused,
    cap,
    describe,
    fill,
    preset_name,
    suffix_text,
    suffix_too_long,
    with_suffix,
)
from bot.jobs.request import Generate

TYPED = {"resolution": None, "aspect_ratio": None, "output_format": None, "private": None}


def test_typed_options_win_over_a_preset_over_the_defaults() -> None:
    defaults = MemberDefaults(resolution="4MP", aspect_ratio="16:9", private=True, quality=70)
    preset = Preset(name="square", defaults=MemberDefaults(aspect_ratio="1:1"))
    options, sources = fill({**TYPED, "resolution": "1MP"}, defaults, preset)
    assert options == {"resolution": "1MP", "aspect_ratio": "1:1", "private": True}
    assert sources == {"aspect_ratio": "square", "private": MEMBER_DEFAULTS}
    # `quality` was not an option of this command (not in `typed`): it is not filled in.
    assert "quality" not in options


def test_a_default_over_the_servers_limit_is_capped_with_a_note() -> None:
    request = Generate(resolution="4MP", upsample=True, seed=1)
    sources = {"resolution": MEMBER_DEFAULTS, "upsample": "x"}
    capped, notes = cap(request, sources, largest="2MP", upsampling_allowed=False)
    assert (capped.resolution, capped.upsample) == ("2MP", False)
    assert [note.render("en") for note in notes] == [
        "Your default 4 MP is capped to 2 MP here.",
        "Your preset “x” prompt upsampling is turned off on this server, so it was left out.",
    ]
    # A typed option is not the defaults' to change: the gate refuses it, as before.
    assert cap(request, {}, largest="2MP", upsampling_allowed=False) == (request, [])
    assert cap(request, sources, largest="4MP", upsampling_allowed=True) == (request, [])


def test_preset_names_and_suffixes_are_checked() -> None:
    assert preset_name("  film   noir ") == "film noir"
    with pytest.raises(PresetRefused, match="needs a name"):
        preset_name("   ")
    with pytest.raises(PresetRefused, match="up to 32 characters"):
        preset_name("x" * 33)
    with pytest.raises(PresetRefused, match="up to 300 characters"):
        suffix_text("y" * 301)
    preset = Preset(name="p", suffix=suffix_text(" in  oil paint "))
    assert with_suffix("a cat ", preset) == "a cat in oil paint"
    assert with_suffix("a cat", None) == "a cat"
    assert suffix_too_long("z" * 2001) is not None
    assert suffix_too_long("z" * 2000) is None


def test_defaults_read_as_people_write_them() -> None:
    shown = describe(MemberDefaults(resolution="2MP", output_format="png", upsample=False))
    assert [(render(label), render(value)) for label, value in shown] == [
        ("Resolution", "2 MP"),
        ("Format", "PNG"),
        ("Upsampling", "off"),
    ]
    newer = MemberDefaults.model_validate({"resolution": "1MP", "sparkle": True})
    assert newer == MemberDefaults(resolution="1MP")  # a later version's option is ignored
