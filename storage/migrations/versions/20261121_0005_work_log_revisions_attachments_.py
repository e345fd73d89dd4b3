"""work log: revisions, attachments, conversations, leave, job claims

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 23:45:00.510537
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_claims",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_job_claims")),
    )
    op.create_table(
        "conversations",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("step", sa.String(length=40), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_conversations_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("staff_id", name=op.f("pk_conversations")),
    )
    op.create_table(
        "leave_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["staff.id"], name=op.f("fk_leave_days_recorded_by_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_leave_days_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leave_days")),
        sa.UniqueConstraint("staff_id", "day", name=op.f("uq_leave_days_staff_id_day")),
    )
    with op.batch_alter_table("leave_days", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_leave_days_day"), ["day"], unique=False)

    op.create_table(
        "entry_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("file_id", sa.String(length=200), nullable=False),
        sa.Column("file_unique_id", sa.String(length=100), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column("file_size", sa.Integer(), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["work_entries.id"],
            name=op.f("fk_entry_attachments_entry_id_work_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entry_attachments")),
    )
    with op.batch_alter_table("entry_attachments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_entry_attachments_entry_id"), ["entry_id"], unique=False
        )

    op.create_table(
        "entry_revisions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by_id", sa.Integer(), nullable=True),
        sa.Column("work_date", sa.Date(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("indicator_id", sa.String(length=60), nullable=True),
        sa.Column(
            "quantity", sa.Numeric(12, 3).with_variant(sa.String(40), "sqlite"), nullable=True
        ),
        sa.Column("hours", sa.Numeric(5, 2).with_variant(sa.String(40), "sqlite"), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "submitted",
                "approved",
                "returned",
                "rejected",
                "deleted",
                name="revision_status",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["changed_by_id"], ["staff.id"], name=op.f("fk_entry_revisions_changed_by_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["work_entries.id"],
            name=op.f("fk_entry_revisions_entry_id_work_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entry_revisions")),
    )
    with op.batch_alter_table("entry_revisions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_entry_revisions_entry_id"), ["entry_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("entry_revisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_entry_revisions_entry_id"))

    op.drop_table("entry_revisions")
    with op.batch_alter_table("entry_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_entry_attachments_entry_id"))

    op.drop_table("entry_attachments")
    with op.batch_alter_table("leave_days", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_leave_days_day"))

    op.drop_table("leave_days")
    op.drop_table("conversations")
    op.drop_table("job_claims")
