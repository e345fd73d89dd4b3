"""Migrations: every revision upgrades, downgrades and upgrades again; models match them."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from storage import migrate
from storage.engine import create_engine
from storage.models import Base


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


async def test_stairway(empty_database_url: str) -> None:
    """Each revision: upgrade to it, downgrade one step, upgrade again."""
    engine = create_engine(empty_database_url)
    try:
        previous = "base"
        for revision in migrate.revisions():
            await migrate.upgrade(engine, revision)
            assert await migrate.current_revision(engine) == revision
            await migrate.downgrade(engine, previous)
            assert await migrate.current_revision(engine) == (
                None if previous == "base" else previous
            )
            await migrate.upgrade(engine, revision)
            previous = revision
        await migrate.downgrade(engine, "base")
        async with engine.connect() as connection:
            assert await connection.run_sync(_tables) == set()
    finally:
        await engine.dispose()


async def test_models_match_migrations(empty_database_url: str) -> None:
    """The schema the migrations build is the schema the models describe."""
    engine = create_engine(empty_database_url)

    def diff(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    try:
        await migrate.upgrade(engine)
        async with engine.connect() as connection:
            assert await connection.run_sync(diff) == []
    finally:
        await engine.dispose()


async def test_audit_log_is_append_only(database_url: str) -> None:
    """The database itself refuses to change or delete audit events."""
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO audit_log (at, action, subject_type, details) "
                    "VALUES (CURRENT_TIMESTAMP, 'test', 'thing', '{}')"
                )
            )
        for statement in ("UPDATE audit_log SET action = 'forged'", "DELETE FROM audit_log"):
            with pytest.raises(DBAPIError, match="append-only"):
                async with engine.begin() as connection:
                    await connection.execute(text(statement))
        async with engine.connect() as connection:
            rows = (await connection.execute(text("SELECT action FROM audit_log"))).all()
        assert [row.action for row in rows] == ["test"]
    finally:
        await engine.dispose()
