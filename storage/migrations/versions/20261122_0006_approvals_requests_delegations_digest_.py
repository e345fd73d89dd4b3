"""approvals: requests, delegations, digest time, decision via

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 01:28:06.750598
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "delegations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("supervisor_id", sa.Integer(), nullable=False),
        sa.Column("delegate_id", sa.Integer(), nullable=False),
        sa.Column("until", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["delegate_id"], ["staff.id"], name=op.f("fk_delegations_delegate_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["supervisor_id"], ["staff.id"], name=op.f("fk_delegations_supervisor_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delegations")),
    )
    with op.batch_alter_table("delegations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_delegations_delegate_id"), ["delegate_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_delegations_supervisor_id"), ["supervisor_id"], unique=False
        )

    op.create_table(
        "approval_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("entry_version", sa.Integer(), nullable=False),
        sa.Column("approver_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["approver_id"], ["staff.id"], name=op.f("fk_approval_requests_approver_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["work_entries.id"],
            name=op.f("fk_approval_requests_entry_id_work_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_requests")),
        sa.UniqueConstraint(
            "entry_id",
            "entry_version",
            "approver_id",
            name=op.f("uq_approval_requests_entry_id_entry_version_approver_id"),
        ),
    )
    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_approval_requests_approver_id"), ["approver_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_approval_requests_entry_id"), ["entry_id"], unique=False
        )

    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approval_digest_at", sa.String(length=5), nullable=True))

    with op.batch_alter_table("work_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("decision_via", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_work_entries_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("work_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_work_entries_status"))
        batch_op.drop_column("escalated_at")
        batch_op.drop_column("decision_via")

    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_column("approval_digest_at")

    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_approval_requests_entry_id"))
        batch_op.drop_index(batch_op.f("ix_approval_requests_approver_id"))

    op.drop_table("approval_requests")
    with op.batch_alter_table("delegations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delegations_supervisor_id"))
        batch_op.drop_index(batch_op.f("ix_delegations_delegate_id"))

    op.drop_table("delegations")
