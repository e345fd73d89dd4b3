"""third-party evaluators: external evaluators invited per period and departments

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "third_party_evaluators",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=True),
        sa.Column("bound_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["period_id"],
            ["assessment_periods.id"],
            name=op.f("fk_third_party_evaluators_period_id_assessment_periods"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["staff.id"],
            name=op.f("fk_third_party_evaluators_created_by_id_staff"),
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by_id"],
            ["staff.id"],
            name=op.f("fk_third_party_evaluators_revoked_by_id_staff"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_third_party_evaluators")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_third_party_evaluators_code_hash")),
    )
    op.create_index(
        op.f("ix_third_party_evaluators_period_id"),
        "third_party_evaluators",
        ["period_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_third_party_evaluators_telegram_user_id"),
        "third_party_evaluators",
        ["telegram_user_id"],
        unique=False,
    )
    op.create_table(
        "third_party_scopes",
        sa.Column("evaluator_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["evaluator_id"],
            ["third_party_evaluators.id"],
            name=op.f("fk_third_party_scopes_evaluator_id_third_party_evaluators"),
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_third_party_scopes_department_id_departments"),
        ),
        sa.PrimaryKeyConstraint(
            "evaluator_id", "department_id", name=op.f("pk_third_party_scopes")
        ),
    )


def downgrade() -> None:
    op.drop_table("third_party_scopes")
    op.drop_index(
        op.f("ix_third_party_evaluators_telegram_user_id"), table_name="third_party_evaluators"
    )
    op.drop_index(op.f("ix_third_party_evaluators_period_id"), table_name="third_party_evaluators")
    op.drop_table("third_party_evaluators")
