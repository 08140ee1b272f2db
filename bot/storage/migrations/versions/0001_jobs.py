"""The jobs table.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.storage.models import UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("idempotency_key", sa.String(255), nullable=False, unique=True),
        sa.Column("apiframe_job_id", sa.String(64), unique=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("guild_id", sa.BigInteger()),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("application_id", sa.BigInteger(), nullable=False),
        sa.Column("interaction_id", sa.BigInteger(), unique=True),
        sa.Column("interaction_token", sa.Text()),
        sa.Column("token_expires_at", UTCDateTime()),
        sa.Column("response_message_id", sa.BigInteger()),
        sa.Column("ephemeral", sa.Boolean(), nullable=False),
        sa.Column("locale", sa.String(16)),
        sa.Column("upload_limit", sa.BigInteger()),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("parent_job_id", sa.String(36)),
        sa.Column("progress", sa.Integer()),
        sa.Column("result_urls", sa.JSON(), nullable=False),
        sa.Column("error_kind", sa.String(16)),
        sa.Column("error_message", sa.Text()),
        sa.Column("credit_cost", sa.Integer()),
        sa.Column("seed", sa.BigInteger()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("submitted_at", UTCDateTime()),
        sa.Column("started_at", UTCDateTime()),
        sa.Column("completed_at", UTCDateTime()),
        sa.Column("delivered_at", UTCDateTime()),
        sa.Column("next_check_at", UTCDateTime()),
        sa.Column("last_progress_edit_at", UTCDateTime()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("delivery_channel_message_id", sa.BigInteger()),
        sa.Column("delivery_note", sa.Text()),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_until", UTCDateTime()),
    )
    op.create_index("ix_jobs_due", "jobs", ["state", "next_check_at"])
    op.create_index("ix_jobs_user_state", "jobs", ["user_id", "state"])
    op.create_index("ix_jobs_guild_completed", "jobs", ["guild_id", "completed_at"])


def downgrade() -> None:
    op.drop_table("jobs")
