"""The bonus arithmetic, pure: a person's bonus, a pool's shares, a correction's difference.

**Formula** (``[bonus] mode = "formula"``)::

    bonus = base x grade coefficient x post difficulty + allowances

in ``Decimal``, exact until the one rounding at the end, to ``[bonus] rounding`` the
policy's way (``BonusRule.round_money``). Allowances are whole rounding steps already
(the policy checks), so rounding the sum rounds the product alone.

**Pool** (``mode = "pool"``): HR gives the period's total. The allowances come off the
top; the rest is shared in proportion to ``grade coefficient x post difficulty``. The
shares must add up to the pool exactly, so no rounding mode can do: each exact share is
rounded *down* to the step, and the steps left over (fewer than there are people) go one
each to the largest remainders. Ties between equal remainders go to the lower employee
number (compared as text, as it is stored): one stated rule, so the same people with the
same results always get the same cents, in whatever order they come.

The arithmetic is on integers of rounding steps, which is what lets the store do the same
in SQL on every engine (``storage.repositories.bonus``), with no floating point anywhere:
``Units`` holds the scales both use.

A **correction** pays or recovers the difference between what a person is entitled to
now and what the runs published before paid them (``differences``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from config.policy import BonusRule, Policy

__all__ = [
    "DIFFICULTY_PLACES",
    "Line",
    "Person",
    "PoolError",
    "Units",
    "differences",
    "formula",
    "pool",
    "weight",
]

# posts.difficulty keeps three decimals (the roster refuses more).
DIFFICULTY_PLACES = 3


class PoolError(enum.StrEnum):
    """Why a pool cannot be shared."""

    NOT_A_STEP = "not_a_step"  # the total is not a whole number of rounding steps
    NEGATIVE = "negative"
    ALLOWANCES_EXCEED = "allowances_exceed"  # the allowances alone are more than the pool
    NOBODY_WEIGHTED = "nobody_weighted"  # something to share, but every weight is 0


@dataclass(frozen=True, slots=True)
class Person:
    """One person of a run: their published grade, their post's difficulty and the
    allowances assigned to them for the period (a whole number of rounding steps)."""

    staff_id: int
    employee_no: str
    grade_id: str
    difficulty: Decimal
    allowances: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class Line:
    """What a person is paid and the factors that produced it: ``share`` is
    base x coefficient x difficulty (formula) or their share of the pool, rounded;
    ``amount`` adds the allowances."""

    staff_id: int
    employee_no: str
    grade_id: str
    coefficient: Decimal
    difficulty: Decimal
    allowances: Decimal
    share: Decimal
    amount: Decimal


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int), "policy numbers are finite"
    return max(0, -exponent)


@dataclass(frozen=True, slots=True)
class Units:
    """The integer scales of a policy's bonus arithmetic.

    Money is counted in rounding steps (``step``: fen for "0.01"); a coefficient times
    ``10 ** coefficient_places`` and a difficulty times ``10 ** DIFFICULTY_PLACES`` are
    whole numbers, so a weight (coefficient x difficulty) is a whole number of
    ``10 ** -(coefficient_places + DIFFICULTY_PLACES)``.
    """

    step: Decimal
    coefficient_places: int

    @classmethod
    def of(cls, policy: Policy) -> Units:
        """The scales of ``policy``'s grades and rounding step."""
        places = max(_places(grade.coefficient) for grade in policy.grades)
        return cls(policy.bonus.rounding, places)

    def money(self, amount: Decimal) -> int:
        """An amount that is a whole number of steps, as that number."""
        units = amount / self.step
        if units != units.to_integral_value():
            raise ValueError(f"{amount} is not a whole number of {self.step}")
        return int(units)

    def amount(self, units: int) -> Decimal:
        """A number of steps as money, with the step's places (``1380.00``)."""
        return (Decimal(units) * self.step).quantize(self.step)

    def coefficient(self, value: Decimal) -> int:
        """A grade coefficient as a whole number of its scale."""
        return int(value.scaleb(self.coefficient_places))

    def difficulty(self, value: Decimal) -> int:
        """A post difficulty as a whole number of thousandths.

        Raises:
            ValueError: It has more than three decimals (the store keeps three).
        """
        scaled = value.scaleb(DIFFICULTY_PLACES)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"a difficulty keeps {DIFFICULTY_PLACES} decimals (got {value})")
        return int(scaled)


def weight(policy: Policy, person: Person) -> Decimal:
    """What a person's share of a pool is proportional to: coefficient x difficulty."""
    return policy.grade(person.grade_id).coefficient * person.difficulty


def _line(policy: Policy, person: Person, share: Decimal) -> Line:
    return Line(
        person.staff_id,
        person.employee_no,
        person.grade_id,
        policy.grade(person.grade_id).coefficient,
        person.difficulty,
        person.allowances,
        share,
        share + person.allowances,
    )


def _in_order(people: Iterable[Person]) -> list[Person]:
    # Employee numbers are unique: the order of the lines is the people's, whatever came in.
    return sorted(people, key=lambda person: person.employee_no)


def formula(people: Iterable[Person], policy: Policy) -> list[Line]:
    """Each person's bonus by the formula, rounded once; lines by employee number.

    Raises:
        KeyError: A person's grade is not in the policy.
    """
    rule: BonusRule = policy.bonus
    return [
        _line(policy, person, rule.round_money(rule.base * weight(policy, person)))
        for person in _in_order(people)
    ]


def pool(people: Iterable[Person], total: Decimal, policy: Policy) -> list[Line] | PoolError:
    """The pool ``total`` shared out, allowances first; lines by employee number.

    The amounts add up to ``total`` exactly; none is negative.

    Raises:
        KeyError: A person's grade is not in the policy.
    """
    units = Units.of(policy)
    if total < 0:
        return PoolError.NEGATIVE
    try:
        total_units = units.money(total)
    except ValueError:
        return PoolError.NOT_A_STEP
    ordered = _in_order(people)
    rest = total_units - sum(units.money(person.allowances) for person in ordered)
    if rest < 0:
        return PoolError.ALLOWANCES_EXCEED
    weights = [
        units.coefficient(policy.grade(person.grade_id).coefficient)
        * units.difficulty(person.difficulty)
        for person in ordered
    ]
    whole = sum(weights)
    if whole == 0:
        if rest:
            return PoolError.NOBODY_WEIGHTED
        return [_line(policy, person, units.amount(0)) for person in ordered]
    shares = [rest * w // whole for w in weights]
    left = rest - sum(shares)
    # The largest remainders first; among equals, the lower employee number (the order
    # the people are in already, which sorted() keeps for equal keys).
    by_remainder = sorted(range(len(ordered)), key=lambda i: -(rest * weights[i] % whole))
    for index in by_remainder[:left]:
        shares[index] += 1
    return [
        _line(policy, person, units.amount(share))
        for person, share in zip(ordered, shares, strict=True)
    ]


def differences(
    entitled: Sequence[Line], paid: Mapping[int, Decimal]
) -> dict[int, tuple[Decimal, Decimal]]:
    """What a correction pays (positive) or recovers (negative): per staff id, what was
    paid before and the difference. Everyone paid before and no longer entitled (their
    result withdrawn) gives back everything; nobody whose amount is unchanged appears."""
    found: dict[int, tuple[Decimal, Decimal]] = {}
    now = {line.staff_id: line.amount for line in entitled}
    for staff_id in sorted(now.keys() | paid.keys()):
        before = paid.get(staff_id, Decimal(0))
        change = now.get(staff_id, Decimal(0)) - before
        if change:
            found[staff_id] = (before, change)
    return found
