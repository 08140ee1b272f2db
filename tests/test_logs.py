"""Log lines: readable text by default, JSON on request, the job named, secrets scrubbed."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from bot.logs import LogFormat, for_job, setup_logging

SECRET = "afk_very_secret_key"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """What the root logger writes, for one test; the previous handlers come back after."""
    captured = io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield captured
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(False)


def configure(stream: io.StringIO, *args: object) -> None:
    setup_logging(*args)  # type: ignore[arg-type]
    [handler] = logging.getLogger().handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)


def _log_both(log: logging.Logger) -> None:
    log.info("plain %s line", "first")
    try:
        raise RuntimeError(f"failed with {SECRET}")
    except RuntimeError:
        log.exception("the key %s leaked", SECRET)


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_secrets_are_scrubbed_in_either_format(stream: io.StringIO, log_format: LogFormat) -> None:
    """A secret in a message or in a traceback is `[redacted]` whichever format is chosen."""
    configure(stream, "INFO", [SECRET], log_format)
    _log_both(logging.getLogger("tests.logs"))
    output = stream.getvalue()
    assert SECRET not in output
    assert output.count("[redacted]") == 2


def test_text_stays_readable(stream: io.StringIO) -> None:
    """The default is one readable line per record, as before."""
    configure(stream, "INFO")
    logging.getLogger("tests.logs").info("hello %d", 5)
    [line] = stream.getvalue().splitlines()
    assert line.endswith("INFO    tests.logs: hello 5")


async def test_json_lines_name_the_job_where_known(stream: io.StringIO) -> None:
    """In JSON every line is one object; lines logged by a task given `for_job` carry the
    job's id, guild and kind, others do not; a traceback stays within its line."""
    configure(stream, "INFO", [SECRET], "json")
    log = logging.getLogger("tests.logs")
    job = SimpleNamespace(id="job-1", guild_id=42, kind="upscale")

    async def step() -> None:
        _log_both(log)

    await asyncio.create_task(step(), context=for_job(job))
    log.warning("outside any job")
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(entries) == 3
    first, failed, outside = entries
    assert first["message"] == "plain first line"
    assert (first["job_id"], first["guild_id"], first["kind"]) == ("job-1", 42, "upscale")
    assert first["level"] == "INFO"
    assert first["logger"] == "tests.logs"
    assert "RuntimeError" in failed["exception"]
    assert "job_id" not in outside
    assert outside["level"] == "WARNING"
