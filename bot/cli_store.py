"""What every command that opens the store shares: its exit statuses and how it waits.

Kept apart from ``bot.cli`` so that the commands it dispatches to (``invite_cli``,
``roster_cli``, ``results_cli``) can use it without importing their own dispatcher.
"""

from __future__ import annotations

import sys

from config.settings import Settings
from locales import Translator
from storage.engine import StoreBusy, waiting_up_to

EXIT_USAGE = 2
# Another process held the SQLite store's write lock for too long; nothing was written.
# 75 is EX_TEMPFAIL of sysexits.h: a temporary failure, worth trying again.
EXIT_BUSY = 75
# The store is marked for the other kind of bot (``storage.marker``): the sandbox's store
# given to ``workledger run``. 78 is EX_CONFIG of sysexits.h: fix the configuration.
EXIT_STORE_IN_USE = 78
# A command waits this long for the bot's writes to the SQLite store (the bot's own
# handlers wait 5 s: somebody is looking at their phone). ``?timeout=`` in the URL wins.
CLI_BUSY_TIMEOUT = 30.0


def store_url(settings: Settings) -> str:
    """The store's URL for a command: on SQLite, waiting ``CLI_BUSY_TIMEOUT`` for the bot."""
    return waiting_up_to(settings.database_url, CLI_BUSY_TIMEOUT)


def report_busy(busy: StoreBusy, words: Translator, *, nothing_written: bool = True) -> int:
    """Say in one line on stderr that the store was busy; the exit status to return."""
    _ = words.gettext
    line = (
        _(
            "the database is busy: another program (the bot, most likely) kept it locked "
            "for over {seconds:g} s; nothing was written; try again in a moment"
        )
        if nothing_written
        else _(
            "the database is busy: another program (the bot, most likely) kept it locked "
            "for over {seconds:g} s; try again in a moment"
        )
    )
    print(f"workledger: {line.format(seconds=busy.waited)}", file=sys.stderr)
    return EXIT_BUSY
