"""bonus runs: allowances HR assigns, runs previewed and published, their lines

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DECIMAL = sa.Numeric(6, 3).with_variant(sa.String(40), "sqlite")


def upgrade() -> None:
    op.create_table(
        "bonus_allowances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("assigned_by_id", sa.Integer(), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["period_id"],
            ["assessment_periods.id"],
            name=op.f("fk_bonus_allowances_period_id_assessment_periods"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_bonus_allowances_staff_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["assigned_by_id"],
            ["staff.id"],
            name=op.f("fk_bonus_allowances_assigned_by_id_staff"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bonus_allowances")),
        sa.UniqueConstraint(
            "period_id",
            "staff_id",
            "kind",
            name=op.f("uq_bonus_allowances_period_id_staff_id_kind"),
        ),
    )
    op.create_table(
        "bonus_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "published",
                "discarded",
                name="bonus_run_status",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("basis", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=True),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("pool_units", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("factors", sa.JSON(), nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.Column("total_units", sa.BigInteger(), nullable=False),
        sa.Column("change_units", sa.BigInteger(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_by_id", sa.Integer(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["period_id"],
            ["assessment_periods.id"],
            name=op.f("fk_bonus_runs_period_id_assessment_periods"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["staff.id"], name=op.f("fk_bonus_runs_created_by_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["published_by_id"], ["staff.id"], name=op.f("fk_bonus_runs_published_by_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bonus_runs")),
        sa.UniqueConstraint("period_id", "number", name=op.f("uq_bonus_runs_period_id_number")),
    )
    op.create_index(op.f("ix_bonus_runs_period_id_status"), "bonus_runs", ["period_id", "status"])
    op.create_table(
        "bonus_lines",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("grade_id", sa.String(length=32), nullable=True),
        sa.Column("difficulty", _DECIMAL, nullable=True),
        sa.Column("weight", sa.BigInteger(), nullable=False),
        sa.Column("remainder", sa.BigInteger(), nullable=True),
        sa.Column("share", sa.BigInteger(), nullable=False),
        sa.Column("allowance", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("paid", sa.BigInteger(), nullable=False),
        sa.Column("change", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_bonus_lines_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("run_id", "staff_id", name=op.f("pk_bonus_lines")),
    )


def downgrade() -> None:
    op.drop_table("bonus_lines")
    op.drop_index(op.f("ix_bonus_runs_period_id_status"), table_name="bonus_runs")
    op.drop_table("bonus_runs")
    op.drop_table("bonus_allowances")
