"""The `flux-bot` command: run (default), check, health, generate, fetch, sandbox, migrate."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

from pydantic import ValidationError

from bot.apiframe.errors import ApiframeError, InsufficientCredits, NotFound
from bot.apiframe.models import (
    ASPECT_RATIOS,
    OUTPUT_FORMATS,
    RESOLUTIONS,
    GenerateRequest,
    JobStatus,
)
from bot.config import Settings, SettingsError, load_settings
from bot.images import ImageProblem, identify
from bot.jobs.request import generate, to_apiframe
from bot.logs import setup_logging

if TYPE_CHECKING:
    from bot.apiframe.client import ApiframeClient

log = logging.getLogger(__name__)

EXIT_FAILURE = 1
EXIT_SETTINGS = 2
EXIT_USAGE = 2  # refused before anything was sent (nothing paid)


def _secrets(settings: Settings) -> list[str]:
    """What logs must never show: the token, the key, and the webhook path derived from it."""
    from bot.jobs.webhook import webhook_path_secret

    values = [
        secret.get_secret_value()
        for secret in (settings.discord_token, settings.apiframe_api_key)
        if secret is not None
    ]
    if settings.apiframe_api_key is not None:
        values.append(webhook_path_secret(settings.apiframe_api_key.get_secret_value()))
    return values


def _fail(message: str, code: int = EXIT_FAILURE) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


# --- run ---------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    """Start the bot and keep it running until stopped."""
    settings = load_settings()
    settings.require("discord_token", "apiframe_api_key")
    setup_logging(settings.log_level, _secrets(settings))
    for line in settings.warnings:
        log.warning(line)
    from app.run import StartupError, run_bot  # imports discord.py: only when running

    try:
        asyncio.run(run_bot(settings))
    except StartupError as exc:
        return _fail(str(exc))
    return 0


# --- check -------------------------------------------------------------------------------


async def _check(settings: Settings) -> list[tuple[str, bool, str]]:
    from bot.services import apiframe_client
    from bot.storage.db import describe_url
    from bot.storage.migrations import current_revision, head_revision

    results: list[tuple[str, bool, str]] = []
    try:
        revision = await current_revision(settings.database_url)
        where = describe_url(settings.database_url)
        if revision is not None and revision > head_revision():
            # Written by a newer version: this one must not run on it.
            detail = f"{where}: at revision {revision}, newer than this version ({head_revision()})"
            results.append(("database", False, detail))
        else:
            state = f"at revision {revision}" if revision else "reachable, not migrated yet"
            results.append(("database", True, f"{where}: {state}"))
    except Exception as exc:  # any driver error means "not reachable"; say which kind
        results.append(("database", False, f"cannot reach it ({type(exc).__name__})"))

    if problem := settings.problem("apiframe_api_key"):
        results.append(("apiframe", False, problem))
    else:
        async with apiframe_client(settings) as client:
            try:
                me = await client.me()
                team = me.get("team") or {}
                credits = team.get("credits")
                detail = f"key accepted; {credits} credits left" if credits is not None else ""
                results.append(("apiframe", True, detail or "key accepted"))
            except ApiframeError as exc:
                results.append(("apiframe", False, exc.message))

    if problem := settings.problem("discord_token"):
        results.append(("discord", False, problem))
    else:
        results.append(await _check_discord(settings))
    return results


async def _check_discord(settings: Settings) -> tuple[str, bool, str]:
    import aiohttp

    base = settings.discord_api_base_url or "https://discord.com/api/v10"
    headers = {"Authorization": f"Bot {settings.secret('discord_token')}"}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session,
            session.get(f"{base}/users/@me", headers=headers) as response,
        ):
            if response.status == 401:
                return ("discord", False, "the token was refused (401): reset it in the portal")
            if response.status != 200:
                return ("discord", False, f"unexpected answer {response.status}")
            user = await response.json()
            return ("discord", True, f"logged in as {user.get('username')} ({user.get('id')})")
    except (aiohttp.ClientError, TimeoutError) as exc:
        return ("discord", False, f"cannot reach {base} ({type(exc).__name__})")


def cmd_check(args: argparse.Namespace) -> int:
    """Validate the settings, then reach the database, Apiframe and Discord; one line each."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        print("settings  FAIL")
        for problem in exc.problems:
            print(f"  {problem}")
        return EXIT_SETTINGS
    setup_logging("WARNING", _secrets(settings))
    print("settings  ok    loaded")
    results = asyncio.run(_check(settings))
    for name, ok, detail in results:
        print(f"{name:<9} {'ok' if ok else 'FAIL':<5} {detail}")
    return 0 if all(ok for _, ok, _ in results) else EXIT_FAILURE


# --- generate ----------------------------------------------------------------------------


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
}


_FORMAT_BY_SUFFIX = {".png": "png", ".jpg": "jpg", ".jpeg": "jpg", ".webp": "webp"}


def _generate_request(args: argparse.Namespace, settings: Settings) -> GenerateRequest:
    """The same request /flux would make (defaults, seed range, strength rounding)."""
    request = generate(
        default_resolution=settings.default_resolution,
        resolution=args.resolution,
        aspect_ratio=args.aspect_ratio,
        references=[args.image] if args.image else None,
        strength=args.strength,
        output_format=args.format,
        quality=args.quality,
        upsample=args.upsample or None,
        seed=args.seed,
    )
    return cast(GenerateRequest, to_apiframe(args.prompt, request))


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


async def _generate(
    settings: Settings, args: argparse.Namespace, request: GenerateRequest, output: Path | None
) -> int:
    from bot.services import apiframe_client

    started = time.monotonic()
    async with apiframe_client(settings) as client:
        accepted = await client.submit(request, idempotency_key=f"cli-{uuid.uuid4()}")
        # From here on the job exists and may be billed: every error names it, so it can be
        # looked up (or its result fetched) later.
        try:
            return await _finish(
                client, accepted.job_id, args, output, started, seed=request.flux_params.seed
            )
        except ApiframeError as exc:
            return _fail(f"{exc.message} (job {accepted.job_id})")
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
                return _fail(f"gave up after {args.timeout:.0f} s; job {job.id} still running")
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 5.0)
    if job.status is JobStatus.FAILED:
        return _fail(f"the generation failed: {job.error or 'no reason given'} (job {job.id})")
    if job.status is JobStatus.CANCELLED:
        return _fail(f"the job was cancelled (job {job.id})")
    urls = job.image_urls
    if not urls:
        return _fail(f"the job finished without an image (job {job.id})")
    image = await client.download(urls[0])
    try:
        fmt = (await asyncio.to_thread(identify, image.data, decode=False)).format
    except ImageProblem:
        fmt = "jpg"  # saved all the same: it was paid for
    path = output or Path(f"flux-{job.id}.{fmt}")
    try:
        await asyncio.to_thread(_write, path, image.data, getattr(args, "force", False))
    except FileExistsError:
        return _fail(f"{path} appeared meanwhile; add --force to overwrite it (job {job.id})")
    except OSError as exc:
        return _fail(f"cannot write {path}: {exc.strerror or exc} (job {job.id})")
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
    """Generate one image to a file, with a progress bar."""
    if args.strength is not None and args.image is None:
        # As /flux: a strength means nothing without the image it weighs.
        return _fail(
            "--strength only applies with a reference --image; give one or leave it out", EXIT_USAGE
        )
    if not args.timeout > 0:
        return _fail(f"--timeout must be more than 0 seconds, not {args.timeout:g}", EXIT_USAGE)
    # `-o fox.png` asks for a PNG: the file name's extension picks the format, unless it
    # contradicts an explicit --format.
    suffix = Path(args.output).suffix.lower() if args.output else ""
    if suffix and suffix not in _FORMAT_BY_SUFFIX:
        return _fail(
            f"-o {args.output}: Apiframe makes .png, .jpg or .webp files, not {suffix}", EXIT_USAGE
        )
    implied = _FORMAT_BY_SUFFIX.get(suffix)
    if implied and args.format and implied != args.format:
        return _fail(
            f"-o {args.output} names a .{implied} file but --format is {args.format}", EXIT_USAGE
        )
    args.format = args.format or implied
    settings = load_settings()
    settings.require("apiframe_api_key")
    # Retries are the client's business: the user sees the progress bar, then one line.
    setup_logging("ERROR", _secrets(settings))
    # Everything that can be checked locally is, before the job is paid for.
    try:
        request = _generate_request(args, settings)
    except ValidationError as exc:
        return _fail(_option_problem(exc), EXIT_USAGE)
    output = Path(args.output) if args.output else None
    if problem := _output_problem(output, force=args.force):
        return _fail(problem, EXIT_USAGE)
    try:
        return asyncio.run(_generate(settings, args, request, output))
    except InsufficientCredits as exc:
        numbers = ""
        if exc.required is not None:
            numbers = f" (needs {exc.required}, has {exc.available})"
        return _fail(f"the Apiframe account is out of credits{numbers}")
    except ApiframeError as exc:
        return _fail(exc.message)


async def _fetch(settings: Settings, args: argparse.Namespace, output: Path | None) -> int:
    from bot.services import apiframe_client

    async with apiframe_client(settings) as client:
        try:
            return await _finish(client, args.job_id, args, output, time.monotonic())
        except NotFound:
            return _fail(f"Apiframe has no job {args.job_id} (or its image has expired)")
        except ApiframeError as exc:
            return _fail(f"{exc.message} (job {args.job_id})")


def cmd_fetch(args: argparse.Namespace) -> int:
    """Save the image of a job made earlier (e.g. one `generate` was stopped waiting for)."""
    if not args.timeout > 0:
        return _fail(f"--timeout must be more than 0 seconds, not {args.timeout:g}", EXIT_USAGE)
    output = Path(args.output) if args.output else None
    if problem := _output_problem(output, force=args.force):
        return _fail(problem, EXIT_USAGE)
    settings = load_settings()
    settings.require("apiframe_api_key")
    setup_logging("ERROR", _secrets(settings))
    return asyncio.run(_fetch(settings, args, output))


# --- health ------------------------------------------------------------------------------


def cmd_health(args: argparse.Namespace) -> int:
    """Ask the running bot's `/healthz` (Docker's HEALTHCHECK): exit 0 when it is fit to serve.
    Reads WEB_HOST and WEB_PORT as the bot does, so an empty WEB_PORT means 8080 here too."""
    import json
    import urllib.error
    import urllib.request

    settings = load_settings()
    if settings.web_port == 0:
        return _fail("WEB_PORT is 0 (any free port): there is no fixed port to ask")
    host = "127.0.0.1" if settings.web_host in ("", "0.0.0.0", "::") else settings.web_host  # noqa: S104
    url = f"http://{f'[{host}]' if ':' in host else host}:{settings.web_port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=args.timeout):
            print(f"ok    {url}")
            return 0
    except urllib.error.HTTPError as exc:
        try:
            report = json.loads(exc.read())
            detail = f"discord {report.get('discord')}, jobs {report.get('jobs')}"
        except ValueError:
            detail = exc.reason
        print(f"FAIL  {url}: {exc.code} ({detail})")
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        print(f"FAIL  {url}: cannot reach it ({reason})")
    return EXIT_FAILURE


# --- sandbox -----------------------------------------------------------------------------


async def _serve_sandbox(host: str, port: int, key: str) -> int:
    from bot.apiframe.sandbox import SandboxConfig, serve

    try:
        runner, url = await serve(host, port, SandboxConfig(api_keys={key}))
    except OSError as exc:  # the port is taken, or the host is not this machine's
        # asyncio says "error while attempting to bind on address (...): address in use".
        reason = (exc.strerror or str(exc)).rsplit(": ", 1)[-1]
        return _fail(f"cannot listen on {host}:{port}: {reason}")
    if host not in ("127.0.0.1", "localhost", "::1"):
        # Its /_sandbox/ control routes have no authentication.
        print(f"warning: {host} is reachable from other machines; anyone there can control the"
              " sandbox through /_sandbox/", file=sys.stderr)  # fmt: skip
    print(f"Apiframe sandbox listening on {url}")
    print(f"  APIFRAME_BASE_URL={url}")
    print(f"  APIFRAME_API_KEY={key}")
    print("Press Ctrl+C to stop.", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
    return 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    """Serve the local Apiframe sandbox (free, fake images) until stopped."""
    if not 0 <= args.port <= 65535:
        return _fail(f"--port must be 0-65535 (0: any free port), not {args.port}", EXIT_USAGE)
    setup_logging("INFO")
    return asyncio.run(_serve_sandbox(args.host, args.port, args.key))


# --- migrate -----------------------------------------------------------------------------


def cmd_migrate(args: argparse.Namespace) -> int:
    """Apply the database migrations."""
    from bot.storage.db import describe_url
    from bot.storage.migrations import current_revision, migrate

    settings = load_settings()
    setup_logging(settings.log_level, _secrets(settings))
    where = describe_url(settings.database_url)

    async def _run() -> str | None:
        await migrate(settings.database_url)
        return await current_revision(settings.database_url)

    try:
        revision = asyncio.run(_run())
    except Exception as exc:  # unreachable, refused, locked...: one line; LOG_LEVEL=DEBUG has more
        log.debug("migration failed", exc_info=True)
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else "no details"
        return _fail(f"cannot migrate {where}: {type(exc).__name__}: {detail}")
    print(f"{where} is at revision {revision}")
    return 0


# --- parser ------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flux-bot",
        description="A self-hostable Discord bot for FLUX.2 [max] via Apiframe.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("run", help="start the bot (the default)").set_defaults(func=cmd_run)
    sub.add_parser("check", help="check settings, database, Apiframe and Discord").set_defaults(
        func=cmd_check
    )
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    health = sub.add_parser("health", help="ask the running bot whether it is fit to serve")
    health.add_argument("--timeout", type=float, default=4.0, help="seconds (default 4)")
    health.set_defaults(func=cmd_health)

    sandbox = sub.add_parser("sandbox", help="serve a local fake Apiframe API for trying the bot")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8787)
    sandbox.add_argument("--key", default="afk_sandbox", help="the API key it accepts")
    sandbox.set_defaults(func=cmd_sandbox)

    gen = sub.add_parser("generate", help="generate one image to a file")
    gen.add_argument("prompt")
    gen.add_argument("--resolution", choices=RESOLUTIONS)
    gen.add_argument("--aspect-ratio", choices=ASPECT_RATIOS)
    gen.add_argument("--image", metavar="URL", help="reference image URL")
    gen.add_argument(
        "--strength", type=float, help="reference strength 0-1, rounded to steps of 0.05"
    )
    gen.add_argument("--format", choices=OUTPUT_FORMATS, type=lambda f: "jpg" if f == "jpeg" else f)
    gen.add_argument("--quality", type=int, help="output quality 0-100")
    gen.add_argument("--upsample", action="store_true", help="let the model rewrite the prompt")
    gen.add_argument("--seed", type=int)
    gen.add_argument("-o", "--output", help="file to write (default flux-<job>.<format>)")
    gen.add_argument(
        "--timeout", type=float, default=600.0, help="seconds to wait at most (default 600)"
    )
    gen.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    gen.add_argument("--force", action="store_true", help="overwrite the -o file if it exists")
    gen.set_defaults(func=cmd_generate)

    fetch = sub.add_parser("fetch", help="save the image of a job made earlier")
    fetch.add_argument("job_id", metavar="JOB_ID")
    fetch.add_argument("-o", "--output", help="file to write (default flux-<job>.<format>)")
    fetch.add_argument("--force", action="store_true", help="overwrite the file if it exists")
    fetch.add_argument(
        "--timeout", type=float, default=600.0, help="seconds to wait at most (default 600)"
    )
    fetch.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    fetch.set_defaults(func=cmd_fetch)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `flux-bot` and `python -m app`."""
    args = build_parser().parse_args(argv)
    func = getattr(args, "func", cmd_run)
    try:
        return int(func(args))
    except SettingsError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return EXIT_SETTINGS
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
