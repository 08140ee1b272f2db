"""A member's own defaults and presets, and how they fill in a request.

The order, lowest first: the bot's settings (`DEFAULT_RESOLUTION`), the member's defaults, a
preset the member named, and the options they typed, which always win. A server's limits still
cap what came from a default or a preset; an option typed over the limit is refused as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.apiframe.models import PROMPT_MAX_LENGTH, AspectRatio, OutputFormat, Resolution
from bot.i18n import Renderable, Text, t
from bot.jobs.describe import resolution_label
from bot.jobs.request import Generate
from bot.moderation.policy import resolution_rank

MAX_PRESETS = 10  # per member per server
PRESET_NAME_MAX = 32
SUFFIX_MAX = 300
# The options a default or a preset may hold, in the order they are shown.
OPTION_LABELS = {
    "resolution": t("Resolution"),
    "aspect_ratio": t("Aspect"),  # i18n: not shown (the key; the label is in t())
    "output_format": t("Format"),  # i18n: not shown (the key; the label is in t())
    "quality": t("Quality"),
    "upsample": t("Upsampling"),
    "private": t("Private"),
}
OPTIONS = tuple(OPTION_LABELS)
# Where `fill` says an option came from: the member's defaults, else the preset's name (a
# preset's name is never empty).
MEMBER_DEFAULTS = ""


class MemberDefaults(BaseModel):
    """What a member wants when they leave an option out; None: no preference."""

    # "ignore": a document stored by a later version with more options still reads.
    model_config = ConfigDict(frozen=True, extra="ignore")

    resolution: Resolution | None = None
    aspect_ratio: AspectRatio | None = None
    output_format: OutputFormat | None = None
    quality: int | None = Field(default=None, ge=0, le=100)
    upsample: bool | None = None
    private: bool | None = None

    def chosen(self) -> dict[str, Any]:
        """The options set, by name."""
        return {name: value for name, value in self.model_dump().items() if value is not None}

    def over(self, lower: MemberDefaults) -> MemberDefaults:
        """These defaults, with `lower`'s where these have none."""
        return MemberDefaults.model_validate({**lower.chosen(), **self.chosen()})


class Preset(BaseModel):
    """Defaults and a prompt suffix saved under a name."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, max_length=PRESET_NAME_MAX)
    defaults: MemberDefaults = MemberDefaults()
    suffix: str = Field(default="", max_length=SUFFIX_MAX)


class PresetRefused(ValueError):
    """A preset that cannot be saved; `text` says why, for the member."""

    def __init__(self, text: Renderable) -> None:
        super().__init__(text)
        self.text = text


def preset_name(text: str) -> str:
    """A preset's name as stored: trimmed, inner spaces collapsed; PresetRefused when empty
    or too long."""
    name = " ".join(text.split())
    if not name:
        raise PresetRefused(t("A preset needs a name, such as `cinema`."))
    if len(name) > PRESET_NAME_MAX:
        raise PresetRefused(
            t(
                "Preset names can be up to {limit} characters; that one has {length}.",
                limit=PRESET_NAME_MAX,
                length=len(name),
            )
        )
    return name


def suffix_text(text: str | None) -> str:
    """A preset's prompt suffix, trimmed; PresetRefused when too long."""
    suffix = " ".join((text or "").split())
    if len(suffix) > SUFFIX_MAX:
        raise PresetRefused(
            t(
                "A preset's prompt suffix can be up to {limit} characters; that one has {length}.",
                limit=SUFFIX_MAX,
                length=len(suffix),
            )
        )
    return suffix


def with_suffix(prompt: str, preset: Preset | None) -> str:
    """The prompt a preset's suffix is added to."""
    if preset is None or not preset.suffix:
        return prompt
    return f"{prompt.rstrip()} {preset.suffix}"


def suffix_too_long(prompt: str) -> Text | None:
    """The member's message when the prompt with its suffix is over Apiframe's limit."""
    if len(prompt) <= PROMPT_MAX_LENGTH:
        return None
    return t(
        "With your preset's suffix the prompt is {length} characters; please keep it to"
        " {limit} (shorten the prompt, or leave the preset out).",
        length=len(prompt),
        limit=PROMPT_MAX_LENGTH,
    )


def fill(
    typed: Mapping[str, Any], defaults: MemberDefaults, preset: Preset | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """The options for a request: `typed` (None: left out) over the preset over the member's
    defaults. Also where each filled-in option came from (`MEMBER_DEFAULTS`, or the preset's
    name), for the notes `cap` writes."""
    options = {name: value for name, value in typed.items() if value is not None}
    sources: dict[str, str] = {}
    layers = [(defaults, MEMBER_DEFAULTS)]
    if preset is not None:
        layers.insert(0, (preset.defaults, preset.name))
    for layer, source in layers:
        for name, value in layer.chosen().items():
            if name in typed and name not in options:
                options[name] = value
                sources[name] = source
    return options, sources


def cap(
    request: Generate,
    sources: Mapping[str, str],
    *,
    largest: Resolution,
    upsampling_allowed: bool,
) -> tuple[Generate, list[Text]]:
    """`request` within a server's limits where a default or a preset asked for more, and a
    note for the member about each change. Typed options are left for the gate to refuse."""
    notes: list[Text] = []
    if "resolution" in sources and resolution_rank(request.resolution) > resolution_rank(largest):
        asked, allowed = resolution_label(request.resolution), resolution_label(largest)
        if (preset := sources["resolution"]) == MEMBER_DEFAULTS:
            notes.append(
                t(
                    "Your default {resolution} is capped to {largest} here.",
                    resolution=asked,
                    largest=allowed,
                )
            )
        else:
            notes.append(
                t(
                    "Your preset “{preset}” {resolution} is capped to {largest} here.",
                    preset=preset,
                    resolution=asked,
                    largest=allowed,
                )
            )
        request = request.changed(resolution=largest)
    if "upsample" in sources and request.upsample and not upsampling_allowed:
        if (preset := sources["upsample"]) == MEMBER_DEFAULTS:
            notes.append(
                t(
                    "Your default prompt upsampling is turned off on this server, so it was"
                    " left out."
                )
            )
        else:
            notes.append(
                t(
                    "Your preset “{preset}” prompt upsampling is turned off on this server, so"
                    " it was left out.",
                    preset=preset,
                )
            )
        request = request.changed(upsample=False)
    return request, notes


def describe(defaults: MemberDefaults) -> list[tuple[Text, Renderable]]:
    """(label, value) of each option set, for /flux-settings show and the preset list."""
    shown: list[tuple[Text, Renderable]] = []
    for name, value in defaults.chosen().items():
        shown_value: Renderable
        if name == "resolution":
            shown_value = resolution_label(value)
        elif name == "output_format":  # i18n: not shown
            shown_value = str(value).upper()
        elif isinstance(value, bool):
            shown_value = t("on") if value else t("off")
        else:
            shown_value = str(value)
        shown.append((OPTION_LABELS[name], shown_value))
    return shown
