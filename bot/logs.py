"""Logging set-up: readable text or one JSON object per line, quiet libraries, secrets scrubbed
from every record, and the job a line is about (id, guild, kind) wherever the driver knows it."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple, Protocol

REDACTED = "[redacted]"
LogFormat = Literal["text", "json"]


class JobFields(NamedTuple):
    job_id: str
    guild_id: int | None
    kind: str


class _Job(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def guild_id(self) -> int | None: ...
    @property
    def kind(self) -> str: ...


_JOB: contextvars.ContextVar[JobFields | None] = contextvars.ContextVar("flux_job", default=None)


def for_job(job: _Job) -> contextvars.Context:
    """A copy of the current context in which log lines name `job`: give it to the task that
    works on the job (`asyncio.create_task(..., context=for_job(job))`)."""
    context = contextvars.copy_context()
    context.run(_JOB.set, JobFields(job.id, job.guild_id, job.kind))
    return context


def current_job() -> JobFields | None:
    """The job the code running now works on, if the driver said so."""
    return _JOB.get()


class RedactSecrets(logging.Filter):
    """Replace any known secret value in a record's final message with `[redacted]`.

    A second line of defence: the code never logs secrets on purpose, but a library might
    (a URL in an exception, a header dump at DEBUG).
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        clean = message
        for secret in self.secrets:
            clean = clean.replace(secret, REDACTED)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        exc_text = record.exc_text
        if exc_text:
            for secret in self.secrets:
                exc_text = exc_text.replace(secret, REDACTED)
            record.exc_text = exc_text
        if record.stack_info:
            for secret in self.secrets:
                record.stack_info = record.stack_info.replace(secret, REDACTED)
        if clean != message:
            record.msg, record.args = clean, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, and the job's id, guild
    and kind where known; a traceback as `exception`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (job := current_job()) is not None:
            entry["job_id"] = job.job_id
            if job.guild_id is not None:
                entry["guild_id"] = job.guild_id
            entry["kind"] = job.kind
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


def setup_logging(
    level: str = "INFO", secrets: Iterable[str] = (), log_format: LogFormat = "text"
) -> None:
    """Configure the root logger once for the process."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
        # Python's warnings would otherwise print plain lines in between.
        logging.captureWarnings(True)
    else:
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S"
            )
        )
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # At DEBUG these libraries log what holds interaction tokens (credentials for 15 min):
    # discord.py every request URL and gateway event, aiosqlite every statement's values.
    logging.getLogger("discord.http").setLevel(max(logging.WARNING, root.level))
    for name in ("discord.webhook", "discord.gateway", "aiosqlite"):
        logging.getLogger(name).setLevel(max(logging.INFO, root.level))
    # Alembic narrates every start-up migration check at INFO.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
