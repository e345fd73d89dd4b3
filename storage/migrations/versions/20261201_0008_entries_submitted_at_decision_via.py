"""work entries: when the current version was submitted; decision_via one of a known set

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-01 09:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DECISION_VIA = ("supervisor", "delegate", "higher", "hr", "bulk", "auto")


def upgrade() -> None:
    with op.batch_alter_table("work_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True))
    # Until now "submitted at" was read from updated_at, which an undecided entry's last
    # change set; a decided one's was its decision, so its creation is the better guess.
    op.execute(
        "UPDATE work_entries SET submitted_at = "
        "CASE WHEN status = 'submitted' THEN updated_at ELSE created_at END"
    )
    with op.batch_alter_table("work_entries", schema=None) as batch_op:
        batch_op.alter_column(
            "submitted_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
        batch_op.create_check_constraint(
            "decision_via",
            sa.column("decision_via").in_(DECISION_VIA),
        )


def downgrade() -> None:
    with op.batch_alter_table("work_entries", schema=None) as batch_op:
        batch_op.drop_constraint("decision_via", type_="check")
        batch_op.drop_column("submitted_at")
