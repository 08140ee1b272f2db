"""Tables. Datetimes are stored in UTC and always come back timezone-aware."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A datetime stored as UTC; naive values are refused rather than guessed at."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store timezone-aware UTC datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON}


class JobRow(Base):
    """One generation, from the moment it is asked for until it is delivered or failed."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    apiframe_job_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16))

    guild_id: Mapped[int | None] = mapped_column(BigInteger)
    channel_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int] = mapped_column(BigInteger)
    application_id: Mapped[int] = mapped_column(BigInteger)
    interaction_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    interaction_token: Mapped[str | None] = mapped_column(Text)
    token_expires_at: Mapped[datetime | None]
    response_message_id: Mapped[int | None] = mapped_column(BigInteger)
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    locale: Mapped[str | None] = mapped_column(String(16))
    upload_limit: Mapped[int | None] = mapped_column(BigInteger)

    prompt: Mapped[str] = mapped_column(Text)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)  # a bot.jobs.request.JobRequest
    kind: Mapped[str] = mapped_column(String(16), default="generate")  # request.kind, indexed
    source: Mapped[str] = mapped_column(String(16), default="command")
    parent_job_id: Mapped[str | None] = mapped_column(String(36))

    progress: Mapped[int | None] = mapped_column(Integer)
    result_urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    error_kind: Mapped[str | None] = mapped_column(String(16))
    error_message: Mapped[str | None] = mapped_column(Text)
    credit_cost: Mapped[int | None] = mapped_column(Integer)
    reserved_credits: Mapped[int | None] = mapped_column(Integer)  # estimate until credit_cost

    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    next_check_at: Mapped[datetime | None]
    last_progress_edit_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    delivery_channel_message_id: Mapped[int | None] = mapped_column(BigInteger)
    delivery_note: Mapped[str | None] = mapped_column(Text)
    held_reason: Mapped[str | None] = mapped_column(String(16))
    # Why the prompt and images were removed: "history" (older than HISTORY_DAYS) or
    # "forgotten" (/flux-forget-me); None while the member can still see the job.
    scrubbed: Mapped[str | None] = mapped_column(String(16))

    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_jobs_due", "state", "next_check_at"),
        Index("ix_jobs_user_state", "user_id", "state"),
        Index("ix_jobs_guild_completed", "guild_id", "completed_at"),
        Index("ix_jobs_guild_user_created", "guild_id", "user_id", "created_at"),
        Index("ix_jobs_guild_created", "guild_id", "created_at"),
        Index("ix_jobs_guild_kind_created", "guild_id", "kind", "created_at"),
        Index("ix_jobs_guild_user_kind_created", "guild_id", "user_id", "kind", "created_at"),
        Index("ix_jobs_scrubbed_created", "scrubbed", "created_at"),
    )


class GuildConfigRow(Base):
    """A guild's moderation policy (JSON), plus the row every reservation locks first."""

    __tablename__ = "guild_configs"

    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    lock_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    budget_warned: Mapped[str | None] = mapped_column(String(7))  # "2026-11": warned this month
    budget_stopped: Mapped[str | None] = mapped_column(String(7))
    updated_at: Mapped[datetime]


class MemberDefaultsRow(Base):
    """A member's defaults in one guild (a bot.jobs.defaults.MemberDefaults as JSON)."""

    __tablename__ = "member_defaults"

    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime]

    __table_args__ = (Index("ix_member_defaults_user", "user_id"),)


class MemberPresetRow(Base):
    """One named preset of a member in one guild: defaults plus a prompt suffix."""

    __tablename__ = "member_presets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    guild_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(32))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    suffix: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("guild_id", "user_id", "name", name="uq_member_presets_name"),
        Index("ix_member_presets_user", "user_id"),
    )
