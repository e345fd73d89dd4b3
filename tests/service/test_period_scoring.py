"""A period's facts read from the store, and its scores and grades computed and stored,
on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete, select, update

from assessment import periods
from assessment.grading import Scored, assign_grades
from assessment.period_scoring import (
    StalePolicyError,
    breakdown_of,
    facts_of,
    score_one,
    score_period,
)
from assessment.periods import period_of
from assessment.scoring import PeriodFacts, PointsFact, QuantityFacts, RatingFacts, Scorer
from config.policy import DEFAULT_POLICY_PATH, load_policy
from storage.engine import Database
from storage.enums import EntryStatus, RaterKind, Role, StaffStatus
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
from storage.uow import UnitOfWork
from tests.service.properties import examples, run

POLICY = load_policy()
NOVEMBER = period_of(date(2026, 11, 1), POLICY)
NOW = datetime(2026, 12, 10, 2, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


@dataclass
class Org:
    departments: list[int]
    enforcement_post: int
    service_post: int
    period_id: int
    boss: int


async def org(uow: UnitOfWork, departments: int = 1) -> Org:
    depts = [
        (await uow.departments.add(Department(name=f"Dept {n}"))).id for n in range(departments)
    ]
    enforcement = Post(department_id=depts[0], name="Officer", post_type="law_enforcement")
    service = Post(department_id=depts[0], name="Clerk", post_type="service")
    uow.session.add_all([enforcement, service])
    await uow.session.flush()
    boss = await uow.staff.add(
        Staff(employee_no="BOSS", name="Boss", department_id=depts[0],
              roles=Role.STAFF | Role.SUPERVISOR)
    )  # fmt: skip
    period_id = await periods.ensure_period(uow, NOVEMBER, now=NOW)
    return Org(depts, enforcement.id, service.id, period_id, boss.id)


async def person(
    uow: UnitOfWork,
    o: Org,
    no: str,
    *,
    post: int | None = None,
    department: int | None = None,
    review: bool = True,
    review_post_type: str | None = "law_enforcement",
    status: StaffStatus = StaffStatus.ACTIVE,
) -> int:
    department_id = o.departments[0] if department is None else department
    staff = await uow.staff.add(
        Staff(employee_no=no, name=f"Name {no}", department_id=department_id,
              post_id=o.enforcement_post if post is None else post, supervisor_id=o.boss,
              status=status)
    )  # fmt: skip
    if review:
        # Reviewed against the post type given, which may differ from the post's now.
        uow.session.add(
            PeriodReview(period_id=o.period_id, staff_id=staff.id, post_type=review_post_type,
                         department_id=department_id, reviewer_id=o.boss, created_at=NOW,
                         updated_at=NOW)
        )  # fmt: skip
        await uow.session.flush()
    return staff.id


def entry(
    staff_id: int,
    day: date,
    indicator: str | None,
    quantity: str | None,
    status: EntryStatus = EntryStatus.APPROVED,
    *,
    misconduct: bool = False,
) -> WorkEntry:
    at = NOW - timedelta(days=20)
    return WorkEntry(
        staff_id=staff_id, work_date=day, text="work", indicator_id=indicator,
        quantity=None if quantity is None else Decimal(quantity), status=status,
        misconduct=misconduct, created_at=at, submitted_at=at, updated_at=at,
    )  # fmt: skip


def rating(o: Org, staff_id: int, indicator: str, kind: RaterKind, key: str, value: int) -> Rating:
    return Rating(
        period_id=o.period_id, staff_id=staff_id, indicator_id=indicator, rater_kind=kind,
        rater_key=key, value=value, created_at=NOW, updated_at=NOW,
    )  # fmt: skip


def points(
    o: Org, staff_id: int, amount: str, reason: str, *, withdrawn: bool = False,
    disqualifying: bool = False,
) -> ScorePoint:  # fmt: skip
    return ScorePoint(
        period_id=o.period_id, staff_id=staff_id, author_id=o.boss, amount=Decimal(amount),
        reason=reason, disqualifying=disqualifying, created_at=NOW,
        withdrawn_at=NOW if withdrawn else None, withdrawn_by_id=o.boss if withdrawn else None,
    )  # fmt: skip


async def test_the_facts_are_exact_sums_of_the_periods_approved_entries_only(
    db: Database,
) -> None:
    async with db.uow() as uow:
        o = await org(uow)
        officer = await person(uow, o, "A1")
        day = date(2026, 11, 5)
        uow.session.add_all(
            [
                # 0.1 + 0.2 + 0.7 is not 1 in floats; 999999999.999 needs all 12 digits.
                entry(officer, day, "cases_handled", "0.1"),
                entry(officer, day, "cases_handled", "0.2"),
                entry(officer, date(2026, 11, 30), "cases_handled", "0.7"),
                entry(officer, date(2026, 11, 1), "complaint_rate", "999999999.999"),
                entry(officer, day, "complaint_rate", "0.001"),
                entry(officer, day, "case_closure_rate", "90"),
                entry(officer, day, "case_closure_rate", "96.5"),
                # Not counted: not approved, outside the period, no quantity or indicator.
                entry(officer, day, "cases_handled", "5", EntryStatus.SUBMITTED),
                entry(officer, day, "cases_handled", "5", EntryStatus.RETURNED),
                entry(officer, day, "cases_handled", "5", EntryStatus.REJECTED),
                entry(officer, day, "cases_handled", "5", EntryStatus.DELETED),
                entry(officer, date(2026, 10, 31), "cases_handled", "5"),
                entry(officer, date(2026, 12, 1), "cases_handled", "5"),
                entry(officer, day, "cases_handled", None),
                entry(officer, day, None, "5"),
                # A rejection for misconduct in the previous month does not count here.
                entry(officer, date(2026, 10, 30), None, None, EntryStatus.REJECTED,
                      misconduct=True),
            ]
        )  # fmt: skip
        uow.session.add_all(
            [
                rating(o, officer, "enforcement_compliance", RaterKind.SUPERVISOR, "b", 4),
                rating(o, officer, "enforcement_compliance", RaterKind.SERVICE_RECIPIENT, "c1", 3),
                rating(o, officer, "enforcement_compliance", RaterKind.SERVICE_RECIPIENT, "c2", 4),
                rating(o, officer, "enforcement_compliance", RaterKind.SELF, "s", 5),
                points(o, officer, "3", "Night shifts"),
                points(o, officer, "-2", "Late report"),
                points(o, officer, "-7", "Entered in error", withdrawn=True),
            ]
        )
        await uow.commit()
    async with db.uow() as uow:
        facts = (await facts_of(uow, NOVEMBER, [officer]))[officer]
    assert facts.post_type == "law_enforcement"
    assert facts.department_id == o.departments[0]
    assert dict(facts.quantities) == {
        "cases_handled": QuantityFacts(Decimal("1.000"), 3),
        "complaint_rate": QuantityFacts(Decimal("1000000000.000"), 2),
        "case_closure_rate": QuantityFacts(Decimal("186.5"), 2),
    }
    assert dict(facts.ratings) == {
        ("enforcement_compliance", "supervisor"): RatingFacts(4, 1),
        ("enforcement_compliance", "service_recipient"): RatingFacts(7, 2),
        ("enforcement_compliance", "self"): RatingFacts(5, 1),
    }
    assert list(facts.points) == [
        PointsFact(Decimal("3"), "Night shifts"),
        PointsFact(Decimal("-2"), "Late report"),
    ]
    assert facts.misconduct is False
    # Exactly what the rules score from these facts.
    async with db.uow() as uow:
        result = await score_one(uow, POLICY, NOVEMBER, officer)
    assert result is not None
    assert result[0].value == Scorer(POLICY).score(facts).value


async def test_misconduct_and_who_a_person_is_reviewed_as(db: Database) -> None:
    async with db.uow() as uow:
        o = await org(uow, departments=2)
        caught = await person(uow, o, "M1")
        # Second line: now holds a service post, reviewed as the review row says.
        second = await person(
            uow, o, "S1", post=o.service_post, review_post_type="service",
            department=o.departments[1], status=StaffStatus.SECOND_LINE,
        )  # fmt: skip
        moved = await person(uow, o, "S2", post=o.service_post, review_post_type="law_enforcement")
        no_row = await person(uow, o, "N1", post=o.service_post, review=False)
        no_post_type = await person(uow, o, "N2", review_post_type=None)
        uow.session.add_all(
            [
                entry(caught, date(2026, 11, 12), "cases_handled", "1", EntryStatus.REJECTED,
                      misconduct=True),
                entry(second, date(2026, 11, 12), "cases_handled", "1", EntryStatus.REJECTED),
            ]
        )  # fmt: skip
        await uow.commit()
    async with db.uow() as uow:
        facts = await facts_of(uow, NOVEMBER, [caught, second, moved, no_row, no_post_type, 999])
    assert set(facts) == {caught, second, moved, no_row, no_post_type}
    assert facts[caught].misconduct and not facts[second].misconduct
    assert (facts[second].post_type, facts[second].department_id) == ("service", o.departments[1])
    assert facts[moved].post_type == "law_enforcement"  # the row, not the current post
    assert facts[no_row].post_type == "service"  # no row: the current post
    assert facts[no_post_type].post_type == "law_enforcement"  # row without one: the post


async def _stored(db: Database) -> dict[int, PeriodScore]:
    async with db.uow() as uow:
        rows = await uow.session.scalars(select(PeriodScore))
        return {row.staff_id: row for row in rows}


async def test_the_whole_period_is_scored_graded_within_the_quota_and_stored(
    db: Database,
) -> None:
    async with db.uow() as uow:
        o = await org(uow, departments=2)
        # Department 0: ten officers, all scoring high; quota 20% of 10 = 2 top grades.
        team = [await person(uow, o, f"A{n}") for n in range(10)]
        other = [await person(uow, o, f"B{n}", department=o.departments[1]) for n in range(5)]
        excluded = await person(uow, o, "X1")
        await person(uow, o, "N1", review=False)
        for n, staff_id in enumerate(team + other):
            uow.session.add_all(
                [
                    entry(staff_id, date(2026, 11, 2), "cases_handled", str(50 - n)),
                    entry(staff_id, date(2026, 11, 3), "case_closure_rate", "100"),
                    rating(o, staff_id, "enforcement_compliance", RaterKind.SUPERVISOR, "b", 5),
                ]
            )
        await uow.commit()
    batch = 4  # several batches, not a multiple of the people
    run1 = await score_period(db, POLICY, NOVEMBER, now=NOW, batch_size=batch)
    assert run1.scored == 16 and run1.without_review == 2  # N1 and the boss
    assert run1.unscorable == []
    first = await _stored(db)
    assert set(first) == set(team + other + [excluded])
    # Exactly what the pure rules give on the same facts, graded together.
    async with db.uow() as uow:
        facts = await facts_of(uow, NOVEMBER, list(first))
    scorer = Scorer(POLICY)
    expected = assign_grades(
        POLICY,
        [Scored(f.staff_id, f.department_id, scorer.score(f).value, f.misconduct)
         for f in facts.values()],
    )  # fmt: skip
    for staff_id, row in first.items():
        assert row.score == scorer.score(facts[staff_id]).value
        assert (row.grade_id, row.by_score_grade_id) == (
            expected[staff_id].grade_id,
            expected[staff_id].by_score_grade_id,
        )
        assert breakdown_of(POLICY, staff_id, row.department_id, row.breakdown) == (
            scorer.explain(facts[staff_id])
        )
    top = POLICY.top_grade.id
    for department in o.departments:
        members = [row for row in first.values() if row.department_id == department]
        tops = sum(row.grade_id == top for row in members)
        assert tops <= POLICY.quota.max_top_grade(len(members))
    assert sum(row.by_score_grade_id == top for row in first.values()) > 3  # the cap bit

    # HR calibrates one grade and excludes one person; a recompute keeps the one and
    # drops the other, and otherwise changes nothing.
    capped = next(s for s, row in first.items() if row.grade_id != row.by_score_grade_id)
    async with db.uow() as uow:
        await uow.session.execute(
            update(PeriodScore)
            .where(PeriodScore.staff_id == capped)
            .values(calibrated_grade_id=top, calibration_reason="Led the flood response")
        )
        await uow.session.execute(
            update(PeriodReview)
            .where(PeriodReview.staff_id == excluded)
            .values(excluded_at=NOW, excluded_reason="Long leave")
        )
        await uow.commit()
    run2 = await score_period(db, POLICY, NOVEMBER, now=LATER, batch_size=batch)
    assert (run2.scored, run2.removed) == (15, 1)
    second = await _stored(db)
    assert set(second) == set(first) - {excluded}
    assert second[capped].calibrated_grade_id == top
    assert second[capped].calibration_reason == "Led the flood response"
    assert second[capped].grade_id == first[capped].grade_id != top
    for staff_id, row in second.items():
        if staff_id in other:  # department 1 lost nobody: the same results
            assert (row.score, row.grade_id, row.breakdown) == (
                first[staff_id].score,
                first[staff_id].grade_id,
                first[staff_id].breakdown,
            )
        assert row.computed_at == LATER

    # Again: the same again (idempotent).
    await score_period(db, POLICY, NOVEMBER, now=LATER, batch_size=100)
    third = await _stored(db)
    assert {
        s: (r.score, r.grade_id, r.by_score_grade_id, r.breakdown) for s, r in third.items()
    } == {s: (r.score, r.grade_id, r.by_score_grade_id, r.breakdown) for s, r in second.items()}

    # The supervisor's card agrees with the stored run, and counts the places left.
    async with db.uow() as uow:
        result = await score_one(uow, POLICY, NOVEMBER, team[0])
    assert result is not None
    score, preview = result
    assert score.value == second[team[0]].score
    assert preview.grade_id == second[team[0]].grade_id
    assert preview.quota.people == 10 and preview.quota.cap == 2
    assert preview.places_left == preview.quota.cap - preview.quota.taken

    # Published: nothing is recomputed.
    async with db.uow() as uow:
        await uow.session.execute(update(AssessmentPeriod).values(published_at=LATER))
        await uow.session.execute(update(Staff).where(Staff.id == team[0]).values(name="Changed"))
        uow.session.add(entry(team[0], date(2026, 11, 9), "cases_handled", "40"))
        await uow.commit()
    run4 = await score_period(db, POLICY, NOVEMBER, now=LATER + timedelta(hours=1))
    assert run4.published and run4.scored == 0
    assert (await _stored(db))[team[0]].score == second[team[0]].score


async def test_one_unit_of_work_stores_what_short_transactions_store(db: Database) -> None:
    # Given a database, each batch is read, scored and stored in short transactions of
    # its own, and people whose score settles their grade are stored before everyone
    # is graded; given a unit of work, all of it in that one. The results are the same.
    async with db.uow() as uow:
        o = await org(uow, departments=2)
        people = [
            await person(uow, o, f"P{n}", department=o.departments[n % 2]) for n in range(13)
        ]
        for n, staff_id in enumerate(people):
            uow.session.add_all(
                [
                    entry(staff_id, date(2026, 11, 2), "cases_handled", str(10 + 7 * n)),
                    entry(staff_id, date(2026, 11, 3), "case_closure_rate", str(60 + 3 * n)),
                    rating(o, staff_id, "enforcement_compliance", RaterKind.SUPERVISOR, "b",
                           1 + n % 5),
                ]
            )  # fmt: skip
        uow.session.add(entry(people[12], date(2026, 11, 4), None, None, EntryStatus.REJECTED,
                              misconduct=True))  # fmt: skip
        await uow.commit()

    def computed(rows: dict[int, PeriodScore]) -> dict[int, tuple[object, ...]]:
        return {
            staff_id: (row.score, row.grade_id, row.by_score_grade_id, row.disqualified,
                       row.breakdown, row.department_id)
            for staff_id, row in rows.items()
        }  # fmt: skip

    piped = await score_period(db, POLICY, NOVEMBER, now=NOW, batch_size=3)
    through_database = computed(await _stored(db))
    async with db.uow() as uow:
        await uow.session.execute(delete(PeriodScore))
        alone = await score_period(uow, POLICY, NOVEMBER, now=NOW, batch_size=3)
        await uow.commit()
    assert computed(await _stored(db)) == through_database
    assert (piped.scored, piped.grades) == (alone.scored, alone.grades) and piped.scored == 13
    # Both kinds were there: grades settled by the score, and top grades under the quota.
    assert len({grade for _, grade, *_ in through_database.values()}) >= 3
    assert any(by == POLICY.top_grade.id for _, _, by, *_ in through_database.values())


async def test_a_period_nobody_reviews_yet_scores_nobody(db: Database) -> None:
    async with db.uow() as uow:
        o = await org(uow)
        await person(uow, o, "N1", review=False)
        await uow.commit()
    run_ = await score_period(db, POLICY, period_of(date(2026, 9, 1), POLICY), now=NOW)
    assert (run_.scored, run_.without_review) == (0, 2)
    run_ = await score_period(db, POLICY, NOVEMBER, now=NOW)
    assert (run_.scored, run_.without_review) == (0, 2)
    assert await _stored(db) == {}


async def test_a_breakdown_computed_under_another_policy_is_refused(db: Database) -> None:
    async with db.uow() as uow:
        o = await org(uow)
        officer = await person(uow, o, "A1")
        await uow.commit()
    await score_period(db, POLICY, NOVEMBER, now=NOW)
    row = (await _stored(db))[officer]
    quarterly = load_policy(DEFAULT_POLICY_PATH.parent / "quarterly.toml")
    with pytest.raises(StalePolicyError):
        breakdown_of(quarterly, officer, row.department_id, row.breakdown)


INDICATORS = [i.id for i in POLICY.indicators_for("law_enforcement")]


@st.composite
def period_entries(draw: st.DrawFn) -> list[tuple[int, int, str, str, str]]:
    """(person 0..3, day offset -3..33, indicator, quantity, status) rows."""
    rows = draw(
        st.lists(
            st.tuples(
                st.integers(0, 3),
                st.integers(-3, 33),
                st.sampled_from(INDICATORS),
                st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False,
                            allow_infinity=False).map(str),
                st.sampled_from([s.value for s in EntryStatus]),
            ),
            max_size=30,
        )
    )  # fmt: skip
    return rows


@examples(15)
@given(rows=period_entries(), ratings=st.lists(st.tuples(st.integers(0, 3), st.integers(1, 5)),
                                               max_size=8))  # fmt: skip
def test_scoring_through_the_store_equals_the_rules_on_the_same_facts(
    url: str, rows: list[tuple[int, int, str, str, str]], ratings: list[tuple[int, int]]
) -> None:
    async def example() -> None:
        db = Database(url)
        try:
            async with db.uow() as uow:
                for table in (PeriodScore, Rating, ScorePoint, WorkEntry, PeriodReview):
                    await uow.session.execute(table.__table__.delete())  # type: ignore[attr-defined]
                await uow.session.execute(AssessmentPeriod.__table__.delete())  # type: ignore[attr-defined]
                await uow.session.execute(Staff.__table__.delete())  # type: ignore[attr-defined]
                await uow.session.execute(Post.__table__.delete())  # type: ignore[attr-defined]
                await uow.session.execute(Department.__table__.delete())  # type: ignore[attr-defined]
                o = await org(uow)
                people = [await person(uow, o, f"P{n}") for n in range(4)]
                expected: dict[int, dict[str, list[Decimal]]] = {p: {} for p in people}
                for who, offset, indicator, quantity, status in rows:
                    day = NOVEMBER.starts_on + timedelta(days=offset)
                    uow.session.add(entry(people[who], day, indicator, quantity,
                                          EntryStatus(status)))  # fmt: skip
                    if status == "approved" and NOVEMBER.starts_on <= day <= NOVEMBER.ends_on:
                        expected[people[who]].setdefault(indicator, []).append(Decimal(quantity))
                sums: dict[int, list[int]] = {p: [] for p in people}
                for n, (who, value) in enumerate(ratings):
                    uow.session.add(rating(o, people[who], "enforcement_compliance",
                                           RaterKind.SUPERVISOR, f"k{n}", value))  # fmt: skip
                    sums[people[who]].append(value)
                await uow.commit()
            await score_period(db, POLICY, NOVEMBER, now=NOW, batch_size=3)
            stored = await _stored(db)
            scorer = Scorer(POLICY)
            for p in people:
                facts = PeriodFacts(
                    staff_id=p, department_id=o.departments[0], post_type="law_enforcement",
                    quantities={k: QuantityFacts(sum(v, Decimal(0)), len(v))
                                for k, v in expected[p].items()},
                    ratings={("enforcement_compliance", "supervisor"):
                             RatingFacts(sum(sums[p]), len(sums[p]))} if sums[p] else {},
                )  # fmt: skip
                assert stored[p].score == scorer.score(facts).value
                assert breakdown_of(POLICY, p, o.departments[0], stored[p].breakdown) == (
                    scorer.explain(facts)
                )
        finally:
            await db.dispose()

    run(example())
