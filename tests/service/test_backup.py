"""``workledger backup`` and ``workledger restore`` as an operator runs them, on both engines.

Real processes on a real store: the data read back from a restore equals what was
backed up, the schema comes back current, a SQLite backup taken while another process
writes is one moment's store, and every refusal or bad input changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from bot.cli import main
from storage import migrate
from storage.engine import Database, create_engine
from storage.models import AuditEvent, Base
from storage.repositories.inbox import Received
from tests.e2e.people import seed

ROOT = Path(__file__).resolve().parents[2]


def _environment(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKLEDGER_")}
    env.update(WORKLEDGER_DATABASE_URL=database_url, WORKLEDGER_LANGUAGE="en", **extra)
    return env


async def _workledger(
    *args: str, database_url: str, cwd: Path, **extra: str
) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=cwd, env=_environment(database_url, **extra),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.fixture
def cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> Any:
    """The command line in this process (in a thread: it runs its own event loop), in
    ``tmp_path``: what a process of its own does but the interpreter's start."""
    monkeypatch.chdir(tmp_path)

    async def run(*args: str, database_url: str, **extra: str) -> tuple[int, str, str]:
        with monkeypatch.context() as patch:
            for name in [name for name in os.environ if name.startswith("WORKLEDGER_")]:
                patch.delenv(name)
            patch.setenv("WORKLEDGER_DATABASE_URL", database_url)
            patch.setenv("WORKLEDGER_LANGUAGE", "en")
            for name, value in extra.items():
                patch.setenv(name, value)
            capsys.readouterr()
            code = await asyncio.to_thread(main, list(args))
            out, err = capsys.readouterr()
        return code, out, err

    return run


async def _snapshot(url: str) -> dict[str, list[str]]:
    """Every table's rows (as text, in a fixed order) and the schema revision."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            tables: dict[str, list[str]] = {}
            for table in Base.metadata.sorted_tables:
                rows = (await connection.execute(select(table))).all()
                tables[table.name] = sorted(repr(tuple(row)) for row in rows)
            revision = await connection.scalar(text("SELECT version_num FROM alembic_version"))
            tables["alembic_version"] = [str(revision)]
    finally:
        await engine.dispose()
    return tables


async def _fill(url: str) -> None:
    """A small organisation, updates in the inbox and audit events: data to read back."""
    database = Database(url)
    try:
        await seed(database)
        async with database.uow() as uow:
            updates = [
                Received(n, 9000 + n % 7, {"update_id": n, "message": {"text": f"第{n}条 ✓"}})
                for n in range(1, 301)
            ]
            await uow.inbox.accept(updates, at=datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
            uow.session.add(
                AuditEvent(action="backup.test", subject_type="store", details={"note": "审计"})
            )
            await uow.commit()
    finally:
        await database.dispose()


def _sqlite_path(url: str) -> Path:
    return Path(make_url(url).database or "")


async def test_a_backup_restores_into_a_fresh_store_equal_and_current(
    database_url: str, empty_database_url: str, tmp_path: Path
) -> None:
    await _fill(database_url)
    before = await _snapshot(database_url)
    code, out, err = await _workledger(
        "backup", "store.backup", database_url=database_url, cwd=tmp_path
    )
    assert code == 0, err
    assert "store.backup" in out
    assert migrate.head_revision() in out

    code, out, err = await _workledger(
        "restore", "store.backup", database_url=empty_database_url, cwd=tmp_path
    )
    assert code == 0, err
    assert f"schema {migrate.head_revision()}" in out
    assert await _snapshot(empty_database_url) == before


async def test_a_backup_of_an_older_schema_comes_back_migrated_to_the_head(
    cli: Any, empty_database_url: str, backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    older = migrate.revisions()[-3]
    engine = create_engine(empty_database_url)
    try:
        await migrate.upgrade(engine, older)
    finally:
        await engine.dispose()
    code, out, err = await cli("backup", "old.backup", database_url=empty_database_url)
    assert code == 0, err
    assert f"schema {older}" in out

    target = (
        f"sqlite+aiosqlite:///{tmp_path / 'restored.db'}"
        if backend == "sqlite"
        else await _another_empty_postgres(request)
    )
    code, out, err = await cli("restore", "old.backup", database_url=target)
    assert code == 0, err
    assert f"the backup's was {older}" in out
    engine = create_engine(target)
    try:
        assert await migrate.current_revision(engine) == migrate.head_revision()
        async with engine.connect() as connection:
            # A table of the head's schema is there and usable.
            assert await connection.scalar(select(AuditEvent.id).limit(1)) is None
    finally:
        await engine.dispose()


async def _another_empty_postgres(request: pytest.FixtureRequest) -> str:
    from tests import conftest

    name = f"wl_restore_{os.urandom(6).hex()}"
    await conftest._pg_admin(f'CREATE DATABASE "{name}"')
    request.addfinalizer(
        lambda: conftest._blocking(
            conftest._pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        )
    )
    return conftest._url_for_database(name)


# The writer: the store's own unit of work committing batches of ten updates, one
# transaction each, until told to stop (or 20,000 batches at most).
WRITER = """
import asyncio, sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from storage.engine import Database
from storage.repositories.inbox import Received

async def main(url, stop):
    database = Database(url)
    batch = 0
    try:
        while batch < 20_000 and not Path(stop).exists():
            async with database.uow() as uow:
                await uow.inbox.accept(
                    [Received(batch * 10 + n, 1, {"pad": "x" * 500}) for n in range(10)],
                    at=datetime.now(UTC),
                )
                await uow.commit()
            batch += 1
            if batch == 1:
                print("writing", flush=True)
    finally:
        await database.dispose()
    print(batch, flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def test_a_sqlite_backup_taken_while_another_process_writes_is_one_moment(
    sqlite_template: Path, tmp_path: Path
) -> None:
    # SQLite's online backup (pg_dump reads in one repeatable-read transaction).
    shutil.copy(sqlite_template, tmp_path / "busy.db")
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'busy.db'}"
    stop = tmp_path / "stop"
    writer = await asyncio.create_subprocess_exec(
        sys.executable, "-c", WRITER, database_url, str(stop), cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    counts = []
    try:
        assert writer.stdout is not None
        assert (await asyncio.wait_for(writer.stdout.readline(), 60)).strip() == b"writing"
        for n in range(2):
            code, _, err_text = await _workledger(
                "backup", f"during-{n}.db", database_url=database_url, cwd=tmp_path
            )
            assert code == 0, err_text
            copy = tmp_path / f"during-{n}.db"
            counts.append(await asyncio.to_thread(_whole_batches, copy))
            # One self-contained file: no write-ahead log beside it.
            assert not await asyncio.to_thread(copy.with_name(f"{copy.name}-wal").exists)
        # The writer was never stopped by the backups: it goes on past the last copy.
        source = _sqlite_path(database_url)
        for _ in range(600):
            if await asyncio.to_thread(_whole_batches, source) > counts[-1]:
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("the writer wrote nothing after the backups")
    finally:
        stop.touch()
        out, err = await asyncio.wait_for(writer.communicate(), 60)
    assert writer.returncode == 0, err.decode()
    assert int(out.split()[-1]) > counts[-1] // 10
    # Each copy is a later moment than the one before.
    assert counts == sorted(counts)


def _whole_batches(path: Path) -> int:
    """The updates a store or copy holds, checked to be whole batches of ten, none torn."""
    with contextlib.closing(sqlite3.connect(path)) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ids = [row[0] for row in copy.execute("SELECT update_id FROM inbox ORDER BY 1")]
    # Whole transactions only: ten updates per batch, every batch before the last one
    # there, none after it.
    assert ids == list(range(len(ids)))
    assert len(ids) % 10 == 0
    assert ids
    return len(ids)


async def test_restore_refuses_a_store_with_data_unless_forced(
    cli: Any, database_url: str, empty_database_url: str, backend: str, tmp_path: Path
) -> None:
    await _fill(database_url)
    code, _, err = await cli("backup", "a.backup", database_url=database_url)
    assert code == 0, err
    # The target: a store of its own, holding different data.
    engine = create_engine(empty_database_url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
    database = Database(empty_database_url)
    try:
        async with database.uow() as uow:
            uow.session.add(AuditEvent(action="other.store", subject_type="store"))
            await uow.commit()
    finally:
        await database.dispose()
    other = await _snapshot(empty_database_url)

    code, _, err = await cli("restore", "a.backup", database_url=empty_database_url)
    assert code == 1
    assert "holds data already" in err
    assert "--force" in err
    assert await _snapshot(empty_database_url) == other
    if backend == "sqlite":
        # Not even its journal mode changed.
        with contextlib.closing(sqlite3.connect(_sqlite_path(empty_database_url))) as store:
            assert store.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    code, _, err = await cli("restore", "a.backup", "--force", database_url=empty_database_url)
    assert code == 0, err
    assert await _snapshot(empty_database_url) == await _snapshot(database_url)


async def test_restore_refuses_a_store_in_use_even_when_forced(
    cli: Any, database_url: str, tmp_path: Path
) -> None:
    await _fill(database_url)
    code, _, err = await cli("backup", "a.backup", database_url=database_url)
    assert code == 0, err
    before = await _snapshot(database_url)
    # Another program with the store open, as the running bot has: its pool keeps the
    # connection after a unit of work.
    database = Database(database_url)
    try:
        async with database.uow() as uow:
            await uow.session.execute(text("SELECT 1"))
        code, _, err = await cli("restore", "a.backup", "--force", database_url=database_url)
    finally:
        await database.dispose()
    assert code == 1
    assert "is in use" in err
    assert await _snapshot(database_url) == before


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a backup at all\n")
    other_sqlite = tmp_path / "other.db"
    with sqlite3.connect(other_sqlite) as connection:
        connection.execute("CREATE TABLE things (id INTEGER PRIMARY KEY)")
    return {"text": text_file, "sqlite without a schema revision": other_sqlite}


async def test_bad_input_gets_a_clear_message_and_changes_nothing(
    cli: Any, database_url: str, empty_database_url: str, backend: str, tmp_path: Path
) -> None:
    await _fill(database_url)
    before = await _snapshot(database_url)
    files = _bad_files(tmp_path)
    cases = {
        "missing": (tmp_path / "nowhere.backup", "there is no backup at"),
        "text": (files["text"], "is not a backup of a workledger store"),
        # A SQLite file is first of all the other engine's to a PostgreSQL store.
        "sqlite without a schema revision": (
            files["sqlite without a schema revision"],
            "is not a backup of a workledger store"
            if backend == "sqlite"
            else "is a SQLite backup, but WORKLEDGER_DATABASE_URL is a PostgreSQL store",
        ),
    }
    for label, (path, expected) in cases.items():
        for url in (database_url, empty_database_url):
            code, _, err = await cli("restore", str(path), "--force", database_url=url)
            assert code == 2, label
            assert expected in err, (label, err)
            assert "Traceback" not in err
            assert len(err.strip().splitlines()) == 1
    assert await _snapshot(database_url) == before
    if backend == "sqlite":
        assert not _sqlite_path(empty_database_url).exists()
    else:
        assert await _table_count(empty_database_url) == 0


async def _table_count(url: str) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            count = await connection.scalar(
                text(
                    "SELECT count(*) FROM information_schema.tables "
                    "WHERE table_schema = current_schema()"
                )
            )
    finally:
        await engine.dispose()
    return int(count or 0)


async def test_a_backup_from_a_newer_version_is_refused(
    cli: Any, database_url: str, empty_database_url: str, backend: str, tmp_path: Path
) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    finally:
        await engine.dispose()
    code, out, err = await cli("backup", "newer.backup", database_url=database_url)
    assert code == 0, err
    assert "schema 9999" in out
    code, _, err = await cli("restore", "newer.backup", database_url=empty_database_url)
    assert code == 2
    assert "newer version of workledger (schema 9999)" in err
    if backend == "sqlite":
        assert not _sqlite_path(empty_database_url).exists()
    else:
        assert await _table_count(empty_database_url) == 0


async def test_a_backup_never_overwrites_and_needs_a_store(
    cli: Any, database_url: str, backend: str, empty_database_url: str, tmp_path: Path
) -> None:
    existing = tmp_path / "kept.backup"
    existing.write_bytes(b"precious")
    code, _, err = await cli("backup", str(existing), database_url=database_url)
    assert code == 2
    assert "exists already" in err
    assert existing.read_bytes() == b"precious"

    # A database that is not a workledger store (nothing migrated into it).
    if backend == "sqlite":
        with sqlite3.connect(_sqlite_path(empty_database_url)) as connection:
            connection.execute("CREATE TABLE things (id INTEGER PRIMARY KEY)")
    code, _, err = await cli("backup", "x.backup", database_url=empty_database_url)
    assert code == 2
    assert "is not a workledger store" in err
    assert not (tmp_path / "x.backup").exists()
    assert [name for name in os.listdir(tmp_path) if name.startswith(".x.backup")] == []

    if backend == "sqlite":
        missing = f"sqlite+aiosqlite:///{tmp_path / 'absent.db'}"
        code, _, err = await cli("backup", "y.backup", database_url=missing)
        assert code == 2
        assert "there is no store at" in err
        assert not (tmp_path / "absent.db").exists()


async def test_each_engine_refuses_the_other_engines_backup(
    cli: Any, sqlite_template: Path, empty_postgres_url: str, tmp_path: Path
) -> None:
    shutil.copy(sqlite_template, tmp_path / "lite.db")
    sqlite_url = f"sqlite+aiosqlite:///{tmp_path / 'lite.db'}"
    postgres_url = empty_postgres_url
    engine = create_engine(postgres_url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
    for url, name in ((sqlite_url, "lite.backup"), (postgres_url, "pg.backup")):
        code, _, err = await cli("backup", name, database_url=url)
        assert code == 0, err
    fresh_sqlite = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    code, _, err = await cli("restore", "pg.backup", database_url=fresh_sqlite)
    assert code == 2
    assert "is a PostgreSQL backup, but WORKLEDGER_DATABASE_URL is a SQLite store" in err
    assert not (tmp_path / "fresh.db").exists()

    before = await _snapshot(postgres_url)
    code, _, err = await cli("restore", "lite.backup", "--force", database_url=postgres_url)
    assert code == 2
    assert "is a SQLite backup, but WORKLEDGER_DATABASE_URL is a PostgreSQL store" in err
    assert await _snapshot(postgres_url) == before

    # A server that does not answer: one line saying so, no file, no traceback.
    nowhere = make_url(postgres_url).set(port=1, password="pw").render_as_string(False)
    for args, expected in (
        (("backup", "unreached.backup"), "pg_dump failed: connection to server"),
        (("restore", "pg.backup"), "cannot reach postgresql+asyncpg://"),
    ):
        code, _, err = await cli(*args, database_url=nowhere)
        assert code == 2
        assert expected in err
        assert "pw" not in err
        assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "unreached.backup").exists()


RECORDER = """#!/bin/sh
# Records how workledger called the real tool, then calls it.
printf '%s\\n' "$0 $*" >> "{log}"
printf 'PGPASSWORD=%s\\n' "$PGPASSWORD" >> "{log}"
exec "{real}" "$@"
"""


async def test_postgresql_gets_the_password_through_the_environment_only(
    cli: Any,
    tmp_path: Path,
) -> None:
    from tests import conftest

    if not os.environ.get(conftest.POSTGRES_ENV):
        pytest.skip(f"{conftest.POSTGRES_ENV} is not set (CI always sets it)")
    suffix = os.urandom(4).hex()
    role, database = f"wl_bk_{suffix}", f"wl_bk_{suffix}"
    password = "s3cr=t pass'word"
    quoted = password.replace("'", "''")
    await conftest._pg_admin(f"CREATE ROLE {role} LOGIN PASSWORD '{quoted}'")
    await conftest._pg_admin(f'CREATE DATABASE "{database}" OWNER {role}')
    try:
        url = (
            make_url(conftest._url_for_database(database))
            .set(username=role, password=password)
            .render_as_string(hide_password=False)
        )
        engine = create_engine(url)
        try:
            await migrate.upgrade(engine)
        finally:
            await engine.dispose()
        tools = tmp_path / "bin"
        tools.mkdir()
        log = tmp_path / "calls.log"
        for tool in ("pg_dump", "pg_restore"):
            real = shutil.which(tool)
            assert real is not None
            shim = tools / tool
            shim.write_text(RECORDER.format(log=log, real=real))
            shim.chmod(0o755)
        path = f"{tools}{os.pathsep}{os.environ.get('PATH', '')}"
        code, out, err = await cli("backup", "pg.backup", database_url=url, PATH=path)
        assert code == 0, err
        assert password not in out + err
        calls = log.read_text().splitlines()
        commands = [line for line in calls if not line.startswith("PGPASSWORD=")]
        assert any(line.startswith(f"{tools}/pg_dump ") for line in commands)
        assert all(password not in line for line in commands)
        assert f"PGPASSWORD={password}" in calls

        # Without the tools: one clear line, no file.
        code, _, err = await cli(
            "backup", "none.backup", database_url=url, PATH=str(tmp_path / "no")
        )
        assert code == 2
        assert "pg_dump is not on PATH" in err
        assert not (tmp_path / "none.backup").exists()
    finally:
        await conftest._pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await conftest._pg_admin(f"DROP ROLE IF EXISTS {role}")
