"""roster_staging: checked roster rows waiting for their import's one short transaction

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "roster_staging",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.String(length=32), nullable=False),
        sa.Column("employee_no", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("department", sa.String(length=200), nullable=False),
        sa.Column("post", sa.String(length=200), nullable=False),
        sa.Column("roles", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("supervisor_no", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roster_staging")),
        sa.UniqueConstraint(
            "import_id", "employee_no", name=op.f("uq_roster_staging_import_id_employee_no")
        ),
    )
    op.create_index(
        op.f("ix_roster_staging_created_at"), "roster_staging", ["created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_roster_staging_created_at"), table_name="roster_staging")
    op.drop_table("roster_staging")
