"""roster imports in batches: one import's turn at a time, and an upload being applied

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-02 06:15:00

An import now writes people in short committed batches (SQLite's one write lock is held
for a batch, not for 100,000 people). ``roster_import_turns`` holds the one import
writing; ``roster_uploads.applying_since`` (and ``applying_claim``, which Apply holds it)
marks an upload whose Apply is under way, so an
import that stopped part-way is found and handed back to HR to finish, and
``roster_uploads.stopped_at`` says one was handed back so (it can no longer be cancelled).
``roster_staging.version`` is each person's version as the plan read it: a person someone
else changed since is not overwritten.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("roster_staging", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=True))
    op.create_table(
        "roster_import_turns",
        sa.Column("slot", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("import_id", sa.String(length=32), nullable=False),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("slot", name=op.f("pk_roster_import_turns")),
    )
    with op.batch_alter_table("roster_uploads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("applying_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("applying_claim", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("roster_uploads", schema=None) as batch_op:
        batch_op.drop_column("stopped_at")
        batch_op.drop_column("applying_claim")
        batch_op.drop_column("applying_since")
    op.drop_table("roster_import_turns")
    with op.batch_alter_table("roster_staging", schema=None) as batch_op:
        batch_op.drop_column("version")
