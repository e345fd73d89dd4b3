"""outbox: the entry an approval request asks about, and edits of sent messages

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_entry_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "edits_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
            )
        )
        batch_op.create_index(
            batch_op.f("ix_outbox_request_entry_id_status"),
            ["request_entry_id", "status"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_outbox_status_edits_id"), ["status", "edits_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_request_entry_id_work_entries"),
            "work_entries",
            ["request_entry_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_edits_id_outbox"), "outbox", ["edits_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_outbox_edits_id_outbox"), type_="foreignkey")
        batch_op.drop_constraint(
            batch_op.f("fk_outbox_request_entry_id_work_entries"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_outbox_status_edits_id"))
        batch_op.drop_index(batch_op.f("ix_outbox_request_entry_id_status"))
        batch_op.drop_column("edits_id")
        batch_op.drop_column("request_entry_id")
