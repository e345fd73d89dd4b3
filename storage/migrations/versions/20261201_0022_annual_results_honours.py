"""annual results, honour awards and training records: the annual roll-up and the career record

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "annual_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("periods", sa.Integer(), nullable=False),
        sa.Column(
            "score",
            sa.Numeric(9, 6).with_variant(sa.String(40), "sqlite"),
            nullable=True,
        ),
        sa.Column("by_score_grade_id", sa.String(length=32), nullable=True),
        sa.Column("grade_id", sa.String(length=32), nullable=True),
        sa.Column("barred_by", sa.JSON(), nullable=False),
        sa.Column("trainings", sa.JSON(), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("with_approval", sa.Boolean(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("computed_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_annual_results_staff_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_annual_results_department_id_departments"),
        ),
        sa.ForeignKeyConstraint(
            ["computed_by_id"], ["staff.id"], name=op.f("fk_annual_results_computed_by_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annual_results")),
        sa.UniqueConstraint("year", "staff_id", name=op.f("uq_annual_results_year_staff_id")),
    )
    op.create_index(op.f("ix_annual_results_staff_id"), "annual_results", ["staff_id"])
    op.create_table(
        "honour_awards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("honour_id", sa.String(length=32), nullable=False),
        sa.Column("citation", sa.Text(), nullable=False),
        sa.Column("awarded_on", sa.Date(), nullable=False),
        sa.Column("awarded_by_id", sa.Integer(), nullable=False),
        sa.Column("awarded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_honour_awards_staff_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["awarded_by_id"], ["staff.id"], name=op.f("fk_honour_awards_awarded_by_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_honour_awards")),
    )
    op.create_index(op.f("ix_honour_awards_staff_id"), "honour_awards", ["staff_id"])
    op.create_table(
        "training_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("training_id", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("completed_on", sa.Date(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_training_records_staff_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["staff.id"],
            name=op.f("fk_training_records_recorded_by_id_staff"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_records")),
    )
    op.create_index(op.f("ix_training_records_staff_id"), "training_records", ["staff_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_training_records_staff_id"), table_name="training_records")
    op.drop_table("training_records")
    op.drop_index(op.f("ix_honour_awards_staff_id"), table_name="honour_awards")
    op.drop_table("honour_awards")
    op.drop_index(op.f("ix_annual_results_staff_id"), table_name="annual_results")
    op.drop_table("annual_results")
