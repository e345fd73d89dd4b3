"""peer requests: who is asked to rate whom, per period (issue 14, peers)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "peer_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("rater_id", sa.Integer(), nullable=False),
        sa.Column("assigned_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["period_id"],
            ["assessment_periods.id"],
            name=op.f("fk_peer_requests_period_id_assessment_periods"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_peer_requests_staff_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["rater_id"], ["staff.id"], name=op.f("fk_peer_requests_rater_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["assigned_by_id"], ["staff.id"], name=op.f("fk_peer_requests_assigned_by_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_peer_requests")),
        sa.UniqueConstraint(
            "period_id",
            "staff_id",
            "rater_id",
            name=op.f("uq_peer_requests_period_id_staff_id_rater_id"),
        ),
    )
    op.create_index(
        op.f("ix_peer_requests_period_id_rater_id"),
        "peer_requests",
        ["period_id", "rater_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_peer_requests_period_id_rater_id"), table_name="peer_requests")
    op.drop_table("peer_requests")
