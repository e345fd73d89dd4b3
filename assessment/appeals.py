"""Review (复核) and appeal (申诉) of a published result: requests, decisions, clocks.

A person asks for a **review** of their own published result, from the score notice or
``/score``, within ``review_request_days`` of its publication, with a reason and
documents or photos as evidence (their Telegram file ids are kept). The **reviewer**
(``[appeals] reviewer``: HR, or the head of the organisation, an administrator) decides
within ``review_decision_days``: the result upheld, or a changed grade, with a reason.
Then the person may **appeal** within ``appeal_request_days`` of that decision (or,
with no review, directly within ``appeal_direct_days`` of the publication); the appeal's
decider (``appeal_decider``, never whoever decided the review) decides within
``appeal_decision_days``, extendable once by ``appeal_extension_days`` with a reason.
The clocks are ``assessment.appeal_rules``'; a late request is refused with the day it
was due.

**A published result changes only here.** A changed grade is checked against the quota
(``appeal_rules.grade_change``: the wider share only where an administrator approved it
for that period and scope), stored as the result's calibrated grade (the grade that
counts everywhere: ``/score``, the notice, ``/results``, exports), and audited
(``appeal.decided``) with the score and grade before and after; the case keeps both too.
A decision first takes the period (``lock_published``), so two decisions in one scope
happen one after another and the second sees the place the first took. A changed grade
of a period whose bonus is published prompts HR to correct it
(``bonus_changes.prompt_correction``), in the same transaction.

Who sees what: the person their own cases; the deciders every open case of the kind
they decide, with the person's breakdown and the supervisor's review; a supervisor the
existence and outcome of their own reports' cases (never the reasons or evidence).

Everything sent on its own goes through the outbox in the transaction that caused it
(a new case to its deciders, the outcome and an extension to the person). ``run_clocks``
(a job) reminds the deciders ``remind_days_before`` days before a case's last day and on
that day, and escalates a case past its last day to the administrators, each once per
case and last day, claimed in ``job_claims``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any, Protocol

from assessment.appeal_rules import (
    APPEAL,
    REVIEW,
    GradeCheck,
    ScopeGrades,
    days_left,
    decision_due,
    grade_change,
    request_due,
)
from assessment.bonus_changes import ChangedResult, changed_after_payment, prompt_correction
from assessment.grading import ScopeKey, scope_key, scope_of, top_grade_cap
from assessment.outbox import Outgoing, enqueue
from assessment.people import StaffMember
from assessment.quota import standing
from assessment.results import ScoreNotice, notice_of
from config.policy import Policy
from storage.enums import Role
from storage.repositories.appeals import CaseRow, SupervisorReview
from storage.repositories.audit import Event
from storage.repositories.calendar import Recipient
from storage.uow import UnitOfWork

__all__ = [
    "APPEAL",
    "KINDS",
    "MAX_EVIDENCE",
    "MAX_REASON",
    "REVIEW",
    "AppealError",
    "CaseRow",
    "CaseView",
    "Decided",
    "Extended",
    "Filed",
    "Late",
    "MyCases",
    "Notices",
    "ShareApproved",
    "Window",
    "approve_share",
    "cases_of",
    "decide",
    "decider_roles",
    "extend",
    "file",
    "open_case",
    "run_clocks",
    "window",
]

KINDS = (REVIEW, APPEAL)
MAX_REASON = 2000
# Documents and photos kept with one request, at most.
MAX_EVIDENCE = 10
# Cases a list shows, at most.
LISTED = 30
_BATCH = 200
UPHELD = "upheld"
CHANGED = "changed"
# Why a top grade reached by a changed score is not given (the next grade is).
_CAPPED = (GradeCheck.OVER_QUOTA, GradeCheck.NEEDS_APPROVAL, GradeCheck.DISQUALIFIED)


class AppealError(enum.StrEnum):
    """Why a request, a decision or an extension was refused."""

    NOT_PUBLISHED = "not_published"  # no published result of the person for that period
    ALREADY = "already"  # a case of that kind exists for that period
    REVIEW_OPEN = "review_open"  # an appeal while the review is still undecided
    REASON_NEEDED = "reason_needed"
    REASON_TOO_LONG = "reason_too_long"
    UNKNOWN_CASE = "unknown_case"
    NOT_DECIDER = "not_decider"
    OWN_CASE = "own_case"
    SAME_DECIDER = "same_decider"  # the appeal's decider decided the review
    DECIDED = "decided"  # decided (or changed) meanwhile
    NOT_AN_APPEAL = "not_an_appeal"  # only an appeal is extended
    EXTENDED = "extended"  # extended once already
    PAST_DUE = "past_due"  # an extension after the last day
    NOT_ADMIN = "not_admin"  # only an administrator approves the wider share
    NO_WIDER_SHARE = "no_wider_share"  # the policy allows no exception
    APPROVED = "approved"  # the wider share stands already for that scope
    BAD_SCORE = "bad_score"  # a changed score outside 0..100


@dataclass(frozen=True, slots=True)
class Late:
    """A request after its window: the last day it could have been made."""

    due_on: date


@dataclass(frozen=True, slots=True)
class Window:
    """A request that may be made: its period and kind, and its last day."""

    period_id: int
    period_key: str
    kind: str
    due_on: date
    days_left: int


@dataclass(frozen=True, slots=True)
class Filed:
    """A request filed: the case and the last day to decide it."""

    case: CaseRow
    days_left: int


@dataclass(frozen=True, slots=True)
class Decided:
    """A case decided: the case as decided, and the next step's last day (an appeal's,
    after a review), if any."""

    case: CaseRow
    appeal_due_on: date | None


@dataclass(frozen=True, slots=True)
class Extended:
    """An appeal's decision put back once: the case with its new last day."""

    case: CaseRow
    days_left: int


@dataclass(frozen=True, slots=True)
class CaseView:
    """What a decider (or the head) sees of a case: the case, the result, the
    supervisor's review; whether the viewer may decide it, and may approve the wider
    top-grade share for its scope (an administrator, where none stands)."""

    case: CaseRow
    notice: ScoreNotice | None
    review: SupervisorReview
    days_left: int
    can_decide: bool = True
    can_approve: bool = False


@dataclass(frozen=True, slots=True)
class ShareApproved:
    """The wider top-grade share approved for a case's scope and period."""

    case: CaseRow
    cap: int
    people: int


@dataclass(frozen=True, slots=True)
class MyCases:
    """``/appeal``: the person's cases, their reports' (a supervisor), those to decide."""

    own: list[CaseRow]
    reports: list[CaseRow]
    to_decide: list[CaseRow]
    # The latest published result and the last days to ask for review or appeal on it.
    latest: Window | None
    latest_appeal: Window | None


class Notices(Protocol):
    """The messages the use cases queue, rendered in each recipient's language by the
    adapter (``handlers.appeals``)."""

    def new_case(self, recipient: Recipient, case: CaseRow, today: date) -> Outgoing: ...

    def outcome(
        self, recipient: Recipient, case: CaseRow, appeal_due_on: date | None, today: date
    ) -> Outgoing: ...

    def extended(self, recipient: Recipient, case: CaseRow, today: date) -> Outgoing: ...

    def reminder(self, recipient: Recipient, case: CaseRow, today: date) -> Outgoing: ...

    def overdue(self, recipient: Recipient, case: CaseRow, today: date) -> Outgoing: ...

    def correction_due(self, recipient: Recipient, change: ChangedResult) -> Outgoing: ...


def decider_roles(policy: Policy, kind: str) -> Role:
    """The role that decides a case of ``kind``: HR, or the head (an administrator)."""
    who = policy.appeals.reviewer if kind == REVIEW else policy.appeals.appeal_decider
    return Role.HR if who == "hr" else Role.ADMIN


def _reason(text: str | None) -> str | AppealError:
    cleaned = (text or "").strip()
    if not cleaned:
        return AppealError.REASON_NEEDED
    if len(cleaned) > MAX_REASON:
        return AppealError.REASON_TOO_LONG
    return cleaned


def _local(moment: datetime, zone: tzinfo) -> date:
    return moment.astimezone(zone).date()


async def window(
    uow: UnitOfWork,
    member: StaffMember,
    period_id: int,
    kind: str,
    policy: Policy,
    *,
    today: date,
    zone: tzinfo,
) -> Window | Late | AppealError:
    """Whether ``member`` may ask for a review (or appeal) of their result of a period
    today: the window and its last day, or why not (late: the day it was due)."""
    found = await uow.results.people(period_id, staff_id=member.id)
    person = found[0] if found else None
    key = await uow.results.period_key(period_id)
    if person is None or person.published_at is None or person.score is None or key is None:
        return AppealError.NOT_PUBLISHED
    cases = {case.kind: case for case in await uow.appeals.of_person(member.id, period_id)}
    if kind in cases:
        return AppealError.ALREADY
    review = cases.get(REVIEW)
    if kind == APPEAL and review is not None and review.status == "open":
        return AppealError.REVIEW_OPEN
    due = request_due(
        policy.appeals,
        kind,
        published_on=_local(person.published_at, zone),
        review_decided_on=None if review is None else review.decided_on,
    )
    left = days_left(due, today)
    if left < 0:
        return Late(due)
    return Window(period_id, key, kind, due, left)


async def file(
    uow: UnitOfWork,
    member: StaffMember,
    period_id: int,
    kind: str,
    reason: str | None,
    evidence: Sequence[dict[str, Any]],
    policy: Policy,
    notices: Notices,
    *,
    today: date,
    zone: tzinfo,
    now: datetime,
) -> Filed | Late | AppealError:
    """File ``member``'s request with its reason and evidence, if still in time; audited,
    its deciders told (outbox); commit."""
    cleaned = _reason(reason)
    if isinstance(cleaned, AppealError):
        return cleaned
    opened = await window(uow, member, period_id, kind, policy, today=today, zone=zone)
    if not isinstance(opened, Window):
        return opened
    due = decision_due(policy.appeals, kind, requested_on=today)
    case_id = await uow.appeals.add(
        period_id=period_id,
        staff_id=member.id,
        kind=kind,
        reason=cleaned,
        evidence=list(evidence)[:MAX_EVIDENCE],
        requested_at=now,
        requested_on=today,
        due_on=due,
    )
    if case_id is None:
        return AppealError.ALREADY
    case = await uow.appeals.get(case_id)
    assert case is not None
    await uow.audit.add(
        Event(
            f"{kind}.requested",
            "appeal_case",
            case_id,
            at=now,
            actor_staff_id=member.id,
            actor_telegram_id=member.telegram_user_id,
            details={
                "period": opened.period_key,
                "reason": cleaned,
                "evidence": len(case.evidence),
                "due_on": due.isoformat(),
            },
        )
    )
    deciders = [
        d
        for d in await uow.appeals.deciders(decider_roles(policy, kind))
        if d.staff_id != member.id
    ]
    await enqueue(uow, [notices.new_case(d, case, today) for d in deciders], now=now)
    await uow.commit()
    return Filed(case, days_left(due, today))


async def _decidable(
    uow: UnitOfWork, member: StaffMember, case_id: int, policy: Policy
) -> CaseRow | AppealError:
    case = await uow.appeals.get(case_id)
    if case is None:
        return AppealError.UNKNOWN_CASE
    if not member.has(decider_roles(policy, case.kind)):
        return AppealError.NOT_DECIDER
    if case.staff_id == member.id:
        return AppealError.OWN_CASE
    if case.kind == APPEAL:
        reviews = [c for c in await uow.appeals.of_person(case.staff_id, case.period_id)]
        if any(c.kind == REVIEW and c.decided_by_id == member.id for c in reviews):
            return AppealError.SAME_DECIDER
    return case


async def _scope_of(
    uow: UnitOfWork, case: CaseRow, policy: Policy
) -> tuple[ScopeKey, dict[int, str], bool] | None:
    """The case's quota scope, the grades held in it, and whether the wider share stands."""
    people = await uow.results.people(case.period_id, staff_id=case.staff_id)
    if not people:
        return None
    scope = scope_of(policy, people[0].department_id)
    counted = await uow.results.people(
        case.period_id, department_id=None if isinstance(scope, str) else scope
    )
    grades = {
        p.staff_id: p.final_grade_id or ""
        for p in counted
        if p.score is not None and p.excluded_reason is None
    }
    approved = scope_key(scope) in await standing(uow, case.period_id)
    return scope, grades, approved


async def open_case(
    uow: UnitOfWork, member: StaffMember, case_id: int, policy: Policy, *, today: date
) -> CaseView | AppealError:
    """A case as its decider sees it, or the head (an administrator, who is told of
    overdue cases and approves the wider share); never the person's own."""
    case = await _decidable(uow, member, case_id, policy)
    can_decide = not isinstance(case, AppealError)
    if case is AppealError.NOT_DECIDER and member.has(Role.ADMIN):
        overseen = await uow.appeals.get(case_id)
        assert overseen is not None
        case = AppealError.OWN_CASE if overseen.staff_id == member.id else overseen
    if isinstance(case, AppealError):
        return case
    can_approve = False
    if member.has(Role.ADMIN) and policy.quota.with_approval_max_share is not None:
        scope = await _scope_of(uow, case, policy)
        can_approve = case.status == "open" and scope is not None and not scope[2]
    notice = await notice_of(uow, case.staff_id, case.period_key, policy)
    review = await uow.appeals.supervisor_review(case.period_id, case.staff_id)
    return CaseView(case, notice, review, days_left(case.due_on, today), can_decide, can_approve)


async def approve_share(
    uow: UnitOfWork,
    admin: StaffMember,
    case_id: int,
    reason: str | None,
    policy: Policy,
    *,
    now: datetime,
) -> ShareApproved | AppealError:
    """The explicit approval step of the wider top-grade share for an open case's scope
    and (published) period: an administrator, with a reason; recorded as any approval
    of the share (``quota_approvals``), audited ``quota.approved`` naming the case;
    commit. The decider then decides with the wider cap."""
    if not admin.has(Role.ADMIN):
        return AppealError.NOT_ADMIN
    share = policy.quota.with_approval_max_share
    if share is None:
        return AppealError.NO_WIDER_SHARE
    cleaned = _reason(reason)
    if isinstance(cleaned, AppealError):
        return cleaned
    found = await uow.appeals.get(case_id)
    if found is None or not await uow.appeals.lock_published(found.period_id):
        return AppealError.UNKNOWN_CASE
    if found.staff_id == admin.id:
        return AppealError.OWN_CASE
    if found.status != "open":
        return AppealError.DECIDED
    scoped = await _scope_of(uow, found, policy)
    if scoped is None:
        return AppealError.NOT_PUBLISHED
    scope, grades, _ = scoped
    department = None if isinstance(scope, str) else scope
    if not await uow.quota.approve(
        found.period_id, scope_key(scope), department, reason=cleaned, by_id=admin.id, now=now
    ):
        return AppealError.APPROVED
    await uow.audit.add(
        Event(
            "quota.approved",
            "period",
            found.period_id,
            at=now,
            actor_staff_id=admin.id,
            actor_telegram_id=admin.telegram_user_id,
            details={
                "period": found.period_key,
                "scope": scope_key(scope),
                "share": str(share),
                "reason": cleaned,
                "case": found.id,
            },
        )
    )
    await uow.commit()
    return ShareApproved(found, top_grade_cap(policy, len(grades), approved=True), len(grades))


def _result(score: Decimal | None, grade: str | None) -> dict[str, Any]:
    return {"score": None if score is None else str(score), "grade": grade}


async def decide(
    uow: UnitOfWork,
    member: StaffMember,
    case_id: int,
    version: int,
    grade_id: str | None,
    reason: str | None,
    policy: Policy,
    notices: Notices,
    *,
    today: date,
    now: datetime,
    score: Decimal | None = None,
) -> Decided | AppealError | GradeCheck:
    """Decide a case as shown at ``version``: upheld (``grade_id`` None, or the grade it
    has), a changed grade within the quota, or a changed ``score`` (its grade the one the
    score reaches; the top grade only within the quota, else the next, as
    ``grading.assign_grades`` gives it); with a reason; audited with the result before
    and after; the person told (outbox); commit."""
    cleaned = _reason(reason)
    if isinstance(cleaned, AppealError):
        return cleaned
    if score is not None and not Decimal(0) <= score <= Decimal(100):
        return AppealError.BAD_SCORE
    found = await uow.appeals.get(case_id)
    if found is None or not await uow.appeals.lock_published(found.period_id):
        return AppealError.UNKNOWN_CASE
    case = await _decidable(uow, member, case_id, policy)
    if isinstance(case, AppealError):
        return case
    if case.status != "open" or case.version != version:
        return AppealError.DECIDED
    people = await uow.results.people(case.period_id, staff_id=case.staff_id)
    if not people or people[0].published_at is None or people[0].score is None:
        return AppealError.NOT_PUBLISHED
    person = people[0]
    assert person.score is not None
    before = _result(person.score, person.final_grade_id)
    new_score = person.score if score is None else policy.assessment.round_score(score)
    by_score = None if score is None else policy.grade_for(new_score).id
    if by_score is not None:
        grade_id = by_score
    if grade_id is not None and grade_id != person.final_grade_id:
        scoped = await _scope_of(uow, case, policy)
        assert scoped is not None, "the person has a published result"
        _, grades, approved = scoped
        check = grade_change(
            policy,
            ScopeGrades(grades, approved),
            case.staff_id,
            grade_id,
            disqualified=person.disqualified,
        )
        if check is not GradeCheck.ALLOWED and by_score is not None and check in _CAPPED:
            # A score that reaches the top grade without a place gets the next grade.
            grade_id = policy.grades[1].id
        elif check is not GradeCheck.ALLOWED:
            return check
    changed = (grade_id is not None and grade_id != person.final_grade_id) or (
        new_score != person.score
    )
    if changed:
        label = "review" if case.kind == REVIEW else "appeal"
        await uow.appeals.set_published_result(
            case.period_id,
            case.staff_id,
            grade_id or person.final_grade_id or "",
            score=None if score is None else new_score,
            by_score_grade_id=by_score,
            reason=f"{label} #{case.id}: {cleaned}",
            by_id=member.id,
            now=now,
        )
    after = _result(new_score, grade_id if changed and grade_id else person.final_grade_id)
    if not await uow.appeals.decide(
        case.id,
        version,
        outcome=CHANGED if changed else UPHELD,
        reason=cleaned,
        by_id=member.id,
        now=now,
        today=today,
        before=before,
        after=after,
    ):
        return AppealError.DECIDED
    await uow.audit.add(
        Event(
            f"{case.kind}.decided",
            "appeal_case",
            case.id,
            at=now,
            actor_staff_id=member.id,
            actor_telegram_id=member.telegram_user_id,
            details={
                "period": case.period_key,
                "staff_id": case.staff_id,
                "outcome": CHANGED if changed else UPHELD,
                "reason": cleaned,
                "before": before,
                "after": after,
            },
        )
    )
    decided = await uow.appeals.get(case.id)
    assert decided is not None
    appeal_due = None
    if case.kind == REVIEW:
        appeal_due = request_due(
            policy.appeals, APPEAL, published_on=today, review_decided_on=today
        )
    recipient = await uow.appeals.person(case.staff_id)
    if recipient is not None:
        await enqueue(uow, [notices.outcome(recipient, decided, appeal_due, today)], now=now)
    # A grade a published bonus run paid: HR is told to correct it (the person is told of
    # money only by the correction's notice).
    change = await changed_after_payment(
        uow,
        case_id=case.id,
        kind=case.kind,
        period_id=case.period_id,
        period_key=case.period_key,
        staff_id=case.staff_id,
        employee_no=case.employee_no,
        name=case.name,
        grade_before=before["grade"],
        grade_after=after["grade"],
    )
    await prompt_correction(uow, change, notices.correction_due, now=now)
    await uow.commit()
    return Decided(decided, appeal_due)


async def extend(
    uow: UnitOfWork,
    member: StaffMember,
    case_id: int,
    version: int,
    reason: str | None,
    policy: Policy,
    notices: Notices,
    *,
    today: date,
    now: datetime,
) -> Extended | AppealError:
    """Put an appeal's decision back once by ``appeal_extension_days``, with a reason,
    before its last day has passed; audited; the person told (outbox); commit."""
    cleaned = _reason(reason)
    if isinstance(cleaned, AppealError):
        return cleaned
    case = await _decidable(uow, member, case_id, policy)
    if isinstance(case, AppealError):
        return case
    if case.kind != APPEAL:
        return AppealError.NOT_AN_APPEAL
    if case.status != "open" or case.version != version:
        return AppealError.DECIDED
    if case.extended_at is not None:
        return AppealError.EXTENDED
    if days_left(case.due_on, today) < 0:
        return AppealError.PAST_DUE
    due = decision_due(policy.appeals, APPEAL, requested_on=case.requested_on, extended=True)
    if not await uow.appeals.extend(
        case.id, version, due_on=due, reason=cleaned, by_id=member.id, now=now
    ):
        return AppealError.DECIDED
    await uow.audit.add(
        Event(
            "appeal.extended",
            "appeal_case",
            case.id,
            at=now,
            actor_staff_id=member.id,
            actor_telegram_id=member.telegram_user_id,
            details={
                "period": case.period_key,
                "reason": cleaned,
                "before": case.due_on.isoformat(),
                "after": due.isoformat(),
            },
        )
    )
    extended = await uow.appeals.get(case.id)
    assert extended is not None
    recipient = await uow.appeals.person(case.staff_id)
    if recipient is not None:
        await enqueue(uow, [notices.extended(recipient, extended, today)], now=now)
    await uow.commit()
    return Extended(extended, days_left(due, today))


async def cases_of(
    uow: UnitOfWork, member: StaffMember, policy: Policy, *, today: date, zone: tzinfo
) -> MyCases:
    """What ``/appeal`` lists for ``member``."""
    own = (await uow.appeals.of_person(member.id))[:LISTED]
    reports = (
        await uow.appeals.of_reports(member.id, LISTED) if member.has(Role.SUPERVISOR) else []
    )
    # The head (an administrator) oversees every open case; others those they decide.
    kinds = [
        kind for kind in KINDS if member.has(decider_roles(policy, kind)) or member.has(Role.ADMIN)
    ]
    to_decide = [
        case
        for case in (await uow.appeals.open_cases(kinds, LISTED) if kinds else [])
        if case.staff_id != member.id
    ]
    latest = latest_appeal = None
    published = await uow.results.published(member.id, limit=1)
    if published:
        period_id = published[0].period_id
        for kind in KINDS:
            opened = await window(uow, member, period_id, kind, policy, today=today, zone=zone)
            if isinstance(opened, Window):
                if kind == REVIEW:
                    latest = opened
                else:
                    latest_appeal = opened
    return MyCases(own, reports, to_decide, latest, latest_appeal)


UnitsOfWork = Callable[[], UnitOfWork]


async def run_clocks(
    uows: UnitsOfWork, policy: Policy, notices: Notices, *, today: date, now: datetime
) -> int:
    """Remind the deciders of cases nearing their last day (``remind_days_before`` days
    before it, and on it) and escalate cases past it to the administrators, each once per
    case and last day; the messages queued."""
    ahead = today + timedelta(days=policy.appeals.remind_days_before)
    queued = 0
    after = 0
    while True:
        async with uows() as uow:
            cases = await uow.appeals.due_by(ahead, after, _BATCH)
        if not cases:
            return queued
        after = cases[-1].id
        for case in cases:
            queued += await _tick(uows, policy, notices, case, today=today, now=now)


async def _tick(
    uows: UnitsOfWork,
    policy: Policy,
    notices: Notices,
    case: CaseRow,
    *,
    today: date,
    now: datetime,
) -> int:
    left = days_left(case.due_on, today)
    if left < 0:
        step, roles = "overdue", Role.ADMIN | decider_roles(policy, case.kind)
    elif left == 0:
        step, roles = "last-day", decider_roles(policy, case.kind)
    else:
        step, roles = "due-soon", decider_roles(policy, case.kind)
    key = f"appeal-clock/{case.id}/{case.due_on.isoformat()}/{step}"
    async with uows() as uow:
        # Overdue cases come up at every tick: a read, not a write, once they were told.
        if await uow.claims.claimed(key):
            return 0
    async with uows() as uow:
        # The claim first (a transaction that read first cannot wait on SQLite).
        if not await uow.claims.claim(key, now):
            return 0
        render = notices.overdue if step == "overdue" else notices.reminder
        messages = [
            render(recipient, case, today)
            for recipient in await uow.appeals.deciders(roles)
            if recipient.staff_id != case.staff_id
        ]
        count = await enqueue(uow, messages, now=now)
        await uow.commit()
    return count
