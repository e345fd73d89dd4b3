"""work_entries by author and time (flood control); outbox by person and status

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain CREATE INDEX on both engines: no table is copied.
    op.create_index(
        op.f("ix_work_entries_staff_id_created_at"),
        "work_entries",
        ["staff_id", "created_at"],
        unique=False,
    )
    op.create_index(op.f("ix_outbox_staff_id_status"), "outbox", ["staff_id", "status"])


def downgrade() -> None:
    op.drop_index(op.f("ix_outbox_staff_id_status"), table_name="outbox")
    op.drop_index(op.f("ix_work_entries_staff_id_created_at"), table_name="work_entries")
