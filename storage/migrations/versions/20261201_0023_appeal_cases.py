"""appeal cases: reviews and appeals of published results, with their clocks

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-01 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "appeal_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("extended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("extended_by_id", sa.Integer(), nullable=True),
        sa.Column("extension_reason", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=10), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["period_id"],
            ["assessment_periods.id"],
            name=op.f("fk_appeal_cases_period_id_assessment_periods"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_appeal_cases_staff_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["extended_by_id"], ["staff.id"], name=op.f("fk_appeal_cases_extended_by_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["staff.id"], name=op.f("fk_appeal_cases_decided_by_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appeal_cases")),
        sa.UniqueConstraint(
            "period_id", "staff_id", "kind", name=op.f("uq_appeal_cases_period_id_staff_id_kind")
        ),
    )
    op.create_index(op.f("ix_appeal_cases_staff_id"), "appeal_cases", ["staff_id"], unique=False)
    op.create_index(
        op.f("ix_appeal_cases_status_due_on"), "appeal_cases", ["status", "due_on"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_appeal_cases_status_due_on"), table_name="appeal_cases")
    op.drop_index(op.f("ix_appeal_cases_staff_id"), table_name="appeal_cases")
    op.drop_table("appeal_cases")
