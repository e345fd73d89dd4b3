"""annual runs: each roll-up writes its own generation of annual results, switched in at the end

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-01 22:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "annual_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("with_approval", sa.Boolean(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_by_id", sa.Integer(), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["started_by_id"], ["staff.id"], name=op.f("fk_annual_runs_started_by_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annual_runs")),
    )
    for state in ("running", "current"):
        op.create_index(
            f"uq_annual_runs_year_{state}",
            "annual_runs",
            ["year"],
            unique=True,
            sqlite_where=sa.text(f"state = '{state}'"),
            postgresql_where=sa.text(f"state = '{state}'"),
        )
    # The years already rolled up: one current run each, owning their rows.
    op.execute(
        "INSERT INTO annual_runs (year, state, with_approval, started_at, finished_at) "
        "SELECT year, 'current', FALSE, MIN(computed_at), MAX(computed_at) "
        "FROM annual_results GROUP BY year"
    )
    with op.batch_alter_table("annual_results") as batch:
        batch.add_column(sa.Column("run_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE annual_results SET run_id = (SELECT annual_runs.id FROM annual_runs "
        "WHERE annual_runs.year = annual_results.year)"
    )
    with op.batch_alter_table("annual_results") as batch:
        batch.alter_column("run_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_constraint("uq_annual_results_year_staff_id", type_="unique")
        batch.create_unique_constraint(
            batch.f("uq_annual_results_run_id_staff_id"), ["run_id", "staff_id"]
        )
        batch.create_foreign_key(
            batch.f("fk_annual_results_run_id_annual_runs"), "annual_runs", ["run_id"], ["id"]
        )


def downgrade() -> None:
    # Only the current generation of each year survives a downgrade.
    op.execute(
        "DELETE FROM annual_results WHERE run_id NOT IN "
        "(SELECT id FROM annual_runs WHERE state = 'current')"
    )
    with op.batch_alter_table("annual_results") as batch:
        batch.drop_constraint("fk_annual_results_run_id_annual_runs", type_="foreignkey")
        batch.drop_constraint("uq_annual_results_run_id_staff_id", type_="unique")
        batch.create_unique_constraint(
            batch.f("uq_annual_results_year_staff_id"), ["year", "staff_id"]
        )
        batch.drop_column("run_id")
    for state in ("running", "current"):
        op.drop_index(f"uq_annual_runs_year_{state}", table_name="annual_runs")
    op.drop_table("annual_runs")
