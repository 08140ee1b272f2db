"""What each button under a finished image does to it: a new job request derived from the
image and its parent's request, as plain values (the cog only reads Discord and posts).

Midjourney's toolset on FLUX.2 [max] and Apiframe's other image routes: Upscale (Subtle /
Creative) through Topaz / Clarity, Vary (Subtle / Strong) with the image as reference, Zoom Out,
Make Square and Pan through Flux Fill's outpaint presets, Reroll and Edit prompt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.apiframe.models import ASPECT_RATIOS, AspectRatio, FillFormat, OutpaintPreset
from bot.i18n import Text, t
from bot.jobs.request import (
    Generate,
    JobRequest,
    Outpaint,
    Resolution,
    Upscale,
    UpscaleMode,
    generate,
    known_size,
    new_seed,
)

VARY_SUBTLE_STRENGTH = 0.85  # close to the image: a variation in the details
VARY_STRONG_STRENGTH = 0.5  # looser: the same idea, recomposed


@dataclass(frozen=True, slots=True)
class Action:
    label: Text  # on the button, in the language of the message it is under
    emoji: str
    row: int  # Discord shows up to 5 rows of 5 buttons


# The keys are the buttons' ids (in `custom_id`s), never shown.
ACTIONS: dict[str, Action] = {
    "upscale-subtle": Action(t("Upscale (Subtle)"), "🔍", 0),  # i18n: not shown (the id)
    "upscale-creative": Action(t("Upscale (Creative)"), "✨", 0),  # i18n: not shown (the id)
    "vary-subtle": Action(t("Vary (Subtle)"), "🎨", 0),  # i18n: not shown (the id)
    "vary-strong": Action(t("Vary (Strong)"), "🌀", 0),  # i18n: not shown (the id)
    "zoom-1.5": Action(t("Zoom Out 1.5×"), "🔭", 1),
    "zoom-2": Action(t("Zoom Out 2×"), "🔭", 1),
    "square": Action(t("Make Square"), "⬜", 1),
    "pan-left": Action(t("Pan"), "⬅️", 2),  # i18n: not shown (the id)
    "pan-right": Action(t("Pan"), "➡️", 2),  # i18n: not shown (the id)
    "pan-up": Action(t("Pan"), "⬆️", 2),  # i18n: not shown (the id)
    "pan-down": Action(t("Pan"), "⬇️", 2),  # i18n: not shown (the id)
    "reroll": Action(t("Reroll"), "🎲", 3),
    "edit": Action(t("Edit prompt"), "✏️", 3),
    "delete": Action(t("Delete"), "🗑️", 3),
}
# Buttons posted by earlier versions keep working: their ids map onto today's actions.
RENAMED = {"vary": "vary-strong", "upscale": "upscale-subtle"}  # i18n: not shown (ids)

# ids, and Apiframe's names of its outpaint presets: none of it is shown.
UPSCALES: dict[str, UpscaleMode] = {
    "upscale-subtle": "subtle",  # i18n: not shown
    "upscale-creative": "creative",  # i18n: not shown
}
VARIES = {
    "vary-subtle": VARY_SUBTLE_STRENGTH,  # i18n: not shown
    "vary-strong": VARY_STRONG_STRENGTH,  # i18n: not shown
}
OUTPAINTS: dict[str, OutpaintPreset] = {
    "zoom-1.5": "Zoom out 1.5x",  # i18n: not shown
    "zoom-2": "Zoom out 2x",  # i18n: not shown
    "square": "Make square",  # i18n: not shown
    "pan-left": "Left outpaint",  # i18n: not shown
    "pan-right": "Right outpaint",  # i18n: not shown
    "pan-up": "Top outpaint",  # i18n: not shown
    "pan-down": "Bottom outpaint",  # i18n: not shown
}

Size = tuple[int, int]


def is_square(size: Size | None) -> bool:
    return size is not None and size[0] == size[1]


def shown_actions(request: JobRequest, size: Size | None) -> list[str]:
    """The buttons under a result of `request` whose picture is `size`, in screen order.

    An upscaled picture is not upscaled, rerolled or re-prompted again (it is already as big as
    the tools make, and its prompt and seed are its parent's), and a square one is not made
    square."""
    shown = []
    for name in ACTIONS:
        if name in UPSCALES and isinstance(request, Upscale):
            continue
        if name == "square" and is_square(size):
            continue
        if name in ("reroll", "edit") and isinstance(request, Upscale):
            continue  # an upscale has no prompt or seed of its own worth changing
        shown.append(name)
    return shown


def nearest_aspect(size: Size | None) -> AspectRatio:
    """The supported aspect ratio closest to `size` (1:1 when unknown)."""
    if not size or not size[1]:
        return "1:1"
    ratio = size[0] / size[1]

    def distance(aspect: AspectRatio) -> float:
        a, b = (int(x) for x in aspect.split(":"))
        return abs(a / b - ratio)

    return min(ASPECT_RATIOS, key=distance)


def fill_format(request: JobRequest) -> FillFormat:
    """The parent's format where Topaz and Flux Fill make it (JPEG or PNG): WebP becomes JPEG."""
    return "png" if request.output_format == "png" else "jpg"


def makes_new_generation(action: str, parent: JobRequest) -> bool:
    """Whether `action` on a result of `parent` makes a generation with settings of its own
    (a variation of an upscale or a zoom), rather than keeping the parent's."""
    return RENAMED.get(action, action) in VARIES and not isinstance(parent, Generate)


class Refused(Exception):
    """The action cannot apply to this image; `text` is for the member."""

    def __init__(self, text: Text) -> None:
        super().__init__(text)
        self.text = text


def derive(
    action: str,
    parent: JobRequest,
    *,
    image: str,
    size: Size | None,
    origin: str | None,
    default_resolution: Resolution,
    fresh: Mapping[str, Any] | None = None,
) -> JobRequest:
    """The request for `action` on the image at `image` (the result of `parent`). `fresh`:
    generation options (the member's defaults) for a generation that does not keep its
    parent's settings (see `makes_new_generation`).

    Raises `Refused` when the action does not apply (e.g. squaring a square), ValueError for
    an action that derives no request (delete, edit) or none at all."""
    action = RENAMED.get(action, action)
    size = known_size(size)  # a side of 0 (or of millions) says nothing about the picture
    if action in UPSCALES:
        return Upscale(
            image=image,
            size=size,
            mode=UPSCALES[action],
            output_format=fill_format(parent),
            origin=origin,
        )
    if action in OUTPAINTS:
        if action == "square" and is_square(size):
            raise Refused(t("This image is already square."))
        return Outpaint(
            image=image,
            size=size,
            preset=OUTPAINTS[action],
            output_format=fill_format(parent),
            origin=origin,
        )
    if action in VARIES:
        changes = {
            "references": [image],
            "strength": VARIES[action],
            "seed": new_seed(),
            "origin": origin,
        }
        if isinstance(parent, Generate):
            return parent.changed(**changes)
        return generate(
            default_resolution=default_resolution,
            **dict(fresh or {}, aspect_ratio=nearest_aspect(size), **changes),
        )
    if action == "reroll":
        return parent.changed(seed=new_seed(), origin=origin)
    raise ValueError(f"unknown action {action!r}")
