"""The clocks of a review (复核) and an appeal (申诉), and the quota on a changed grade.

Pure rules: no database, no Telegram.

**Windows are calendar days as the law counts them.** The day of the event (the result
published, the review decided, the request made) is not counted; the window starts the
next day and its last day is included: ``N`` days from 30 November end on 30 December,
and a request on that day is in time. ``last_day`` is the one definition every clock
uses. The count runs through weekends and holidays alike, and **a window whose last
day is a holiday still ends that day** (the policy's windows are generous and the bot
accepts requests on any day, so nobody is kept from filing on a holiday; the procedural
laws' rule of moving the end to the next workday is not applied, which never shortens a
window by more than that holiday).

**"Learning the result" is its publication**: the day the person's score was
published and its notice queued, in the organisation's time zone. Not the moment they
pressed "I have read it": that is optional, and a window that started only when the
person chose to press would be theirs to lengthen at will.

A review must be asked within ``review_request_days`` of the publication; it is
decided within ``review_decision_days`` of the request. An appeal follows within
``appeal_request_days`` of the review's decision, or, with no review asked, directly
within ``appeal_direct_days`` of the publication; while a review is open, the appeal
waits for its decision. An appeal is decided within ``appeal_decision_days`` of its
request, extendable once by ``appeal_extension_days``.

**A changed grade respects the quota** (``grade_change``): the top grade only while the
scope's top grades, with this person, stay within ``grading.top_grade_cap``; the wider
share (``with_approval_max_share``) counts only where an administrator approved it for
that period and scope (``assessment.quota``), never on the decider's word alone.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from assessment.grading import top_grade_cap
from config.policy import AppealWindows, Policy

__all__ = [
    "APPEAL",
    "REVIEW",
    "GradeCheck",
    "ScopeGrades",
    "days_left",
    "decision_due",
    "grade_change",
    "last_day",
    "request_due",
]

REVIEW = "review"
APPEAL = "appeal"


def last_day(start: date, days: int) -> date:
    """The last day of a window of ``days`` calendar days after ``start`` (not counted)."""
    return start + timedelta(days=days)


def days_left(last: date, today: date) -> int:
    """Whole days from ``today`` to the window's last day: 0 on the last day itself,
    negative once it has passed."""
    return (last - today).days


def request_due(
    windows: AppealWindows,
    kind: str,
    *,
    published_on: date,
    review_decided_on: date | None = None,
) -> date:
    """The last day to ask for a review, or to appeal (after the review's decision where
    there was a review, else directly from the publication)."""
    if kind == REVIEW:
        return last_day(published_on, windows.review_request_days)
    if review_decided_on is not None:
        return last_day(review_decided_on, windows.appeal_request_days)
    return last_day(published_on, windows.appeal_direct_days)


def decision_due(
    windows: AppealWindows, kind: str, *, requested_on: date, extended: bool = False
) -> date:
    """The last day to decide a case asked on ``requested_on`` (an appeal, once extended,
    ``appeal_extension_days`` later)."""
    if kind == REVIEW:
        return last_day(requested_on, windows.review_decision_days)
    due = last_day(requested_on, windows.appeal_decision_days)
    return last_day(due, windows.appeal_extension_days) if extended else due


class GradeCheck(enum.StrEnum):
    """Whether a decider may give a grade on review or appeal."""

    ALLOWED = "allowed"
    UNKNOWN_GRADE = "unknown_grade"
    DISQUALIFIED = "disqualified"  # a disqualifying fact bars the top grade
    OVER_QUOTA = "over_quota"  # beyond even the wider share
    NEEDS_APPROVAL = "needs_approval"  # within the wider share, which nobody approved


@dataclass(frozen=True, slots=True)
class ScopeGrades:
    """A quota scope's people counted (scored, not excluded) and the grade each holds."""

    grades: Mapping[int, str]
    approved: bool  # an administrator approved the wider share for this scope and period


def grade_change(
    policy: Policy, scope: ScopeGrades, staff_id: int, grade_id: str, *, disqualified: bool
) -> GradeCheck:
    """Whether ``staff_id`` may be given ``grade_id``, the rest of the scope as it is."""
    if not any(grade.id == grade_id for grade in policy.grades):
        return GradeCheck.UNKNOWN_GRADE
    top = policy.top_grade.id
    if grade_id != top:
        return GradeCheck.ALLOWED  # only the top grade is capped
    if disqualified:
        return GradeCheck.DISQUALIFIED
    people = len(scope.grades) + (0 if staff_id in scope.grades else 1)
    holders = sum(1 for who, grade in scope.grades.items() if grade == top and who != staff_id)
    if holders + 1 <= top_grade_cap(policy, people):
        return GradeCheck.ALLOWED
    wider = policy.quota.with_approval_max_share is not None
    if wider and holders + 1 <= top_grade_cap(policy, people, approved=True):
        return GradeCheck.ALLOWED if scope.approved else GradeCheck.NEEDS_APPROVAL
    return GradeCheck.OVER_QUOTA
