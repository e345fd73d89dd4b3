"""``workledger bonus YYYY-MM --as EMPLOYEE_NO [--pool TOTAL] [--reason TEXT] [--out FILE]
[--publish]``: a published period's bonus run from the command line.

Computes a run as ``/bonus`` does (``assessment.bonus.compute``, in windows, on behalf of
the HR member named by ``--as``, who is recorded as its author) and prints its totals by
department and grade, tab-separated; ``--out`` writes the spreadsheet of every line.
``--publish`` then publishes it, once (the same conditional update as the button), and
queues everyone's notice in the outbox, for the running bot's sender (or ``workledger
deliver``) to send. Never migrates the store.
"""

from __future__ import annotations

import asyncio
import functools
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

from assessment import bonus
from assessment.bonus import BonusError, Computed, PoolError, Published
from assessment.people import StaffMember
from assessment.periods import parse_key
from assessment.sheets import xlsx_bytes
from bot.cli_store import EXIT_USAGE, store_url
from config.clock import Clock
from config.policy import Policy
from config.settings import Settings
from handlers.bonus import bonus_notice, refusal, sheet_rows
from handlers.scores import grade_name
from locales import translator
from storage import migrate
from storage.engine import Database

EXIT_OK = 0
EXIT_REFUSED = 1


def bonus_cli(
    settings: Settings,
    policy: Policy,
    key: str,
    *,
    acting: str,
    pool: str | None,
    reason: str | None,
    out: Path | None,
    publish: bool,
) -> int:
    """Compute (and with ``publish``, publish) a bonus run; the exit status.

    0: done; 1: refused (the reason is printed); 2: bad arguments or an unusable store.
    """
    words = translator(settings.language)
    _ = words.gettext
    if parse_key(key, policy) is None:
        message = _(
            "{key} is not a period: give a month as YYYY-MM (or a quarter as YYYY-Q1 "
            "to YYYY-Q4 where periods are quarters)"
        )
        print(f"workledger: {message.format(key=key)}", file=sys.stderr)
        return EXIT_USAGE
    total = None
    if pool is not None:
        try:
            total = Decimal(pool)
        except InvalidOperation:
            print(f"workledger: {refusal(words, PoolError.NOT_A_STEP)}", file=sys.stderr)
            return EXIT_USAGE
    return asyncio.run(_run(settings, policy, key, acting, total, reason, out, publish=publish))


async def _run(
    settings: Settings,
    policy: Policy,
    key: str,
    acting: str,
    total: Decimal | None,
    reason: str | None,
    out: Path | None,
    *,
    publish: bool,
) -> int:
    words = translator(settings.language)
    database = Database(store_url(settings))
    clock = Clock(settings.clock_start)
    try:
        current = await migrate.current_revision(database.engine)
        if current != migrate.head_revision():
            print(
                f"workledger: the database schema is at {current or 'nothing'}, this version "
                f"needs {migrate.head_revision()}: run `workledger db upgrade` first",
                file=sys.stderr,
            )
            return EXIT_USAGE
        async with database.uow() as uow:
            found = await uow.staff.by_employee_nos([acting])
        if not found:
            print(f"workledger: {refusal(words, BonusError.UNKNOWN_PERSON)}", file=sys.stderr)
            return EXIT_USAGE
        member = StaffMember.of(found[0])
        computed = await bonus.compute(
            database.uow, member, key, policy, pool_total=total, reason=reason, now=clock.now()
        )
        if not isinstance(computed, Computed):
            print(f"workledger: {refusal(words, computed)}", file=sys.stderr)
            return EXIT_REFUSED
        async with database.uow() as uow:
            shown = await bonus.totals(uow, computed.run_id)
        assert shown is not None
        run, totals = shown
        step = Decimal(str(run.factors["step"]))
        print(f"run\t{run.id}\tpeople\t{run.people}\ttotal\t{computed.total}")
        for line in totals:
            amount = (Decimal(line.amount) * step).quantize(step)
            change = (Decimal(line.change) * step).quantize(step)
            grade = grade_name(words, policy, line.grade_id) or "-"
            print(f"{line.department}\t{grade}\t{line.people}\t{amount}\t{change}")
        if out is not None:
            header, rows = sheet_rows(words, policy, run, await bonus.lines(database.uow, run.id))
            content = await asyncio.to_thread(xlsx_bytes, header, rows, title=computed.period_key)
            await asyncio.to_thread(out.write_bytes, content)
        if not publish:
            return EXIT_OK
        published = await bonus.publish(database.uow, member, run.id, now=clock.now())
        if not isinstance(published, Published):
            print(f"workledger: {refusal(words, published)}", file=sys.stderr)
            return EXIT_REFUSED
        queued = await bonus.queue_notices(
            database.uow,
            run.id,
            functools.partial(bonus_notice, settings.language, policy),
            now=clock.now(),
        )
        print(f"published\t{published.number}\tnotices\t{queued or 0}")
        return EXIT_OK
    finally:
        await database.dispose()
