"""Repositories: the only place that speaks SQL. They add and query, and never commit."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Interval, func, literal
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from storage.types import UTCDateTime

T = TypeVar("T")


def rows_as(result: Any, kind: type[T]) -> list[T]:
    """The rows of a query result, each read by column label into ``kind``.

    The labels are ``kind``'s field names, so a column added or moved in the query
    cannot shift the values into the wrong fields: it fails loudly instead.
    """
    return [kind(**row) for row in result.mappings()]


def store_now(dialect: str, *, minus: timedelta | None = None) -> ColumnElement[datetime]:
    """The store's own clock, the one every process sharing it reads alike (whatever the
    bot's clock says: the sandbox moves that one), ``minus`` a span if given."""
    if dialect == "postgresql":
        now: ColumnElement[datetime] = func.clock_timestamp(type_=UTCDateTime())
        return now if minus is None else now - literal(minus, Interval())
    # SQLite's clock, in the format SQLAlchemy writes and reads (milliseconds).
    modifiers = [] if minus is None else [f"-{minus.total_seconds():.3f} seconds"]
    return func.strftime("%Y-%m-%d %H:%M:%f", "now", *modifiers, type_=UTCDateTime())


class Repository:
    """A repository over the unit of work's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def dialect(self) -> str:
        """The database's dialect name (``sqlite`` or ``postgresql``)."""
        return self.session.get_bind().dialect.name


class Unindexed(FunctionElement[Any]):
    """A column no index of which may lead SQLite to the rows (written ``+column`` there).

    Without statistics SQLite would rather take a (status, ...) index and read every row
    of that status than the narrower way in the statement gives (a range of ids, a few
    authors). PostgreSQL keeps statistics and needs no such hint.
    """

    name = "unindexed"
    inherit_cache = True

    def __init__(self, column: Any) -> None:
        super().__init__(column)
        self.type = column.type


@compiles(Unindexed)
def _column(element: Unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(Unindexed, "sqlite")
def _column_not_by_index(element: Unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return "+" + str(compiler.process(element.clauses, **kw))
