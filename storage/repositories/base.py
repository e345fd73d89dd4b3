"""Repositories: the only place that speaks SQL. They add and query, and never commit."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")


def rows_as(result: Any, kind: type[T]) -> list[T]:
    """The rows of a query result, each read by column label into ``kind``.

    The labels are ``kind``'s field names, so a column added or moved in the query
    cannot shift the values into the wrong fields: it fails loudly instead.
    """
    return [kind(**row) for row in result.mappings()]


class Repository:
    """A repository over the unit of work's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def dialect(self) -> str:
        """The database's dialect name (``sqlite`` or ``postgresql``)."""
        return self.session.get_bind().dialect.name
