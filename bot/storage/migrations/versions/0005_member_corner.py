"""Each member's own corner: their defaults and presets per server, and a `scrubbed` mark on
jobs whose prompt and images were removed (older than HISTORY_DAYS, or /flux-forget-me).

A member's history is read through `ix_jobs_guild_user_created` (guild, user, created), made
by 0002, and filtered by kind through `ix_jobs_guild_user_kind_created` (without it the kind
index of 0004 is chosen, which reads every job of that kind in the server); the purge and the
forgotten members' clean-up go through `ix_jobs_scrubbed_created`.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.storage.models import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "member_defaults",
        sa.Column("guild_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("user_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_member_defaults_user", "member_defaults", ["user_id"])
    op.create_table(
        "member_presets",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("suffix", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("guild_id", "user_id", "name", name="uq_member_presets_name"),
    )
    op.create_index("ix_member_presets_user", "member_presets", ["user_id"])
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("scrubbed", sa.String(16)))
    op.create_index("ix_jobs_scrubbed_created", "jobs", ["scrubbed", "created_at"])
    op.create_index(
        "ix_jobs_guild_user_kind_created", "jobs", ["guild_id", "user_id", "kind", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_guild_user_kind_created", table_name="jobs")
    op.drop_index("ix_jobs_scrubbed_created", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("scrubbed")
    op.drop_index("ix_member_presets_user", table_name="member_presets")
    op.drop_table("member_presets")
    op.drop_index("ix_member_defaults_user", table_name="member_defaults")
    op.drop_table("member_defaults")
