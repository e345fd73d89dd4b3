"""Statistics for /stats: HR sees the organisation, a supervisor their own people.

Who is counted is decided here, from the store, on every request: HR (or an
administrator) the whole organisation; a supervisor only their direct reports (as the
roster says now); anyone else nothing. The figures themselves are aggregates the
database computes (``storage.repositories.stats``); this module adds the work calendar
(which days are workdays), the quota's caps and the shares.

Typical use::

    stats = await organisation_stats(uow, member, policy, today=today, zone=zone)
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from assessment.calendar import WorkCalendar
from assessment.grading import top_grade_cap
from assessment.people import StaffMember
from assessment.periods import Period, period_of
from config.policy import Policy
from storage.enums import Role
from storage.models import BonusRun
from storage.repositories.stats import DepartmentCount, GradeCount, StatsRepository
from storage.uow import UnitOfWork

__all__ = [
    "AppealCount",
    "DepartmentStats",
    "GradeLine",
    "Stats",
    "StatsError",
    "appeal_counts",
    "median",
    "organisation_stats",
    "rate",
]


class StatsError(enum.StrEnum):
    """Why no statistics are shown."""

    NOT_PERMITTED = "not_permitted"
    NOBODY = "nobody"


@dataclass(frozen=True, slots=True)
class GradeLine:
    """A department's published grades and, for HR, its top-grade cap."""

    counts: dict[str, int]
    people: int
    top_cap: int | None


@dataclass(frozen=True, slots=True)
class DepartmentStats:
    """One department's figures (of the people counted)."""

    department_id: int
    name: str
    people: int
    period_rate: float | None
    year_rate: float | None
    backlog: int
    decided: int
    median_seconds: float | None
    grades: GradeLine | None
    bonus_units: int | None


@dataclass(frozen=True, slots=True)
class AppealCount:
    """A period's cases of one kind (``review`` or ``appeal``) and one state (``open``,
    ``upheld`` or ``changed``)."""

    kind: str
    outcome: str
    count: int


@dataclass(frozen=True, slots=True)
class Stats:
    """Everything /stats shows."""

    whole_organisation: bool
    period: Period
    through: date
    year: int
    results_period_key: str | None
    bonus_run: BonusRun | None
    departments: list[DepartmentStats]
    appeals: list[AppealCount]


def rate(logged: int, people: int, workdays: int) -> float | None:
    """The share of ``people`` x ``workdays`` person-days with an entry (None: no day
    to log yet, or nobody)."""
    expected = people * workdays
    if expected <= 0:
        return None
    return min(1.0, logged / expected)


def median(values: Sequence[float]) -> float | None:
    """The median of ``values`` (the mean of the middle two of an even count); None if
    empty. The store computes the same one in SQL; this is its definition."""
    ordered = sorted(values)
    count = len(ordered)
    if count == 0:
        return None
    middle = count // 2
    if count % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


async def appeal_counts(
    uow: UnitOfWork, period_id: int | None, supervisor_id: int | None
) -> list[AppealCount]:
    """The results period's reviews and appeals by state, counted in the database, for
    the same people as the rest (a supervisor: their own reports only)."""
    if period_id is None:
        return []
    rows = await StatsRepository(uow.session).appeal_cases(period_id, supervisor_id)
    return [AppealCount(kind, outcome, count) for kind, outcome, count in rows]


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), zone).astimezone(UTC)


async def organisation_stats(
    uow: UnitOfWork,
    member: StaffMember,
    policy: Policy,
    *,
    today: date,
    zone: ZoneInfo,
    period: Period | None = None,
) -> Stats | StatsError:
    """The statistics ``member`` may see, of ``period`` (the current one by default)
    through ``today``, and of its year through the same day; decisions are counted by
    the local days of ``zone``."""
    if member.roles & (Role.HR | Role.ADMIN):
        supervisor_id: int | None = None
    elif member.roles & Role.SUPERVISOR:
        supervisor_id = member.id
    else:
        return StatsError.NOT_PERMITTED
    repository = StatsRepository(uow.session)
    heads = await repository.headcount(supervisor_id)
    if not heads:
        return StatsError.NOBODY
    period = period or period_of(today, policy)
    through = min(today, period.ends_on)
    calendar = WorkCalendar(policy)
    period_days = calendar.workdays(period.starts_on, through)
    year_start = date(period.starts_on.year, 1, 1)
    year_days = calendar.workdays(year_start, through)
    in_period = await repository.logged_days(period_days, supervisor_id)
    in_year = await repository.logged_days(year_days, supervisor_id)
    backlog = await repository.backlog(supervisor_id)
    medians, decided = await repository.median_decision_seconds(
        _day_start(period.starts_on, zone),
        _day_start(through + timedelta(days=1), zone),
        supervisor_id,
    )

    results = await repository.latest_published_period(through)
    grades: dict[int, GradeLine] = {}
    bonus: dict[int, int] = {}
    run = None
    if results is not None:
        grades = _grade_lines(
            policy, await repository.grades(results[0], supervisor_id), supervisor_id is None
        )
        run = await uow.bonus.latest_published(results[0])
        if run is not None:
            bonus = await repository.bonus_units(run.id, supervisor_id)

    departments = [
        _department(
            head,
            rate(in_period.get(head.department_id, 0), int(head.value), len(period_days)),
            rate(in_year.get(head.department_id, 0), int(head.value), len(year_days)),
            backlog.get(head.department_id, 0),
            decided.get(head.department_id, 0),
            medians.get(head.department_id),
            grades.get(head.department_id),
            bonus.get(head.department_id) if run is not None else None,
        )
        for head in heads
    ]
    appeals = await appeal_counts(uow, results[0] if results else None, supervisor_id)
    return Stats(
        whole_organisation=supervisor_id is None,
        period=period,
        through=through,
        year=period.starts_on.year,
        results_period_key=results[1] if results else None,
        bonus_run=run,
        departments=departments,
        appeals=appeals,
    )


def _department(
    head: DepartmentCount,
    period_rate: float | None,
    year_rate: float | None,
    backlog: int,
    decided: int,
    median_seconds: float | None,
    grades: GradeLine | None,
    bonus_units: int | None,
) -> DepartmentStats:
    return DepartmentStats(
        department_id=head.department_id,
        name=head.department,
        people=int(head.value),
        period_rate=period_rate,
        year_rate=year_rate,
        backlog=backlog,
        decided=decided,
        median_seconds=median_seconds,
        grades=grades,
        bonus_units=bonus_units,
    )


def _grade_lines(
    policy: Policy, counts: Sequence[GradeCount], with_caps: bool
) -> dict[int, GradeLine]:
    """Grades by department; with the quota's top-grade cap where it applies by
    department (HR's view: the cap is of everyone graded there)."""
    by_department: dict[int, dict[str, int]] = {}
    for count in counts:
        by_department.setdefault(count.department_id, {})[count.grade_id] = count.people
    by_department_scope = policy.quota.scope == "department"
    lines = {}
    for department_id, found in by_department.items():
        people = sum(found.values())
        cap = top_grade_cap(policy, people) if with_caps and by_department_scope else None
        lines[department_id] = GradeLine(found, people, cap)
    return lines


def organisation_cap(policy: Policy, stats: Stats) -> tuple[int, int] | None:
    """The organisation's top grades and cap, where the quota is organisation-wide."""
    if not stats.whole_organisation or policy.quota.scope == "department":
        return None
    top = policy.grades[0].id
    people = sum(d.grades.people for d in stats.departments if d.grades is not None)
    if people == 0:
        return None
    given = sum(d.grades.counts.get(top, 0) for d in stats.departments if d.grades is not None)
    return given, top_grade_cap(policy, people)
