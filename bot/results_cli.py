"""``workledger results YYYY-MM [--json] [--compute]``: a period's results from the store.

Prints, for everyone with a review row for the period, their stage, their stored score
and their grade (HR's calibrated grade where there is one, with the computed one beside
it), and the period's own stage; tab-separated text for people, or ``--json`` for
scripts. It reads what the last whole-period run stored; ``--compute`` runs it first
(``assessment.period_scoring.score_period``: everyone reviewable scored, graded under the
quota and stored; a published period is never recomputed). Without ``--compute`` it
writes nothing, and never migrates the store.
"""

from __future__ import annotations

import asyncio
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from assessment.period_scoring import (
    PeriodResults,
    PeriodRun,
    PersonStage,
    period_results,
    score_period,
)
from assessment.periods import Period, Stage, parse_key
from assessment.scoring_worker import ScoringWorker
from bot.cli_store import report_busy, store_url
from config.clock import Clock
from config.policy import Policy
from config.settings import Settings
from locales import N_, Translator, translator
from storage import migrate
from storage.engine import Database, StoreBusy
from storage.repositories.scores import ResultRow

EXIT_OK = 0
EXIT_UNUSABLE = 2

_PERIOD_STAGES = {
    Stage.OPEN: N_("period open"),
    Stage.SELF_ASSESSMENT: N_("period in self-assessment"),
    Stage.SUPERVISOR_REVIEW: N_("period under supervisor review"),
    Stage.CALIBRATION: N_("period in calibration"),
    Stage.PUBLISHED: N_("period published"),
}
_PERSON_STAGES = {
    PersonStage.OPEN: N_("not started"),
    PersonStage.SELF_ASSESSED: N_("self-assessed"),
    PersonStage.SIGNED_OFF: N_("signed off"),
    PersonStage.REOPENED: N_("reopened by HR"),
    PersonStage.EXCLUDED: N_("excluded by HR"),
    PersonStage.PUBLISHED: N_("results published"),
    PersonStage.READ: N_("read by them"),
}


class _UnusableError(Exception):
    """The store cannot be read by this version (missing, or its schema behind)."""


def results(settings: Settings, policy: Policy, key: str, *, as_json: bool, compute: bool) -> int:
    """Print the period ``key``'s results; return the exit status.

    0: printed; 2: not a period key, or the store is missing or behind the code (run
    ``workledger db upgrade``); 75 (``EXIT_BUSY``, with ``--compute`` on SQLite):
    another process kept the store locked; what was computed so far is stored, and
    running it again is safe.
    """
    words = translator(settings.language)
    _ = words.gettext
    period = parse_key(key, policy)
    if period is None:
        message = _(
            "{key} is not a period: give a month as YYYY-MM (or a quarter as YYYY-Q1 "
            "to YYYY-Q4 where periods are quarters)"
        )
        print(f"workledger: {message.format(key=key)}", file=sys.stderr)
        return EXIT_UNUSABLE
    missing = _missing_store(settings)
    if missing is not None:
        message = _("there is no store at {path}: check WORKLEDGER_DATABASE_URL")
        print(f"workledger: {message.format(path=missing)}", file=sys.stderr)
        return EXIT_UNUSABLE
    try:
        run, found = asyncio.run(_read(settings, policy, period, compute=compute))
    except _UnusableError as error:
        print(f"workledger: {error}", file=sys.stderr)
        return EXIT_UNUSABLE
    except StoreBusy as busy:
        return report_busy(busy, words, nothing_written=False)
    if as_json:
        print(json.dumps(_document(found, run, policy), ensure_ascii=False, indent=2))
    else:
        print(_text(found, run, policy, words))
    return EXIT_OK


def _missing_store(settings: Settings) -> Path | None:
    # A SQLite file that is not there: opening it would create an empty one.
    parsed = make_url(settings.database_url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database or "")
    return None if path.exists() else path


async def _open(settings: Settings) -> Database:
    database = Database(store_url(settings))
    try:
        current = await migrate.current_revision(database.engine)
        if current != migrate.head_revision():
            raise _UnusableError(
                f"the database schema is at {current or 'nothing'}, this version needs "
                f"{migrate.head_revision()}: run `workledger db upgrade` first"
            )
    except BaseException:
        await database.dispose()
        raise
    return database


async def _read(
    settings: Settings, policy: Policy, period: Period, *, compute: bool
) -> tuple[PeriodRun | None, PeriodResults]:
    database = await _open(settings)
    clock = Clock(settings.clock_start)
    try:
        run = None
        if compute:
            worker = ScoringWorker()
            try:
                run = await score_period(
                    database, policy, period, now=clock.now(), worker=worker, zone=settings.zone
                )
            finally:
                worker.close()
        async with database.uow() as uow:
            found = await period_results(
                uow, policy, period, today=clock.today(settings.zone), zone=settings.zone
            )
        return run, found
    finally:
        await database.dispose()


def _number(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _document(found: PeriodResults, run: PeriodRun | None, policy: Policy) -> dict[str, Any]:
    people = []
    for row, stage in found.people:
        final = row.calibrated_grade_id or row.grade_id
        people.append(
            {
                "employee_no": row.employee_no,
                "name": row.name,
                "department": row.department,
                "post_type": row.post_type,
                "stage": stage.value,
                "score": _number(row.score),
                "grade": final,
                "computed_grade": row.grade_id,
                "grade_by_score": row.by_score_grade_id,
                "calibrated_grade": row.calibrated_grade_id,
                "disqualified": row.disqualified,
                "computed_at": None if row.computed_at is None else row.computed_at.isoformat(),
            }
        )
    document: dict[str, Any] = {
        "period": found.period.key,
        "starts_on": found.period.starts_on.isoformat(),
        "ends_on": found.period.ends_on.isoformat(),
        "stage": found.stage.value,
        "published": found.published,
        "people": people,
        "without_review": found.without_review,
    }
    if run is not None:
        document["computed"] = {
            "scored": run.scored,
            "published": run.published,
            "unscorable": len(run.unscorable),
            "removed": run.removed,
        }
    return document


def _grade(row: ResultRow, policy: Policy, words: Translator) -> str:
    _ = words.gettext
    if row.grade_id is None:
        return "-"

    def name(grade_id: str) -> str:
        try:
            return policy.grade(grade_id).names.get(words.locale)
        except KeyError:  # a grade of an earlier policy
            return grade_id

    if row.calibrated_grade_id is not None and row.calibrated_grade_id != row.grade_id:
        return _("{grade} (calibrated; computed: {computed})").format(
            grade=name(row.calibrated_grade_id), computed=name(row.grade_id)
        )
    if row.by_score_grade_id is not None and row.by_score_grade_id != row.grade_id:
        text = (
            _("{grade} (by score: {by_score}; barred by a disqualifying fact)")
            if row.disqualified
            else _("{grade} (by score: {by_score}; over the top-grade quota)")
        )
        return text.format(grade=name(row.grade_id), by_score=name(row.by_score_grade_id))
    return name(row.grade_id)


def _text(found: PeriodResults, run: PeriodRun | None, policy: Policy, words: Translator) -> str:
    _, ngettext = words.gettext, words.ngettext
    lines = [
        _("Results of {period} ({starts_on} to {ends_on}): {stage}").format(
            period=found.period.key,
            starts_on=found.period.starts_on.isoformat(),
            ends_on=found.period.ends_on.isoformat(),
            stage=_(_PERIOD_STAGES[found.stage]),
        )
    ]
    if run is not None:
        if run.published:
            lines.append(_("The period is published: its scores were not computed again."))
        else:
            lines.append(
                ngettext(
                    "{count} score computed and stored.",
                    "{count} scores computed and stored.",
                    run.scored,
                ).format(count=run.scored)
            )
            if run.unscorable:
                lines.append(
                    ngettext(
                        "{count} person could not be scored: no post type the policy knows.",
                        "{count} people could not be scored: no post type the policy knows.",
                        len(run.unscorable),
                    ).format(count=len(run.unscorable))
                )
    lines.append(_("employee no\tname\tdepartment\tstage\tscore\tgrade"))
    for row, stage in found.people:
        score = "-" if row.score is None else str(row.score)
        lines.append(
            "\t".join(
                (
                    row.employee_no,
                    row.name,
                    row.department,
                    _(_PERSON_STAGES[stage]),
                    score,
                    _grade(row, policy, words),
                )
            )
        )
    if not found.people:
        lines.append(_("Nobody has a review for this period yet."))
    if found.without_review:
        lines.append(
            ngettext(
                "{count} person has no review for this period and is not scored.",
                "{count} people have no review for this period and are not scored.",
                found.without_review,
            ).format(count=found.without_review)
        )
    return "\n".join(lines)
