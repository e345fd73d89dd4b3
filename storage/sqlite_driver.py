"""SQLite for the async engine without a thread hop per call.

SQLAlchemy's ``aiosqlite`` driver runs every driver call (open a cursor, execute,
fetch, close, commit) on a helper thread and waits for it: three to five hops per
statement, each costing far more than the statement itself, which on a local file
takes microseconds. This driver keeps SQLAlchemy's ``aiosqlite`` dialect and its
adaptation layer but hands it a connection that runs each call at once, on the
event loop's own thread, through the standard ``sqlite3`` module.

Blocking the loop would be unsafe if a coroutine could wait there for SQLite's write
lock while another coroutine of the same process holds it across an ``await``: the
holder could never run again to release it. So writes take turns in-process: a
connection about to start a write transaction first awaits the store's writer lock
(an ``asyncio.Lock`` per database file and event loop) and gives it back when its
transaction ends. Readers never wait (WAL). Only another *process* writing the same
file (a CLI import while the bot runs) makes SQLite's busy timeout block the loop, for
as long as that process's transaction lasts; deployments with several processes use
PostgreSQL.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import sqlite3
import weakref
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Self, cast

from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_connection
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

# Statements that never open a write transaction; anything else takes the writer lock.
_READS = ("SELECT", "PRAGMA", "EXPLAIN")

_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def writer_lock(database: str) -> asyncio.Lock:
    """The in-process writer lock of ``database`` on the running event loop."""
    per_loop = _locks.setdefault(asyncio.get_running_loop(), {})
    key = database if database in ("", ":memory:") else str(Path(database).resolve())
    lock = per_loop.get(key)
    if lock is None:
        lock = per_loop[key] = asyncio.Lock()
    return lock


async def _ready() -> None:
    return None


def _reads_only(statement: str) -> bool:
    return statement.lstrip()[:7].upper().startswith(_READS)


class InlineCursor:
    """An ``aiosqlite.Cursor`` look-alike whose coroutines finish without suspending."""

    def __init__(self, connection: InlineConnection) -> None:
        self._owner = connection
        self._cursor = connection.raw.cursor()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> Self:
        await self._owner.before(sql)
        try:
            self._cursor.execute(sql, () if parameters is None else parameters)
        finally:
            self._owner.after()
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> Self:
        await self._owner.before(sql)
        try:
            self._cursor.executemany(sql, parameters)
        finally:
            self._owner.after()
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class InlineConnection:
    """An ``aiosqlite.Connection`` look-alike over a ``sqlite3`` connection on the loop."""

    def __init__(self, database: str, **kwargs: Any) -> None:
        kwargs["check_same_thread"] = False  # the pool may close it from another thread
        self.raw = sqlite3.connect(database, **kwargs)
        self._lock = writer_lock(database)
        self._holding = False

    def __await__(self) -> Any:
        yield from ()
        return self

    # SQLAlchemy's adapter checks this before commit and rollback.
    @property
    def _connection(self) -> sqlite3.Connection | None:
        return self.raw

    def needs_lock(self, sql: str) -> bool:
        """Whether ``sql`` may open a write transaction this connection has not got yet."""
        return not (self._holding or self.raw.in_transaction or _reads_only(sql))

    async def take_lock(self) -> None:
        """Wait for the writer lock (at once unless another connection is writing)."""
        await self._lock.acquire()
        self._holding = True

    async def before(self, sql: str) -> None:
        """Take the writer lock before a statement that may open a write transaction."""
        if self.needs_lock(sql):
            await self.take_lock()

    def after(self) -> None:
        """Give the writer lock back once no transaction is open."""
        if self._holding and not self.raw.in_transaction:
            self._holding = False
            self._lock.release()

    def cursor(self) -> InlineCursor:
        """A new cursor (aiosqlite's is entered with ``async with`` too)."""
        return InlineCursor(self)

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        cursor = InlineCursor(self)
        await cursor.execute(sql, parameters)
        return cursor

    async def commit(self) -> None:
        try:
            self.raw.commit()
        finally:
            self.after()

    async def rollback(self) -> None:
        try:
            self.raw.rollback()
        finally:
            self.after()

    async def close(self) -> None:
        try:
            self.raw.close()
        finally:
            if self._holding:
                self._holding = False
                self._lock.release()

    def stop(self) -> None:
        """Close at once (SQLAlchemy's terminate, and the adapter's close)."""
        try:
            self.raw.close()
        finally:
            if self._holding:
                self._holding = False
                self._lock.release()


def checkpoint(database: str) -> tuple[int, int, int]:
    """Copy what the WAL holds into the database file; (busy, WAL frames, frames copied).

    Run on a worker thread (``Database.checkpoint``): with ``synchronous=NORMAL`` a
    checkpoint is where SQLite waits for the disk (fsync), and the bot's own
    connections, which run on the event loop, leave checkpoints to it. PASSIVE never
    waits for a reader or writer; what it could not copy is copied the next time.
    """
    with contextlib.closing(sqlite3.connect(database, timeout=0)) as connection:
        busy, frames, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(busy), int(frames), int(copied)


class _AdaptedCursor(AsyncAdapt_aiosqlite_cursor):
    """SQLAlchemy's cursor adapter, calling ``sqlite3`` directly instead of awaiting each call.

    Every call of the async adapter is a greenlet switch out and back even when the
    coroutine behind it never suspends; here only taking the writer lock is awaited.
    """

    __slots__ = ()
    _awaitable_cursor_close = False

    def __init__(self, adapt_connection: AsyncAdapt_dbapi_connection) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = self._owner.raw.cursor()
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()

    @property
    def _owner(self) -> InlineConnection:
        return cast(InlineConnection, self._connection)

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        owner = self._owner
        # SQLAlchemy's async layer insists on one await per statement: the lock, or nothing.
        await_(owner.take_lock() if owner.needs_lock(operation) else _ready())
        try:
            cursor = cast(sqlite3.Cursor, self._cursor)
            cursor.execute(operation, () if parameters is None else parameters)
            if cursor.description:
                self._rows = collections.deque(cursor.fetchall())
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        finally:
            owner.after()
        return None

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        owner = self._owner
        # SQLAlchemy's async layer insists on one await per statement: the lock, or nothing.
        await_(owner.take_lock() if owner.needs_lock(operation) else _ready())
        try:
            cast(sqlite3.Cursor, self._cursor).executemany(operation, seq_of_parameters)
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        finally:
            owner.after()
        return None


class _AdaptedConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = _AdaptedCursor

    @property
    def _inline(self) -> InlineConnection:
        return cast(InlineConnection, self._connection)

    @property
    def isolation_level(self) -> str | None:
        return self._inline.raw.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._inline.raw.isolation_level = value

    def create_function(self, *args: Any, **kw: Any) -> None:
        self._inline.raw.create_function(*args, **kw)

    def commit(self) -> None:
        try:
            self._inline.raw.commit()
        except Exception as error:
            self._handle_exception(error)
        finally:
            self._inline.after()

    def rollback(self) -> None:
        try:
            self._inline.raw.rollback()
        except Exception as error:
            self._handle_exception(error)
        finally:
            self._inline.after()

    def close(self) -> None:
        self._inline.stop()


class InlineDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module SQLAlchemy's ``aiosqlite`` dialect gets: ``connect`` runs inline."""

    def __init__(self) -> None:
        import aiosqlite

        super().__init__(aiosqlite, sqlite3)

    def connect(self, *args: Any, **kwargs: Any) -> _AdaptedConnection:
        kwargs.pop("async_creator_fn", None)
        return _AdaptedConnection(self, InlineConnection(*args, **kwargs))  # type: ignore[arg-type]
