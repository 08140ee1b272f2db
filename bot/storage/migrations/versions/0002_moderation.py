"""Per-guild moderation settings, and the credits reserved for each job.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.storage.models import UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "guild_configs",
        sa.Column("guild_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("lock_seq", sa.BigInteger(), nullable=False),
        sa.Column("budget_warned", sa.String(7)),
        sa.Column("budget_stopped", sa.String(7)),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("reserved_credits", sa.Integer()))
    op.create_index("ix_jobs_guild_user_created", "jobs", ["guild_id", "user_id", "created_at"])
    op.create_index("ix_jobs_guild_created", "jobs", ["guild_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_jobs_guild_created", "jobs")
    op.drop_index("ix_jobs_guild_user_created", "jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("reserved_credits")
    op.drop_table("guild_configs")
