"""entries: an index the whole period's scoring aggregates from, grouped and covering

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_work_entries_scoring",
        "work_entries",
        ["staff_id", "indicator_id", "work_date", "status", "quantity", "misconduct"],
    )


def downgrade() -> None:
    op.drop_index("ix_work_entries_scoring", table_name="work_entries")
