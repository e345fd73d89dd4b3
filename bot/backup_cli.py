"""``workledger backup FILE`` and ``workledger restore FILE [--force]`` (``storage.backup``).

One line on stdout when done, one line on stderr when not; a refusal or bad input
changes nothing. Exit statuses: 0 done; 1 refused (the store is in use, or holds data
and ``--force`` was not given); 2 bad input (no such file, not a backup, the other
engine's backup, a newer version's), a missing tool or a failure of one.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from config.settings import Settings
from locales import Translator, translator
from storage import backup as store_backup
from storage.backup import BackupError

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_BAD_INPUT = 2

_ENGINES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def backup_command(settings: Settings, target: Path) -> int:
    """Back the store up to ``target``; the exit status."""
    words = translator(settings.language)
    _ = words.gettext
    try:
        made = asyncio.run(store_backup.backup(settings.database_url, target))
    except BackupError as error:
        return _failed(error, words)
    print(
        _("backed up {store} to {path}: {engine}, schema {revision}, {size} bytes").format(
            store=store_backup.describe_store(settings.database_url),
            path=made.path,
            engine=_ENGINES[made.engine],
            revision=made.revision,
            size=f"{made.size:,}",
        )
    )
    return EXIT_OK


def restore_command(settings: Settings, source: Path, *, force: bool) -> int:
    """Restore the store from ``source``; the exit status."""
    words = translator(settings.language)
    _ = words.gettext
    try:
        done = asyncio.run(store_backup.restore(settings.database_url, source, replace=force))
    except BackupError as error:
        return _failed(error, words)
    print(
        _("restored {store} from {path}: schema {revision} (the backup's was {old})").format(
            store=store_backup.describe_store(settings.database_url),
            path=source,
            revision=done.revision,
            old=done.from_revision,
        )
    )
    return EXIT_OK


def _failed(error: BackupError, words: Translator) -> int:
    message, status = _explain(error, words)
    print(f"workledger: {message}", file=sys.stderr)
    return status


def _explain(error: BackupError, words: Translator) -> tuple[str, int]:
    _ = words.gettext
    if isinstance(error, store_backup.InUseError):
        line = _("{store} is in use (the bot or another command has it open): stop it first")
        return line.format(store=error.where), EXIT_REFUSED
    if isinstance(error, store_backup.NotEmptyError):
        line = _("{store} holds data already: restore into an empty store, or add --force")
        return line.format(store=error.where), EXIT_REFUSED
    if isinstance(error, store_backup.NoStoreError):
        line = _("there is no store at {path}: check WORKLEDGER_DATABASE_URL")
        return line.format(path=error.path), EXIT_BAD_INPUT
    if isinstance(error, store_backup.NotAStoreError):
        line = _("{store} is not a workledger store (it has no schema revision)")
        return line.format(store=error.where), EXIT_BAD_INPUT
    if isinstance(error, store_backup.TargetExistsError):
        line = _("{path} exists already: a backup never overwrites a file; choose a new name")
        return line.format(path=error.path), EXIT_BAD_INPUT
    if isinstance(error, store_backup.NoBackupError):
        return _("there is no backup at {path}").format(path=error.path), EXIT_BAD_INPUT
    if isinstance(error, store_backup.NotABackupError):
        line = _("{path} is not a backup of a workledger store")
        return line.format(path=error.path), EXIT_BAD_INPUT
    if isinstance(error, store_backup.WrongEngineError):
        line = _(
            "{path} is a {found} backup, but WORKLEDGER_DATABASE_URL is a {engine} store: "
            "restore it into a {found} store"
        )
        return (
            line.format(
                path=error.path, found=_ENGINES[error.found], engine=_ENGINES[error.store]
            ),
            EXIT_BAD_INPUT,
        )
    if isinstance(error, store_backup.NewerBackupError):
        line = _(
            "{path} comes from a newer version of workledger (schema {revision}): "
            "restore it with that version"
        )
        return line.format(path=error.path, revision=error.revision), EXIT_BAD_INPUT
    if isinstance(error, store_backup.ToolMissingError):
        line = _("{tool} is not on PATH: install PostgreSQL's client tools (postgresql-client)")
        return line.format(tool=error.tool), EXIT_BAD_INPUT
    if isinstance(error, store_backup.ToolFailedError):
        return _("{tool} failed: {detail}").format(
            tool=error.tool, detail=error.detail
        ), EXIT_BAD_INPUT
    if isinstance(error, store_backup.UnreachableError):
        line = _("cannot reach {store}: {detail}")
        return line.format(store=error.where, detail=error.detail), EXIT_BAD_INPUT
    if isinstance(error, store_backup.UnsupportedEngineError):
        line = _("workledger backs up and restores SQLite and PostgreSQL stores, not {engine}")
        return line.format(engine=error.engine), EXIT_BAD_INPUT
    return str(error), EXIT_BAD_INPUT
