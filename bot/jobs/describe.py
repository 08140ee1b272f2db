"""How a request reads to people: one formatter for the result embed, the audit log, the usage
commands and the buttons, so a setting is named and shown the same way everywhere."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bot.apiframe.models import Resolution
from bot.i18n import Renderable, Text, render, t, tn
from bot.jobs.request import JOB_KINDS, Generate, JobRequest, Outpaint, Upscale

# What each kind of job is called where people read it.
KIND_LABELS = {
    "generate": t("Generation"),
    "upscale": t("Upscale"),
    "outpaint": t("Zoom out / pan"),
}
UPSCALE_LABELS = {"subtle": t("Subtle (Topaz)"), "creative": t("Creative (Clarity)")}
# Apiframe's outpaint presets (the keys) as people read them.
PRESET_LABELS = {
    "Zoom out 1.5x": t("Zoom out 1.5×"),  # i18n: not shown (the key)
    "Zoom out 2x": t("Zoom out 2×"),  # i18n: not shown (the key)
    "Make square": t("Make square"),  # i18n: not shown (the key)
    "Left outpaint": t("Pan ⬅"),  # i18n: not shown (the key)
    "Right outpaint": t("Pan ➡"),  # i18n: not shown (the key)
    "Top outpaint": t("Pan ⬆"),  # i18n: not shown (the key)
    "Bottom outpaint": t("Pan ⬇"),  # i18n: not shown (the key)
}
Fact = tuple[Text, Renderable]


def resolution_label(resolution: Resolution | str) -> str:
    """ "2MP" as people write it: "2 MP"."""
    return resolution.replace("MP", " MP")


def kind_label(kind: str) -> Text:
    """ "upscale" as people read it: "Upscale"."""
    return KIND_LABELS.get(kind) or Text(kind.capitalize())


def kinds_summary(counts: Iterable[Mapping[str, int]], locale: object = None) -> str:
    """ "Generation 12 · Upscale 3" in the language of `locale`: jobs per kind added up over
    `counts`, in a fixed order, kinds with none left out ("" when there are none at all)."""
    rows = list(counts)
    totals = {kind: sum(row.get(kind, 0) for row in rows) for kind in JOB_KINDS}
    return " · ".join(
        render(t("{kind} {count}", kind=kind_label(kind), count=n), locale)
        for kind, n in totals.items()
        if n
    )


def reference_label(request: JobRequest) -> Text | None:
    """What the references did, or None without any."""
    if not isinstance(request, Generate) or not request.references:
        return None
    count, strength = len(request.references), request.strength
    if count > 1 and strength is not None:
        return tn(
            "{count} image, strength {strength}",
            "{count} images, strength {strength}",
            count,
            strength=strength,
        )
    if count > 1:
        return tn("{count} image", "{count} images", count)
    if strength is not None:
        return t("strength {strength}", strength=strength)
    return t("used")


def facts(request: JobRequest, *, file_format: str | None = None) -> list[Fact]:
    """(label, value) for each setting of `request`, in display order. `file_format`: the
    format of the file actually posted, when a too-large image had to be re-encoded."""
    shown_format = (file_format or request.output_format).upper()
    if isinstance(request, Upscale):
        upscale = t(
            "{mode} ×{factor}", mode=UPSCALE_LABELS[request.mode], factor=str(request.factor)
        )
        return [
            (t("Upscale"), upscale),
            (t("Seed"), str(request.seed)),
            (t("Format"), shown_format),
        ]
    if isinstance(request, Outpaint):
        shown: list[Fact] = [
            (t("Outpaint"), PRESET_LABELS[request.preset]),
            (t("Seed"), str(request.seed)),
            (t("Format"), shown_format),
        ]
        if request.upsample:
            shown.append((t("Upsampling"), t("on")))
        return shown
    shown = [
        (t("Resolution"), request.resolution),
        (t("Aspect"), request.aspect_ratio),
        (t("Seed"), str(request.seed)),
        (t("Format"), shown_format),
    ]
    if request.quality is not None:
        shown.append((t("Quality"), str(request.quality)))
    if (reference := reference_label(request)) is not None:
        shown.append((t("Reference"), reference))
    if request.upsample:
        shown.append((t("Upsampling"), t("on")))
    return shown


def summary(request: JobRequest, locale: object = None) -> str:
    """The settings on one line, in the language of `locale`: "Resolution 1MP · Aspect 16:9 ·
    Seed 42 · Format PNG"."""
    return " · ".join(
        render(t("{label} {value}", label=label, value=value), locale)
        for label, value in facts(request)
    )
