"""outbox: the claim's index in the order messages are sent (status, priority, id)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain CREATE INDEX and DROP INDEX on both engines: no table is copied. The old
    # index served the claim only, which read every due message through it and sorted.
    op.create_index(op.f("ix_outbox_status_priority_id"), "outbox", ["status", "priority", "id"])
    op.drop_index(op.f("ix_outbox_status_next_attempt_at_priority"), table_name="outbox")


def downgrade() -> None:
    op.create_index(
        op.f("ix_outbox_status_next_attempt_at_priority"),
        "outbox",
        ["status", "next_attempt_at", "priority"],
    )
    op.drop_index(op.f("ix_outbox_status_priority_id"), table_name="outbox")
