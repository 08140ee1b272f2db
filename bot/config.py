"""Settings: one class read from the environment and `.env`, built by `load_settings()`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.apiframe.models import RESOLUTIONS, Resolution

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/flux-bot.db"
# (backend, driver) pairs DATABASE_URL may name, after bot.storage.db.normalize_url.
_DATABASE_DRIVERS = {("sqlite", "aiosqlite"), ("postgresql", "asyncpg")}

# Values that are obviously copied from `.env.example` or a tutorial, never real credentials.
_PLACEHOLDER = re.compile(
    r"(?i)(your[-_ ]|_here\b|changeme|change[-_]me|replace[-_ ]?me|^<.*>$|^x{4,}$)"
)


_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# Settings renamed, old name → new name.
RENAMED = {"max_jobs_per_user": "max_jobs_in_flight_per_member"}


class SettingsError(Exception):
    """Settings are missing or invalid; `problems` holds one readable line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _split_ids(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _blank_to_none(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        return None
    return value


class Settings(BaseSettings):
    """Every setting of the bot. Field names map to upper-case environment variables."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        validate_default=True,
        # `WEB_PORT=` in .env means "the default", as .env.example says, not "invalid".
        env_ignore_empty=True,
    )

    discord_token: SecretStr | None = None
    apiframe_api_key: SecretStr | None = None
    apiframe_base_url: str = "https://api.apiframe.ai"
    apiframe_timeout: float = Field(default=30.0, gt=0, le=300)
    apiframe_max_download_mb: int = Field(default=50, ge=1, le=500)
    database_url: str = DEFAULT_DATABASE_URL
    discord_api_base_url: str | None = None
    discord_gateway_url: str | None = None
    webhook_public_url: str | None = None
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8080, ge=0, le=65535)
    discord_guild_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    # Several processes (one shard each) on one shared database; unset: one process.
    shard_count: int | None = Field(default=None, ge=1, le=10_000)
    shard_id: int | None = Field(default=None, ge=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    default_resolution: Resolution = "1MP"
    max_jobs_in_flight: int = Field(default=8, ge=1, le=5000)
    max_jobs_in_flight_per_member: int = Field(default=2, ge=1, le=50)
    max_jobs_per_user: int | None = Field(default=None, ge=1, le=50)  # its old name
    poll_rate: float = Field(default=4.0, ge=0.1, le=50)
    job_soft_timeout: float = Field(default=180.0, gt=0, le=86_400)
    job_hard_timeout: float = Field(default=600.0, gt=0, le=86_400)
    progress_interval: float = Field(default=2.5, ge=1.0, le=60)
    expected_job_seconds: float = Field(default=20.0, gt=0, le=600)
    webhook_safety_poll: float = Field(default=30.0, gt=0, le=3600)
    job_lease_seconds: float = Field(default=120.0, ge=5, le=3600)

    # Moderation defaults for every guild until its staff change them with /flux-admin.
    default_daily_limit: int | None = Field(default=20, ge=0)
    default_monthly_limit: int | None = Field(default=None, ge=0)
    default_cooldown_seconds: int = Field(default=10, ge=0, le=86_400)
    default_jobs_per_member: int = Field(default=3, ge=1, le=50)
    default_max_resolution: Resolution = RESOLUTIONS[-1]
    default_reference_images: bool = True
    default_prompt_upsampling: bool = True
    default_monthly_budget: int | None = Field(default=None, ge=0)
    default_budget_warn_percent: int = Field(default=80, ge=1, le=100)
    credits_first_mp: int = Field(default=7, ge=0)
    credits_per_extra_mp: int = Field(default=3, ge=0)
    credits_outpaint: int = Field(default=9, ge=0)
    credits_upscale_creative: int = Field(default=3, ge=0)
    credits_upscale_subtle_per_mp: int = Field(default=1, ge=0)
    audit_flush_seconds: float = Field(default=2.0, gt=0, le=60)

    @field_validator(
        "discord_token",
        "apiframe_api_key",
        "discord_api_base_url",
        "discord_gateway_url",
        "webhook_public_url",
        "default_daily_limit",
        "default_monthly_limit",
        "default_monthly_budget",
        "shard_count",
        "shard_id",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return _blank_to_none(value)

    @field_validator("default_daily_limit", "default_monthly_limit", "default_monthly_budget")
    @classmethod
    def _zero_is_no_limit(cls, value: int | None) -> int | None:
        # As in /flux-admin: 0 means no limit, not "nothing allowed".
        return value or None

    @field_validator("apiframe_base_url", "discord_api_base_url", "webhook_public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/") if value else value

    @field_validator("discord_gateway_url")
    @classmethod
    def _ws_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^wss?://[^\s/]+", value):
            raise ValueError("must be a ws:// or wss:// URL")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        from bot.storage.db import normalize_url  # check the URL the engine will get

        # Only the async drivers the bot ships with; the message never echoes the URL,
        # which may hold a password.
        hint = "use sqlite:///path/to/file.db or postgresql://user:password@host/database"
        try:
            url = make_url(normalize_url(value))
            backend = (url.get_backend_name(), url.get_driver_name())
        except (ArgumentError, ValueError):  # ValueError: a port that is not a number
            raise ValueError(f"not a database URL; {hint}") from None
        except NoSuchModuleError:  # a scheme SQLAlchemy has no dialect for: postgresq://, ws://
            backend = ("", "")
        if backend not in _DATABASE_DRIVERS:
            raise ValueError(f"must be SQLite or PostgreSQL (drivers +aiosqlite, +asyncpg); {hint}")
        return value

    @field_validator("discord_guild_ids", mode="before")
    @classmethod
    def _guild_ids(cls, value: object) -> object:
        return _split_ids(value)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_format(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _shards(self) -> Settings:
        if (self.shard_id is None) != (self.shard_count is None):
            raise ValueError("SHARD_ID and SHARD_COUNT: set both (or neither)")
        if self.shard_count is not None and (self.shard_id or 0) >= self.shard_count:
            raise ValueError(
                f"SHARD_ID: must be below SHARD_COUNT ({self.shard_count}); shards count from 0"
            )
        return self

    @model_validator(mode="after")
    def _timeouts_in_order(self) -> Settings:
        if self.job_soft_timeout >= self.job_hard_timeout:
            raise ValueError(
                f"JOB_SOFT_TIMEOUT ({self.job_soft_timeout:g} s, when members are told it is"
                f" slow) must be below JOB_HARD_TIMEOUT ({self.job_hard_timeout:g} s)"
            )
        return self

    @model_validator(mode="after")
    def _old_names(self) -> Settings:
        # Kept working for one release; `deprecations` says so in the log at start-up.
        for old, new in RENAMED.items():
            if getattr(self, old) is not None and new not in self.model_fields_set:
                setattr(self, new, getattr(self, old))
        return self

    @property
    def deprecations(self) -> list[str]:
        """One line per setting still given by its old name."""
        return [
            f"{old.upper()} is deprecated: call it {new.upper()} (the old name goes in 0.3)"
            for old, new in RENAMED.items()
            if getattr(self, old) is not None
        ]

    @property
    def warnings(self) -> list[str]:
        """Lines for the log at start-up: settings that work but should change."""
        lines = list(self.deprecations)
        url = urlsplit(self.apiframe_base_url)
        if url.scheme == "http" and url.hostname not in _LOOPBACK:
            lines.append(
                f"APIFRAME_BASE_URL is plain http:// to {url.hostname}: the API key travels"
                " unencrypted; use https:// unless it is a sandbox on a network you trust"
            )
        return lines

    @property
    def syncs_commands(self) -> bool:
        """Only one process registers the commands: the single one, or shard 0."""
        return not self.shard_id

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file behind `database_url`, or None for other databases and `:memory:`."""
        match = re.match(r"^sqlite(\+\w+)?:///(.+)$", self.database_url)
        if not match or match.group(2) == ":memory:":
            return None
        return Path(match.group(2))

    def secret(self, name: str) -> str:
        """The value of a required secret setting; `SettingsError` when it is unset."""
        self.require(name)
        value: SecretStr = getattr(self, name)
        return value.get_secret_value()

    def problem(self, name: str) -> str | None:
        """Why the secret setting `name` cannot be used (unset, or still the .env.example
        placeholder), or None. Checked where a command needs it: `generate` against the
        sandbox needs no Discord token, and a placeholder left there must not stop it."""
        hints = {
            "discord_token": "the bot token from the Discord developer portal (Bot → Reset Token)",
            "apiframe_api_key": "your Apiframe API key (starts with afk_)",
        }
        value = getattr(self, name)
        if value is None:
            return f"{name.upper()}: not set; put {hints.get(name, 'a value')} in .env"
        if isinstance(value, SecretStr) and _PLACEHOLDER.search(value.get_secret_value()):
            return (
                f"{name.upper()}: still holds the placeholder from .env.example;"
                " put the real value in"
            )
        return None

    def require(self, *names: str) -> None:
        """Raise `SettingsError` naming each of these settings that is unset or a placeholder."""
        problems = [p for p in map(self.problem, names) if p is not None]
        if problems:
            raise SettingsError(problems)


def load_settings(**overrides: object) -> Settings:
    """Build the settings, turning validation failures into `SettingsError` (one line each)."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"]).upper()
            message = error["msg"].removeprefix("Value error, ")
            # Errors about several settings at once name them in the message itself.
            problems.append(f"{name}: {message}" if name else message)
        raise SettingsError(problems) from None
