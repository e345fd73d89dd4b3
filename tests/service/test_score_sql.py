"""The store's SQL form of the formula (``storage.repositories.score_sql``) stores exactly
what the pure ``Scorer`` computes, on generated policies and facts, on SQLite and
PostgreSQL: the score to the last digit of its rounding, the grade, and a stored
breakdown that reads back as the facts it was computed from. And it leaves to Python
only whom it must: a person it does not store is near a rounding boundary, reaches the
top grade, has more than one points entry, or has facts the ``Scorer`` refuses."""

from __future__ import annotations

import math
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from assessment.grading import Scored, settled_grades
from assessment.period_scoring import (
    breakdown_of,
    facts_from_breakdown,
    facts_of,
    policy_fingerprint,
    scoring_plan,
)
from assessment.scoring import PeriodFacts, Scorer
from config.policy import Policy
from storage.engine import Database
from storage.enums import EntryStatus, RaterKind
from storage.models import (
    AssessmentPeriod,
    Department,
    PeriodReview,
    PeriodScore,
    Post,
    Rating,
    ScorePoint,
    Staff,
    WorkEntry,
)
from tests.service.properties import examples, run
from tests.service.test_period_scoring import (
    NOVEMBER,
    NOW,
    POLICY,
    entry,
    org,
    person,
    points,
    rating,
)

D = Decimal
MODES = ("half_up", "half_even", "down", "up")


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    """The default policy with its numbers drawn: the rounding, the limits, the peers'
    minimum, and each indicator's points, weight and (quantities) sum or mean."""
    decimals = draw(st.integers(0, 3))
    assessment = POLICY.assessment.model_copy(
        update={
            "score_rounding": D(1).scaleb(-decimals),
            "score_rounding_mode": draw(st.sampled_from(MODES)),
        }
    )
    check = POLICY.monthly_check.model_copy(
        update={
            "max_bonus_points": D(draw(st.integers(0, 40))) / 4,
            "max_deduction_points": D(draw(st.integers(0, 40))) / 4,
        }
    )
    peers = POLICY.peers.model_copy(update={"min_raters": draw(st.integers(2, 3))})
    indicators = {}
    for post_type, items in POLICY.indicators.items():
        changed = []
        for item in items:
            update: dict[str, Any] = {
                "points": D(draw(st.integers(1, 40))) / 8,
                "weight": D(draw(st.integers(1, 9))) / 10,
            }
            if item.kind == "quantitative":
                update["quantity_aggregate"] = draw(st.sampled_from(("sum", "mean")))
            changed.append(item.model_copy(update=update))
        indicators[post_type] = tuple(changed)
    return POLICY.model_copy(
        update={
            "assessment": assessment,
            "monthly_check": check,
            "peers": peers,
            "indicators": MappingProxyType(indicators),
        }
    )


# (person 0..5, indicator, quantity): quantities with up to three decimals, some that
# put a score on a rounding boundary (halves and thousandths of whole numbers).
QUANTITY_INDICATORS = ("case_closure_rate", "cases_handled", "complaint_rate")
entries = st.lists(
    st.tuples(
        st.integers(0, 5),
        st.sampled_from(QUANTITY_INDICATORS),
        st.one_of(
            st.integers(0, 200_000).map(lambda n: str(D(n) / 1000)),
            st.sampled_from(["0.5", "2.5", "12.125", "33.333", "87.005", "100"]),
        ),
    ),
    max_size=24,
)
# (person, rater kind, value)
ratings = st.lists(
    st.tuples(
        st.integers(0, 5),
        st.sampled_from([RaterKind.SUPERVISOR, RaterKind.SELF, RaterKind.PEER]),
        st.integers(1, 5),
    ),
    max_size=16,
)
# (person, amount in quarters, disqualifying)
given_points = st.lists(
    st.tuples(st.integers(0, 5), st.integers(-40, 40).filter(bool), st.booleans()),
    max_size=6,
)


def _near(policy: Policy, facts: PeriodFacts) -> bool:
    # Whether the exact clamped score lies within 1e-5 of a step of a rounding boundary
    # (the SQL form leaves those within 1e-6 to Python).
    total = Scorer(policy).explain(facts).total
    clamped = min(max(total, D(0)), D(100))
    if clamped in (0, 100):
        return False
    scaled = clamped.scaleb(-policy.assessment.score_rounding.adjusted())
    fraction = float(scaled - math.floor(scaled))
    if policy.assessment.score_rounding_mode in ("half_up", "half_even"):
        return abs(fraction - 0.5) < 1e-5
    return fraction < 1e-5 or fraction > 1 - 1e-5


async def _clean(db: Database) -> None:
    async with db.uow() as uow:
        for table in (PeriodScore, Rating, ScorePoint, WorkEntry, PeriodReview,
                      AssessmentPeriod, Staff, Post, Department):  # fmt: skip
            await uow.session.execute(table.__table__.delete())  # type: ignore[attr-defined]
        await uow.commit()


@examples(40)
@given(policy=policies(), rows=entries, rated=ratings, bonus=given_points,
       with_peers=st.booleans())  # fmt: skip
def test_the_database_stores_what_the_scorer_computes(
    url: str,
    policy: Policy,
    rows: list[tuple[int, str, str]],
    rated: list[tuple[int, RaterKind, int]],
    bonus: list[tuple[int, int, bool]],
    with_peers: bool,
) -> None:
    async def example() -> None:
        db = Database(url)
        try:
            await _clean(db)
            async with db.uow() as uow:
                o = await org(uow)
                people = [await person(uow, o, f"P{n}") for n in range(5)]
                people.append(
                    await person(uow, o, "C1", post=o.service_post, review_post_type="service")
                )
                day = NOVEMBER.starts_on
                for who, indicator, quantity in rows:
                    uow.session.add(entry(people[who], day, indicator, quantity))
                for n, (who, kind, value) in enumerate(rated):
                    indicator = "citizen_satisfaction" if who == 5 else "enforcement_compliance"
                    uow.session.add(rating(o, people[who], indicator, kind, f"k{n}", value))
                for n, (who, quarters, barred) in enumerate(bonus):
                    amount = str(D(quarters) / 4)
                    uow.session.add(points(o, people[who], amount, f"reason {n}",
                                           disqualifying=barred and quarters < 0))  # fmt: skip
                uow.session.add(entry(people[2], day, None, None, EntryStatus.REJECTED,
                                      misconduct=True))  # fmt: skip
                await uow.commit()
            plan = scoring_plan(policy)
            async with db.uow() as uow:
                stored = await uow.scores.compute(
                    o.period_id, plan, 0, max(people), NOVEMBER.starts_on, NOVEMBER.ends_on,
                    now=NOW, with_peers=with_peers,
                )  # fmt: skip
                await uow.commit()
            async with db.uow() as uow:
                facts = await facts_of(uow, NOVEMBER, people, with_peers=with_peers)
                rows_stored = {
                    row.staff_id: row
                    for row in (await uow.session.scalars(select(PeriodScore))).all()
                }
            scorer = Scorer(policy)
            settled = settled_grades(policy)
            by_sql = {staff_id: grade for staff_id, _, grade in stored}
            assert set(by_sql) == set(rows_stored)
            for staff_id in people:
                mine = facts[staff_id]
                score = scorer.score(mine)
                if staff_id in by_sql:
                    row = rows_stored[staff_id]
                    assert row.score == score.value
                    assert str(row.score.quantize(policy.assessment.score_rounding)) == str(
                        score.value
                    )
                    grade = settled(
                        _scored(staff_id, o.departments[0], score.value, score.disqualified)
                    )
                    assert grade is not None
                    assert (row.grade_id, row.by_score_grade_id) == (
                        grade.grade_id, grade.by_score_grade_id,
                    )  # fmt: skip
                    assert row.disqualified == score.disqualified
                    assert row.department_id == o.departments[0]
                    assert row.breakdown["policy"] == policy_fingerprint(policy)
                    assert D(row.breakdown["score"]) == score.value
                    read = facts_from_breakdown(staff_id, o.departments[0], row.breakdown)
                    wanted = plan.indicator_ids
                    assert read == PeriodFacts(
                        mine.staff_id, mine.department_id, mine.post_type,
                        {k: v for k, v in mine.quantities.items() if k in wanted},
                        {k: v for k, v in mine.ratings.items() if k[0] in wanted},
                        mine.points, mine.misconduct,
                    )  # fmt: skip
                    assert breakdown_of(policy, staff_id, o.departments[0], row.breakdown) == (
                        score.breakdown
                    )
                else:
                    # Left to Python only for a reason.
                    reaches_top = (
                        settled(
                            _scored(staff_id, o.departments[0], score.value, score.disqualified)
                        )
                        is None
                    )
                    assert reaches_top or len(mine.points) > 1 or _near(policy, mine), (
                        f"staff {staff_id} was left to Python: {score.value}"
                    )
        finally:
            await db.dispose()

    run(example())


def _scored(staff_id: int, department_id: int, value: Decimal, disqualified: bool) -> Scored:
    return Scored(staff_id, department_id, value, disqualified)
