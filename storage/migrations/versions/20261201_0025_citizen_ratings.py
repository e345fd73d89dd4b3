"""citizen ratings: the codes citizens open, and their stars, comments and flags

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-01 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "citizen_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_citizen_codes_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_citizen_codes")),
    )
    op.create_index(op.f("ix_citizen_codes_staff_id_kind"), "citizen_codes", ["staff_id", "kind"])
    op.create_table(
        "citizen_ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("citizen_hash", sa.String(length=64), nullable=False),
        sa.Column("stars", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("awaiting_comment", sa.Boolean(), nullable=False),
        sa.Column("flags", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["code_id"],
            ["citizen_codes.id"],
            name=op.f("fk_citizen_ratings_code_id_citizen_codes"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_citizen_ratings_staff_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["period_id"],
            ["assessment_periods.id"],
            name=op.f("fk_citizen_ratings_period_id_assessment_periods"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["staff.id"], name=op.f("fk_citizen_ratings_decided_by_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_citizen_ratings")),
    )
    op.create_index(
        op.f("ix_citizen_ratings_staff_id_created_at"),
        "citizen_ratings",
        ["staff_id", "created_at"],
    )
    op.create_index(
        op.f("ix_citizen_ratings_citizen_hash_staff_id"),
        "citizen_ratings",
        ["citizen_hash", "staff_id"],
    )
    op.create_index(op.f("ix_citizen_ratings_status_day"), "citizen_ratings", ["status", "day"])


def downgrade() -> None:
    op.drop_table("citizen_ratings")
    op.drop_table("citizen_codes")
