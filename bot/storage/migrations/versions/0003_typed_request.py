"""Jobs carry a typed request: `params` becomes `request` (with its kind), `ephemeral` becomes
`private`, a held job says why in `held_reason`, and the never-written `seed` column goes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The sentence 0002-era code stored to mark a private result that finished too late.
_LATE_NOTE = "a private result finished after the interaction expired"


def _as_request(params: Any) -> dict[str, Any]:
    """An old `GenerationOptions` dict as a `Generate` request."""
    if isinstance(params, str):
        params = json.loads(params)
    old = dict(params or {})
    new: dict[str, Any] = {"kind": "generate", "resolution": old.get("resolution") or "1MP"}
    for key in ("aspect_ratio", "strength", "output_format", "quality", "upsample", "seed"):
        if old.get(key) is not None:
            new[key] = old[key]
    if old.get("reference_url"):
        new["references"] = [old["reference_url"]]
    return new


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.alter_column("params", new_column_name="request")
        batch.alter_column("ephemeral", new_column_name="private")
        batch.add_column(sa.Column("held_reason", sa.String(16)))
        batch.drop_column("seed")
    jobs = sa.table(
        "jobs",
        sa.column("id", sa.String),
        sa.column("request", sa.JSON),
        sa.column("state", sa.String),
        sa.column("delivery_note", sa.Text),
        sa.column("held_reason", sa.String),
    )
    connection = op.get_bind()
    for job_id, request in connection.execute(sa.select(jobs.c.id, jobs.c.request)).all():
        connection.execute(
            jobs.update().where(jobs.c.id == job_id).values(request=_as_request(request))
        )
    connection.execute(
        jobs.update()
        .where(jobs.c.state == "held")
        .values(held_reason=sa.case((jobs.c.delivery_note == _LATE_NOTE, "late"), else_="refused"))
    )


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("seed", sa.BigInteger()))
        batch.drop_column("held_reason")
        batch.alter_column("private", new_column_name="ephemeral")
        batch.alter_column("request", new_column_name="params")
