"""The monthly check's periods on a real database: lazy creation, reopening, and the
closed-period rule applied alike by every path that writes, lists or decides entries."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from assessment import approvals, entries, periods
from assessment.approvals import ApprovalError, Decided, Decision
from assessment.calendar import WorkCalendar, set_leave
from assessment.entries import EntryChange, EntryView, NewEntry, Rules
from assessment.entry_rules import EDITABLE, EntryError
from assessment.people import StaffMember
from assessment.periods import ReopenError, closed_through, period_of
from config.policy import load_policy
from storage.engine import Database
from storage.enums import DecisionVia, EntryStatus, Role
from storage.models import (
    AssessmentPeriod,
    AuditEvent,
    Department,
    PeriodReview,
    PeriodScore,
    Staff,
    WorkEntry,
)

POLICY = load_policy()
TODAY = date(2026, 12, 10)  # November under review since the 4th; December open
NOW = datetime(2026, 12, 10, 2, 0, tzinfo=UTC)
FAR_FUTURE = NOW + timedelta(days=365)
NOVEMBER = period_of(date(2026, 11, 1), POLICY)
CLOSED = closed_through(TODAY, POLICY)
ZONE = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class People:
    hr: StaffMember
    boss: StaffMember
    author: StaffMember
    reopened: StaffMember  # whose November HR reopens in some tests


@pytest.fixture
async def people(db: Database) -> People:
    async with db.uow() as uow:
        office = await uow.departments.add(Department(name="Office"))

        async def add(no: str, roles: Role, boss: Staff | None, telegram: int) -> Staff:
            return await uow.staff.add(
                Staff(employee_no=no, name=f"Name {no}", department_id=office.id, roles=roles,
                      supervisor_id=None if boss is None else boss.id, telegram_user_id=telegram)
            )  # fmt: skip

        hr = await add("HR1", Role.STAFF | Role.HR, None, 1)
        boss = await add("B1", Role.STAFF | Role.SUPERVISOR, None, 2)
        author = await add("A1", Role.STAFF, boss, 3)
        reopened = await add("A2", Role.STAFF, boss, 4)
        await uow.commit()
        return People(*(StaffMember.of(s) for s in (hr, boss, author, reopened)))


async def entry(db: Database, author: StaffMember, day: date) -> int:
    at = NOW - timedelta(days=30)  # long submitted: overdue and stale for every job
    async with db.uow() as uow:
        stored = await uow.entries.add(
            WorkEntry(staff_id=author.id, work_date=day, text=f"Work of {day}", created_at=at,
                      submitted_at=at, updated_at=at)
        )  # fmt: skip
        await uow.commit()
        return stored.id


async def reopen(db: Database, people: People, who: StaffMember | None = None) -> object:
    async with db.uow() as uow:
        return await periods.reopen(
            uow,
            people.hr,
            (who or people.reopened).employee_no,
            NOVEMBER,
            "Leave recorded late",
            POLICY,
            today=TODAY,
            now=NOW,
        )


async def test_a_period_is_created_once_however_many_ask_at_once(database_url: str) -> None:
    stores = [Database(database_url) for _ in range(4)]
    try:

        async def ensure(store: Database) -> int:
            async with store.uow() as uow:
                period_id = await periods.ensure_period(uow, NOVEMBER, now=NOW)
                await uow.commit()
                return period_id

        ids = await asyncio.gather(*(ensure(store) for store in stores * 3))
        assert len(set(ids)) == 1
        async with stores[0].uow() as uow:
            rows = list(await uow.session.scalars(select(AssessmentPeriod)))
        assert [(r.key, r.starts_on, r.ends_on) for r in rows] == [
            ("2026-11", date(2026, 11, 1), date(2026, 11, 30))
        ]
    finally:
        for store in stores:
            await store.dispose()


async def test_missing_workdays_leave_out_leave_and_days_with_an_entry(
    db: Database, people: People
) -> None:
    calendar = WorkCalendar(POLICY)
    for day in (date(2026, 11, 2), date(2026, 11, 3)):
        await entry(db, people.author, day)
    rejected = await entry(db, people.author, date(2026, 11, 4))
    async with db.uow() as uow:
        await uow.entries.change(
            rejected, 1, EDITABLE, {"status": EntryStatus.REJECTED}, closed_through=date.min
        )
        await uow.commit()
    async with db.uow() as uow:
        await set_leave(uow, people.author.id, date(2026, 11, 5), by=people.hr.id, now=NOW)
    async with db.uow() as uow:
        missing = await periods.missing_workdays(
            uow, people.author.id, NOVEMBER, calendar, through=date(2026, 11, 9)
        )
    # 2-6 and 9 November are workdays (Monday to Friday, Monday); 4th's entry was rejected.
    assert missing == [date(2026, 11, 4), date(2026, 11, 6), date(2026, 11, 9)]
    async with db.uow() as uow:
        whole = await periods.missing_workdays(
            uow, people.author.id, NOVEMBER, calendar, through=TODAY
        )
    assert len(whole) == len(calendar.workdays(NOVEMBER.starts_on, NOVEMBER.ends_on)) - 3


async def test_every_path_applies_the_one_closed_period_rule(db: Database, people: People) -> None:
    """Single press, /pending (and digests), bulk approval, requests, escalation,
    auto-approval and the author's edits agree on which entries are open."""
    closed = await entry(db, people.author, date(2026, 11, 20))
    older = await entry(db, people.author, date(2026, 10, 30))
    current = await entry(db, people.author, date(2026, 12, 1))
    reopened = await entry(db, people.reopened, date(2026, 11, 21))
    assert await reopen(db, people) is not None
    expected_open = {current, reopened}
    every = [closed, older, current, reopened]
    async with db.uow() as uow:
        repo = uow.approvals
        for entry_id in every:
            found = await repo.authority_of(entry_id, people.boss.id, TODAY, closed_through=CLOSED)
            assert found is not None and found.open is (entry_id in expected_open), entry_id
            assert await uow.periods.entry_is_open(entry_id, CLOSED) is (entry_id in expected_open)
        rows, total = await repo.pending(
            people.boss.id, today=TODAY, offset=0, limit=50, closed_through=CLOSED
        )
        assert {row.entry_id for row in rows} == expected_open and total == 2
        targets = await repo.to_request(today=TODAY, limit=50, closed_through=CLOSED)
        assert {t.entry_id for t in targets} == expected_open
        overdue = await repo.overdue(FAR_FUTURE, limit=50, closed_through=CLOSED)
        assert {o.entry_id for o in overdue} == expected_open
        shown = {"today": TODAY, "first_id": min(every), "last_id": max(every),
                 "seen_at": FAR_FUTURE, "author_id": None, "closed_through": CLOSED}  # fmt: skip
        bulk = await repo.approve_shown(people.boss.id, moment=NOW, **shown)  # type: ignore[arg-type]
        assert {row.entry_id for row in bulk} == expected_open
        assert await repo.closed_shown(people.boss.id, **shown) == 2  # type: ignore[arg-type]
        await uow.rollback()
        stale = await repo.approve_stale(
            FAR_FUTURE, {"status": EntryStatus.APPROVED, "decision_via": DecisionVia.AUTO},
            limit=50, closed_through=CLOSED,
        )  # fmt: skip
        assert {row.entry_id for row in stale} == expected_open
        await uow.rollback()
        for entry_id in every:
            single = await repo.decide(
                entry_id, 1, status=EntryStatus.APPROVED, decider_id=people.boss.id, moment=NOW,
                reason=None, via=DecisionVia.SUPERVISOR, today=TODAY, closed_through=CLOSED,
            )  # fmt: skip
            assert single is (entry_id in expected_open), entry_id
            await uow.rollback()
            changed = await uow.entries.change(
                entry_id, 1, EDITABLE, {"text": "Edited"}, closed_through=CLOSED
            )
            assert changed is (entry_id in expected_open), entry_id
            await uow.rollback()


async def test_decisions_edits_and_deletions_of_a_closed_period_are_refused(
    db: Database, people: People
) -> None:
    closed = await entry(db, people.author, date(2026, 11, 20))
    rules = Rules(POLICY, WorkCalendar(POLICY), TODAY, ZONE)
    async with db.uow() as uow:
        result = await approvals.decide(
            uow, people.boss, closed, 1, Decision.APPROVE, today=TODAY,
            render=lambda notice: None, close=lambda closing, reader: "", policy=POLICY, now=NOW,
        )  # fmt: skip
    assert result is ApprovalError.CLOSED_PERIOD
    async with db.uow() as uow:
        edited = await entries.edit_entry(
            uow, closed, people.author.id, EntryChange(text="Late fix"), rules, now=NOW
        )
    assert edited is EntryError.CLOSED_PERIOD
    async with db.uow() as uow:
        deleted = await entries.delete_entry(
            uow, closed, people.author.id, today=TODAY, policy=POLICY, now=NOW
        )
    assert deleted is EntryError.CLOSED_PERIOD
    # Moving an open entry back into the closed period is refused too.
    wide = POLICY.model_copy(
        update={"entries": POLICY.entries.model_copy(update={"backdate_workdays": 30})}
    )
    wide_rules = Rules(wide, WorkCalendar(wide), TODAY, ZONE)
    current = await entry(db, people.author, date(2026, 12, 1))
    async with db.uow() as uow:
        moved = await entries.edit_entry(
            uow, current, people.author.id, EntryChange(work_date=date(2026, 11, 30)),
            wide_rules, now=NOW,
        )  # fmt: skip
    assert moved is EntryError.CLOSED_PERIOD
    async with db.uow() as uow:
        added = await entries.create_entry(
            uow, people.author.id, NewEntry(date(2026, 11, 30), "Late"), wide_rules, now=NOW
        )
    assert added is EntryError.CLOSED_PERIOD
    async with db.uow() as uow:
        stored = await uow.entries.get(closed)
        assert stored is not None and stored.status is EntryStatus.SUBMITTED
        assert stored.text == "Work of 2026-11-20" and stored.version == 1
        refused = await uow.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "entry.decision_refused")
        )
        assert refused == 1, "the refused decision is audited"


async def test_hr_reopens_one_persons_period_until_it_is_signed_off_again(
    db: Database, people: People
) -> None:
    mine = await entry(db, people.reopened, date(2026, 11, 21))
    theirs = await entry(db, people.author, date(2026, 11, 21))
    wide = POLICY.model_copy(
        update={"entries": POLICY.entries.model_copy(update={"backdate_workdays": 30})}
    )
    rules = Rules(wide, WorkCalendar(wide), TODAY, ZONE)
    async with db.uow() as uow:
        # A review signed off, and a score computed from it.
        period_id = await periods.ensure_period(uow, NOVEMBER, now=NOW)
        review_id = await uow.reviews.ensure(
            period_id, people.reopened.id, department_id=people.reopened.department_id,
            reviewer_id=people.boss.id, now=NOW,
        )  # fmt: skip
        assert await uow.periods.sign_off(review_id, by_id=people.boss.id, now=NOW)
        uow.session.add(
            PeriodScore(period_id=period_id, staff_id=people.reopened.id,
                        department_id=people.reopened.department_id, score=Decimal("91.5"),
                        grade_id="excellent", by_score_grade_id="excellent", breakdown={},
                        disqualified=False, computed_at=NOW)
        )  # fmt: skip
        await uow.commit()
    done = await reopen(db, people)
    assert isinstance(done, periods.Reopened) and done.was_signed_off
    assert await reopen(db, people) is ReopenError.ALREADY_REOPENED
    async with db.uow() as uow:
        review = await uow.periods.review(review_id)
        assert review is not None and review.signed_off_at is None
        assert review.reopen_reason == "Leave recorded late" and review.reopened_by_id == (
            people.hr.id
        )
        assert await uow.session.scalar(select(func.count()).select_from(PeriodScore)) == 0
        event = await uow.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "period.reopened")
        )
        assert event is not None and event.actor_staff_id == people.hr.id
        assert event.details["period"] == "2026-11" and event.details["was_signed_off"]
    # Their entries of November may change and be decided again; nobody else's.
    async with db.uow() as uow:
        edited = await entries.edit_entry(
            uow, mine, people.reopened.id, EntryChange(text="Fixed"), rules, now=NOW
        )
    assert isinstance(edited, EntryView)
    async with db.uow() as uow:
        added = await entries.create_entry(
            uow, people.reopened.id, NewEntry(date(2026, 11, 30), "Forgotten"), rules, now=NOW
        )
    assert isinstance(added, EntryView)
    async with db.uow() as uow:
        other = await entries.edit_entry(
            uow, theirs, people.author.id, EntryChange(text="Me too"), rules, now=NOW
        )
    assert other is EntryError.CLOSED_PERIOD
    async with db.uow() as uow:
        decided = await approvals.decide(
            uow, people.boss, mine, 2, Decision.APPROVE, today=TODAY,
            render=lambda notice: None, close=lambda closing, reader: "", policy=POLICY, now=NOW,
        )  # fmt: skip
    assert isinstance(decided, Decided)
    # Signed off again: closed again.
    async with db.uow() as uow:
        assert await uow.periods.sign_off(review_id, by_id=people.boss.id, now=NOW)
        await uow.commit()
    async with db.uow() as uow:
        again = await entries.edit_entry(
            uow, added.id, people.reopened.id, EntryChange(text="Once more"), rules, now=NOW
        )
    assert again is EntryError.CLOSED_PERIOD


async def test_only_hr_reopens_and_only_a_period_under_review_not_yet_published(
    db: Database, people: People
) -> None:
    async def attempt(actor: StaffMember, key: str | None, reason: str = "Why") -> object:
        async with db.uow() as uow:
            return await periods.reopen(
                uow, actor, people.author.employee_no,
                None if key is None else periods.parse_key(key, POLICY), reason, POLICY,
                today=TODAY, now=NOW,
            )  # fmt: skip

    assert await attempt(people.boss, "2026-11") is ReopenError.NOT_HR
    assert await attempt(people.hr, "2026-12") is ReopenError.NOT_CLOSED
    assert await attempt(people.hr, "2026-11", "  ") is ReopenError.REASON_NEEDED
    assert await attempt(people.hr, "2026-11", "x" * 501) is ReopenError.REASON_TOO_LONG
    async with db.uow() as uow:
        unknown = await periods.reopen(
            uow, people.hr, "NOBODY", NOVEMBER, "Why", POLICY, today=TODAY, now=NOW
        )
    assert unknown is ReopenError.UNKNOWN_PERSON
    async with db.uow() as uow:
        period_id = await periods.ensure_period(uow, period_of(date(2026, 10, 1), POLICY), now=NOW)
        october = await uow.session.get(AssessmentPeriod, period_id)
        assert october is not None
        october.published_at = NOW
        await uow.commit()
    assert await attempt(people.hr, "2026-10") is ReopenError.PUBLISHED
    # Without a period: the latest under review, November.
    done = await attempt(people.hr, None)
    assert isinstance(done, periods.Reopened) and done.period == NOVEMBER
    async with db.uow() as uow:
        reviews = list(await uow.session.scalars(select(PeriodReview)))
    assert [(r.staff_id, r.reviewer_id) for r in reviews] == [(people.author.id, people.boss.id)]


async def test_a_new_entry_dated_in_a_closed_period_is_not_inserted_unless_reopened(
    db: Database, people: People
) -> None:
    """The INSERT of every new entry (quick log and /log alike) carries the rule itself."""

    async def insert(author: StaffMember, day: date) -> int | None:
        async with db.uow() as uow:
            entry_id = await uow.entries.insert_within(
                {"staff_id": author.id, "work_date": day, "text": "Late", "status": "submitted",
                 "created_at": NOW, "submitted_at": NOW, "updated_at": NOW, "version": 1},
                day_start=NOW - timedelta(hours=2), minute_start=NOW - timedelta(minutes=1),
                per_minute=10, per_day=100, closed_through=CLOSED,
            )  # fmt: skip
            await uow.commit()
            return entry_id

    assert await insert(people.author, date(2026, 11, 30)) is None
    assert await insert(people.author, date(2026, 12, 1)) is not None
    assert await insert(people.reopened, date(2026, 11, 30)) is None
    assert isinstance(await reopen(db, people), periods.Reopened)
    assert await insert(people.reopened, date(2026, 11, 30)) is not None
    assert await insert(people.author, date(2026, 11, 30)) is None


async def test_the_stored_stage_counts_what_hr_did(db: Database) -> None:
    async with db.uow() as uow:
        assert await periods.current_stage(uow, NOVEMBER, TODAY, POLICY, ZONE) is (
            periods.Stage.CALIBRATION
        )
        early = date(2026, 12, 5)
        assert await periods.current_stage(uow, NOVEMBER, early, POLICY, ZONE) is (
            periods.Stage.SUPERVISOR_REVIEW
        )
        period_id = await periods.ensure_period(uow, NOVEMBER, now=NOW)
        stored = await uow.session.get(AssessmentPeriod, period_id)
        assert stored is not None
        # 5 December, 00:30 in Shanghai, is still the 4th in UTC: the zone decides.
        stored.calibration_started_at = datetime(2026, 12, 4, 16, 30, tzinfo=UTC)
        await uow.session.flush()
        assert await periods.current_stage(uow, NOVEMBER, early, POLICY, ZONE) is (
            periods.Stage.CALIBRATION
        )
        stored.published_at = NOW
        await uow.session.flush()
        assert await periods.current_stage(uow, NOVEMBER, TODAY, POLICY, ZONE) is (
            periods.Stage.PUBLISHED
        )
