"""the monthly check: periods, reviews, ratings, points, scores; misconduct on entries

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 14:30:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _decimal(name: str, precision: int, scale: int) -> sa.Column[Any]:
    return sa.Column(
        name, sa.Numeric(precision, scale).with_variant(sa.String(40), "sqlite"), nullable=False
    )


def _staff_fk(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ["staff.id"], name=op.f(f"fk_{table}_{column}_staff"))


def _period_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["period_id"],
        ["assessment_periods.id"],
        name=op.f(f"fk_{table}_period_id_assessment_periods"),
    )


def upgrade() -> None:
    op.create_table(
        "assessment_periods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=10), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        _when("calibration_started_at"),
        sa.Column("calibration_started_by_id", sa.Integer(), nullable=True),
        _when("publish_at"),
        _when("published_at"),
        sa.Column("published_by_id", sa.Integer(), nullable=True),
        _when("created_at", nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _staff_fk("assessment_periods", "calibration_started_by_id"),
        _staff_fk("assessment_periods", "published_by_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment_periods")),
        sa.UniqueConstraint("key", name=op.f("uq_assessment_periods_key")),
    )
    op.create_table(
        "period_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("post_type", sa.String(length=40), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=True),
        sa.Column("self_text", sa.Text(), nullable=True),
        _when("self_submitted_at"),
        _when("signed_off_at"),
        sa.Column("signed_off_by_id", sa.Integer(), nullable=True),
        sa.Column("excluded_reason", sa.Text(), nullable=True),
        sa.Column("excluded_by_id", sa.Integer(), nullable=True),
        _when("excluded_at"),
        _when("reopened_at"),
        sa.Column("reopen_reason", sa.Text(), nullable=True),
        sa.Column("reopened_by_id", sa.Integer(), nullable=True),
        _when("created_at", nullable=False),
        _when("updated_at", nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _period_fk("period_reviews"),
        _staff_fk("period_reviews", "staff_id"),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_period_reviews_department_id_departments"),
        ),
        _staff_fk("period_reviews", "reviewer_id"),
        _staff_fk("period_reviews", "signed_off_by_id"),
        _staff_fk("period_reviews", "excluded_by_id"),
        _staff_fk("period_reviews", "reopened_by_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_period_reviews")),
        sa.UniqueConstraint(
            "period_id", "staff_id", name=op.f("uq_period_reviews_period_id_staff_id")
        ),
    )
    op.create_index(
        op.f("ix_period_reviews_staff_id"), "period_reviews", ["staff_id"], unique=False
    )
    op.create_index(
        op.f("ix_period_reviews_period_id_reviewer_id"),
        "period_reviews",
        ["period_id", "reviewer_id"],
        unique=False,
    )
    op.create_table(
        "ratings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("indicator_id", sa.String(length=60), nullable=False),
        sa.Column(
            "rater_kind",
            sa.Enum(
                "supervisor",
                "self",
                "peer",
                "service_recipient",
                "third_party",
                name="rater_kind",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("rater_id", sa.Integer(), nullable=True),
        sa.Column("rater_key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        _when("created_at", nullable=False),
        _when("updated_at", nullable=False),
        _period_fk("ratings"),
        _staff_fk("ratings", "staff_id"),
        _staff_fk("ratings", "rater_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ratings")),
        sa.UniqueConstraint(
            "period_id",
            "staff_id",
            "indicator_id",
            "rater_kind",
            "rater_key",
            name=op.f("uq_ratings_period_id_staff_id_indicator_id_rater_kind_rater_key"),
        ),
    )
    op.create_table(
        "score_points",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("indicator_id", sa.String(length=60), nullable=True),
        _decimal("amount", 8, 3),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("disqualifying", sa.Boolean(), nullable=False),
        _when("created_at", nullable=False),
        _when("withdrawn_at"),
        sa.Column("withdrawn_by_id", sa.Integer(), nullable=True),
        _period_fk("score_points"),
        _staff_fk("score_points", "staff_id"),
        _staff_fk("score_points", "author_id"),
        _staff_fk("score_points", "withdrawn_by_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_points")),
    )
    op.create_index(
        op.f("ix_score_points_period_id_staff_id"),
        "score_points",
        ["period_id", "staff_id"],
        unique=False,
    )
    op.create_table(
        "period_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        _decimal("score", 9, 6),
        sa.Column("grade_id", sa.String(length=32), nullable=False),
        sa.Column("by_score_grade_id", sa.String(length=32), nullable=False),
        sa.Column("breakdown", sa.JSON(), nullable=False),
        sa.Column("disqualified", sa.Boolean(), nullable=False),
        _when("computed_at", nullable=False),
        sa.Column("calibrated_grade_id", sa.String(length=32), nullable=True),
        sa.Column("calibration_reason", sa.Text(), nullable=True),
        sa.Column("calibrated_by_id", sa.Integer(), nullable=True),
        _when("calibrated_at"),
        _when("published_at"),
        _when("read_at"),
        sa.Column("version", sa.Integer(), nullable=False),
        _period_fk("period_scores"),
        _staff_fk("period_scores", "staff_id"),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_period_scores_department_id_departments"),
        ),
        _staff_fk("period_scores", "calibrated_by_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_period_scores")),
        sa.UniqueConstraint(
            "period_id", "staff_id", name=op.f("uq_period_scores_period_id_staff_id")
        ),
    )
    op.create_index(
        op.f("ix_period_scores_period_id_department_id"),
        "period_scores",
        ["period_id", "department_id"],
        unique=False,
    )
    with op.batch_alter_table("work_entries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("misconduct", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("work_entries", schema=None) as batch_op:
        batch_op.drop_column("misconduct")
    op.drop_index(op.f("ix_period_scores_period_id_department_id"), table_name="period_scores")
    op.drop_table("period_scores")
    op.drop_index(op.f("ix_score_points_period_id_staff_id"), table_name="score_points")
    op.drop_table("score_points")
    op.drop_table("ratings")
    op.drop_index(op.f("ix_period_reviews_period_id_reviewer_id"), table_name="period_reviews")
    op.drop_index(op.f("ix_period_reviews_staff_id"), table_name="period_reviews")
    op.drop_table("period_reviews")
    op.drop_table("assessment_periods")
