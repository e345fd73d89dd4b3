"""Shared fixtures: a real database per test (SQLite and PostgreSQL), the emulator, the bot.

PostgreSQL runs when ``WORKLEDGER_TEST_POSTGRES_URL`` points at a server (``.ci/run``
starts a throwaway one); under CI it is required, so it can never be skipped silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import uuid
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
async def _scratch_postgres(template: str | None = None) -> AsyncIterator[str]:
    """A PostgreSQL database of its own (a copy of ``template``, else empty), then dropped."""
    name = f"wl_test_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    await _pg_admin(f'CREATE DATABASE "{name}"{copy}')
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
    async with _scratch_postgres(request.getfixturevalue("postgres_template")) as url:
        yield url


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
