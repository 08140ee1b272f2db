"""Jobs name their kind in a column (generate, upscale, outpaint, …), so usage and history can
be counted and filtered by kind with an index instead of reading every request's JSON.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every job before this revision was a generation.
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(16), nullable=False, server_default="generate")
        )
    op.create_index("ix_jobs_guild_kind_created", "jobs", ["guild_id", "kind", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_jobs_guild_kind_created", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("kind")
