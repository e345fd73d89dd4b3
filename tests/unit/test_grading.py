"""Grades from scores: thresholds, the top-grade quota, ties, disqualification, calibration."""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assessment.grading import (
    ORGANISATION,
    Approval,
    CalibrationProblem,
    Scored,
    assign_grades,
    calibration_problems,
    quota_status,
    scope_of,
    settled_grades,
    top_places_left,
)
from config.policy import QUARTERLY_POLICY_PATH, Policy, load_policy

D = Decimal
DEFAULT = load_policy()
QUARTERLY = load_policy(QUARTERLY_POLICY_PATH)


def _organisation_wide(policy: Policy) -> Policy:
    return policy.model_copy(
        update={"quota": policy.quota.model_copy(update={"scope": "organisation"})}
    )


def _department(*scores: str, department_id: int = 1, first_id: int = 1) -> list[Scored]:
    """People of one department with the given scores, padded with 50s to ten people."""
    padded = list(scores) + ["50"] * (10 - len(scores))
    return [
        Scored(first_id + index, department_id, D(value)) for index, value in enumerate(padded)
    ]


def _grades(
    policy: Policy, people: list[Scored], *, with_approval: Approval = False
) -> dict[int, str]:
    result = assign_grades(policy, people, with_approval=with_approval)
    return {staff_id: assignment.grade_id for staff_id, assignment in result.items()}


@pytest.mark.parametrize(
    ("value", "grade_id"),
    [
        ("100", "excellent"),
        ("90.00", "excellent"),
        ("89.99", "good"),
        ("80", "good"),
        ("79.99", "competent"),
        ("70", "competent"),
        ("69.99", "basically_competent"),
        ("60", "basically_competent"),
        ("59.99", "incompetent"),
        ("0", "incompetent"),
    ],
)
def test_each_threshold(value: str, grade_id: str) -> None:
    people = _department(value)
    assignment = assign_grades(DEFAULT, people)[1]
    assert (assignment.grade_id, assignment.by_score_grade_id) == (grade_id, grade_id)
    assert not assignment.capped
    assert not assignment.barred


def test_the_top_grade_is_capped_and_the_rest_drop_one_grade() -> None:
    # 20% of 10 people: 2 places.
    people = _department("95", "93", "91", "90")
    result = assign_grades(DEFAULT, people)
    assert [result[i].grade_id for i in (1, 2, 3, 4)] == ["excellent", "excellent", "good", "good"]
    assert [result[i].capped for i in (1, 2, 3, 4)] == [False, False, True, True]
    assert result[3].by_score_grade_id == "excellent"
    assert result[5].grade_id == "incompetent"


def test_people_tied_at_the_cut_off_who_do_not_all_fit_all_drop() -> None:
    people = _department("95", "92", "92", "91")
    result = assign_grades(DEFAULT, people)
    assert result[1].grade_id == "excellent"
    # Two people share 92 for the one place left: neither gets it, nor does the 91 below.
    assert [result[i].grade_id for i in (2, 3, 4)] == ["good", "good", "good"]
    assert all(result[i].capped for i in (2, 3, 4))
    assert top_places_left(DEFAULT, people) == 1


def test_people_tied_who_fit_all_get_the_top_grade() -> None:
    people = _department("92", "92", "91")
    result = assign_grades(DEFAULT, people)
    assert [result[i].grade_id for i in (1, 2, 3)] == ["excellent", "excellent", "good"]
    assert top_places_left(DEFAULT, people) == 0


def test_a_tie_is_on_the_rounded_score_as_shown() -> None:
    people = _department("92.00", "92.0", "92")
    assert [_grades(DEFAULT, people)[i] for i in (1, 2, 3)] == ["good", "good", "good"]


def test_a_disqualified_person_never_gets_the_top_grade_and_frees_the_place() -> None:
    people = _department("99", "95", "91")
    people[0] = Scored(1, 1, D(99), disqualified=True)
    result = assign_grades(DEFAULT, people)
    assert (result[1].grade_id, result[1].barred, result[1].capped) == ("good", True, False)
    assert result[1].by_score_grade_id == "excellent"
    assert [result[i].grade_id for i in (2, 3)] == ["excellent", "excellent"]
    assert top_places_left(DEFAULT, people) == 0


def test_a_small_department_may_have_no_top_place() -> None:
    people = [Scored(i, 1, D(95)) for i in range(1, 5)]  # 20% of 4, rounded down: 0
    assert set(_grades(DEFAULT, people).values()) == {"good"}
    assert quota_status(DEFAULT, people).cap == 0


def test_approval_widens_the_cap_per_scope() -> None:
    # 8 people: 20% is 1.6 (1 place); the approved 25% is 2.
    north = [Scored(i, 1, D(99 - i)) for i in range(1, 9)]
    south = [Scored(i, 2, D(99 - i + 10)) for i in range(11, 19)]
    everyone = north + south
    plain = _grades(DEFAULT, everyone)
    assert Counter(plain.values())["excellent"] == 2
    approved_everywhere = _grades(DEFAULT, everyone, with_approval=True)
    assert Counter(approved_everywhere.values())["excellent"] == 4
    north_only = _grades(DEFAULT, everyone, with_approval={1: True})
    assert [north_only[i] for i in (1, 2, 11, 12)] == [
        "excellent",
        "excellent",
        "excellent",
        "good",
    ]
    assert top_places_left(DEFAULT, north, with_approval=True) == 0
    # The quarterly preset has no approved exception: approval changes nothing.
    assert _grades(QUARTERLY, everyone, with_approval=True) == _grades(QUARTERLY, everyone)


def test_the_quota_per_department() -> None:
    # Each department of 10 has its own 2 places.
    people = _department("95", "94", "93", department_id=1) + _department(
        "99", "98", "97", department_id=2, first_id=101
    )
    grades = _grades(DEFAULT, people)
    assert [grades[i] for i in (1, 2, 3, 101, 102, 103)] == [
        "excellent",
        "excellent",
        "good",
        "excellent",
        "excellent",
        "good",
    ]
    assert {a.scope for a in assign_grades(DEFAULT, people).values()} == {1, 2}


def test_the_quota_across_the_organisation() -> None:
    policy = _organisation_wide(DEFAULT)
    people = _department("95", "94", "93", department_id=1) + _department(
        "99", "98", "97", department_id=2, first_id=101
    )
    # 20 people, 4 places, best first wherever they work.
    grades = _grades(policy, people)
    assert [i for i in sorted(grades) if grades[i] == "excellent"] == [1, 101, 102, 103]
    assert scope_of(policy, 2) == ORGANISATION
    assert top_places_left(policy, people) == 0


def test_the_quarterly_preset_allows_forty_percent() -> None:
    people = [Scored(i, 1, D(100 - i)) for i in range(1, 11)]
    assert Counter(_grades(QUARTERLY, people).values())["good"] == 4


def test_places_left_counts_one_scope_only() -> None:
    with pytest.raises(ValueError, match="2 quota scopes"):
        top_places_left(DEFAULT, [Scored(1, 1, D(95)), Scored(2, 2, D(95))])
    assert top_places_left(DEFAULT, []) == 0


def test_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="listed twice"):
        assign_grades(DEFAULT, [Scored(1, 1, D(95)), Scored(1, 2, D(90))])
    with pytest.raises(ValueError, match="from 0 to 100"):
        assign_grades(DEFAULT, [Scored(1, 1, D(101))])


# --- calibration ---------------------------------------------------------------------------


def test_calibration_within_the_quota_is_accepted() -> None:
    people = _department("95", "92", "92")
    grades = _grades(DEFAULT, people)
    assert calibration_problems(DEFAULT, people, grades) == ()
    # HR gives the free place to one of the tied people, with a reason: still within.
    grades[2] = "excellent"
    assert calibration_problems(DEFAULT, people, grades) == ()
    # Lowering anyone is always within the quota.
    grades[1] = "competent"
    assert calibration_problems(DEFAULT, people, grades) == ()


def test_calibration_beyond_the_quota_is_refused() -> None:
    people = _department("95", "92", "92")
    grades = _grades(DEFAULT, people) | {2: "excellent", 3: "excellent"}
    assert calibration_problems(DEFAULT, people, grades) == (
        CalibrationProblem("over_quota", 1, (1, 2, 3), cap=2),
    )
    assert calibration_problems(DEFAULT, people, grades, with_approval=True) == (
        CalibrationProblem("over_quota", 1, (1, 2, 3), cap=2),
    )


def test_calibration_problems_of_every_kind() -> None:
    people = _department("95")
    people[1] = Scored(2, 1, D(50), disqualified=True)
    grades = _grades(DEFAULT, people)
    grades[2] = "excellent"
    grades[3] = "outstanding"
    del grades[4]
    grades[999] = "good"
    assert calibration_problems(DEFAULT, people, grades) == (
        CalibrationProblem("unknown_person", None, (999,)),
        CalibrationProblem("missing", 1, (4,)),
        CalibrationProblem("unknown_grade", 1, (3,)),
        CalibrationProblem("disqualified", 1, (2,)),
    )


# --- properties ----------------------------------------------------------------------------

_scores = st.sampled_from(["100", "95", "92.5", "90", "89.99", "85", "75", "60", "10", "0"])


@st.composite
def _people(draw: st.DrawFn) -> list[Scored]:
    rows = draw(st.lists(st.tuples(st.integers(1, 4), _scores, st.booleans()), max_size=40))
    return [
        Scored(index + 1, department, D(value), disqualified=barred)
        for index, (department, value, barred) in enumerate(rows)
    ]


_policies = st.sampled_from(
    [DEFAULT, QUARTERLY, _organisation_wide(DEFAULT), _organisation_wide(QUARTERLY)]
)


@settings(max_examples=300, deadline=None)
@given(_policies, _people(), st.booleans(), st.randoms(use_true_random=False))
def test_grading_properties(
    policy: Policy, people: list[Scored], approval: bool, rng: object
) -> None:
    result = assign_grades(policy, people, with_approval=approval)
    assert set(result) == {person.staff_id for person in people}
    top = policy.top_grade.id
    scopes: dict[object, list[Scored]] = defaultdict(list)
    for person in people:
        scopes[scope_of(policy, person.department_id)].append(person)
    for scope, group in scopes.items():
        cap = policy.quota.max_top_grade(len(group), with_approval=approval)
        given_top = [p for p in group if result[p.staff_id].grade_id == top]
        assert len(given_top) <= cap, scope
        # Equal scores, equal grades; a better score never gets a worse grade.
        for a in group:
            for b in group:
                if a.disqualified or b.disqualified:
                    continue
                rank_a = policy.grade_rank(result[a.staff_id].grade_id)
                rank_b = policy.grade_rank(result[b.staff_id].grade_id)
                if a.score == b.score:
                    assert rank_a == rank_b
                elif a.score > b.score:
                    assert rank_a <= rank_b
        status = quota_status(policy, group, with_approval=approval)
        assert status.taken == len(given_top)
        assert status.left >= 0
    for person in people:
        assignment = result[person.staff_id]
        assert assignment.by_score_grade_id == policy.grade_for(person.score).id
        if person.disqualified:
            assert assignment.grade_id != top
        if assignment.grade_id != assignment.by_score_grade_id:
            assert assignment.by_score_grade_id == top
            assert assignment.grade_id == policy.grades[1].id
            assert assignment.capped != assignment.barred
    grades = {staff_id: a.grade_id for staff_id, a in result.items()}
    assert calibration_problems(policy, people, grades, with_approval=approval) == ()
    # Recomputing, or the same people in another order, gives the same grades.
    assert assign_grades(policy, people, with_approval=approval) == result
    shuffled = list(people)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    assert assign_grades(policy, shuffled, with_approval=approval) == result


@settings(max_examples=300, deadline=None)
@given(_policies, _people(), st.booleans())
def test_a_grade_settled_by_the_score_alone_is_the_one_assign_grades_gives(
    policy: Policy, people: list[Scored], approval: bool
) -> None:
    # A whole period's run stores these as it scores; the rest wait for everyone.
    result = assign_grades(policy, people, with_approval=approval)
    settled = settled_grades(policy)
    for person in people:
        grade = settled(person)
        reaches_top = policy.grade_for(person.score).id == policy.top_grade.id
        assert (grade is None) == reaches_top
        if grade is not None:
            assert grade == result[person.staff_id]


@settings(max_examples=300, deadline=None)
@given(_policies, _people(), st.booleans())
def test_the_unsettled_graded_with_the_settled_only_counted_get_what_everyone_graded_gives(
    policy: Policy, people: list[Scored], approval: bool
) -> None:
    # A whole period's run grades at its end only those whose grade waited, the people
    # it stored as it scored them counted in their scopes.
    result = assign_grades(policy, people, with_approval=approval)
    settled = settled_grades(policy)
    waiting = [person for person in people if settled(person) is None]
    counted = Counter(
        scope_of(policy, person.department_id) for person in people if settled(person)
    )
    alone = assign_grades(policy, waiting, with_approval=approval, also_counted=counted)
    assert alone == {person.staff_id: result[person.staff_id] for person in waiting}
