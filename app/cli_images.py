"""`flux-bot generate`, `upscale`, `outpaint` and `fetch`: one image to a file, with a progress
bar, through the same typed requests as the bot (`bot.jobs.request`)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from app._common import EXIT_USAGE, fail, log_secrets
from bot.apiframe.errors import ApiframeError, InsufficientCredits, NotFound
from bot.apiframe.models import ASPECT_RATIOS, OUTPUT_FORMATS, RESOLUTIONS, JobStatus, Submission
from bot.config import Settings, load_settings
from bot.images import ImageProblem, identify
from bot.jobs.actions import OUTPAINTS
from bot.jobs.request import JobRequest, Outpaint, Upscale, generate, to_apiframe
from bot.logs import setup_logging

if TYPE_CHECKING:
    from bot.apiframe.client import ApiframeClient

# `--preset` of `outpaint`: the names the buttons use, without "pan-".
PRESETS = {name.removeprefix("pan-"): preset for name, preset in OUTPAINTS.items()}


# The flag behind each field of the request (and of its wire body), so an error names what
# the user typed.
_FLAGS = {
    "references": "--image",
    "strength": "--strength",
    "quality": "--quality",
    "resolution": "--resolution",
    "aspect_ratio": "--aspect-ratio",
    "image_prompt": "--image",
    "image_prompt_strength": "--strength",
    "input_images": "--image",
    "output_format": "--format",
    "output_quality": "--quality",
    "prompt_upsampling": "--upsample",
    "seed": "--seed",
    "image": "IMAGE_URL",
    "factor": "--factor",
    "preset": "--preset",
    "prompt": "--prompt",
}


_FORMAT_BY_SUFFIX = {".png": "png", ".jpg": "jpg", ".jpeg": "jpg", ".webp": "webp"}


def _request(args: argparse.Namespace, settings: Settings) -> JobRequest:
    """The same request /flux or a button would make (defaults, seed range, rounding)."""
    if args.command == "upscale":
        return Upscale(
            image=args.image_url,
            mode="creative" if args.creative else "subtle",
            factor=args.factor,
            **_given(output_format=args.format, seed=args.seed),
        )
    if args.command == "outpaint":
        return Outpaint(
            image=args.image_url,
            preset=PRESETS[args.preset],
            upsample=args.upsample,
            **_given(output_format=args.format, seed=args.seed),
        )
    return generate(
        default_resolution=settings.default_resolution,
        resolution=args.resolution,
        aspect_ratio=args.aspect_ratio,
        references=args.image or None,
        strength=args.strength,
        output_format=args.format,
        quality=args.quality,
        upsample=args.upsample or None,
        seed=args.seed,
    )


def _given(**options: Any) -> dict[str, Any]:
    return {key: value for key, value in options.items() if value is not None}


def _option_problem(exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else ""
    where = f"option {_FLAGS[field]}" if field in _FLAGS else field or "options"
    return f"invalid {where}: {first['msg'].removeprefix('Value error, ')}"


def _output_problem(output: Path | None, *, force: bool = False) -> str | None:
    """Why the image could not be saved at `output` (None: flux-<job>.<format> in the current
    folder), or None. Asked before submitting, for real (a file is created and removed): a job
    paid for but not saved is money lost."""
    if output is not None and output.is_dir():
        return f"{output} is a folder; give a file name with -o"
    if output is not None and output.exists():
        if not output.is_file():
            return f"{output} is not a regular file; give a file name with -o"
        if not force:
            return f"{output} exists; add --force to overwrite it"
        if not os.access(output, os.W_OK):
            return f"cannot write {output}: permission denied"
        return None
    folder = output.parent if output is not None else Path.cwd()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".flux-bot-check-") as probe:
            probe.write(b"\0")
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        return f"cannot write in {folder}: {exc.strerror or exc}"
    return None


async def _submit(
    settings: Settings,
    args: argparse.Namespace,
    request: Submission,
    output: Path | None,
    seed: int,
) -> int:
    from bot.services import apiframe_client

    started = time.monotonic()
    async with apiframe_client(settings) as client:
        accepted = await client.submit(request, idempotency_key=f"cli-{uuid.uuid4()}")
        # From here on the job exists and may be billed: every error names it, so it can be
        # looked up (or its result fetched) later.
        try:
            return await _finish(client, accepted.job_id, args, output, started, seed=seed)
        except ApiframeError as exc:
            return fail(f"{exc.message} (job {accepted.job_id})")
        except asyncio.CancelledError:  # Ctrl+C
            print(
                f"stopped; job {accepted.job_id} may still finish:"
                f" `flux-bot fetch {accepted.job_id}` gets it",
                file=sys.stderr,
            )
            raise


async def _finish(
    client: ApiframeClient,
    job_id: str,
    args: argparse.Namespace,
    output: Path | None,
    started: float,
    *,
    seed: int | None = None,
) -> int:
    """Wait for the job (with a progress bar), download its image and save it."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        transient=True,
        disable=args.quiet or not sys.stderr.isatty(),
        console=None,
    ) as progress:
        task = progress.add_task("queued", total=100)
        delay = 1.0
        while True:
            job = await client.get_job(job_id)
            progress.update(
                task,
                description=job.status.value.lower(),
                completed=job.progress or 0,
            )
            if job.status.is_terminal:
                break
            if time.monotonic() - started > args.timeout:
                return fail(f"gave up after {args.timeout:.0f} s; job {job.id} still running")
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 5.0)
    if job.status is JobStatus.FAILED:
        return fail(f"the job failed: {job.error or 'no reason given'} (job {job.id})")
    if job.status is JobStatus.CANCELLED:
        return fail(f"the job was cancelled (job {job.id})")
    urls = job.image_urls
    if not urls:
        return fail(f"the job finished without an image (job {job.id})")
    image = await client.download(urls[0])
    try:
        fmt = (await asyncio.to_thread(identify, image.data, decode=False)).format
    except ImageProblem:
        fmt = "jpg"  # saved all the same: it was paid for
    path = output or Path(f"flux-{job.id}.{fmt}")
    try:
        await asyncio.to_thread(_write, path, image.data, getattr(args, "force", False))
    except FileExistsError:
        return fail(f"{path} appeared meanwhile; add --force to overwrite it (job {job.id})")
    except OSError as exc:
        return fail(f"cannot write {path}: {exc.strerror or exc} (job {job.id})")
    elapsed = time.monotonic() - started
    print(f"saved {path} ({len(image.data):,} bytes)")
    print(
        f"job {job.id}" + (f"  seed {seed}" if seed is not None else "") + f"  time {elapsed:.1f} s"
    )
    return 0


def _write(path: Path, data: bytes, force: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb" if force else "xb") as file:  # never overwrite without --force
        file.write(data)


def cmd_generate(args: argparse.Namespace) -> int:
    """Make one image (generate, upscale or outpaint) to a file, with a progress bar."""
    if args.command == "generate" and args.strength is not None and not args.image:
        # As /flux: a strength means nothing without the image it weighs.
        return fail(
            "--strength only applies with a reference --image; give one or leave it out", EXIT_USAGE
        )
    if not args.timeout > 0:
        return fail(f"--timeout must be more than 0 seconds, not {args.timeout:g}", EXIT_USAGE)
    # `-o fox.png` asks for a PNG: the file name's extension picks the format, unless it
    # contradicts an explicit --format.
    suffix = Path(args.output).suffix.lower() if args.output else ""
    formats = {s: f for s, f in _FORMAT_BY_SUFFIX.items() if f in args.formats}
    if suffix and suffix not in formats:
        made = ", ".join(sorted(set(formats)))
        return fail(f"-o {args.output}: this makes {made} files, not {suffix}", EXIT_USAGE)
    implied = formats.get(suffix)
    if implied and args.format and implied != args.format:
        return fail(
            f"-o {args.output} names a .{implied} file but --format is {args.format}", EXIT_USAGE
        )
    args.format = args.format or implied
    settings = load_settings()
    settings.require("apiframe_api_key")
    # Retries are the client's business: the user sees the progress bar, then one line.
    setup_logging("ERROR", log_secrets(settings), settings.log_format)
    # Everything that can be checked locally is, before the job is paid for.
    try:
        request = _request(args, settings)
        body = to_apiframe(args.prompt or "", request)
    except ValidationError as exc:
        return fail(_option_problem(exc), EXIT_USAGE)
    output = Path(args.output) if args.output else None
    if problem := _output_problem(output, force=args.force):
        return fail(problem, EXIT_USAGE)
    try:
        return asyncio.run(_submit(settings, args, body, output, request.seed))
    except InsufficientCredits as exc:
        numbers = ""
        if exc.required is not None:
            numbers = f" (needs {exc.required}, has {exc.available})"
        return fail(f"the Apiframe account is out of credits{numbers}")
    except ApiframeError as exc:
        return fail(exc.message)


async def _fetch(settings: Settings, args: argparse.Namespace, output: Path | None) -> int:
    from bot.services import apiframe_client

    async with apiframe_client(settings) as client:
        try:
            return await _finish(client, args.job_id, args, output, time.monotonic())
        except NotFound:
            return fail(f"Apiframe has no job {args.job_id} (or its image has expired)")
        except ApiframeError as exc:
            return fail(f"{exc.message} (job {args.job_id})")


def cmd_fetch(args: argparse.Namespace) -> int:
    """Save the image of a job made earlier (e.g. one `generate` was stopped waiting for)."""
    if not args.timeout > 0:
        return fail(f"--timeout must be more than 0 seconds, not {args.timeout:g}", EXIT_USAGE)
    output = Path(args.output) if args.output else None
    if problem := _output_problem(output, force=args.force):
        return fail(problem, EXIT_USAGE)
    settings = load_settings()
    settings.require("apiframe_api_key")
    setup_logging("ERROR", log_secrets(settings), settings.log_format)
    return asyncio.run(_fetch(settings, args, output))


FILL_FORMATS = ("jpg", "png")  # what Topaz and Flux Fill make


def _output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", help="file to write (default flux-<job>.<format>)")
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds to wait at most (default 600)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--force", action="store_true", help="overwrite the -o file if it exists")


def add_image_commands(sub: Any) -> None:
    """`generate`, `upscale`, `outpaint` and `fetch` on the `flux-bot` parser."""
    gen = sub.add_parser("generate", help="generate one image to a file")
    gen.add_argument("prompt")
    gen.add_argument("--resolution", choices=RESOLUTIONS)
    gen.add_argument("--aspect-ratio", choices=ASPECT_RATIOS)
    gen.add_argument(
        "--image",
        metavar="URL",
        action="append",
        help="reference image URL; give it up to 8 times (the first also guides --strength)",
    )
    gen.add_argument(
        "--strength", type=float, help="reference strength 0-1, rounded to steps of 0.05"
    )
    gen.add_argument("--format", choices=OUTPUT_FORMATS, type=lambda f: "jpg" if f == "jpeg" else f)
    gen.add_argument("--quality", type=int, help="output quality 0-100")
    gen.add_argument("--upsample", action="store_true", help="let the model rewrite the prompt")
    gen.add_argument("--seed", type=int)
    _output_options(gen)
    gen.set_defaults(func=cmd_generate, formats=OUTPUT_FORMATS)

    up = sub.add_parser("upscale", help="upscale an image to a file (Topaz, or Clarity)")
    up.add_argument("image_url", metavar="IMAGE_URL")
    up.add_argument(
        "--creative", action="store_true", help="Clarity: invent detail (default Topaz: faithful)"
    )
    up.add_argument("--factor", type=int, choices=(2, 4), default=2, help="default 2")
    up.add_argument("--prompt", help="what the picture shows (guides --creative)")
    up.add_argument("--format", choices=FILL_FORMATS)
    up.add_argument("--seed", type=int)
    _output_options(up)
    up.set_defaults(func=cmd_generate, formats=FILL_FORMATS)

    out = sub.add_parser("outpaint", help="zoom out, square or pan an image to a file")
    out.add_argument("image_url", metavar="IMAGE_URL")
    out.add_argument("--preset", choices=list(PRESETS), required=True)
    out.add_argument("--prompt", required=True, help="what the picture shows")
    out.add_argument("--format", choices=FILL_FORMATS)
    out.add_argument("--upsample", action="store_true", help="let the model rewrite the prompt")
    out.add_argument("--seed", type=int)
    _output_options(out)
    out.set_defaults(func=cmd_generate, formats=FILL_FORMATS)

    fetch = sub.add_parser("fetch", help="save the image of a job made earlier")
    fetch.add_argument("job_id", metavar="JOB_ID")
    _output_options(fetch)
    fetch.set_defaults(func=cmd_fetch)
