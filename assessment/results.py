"""Calibration and publication of a period's results, and each person's score notice.

HR sees a period's results per department and per supervisor (``overview``,
``department``), may change a person's grade with a reason within the quota
(``calibrate``: both grades are kept, ``period_scores.grade_id`` and
``calibrated_grade_id``, and the change is audited), may leave an unreviewed person out
with a reason (``exclude``), and publishes (``publish``), now or at a chosen time.
Publication is refused while anyone in scope is neither signed off nor excluded, and
everything that changes results is refused once the period is published: published
results change only through an appeal.

Every change of a period's results first takes the period (``lock_period``, the
transaction's first statement), so calibrations, exclusions and the publication of one
period happen one after another and each checks what the one before it wrote.

On publication the notices are queued in batches of staff ids, each batch publishing
its people's scores and queueing their notices in one transaction, claimed by key
(``assessment.batches``), so 100,000 people never hold the store at once and a crash
half-way leaves the rest to the next tick. A notice row names only its recipient and
the period: the outbox sender builds the text and draws the chart when it sends it
(``notice_of``), one at a time, so no chart waits in memory or in the store.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import Any

from assessment import access
from assessment.batches import BATCH_SIZE, Window, run_in_batches
from assessment.grading import (
    ORGANISATION,
    CalibrationProblem,
    ScopeKey,
    Scored,
    calibration_problems,
    scope_key,
    top_grade_cap,
)
from assessment.outbox import BULK, Outgoing, enqueue
from assessment.people import StaffMember
from assessment.period_scoring import (
    FACTS_FORMAT,
    PeriodRun,
    StalePolicyError,
    breakdown_of,
    score_period,
)
from assessment.periods import (
    Period,
    Stage,
    closed_through,
    ensure_period,
    parse_key,
    period_of,
    stage_on,
)
from assessment.quota import StandingApproval, approvals, standing
from assessment.scoring import Breakdown
from assessment.scoring_worker import ScoringWorker
from config.policy import Policy
from storage.engine import Database
from storage.repositories.audit import Event
from storage.repositories.results import FigureRow, PublishedScore, Recipient, ScopePerson
from storage.uow import UnitOfWork

__all__ = [
    "HISTORY",
    "LISTED",
    "MAX_REASON",
    "SCORE_KIND",
    "Blocked",
    "Calibrated",
    "CalibrationStarted",
    "DepartmentFigures",
    "DepartmentView",
    "Excluded",
    "Opened",
    "Overview",
    "Published",
    "PublishedScore",
    "QuotaView",
    "Recipient",
    "ResultsError",
    "Scheduled",
    "ScopePerson",
    "ScoreNotice",
    "Tally",
    "access_error",
    "calibrate",
    "department",
    "exclude",
    "explain",
    "mark_read",
    "my_results",
    "notice_of",
    "notices_key",
    "open_period",
    "overview",
    "publish",
    "publish_due",
    "queue_notices",
    "quota_problems",
    "quota_view",
    "refresh",
    "start_calibration",
    "unreviewed",
]

# The outbox kind of a score notice: the sender renders it from the store.
SCORE_KIND = "score"
# Periods a chart shows (the notice's and the eleven before it).
HISTORY = 12
# People a list names before it says how many more.
LISTED = 30
MAX_REASON = 500


class ResultsError(enum.StrEnum):
    """Why a change of results was refused."""

    NOT_HR = "not_hr"
    UNKNOWN_PERIOD = "unknown_period"
    NOT_YET = "not_yet"  # before calibration (publishing, calibrating)
    TOO_EARLY = "too_early"  # before the supervisor review (excluding)
    PUBLISHED = "published"
    STALE = "stale"
    NOT_IN_SCOPE = "not_in_scope"
    NO_SCORE = "no_score"
    EXCLUDED = "excluded"
    SIGNED_OFF = "signed_off"
    UNKNOWN_GRADE = "unknown_grade"
    REASON_NEEDED = "reason_needed"
    REASON_TOO_LONG = "reason_too_long"
    IN_THE_PAST = "in_the_past"
    NOT_PUBLISHED = "not_published"
    CALIBRATING = "calibrating"  # calibration has started already (starting it early)


@dataclass(frozen=True, slots=True)
class Opened:
    """A stored period, its stage today and its version (what a Publish button carries)."""

    period: Period
    period_id: int
    stage: Stage
    version: int
    publish_at: datetime | None


def _stage(period: Period, row: Any, today: date, policy: Policy, zone: tzinfo) -> Stage:
    started = row.calibration_started_at
    return stage_on(
        period,
        today,
        policy,
        calibration_started_on=None if started is None else started.astimezone(zone).date(),
        published=row.published_at is not None,
    )


async def open_period(
    uow: UnitOfWork,
    period: Period | None,
    policy: Policy,
    *,
    today: date,
    zone: tzinfo,
    now: datetime,
) -> Opened:
    """The period (None: the latest under review or later), stored now if it is not yet."""
    if period is None:
        period = period_of(closed_through(today, policy), policy)
    stored = await uow.periods.by_key(period.key)
    if stored is None:
        period_id = await ensure_period(uow, period, now=now)
        await uow.commit()
    else:
        period_id = stored.id
    opened = await _opened(uow, period_id, policy, today=today, zone=zone)
    assert opened is not None, "the period was just stored"
    return opened


async def _opened(
    uow: UnitOfWork, period_id: int, policy: Policy, *, today: date, zone: tzinfo
) -> Opened | None:
    key = await uow.results.period_key(period_id)
    if key is None:
        return None
    row = await uow.periods.by_key(key)
    period = parse_key(key, policy)
    if row is None or period is None:
        return None
    version = await uow.results.period_version(period_id)
    assert version is not None
    return Opened(
        period, period_id, _stage(period, row, today, policy, zone), version, row.publish_at
    )


async def refresh(
    database: Database,
    period: Period,
    policy: Policy,
    *,
    now: datetime,
    worker: ScoringWorker | None = None,
    zone: tzinfo = UTC,
) -> PeriodRun:
    """Score and grade the whole period afresh from its stored facts
    (``assessment.period_scoring.score_period``; calibrated grades, publication and reads
    are kept, a published period is left alone): before HR's figures, before publishing.
    The batches are scored in ``worker``'s process (the bot's), else in a thread; ``zone``
    is the organisation's (whether the peers' ratings are closed, so counted)."""
    return await score_period(database, policy, period, now=now, worker=worker, zone=zone)


def explain(policy: Policy, staff_id: int, stored: dict[str, Any]) -> Breakdown | None:
    """The breakdown of a stored score, rebuilt from what is stored with it (the facts
    it was computed from, or a full breakdown); None if it cannot be rebuilt under this
    policy (the policy changed since: the score and grade stand, unexplained here)."""
    try:
        if stored.get("format") == FACTS_FORMAT:
            return breakdown_of(policy, staff_id, 0, stored)
        return Breakdown.from_json(stored)
    except (StalePolicyError, ValueError, KeyError, TypeError):
        return None


# --------------------------------------------------------------------------- figures


@dataclass(slots=True)
class Tally:
    """People counted (not excluded), how many have a score, their grades and mean."""

    people: int = 0
    scored: int = 0
    score_sum: Decimal = Decimal(0)
    grades: dict[str, int] = field(default_factory=dict)

    def add(self, row: FigureRow) -> None:
        self.people += row.people
        if row.grade_id is not None and row.score_sum is not None:
            self.scored += row.people
            self.score_sum += row.score_sum
            self.grades[row.grade_id] = self.grades.get(row.grade_id, 0) + row.people

    @property
    def mean(self) -> Decimal | None:
        """The mean score of those with one."""
        return None if not self.scored else self.score_sum / self.scored


@dataclass(slots=True)
class ReviewerFigures:
    """One supervisor's people in a department, and how far their mean is from its mean."""

    reviewer_id: int | None
    name: str | None
    tally: Tally = field(default_factory=Tally)
    offset: Decimal | None = None


@dataclass(slots=True)
class DepartmentFigures:
    """One department's figures: everyone's, and each supervisor's."""

    department_id: int
    name: str
    tally: Tally = field(default_factory=Tally)
    reviewers: list[ReviewerFigures] = field(default_factory=list)
    unreviewed: int = 0
    excluded: int = 0
    read: int = 0


@dataclass(frozen=True, slots=True)
class Overview:
    """A period's results across the organisation."""

    opened: Opened
    departments: list[DepartmentFigures]
    unreviewed: int
    excluded: int
    read: int
    people: int
    # The organisation's quota, where the quota counts the whole organisation.
    quota: QuotaView | None = None


def _figures(rows: Sequence[FigureRow]) -> dict[int, DepartmentFigures]:
    departments: dict[int, DepartmentFigures] = {}
    reviewers: dict[tuple[int, int | None], ReviewerFigures] = {}
    for row in rows:
        figures = departments.setdefault(
            row.department_id, DepartmentFigures(row.department_id, "")
        )
        if row.excluded:
            figures.excluded += row.people
            continue
        if not row.reviewed:
            figures.unreviewed += row.people
        if row.read:
            figures.read += row.people
        figures.tally.add(row)
        key = (row.department_id, row.reviewer_id)
        if key not in reviewers:
            reviewers[key] = ReviewerFigures(row.reviewer_id, None)
            figures.reviewers.append(reviewers[key])
        reviewers[key].tally.add(row)
    for figures in departments.values():
        mean = figures.tally.mean
        for reviewer in figures.reviewers:
            own = reviewer.tally.mean
            reviewer.offset = None if own is None or mean is None else own - mean
    return departments


async def _named(uow: UnitOfWork, departments: dict[int, DepartmentFigures]) -> None:
    names = await uow.results.department_names(list(departments))
    people = await uow.results.names(
        [r.reviewer_id for d in departments.values() for r in d.reviewers if r.reviewer_id]
    )
    for figures in departments.values():
        figures.name = names.get(figures.department_id, "")
        for reviewer in figures.reviewers:
            reviewer.name = people.get(reviewer.reviewer_id) if reviewer.reviewer_id else None
        figures.reviewers.sort(key=lambda r: (r.name is None, r.name or ""))


async def overview(uow: UnitOfWork, opened: Opened, policy: Policy | None = None) -> Overview:
    """Everyone's figures in the period, by department and by supervisor (with
    ``policy``, and one quota for the organisation: that quota)."""
    departments = _figures(await uow.results.figures(opened.period_id))
    await _named(uow, departments)
    ordered = sorted(departments.values(), key=lambda d: d.name)
    scope = None
    if policy is not None and policy.quota.scope == "organisation":
        scope = await quota_view(uow, opened, policy, None)
    return Overview(
        opened,
        ordered,
        unreviewed=sum(d.unreviewed for d in ordered),
        excluded=sum(d.excluded for d in ordered),
        read=sum(d.read for d in ordered),
        people=sum(d.tally.people for d in ordered),
        quota=scope,
    )


@dataclass(frozen=True, slots=True)
class DepartmentView:
    """One department: its figures, who blocks publication, who has not read, everyone."""

    opened: Opened
    figures: DepartmentFigures
    unreviewed: list[ScopePerson]
    unread: list[ScopePerson]
    people: list[ScopePerson]
    # The department's quota, where the quota counts each department.
    quota: QuotaView | None = None


async def department(
    uow: UnitOfWork, opened: Opened, department_id: int, policy: Policy | None = None
) -> DepartmentView:
    """One department's results and people (with ``policy``, and the quota counted per
    department: its quota)."""
    rows = [
        r for r in await uow.results.figures(opened.period_id) if r.department_id == department_id
    ]
    departments = _figures(rows)
    await _named(uow, departments)
    figures = departments.get(department_id) or DepartmentFigures(department_id, "")
    if not figures.name:
        figures.name = (await uow.results.department_names([department_id])).get(department_id, "")
    everyone = await uow.results.people(opened.period_id, department_id=department_id)
    return DepartmentView(
        opened,
        figures,
        [p for p in everyone if not p.signed_off and p.excluded_reason is None],
        [p for p in everyone if p.published_at is not None and p.read_at is None],
        everyone,
        None
        if policy is None or policy.quota.scope != "department"
        else await quota_view(uow, opened, policy, department_id),
    )


@dataclass(frozen=True, slots=True)
class QuotaView:
    """A quota scope's top grade: people counted, top grades given (calibrated where HR
    calibrated), the cap now, and the approval of the wider share if one stands."""

    scope: ScopeKey
    people: int
    top: int
    cap: int
    approval: StandingApproval | None


async def quota_view(
    uow: UnitOfWork, opened: Opened, policy: Policy, department_id: int | None
) -> QuotaView:
    """The quota of a department (``department_id``) or of the organisation (None)."""
    scope: ScopeKey = ORGANISATION if department_id is None else department_id
    counted = [
        p
        for p in await uow.results.people(opened.period_id, department_id=department_id)
        if p.score is not None and p.excluded_reason is None
    ]
    approval = (await standing(uow, opened.period_id)).get(scope_key(scope))
    return QuotaView(
        scope,
        len(counted),
        sum(1 for p in counted if p.final_grade_id == policy.top_grade.id),
        top_grade_cap(policy, len(counted), approved=approval is not None),
        approval,
    )


async def person(uow: UnitOfWork, opened: Opened, staff_id: int) -> ScopePerson | None:
    """One person in scope of the period, with their score."""
    found = await uow.results.people(opened.period_id, staff_id=staff_id)
    return found[0] if found else None


# --------------------------------------------------------------------------- changes


def _reason(text: str | None) -> str | ResultsError:
    cleaned = (text or "").strip()
    if not cleaned:
        return ResultsError.REASON_NEEDED
    if len(cleaned) > MAX_REASON:
        return ResultsError.REASON_TOO_LONG
    return cleaned


@dataclass(frozen=True, slots=True)
class Calibrated:
    """A grade HR changed: the grade assigned under the quota is kept beside it."""

    person: ScopePerson
    grade_id: str


async def calibrate(
    uow: UnitOfWork,
    hr: StaffMember,
    period_id: int,
    staff_id: int,
    version: int,
    grade_id: str,
    reason: str | None,
    policy: Policy,
    *,
    today: date,
    zone: tzinfo,
    now: datetime,
) -> Calibrated | ResultsError | tuple[CalibrationProblem, ...]:
    """Change a person's grade in calibration, with a reason, within the quota; commit.

    Refused (nothing written) outside calibration, once published, when the score changed
    since it was shown (``version``), or when the quota or a disqualifying fact forbids
    the grade (the problems ``grading.calibration_problems`` finds).
    """
    if access.check(hr, access.HR) is not None:
        return ResultsError.NOT_HR
    cleaned = _reason(reason)
    if isinstance(cleaned, ResultsError):
        return cleaned
    if grade_id not in {grade.id for grade in policy.grades}:
        return ResultsError.UNKNOWN_GRADE
    opened = await _opened(uow, period_id, policy, today=today, zone=zone)
    if opened is None:
        return ResultsError.UNKNOWN_PERIOD
    if opened.stage is Stage.PUBLISHED:
        return ResultsError.PUBLISHED
    if opened.stage is not Stage.CALIBRATION:
        return ResultsError.NOT_YET
    if await uow.results.lock_period(period_id) is None:
        return ResultsError.PUBLISHED
    found = await person(uow, opened, staff_id)
    if found is None:
        return ResultsError.NOT_IN_SCOPE
    if found.excluded_reason is not None:
        return ResultsError.EXCLUDED
    if found.score is None or found.version is None:
        return ResultsError.NO_SCORE
    if found.version != version:
        return ResultsError.STALE
    scope = await uow.results.people(
        period_id,
        department_id=found.department_id if policy.quota.scope == "department" else None,
    )
    counted = [p for p in scope if p.score is not None and p.excluded_reason is None]
    grades = {p.staff_id: p.final_grade_id or "" for p in counted}
    grades[staff_id] = grade_id
    problems = calibration_problems(
        policy,
        [
            Scored(p.staff_id, p.department_id, p.score, p.disqualified)
            for p in counted
            if p.score is not None
        ],
        grades,
        with_approval=await approvals(uow, period_id),
    )
    if problems:
        return problems
    if not await uow.results.calibrate(
        period_id, staff_id, version, grade_id=grade_id, reason=cleaned, by_id=hr.id, now=now
    ):
        return ResultsError.STALE
    await uow.audit.add(
        Event(
            "score.calibrated",
            "period",
            period_id,
            at=now,
            actor_staff_id=hr.id,
            actor_telegram_id=hr.telegram_user_id,
            details={
                "period": opened.period.key,
                "employee_no": found.employee_no,
                "grade_id": found.grade_id,
                "by_score_grade_id": found.by_score_grade_id,
                "previous_calibrated_grade_id": found.calibrated_grade_id,
                "calibrated_grade_id": grade_id,
                "reason": cleaned,
            },
        )
    )
    await uow.commit()
    return Calibrated(found, grade_id)


@dataclass(frozen=True, slots=True)
class Excluded:
    """A person HR left out of the period's publication."""

    person: ScopePerson
    reason: str


async def exclude(
    uow: UnitOfWork,
    hr: StaffMember,
    period_id: int,
    staff_id: int,
    reason: str | None,
    policy: Policy,
    *,
    today: date,
    zone: tzinfo,
    now: datetime,
) -> Excluded | ResultsError:
    """Leave an unreviewed person out of the period's publication, with a reason; commit."""
    if access.check(hr, access.HR) is not None:
        return ResultsError.NOT_HR
    cleaned = _reason(reason)
    if isinstance(cleaned, ResultsError):
        return cleaned
    opened = await _opened(uow, period_id, policy, today=today, zone=zone)
    if opened is None:
        return ResultsError.UNKNOWN_PERIOD
    if opened.stage is Stage.PUBLISHED:
        return ResultsError.PUBLISHED
    if opened.stage not in (Stage.SUPERVISOR_REVIEW, Stage.CALIBRATION):
        return ResultsError.TOO_EARLY
    if await uow.results.lock_period(period_id) is None:
        return ResultsError.PUBLISHED
    found = await person(uow, opened, staff_id)
    if found is None:
        return ResultsError.NOT_IN_SCOPE
    if found.excluded_reason is not None:
        return ResultsError.EXCLUDED
    if found.signed_off:
        return ResultsError.SIGNED_OFF
    review_id = await uow.reviews.ensure(
        period_id,
        staff_id,
        department_id=found.department_id,
        reviewer_id=found.reviewer_id,
        now=now,
    )
    if not await uow.results.exclude(review_id, reason=cleaned, by_id=hr.id, now=now):
        return ResultsError.STALE
    await uow.audit.add(
        Event(
            "period.excluded",
            "period_review",
            review_id,
            at=now,
            actor_staff_id=hr.id,
            actor_telegram_id=hr.telegram_user_id,
            details={
                "period": opened.period.key,
                "employee_no": found.employee_no,
                "reason": cleaned,
            },
        )
    )
    await uow.commit()
    return Excluded(found, cleaned)


@dataclass(frozen=True, slots=True)
class CalibrationStarted:
    """HR started the period's calibration early; ``unreviewed`` people were not reviewed
    then (their reviews may still be finished: publication waits for them)."""

    period: Period
    unreviewed: int


def access_error(member: StaffMember) -> ResultsError | None:
    """NOT_HR unless ``member`` may calibrate and publish (HR or an administrator)."""
    return None if access.check(member, access.HR) is None else ResultsError.NOT_HR


async def unreviewed(uow: UnitOfWork, period_id: int) -> int:
    """How many people in the period's scope are neither signed off nor excluded."""
    return await uow.results.count_unreviewed(period_id)


async def start_calibration(
    uow: UnitOfWork,
    hr: StaffMember,
    period_id: int,
    version: int,
    policy: Policy,
    *,
    today: date,
    zone: tzinfo,
    now: datetime,
) -> CalibrationStarted | ResultsError:
    """Start the period's calibration now, before its day (HR), as shown; commit.

    Only under supervisor review (by the one stage rule, ``periods.stage_on``, which from
    then on reads ``calibration_started_at``): never before the review, never twice, never
    once published. Reviews not signed off stay open to their reviewers, as they do in a
    calibration begun on its day (an overdue review can still be finished); ``Publish``
    waits for them or for their exclusion. Audited (``period.calibration_started``).
    """
    if access.check(hr, access.HR) is not None:
        return ResultsError.NOT_HR
    opened = await _opened(uow, period_id, policy, today=today, zone=zone)
    if opened is None:
        return ResultsError.UNKNOWN_PERIOD
    if opened.stage is Stage.PUBLISHED:
        return ResultsError.PUBLISHED
    if opened.stage is Stage.CALIBRATION:
        return ResultsError.CALIBRATING
    if opened.stage is not Stage.SUPERVISOR_REVIEW:
        return ResultsError.TOO_EARLY
    locked = await uow.results.lock_period(period_id)
    if locked is None:
        return ResultsError.PUBLISHED
    if locked != version:
        return ResultsError.STALE
    if not await uow.periods.start_calibration(period_id, by_id=hr.id, now=now):
        return ResultsError.CALIBRATING
    left = await unreviewed(uow, period_id)
    await uow.audit.add(
        Event(
            "period.calibration_started",
            "period",
            period_id,
            at=now,
            actor_staff_id=hr.id,
            actor_telegram_id=hr.telegram_user_id,
            details={"period": opened.period.key, "unreviewed": left},
        )
    )
    await uow.commit()
    return CalibrationStarted(opened.period, left)


@dataclass(frozen=True, slots=True)
class Blocked:
    """Publication refused: people neither signed off nor excluded (``unscored``: signed
    off, but without a score yet). ``count`` of them, the first named. ``over_quota``: the
    grades to publish break the quota (a scheduled publication's refusal)."""

    count: int
    people: list[ScopePerson]
    unscored: bool = False
    over_quota: bool = False


@dataclass(frozen=True, slots=True)
class Published:
    """The period is published; its notices are queued next (``queue_notices``)."""

    period: Period
    period_id: int


@dataclass(frozen=True, slots=True)
class Scheduled:
    """The period is to be published at ``at``."""

    period: Period
    at: datetime


async def _blocked(uow: UnitOfWork, period_id: int) -> Blocked | None:
    count = await uow.results.count_unreviewed(period_id)
    if count:
        return Blocked(count, await uow.results.people(period_id, unreviewed=True, limit=LISTED))
    unscored, people = await uow.results.unscored(period_id, LISTED)
    if unscored:
        return Blocked(unscored, people, unscored=True)
    return None


async def quota_problems(
    uow: UnitOfWork, period_id: int, policy: Policy
) -> tuple[CalibrationProblem, ...]:
    """The grades that would be published (calibrated where HR calibrated), checked
    against the quota of every scope, as ``grading.calibration_problems`` checks them
    (the top grade's cap, no top grade for a disqualified person), counted by the store:
    a score computed afresh after a calibration may have given a place the calibration
    had already filled. Counted in SQL: a publication checks 100,000 people at once."""
    per_department = policy.quota.scope == "department"
    approved = await approvals(uow, period_id)
    problems = []
    for scope, people, top, barred in await uow.results.top_grades(
        period_id, policy.top_grade.id, per_department=per_department
    ):
        key: ScopeKey = ORGANISATION if scope is None else scope
        if barred:
            problems.append(CalibrationProblem("disqualified", key, (), None))
        cap = top_grade_cap(policy, people, approved=approved.get(key, False))
        if top > cap:
            # Rare: name them (the scope's people are read only then).
            holders = tuple(
                p.staff_id
                for p in await uow.results.people(period_id, department_id=scope)
                if p.excluded_reason is None and p.final_grade_id == policy.top_grade.id
            )
            problems.append(CalibrationProblem("over_quota", key, holders, cap))
    return tuple(problems)


async def publish(
    uow: UnitOfWork,
    hr: StaffMember,
    period_id: int,
    version: int,
    policy: Policy,
    *,
    at: datetime | None,
    today: date,
    zone: tzinfo,
    now: datetime,
) -> Published | Scheduled | Blocked | ResultsError | tuple[CalibrationProblem, ...]:
    """Publish the period now (``at`` None or past) or schedule it for ``at``; commit.

    Refused while anyone in scope is neither signed off nor excluded (``Blocked``), while
    the grades to publish break the quota (the problems), outside calibration, once
    published, or when the results changed since they were shown.
    """
    if access.check(hr, access.HR) is not None:
        return ResultsError.NOT_HR
    opened = await _opened(uow, period_id, policy, today=today, zone=zone)
    if opened is None:
        return ResultsError.UNKNOWN_PERIOD
    if opened.stage is Stage.PUBLISHED:
        return ResultsError.PUBLISHED
    if opened.stage is not Stage.CALIBRATION:
        return ResultsError.NOT_YET
    locked = await uow.results.lock_period(period_id)
    if locked is None:
        return ResultsError.PUBLISHED
    if locked != version:
        return ResultsError.STALE
    blocked = await _blocked(uow, period_id)
    if blocked is not None:
        return blocked
    problems = await quota_problems(uow, period_id, policy)
    if problems:
        return problems
    details = {"period": opened.period.key}
    if at is not None and at > now:
        await uow.results.schedule(period_id, at, by_id=hr.id)
        await uow.audit.add(
            Event(
                "period.publication_scheduled",
                "period",
                period_id,
                at=now,
                actor_staff_id=hr.id,
                actor_telegram_id=hr.telegram_user_id,
                details={**details, "publish_at": at.isoformat()},
            )
        )
        await uow.commit()
        return Scheduled(opened.period, at)
    await uow.results.mark_published(period_id, by_id=hr.id, now=now)
    await uow.audit.add(
        Event(
            "period.published",
            "period",
            period_id,
            at=now,
            actor_staff_id=hr.id,
            actor_telegram_id=hr.telegram_user_id,
            details=details,
        )
    )
    await uow.commit()
    return Published(opened.period, period_id)


def _notices_key(period_key: str) -> str:
    return f"score-notices/{period_key}"


def notices_key(period_key: str) -> str:
    """The claim of a publication's batches, taken once every score is published."""
    return _notices_key(period_key)


async def queue_notices(
    uows: Callable[[], UnitOfWork],
    period_id: int,
    period_key: str,
    *,
    now: datetime,
    size: int = BATCH_SIZE,
) -> int | None:
    """Publish the period's scores and queue their notices, a batch of staff ids per
    transaction, once (see ``assessment.batches``); how many notices this run queued."""

    async def prepare(uow: UnitOfWork, window: Window) -> Window:
        return window

    async def write(uow: UnitOfWork, window: Window, _: Window) -> int:
        await uow.results.publish_scores(period_id, window.after, window.through, now)
        return await uow.results.queue_notices(
            period_id,
            window.after,
            window.through,
            kind=SCORE_KIND,
            key=f"score/{period_key}/",
            chart=period_key,
            priority=BULK,
            now=now,
        )

    return await run_in_batches(uows, _notices_key(period_key), prepare, write, now=now, size=size)


# What the HR who scheduled a publication is told when it cannot happen at its time.
RefusalNotice = Callable[[Recipient, str, Blocked], Outgoing]


async def publish_due(
    uows: Callable[[], UnitOfWork],
    refused: RefusalNotice,
    policy: Policy,
    *,
    now: datetime,
    rescore: Callable[[str], Awaitable[object]] | None = None,
    size: int = BATCH_SIZE,
) -> list[str]:
    """Job: publish each period whose scheduled time has come, once, and queue the notices
    of any publication not finished (the bot stopped half-way). The keys published now.

    A scheduled publication is claimed by its period and time
    (``publication/2026-11/<time>``), in the transaction that publishes it, so restarts
    and extra processes publish it once. If someone in scope is unreviewed by then, it is
    not published: the time is cleared and whoever scheduled it is told. ``rescore``
    (given the period's key) scores the period afresh first.
    """
    async with uows() as uow:
        due = await uow.results.due(now)
    published = []
    for period_id, key, by_id, at in due:
        if rescore is not None:
            await rescore(key)
        async with uows() as uow:
            if not await uow.claims.claim(f"publication/{key}/{at.isoformat()}", now):
                continue
            if await uow.results.lock_period(period_id) is None:
                continue
            blocked = await _blocked(uow, period_id)
            if blocked is None and await quota_problems(uow, period_id, policy):
                blocked = Blocked(0, [], over_quota=True)
            if blocked is not None:
                await uow.results.schedule(period_id, None, by_id=by_id)
                recipient = None if by_id is None else await uow.results.recipient(by_id)
                if recipient is not None and recipient.chat_id is not None:
                    await enqueue(uow, [refused(recipient, key, blocked)], now=now)
                await uow.audit.add(
                    Event(
                        "period.publication_refused",
                        "period",
                        period_id,
                        at=now,
                        details={"period": key, "unreviewed": blocked.count},
                    )
                )
                await uow.commit()
                continue
            await uow.results.mark_published(period_id, by_id=by_id, now=now)
            await uow.audit.add(
                Event(
                    "period.published",
                    "period",
                    period_id,
                    at=now,
                    actor_staff_id=by_id,
                    details={"period": key, "scheduled_for": at.isoformat()},
                )
            )
            await uow.commit()
        published.append(key)
    async with uows() as uow:
        recent = await uow.results.published_periods(3)
        unfinished = [
            (period_id, key)
            for period_id, key in recent
            if not await uow.claims.claimed(_notices_key(key))
        ]
    for period_id, key in unfinished:
        await queue_notices(uows, period_id, key, now=now, size=size)
    return published


# --------------------------------------------------------------------------- people


async def mark_read(
    uow: UnitOfWork, member: StaffMember, period_id: int, *, now: datetime
) -> tuple[datetime, bool] | ResultsError:
    """The person read their published result: when they first said so, and if that is now.

    Only their own: the result is looked up by who presses, never by what the button says.
    """
    read_at = await uow.results.mark_read(period_id, member.id, now)
    if read_at is None:
        return ResultsError.NOT_PUBLISHED
    await uow.commit()
    return read_at, read_at == now


@dataclass(frozen=True, slots=True)
class ScoreNotice:
    """A person's published result of one period, with the twelve periods of its chart
    (oldest first; None where they have no published score) and whom to tell."""

    recipient: Recipient
    result: PublishedScore
    history: list[tuple[str, Decimal | None, str | None]]
    breakdown: Breakdown | None = None


def chart_periods(period: Period) -> list[Period]:
    """The twelve periods a chart of ``period`` shows, oldest first: the same for everyone
    of one publication, so their charts share one background."""
    periods = [period]
    while len(periods) < HISTORY:
        periods.append(periods[-1].previous())
    return periods[::-1]


async def notice_of(
    uow: UnitOfWork, staff_id: int, period_key: str, policy: Policy
) -> ScoreNotice | None:
    """What a person's notice of one published period says; None if nothing is published."""
    recipient = await uow.results.recipient(staff_id)
    period = parse_key(period_key, policy)
    if recipient is None or period is None:
        return None
    found = await uow.results.published(staff_id, period_key=period_key, limit=1)
    if not found:
        return None
    keys = [p.key for p in chart_periods(period)]
    history = await uow.results.history(staff_id, keys)
    return ScoreNotice(
        recipient,
        found[0],
        [(key, *history[key]) if key in history else (key, None, None) for key in keys],
        explain(policy, staff_id, found[0].breakdown),
    )


async def my_results(
    uow: UnitOfWork, staff_id: int, policy: Policy
) -> tuple[ScoreNotice | None, list[PublishedScore]]:
    """A person's latest published result (with its chart's history) and all of them."""
    everything = await uow.results.published(staff_id, limit=120)
    if not everything:
        return None, []
    return await notice_of(uow, staff_id, everything[0].period_key, policy), everything
