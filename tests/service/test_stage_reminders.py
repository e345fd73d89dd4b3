"""The monthly check's reminders on a real database: on which days, to whom, with what, once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from assessment import stage_reminders
from assessment.calendar import WorkCalendar, set_leave
from assessment.periods import ensure_period, parse_key
from assessment.stage_reminders import CloseNotice, OverdueReviews, Renderers, TeamReviews
from config.policy import Policy, load_policy
from storage.engine import Database
from storage.enums import EntryStatus, Role, StaffStatus
from storage.models import (
    AssessmentPeriod,
    Department,
    OutboxMessage,
    PeriodReview,
    Staff,
    WorkEntry,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
POLICY = load_policy()
QUARTERLY = load_policy(Path(__file__).parents[2] / "config" / "policies" / "quarterly.toml")
NOVEMBER = parse_key("2026-11", POLICY)
assert NOVEMBER is not None
# November 2026 on the Chinese work calendar, default policy (25, 3, 7; 2 days; 2 days):
DAYS = {
    date(2026, 11, 25): "self-open",  # a Wednesday: the day itself
    date(2026, 12, 1): "self-due",  # 3 December less 2 days, a Tuesday
    date(2026, 12, 4): "review-due",  # 7 December less 2 is a Saturday: the Friday before
    date(2026, 12, 9): "review-overdue",  # 7 December and 2 days, a Wednesday
}
NOVEMBER_WORKDAYS = [
    date(2026, 11, day)
    for day in (2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 16, 17, 18, 19, 20, 23, 24, 25, 26, 27, 30)
]


def at(day: date, hour: int = 9, minute: int = 30) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


@dataclass
class Seen:
    """What the renderers were asked to write."""

    close: list[CloseNotice] = field(default_factory=list)
    team: list[TeamReviews] = field(default_factory=list)
    overdue: list[OverdueReviews] = field(default_factory=list)

    def renderers(self) -> Renderers:
        def close(notice: CloseNotice) -> str:
            self.close.append(notice)
            return f"close {notice.state.recipient.name}"

        def team(notice: TeamReviews) -> str:
            self.team.append(notice)
            return f"team {notice.reviewer.name}"

        def overdue(notice: OverdueReviews) -> str:
            self.overdue.append(notice)
            return f"overdue {notice.hr.name}"

        return Renderers(close=close, team=team, overdue=overdue)


async def _run(
    db: Database,
    now: datetime,
    seen: Seen | None = None,
    *,
    policy: Policy = POLICY,
    batch_size: int = 3,
) -> dict[str, int | None]:
    return await stage_reminders.run(
        db.uow,
        policy,
        WorkCalendar(policy),
        SHANGHAI,
        (seen or Seen()).renderers(),
        now=now,
        batch_size=batch_size,
    )


async def _outbox(db: Database) -> list[OutboxMessage]:
    async with db.uow() as uow:
        return list(await uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


@dataclass
class Office:
    ids: dict[str, int]
    period_id: int

    def __getitem__(self, name: str) -> int:
        return self.ids[name]

    def name_of(self, staff_id: int) -> str:
        return next(name for name, known in self.ids.items() if known == staff_id)


# name: (supervisor, roles, fields)
PEOPLE: dict[str, tuple[str | None, Role, dict[str, Any]]] = {
    "Boss": (None, Role.STAFF | Role.SUPERVISOR, {}),
    "Behind": ("Boss", Role.STAFF, {}),
    "Done": ("Boss", Role.STAFF, {}),
    "Second Line": ("Boss", Role.STAFF, {"status": StaffStatus.SECOND_LINE}),
    "Left": ("Boss", Role.STAFF, {"status": StaffStatus.LEFT}),
    "Unlinked": ("Boss", Role.STAFF, {"telegram_user_id": None}),
    "Excluded": ("Boss", Role.STAFF, {}),
    "Moved": ("Boss", Role.STAFF, {}),  # reviewed by Other Boss (stored with the review)
    "Other Boss": (None, Role.STAFF | Role.SUPERVISOR, {}),
    "HR One": (None, Role.STAFF | Role.HR, {}),
    "HR Left": (None, Role.STAFF | Role.HR, {"status": StaffStatus.LEFT}),
    "Quiet Boss": (None, Role.STAFF | Role.SUPERVISOR, {}),
    "Signed": ("Quiet Boss", Role.STAFF, {}),
}


async def _entry(db: Database, staff_id: int, day: date, status: EntryStatus) -> None:
    async with db.uow() as uow:
        await uow.entries.add(WorkEntry(staff_id=staff_id, work_date=day, text="x", status=status))
        await uow.commit()


async def _seed(db: Database) -> Office:
    ids: dict[str, int] = {}
    now = datetime(2026, 11, 1, tzinfo=UTC)
    async with db.uow() as uow:
        office = await uow.departments.add(Department(name="Permits Office"))
        for number, (name, (boss, roles, fields)) in enumerate(PEOPLE.items(), start=1):
            values = {"telegram_user_id": 5000 + number, **fields}
            staff = await uow.staff.add(
                Staff(
                    employee_no=f"E{number:03}",
                    name=name,
                    department_id=office.id,
                    roles=roles,
                    supervisor_id=ids[boss] if boss else None,
                    **values,
                )
            )
            ids[name] = staff.id
        period_id = await ensure_period(uow, NOVEMBER, now=now)
        await uow.commit()
    people = Office(ids, period_id)
    behind = people["Behind"]
    await _entry(db, behind, date(2026, 11, 2), EntryStatus.APPROVED)
    await _entry(db, behind, date(2026, 11, 3), EntryStatus.RETURNED)
    await _entry(db, behind, date(2026, 11, 4), EntryStatus.SUBMITTED)
    await _entry(db, behind, date(2026, 11, 5), EntryStatus.REJECTED)  # covers nothing
    await _entry(db, behind, date(2026, 11, 6), EntryStatus.DELETED)  # nor this
    await _entry(db, behind, date(2026, 12, 1), EntryStatus.SUBMITTED)  # another period
    async with db.uow() as uow:
        await set_leave(uow, behind, date(2026, 11, 9), by=behind, now=now)
    for day in NOVEMBER_WORKDAYS:
        await _entry(db, people["Done"], day, EntryStatus.APPROVED)
    await _review(db, people, "Done", self_submitted=True, signed_off=True)
    await _review(db, people, "Excluded", excluded=True)
    await _review(db, people, "Moved", reviewer="Other Boss")
    await _review(db, people, "Signed", self_submitted=True, signed_off=True)
    return people


async def _review(
    db: Database,
    people: Office,
    name: str,
    *,
    self_submitted: bool = False,
    signed_off: bool = False,
    excluded: bool = False,
    reviewer: str | None = None,
) -> None:
    """A person's review row as /self and /review would leave it."""
    moment = datetime(2026, 11, 26, tzinfo=UTC)
    async with db.uow() as uow:
        person = await uow.session.get(Staff, people[name])
        assert person is not None
        by = people[reviewer] if reviewer else person.supervisor_id
        row = await uow.session.scalar(
            select(PeriodReview).where(
                PeriodReview.period_id == people.period_id, PeriodReview.staff_id == person.id
            )
        )
        if row is None:
            row = PeriodReview(
                period_id=people.period_id,
                staff_id=person.id,
                department_id=person.department_id,
                reviewer_id=by,
            )
            uow.session.add(row)
        if self_submitted:
            row.self_text = "done"
            row.self_submitted_at = moment
        if signed_off:
            row.signed_off_at = moment
            row.signed_off_by_id = by
        if excluded:
            row.excluded_at = moment
            row.excluded_reason = "long leave"
        await uow.commit()


@pytest.fixture
async def office(db: Database) -> Office:
    return await _seed(db)


async def test_each_reminder_on_its_day_at_its_time_and_on_no_other_day(
    db: Database, office: Office
) -> None:
    day = date(2026, 11, 20)
    while day <= date(2026, 12, 14):
        assert await _run(db, at(day, 9, 29)) == {}, f"too early on {day}"
        done = await _run(db, at(day))
        expected = DAYS.get(day)
        assert list(done) == ([f"monthly-check/2026-11/{expected}"] if expected else []), day
        if expected:
            assert done[f"monthly-check/2026-11/{expected}"], f"{expected} queued nothing"
            # Later the same day, and by a second process: already done.
            assert await _run(db, at(day, 16)) == {f"monthly-check/2026-11/{expected}": None}
        day += timedelta(days=1)
    kinds = {row.dedup_key.split("/")[2] for row in await _outbox(db) if row.dedup_key}
    assert kinds == set(DAYS.values())


async def test_a_bot_down_at_the_time_reminds_late_that_day_but_never_on_a_later_day(
    db: Database, office: Office
) -> None:
    assert await _run(db, at(date(2026, 12, 2), 9, 0)) == {}, "the day after: nothing"
    assert await _outbox(db) == []
    late = await _run(db, at(date(2026, 12, 1), 23, 59))
    assert late["monthly-check/2026-11/self-due"]


async def test_close_your_period_lists_what_is_missing_to_whoever_has_something_to_do(
    db: Database, office: Office
) -> None:
    seen = Seen()
    assert await _run(db, at(date(2026, 12, 1)), seen) == {"monthly-check/2026-11/self-due": 8}
    reminded = {office.name_of(n.state.recipient.staff_id): n for n in seen.close}
    # Not: Done (nothing to do), Left, Unlinked, Excluded (by HR), HR Left.
    assert sorted(reminded) == sorted(
        ["Boss", "Behind", "Second Line", "Moved", "Other Boss", "HR One", "Quiet Boss", "Signed"]
    )
    behind = reminded["Behind"]
    assert behind.reminder is stage_reminders.Reminder.SELF_DUE
    assert behind.period == NOVEMBER and behind.due == date(2026, 12, 3)
    # Covered: 2 (approved), 3 (returned), 4 (pending); 9 on leave. Rejected and deleted
    # entries cover nothing.
    assert behind.state.missing == tuple(
        day for day in NOVEMBER_WORKDAYS if day.day not in (2, 3, 4, 9)
    )
    assert (behind.state.returned, behind.state.pending) == (1, 1)
    assert not behind.state.self_submitted
    signed = reminded["Signed"].state
    assert signed.self_submitted and signed.missing == tuple(NOVEMBER_WORKDAYS)
    assert reminded["Boss"].state.missing == tuple(NOVEMBER_WORKDAYS)
    rows = await _outbox(db)
    assert sorted(row.dedup_key for row in rows if row.dedup_key) == sorted(
        f"monthly-check/2026-11/self-due/staff/{office[name]}" for name in reminded
    )
    by_key = {row.staff_id: row for row in rows}
    assert by_key[office["Behind"]].chat_id == 5002
    assert by_key[office["Behind"]].text == "close Behind"
    assert {row.kind for row in rows} == {"monthly_check"}


async def test_the_opening_notice_counts_workdays_up_to_the_day_before(
    db: Database, office: Office
) -> None:
    seen = Seen()
    await _run(db, at(date(2026, 11, 25)), seen)
    [behind] = [n for n in seen.close if n.state.recipient.staff_id == office["Behind"]]
    assert behind.reminder is stage_reminders.Reminder.SELF_OPEN
    assert behind.state.missing[-1] == date(2026, 11, 24)
    assert len(behind.state.missing) == 13
    # Done has covered every workday and is in: not even the opening notice.
    assert office["Done"] not in {n.state.recipient.staff_id for n in seen.close}


async def test_ticks_and_processes_at_once_queue_each_reminder_once(
    db: Database, office: Office, database_url: str
) -> None:
    others = [Database(database_url) for _ in range(3)]
    try:
        for day in DAYS:
            moment = at(day)
            results = await asyncio.gather(
                _run(db, moment), *(_run(other, moment) for other in others)
            )
            counts = [next(iter(result.values())) for result in results]
            assert sum(count or 0 for count in counts) > 0, day
    finally:
        for other in others:
            await other.dispose()
    keys = [row.dedup_key for row in await _outbox(db)]
    assert len(keys) == len(set(keys)) == 8 + 8 + 2 + 1


async def test_supervisors_learn_their_reviews_not_yet_signed_off(
    db: Database, office: Office
) -> None:
    seen = Seen()
    assert await _run(db, at(date(2026, 12, 4)), seen) == {"monthly-check/2026-11/review-due": 2}
    teams = {office.name_of(n.reviewer.staff_id): n for n in seen.team}
    # Quiet Boss's one report is signed off: nothing for them.
    assert sorted(teams) == ["Boss", "Other Boss"]
    # Not Done (signed off), Left, Excluded, nor Moved (reviewed by Other Boss); Unlinked
    # is still to be reviewed.
    assert [p.name for p in teams["Boss"].people] == ["Behind", "Second Line", "Unlinked"]
    assert [p.name for p in teams["Other Boss"].people] == ["Moved"]
    assert teams["Boss"].due == date(2026, 12, 7)
    rows = await _outbox(db)
    assert sorted(row.dedup_key for row in rows if row.dedup_key) == sorted(
        f"monthly-check/2026-11/review-due/staff/{office[name]}" for name in teams
    )


async def test_hr_learn_of_overdue_reviews_per_reviewer(db: Database, office: Office) -> None:
    seen = Seen()
    assert await _run(db, at(date(2026, 12, 9)), seen) == {
        "monthly-check/2026-11/review-overdue": 1
    }
    [notice] = seen.overdue
    assert notice.hr.staff_id == office["HR One"], "HR Left is not told"
    assert [(row.name, row.count) for row in notice.by_reviewer] == [
        (None, 4),  # Boss, Other Boss, HR One, Quiet Boss have nobody to review them
        ("Boss", 3),
        ("Other Boss", 1),
    ]
    assert notice.total == 8
    [row] = await _outbox(db)
    assert row.dedup_key == f"monthly-check/2026-11/review-overdue/staff/{office['HR One']}"


async def test_no_escalation_when_every_review_is_signed_off(db: Database, office: Office) -> None:
    for name in ("Boss", "Behind", "Second Line", "Unlinked", "Moved", "Other Boss"):
        await _review(db, office, name, signed_off=True)
    for name in ("HR One", "Quiet Boss"):
        await _review(db, office, name, signed_off=True)
    seen = Seen()
    assert await _run(db, at(date(2026, 12, 9)), seen) == {
        "monthly-check/2026-11/review-overdue": 0
    }
    assert seen.overdue == [] and await _outbox(db) == []
    assert await _run(db, at(date(2026, 12, 9), 12)) == {
        "monthly-check/2026-11/review-overdue": None
    }


async def test_a_published_period_is_not_reminded(db: Database, office: Office) -> None:
    async with db.uow() as uow:
        period = await uow.session.get(AssessmentPeriod, office.period_id)
        assert period is not None
        period.published_at = datetime(2026, 12, 8, tzinfo=UTC)
        await uow.commit()
    assert await _run(db, at(date(2026, 12, 9))) == {}
    assert await _outbox(db) == []


async def test_a_quarter_is_reminded_in_its_last_month_and_the_month_after(
    db: Database, office: Office
) -> None:
    days = {
        date(2026, 12, 25): "self-open",
        date(2026, 12, 31): "self-due",  # 3 January less 2 is New Year's Day
        date(2027, 1, 5): "review-due",
        date(2027, 1, 11): "review-overdue",  # 9 January is a Saturday: the Monday after
    }
    seen = Seen()
    day = date(2026, 11, 24)
    while day <= date(2027, 1, 14):
        done = await _run(db, at(day), seen, policy=QUARTERLY)
        expected = days.get(day)
        assert list(done) == ([f"monthly-check/2026-Q4/{expected}"] if expected else []), day
        day += timedelta(days=1)
    [behind] = [
        n
        for n in seen.close
        if n.state.recipient.staff_id == office["Behind"] and n.reminder.value == "self-open"
    ]
    assert behind.due == date(2027, 1, 3)
    missing = behind.state.missing
    assert missing[0] == date(2026, 10, 8), "after the National Day holidays"
    assert date(2026, 10, 10) in missing, "a make-up Saturday is a workday"
    assert date(2026, 10, 11) not in missing and date(2026, 11, 2) not in missing
    assert missing[-1] == date(2026, 12, 24)
