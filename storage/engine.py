"""The async engine and session factory; built by the runtime, never at import."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from storage.sqlite_driver import InlineDBAPI, checkpoint
from storage.uow import PendingClaim, UnitOfWork

SQLITE_BUSY_TIMEOUT_MS = 5000


def _sqlite_pragmas(
    dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry, *, checkpoints: bool = True
) -> None:
    # WAL lets readers work while one writer commits; foreign keys are off in
    # SQLite unless asked for; the busy timeout makes a second writer wait
    # instead of failing at once with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    if not checkpoints:
        # Someone else copies the WAL into the database, off the event loop.
        cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


def create_engine(url: str, *, background_checkpoints: bool = False, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``url`` with the per-dialect settings the store relies on.

    ``background_checkpoints`` (SQLite): commits never checkpoint the WAL; whoever
    asks for it calls ``Database.checkpoint`` regularly instead.
    """
    if make_url(url).get_backend_name() == "sqlite":
        # Each call runs at once on the loop's thread; see storage.sqlite_driver.
        kwargs.setdefault("module", InlineDBAPI())
        engine = create_async_engine(url, **kwargs)
        event.listen(
            engine.sync_engine,
            "connect",
            functools.partial(_sqlite_pragmas, checkpoints=not background_checkpoints),
        )
        return engine
    return create_async_engine(url, pool_pre_ping=False, **kwargs)


class Database:
    """The store: one engine and the factory of units of work over it."""

    def __init__(
        self, url: str, *, background_checkpoints: bool = False, **engine_kwargs: Any
    ) -> None:
        self.url = url
        self.engine = create_engine(
            url, background_checkpoints=background_checkpoints, **engine_kwargs
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite (pysqlite) opens a transaction only before a write anyway, and
        # switching a connection to autocommit and back costs a statement each way.
        self.autocommit_sessions = (
            self.sessions
            if self.engine.dialect.name == "sqlite"
            else async_sessionmaker(
                self.engine.execution_options(isolation_level="AUTOCOMMIT"),
                expire_on_commit=False,
            )
        )

    def uow(self, *, autocommit: bool = False, claim: PendingClaim | None = None) -> UnitOfWork:
        """A fresh unit of work; use it as ``async with db.uow() as uow: ...``.

        With ``autocommit`` a read is not wrapped in BEGIN and ROLLBACK: for use cases
        whose statements stand alone (the gate's lookup), where those round trips would
        cost more than the work. Writes must still be committed.
        With ``claim``, the first commit records the update as handled (see ``UnitOfWork``).
        """
        return UnitOfWork(
            self.autocommit_sessions if autocommit else self.sessions, claim, autocommit=autocommit
        )

    async def checkpoint(self) -> tuple[int, int, int] | None:
        """SQLite: copy the WAL into the database file on a worker thread (see
        ``storage.sqlite_driver.checkpoint``); None on PostgreSQL."""
        if self.engine.dialect.name != "sqlite" or not self.engine.url.database:
            return None
        return await asyncio.to_thread(checkpoint, self.engine.url.database)

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
