"""How a request reads to people: one formatter for the result embed, the audit log, the usage
commands and the buttons, so a setting is named and shown the same way everywhere."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bot.apiframe.models import Resolution
from bot.jobs.request import JOB_KINDS, Generate, JobRequest, Outpaint, Upscale

# What each kind of job is called where people read it.
KIND_LABELS = {"generate": "Generation", "upscale": "Upscale", "outpaint": "Zoom out / pan"}
UPSCALE_LABELS = {"subtle": "Subtle (Topaz)", "creative": "Creative (Clarity)"}
PRESET_LABELS = {
    "Zoom out 1.5x": "Zoom out 1.5×",
    "Zoom out 2x": "Zoom out 2×",
    "Make square": "Make square",
    "Left outpaint": "Pan ⬅",
    "Right outpaint": "Pan ➡",
    "Top outpaint": "Pan ⬆",
    "Bottom outpaint": "Pan ⬇",
}


def resolution_label(resolution: Resolution | str) -> str:
    """ "2MP" as people write it: "2 MP"."""
    return resolution.replace("MP", " MP")


def kind_label(kind: str) -> str:
    """ "upscale" as people read it: "Upscale"."""
    return KIND_LABELS.get(kind, kind.capitalize())


def kinds_summary(counts: Iterable[Mapping[str, int]]) -> str:
    """ "Generation 12 · Upscale 3": jobs per kind added up over `counts`, in a fixed order,
    kinds with none left out ("" when there are none at all)."""
    rows = list(counts)
    totals = {kind: sum(row.get(kind, 0) for row in rows) for kind in JOB_KINDS}
    return " · ".join(f"{kind_label(kind)} {n}" for kind, n in totals.items() if n)


def reference_label(request: JobRequest) -> str | None:
    """What the references did, or None without any."""
    if not isinstance(request, Generate) or not request.references:
        return None
    count = len(request.references)
    parts = [f"{count} images"] if count > 1 else []
    if request.strength is not None:
        parts.append(f"strength {request.strength:g}")
    return ", ".join(parts) or "used"


def facts(request: JobRequest, *, file_format: str | None = None) -> list[tuple[str, str]]:
    """(label, value) for each setting of `request`, in display order. `file_format`: the
    format of the file actually posted, when a too-large image had to be re-encoded."""
    shown_format = (file_format or request.output_format).upper()
    if isinstance(request, Upscale):
        return [
            ("Upscale", f"{UPSCALE_LABELS[request.mode]} ×{request.factor}"),
            ("Seed", str(request.seed)),
            ("Format", shown_format),
        ]
    if isinstance(request, Outpaint):
        shown = [
            ("Outpaint", PRESET_LABELS[request.preset]),
            ("Seed", str(request.seed)),
            ("Format", shown_format),
        ]
        if request.upsample:
            shown.append(("Upsampling", "on"))
        return shown
    shown = [
        ("Resolution", request.resolution),
        ("Aspect", request.aspect_ratio),
        ("Seed", str(request.seed)),
        ("Format", shown_format),
    ]
    if request.quality is not None:
        shown.append(("Quality", str(request.quality)))
    if (reference := reference_label(request)) is not None:
        shown.append(("Reference", reference))
    if request.upsample:
        shown.append(("Upsampling", "on"))
    return shown


def summary(request: JobRequest) -> str:
    """The settings on one line: "Resolution 1MP · Aspect 16:9 · Seed 42 · Format PNG"."""
    return " · ".join(f"{label} {value}" for label, value in facts(request))
