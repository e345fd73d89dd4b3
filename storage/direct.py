"""Hot statements sent straight to the driver, past SQLAlchemy's execution layer.

Every Telegram update runs a handful of statements (the gate's lookup, the quick
log's write). On SQLite each costs the driver 10 to 20 microseconds, and SQLAlchemy's
per-execution machinery (execution context, result object, events, the asyncpg
adapter) some 40 to 300 more. ``Direct`` keeps SQLAlchemy for everything that
matters, compiling the statement once per dialect with SQLAlchemy's own compiler and
type processors, so the SQL text, the parameter order and every value's conversion
are exactly what ``session.execute`` would send; only the per-execution layer is
skipped. Statements with Python-side column defaults are refused: give every value.

It runs on the unit of work's own connection. On SQLite a write opens the same
transaction a ``session.execute`` would, and the unit of work's commit or rollback
ends it. On PostgreSQL it goes to asyncpg directly only in an autocommit unit of
work (the statement is its own transaction); inside a transaction it goes through
``session.execute``, which sends the BEGIN the transaction needs. SQLAlchemy's engine
events never see direct statements: ``observers`` do.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, ResourceClosedError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.selectable import ReturnsRows

from storage.sqlite_driver import InlineConnection

Processor = Callable[[Any], Any] | None

# Called with each statement sent directly (SQLAlchemy's engine events never see
# them): for tests counting statements, and for debugging.
observers: list[Callable[[str], None]] = []


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # the bound parameters, in positional order
    fixed: dict[str, Any]  # the values bound in the statement itself (literals)
    binds: tuple[Processor, ...]
    results: tuple[Processor, ...]


class Direct:
    """A Core statement, compiled once, that runs on SQLite's driver connection directly."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def compiled(self, dialect: Dialect) -> _Compiled:
        """SQL text, parameter order and type processors for ``dialect`` (built once)."""
        done = self._compiled.get(dialect.name)
        if done is None:
            compiled = cast(
                SQLCompiler, cast(ClauseElement, self.statement).compile(dialect=dialect)
            )
            computed = [*compiled.insert_prefetch, *compiled.update_prefetch]
            if computed:
                missing = ", ".join(column.name for column in computed)
                raise ValueError(f"give every value of a direct statement (defaults: {missing})")
            names = tuple(compiled.positiontup or ())
            binds = tuple(
                compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
                for name in names
            )
            # What a SELECT selects, or what an INSERT/UPDATE RETURNs.
            columns = cast(ReturnsRows, self.statement).exported_columns
            results = tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in columns
            )
            fixed = {name: value for name, value in compiled.params.items() if value is not None}
            done = self._compiled[dialect.name] = _Compiled(
                compiled.string, names, fixed, binds, results
            )
        return done


class Connection:
    """The unit of work's connection, for running several ``Direct`` statements in a row."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect
        self._target: Any = None
        self._looked = False

    async def _driver(self) -> Any:
        # SQLite: our inline connection. PostgreSQL: the asyncpg connection, but only
        # in an autocommit unit of work; in a transaction the statement goes through
        # SQLAlchemy, which sends the BEGIN it owes first.
        if not self._looked:
            self._looked = True
            raw = await (await self.session.connection()).get_raw_connection()
            if self.dialect.name == "sqlite" or getattr(raw.dbapi_connection, "autocommit", False):
                self._target = raw.driver_connection
        return self._target

    async def rows(self, direct: Direct, parameters: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run ``direct`` in the session's transaction; its rows (none for a plain write)."""
        driver = await self._driver()
        if driver is None:
            result = await self.session.execute(direct.statement, dict(parameters))
            try:
                return [tuple(row) for row in result]
            except ResourceClosedError:  # a statement that returns no rows
                return []
        compiled = direct.compiled(self.dialect)
        values = {**compiled.fixed, **parameters} if compiled.fixed else parameters
        arguments = [
            values[name] if process is None else process(values[name])
            for name, process in zip(compiled.names, compiled.binds, strict=True)
        ]
        for observe in observers:
            observe(compiled.sql)
        if isinstance(driver, InlineConnection):
            fetched = await _sqlite_rows(driver, compiled.sql, arguments)
        else:
            fetched = await _postgresql_rows(driver, self.dialect, compiled.sql, arguments)
        processors = compiled.results
        if not any(processors):
            return [tuple(row) for row in fetched]
        return [
            tuple(
                value if process is None else process(value)
                for value, process in zip(row, processors, strict=True)
            )
            for row in fetched
        ]


async def _sqlite_rows(driver: InlineConnection, sql: str, arguments: list[Any]) -> list[Any]:
    await driver.before(sql)
    try:
        return driver.raw.execute(sql, arguments).fetchall()
    except sqlite3.Error as error:  # as session.execute would raise it
        raise DBAPIError.instance(sql, arguments, error, sqlite3.Error) from error
    finally:
        driver.after()


async def _postgresql_rows(
    driver: Any, dialect: Dialect, sql: str, arguments: list[Any]
) -> list[Any]:
    import asyncpg  # type: ignore[import-untyped]

    try:
        return list(await driver.fetch(sql, *arguments))
    except asyncpg.PostgresError as error:
        # As session.execute would raise it: by SQLSTATE class, the DBAPI's error kinds.
        dbapi: Any = dialect.dbapi
        state = str(getattr(error, "sqlstate", "") or "")
        kind = {"23": dbapi.IntegrityError, "22": dbapi.DataError}.get(
            state[:2], dbapi.DatabaseError
        )
        raise DBAPIError.instance(sql, arguments, kind(str(error), error), dbapi.Error) from error


_KEY = "workledger.direct"


@event.listens_for(Session, "after_transaction_end")
def _forget_connection(session: Session, transaction: SessionTransaction) -> None:
    # The connection goes back to the pool with the transaction: never reuse it after.
    if transaction.parent is None:
        session.info.pop(_KEY, None)


async def rows(
    session: AsyncSession, direct: Direct, parameters: Mapping[str, Any]
) -> list[tuple[Any, ...]]:
    """Run one ``Direct`` statement in the session's transaction; its rows.

    The driver connection is looked up once per transaction and kept in the session.
    """
    connection = session.info.get(_KEY)
    if connection is None:
        connection = session.info[_KEY] = Connection(session)
    return await cast(Connection, connection).rows(direct, parameters)
