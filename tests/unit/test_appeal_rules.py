"""The review and appeal clocks on hand-worked dates, and the quota on a changed grade."""

from __future__ import annotations

from datetime import date

import pytest

from assessment.appeal_rules import (
    APPEAL,
    REVIEW,
    GradeCheck,
    ScopeGrades,
    days_left,
    decision_due,
    grade_change,
    last_day,
    request_due,
)
from config.policy import Policy, load_policy

DEFAULT = load_policy()
WINDOWS = DEFAULT.appeals  # 30 / 30, 15 / 30 direct, 60 + 30


@pytest.mark.parametrize(
    ("start", "days", "last"),
    [
        # The day of the event is not counted: 30 days from 9 December end on 8 January.
        (date(2026, 12, 9), 30, date(2027, 1, 8)),
        # Month ends: from 31 January through a 28-day February.
        (date(2027, 1, 31), 30, date(2027, 3, 2)),
        # The same in a leap year: 29 February is a day like any other.
        (date(2028, 1, 31), 30, date(2028, 3, 1)),
        (date(2028, 2, 14), 15, date(2028, 2, 29)),
        (date(2027, 2, 14), 15, date(2027, 3, 1)),
        # Across the year end.
        (date(2026, 12, 31), 30, date(2027, 1, 30)),
        # Ending on a holiday (National Day, 1 October): it still ends that day.
        (date(2027, 9, 1), 30, date(2027, 10, 1)),
        # Ending on a Sunday: the same.
        (date(2027, 1, 1), 30, date(2027, 1, 31)),
    ],
)
def test_a_window_ends_on_its_last_calendar_day(start: date, days: int, last: date) -> None:
    assert last_day(start, days) == last


def test_days_left_counts_the_last_day_as_still_open() -> None:
    last = date(2027, 1, 8)
    assert days_left(last, date(2027, 1, 7)) == 1
    assert days_left(last, date(2027, 1, 8)) == 0, "the last day is included"
    assert days_left(last, date(2027, 1, 9)) == -1, "one day late"


def test_the_request_windows_follow_the_policy() -> None:
    published = date(2026, 12, 9)
    assert request_due(WINDOWS, REVIEW, published_on=published) == date(2027, 1, 8)
    # Directly, without a review: 30 days from the publication.
    assert request_due(WINDOWS, APPEAL, published_on=published) == date(2027, 1, 8)
    # After a review decided on 20 December: 15 days from the decision, not the result.
    after = request_due(
        WINDOWS, APPEAL, published_on=published, review_decided_on=date(2026, 12, 20)
    )
    assert after == date(2027, 1, 4)
    # A review decided late leaves 15 days from its decision, past the direct window.
    late = request_due(WINDOWS, APPEAL, published_on=published, review_decided_on=date(2027, 1, 5))
    assert late == date(2027, 1, 20)


def test_the_decision_windows_and_the_one_extension() -> None:
    asked = date(2026, 12, 31)
    assert decision_due(WINDOWS, REVIEW, requested_on=asked) == date(2027, 1, 30)
    # 60 days from 31 December: 31 in January, 28 in February, then 1 March.
    assert decision_due(WINDOWS, APPEAL, requested_on=asked) == date(2027, 3, 1)
    assert decision_due(WINDOWS, APPEAL, requested_on=asked, extended=True) == date(2027, 3, 31)
    leap = date(2027, 12, 31)
    assert decision_due(WINDOWS, APPEAL, requested_on=leap) == date(2028, 2, 29)


def _scope(*grades: str, approved: bool = False) -> ScopeGrades:
    return ScopeGrades({staff: grade for staff, grade in enumerate(grades, start=1)}, approved)


def _organisation(policy: Policy, *, wider: bool) -> Policy:
    quota = policy.quota.model_copy(
        update={
            "with_approval_max_share": DEFAULT.quota.with_approval_max_share if wider else None
        }
    )
    return policy.model_copy(update={"quota": quota})


def test_a_changed_grade_below_the_top_is_never_capped() -> None:
    scope = _scope("excellent", "good", "good", "good", "good")
    assert grade_change(DEFAULT, scope, 2, "competent", disqualified=False) is GradeCheck.ALLOWED
    assert grade_change(DEFAULT, scope, 2, "nonsense", disqualified=False) is (
        GradeCheck.UNKNOWN_GRADE
    )


def test_the_top_grade_on_review_takes_a_free_place_only() -> None:
    # Five people: 20% is one place, taken by person 1.
    full = _scope("excellent", "good", "good", "good", "good")
    assert grade_change(DEFAULT, full, 2, "excellent", disqualified=False) is (
        GradeCheck.OVER_QUOTA
    ), "25% of five is still one: even approval would not help"
    # Person 1 keeps their own place when their grade is looked at again.
    assert grade_change(DEFAULT, full, 1, "excellent", disqualified=False) is GradeCheck.ALLOWED
    free = _scope("good", "good", "good", "good", "good")
    assert grade_change(DEFAULT, free, 2, "excellent", disqualified=False) is GradeCheck.ALLOWED
    assert grade_change(DEFAULT, free, 2, "excellent", disqualified=True) is (
        GradeCheck.DISQUALIFIED
    )


def test_the_wider_share_counts_only_once_approved() -> None:
    # Four people: 20% of four is none, 25% is one.
    four = ("good", "good", "good", "competent")
    assert grade_change(DEFAULT, _scope(*four), 1, "excellent", disqualified=False) is (
        GradeCheck.NEEDS_APPROVAL
    )
    assert (
        grade_change(DEFAULT, _scope(*four, approved=True), 1, "excellent", disqualified=False)
        is GradeCheck.ALLOWED
    )
    # With the one wider place taken, a second is over the quota even with approval.
    taken = _scope("excellent", "good", "good", "competent", approved=True)
    assert grade_change(DEFAULT, taken, 2, "excellent", disqualified=False) is (
        GradeCheck.OVER_QUOTA
    )
    # A policy with no wider share: over the quota, nothing to approve.
    strict = _organisation(DEFAULT, wider=False)
    assert grade_change(strict, _scope(*four), 1, "excellent", disqualified=False) is (
        GradeCheck.OVER_QUOTA
    )


def test_someone_outside_the_counted_scope_adds_to_its_size() -> None:
    # Four counted with a free wider place; a fifth person (not yet counted) makes 20%
    # of five one place, so the grade is allowed without approval.
    scope = _scope("good", "good", "good", "good")
    assert grade_change(DEFAULT, scope, 99, "excellent", disqualified=False) is (
        GradeCheck.ALLOWED
    )
