"""The async engine and session factory; built by the runtime, never at import.

SQLite goes through SQLAlchemy's own ``aiosqlite`` dialect (each call on the
driver's worker thread, so no query ever runs on the event loop) and PostgreSQL
through ``asyncpg``; nothing here reaches past their public APIs.

On SQLite one connection writes at a time, across every process using the file (the
bot, ``deliver``, the command line). A writer waits for the one writing for at most
the busy timeout (5 s; ``?timeout=SECONDS`` in the URL sets it), then fails with
``StoreBusy`` and its transaction is rolled back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection, ExceptionContext
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from storage.uow import JobClaimObserver, PendingClaim, UnitOfWork

log = logging.getLogger(__name__)

# How long a SQLite writer waits for another connection's write lock, in seconds.
SQLITE_BUSY_TIMEOUT = 5.0
# Statements that make a SQLite connection the one writer until its transaction ends.
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")
# SQLite's primary result codes for "another connection holds the lock".
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6


class StoreBusy(OperationalError):  # noqa: N818 - a state of the store, named as users see it
    """SQLite's write lock stayed with another connection (another process, most often:
    the bot or the command line) for longer than the busy timeout.

    The statement's transaction is rolled back. A subclass of SQLAlchemy's
    ``OperationalError``, so whatever already handles failures of the store still does.
    """

    waited: float  # the busy timeout that ran out, in seconds


def waiting_up_to(url: str, seconds: float) -> str:
    """``url`` with its SQLite busy timeout set to ``seconds``, unless the URL sets one."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or "timeout" in parsed.query:
        return url
    return parsed.update_query_dict({"timeout": f"{seconds:g}"}).render_as_string(
        hide_password=False
    )


def busy_timeout(url: str | URL) -> float:
    """The seconds a writer on the SQLite store at ``url`` waits for the write lock."""
    given = make_url(url).query.get("timeout")
    return float(given) if isinstance(given, str) else SQLITE_BUSY_TIMEOUT


def _sqlite_pragmas(timeout: float) -> Any:
    def on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # WAL lets readers work while one writer commits; foreign keys are off in
        # SQLite unless asked for; the busy timeout makes a second writer wait (on the
        # driver's thread, never the loop) instead of failing at once with "database
        # is locked"; NORMAL syncs at checkpoints only, which WAL keeps safe.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={round(timeout * 1000)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return on_connect


def _as_busy(timeout: float) -> Any:
    def handle_error(context: ExceptionContext) -> StoreBusy | None:
        # SQLite says "database is locked" both when the busy timeout ran out and when a
        # reader could not become the writer; either way the transaction is lost.
        code = getattr(context.original_exception, "sqlite_errorcode", None)
        if not isinstance(code, int) or code & 0xFF not in (_SQLITE_BUSY, _SQLITE_LOCKED):
            return None
        busy = StoreBusy(context.statement, context.parameters, context.original_exception)
        busy.waited = timeout
        return busy

    return handle_error


# The execution option that marks a background job's connection (``Database.uow``).
BACKGROUND = "workledger_background"


class WriteTurns:
    """SQLite's one writer at a time, taken in turn by this process's writers.

    A SQLite connection that finds another writing sleeps in SQLite's busy handler
    (1, 2, 5, ... up to 100 ms between tries) and can lose every race to writers that
    keep coming, so at the busiest moment a quick log could wait for seconds behind a
    job's batches. Here a connection about to write first waits, without blocking the
    event loop, for its turn in a queue; the turn passes on when the connection goes
    back to the pool (after its commit or rollback). A writer in another process is
    still met by the busy handler, and only it: the busy timeout is how long a writer
    waits for another process.

    Two queues, each first come, first served: a background job's writers (a whole
    period's scoring: units of work made with ``Database.uow(background=True)``) get the
    turn only when no other writer waits for it. A person's quick log then waits for at
    most the one job transaction under way, not for the job's next ones too; the job
    writes in the gaps between people's writes, however long it takes.

    A writer waits for its turn for as long as the turns keep passing on, however many
    writers are ahead of it: on a busy machine this process's own backlog (a restart
    replaying a burst, say) can take longer than the busy timeout to clear, and each of
    those writers holds SQLite's lock only for its own transaction. Were the wait cut
    off at the busy timeout, the writer would meet the busy handler while the writers
    ahead of it still passed the lock from one to the next, lose every race to them,
    and fail as if another process held the store: "the database is busy, nothing was
    saved" with nobody else writing. Only a turn held by the same connection for the
    whole busy timeout (a transaction stuck on something else) lets the writers
    waiting go ahead without one, to meet the busy handler, so nothing can wait
    forever for a turn.
    """

    def __init__(self, timeout: float = SQLITE_BUSY_TIMEOUT) -> None:
        self.timeout = timeout
        self._taken = False
        # The writers waiting, people's first, then the background jobs': each is handed
        # the turn by ``_pass`` (its future's result set), in order.
        self._queues: tuple[deque[asyncio.Future[None]], ...] = (deque(), deque())
        self._loop: asyncio.AbstractEventLoop | None = None
        # When the turn last changed hands (``time.monotonic()``): taken or passed on.
        self._moved = time.monotonic()

    @property
    def taken(self) -> bool:
        """Whether some connection of this process holds the turn."""
        return self._taken

    @property
    def waiting(self) -> int:
        """Connections queued for a turn now."""
        return sum(not turn.done() for queue in self._queues for turn in queue)

    def before_write(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        """Engine event: before a statement, take the turn if it writes and has none."""
        info = conn.connection.info
        if info.get("write_turn") or not statement.lstrip().upper().startswith(_WRITES):
            return
        background = bool(conn.get_execution_options().get(BACKGROUND, False))
        adapted = conn.connection.dbapi_connection
        taken = adapted.run_async(lambda _driver: self._take(background=background))
        info["write_turn"] = taken

    async def _take(self, *, background: bool = False) -> bool:
        loop = self._loop = asyncio.get_running_loop()
        if not self._taken and not self.waiting:
            self._taken = True  # free: taken at once, without waiting
            self._moved = time.monotonic()
            return True
        # Taken, or handed to a writer that has not woken yet: queue behind it.
        turn: asyncio.Future[None] = loop.create_future()
        self._queues[1 if background else 0].append(turn)
        try:
            while not turn.done():
                stuck_in = self._moved + self.timeout - time.monotonic()
                if stuck_in <= 0:
                    break
                await asyncio.wait((turn,), timeout=stuck_in)
        except BaseException:
            self._give_up(turn)
            raise
        if turn.done():
            return True
        self._give_up(turn)
        log.info(
            "the write turn stayed with one connection for the busy timeout (%g s): "
            "writing without one",
            self.timeout,
        )
        return False

    def _give_up(self, turn: asyncio.Future[None]) -> None:
        # Leave the queue; a turn handed over meanwhile goes on to the next writer.
        if turn.done():
            self._pass()
        else:
            turn.cancel()

    def _pass(self) -> None:
        self._moved = time.monotonic()
        for queue in self._queues:
            while queue:
                turn = queue.popleft()
                if not turn.done():  # not given up
                    turn.set_result(None)
                    return
        self._taken = False

    def passed_on(self, _dbapi_connection: Any, record: Any, *_args: Any) -> None:
        """Pool event: a connection back in the pool, invalidated, or detached (a session
        that was never closed, collected as garbage) gives its turn to the next writer."""
        if not record.info.pop("write_turn", False):
            return
        loop = self._loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or running is loop:
            self._pass()
        elif not loop.is_closed():
            # The collector may run on the driver's thread: the queues belong to the loop.
            loop.call_soon_threadsafe(self._pass)


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``url`` with the per-dialect settings the store relies on."""
    return _engine(url, **kwargs)[0]


def _engine(url: str, **kwargs: Any) -> tuple[AsyncEngine, WriteTurns | None]:
    if make_url(url).get_backend_name() == "sqlite":
        timeout = busy_timeout(url)
        # Python's sqlite3 begins a transaction just before its first INSERT, UPDATE or
        # DELETE (reads before it run on their own): IMMEDIATE makes that BEGIN take the
        # write lock, waiting for it in the busy handler, so a transaction never holds a
        # read snapshot that another writer's commit would make impossible to upgrade.
        connect_args = {"isolation_level": "IMMEDIATE", **kwargs.pop("connect_args", {})}
        engine = create_async_engine(url, connect_args=connect_args, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas(timeout))
        event.listen(engine.sync_engine, "handle_error", _as_busy(timeout))
        turns = WriteTurns(timeout)
        event.listen(engine.sync_engine, "before_cursor_execute", turns.before_write)
        for name in ("checkin", "invalidate", "detach"):
            event.listen(engine.sync_engine.pool, name, turns.passed_on)
        return engine, turns
    return create_async_engine(url, pool_pre_ping=False, **kwargs), None


class Database:
    """The store: one engine and the factory of units of work over it."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        # SQLite: this process's writers take turns (see ``WriteTurns``); None elsewhere.
        self.engine, self.write_turns = _engine(url, **engine_kwargs)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # A background job's units of work: on SQLite their writers go after the others.
        self.background_sessions = async_sessionmaker(
            self.engine.execution_options(**{BACKGROUND: True}), expire_on_commit=False
        )
        # Told of each job claim (its key, and whether it was taken); the bot's metrics.
        self.on_job_claim: JobClaimObserver | None = None

    def uow(self, *, claim: PendingClaim | None = None, background: bool = False) -> UnitOfWork:
        """A fresh unit of work; use it as ``async with db.uow() as uow: ...``.

        With ``claim``, the first commit records the update as handled (see ``UnitOfWork``).
        ``background``: a job's (a whole period's scoring, a roster import's batches); on
        SQLite its writes wait while people's writes of this process wait (``WriteTurns``).
        """
        sessions = self.background_sessions if background else self.sessions
        return UnitOfWork(
            sessions,
            claim,
            on_job_claim=self.on_job_claim,
            background_sessions=self.background_sessions,
        )

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
