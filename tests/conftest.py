"""End-to-end fixtures: the local Discord, the Apiframe sandbox and our bot, on free ports."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from bot.apiframe.sandbox import SANDBOX_KEY, Sandbox, SandboxConfig, create_app
from bot.config import Settings, load_settings
from tests.discord_standin import LocalDiscord
from tests.pictures import Pictures, serve_pictures

ROOT = Path(__file__).parent.parent
APIFRAME_KEY = "afk_e2e_test_key"


# Property-based tests: 200 examples each by default, so the suite stays quick; a long run is
# `--hypothesis-profile long` or FLUX_HYPOTHESIS_PROFILE=long (10,000 each). No deadline: the
# machine is shared, and a slow example is not a wrong one (bench/bench_fuzz.py times them).
_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
hypothesis_settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=_QUIET
)
hypothesis_settings.register_profile(
    "long", max_examples=10_000, deadline=None, suppress_health_check=_QUIET
)
hypothesis_settings.load_profile(os.environ.get("FLUX_HYPOTHESIS_PROFILE", "ci"))


# What makes a test end-to-end: it runs the bot or the CLI as a user would, against the local
# Discord and the Apiframe sandbox. `uv run pytest -m "not e2e"` leaves these out.
E2E_FIXTURES = {"bot", "bot_runner", "bot_process", "discord_standin"}
E2E_PATHS = (ROOT / "tests" / "e2e", ROOT / "tests" / "test_cli.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.path))
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & E2E_FIXTURES or any(path.is_relative_to(p) for p in E2E_PATHS):
            item.add_marker(pytest.mark.e2e)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "allow_pending: the test kills the bot mid-interaction, so interactions left "
        "unanswered or still loading are not failures",
    )


@pytest.fixture
async def discord_standin(request: pytest.FixtureRequest) -> AsyncIterator[LocalDiscord]:
    """A local Discord; the test fails if the bot broke any of Discord's rules, or left an
    interaction unanswered or "thinking…" (the bot fixtures give it a grace to settle first).
    Opt out with `@pytest.mark.allow_pending` or `discord_standin.allow_pending = True`."""
    standin = LocalDiscord()
    standin.allow_pending = request.node.get_closest_marker("allow_pending") is not None
    await standin.start()
    yield standin
    await standin.stop()
    problems = standin.violations + ([] if standin.allow_pending else standin.pending())
    assert problems == [], "Discord rules broken:\n" + "\n".join(problems)


@dataclass
class ApiframeSandbox:
    sandbox: Sandbox
    url: str
    key: str = APIFRAME_KEY


@pytest.fixture
async def apiframe() -> AsyncIterator[ApiframeSandbox]:
    """The Apiframe sandbox with quick jobs (about 1 s)."""
    app = create_app(
        SandboxConfig(api_keys={APIFRAME_KEY}, queued_seconds=0.2, processing_seconds=0.8)
    )
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield ApiframeSandbox(app[SANDBOX_KEY], str(server.make_url("")).rstrip("/"))
    await server.close()


@pytest.fixture
async def pictures() -> AsyncIterator[Pictures]:
    """A picture server on 127.0.0.1 for image URLs the sandbox fetches (references, inputs):
    a 400x300 red PNG at `pictures.url("red.png")`, and whatever `pictures.add(...)` serves."""
    async for served in serve_pictures():
        yield served


@pytest.fixture
def bot_env(
    discord_standin: LocalDiscord, apiframe: ApiframeSandbox, tmp_path: Path
) -> dict[str, str]:
    """The bot's settings as environment variables; tests may add or change entries."""
    return {
        "DISCORD_TOKEN": discord_standin.token,
        "APIFRAME_API_KEY": apiframe.key,
        "APIFRAME_BASE_URL": apiframe.url,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        "DISCORD_API_BASE_URL": discord_standin.api_base,
        "DISCORD_GATEWAY_URL": discord_standin.gateway_url,
        "DISCORD_GUILD_IDS": str(discord_standin.guild.id),
        "WEB_HOST": "127.0.0.1",
        "WEB_PORT": "0",
        "LOG_LEVEL": "INFO",
        "PROGRESS_INTERVAL": "1",
        "EXPECTED_JOB_SECONDS": "1",
        # No limits unless a test sets them: most tests run many jobs as one member.
        "DEFAULT_DAILY_LIMIT": "0",
        "DEFAULT_COOLDOWN_SECONDS": "0",
        "DEFAULT_JOBS_PER_MEMBER": "50",
        "AUDIT_FLUSH_SECONDS": "0.2",
    }


def settings_from(env: dict[str, str]) -> Settings:
    return load_settings(**{k.lower(): v for k, v in env.items()})


@dataclass
class RunningBot:
    """Our bot running inside the test's event loop."""

    start: Callable[[], Any]
    stop: Callable[[], Any]
    instance: Any = None


@pytest.fixture
async def bot_runner(
    bot_env: dict[str, str], discord_standin: LocalDiscord
) -> AsyncIterator[RunningBot]:
    """Start/stop the bot in-process; `await bot_runner.start()` returns the FluxBot."""
    from app.bot import FluxBot
    from app.run import build_bot

    state: dict[str, Any] = {}

    async def start() -> FluxBot:
        settings = settings_from(bot_env)
        bot = await build_bot(settings)
        task = asyncio.create_task(bot.start(settings.secret("discord_token")))
        state.update(bot=bot, task=task)
        async with asyncio.timeout(20):
            while not bot.synced.is_set():
                if task.done():
                    task.result()
                await asyncio.sleep(0.02)
        await discord_standin.wait_ready()
        runner.instance = bot
        return bot

    async def stop() -> None:
        if "bot" not in state:
            return
        await state["bot"].close()
        with contextlib.suppress(asyncio.CancelledError):
            await state["task"]
        await state["bot"].services.close()
        state.clear()

    runner = RunningBot(start, stop)
    yield runner
    if "bot" in state and not discord_standin.allow_pending:
        await discord_standin.settle()
    await stop()


@pytest.fixture
async def bot(bot_runner: RunningBot) -> Any:
    """The bot, started in-process and connected to the local Discord."""
    return await bot_runner.start()


@dataclass
class BotProcess:
    """The bot as a real `python -m app run` process (to kill and restart it)."""

    env: dict[str, str]
    log_path: Path
    process: asyncio.subprocess.Process | None = None
    logs: list[str] = field(default_factory=list)

    async def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app", "run",
            cwd=self.log_path.parent,
            env={**os.environ, "PYTHONPATH": str(ROOT), **self.env},
            stdout=log, stderr=log,
        )  # fmt: skip
        log.close()

    async def kill(self) -> None:
        """SIGKILL: no clean shutdown, as in a crash."""
        if self.process and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()

    async def stop(self) -> int | None:
        if self.process and self.process.returncode is None:
            self.process.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.process.wait(), 15)
            await self.kill()
        return self.process.returncode if self.process else None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
async def bot_process(
    bot_env: dict[str, str],
    discord_standin: LocalDiscord,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> AsyncIterator[BotProcess]:
    process = BotProcess(dict(bot_env), tmp_path / "bot.log")
    yield process
    running = process.process is not None and process.process.returncode is None
    if running and not discord_standin.allow_pending:
        await discord_standin.settle()
    await process.stop()
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        print(process.output())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
