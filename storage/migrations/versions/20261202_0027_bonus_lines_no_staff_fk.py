"""bonus lines: no foreign key to staff (a run's lines come from a join with staff)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-02 01:00:00

A run's lines are written only by its own INSERT ... SELECT, which joins the published
results with ``staff``; staff rows are never deleted. On PostgreSQL the key's check
locked each person's staff row again, a fifth to a third of each window's time
(bench/bonus_export.py), and put the run over twice its floor.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("bonus_lines", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_bonus_lines_staff_id_staff"), type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("bonus_lines", schema=None) as batch_op:
        batch_op.create_foreign_key(
            op.f("fk_bonus_lines_staff_id_staff"), "staff", ["staff_id"], ["id"]
        )
