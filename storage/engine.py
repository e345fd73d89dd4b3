"""The async engine and session factory; built by the runtime, never at import.

SQLite goes through SQLAlchemy's own ``aiosqlite`` dialect (each call on the
driver's worker thread, so no query ever runs on the event loop) and PostgreSQL
through ``asyncpg``; nothing here reaches past their public APIs.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from storage.uow import PendingClaim, UnitOfWork

SQLITE_BUSY_TIMEOUT_MS = 5000
# SQLite has one writer at a time, and a writer that finds it busy sleeps in SQLite's busy
# handler (1, 2, 5, ... up to 100 ms between tries), so a job whose batches follow each
# other at once can keep a quick log out for seconds. Pausing this long between batches
# lets every writer waiting meanwhile in; PostgreSQL has row locks and needs no pause.
SQLITE_TURN_SECONDS = 0.1


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    # WAL lets readers work while one writer commits; foreign keys are off in
    # SQLite unless asked for; the busy timeout makes a second writer wait (on the
    # driver's thread, never the loop) instead of failing at once with "database
    # is locked"; NORMAL syncs at checkpoints only, which WAL keeps safe.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``url`` with the per-dialect settings the store relies on."""
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_pre_ping=False, **kwargs)


class Database:
    """The store: one engine and the factory of units of work over it."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = create_engine(url, **engine_kwargs)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._turn = SQLITE_TURN_SECONDS if self.engine.dialect.name == "sqlite" else 0.0

    def uow(self, *, claim: PendingClaim | None = None) -> UnitOfWork:
        """A fresh unit of work; use it as ``async with db.uow() as uow: ...``.

        With ``claim``, the first commit records the update as handled (see ``UnitOfWork``).
        """
        return UnitOfWork(self.sessions, claim, turn=self._turn)

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
