"""``workledger export --period YYYY-MM --what KIND``: a ledger or export as XLSX or CSV.

Kinds (``assessment.exports.SOURCES``): ``ledger`` (every entry of the period with its
approval trail and evidence), ``scores`` (scores, breakdown, original and calibrated
grades), ``deliveries`` (every copy of the notices queued in the period), ``audit``
(the audit log of the period's days, or of ``--from``/``--to``), ``bonus`` (the lines of
the period's published bonus runs) and ``record`` (career records, whatever the period,
so ``--period`` may be left out; ``--person EMPLOYEE_NO`` for one person's).
``--department`` keeps one department's people (not for the audit log, which is the
organisation's). Headers are in ``--language`` (by default the organisation's). It only
reads the store; the file goes to ``--out`` (by default ``KIND-PERIOD.FORMAT``, or
``record[-EMPLOYEE_NO].FORMAT``, in the current folder), written whole before it takes
that name, so a failed export never leaves half a file.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from datetime import date
from pathlib import Path

from assessment.exports import (
    SOURCES,
    UNDATED,
    ExportRequest,
    UnknownDepartmentError,
    department_id,
    export,
)
from assessment.periods import Period, parse_key, period_of
from bot.cli_store import EXIT_USAGE, report_busy
from bot.results_cli import UnusableStoreError, missing_store, open_store_for_reading
from config.clock import Clock
from config.policy import Policy
from config.settings import Settings
from handlers.export_labels import sheet_words
from locales import SUPPORTED, translator
from storage.engine import StoreBusy

EXIT_OK = 0


class UnknownPersonError(LookupError):
    """Nobody on the roster has that employee number."""


def export_command(
    settings: Settings,
    policy: Policy,
    *,
    period_key: str | None,
    what: str,
    department: str | None,
    fmt: str,
    out: Path | None,
    since: date | None = None,
    until: date | None = None,
    language: str | None = None,
    person: str | None = None,
) -> int:
    """Write the export; return the exit status (0 written, 2 unusable request or store,
    75 the store was busy)."""
    words = translator(language if language in SUPPORTED else settings.language)
    _ = words.gettext

    def fail(message: str) -> int:
        print(f"workledger: {message}", file=sys.stderr)
        return EXIT_USAGE

    if what not in SOURCES:
        return fail(
            _("there is no export called {what}; choose one of: {kinds}").format(
                what=what, kinds=", ".join(SOURCES)
            )
        )
    undated = what in UNDATED
    if person is not None and what != "record":
        return fail(_("--person is for the career record only (--what record)"))
    period: Period | None
    if period_key is None:
        if not undated:
            return fail(_("--period YYYY-MM is needed for {what}").format(what=what))
        # The record is the whole career: any period does; the clock's names none in it.
        period = period_of(Clock(settings.clock_start).today(settings.zone), policy)
    else:
        period = parse_key(period_key, policy)
    if period is None:
        return fail(_("{key} is not a period: give a month as YYYY-MM").format(key=period_key))
    if since is not None and until is not None and since > until:
        return fail(_("--from is after --to"))
    missing = missing_store(settings)
    if missing is not None:
        message = _("there is no store at {path}: check WORKLEDGER_DATABASE_URL")
        return fail(message.format(path=missing))
    if undated:
        default = f"{what}-{person.strip().upper()}.{fmt}" if person else f"{what}.{fmt}"
    else:
        default = f"{what}-{period.key}.{fmt}"
    target = out or Path(default)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.resolve().parent)
    os.close(handle)
    partial = Path(name)
    try:
        rows = asyncio.run(
            _export(settings, policy, what, period, department, person, fmt, partial, since,
                    until, words.locale)
        )  # fmt: skip
        os.replace(partial, target)
    except UnknownDepartmentError:
        return fail(_("there is no department called {name}").format(name=department))
    except UnknownPersonError:
        return fail(_("nobody on the roster has the employee number {number}").format(
            number=person))  # fmt: skip
    except StoreBusy as busy:
        return report_busy(busy, words, nothing_written=False)
    except UnusableStoreError as error:
        return fail(str(error))
    finally:
        partial.unlink(missing_ok=True)
    print(
        words.ngettext(
            "{count} row written to {path}", "{count} rows written to {path}", rows
        ).format(count=rows, path=target)
    )
    return EXIT_OK


async def _export(
    settings: Settings,
    policy: Policy,
    what: str,
    period: Period,
    department: str | None,
    person: str | None,
    fmt: str,
    target: Path,
    since: date | None,
    until: date | None,
    locale: str,
) -> int:
    database = await open_store_for_reading(settings)
    try:
        department_id_ = staff_id = None
        async with database.uow() as uow:
            if department is not None:
                department_id_ = await department_id(uow, department)
            if person is not None:
                found = await uow.staff.by_employee_no(person.strip().upper())
                if found is None:
                    raise UnknownPersonError(person)
                staff_id = found.id
        request = ExportRequest(
            what, period, settings.zone, fmt=fmt, department_id=department_id_,
            since=since, until=until, staff_id=staff_id,
        )  # fmt: skip
        words = sheet_words(what, translator(locale), policy, settings.zone.key)
        result = await export(database.uow, policy, request, words, target)
        return result.rows
    finally:
        await database.dispose()
