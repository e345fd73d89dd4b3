"""The bonus arithmetic on hand-worked examples, and pool mode's properties.

The default policy: base 1000.00 CNY to the fen, half up; coefficients Excellent 1.2,
Good 1.1, Competent 1.0, Basically competent 0.8, Incompetent 0.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assessment.bonus_rules import Line, Person, PoolError, Units, differences, formula, pool
from config.policy import Policy, load_policy

POLICY = load_policy()
D = Decimal


def person(
    number: str, grade: str, difficulty: str = "1", allowances: str = "0", staff_id: int = 0
) -> Person:
    return Person(staff_id or int(number[1:]), number, grade, D(difficulty), D(allowances))


def amounts(lines: list[Line] | PoolError) -> dict[str, Decimal]:
    assert not isinstance(lines, PoolError), lines
    return {line.employee_no: line.amount for line in lines}


def with_base(policy: Policy, base: str, mode: str = "half_up") -> Policy:
    bonus = policy.bonus.model_copy(update={"base": D(base), "rounding_mode": mode})
    return policy.model_copy(update={"bonus": bonus})


# --------------------------------------------------------------------------- the formula


def test_formula_is_base_times_coefficient_times_difficulty_plus_allowances() -> None:
    lines = formula(
        [
            person("E1", "excellent", "1.15"),  # 1000 x 1.2 x 1.15 = 1380
            person("E2", "good", "1.15", "300.00"),  # 1000 x 1.1 x 1.15 + 300 = 1565
            person("E3", "basically_competent", "1.333"),  # 1000 x 0.8 x 1.333 = 1066.4
        ],
        POLICY,
    )
    assert amounts(lines) == {"E1": D("1380.00"), "E2": D("1565.00"), "E3": D("1066.40")}
    second = lines[1]
    assert (second.coefficient, second.difficulty, second.allowances, second.share) == (
        D("1.1"),
        D("1.15"),
        D("300.00"),
        D("1265.00"),
    )
    # To the fen, with the step's two places even for round sums.
    assert str(lines[0].amount) == "1380.00"


def test_formula_rounds_once_at_the_end_the_policys_way() -> None:
    # 333.33 x 1.2 x 1.005 = 401.99598 (half up: 402.00); 333.33 x 1.0 x 1.0015 = 333.829995.
    people = [person("E1", "excellent", "1.005"), person("E2", "competent", "1.0015")]
    assert amounts(formula(people, with_base(POLICY, "333.33"))) == {
        "E1": D("402.00"),
        "E2": D("333.83"),
    }
    # 0.125 x 1.0 x 1 to the fen: 0.13 half up, 0.12 half even, 0.12 down.
    one = [person("E1", "competent")]
    assert amounts(formula(one, with_base(POLICY, "0.125"))) == {"E1": D("0.13")}
    assert amounts(formula(one, with_base(POLICY, "0.125", "half_even"))) == {"E1": D("0.12")}
    assert amounts(formula(one, with_base(POLICY, "0.125", "down"))) == {"E1": D("0.12")}
    assert amounts(formula(one, with_base(POLICY, "0.121", "up"))) == {"E1": D("0.13")}


def test_a_zero_coefficient_grade_earns_only_its_allowances() -> None:
    lines = formula(
        [person("E1", "incompetent", "1.4"), person("E2", "incompetent", "1.4", "500.00")], POLICY
    )
    assert amounts(lines) == {"E1": D("0.00"), "E2": D("500.00")}


# --------------------------------------------------------------------------- the pool


def test_a_pool_that_does_not_divide_evenly_gives_the_last_cent_to_the_largest_remainder() -> None:
    # Weights 1.2 : 1.1 : 1.0 of 1000.00 (100,000 fen, 3.3 in all):
    #   E1 36,363.63.. fen, E2 33,333.33.., E3 30,303.03..: rounded down 99,999 fen;
    #   the one fen left goes to the largest remainder, E1's .63.
    lines = pool(
        [person("E3", "competent"), person("E1", "excellent"), person("E2", "good")],
        D("1000.00"),
        POLICY,
    )
    assert amounts(lines) == {"E1": D("363.64"), "E2": D("333.33"), "E3": D("303.03")}
    assert sum(amounts(lines).values()) == D("1000.00")


def test_pool_ties_go_to_the_lower_employee_number_whatever_the_order() -> None:
    for people in (
        [person("E2", "good"), person("E1", "good")],
        [person("E1", "good"), person("E2", "good")],
    ):
        assert amounts(pool(people, D("100.01"), POLICY)) == {
            "E1": D("50.01"),
            "E2": D("50.00"),
        }


def test_pool_allowances_come_off_the_top_and_zero_coefficients_share_nothing() -> None:
    lines = pool(
        [
            person("E1", "excellent", "1.2"),
            person("E2", "incompetent", "1.5", "300.00"),
            person("E3", "good", "1", "200.00"),
        ],
        D("2000.00"),
        POLICY,
    )
    # 1500.00 shared 1.44 : 0 : 1.1 (2.54): E1 850.393.. -> 850.39, E3 649.606.. -> 649.61.
    assert amounts(lines) == {"E1": D("850.39"), "E2": D("300.00"), "E3": D("849.61")}
    assert not isinstance(lines, PoolError)
    assert [line.share for line in lines] == [
        D("850.39"),
        D("0.00"),
        D("649.61"),
    ]


def test_pools_that_cannot_be_shared() -> None:
    two = [person("E1", "good", allowances="300.00"), person("E2", "incompetent")]
    assert pool(two, D("200.00"), POLICY) is PoolError.ALLOWANCES_EXCEED
    assert pool(two, D("1000.005"), POLICY) is PoolError.NOT_A_STEP
    assert pool(two, D("-1"), POLICY) is PoolError.NEGATIVE
    nobody = [person("E1", "incompetent"), person("E2", "incompetent", allowances="10.00")]
    assert pool(nobody, D("100.00"), POLICY) is PoolError.NOBODY_WEIGHTED
    # Exactly the allowances: nothing to share, which is fine.
    assert amounts(pool(nobody, D("10.00"), POLICY)) == {"E1": D("0.00"), "E2": D("10.00")}


# --------------------------------------------------------------------------- corrections


def test_a_correction_pays_or_recovers_the_difference() -> None:
    # Run 1 paid E1 1380.00 (excellent), E2 1265.00 (good) and E3 1000.00. An appeal then
    # made E2 excellent, and E3's result was withdrawn.
    now = formula([person("E1", "excellent", "1.15"), person("E2", "excellent", "1.15")], POLICY)
    paid = {1: D("1380.00"), 2: D("1265.00"), 3: D("1000.00")}
    assert differences(now, paid) == {
        2: (D("1265.00"), D("115.00")),
        3: (D("1000.00"), D("-1000.00")),
    }
    # Run 1 again: nothing to correct.
    assert differences(now, {1: D("1380.00"), 2: D("1380.00")}) == {}


def test_units_are_whole_steps() -> None:
    units = Units.of(POLICY)
    assert (units.step, units.coefficient_places) == (D("0.01"), 1)
    assert units.money(D("1380.00")) == 138000
    assert str(units.amount(138000)) == "1380.00"
    assert units.difficulty(D("1.15")) == 1150
    with pytest.raises(ValueError, match="decimals"):
        units.difficulty(D("1.0001"))


# --------------------------------------------------------------------------- properties

GRADES = [grade.id for grade in POLICY.grades]
ALLOWANCES = [D(0), *(allowance.amount for allowance in POLICY.bonus.allowances.values())]

people_lists = st.lists(
    st.tuples(
        st.sampled_from(GRADES),
        st.integers(min_value=0, max_value=5000).map(lambda n: D(n).scaleb(-3)),
        st.sampled_from(ALLOWANCES),
    ),
    min_size=1,
    max_size=40,
).map(
    lambda rows: [
        Person(index + 1, f"E{index * 7919 % 1000:04d}-{index}", grade, difficulty, allowance)
        for index, (grade, difficulty, allowance) in enumerate(rows)
    ]
)


@settings(max_examples=300, deadline=None)
@given(people=people_lists, extra=st.integers(min_value=0, max_value=10**9), data=st.data())
def test_pool_shares_sum_to_the_pool_none_negative_order_free(
    people: list[Person], extra: int, data: st.DataObject
) -> None:
    allowances = sum((p.allowances for p in people), D(0))
    total = allowances + Units.of(POLICY).amount(extra)
    lines = pool(people, total, POLICY)
    if not any(POLICY.grade(p.grade_id).coefficient * p.difficulty for p in people):
        # Nothing to share it by: refused, unless there is nothing to share.
        assert lines is PoolError.NOBODY_WEIGHTED if extra else not isinstance(lines, PoolError)
        return
    assert not isinstance(lines, PoolError)
    assert sum(line.amount for line in lines) == total
    assert all(line.share >= 0 and line.amount >= line.allowances for line in lines)
    # Each share is within one step of its exact share of what is left.
    rest = total - allowances
    weights = {p.staff_id: POLICY.grade(p.grade_id).coefficient * p.difficulty for p in people}
    whole = sum(weights.values())
    for line in lines:
        exact = rest * weights[line.staff_id] / whole
        assert abs(line.share - exact) < POLICY.bonus.rounding
    shuffled = data.draw(st.permutations(people))
    assert pool(shuffled, total, POLICY) == lines


@settings(max_examples=100, deadline=None)
@given(people=people_lists, data=st.data())
def test_formula_does_not_depend_on_order(people: list[Person], data: st.DataObject) -> None:
    lines = formula(people, POLICY)
    assert all(line.amount >= line.allowances >= 0 for line in lines)
    assert formula(data.draw(st.permutations(people)), POLICY) == lines
