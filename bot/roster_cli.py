"""``workledger staff import FILE``: the roster from the command line."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from assessment.roster import (
    ImportStopped,
    ImportSummary,
    ParsedRoster,
    RosterRejected,
    import_roster,
    parse_roster,
)
from bot.cli_store import report_busy, store_url
from config.clock import Clock
from config.policy import Policy
from config.settings import Settings
from handlers.roster_text import describe_rejection, describe_summary
from locales import translator
from storage.engine import StoreBusy

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_UNREADABLE = 2
# The import stopped part-way: part of it is written; the same import again finishes it.
EXIT_STOPPED = 3


def staff_import(
    settings: Settings, policy: Policy, path: Path, *, mark_missing_left: bool, dry_run: bool
) -> int:
    """Import the roster at ``path``; print a summary or every problem; return the exit status.

    0: imported (or checked, in a dry run); 1: the roster was refused; 2: the file
    could not be read or the store could not be opened; 3: the import stopped part-way
    (part of it is written: the same import again finishes it); 75 (``EXIT_BUSY``):
    another process kept the store locked before the import began, nothing was imported.
    The people whose menus changed get them from the running bot (or the next one to
    start): the import queues them in the outbox.
    """
    words = translator(settings.language)
    _, ngettext = words.gettext, words.ngettext
    try:
        data = path.read_bytes()
    except OSError as error:
        message = _("cannot read {path}: {error}")
        print(message.format(path=path, error=error.strerror or error), file=sys.stderr)
        return EXIT_UNREADABLE
    try:
        roster = parse_roster(data, path.name, policy)
        summary = asyncio.run(_import(settings, roster, mark_missing_left, dry_run))
    except RosterRejected as rejection:
        print(describe_rejection(rejection.problems, _, ngettext), file=sys.stderr)
        return EXIT_REJECTED
    except _StoreUnavailableError as error:
        print(f"workledger: {error}", file=sys.stderr)
        return EXIT_UNREADABLE
    except StoreBusy as busy:
        return report_busy(busy, words)
    except ImportStopped as stopped:
        cause = stopped.__cause__
        if isinstance(cause, StoreBusy):
            report_busy(cause, words, nothing_written=False)
        else:
            print(f"workledger: {cause!r}", file=sys.stderr)
        line = _("the import stopped part-way: part of it is written; run it again to finish it")
        print(f"workledger: {line}", file=sys.stderr)
        return EXIT_STOPPED
    print(describe_summary(summary, _, ngettext))
    if summary.missing and not mark_missing_left:
        print(_("To mark them as having left, run the import again with --mark-missing-left."))
    return EXIT_OK


class _StoreUnavailableError(Exception):
    """The store's schema is behind the code and an operator must migrate it first."""


async def _import(
    settings: Settings, roster: ParsedRoster, mark_missing_left: bool, dry_run: bool
) -> ImportSummary:
    # Imported here, as bot.cli does, so a command that never opens the store stays light.
    from bot.app import SchemaOutOfDateError, open_store

    try:
        # On SQLite it waits for the bot's writes for longer than the bot waits for it.
        database = await open_store(
            settings.model_copy(update={"database_url": store_url(settings)})
        )
    except SchemaOutOfDateError as error:
        raise _StoreUnavailableError(str(error)) from error
    try:
        async with database.uow() as uow:
            return await import_roster(
                uow,
                roster,
                actor_staff_id=None,
                now=Clock(settings.clock_start).now(),
                mark_missing_left=mark_missing_left,
                dry_run=dry_run,
            )
    finally:
        await database.dispose()
