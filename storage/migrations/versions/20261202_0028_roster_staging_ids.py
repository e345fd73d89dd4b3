"""roster_staging: each row's ids as the import's plan worked them out

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-02 03:00:00

The plan knows every id a staged row needs (the person's, department's, post's and
supervisor's; stand-ins below zero for what the import creates). With them staged, the
import's one transaction on SQLite adds the new people by copying rows, with no look-up
by name or employee number under the write lock. Staged rows are garbage outside an
import, so the columns may be empty on rows staged before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("staff_id", "department_id", "post_id", "supervisor_id")


def upgrade() -> None:
    with op.batch_alter_table("roster_staging", schema=None) as batch_op:
        for name in _COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("roster_staging", schema=None) as batch_op:
        for name in reversed(_COLUMNS):
            batch_op.drop_column(name)
