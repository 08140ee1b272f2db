"""The `flux-bot` command as a user runs it: a real process against the sandbox."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from PIL import Image

from bot.apiframe.sandbox import SANDBOX_KEY, Fault, Outcome, Sandbox, SandboxConfig, create_app
from bot.storage.migrations import head_revision
from tests.pictures import Pictures, picture

KEY = "afk_cli_test_key"


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[tuple[Sandbox, str]]:
    app = create_app(SandboxConfig(api_keys={KEY}, queued_seconds=0.1, processing_seconds=0.4))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield app[SANDBOX_KEY], str(server.make_url("")).rstrip("/")
    await server.close()


async def run_cli(cwd: Path, *args: str, **env: str) -> tuple[int, str, str]:
    """Run `python -m app ARGS` in `cwd` with only the given bot settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("APIFRAME_", "DISCORD_"))}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app",
        *args,
        cwd=cwd,
        env={**clean, "PYTHONPATH": str(Path(__file__).parent.parent), **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, out.decode(), err.decode()


async def test_generate_writes_the_image(sandbox: tuple[Sandbox, str], tmp_path: Path) -> None:
    """`generate` submits, waits, downloads and saves the image; prints job, seed and time."""
    state, url = sandbox
    code, out, err = await run_cli(
        tmp_path,
        "generate",
        "a lighthouse at dusk",
        "--resolution", "0.5MP",
        "--aspect-ratio", "16:9",
        "--format", "png",
        "--seed", "1234",
        "--quality", "80",
        "--upsample",
        "-o", "out/light.png",
        APIFRAME_BASE_URL=url,
        APIFRAME_API_KEY=KEY,
    )  # fmt: skip
    assert code == 0, err
    assert "seed 1234" in out
    assert "job " in out
    image = Image.open(io.BytesIO((tmp_path / "out" / "light.png").read_bytes()))
    assert image.format == "PNG"
    assert image.width > image.height
    body = state.requests[0]["body"]
    assert '"aspect_ratio": "16:9"' in body or '"aspect_ratio":"16:9"' in body
    assert state.stats["created"] == 1


async def test_the_output_file_name_picks_the_format(
    sandbox: tuple[Sandbox, str], tmp_path: Path
) -> None:
    """`-o fox.webp` without --format gets a WebP; a contradiction is refused before paying."""
    state, url = sandbox
    code, _, err = await run_cli(
        tmp_path, "generate", "a fox", "-q", "-o", "fox.webp",
        APIFRAME_BASE_URL=url, APIFRAME_API_KEY=KEY,
    )  # fmt: skip
    assert code == 0, err
    assert Image.open(tmp_path / "fox.webp").format == "WEBP"
    code, _, err = await run_cli(
        tmp_path, "generate", "a fox", "-q", "-o", "fox.png", "--format", "jpg",
        APIFRAME_BASE_URL=url, APIFRAME_API_KEY=KEY,
    )  # fmt: skip
    assert code == 2
    assert "--format is jpg" in err
    code, _, err = await run_cli(
        tmp_path, "generate", "a fox", "-q", "-o", "fox.gif",
        APIFRAME_BASE_URL=url, APIFRAME_API_KEY=KEY,
    )  # fmt: skip
    assert code == 2
    assert "not .gif" in err
    code, _, err = await run_cli(
        tmp_path, "generate", "a fox", "-q", "-o", "fox.jpeg", "--format", "jpeg",
        APIFRAME_BASE_URL=url, APIFRAME_API_KEY=KEY,
    )  # fmt: skip
    assert code == 0, err
    assert Image.open(tmp_path / "fox.jpeg").format == "JPEG"
    assert state.stats["created"] == 2


async def test_generate_with_reference_image(
    sandbox: tuple[Sandbox, str], tmp_path: Path, pictures: Pictures
) -> None:
    """--image sends the first reference as image_prompt (+ strength) and every one, in order,
    in input_images; a strength between two 0.05 steps is rounded to the nearest, as /flux
    does. The sandbox fetched both."""
    state, url = sandbox
    first, second = pictures.url("red.png"), pictures.add("second.png", picture(64, 64))
    code, _, err = await run_cli(
        tmp_path, "generate", "a cat", "--image", first, "--image", second,
        "--strength", "0.33", "-q", "-o", "cat.jpg",
        APIFRAME_BASE_URL=url, APIFRAME_API_KEY=KEY,
    )  # fmt: skip
    assert code == 0, err
    params = json.loads(state.requests[0]["body"])["fluxParams"]
    assert params["image_prompt_strength"] == 0.35
    assert params["image_prompt"] == first
    assert params["input_images"] == [first, second]
    assert sorted(pictures.hits) == ["red.png", "second.png"]


async def test_a_reference_that_is_not_a_picture_is_refused_before_paying(
    sandbox: tuple[Sandbox, str], tmp_path: Path, pictures: Pictures
) -> None:
    """A text file called .png as the second --image: Apiframe's 400 in one line that names
    the field and why, exit 1, no traceback, no job, nothing paid."""
    state, url = sandbox
    state.config.credits = 100
    fake = pictures.add("fake.png", b"not a picture", "text/plain")
    code, out, err = await run_cli(
        tmp_path, "generate", "a cat", "--image", pictures.url("red.png"), "--image", fake,
        "-q", "-o", "cat.jpg", APIFRAME_BASE_URL=url, APIFRAME_API_KEY=KEY,
    )  # fmt: skip
    assert code == 1
    assert "Traceback" not in err
    assert err.strip() == (
        "error: Invalid input image: fluxParams.input_images.1: Is not a JPEG, PNG, GIF or WebP"
        " image"
    )
    assert (state.jobs, state.config.credits, out) == ({}, 100, "")
    assert not (tmp_path / "cat.jpg").exists()


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("failed", "blocked"),
        ("credits", "out of credits (needs 7, has 2)"),
        ("badkey", "missing or invalid"),
    ],
)
async def test_generate_failures_are_one_line(
    sandbox: tuple[Sandbox, str], tmp_path: Path, setup: str, expected: str
) -> None:
    """Failures end with one readable `error:` line and a non-zero exit, never a traceback."""
    state, url = sandbox
    key = KEY
    if setup == "failed":
        state.add_outcome(Outcome(status="FAILED", error="Provider returned an error: blocked"))
    elif setup == "credits":
        state.config.credits = 2
    else:
        key = "afk_wrong_key"
    code, _, err = await run_cli(
        tmp_path, "generate", "x", "--resolution", "1MP", "-q",
        APIFRAME_BASE_URL=url, APIFRAME_API_KEY=key,
    )  # fmt: skip
    assert code == 1
    assert expected in err
    assert "Traceback" not in err
    assert err.count("\n") == 1
    assert key not in err


@pytest.mark.parametrize(
    ("options", "flag", "reason"),
    [
        (["--strength", "1.5", "--image", "https://a.example/b.png"], "--strength", "1"),
        (["--image", "not a url"], "--image", "URL"),
        (["--quality", "101"], "--quality", "100"),
        (["--seed", "-1"], "--seed", "0"),
    ],
)
async def test_invalid_option_is_refused_locally(
    tmp_path: Path, options: list[str], flag: str, reason: str
) -> None:
    """An invalid option never reaches the API: one line names its flag, not the API field."""
    code, _, err = await run_cli(
        tmp_path, "generate", "x", *options,
        APIFRAME_API_KEY=KEY, APIFRAME_BASE_URL="http://127.0.0.1:9",
    )  # fmt: skip
    assert code == 2
    assert err.startswith(f"error: invalid option {flag}: ")
    assert reason in err
    assert err.count("\n") == 1
    assert not any(name in err for name in ("image_prompt", "input_images", "output_quality"))


async def test_strength_without_image_is_refused(tmp_path: Path) -> None:
    """--strength alone would be dropped silently; it is refused, as /flux refuses it."""
    code, _, err = await run_cli(
        tmp_path, "generate", "x", "--strength", "0.5",
        APIFRAME_API_KEY=KEY, APIFRAME_BASE_URL="http://127.0.0.1:9",
    )  # fmt: skip
    assert code == 2
    assert err.startswith("error: --strength only applies with a reference --image")
    assert err.count("\n") == 1


async def test_generate_uses_the_default_resolution(
    sandbox: tuple[Sandbox, str], tmp_path: Path
) -> None:
    """Without --resolution the CLI sends DEFAULT_RESOLUTION, as the bot does."""
    state, url = sandbox
    code, _, err = await run_cli(
        tmp_path, "generate", "x", "-q",
        APIFRAME_BASE_URL=url, APIFRAME_API_KEY=KEY, DEFAULT_RESOLUTION="2MP",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(state.requests[0]["body"])["fluxParams"]["resolution"] == "2MP"


@pytest.mark.parametrize("setup", ["poll", "download", "expired"])
async def test_errors_after_submission_name_the_job(
    sandbox: tuple[Sandbox, str], tmp_path: Path, setup: str
) -> None:
    """Once the job is submitted (and may be billed) every error line names its id."""
    state, url = sandbox
    if setup == "poll":
        state.add_fault(Fault(route="job", status=503, count=50))
    elif setup == "download":
        state.add_fault(Fault(route="cdn", status=503, count=50))
    else:
        state.config.result_ttl_seconds = 0
    code, _, err = await run_cli(
        tmp_path, "generate", "x", "-q", APIFRAME_BASE_URL=url, APIFRAME_API_KEY=KEY
    )
    [job_id] = state.jobs
    assert code == 1
    # However many retries came before, the user reads one line.
    [line] = err.splitlines()
    assert line.startswith("error: ")
    assert line.endswith(f" (job {job_id})")
    assert "Traceback" not in err


async def test_ctrl_c_names_the_job(sandbox: tuple[Sandbox, str], tmp_path: Path) -> None:
    """Stopping the wait with Ctrl+C still says which job is running."""
    state, url = sandbox
    state.add_outcome(Outcome(status="NEVER"))
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("APIFRAME_", "DISCORD_"))}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", "generate", "x", "-q",
        cwd=tmp_path, stderr=asyncio.subprocess.PIPE,
        env={**clean, "PYTHONPATH": str(Path(__file__).parent.parent),
             "APIFRAME_BASE_URL": url, "APIFRAME_API_KEY": KEY},
    )  # fmt: skip
    async with asyncio.timeout(30):
        while not state.stats["polls"]:
            await asyncio.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(process.communicate(), timeout=30)
    [job_id] = state.jobs
    assert process.returncode == 130
    assert err.decode() == (
        f"stopped; job {job_id} may still finish: `flux-bot fetch {job_id}` gets it\n"
    )


async def test_fetch_saves_a_job_made_earlier(sandbox: tuple[Sandbox, str], tmp_path: Path) -> None:
    """The job a stopped `generate` left behind is not lost: `fetch` waits for it and saves it."""
    state, url = sandbox
    job_id = await _submitted_job(url)
    code, out, err = await run_cli(
        tmp_path, "fetch", job_id, "-q", "-o", "later.png",
        APIFRAME_BASE_URL=url, APIFRAME_API_KEY=KEY,
    )  # fmt: skip
    assert code == 0, err
    assert f"job {job_id}" in out
    assert Image.open(tmp_path / "later.png").format == "PNG"
    assert state.stats["created"] == 1  # nothing new was paid for
    unknown = str(uuid.uuid4())
    code, _, err = await run_cli(
        tmp_path, "fetch", unknown, "-q", APIFRAME_BASE_URL=url, APIFRAME_API_KEY=KEY
    )
    assert code == 1
    assert err == f"error: Apiframe has no job {unknown} (or its image has expired)\n"


async def _submitted_job(url: str) -> str:
    """A PNG job submitted straight to the API, as if `generate` had been stopped after it."""
    import aiohttp

    body = {"prompt": "x", "model": "flux-2-max", "fluxParams": {"output_format": "png"}}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/v2/images/generate", json=body, headers={"X-API-Key": KEY}) as r,
    ):
        assert r.status == 202, await r.text()
        return str((await r.json())["jobId"])


async def test_an_existing_file_is_overwritten_only_with_force(
    sandbox: tuple[Sandbox, str], tmp_path: Path
) -> None:
    state, url = sandbox
    (tmp_path / "fox.jpg").write_bytes(b"my holiday photo")
    code, _, err = await run_cli(
        tmp_path, "generate", "x", "-q", "-o", "fox.jpg",
        APIFRAME_BASE_URL=url, APIFRAME_API_KEY=KEY,
    )  # fmt: skip
    assert (code, err) == (2, "error: fox.jpg exists; add --force to overwrite it\n")
    assert state.requests == []  # refused before paying
    assert (tmp_path / "fox.jpg").read_bytes() == b"my holiday photo"
    code, _, err = await run_cli(
        tmp_path, "generate", "x", "-q", "-o", "fox.jpg", "--force",
        APIFRAME_BASE_URL=url, APIFRAME_API_KEY=KEY,
    )  # fmt: skip
    assert code == 0, err
    assert Image.open(tmp_path / "fox.jpg").format == "JPEG"


@pytest.mark.parametrize("where", ["folder", "under-a-file"])
async def test_unwritable_output_is_refused_before_submitting(
    sandbox: tuple[Sandbox, str], tmp_path: Path, where: str
) -> None:
    """-o naming a folder (or a path under a file) is refused before anything is paid for."""
    state, url = sandbox
    (tmp_path / "images").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    output = "images" if where == "folder" else "notes.txt/cat.jpg"
    code, _, err = await run_cli(
        tmp_path, "generate", "x", "-q", "-o", output,
        APIFRAME_BASE_URL=url, APIFRAME_API_KEY=KEY,
    )  # fmt: skip
    assert code == 2
    assert err.startswith("error: ")
    assert err.count("\n") == 1
    assert state.requests == []


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        ("/dev/full", "/dev/full is not a regular file"),
        ("/proc/flux-bot-test.png", "cannot write in /proc"),
    ],
)
async def test_a_path_that_cannot_take_the_image_is_refused_before_paying(
    sandbox: tuple[Sandbox, str], tmp_path: Path, output: str, reason: str
) -> None:
    """The pre-check writes for real: a device, or a folder that takes no files, is refused
    before the job is submitted, not after it was paid for."""
    if not Path(output).parent.exists():
        pytest.skip(f"{Path(output).parent} is not on this system")
    state, url = sandbox
    code, _, err = await run_cli(
        tmp_path, "generate", "x", "-q", "-o", output,
        APIFRAME_BASE_URL=url, APIFRAME_API_KEY=KEY,
    )  # fmt: skip
    assert code == 2
    assert err.startswith(f"error: {reason}")
    assert err.count("\n") == 1
    assert state.requests == []


async def test_missing_and_placeholder_settings(tmp_path: Path) -> None:
    """`run` without secrets, or with the .env.example placeholders, exits 2 with one line each."""
    code, _, err = await run_cli(tmp_path, "run")
    assert code == 2
    assert err.splitlines() == [
        "error: DISCORD_TOKEN: not set; put the bot token from the Discord developer portal"
        " (Bot → Reset Token) in .env",
        "error: APIFRAME_API_KEY: not set; put your Apiframe API key (starts with afk_) in .env",
    ]
    example = Path(__file__).parent.parent / ".env.example"
    (tmp_path / ".env").write_text(example.read_text())
    code, _, err = await run_cli(tmp_path, "run")
    assert code == 2
    assert "DISCORD_TOKEN: still holds the placeholder" in err
    assert "Traceback" not in err


async def test_check_settings_only_is_what_docker_runs_first(tmp_path: Path) -> None:
    """`check --settings-only` (docker-compose.yml's `check` service): an unchanged .env from
    .env.example is exit 2 with one line per placeholder; real-looking values are ok, and
    nothing is reached (the database, Apiframe and Discord here all point nowhere)."""
    example = Path(__file__).parent.parent / ".env.example"
    (tmp_path / ".env").write_text(example.read_text())
    code, out, err = await run_cli(tmp_path, "check", "--settings-only")
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "error: DISCORD_TOKEN: still holds the placeholder from .env.example; put the real value"
        " in",
        "error: APIFRAME_API_KEY: still holds the placeholder from .env.example; put the real"
        " value in",
    ]
    code, out, err = await run_cli(
        tmp_path, "check", "--settings-only", DISCORD_TOKEN="abc.def.ghi", APIFRAME_API_KEY=KEY,
        APIFRAME_BASE_URL="http://127.0.0.1:9", DATABASE_URL="postgresql://u@127.0.0.1:9/db",
    )  # fmt: skip
    assert (code, out, err) == (0, "settings  ok\n", "")


async def test_migrate_and_check(sandbox: tuple[Sandbox, str], tmp_path: Path) -> None:
    """`migrate` creates the SQLite file; `check` reports one line per part."""
    _, url = sandbox
    db = f"sqlite+aiosqlite:///{tmp_path}/data/bot.db"
    code, out, err = await run_cli(tmp_path, "migrate", DATABASE_URL=db)
    assert code == 0, err
    assert f"revision {head_revision()}" in out
    code, out, _ = await run_cli(
        tmp_path, "check", DATABASE_URL=db, APIFRAME_BASE_URL=url, APIFRAME_API_KEY=KEY,
        DISCORD_TOKEN="abc.def.ghi", DISCORD_API_BASE_URL="http://127.0.0.1:9/api/v10",
    )  # fmt: skip
    lines = out.splitlines()
    assert lines[0].startswith("settings  ok")
    assert lines[1].startswith("database  ok")
    assert head_revision() in lines[1]
    assert lines[2].startswith("apiframe  ok")
    assert "1000000 credits left" in lines[2]
    assert lines[3].startswith("discord   FAIL")
    assert code == 1
    assert "abc.def.ghi" not in out


async def test_sandbox_command_serves(tmp_path: Path) -> None:
    """`flux-bot sandbox --port 0` starts and prints where it listens."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", "sandbox", "--port", "0",
        cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
        assert line.decode().startswith("Apiframe sandbox listening on http://127.0.0.1:")
    finally:
        process.terminate()
        await process.wait()


async def test_sandbox_port_in_use_or_invalid(tmp_path: Path) -> None:
    """A taken or impossible port is one line and a non-zero exit, with nothing left open."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = await run_cli(tmp_path, "sandbox", "--port", str(port))
    assert code == 1
    assert err == f"error: cannot listen on 127.0.0.1:{port}: address already in use\n"
    code, _, err = await run_cli(tmp_path, "sandbox", "--port", "99999")
    assert code == 2
    assert err == "error: --port must be 0-65535 (0: any free port), not 99999\n"


@pytest.mark.parametrize("command", ["migrate", "run"])
async def test_invalid_database_url_is_one_line(tmp_path: Path, command: str) -> None:
    """A DATABASE_URL that is not SQLite or PostgreSQL stops the command with one line."""
    for value in ("nonsense", "mysql://user:secret@db/bot"):
        code, _, err = await run_cli(
            tmp_path, command, DATABASE_URL=value, DISCORD_TOKEN="a.b.c", APIFRAME_API_KEY=KEY
        )
        assert code == 2
        assert err.startswith("error: DATABASE_URL: ")
        assert err.count("\n") == 1
        assert "secret" not in err


async def test_migrate_unreachable_database_is_one_line(tmp_path: Path) -> None:
    """`migrate` against a closed PostgreSQL port says so in one line."""
    code, _, err = await run_cli(
        tmp_path, "migrate", DATABASE_URL="postgresql://postgres@127.0.0.1:1/test"
    )
    assert code == 1
    where = "postgresql+asyncpg://postgres@127.0.0.1:1/test"
    assert err.startswith(f"error: cannot migrate {where}: ConnectionRefusedError: ")
    assert err.count("\n") == 1


def _run_env(tmp_path: Path, api_base: str) -> dict[str, str]:
    return {
        "DISCORD_TOKEN": "MTIz.fake.token-for-tests",
        "APIFRAME_API_KEY": KEY,
        "DATABASE_URL": f"sqlite:///{tmp_path}/bot.db",
        "DISCORD_API_BASE_URL": api_base,
        "WEB_PORT": "0",
    }


async def test_run_without_discord_is_one_line(tmp_path: Path) -> None:
    """Nothing listens where Discord should be: one line, exit 1, no traceback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free, and closed again: nothing answers there
    env = _run_env(tmp_path, f"http://127.0.0.1:{port}/api/v10")
    code, _, err = await run_cli(tmp_path, "run", **env, MAX_JOBS_PER_USER="3")
    assert code == 1
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("error: cannot reach http://127.0.0.1:")
    # A setting under its old name still works, and the log says what it is called now.
    assert "MAX_JOBS_PER_USER is deprecated: call it MAX_JOBS_IN_FLIGHT_PER_MEMBER" in err


async def test_sigterm_while_discord_never_answers_is_a_clean_stop(tmp_path: Path) -> None:
    """A Discord (or proxy) that accepts connections and never answers: SIGTERM stops the
    bot cleanly (exit 0) instead of a traceback."""
    silent = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("APIFRAME_", "DISCORD_"))}
    env = _run_env(tmp_path, f"http://127.0.0.1:{port}/api/v10")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", "run",
        cwd=tmp_path, stderr=asyncio.subprocess.PIPE,
        env={**clean, "PYTHONPATH": str(Path(__file__).parent.parent), **env},
    )  # fmt: skip
    assert process.stderr is not None
    seen = b""
    try:
        async with asyncio.timeout(30):
            while b"logging in" not in seen:  # waiting for an answer that never comes
                seen += await process.stderr.readline()
        await asyncio.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        _, rest = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        silent.close()
    err = (seen + rest).decode()
    assert process.returncode == 0, err
    assert "Traceback" not in err


async def test_a_placeholder_discord_token_does_not_stop_the_sandbox_path(
    sandbox: tuple[Sandbox, str], tmp_path: Path
) -> None:
    """Trying the sandbox from a copied .env.example: `generate` needs no Discord token, so
    the untouched placeholder there is no reason to refuse; `check` names it."""
    _, url = sandbox
    example = Path(__file__).parent.parent / ".env.example"
    (tmp_path / ".env").write_text(example.read_text())
    env = {"APIFRAME_BASE_URL": url, "APIFRAME_API_KEY": KEY}
    code, out, err = await run_cli(tmp_path, "generate", "a fox", "-q", "-o", "fox.jpg", **env)
    assert code == 0, err
    code, out, _ = await run_cli(tmp_path, "check", **env)
    assert code == 1
    assert "discord   FAIL  DISCORD_TOKEN: still holds the placeholder" in out


async def test_a_timeout_of_zero_is_refused_before_paying(
    sandbox: tuple[Sandbox, str], tmp_path: Path
) -> None:
    state, url = sandbox
    code, _, err = await run_cli(
        tmp_path, "generate", "x", "--timeout", "0", APIFRAME_BASE_URL=url, APIFRAME_API_KEY=KEY
    )
    assert code == 2
    assert "--timeout must be more than 0" in err
    assert state.requests == []


@pytest.mark.parametrize(("status", "code"), [(200, 0), (503, 1)])
async def test_health_asks_the_running_bot(tmp_path: Path, status: int, code: int) -> None:
    """Docker's HEALTHCHECK: `health` asks /healthz where the bot listens (127.0.0.1 when it
    listens on every interface) and exits 0 only when it is fit to serve."""
    from aiohttp import web

    async def healthz(request: web.Request) -> web.Response:
        report = {"ok": status == 200, "discord": "connecting", "jobs": "running"}
        return web.json_response(report, status=status)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        got, out, err = await run_cli(tmp_path, "health", WEB_HOST="0.0.0.0", WEB_PORT=str(port))
    finally:
        await runner.cleanup()
    assert got == code, err
    assert f"http://127.0.0.1:{port}/healthz" in out
    if code:
        assert "503 (discord connecting, jobs running)" in out


async def test_health_with_an_empty_port_asks_the_default_one(tmp_path: Path) -> None:
    """`WEB_PORT=` means the default (8080) for the bot, so for its health check too."""
    _, out, _ = await run_cli(tmp_path, "health", "--timeout", "1", WEB_PORT="")
    assert "http://127.0.0.1:8080/healthz" in out


async def test_a_sandbox_open_to_other_machines_is_warned_about(tmp_path: Path) -> None:
    """Its control routes have no authentication: listening beyond loopback says so."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", "sandbox", "--host", "0.0.0.0", "--port", "0",
        cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        assert process.stderr is not None
        await asyncio.wait_for(process.stdout.readline(), timeout=30)  # listening
        async with asyncio.timeout(10):
            while not (line := await process.stderr.readline()).startswith(b"warning: "):
                assert line, "no warning before the end of stderr"
        assert line.decode().startswith("warning: 0.0.0.0 is reachable from other machines")
    finally:
        process.terminate()
        await process.wait()


async def test_run_with_the_database_unreachable_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there
    env = _run_env(tmp_path, "http://127.0.0.1:9/api/v10")
    env["DATABASE_URL"] = f"postgresql://flux:secret@127.0.0.1:{port}/flux"
    code, _, err = await run_cli(tmp_path, "run", **env)
    assert code == 1
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: cannot open the database postgresql+asyncpg://flux:***@")
    assert "secret" not in err


async def test_a_database_of_a_newer_version_is_refused(tmp_path: Path) -> None:
    """A database migrated by a newer version: `check` says so, `run` stops with one line."""
    import sqlite3

    db = tmp_path / "bot.db"
    code, _, err = await run_cli(tmp_path, "migrate", DATABASE_URL=f"sqlite:///{db}")
    assert code == 0, err
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0099'")
    code, out, _ = await run_cli(
        tmp_path, "check", DATABASE_URL=f"sqlite:///{db}", APIFRAME_API_KEY=KEY,
        APIFRAME_BASE_URL="http://127.0.0.1:9",
    )  # fmt: skip
    [line] = [line for line in out.splitlines() if line.startswith("database")]
    assert line.startswith("database  FAIL")
    assert f"at revision 0099, newer than this version ({head_revision()})" in line
    env = {**_run_env(tmp_path, "http://127.0.0.1:9/api/v10"), "DATABASE_URL": f"sqlite:///{db}"}
    code, _, err = await run_cli(tmp_path, "run", **env)
    assert code == 1
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("error: cannot open the database sqlite")


async def test_upscale_and_outpaint_an_image(sandbox: tuple[Sandbox, str], tmp_path: Path) -> None:
    """`upscale` and `outpaint` send the buttons' requests and save the result: twice the
    size, and a square canvas."""
    state, url = sandbox
    env = {"APIFRAME_BASE_URL": url, "APIFRAME_API_KEY": KEY}
    code, _, err = await run_cli(
        tmp_path, "generate", "a fox", "--resolution", "0.5MP", "--aspect-ratio", "16:9",
        "-q", "-o", "fox.png", **env,
    )  # fmt: skip
    assert code == 0, err
    [job_id] = state.jobs
    source = f"{url}/cdn/images/{job_id}-1.png"
    code, out, err = await run_cli(
        tmp_path, "upscale", source, "--creative", "--prompt", "a fox", "-q", "-o", "big.png", **env
    )
    assert code == 0, err
    assert "saved big.png" in out
    code, _, err = await run_cli(
        tmp_path, "outpaint", source, "--preset", "square", "--prompt", "a fox", "-q",
        "-o", "square.jpg", **env,
    )  # fmt: skip
    assert code == 0, err
    bodies = [json.loads(r["body"]) for r in state.requests]
    assert [b["model"] for b in bodies] == ["flux-2-max", "clarity-upscale", "flux-fill-pro"]
    assert bodies[2]["fluxFillParams"]["outpaint"] == "Make square"
    assert bodies[2]["fluxFillParams"]["output_format"] == "jpg"  # from -o's extension
    fox, big, square = (Image.open(tmp_path / n) for n in ("fox.png", "big.png", "square.jpg"))
    assert big.size == (2 * fox.width, 2 * fox.height)
    assert square.width == square.height == fox.width


async def test_outpaint_options_are_checked_before_paying(
    sandbox: tuple[Sandbox, str], tmp_path: Path
) -> None:
    state, url = sandbox
    env = {"APIFRAME_BASE_URL": url, "APIFRAME_API_KEY": KEY}
    code, _, err = await run_cli(
        tmp_path, "outpaint", "https://cdn.example/a.png", "--preset", "square", "--prompt", "x",
        "-o", "a.webp", **env,
    )  # fmt: skip
    assert code == 2
    assert "not .webp" in err
    code, _, err = await run_cli(tmp_path, "upscale", "not a url", "-o", "a.png", **env)
    assert code == 2
    assert "IMAGE_URL" in err
    assert state.requests == []
