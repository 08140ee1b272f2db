"""The checks of a member's options that need no I/O, made before acknowledging: the prompt,
`strength` and what Discord says of each attached reference (type and size)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot import images
from bot.apiframe.models import PROMPT_MAX_LENGTH
from bot.i18n import Text, t


@dataclass(frozen=True, slots=True)
class Attached:
    """A reference image as Discord describes it, before anything is downloaded."""

    filename: str
    content_type: str | None
    size: int


def options_problem(
    prompt: str, references: Sequence[Attached], strength: float | None
) -> Text | None:
    """A refusal message for the member, or None when the options may go on."""
    if not prompt.strip():
        return t("Please describe the image you want: the prompt can't be empty.")
    if len(prompt) > PROMPT_MAX_LENGTH:
        return t(
            "Your prompt is {length} characters; please keep it to {limit}.",
            length=len(prompt),
            limit=PROMPT_MAX_LENGTH,
        )
    if strength is not None and not references:
        return t("`strength` only applies with a reference `image`; attach one or leave it out.")
    for image in references:
        if image.content_type and not image.content_type.startswith("image/"):
            return t(
                "`{filename}` is not an image. Attach a PNG, JPEG, WebP or GIF as the reference.",
                filename=image.filename,
            )
        if image.size > images.REFERENCE_MAX_BYTES:
            size = f"{image.size / 2**20:.1f}"
            return t(
                "`{filename}` is {size} MiB; reference images may be at most {limit} MiB.",
                filename=image.filename,
                size=size,
                limit=images.REFERENCE_MAX_BYTES // 2**20,
            )
    return None
