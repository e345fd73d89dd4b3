"""``workledger annual YYYY [--wider] [--json]``: roll a year up from the store.

The same roll-up as HR's ``/annual`` (``assessment.annual_run``): the year's annual
results recomputed from its published routine results and stored, and HR's private
report of the flags queued for the bot to deliver to each HR person. It prints that
report (in the organisation's language), or ``--json`` for scripts. Whoever runs it has
the store, so no role is checked; ``--wider`` uses the annual quota's approved share.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from assessment import annual_run
from assessment.annual_run import AnnualError, RollUp
from bot.cli_store import EXIT_USAGE, report_busy, store_url
from config.clock import Clock
from config.policy import Policy
from config.settings import Settings
from handlers.annual import error_text, report_texts, reporter
from locales import translator
from storage import migrate
from storage.engine import Database, StoreBusy

EXIT_OK = 0


def annual(settings: Settings, policy: Policy, year: int, *, wider: bool, as_json: bool) -> int:
    """Roll ``year`` up and print the result; return the exit status (2: nothing to roll
    up, no [annual] section, or a store behind the code)."""
    words = translator(settings.language)
    try:
        result = asyncio.run(_run(settings, policy, year, wider=wider))
    except StoreBusy as busy:
        return report_busy(busy, words)
    if isinstance(result, str):
        print(f"workledger: {result}", file=sys.stderr)
        return EXIT_USAGE
    if as_json:
        print(json.dumps(_document(result), ensure_ascii=False, indent=2))
    else:
        print("\n\n".join(report_texts(words, policy, result)))
    return EXIT_OK


async def _run(settings: Settings, policy: Policy, year: int, *, wider: bool) -> RollUp | str:
    words = translator(settings.language)
    database = Database(store_url(settings))
    try:
        current = await migrate.current_revision(database.engine)
        if current != migrate.head_revision():
            return (
                f"the database schema is at {current or 'nothing'}, this version needs "
                f"{migrate.head_revision()}: run `workledger db upgrade` first"
            )
        now = Clock(settings.clock_start).now()
        async with database.uow() as uow:
            result = await annual_run.roll_up(
                uow,
                policy,
                year,
                actor=None,
                now=now,
                wider=wider,
                report=reporter(policy, settings.language, now),
            )
            if isinstance(result, AnnualError):
                return error_text(words, result)
            await uow.commit()
        return result
    finally:
        await database.dispose()


def _document(result: RollUp) -> dict[str, Any]:
    return {
        "year": result.year,
        "people": result.people,
        "graded": result.graded,
        "wider": result.with_approval,
        "flagged": [
            {
                "employee_no": row.employee_no,
                "name": row.name,
                "department": row.department,
                "grade": row.grade_id,
                "score": None if row.score is None else str(row.score),
                "flags": row.flags,
                "trainings": row.trainings,
            }
            for row in result.flagged
        ],
    }
