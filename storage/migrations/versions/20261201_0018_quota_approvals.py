"""quota approvals: the wider top-grade share approved per period and scope

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "quota_approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("scope_key", sa.String(length=20), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("approved_by_id", sa.Integer(), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by_id", sa.Integer(), nullable=True),
        sa.Column("withdrawal_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["period_id"],
            ["assessment_periods.id"],
            name=op.f("fk_quota_approvals_period_id_assessment_periods"),
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_quota_approvals_department_id_departments"),
        ),
        sa.ForeignKeyConstraint(
            ["approved_by_id"], ["staff.id"], name=op.f("fk_quota_approvals_approved_by_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["withdrawn_by_id"],
            ["staff.id"],
            name=op.f("fk_quota_approvals_withdrawn_by_id_staff"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quota_approvals")),
        sa.UniqueConstraint(
            "period_id", "scope_key", name=op.f("uq_quota_approvals_period_id_scope_key")
        ),
    )


def downgrade() -> None:
    op.drop_table("quota_approvals")
