"""The quota's wider share with approval: its cap, per scope, and its withdrawal."""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from assessment.grading import (
    ORGANISATION,
    ScopeKey,
    Scored,
    approval_from,
    assign_grades,
    calibration_problems,
    quota_status,
    scope_key,
    scope_of,
    top_grade_cap,
    withdrawal_problems,
)
from config.policy import QUARTERLY_POLICY_PATH, Policy, load_policy

D = Decimal
DEFAULT = load_policy()  # 20%, 25% with approval, counted down, per department
QUARTERLY = load_policy(QUARTERLY_POLICY_PATH)  # no wider share


def _organisation_wide(policy: Policy) -> Policy:
    return policy.model_copy(
        update={"quota": policy.quota.model_copy(update={"scope": "organisation"})}
    )


def test_the_cap_is_the_share_counted_down_and_wider_with_approval() -> None:
    assert [top_grade_cap(DEFAULT, n) for n in (0, 3, 4, 5, 9, 20)] == [0, 0, 0, 1, 1, 4]
    assert [top_grade_cap(DEFAULT, n, approved=True) for n in (0, 3, 4, 5, 9, 20)] == [
        0, 0, 1, 1, 2, 5,
    ]  # fmt: skip
    # A policy without a wider share: approval changes nothing.
    assert QUARTERLY.quota.with_approval_max_share is None
    assert [top_grade_cap(QUARTERLY, n, approved=True) for n in (5, 10)] == [
        top_grade_cap(QUARTERLY, n) for n in (5, 10)
    ]


def test_stored_scope_keys_read_back() -> None:
    assert scope_key(12) == "12" and scope_key(ORGANISATION) == "organisation"
    assert approval_from(["12", "organisation"]) == {12: True, ORGANISATION: True}
    assert approval_from([]) == {}


def test_an_approval_for_one_department_leaves_the_other_as_it_was() -> None:
    # Four people in each department: 20% of 4 is no place; 25% of 4 is one.
    north = [Scored(i, 1, D(95 - i)) for i in range(1, 5)]
    south = [Scored(i, 2, D(105 - i)) for i in range(11, 15)]
    grades = assign_grades(DEFAULT, north + south, with_approval={1: True})
    assert grades[1].grade_id == "excellent" and not grades[1].capped
    assert grades[2].grade_id == "good" and grades[2].capped
    assert grades[11].grade_id == "good" and grades[11].capped
    assert quota_status(DEFAULT, north, with_approval=True).left == 0
    assert quota_status(DEFAULT, south).cap == 0


def _four() -> list[Scored]:
    return [Scored(1, 1, D(92)), Scored(2, 1, D(91)), Scored(3, 1, D(85)), Scored(4, 1, D(72))]


def test_withdrawal_is_refused_while_calibration_needs_the_wider_share() -> None:
    people = _four()
    # HR calibrated someone to the top grade: under 20% of four there is no place.
    [problem] = withdrawal_problems(DEFAULT, people, {1: "excellent"})
    assert (problem.kind, problem.scope, problem.cap, problem.staff_ids) == (
        "over_quota", 1, 0, (1,),
    )  # fmt: skip
    # Only the computed grade used the wider share: withdrawn, it is given afresh.
    assert withdrawal_problems(DEFAULT, people, {}) == ()
    assert withdrawal_problems(DEFAULT, people, {1: "good", 2: "competent"}) == ()


def test_withdrawal_counts_calibrated_and_fresh_top_grades_together() -> None:
    # Ten people, two places under 20%: calibration gave a third person the top grade
    # while two reach it by score.
    people = [Scored(i, 1, D(99 - i)) for i in range(1, 3)] + [
        Scored(i, 1, D(80)) for i in range(3, 11)
    ]
    assert withdrawal_problems(DEFAULT, people, {3: "excellent"})[0].cap == 2
    # With one of the two calibrated down, two top grades in two places.
    assert withdrawal_problems(DEFAULT, people, {3: "excellent", 2: "good"}) == ()


_scores = st.decimals(min_value=0, max_value=100, places=2)


@st.composite
def _people(draw: st.DrawFn) -> list[Scored]:
    rows = draw(st.lists(st.tuples(st.integers(1, 4), _scores, st.booleans()), max_size=40))
    return [
        Scored(index + 1, department, D(value), disqualified=barred)
        for index, (department, value, barred) in enumerate(rows)
    ]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([DEFAULT, _organisation_wide(DEFAULT), QUARTERLY]),
    _people(),
    st.sets(st.sampled_from([1, 2, 3, 4, ORGANISATION])),
)
def test_never_more_top_grades_than_the_applicable_share(
    policy: Policy, people: list[Scored], approved_scopes: set[ScopeKey]
) -> None:
    approval = {scope: True for scope in approved_scopes}
    result = assign_grades(policy, people, with_approval=approval)
    quota = policy.quota
    scopes: dict[ScopeKey, list[Scored]] = defaultdict(list)
    for person in people:
        scopes[scope_of(policy, person.department_id)].append(person)
    for scope, group in scopes.items():
        share = quota.top_grade_max_share
        if scope in approved_scopes and quota.with_approval_max_share is not None:
            share = quota.with_approval_max_share
        top = Counter(result[p.staff_id].grade_id for p in group)[policy.top_grade.id]
        # The share itself, not the cap: whatever the rounding, never beyond it when
        # counted down, and never beyond the rounded-up head count otherwise.
        if quota.count_rounding == "down":
            assert top <= share * len(group), (scope, top, share, len(group))
        assert top <= top_grade_cap(policy, len(group), approved=scope in approved_scopes)
        status = quota_status(policy, group, with_approval=scope in approved_scopes)
        assert status.taken == top and status.left >= 0
    grades = {staff_id: a.grade_id for staff_id, a in result.items()}
    assert calibration_problems(policy, people, grades, with_approval=approval) == ()
    # Withdrawing every approval with no calibration is always possible: the grades are
    # simply given afresh under the ordinary share.
    for group in scopes.values():
        assert withdrawal_problems(policy, group, {}) == ()
