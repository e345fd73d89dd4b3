"""Back the store up to one file, and restore it from one: SQLite and PostgreSQL.

SQLite goes through SQLite's online backup API (``sqlite3.Connection.backup``): the
whole database copied in one step, which is one read transaction, so the copy is the
store as it was at one moment even while the bot writes (in WAL mode a reader never
stops the writers). The copy is switched out of WAL mode, checked (``quick_check``)
and only then given the backup's name: a failed backup leaves no file behind.

PostgreSQL goes through ``pg_dump --format=custom`` and ``pg_restore``, which must be
on ``PATH`` (PostgreSQL's client tools; ``pg_dump`` at least as new as the server).
``pg_dump`` reads in one repeatable-read transaction, so it too is one moment's
store. The connection comes from the database URL through the ``PG*`` environment
of the child process: the password is never on a command line (where ``ps`` shows
it) nor in a message.

A restore checks everything before it writes anything: the file is there, it is a
backup of a workledger store (it has a schema revision the code knows), of the
store's engine, and the store is not in use. SQLite is restored through the backup
API as well (one transaction on the store's file: all of it or nothing); PostgreSQL
with ``pg_restore --single-transaction``. Then the schema is migrated to the code's
head, so a backup of an older version comes back current.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from storage import migrate
from storage.engine import create_engine

__all__ = [
    "Backup",
    "BackupError",
    "InUseError",
    "NewerBackupError",
    "NoBackupError",
    "NoStoreError",
    "NotABackupError",
    "NotAStoreError",
    "NotEmptyError",
    "Restored",
    "TargetExistsError",
    "ToolFailedError",
    "ToolMissingError",
    "UnreachableError",
    "UnsupportedEngineError",
    "WrongEngineError",
    "backup",
    "backup_engine",
    "restore",
]

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
# How long a backup waits for the bot's SQLite writes (it reads; in WAL mode a reader
# only waits while a checkpoint resets the log).
SQLITE_WAIT = 30.0


class BackupError(Exception):
    """A backup or restore that did not happen; nothing was changed."""


@dataclass
class NoStoreError(BackupError):
    """The SQLite file the settings name is not there."""

    path: Path


@dataclass
class NotAStoreError(BackupError):
    """The database has no schema revision: not a workledger store (or never migrated)."""

    where: str


@dataclass
class TargetExistsError(BackupError):
    """The backup's file exists already; a backup never overwrites one."""

    path: Path


@dataclass
class ToolMissingError(BackupError):
    """``pg_dump`` or ``pg_restore`` is not on ``PATH``."""

    tool: str


@dataclass
class ToolFailedError(BackupError):
    """``pg_dump`` or ``pg_restore`` (or SQLite) failed; ``detail`` is what it said."""

    tool: str
    detail: str


@dataclass
class UnreachableError(BackupError):
    """The database server did not answer (or refused the connection)."""

    where: str
    detail: str


@dataclass
class UnsupportedEngineError(BackupError):
    """The store is neither SQLite nor PostgreSQL."""

    engine: str


@dataclass
class NoBackupError(BackupError):
    """The file to restore is not there."""

    path: Path


@dataclass
class NotABackupError(BackupError):
    """The file is neither kind of backup, or a backup of something else than workledger."""

    path: Path


@dataclass
class WrongEngineError(BackupError):
    """A backup of one engine given to a store of the other."""

    path: Path
    found: str
    store: str


@dataclass
class NewerBackupError(BackupError):
    """The backup's schema revision is unknown to this code (a newer version made it)."""

    path: Path
    revision: str


@dataclass
class InUseError(BackupError):
    """Another program has the store open (the bot, most likely)."""

    where: str


@dataclass
class NotEmptyError(BackupError):
    """The store holds data already, and the restore was not told to replace it."""

    where: str


@dataclass(frozen=True)
class Backup:
    """A backup written: where, of which engine, at which schema revision, how big."""

    path: Path
    engine: str
    revision: str
    size: int


@dataclass(frozen=True)
class Restored:
    """A restore done: the backup's revision, and the store's now (the code's head)."""

    engine: str
    from_revision: str
    revision: str


def backup_engine(database_url: str) -> str:
    """``sqlite`` or ``postgresql``: which kind of backup the store makes and takes."""
    backend = make_url(database_url).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise UnsupportedEngineError(backend)
    return backend


def describe_store(database_url: str) -> str:
    """The store for people: the SQLite file, or the URL with its password hidden."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return str(Path(url.database or ""))
    return url.render_as_string(hide_password=True)


async def backup(database_url: str, target: Path) -> Backup:
    """Write a backup of the store at ``database_url`` to ``target`` (a new file)."""
    engine = backup_engine(database_url)
    if await asyncio.to_thread(target.exists):
        raise TargetExistsError(target)
    if engine == "sqlite":
        return await asyncio.to_thread(_backup_sqlite, _sqlite_path(database_url), target)
    return await _backup_postgres(make_url(database_url), target)


async def restore(database_url: str, source: Path, *, replace: bool = False) -> Restored:
    """Restore the store at ``database_url`` from ``source``, then migrate it to head.

    Refused, with nothing changed, when ``source`` is not a workledger backup of the
    store's engine, when the store is in use, and when it holds data already unless
    ``replace``.
    """
    engine = backup_engine(database_url)
    found = await asyncio.to_thread(_kind_of, source)
    if found != engine:
        raise WrongEngineError(source, found, engine)
    if engine == "sqlite":
        from_revision = await asyncio.to_thread(
            _restore_sqlite, source, _sqlite_path(database_url), replace=replace
        )
    else:
        from_revision = await _restore_postgres(make_url(database_url), source, replace=replace)
    store = create_engine(database_url)
    try:
        if from_revision != migrate.head_revision():
            await migrate.upgrade(store)
        revision = await migrate.current_revision(store)
    finally:
        await store.dispose()
    return Restored(engine=engine, from_revision=from_revision, revision=revision or "")


# SQLite ------------------------------------------------------------------------------


def _sqlite_path(database_url: str) -> Path:
    database = make_url(database_url).database
    if database in (None, "", ":memory:"):
        raise UnsupportedEngineError("sqlite (in memory)")
    return Path(database or "")


def _sqlite_revision(connection: sqlite3.Connection) -> str | None:
    try:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        return None
    return None if row is None else str(row[0])


def _temporary_beside(target: Path) -> Path:
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.resolve().parent)
    os.close(handle)
    return Path(name)


def _backup_sqlite(store: Path, target: Path) -> Backup:
    if not store.is_file():
        raise NoStoreError(store)
    partial = _temporary_beside(target)
    try:
        try:
            with (
                contextlib.closing(sqlite3.connect(store, timeout=SQLITE_WAIT)) as source,
                contextlib.closing(sqlite3.connect(partial)) as copy,
            ):
                # pages=-1: every page in one step, one read transaction on the store.
                source.backup(copy, pages=-1)
                revision = _sqlite_revision(copy)
                copy.execute("PRAGMA journal_mode=DELETE")
                checked = copy.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as error:
            raise ToolFailedError("sqlite", f"{store}: {error}") from error
        if revision is None:
            raise NotAStoreError(str(store))
        if checked != "ok":
            raise ToolFailedError("sqlite", f"the copy failed its check: {checked}")
        return _name_it(partial, target, "sqlite", revision)
    finally:
        partial.unlink(missing_ok=True)


def _name_it(partial: Path, target: Path, engine: str, revision: str) -> Backup:
    """Give the finished copy the backup's name (never over a file made meanwhile)."""
    if target.exists():
        raise TargetExistsError(target)
    os.replace(partial, target)
    return Backup(target, engine, revision, target.stat().st_size)


def _kind_of(path: Path) -> str:
    """``sqlite`` or ``postgresql``, from the file's first bytes."""
    if not path.is_file():
        raise NoBackupError(path)
    with path.open("rb") as file:
        head = file.read(len(SQLITE_MAGIC))
    if head.startswith(PG_DUMP_MAGIC):
        return "postgresql"
    if head == SQLITE_MAGIC:
        return "sqlite"
    raise NotABackupError(path)


def _known_revision(path: Path, revision: str | None) -> str:
    if revision is None:
        raise NotABackupError(path)
    if revision not in migrate.revisions():
        raise NewerBackupError(path, revision)
    return revision


def _restore_sqlite(source: Path, store: Path, *, replace: bool) -> str:
    existed = store.exists()
    try:
        return _restore_sqlite_into(source, store, replace=replace)
    except BaseException:
        if not existed:
            # An empty file made by the attempt: nothing is left where nothing was.
            store.unlink(missing_ok=True)
        raise


def _restore_sqlite_into(source: Path, store: Path, *, replace: bool) -> str:
    try:
        with contextlib.closing(
            sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
        ) as backup_file:
            revision = _known_revision(source, _sqlite_revision(backup_file))
            checked = backup_file.execute("PRAGMA quick_check").fetchone()[0]
            if checked != "ok":
                raise NotABackupError(source)
            with contextlib.closing(sqlite3.connect(store, timeout=0)) as target:
                _take_sqlite_store(target, store, replace=replace)
                backup_file.backup(target, pages=-1)
    except sqlite3.DatabaseError as error:
        raise ToolFailedError("sqlite", f"{store}: {error}") from error
    return revision


def _take_sqlite_store(target: sqlite3.Connection, store: Path, *, replace: bool) -> None:
    """Refuse a store with tables unless ``replace``, or one another connection has open."""
    # Read first: a refusal for data leaves the store exactly as it was.
    tables = target.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()
    if tables[0] and not replace:
        raise NotEmptyError(str(store))
    try:
        # Leaving WAL mode needs the only connection to the file: the bot (or any other
        # command) holding one makes it fail at once (timeout 0). It also folds the log
        # into the file, so no stale log is left to be replayed over the restored pages.
        target.execute("PRAGMA journal_mode=DELETE").fetchone()
    except sqlite3.OperationalError as error:
        if "locked" in str(error) or "busy" in str(error):
            raise InUseError(str(store)) from error
        raise


# PostgreSQL --------------------------------------------------------------------------


def _pg_environment(url: URL) -> dict[str, str]:
    """The child's environment: the connection as ``PG*`` variables, password included."""
    env = dict(os.environ)
    for name in ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGSSLMODE"):
        env.pop(name, None)
    query = {key: str(value) for key, value in url.query.items()}
    values = {
        "PGHOST": url.host or query.get("host"),
        "PGPORT": None if url.port is None else str(url.port),
        "PGUSER": url.username,
        "PGPASSWORD": url.password if isinstance(url.password, str) else None,
        "PGDATABASE": url.database,
        # asyncpg's ?ssl=require, libpq's ?sslmode=require.
        "PGSSLMODE": query.get("sslmode") or query.get("ssl"),
    }
    env.update({name: value for name, value in values.items() if value})
    return env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ToolMissingError(name)
    return found


async def _call(tool: str, args: list[str], env: dict[str, str]) -> str:
    """Run ``tool`` with ``args``; its standard output, or ``ToolFailedError``."""
    process = await asyncio.create_subprocess_exec(
        _tool(tool),
        *args,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        password = env.get("PGPASSWORD")
        said = err.decode(errors="replace").strip()
        if password:
            said = said.replace(password, "***")
        lines = [line.strip() for line in said.splitlines() if line.strip()]
        # "pg_dump: error: connection to server ... failed: ...": the line that says why.
        errors = [line.partition("error: ")[2] for line in lines if "error: " in line]
        raise ToolFailedError(tool, (errors or lines or ["failed"])[0])
    return out.decode(errors="replace")


async def _dump_revision(path: Path, env: dict[str, str]) -> str | None:
    """The schema revision a ``pg_dump`` archive holds, read from the archive itself."""
    try:
        listing = await _call(
            "pg_restore", ["--data-only", "--table=alembic_version", "--file=-", str(path)], env
        )
    except ToolFailedError:
        return None
    lines = listing.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("COPY ") and "alembic_version" in line:
            value = lines[index + 1] if index + 1 < len(lines) else "\\."
            return None if value == "\\." else value.strip()
    return None


async def _backup_postgres(url: URL, target: Path) -> Backup:
    env = _pg_environment(url)
    _tool("pg_dump")
    _tool("pg_restore")
    partial = await asyncio.to_thread(_temporary_beside, target)
    try:
        await _call("pg_dump", ["--format=custom", "--no-password", f"--file={partial}"], env)
        revision = await _dump_revision(partial, env)
        if revision is None:
            raise NotAStoreError(url.render_as_string(hide_password=True))
        return await asyncio.to_thread(_name_it, partial, target, "postgresql", revision)
    finally:
        await asyncio.to_thread(partial.unlink, missing_ok=True)


async def _restore_postgres(url: URL, source: Path, *, replace: bool) -> str:
    env = _pg_environment(url)
    _tool("pg_restore")
    revision = _known_revision(source, await _dump_revision(source, env))
    where = url.render_as_string(hide_password=True)
    engine = create_engine(url.render_as_string(hide_password=False))
    try:
        async with engine.connect() as connection:
            others = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            tables = await connection.scalar(
                text(
                    "SELECT count(*) FROM information_schema.tables "
                    "WHERE table_schema = current_schema()"
                )
            )
    except (OSError, SQLAlchemyError) as error:
        raise UnreachableError(where, str(error).splitlines()[0]) from error
    finally:
        await engine.dispose()
    if others:
        raise InUseError(where)
    if tables and not replace:
        raise NotEmptyError(where)
    args = ["--no-password", "--no-owner", "--no-privileges", "--single-transaction"]
    if tables:
        args += ["--clean", "--if-exists"]
    # A connection string naming the database only: the rest (password included) comes
    # from the environment.
    database = (url.database or "").replace("\\", "\\\\").replace("'", "\\'")
    await _call("pg_restore", [*args, f"--dbname=dbname='{database}'", str(source)], env)
    return revision
