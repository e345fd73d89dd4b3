"""Shared fixtures: a real database per test (SQLite and PostgreSQL), the emulator, the bot.

PostgreSQL runs when ``WORKLEDGER_TEST_POSTGRES_URL`` points at a server (``.ci/run``
starts a throwaway one); under CI it is required, so it can never be skipped silently.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import os
import shutil
import threading
import uuid
from collections import deque
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from storage import migrate
from storage.engine import create_engine

POSTGRES_ENV = "WORKLEDGER_TEST_POSTGRES_URL"
# As the command line does: python-telegram-bot's coming timedelta durations.
os.environ.setdefault("PTB_TIMEDELTA", "1")
BACKENDS = ["sqlite", "postgresql"] if os.environ.get(POSTGRES_ENV) else ["sqlite"]


def pytest_configure(config: pytest.Config) -> None:
    """Refuse to run CI without PostgreSQL rather than quietly test half the matrix."""
    if os.environ.get("CI") and not os.environ.get(POSTGRES_ENV):
        raise pytest.UsageError(f"CI is set but {POSTGRES_ENV} is not: PostgreSQL must be tested")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Freeze what collection built: the test modules and every library they import.

    It lives as long as the session, so the collector's full passes need not walk it again
    and again; nor does each bot's start, which collects and freezes its own start-up only
    where nobody froze the heap before (``bot.app``), as in production. Hypothesis is
    imported first: at import it checks that the random generators it manages (trio's) are
    referenced, which it cannot see from frozen referrers.
    """
    import hypothesis  # noqa: F401

    gc.collect()
    gc.freeze()


def _postgres_admin_url() -> str:
    return os.environ[POSTGRES_ENV]


def _url_for_database(name: str) -> str:
    return make_url(_postgres_admin_url()).set(database=name).render_as_string(hide_password=False)


async def _pg_admin(statement: str) -> None:
    import asyncpg

    url = make_url(_postgres_admin_url())
    connection = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password,
        database=url.database or "postgres",
    )  # fmt: skip
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def _scratch_postgres() -> AsyncIterator[str]:
    """An empty PostgreSQL database of its own, then dropped."""
    name = f"wl_test_{uuid.uuid4().hex[:12]}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield _url_for_database(name)
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _migrated(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


def _blocking(coroutine: Coroutine[Any, Any, None]) -> None:
    # Session fixtures may be first requested from inside a running test loop,
    # where asyncio.run() is not allowed: give them a loop of their own.
    with ThreadPoolExecutor(max_workers=1) as worker:
        worker.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test instead of migrating each time."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    _blocking(_migrated(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A migrated PostgreSQL database used as the template of each test's database."""
    name = f"wl_template_{uuid.uuid4().hex[:8]}"
    _blocking(_pg_admin(f'CREATE DATABASE "{name}"'))
    _blocking(_migrated(_url_for_database(name)))
    yield name
    _blocking(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


class _Clones:
    """Copies of the migrated template database, each made before a test asks for it.

    ``CREATE DATABASE ... TEMPLATE`` takes a tenth of a second and more on a busy
    machine; made on a thread of its own while the previous tests run, the next test
    finds its database ready. Each test still has a fresh copy of its own, and
    ``drop`` removes it in the background too.
    """

    AHEAD = 2

    def __init__(self, template: str) -> None:
        self._template = template
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="postgres-clones", daemon=True
        )
        self._thread.start()
        # Bound to the clones' loop when first used (an asyncio lock belongs to one loop).
        self._one_at_a_time = asyncio.Lock()
        self._ready: deque[concurrent.futures.Future[str]] = deque(
            self._submit(self._create()) for _ in range(self.AHEAD)
        )
        self._dropping: list[concurrent.futures.Future[None]] = []

    def _submit(self, coroutine: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    async def _create(self) -> str:
        name = f"wl_test_{uuid.uuid4().hex[:12]}"
        # One copy at a time: the next one is wanted only after this one.
        async with self._one_at_a_time:
            await _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"')
        return name

    async def take(self) -> str:
        """A fresh copy of the template, the caller's alone (``drop`` it when done)."""
        made = self._ready.popleft()
        self._ready.append(self._submit(self._create()))
        return await asyncio.wrap_future(made)

    def drop(self, name: str) -> None:
        """Removes a copy, without waiting."""
        self._dropping.append(
            self._submit(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        )

    def close(self) -> None:
        """Drops the copies not taken, waits for every drop, then stops the thread."""
        try:
            for made in self._ready:
                self.drop(made.result())
            for dropping in self._dropping:
                dropping.result()
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()


@pytest.fixture(scope="session")
def postgres_clones(postgres_template: str) -> Iterator[_Clones]:
    """Where each test's PostgreSQL database comes from (see ``_Clones``)."""
    clones = _Clones(postgres_template)
    yield clones
    clones.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database engine a test runs on."""
    return str(request.param)


@pytest.fixture
async def database_url(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[str]:
    """A migrated, empty database of its own for one test."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "workledger.db"
        shutil.copy(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    clones: _Clones = request.getfixturevalue("postgres_clones")
    name = await clones.take()
    try:
        yield _url_for_database(name)
    finally:
        clones.drop(name)


@pytest.fixture
async def empty_database_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A database with no schema at all, for migration tests."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    async with _scratch_postgres() as url:
        yield url


@pytest.fixture
async def empty_postgres_url() -> AsyncIterator[str]:
    """An empty PostgreSQL database, for behaviour that only PostgreSQL has."""
    if not os.environ.get(POSTGRES_ENV):
        pytest.skip(f"{POSTGRES_ENV} is not set (CI always sets it)")
    async with _scratch_postgres() as url:
        yield url
