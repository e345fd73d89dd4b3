"""Reminders on a real database: who is reminded, once, whatever restarts or races."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select

from assessment import reminders
from assessment.calendar import WorkCalendar, clear_leave, leave_days, set_leave
from assessment.outbox import Circular, Outgoing
from assessment.reminders import DayState, Languages, Recipient, SnoozeOutcome, TeamSummary
from config.policy import load_policy
from storage.engine import Database
from storage.enums import EntryStatus, Role, StaffStatus
from storage.models import (
    AuditEvent,
    Department,
    JobClaim,
    LeaveDay,
    OutboxMessage,
    Staff,
    WorkEntry,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
AT = time(17, 30)
THURSDAY = date(2025, 11, 20)
CALENDAR = WorkCalendar(load_policy())
LEASE = timedelta(minutes=1)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


@dataclass
class People:
    ids: dict[str, int]

    def __getitem__(self, name: str) -> int:
        return self.ids[name]


async def _seed(db: Database, spec: dict[str, dict[str, Any]]) -> People:
    ids: dict[str, int] = {}
    async with db.uow() as uow:
        office = await uow.departments.add(Department(name="Permits Office"))
        for number, (name, fields) in enumerate(spec.items(), start=1):
            fields = dict(fields)
            supervisor = fields.pop("supervisor", None)
            staff = await uow.staff.add(
                Staff(
                    employee_no=f"E{number:03}",
                    name=name,
                    department_id=office.id,
                    roles=Role.STAFF,
                    telegram_user_id=fields.pop("telegram", 1000 + number),
                    supervisor_id=ids[supervisor] if supervisor else None,
                    **fields,
                )
            )
            ids[name] = staff.id
        await uow.commit()
    return People(ids)


async def _entry(db: Database, staff_id: int, day: date, status: EntryStatus) -> None:
    async with db.uow() as uow:
        await uow.entries.add(WorkEntry(staff_id=staff_id, work_date=day, text="x", status=status))
        await uow.commit()


async def _leave(db: Database, staff_id: int, day: date) -> None:
    async with db.uow() as uow:
        await set_leave(uow, staff_id, day, by=staff_id, now=datetime.now(UTC))


def _render(readers: Languages, day: date) -> Circular:
    return reminders.daily_reminder(day, text=f"remind ({readers.language})", markup=None)


async def _run(db: Database, now: datetime) -> int | None:
    return await reminders.run_daily(db.uow, CALENDAR, AT, SHANGHAI, _render, now=now)


async def _outbox(db: Database) -> list[OutboxMessage]:
    async with db.uow() as uow:
        return list(await uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


@pytest.fixture
async def office(db: Database) -> People:
    people = await _seed(
        db,
        {
            "Active": {},
            "Second Line": {"status": StaffStatus.SECOND_LINE},
            "Left": {"status": StaffStatus.LEFT},
            "Unlinked": {"telegram": None},
            "Logged": {},
            "Deleted Only": {},
            "On Leave": {},
            "Logged Yesterday": {},
            "Leave Tomorrow": {},
            "Returned": {},
        },
    )
    await _entry(db, people["Logged"], THURSDAY, EntryStatus.SUBMITTED)
    await _entry(db, people["Returned"], THURSDAY, EntryStatus.RETURNED)
    await _entry(db, people["Deleted Only"], THURSDAY, EntryStatus.DELETED)
    await _entry(db, people["Logged Yesterday"], date(2025, 11, 19), EntryStatus.APPROVED)
    await _leave(db, people["On Leave"], THURSDAY)
    await _leave(db, people["Leave Tomorrow"], date(2025, 11, 21))
    return people


@contextlib.contextmanager
def statements(db: Database) -> Iterator[list[tuple[str, Any]]]:
    """Every SQL statement the engine runs inside the block, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)


async def test_reminded_are_the_working_linked_people_with_no_entry_and_no_leave(
    db: Database, office: People
) -> None:
    async with db.uow() as uow:
        with statements(db) as seen:
            owing = await uow.leave.owing_entry(THURSDAY)
    assert [person.name for person in owing] == [
        "Active",
        "Second Line",
        "Deleted Only",
        "Logged Yesterday",
        "Leave Tomorrow",
    ]
    assert owing[0] == Recipient(office["Active"], 1001, "Active", None, None)
    assert len(seen) == 1, "one query, not one per person"
    if db.engine.dialect.name == "sqlite":
        sql, parameters = seen[0]
        async with db.engine.connect() as connection:
            plan = " ".join(
                str(row[-1])
                for row in await connection.exec_driver_sql(
                    f"EXPLAIN QUERY PLAN {sql}", parameters
                )
            )
        # SQLite names the unique constraint's index itself (sqlite_autoindex_...).
        assert "SEARCH work_entries USING INDEX ix_work_entries_staff_id_work_date" in plan
        assert "SEARCH leave_days USING INDEX" in plan, plan


async def test_the_daily_reminder_is_queued_once_after_its_time_on_a_workday(
    db: Database, office: People
) -> None:
    assert await _run(db, at(THURSDAY, 17, 29)) is None, "too early"
    assert await _run(db, at(THURSDAY, 17, 30)) == 5
    assert await _run(db, at(THURSDAY, 17, 31)) is None, "claimed already"
    assert await _run(db, at(THURSDAY, 23, 59)) is None
    rows = await _outbox(db)
    assert [row.dedup_key for row in rows] == [
        f"daily-reminder/2025-11-20/staff/{office[name]}"
        for name in ("Active", "Second Line", "Deleted Only", "Logged Yesterday", "Leave Tomorrow")
    ]
    assert {row.kind for row in rows} == {"daily_reminder"}
    assert rows[0].chat_id == 1001 and rows[0].text == "remind (None)"
    async with db.uow() as uow:
        claims = list(await uow.session.scalars(select(JobClaim.key)))
    assert claims == ["daily-reminder/2025-11-20"]


async def test_a_late_start_still_reminds_the_same_day_but_never_a_past_day(
    db: Database, office: People
) -> None:
    assert await _run(db, at(THURSDAY, 19, 0)) == 5, "the bot was down at 17:30"
    # Down all Friday evening: Saturday morning does not remind anyone about Friday.
    assert await _run(db, at(date(2025, 11, 22), 9, 0)) is None
    async with db.uow() as uow:
        assert not await uow.claims.claimed("daily-reminder/2025-11-21")


@pytest.mark.parametrize(
    "day",
    [
        date(2025, 10, 1),  # National Day
        date(2025, 10, 8),  # a bridged day off
        date(2025, 11, 22),  # an ordinary Saturday
    ],
)
async def test_no_reminder_on_days_off(db: Database, office: People, day: date) -> None:
    assert await _run(db, at(day, 18, 0)) is None
    assert await _outbox(db) == []


async def test_a_make_up_saturday_is_reminded(db: Database, office: People) -> None:
    assert await _run(db, at(date(2025, 10, 11), 18, 0)) == 8


async def test_claims_are_taken_once(db: Database) -> None:
    now = at(THURSDAY, 17, 30)
    async with db.uow() as uow:
        assert await uow.claims.claim("team-summary/2025-11-20", now)
        assert not await uow.claims.claim("team-summary/2025-11-20", now)
        await uow.commit()
    async with db.uow() as uow:
        assert await uow.claims.claimed("team-summary/2025-11-20")
        assert not await uow.claims.claim("team-summary/2025-11-20", now)


async def test_concurrent_jobs_queue_each_reminder_once(db: Database, office: People) -> None:
    # Eight bot processes ticking at the same moment.
    results = await asyncio.gather(*(_run(db, at(THURSDAY, 17, 30)) for _ in range(8)))
    assert sorted(results, key=str) == [5] + [None] * 7
    assert len(await _outbox(db)) == 5


async def test_a_crash_while_queueing_leaves_neither_claim_nor_reminders(
    db: Database, office: People
) -> None:
    def broken(readers: Languages, day: date) -> Circular:
        raise RuntimeError("crash half-way")

    with pytest.raises(RuntimeError):
        await reminders.run_daily(db.uow, CALENDAR, AT, SHANGHAI, broken, now=at(THURSDAY, 17, 30))
    assert await _outbox(db) == []
    async with db.uow() as uow:
        assert not await uow.claims.claimed("daily-reminder/2025-11-20")
    assert await _run(db, at(THURSDAY, 17, 31)) == 5, "the next tick does the work"


async def test_snoozing_queues_one_more_reminder_an_hour_later(
    db: Database, office: People
) -> None:
    person = office["Active"]
    now = at(THURSDAY, 17, 40)

    async def snooze(staff_id: int, moment: datetime) -> tuple[SnoozeOutcome, datetime]:
        async with db.uow() as uow:
            return await reminders.snooze(
                uow, staff_id, 1001, THURSDAY, text="again", markup=None, now=moment,
                zone=SHANGHAI,
            )  # fmt: skip

    assert await snooze(person, now) == (SnoozeOutcome.QUEUED, at(THURSDAY, 18, 40))
    assert (await snooze(person, at(THURSDAY, 17, 50)))[0] is SnoozeOutcome.ALREADY_QUEUED
    assert (await snooze(office["Logged"], now))[0] is SnoozeOutcome.NOT_NEEDED
    assert (await snooze(office["On Leave"], now))[0] is SnoozeOutcome.NOT_NEEDED
    assert (await snooze(office["Second Line"], at(THURSDAY, 23, 0)))[0] is (
        SnoozeOutcome.TOO_LATE
    ), "an hour later is tomorrow"
    [row] = await _outbox(db)
    assert row.dedup_key == f"daily-reminder-snooze/2025-11-20/staff/{person}"
    assert row.kind == "daily_reminder_snooze"
    assert row.next_attempt_at == at(THURSDAY, 18, 40)
    assert row.staff_id == person and row.text == "again"


async def test_reminders_no_longer_needed_are_withdrawn_before_they_go(
    db: Database, office: People
) -> None:
    assert await _run(db, at(THURSDAY, 17, 30)) == 5
    async with db.uow() as uow:
        await reminders.snooze(
            uow, office["Active"], 1001, THURSDAY, text="again", markup=None,
            now=at(THURSDAY, 17, 35), zone=SHANGHAI,
        )  # fmt: skip
    # Active logs and Second Line takes the day off before their reminders go out.
    await _entry(db, office["Active"], THURSDAY, EntryStatus.SUBMITTED)
    await _leave(db, office["Second Line"], THURSDAY)
    await _run(db, at(THURSDAY, 17, 40))
    left = {(row.kind, row.staff_id) for row in await _outbox(db)}
    assert ("daily_reminder_snooze", office["Active"]) not in left
    assert ("daily_reminder", office["Active"]) not in left
    assert ("daily_reminder", office["Second Line"]) not in left
    assert ("daily_reminder", office["Deleted Only"]) in left


async def test_a_reminder_left_from_an_earlier_day_is_withdrawn(
    db: Database, office: People
) -> None:
    assert await _run(db, at(THURSDAY, 17, 30)) == 5
    async with db.uow() as uow:
        await reminders.snooze(
            uow, office["Deleted Only"], 1006, THURSDAY, text="again", markup=None,
            now=at(THURSDAY, 20, 0), zone=SHANGHAI,
        )  # fmt: skip
    # The bot was down from Thursday evening to Friday morning: nothing of Thursday goes.
    assert await _run(db, at(date(2025, 11, 21), 8, 0)) is None
    assert await _outbox(db) == []


async def test_messages_being_sent_are_not_withdrawn(db: Database, office: People) -> None:
    assert await _run(db, at(THURSDAY, 17, 30)) == 5
    async with db.uow() as uow:
        claimed = await uow.outbox.claim("sender", 1, datetime.now(SHANGHAI), LEASE)
        await uow.commit()
    assert len(claimed) == 1
    await _run(db, at(date(2025, 11, 21), 8, 0))
    assert [row.id for row in await _outbox(db)] == [claimed[0].id]


async def test_leave_is_recorded_once_audited_and_removable(db: Database, office: People) -> None:
    person = office["Active"]
    async with db.uow() as uow:
        assert await set_leave(
            uow, person, THURSDAY, by=office["Second Line"], now=datetime.now(UTC)
        )
    async with db.uow() as uow:
        assert not await set_leave(uow, person, THURSDAY, by=person, now=datetime.now(UTC))
    async with db.uow() as uow:
        assert await leave_days(uow, person, date(2025, 11, 1), date(2025, 11, 30)) == [THURSDAY]
        assert (person, THURSDAY) in await uow.leave.between(THURSDAY, THURSDAY)
        assert await uow.leave.day_of(person, THURSDAY) == (False, True)
        row = await uow.session.scalar(select(LeaveDay).where(LeaveDay.staff_id == person))
        assert row is not None and row.recorded_by_id == office["Second Line"]
    async with db.uow() as uow:
        assert await clear_leave(uow, person, THURSDAY, by=person, now=datetime.now(UTC))
    async with db.uow() as uow:
        assert not await clear_leave(uow, person, THURSDAY, by=person, now=datetime.now(UTC))
    async with db.uow() as uow:
        assert await leave_days(uow, person, THURSDAY, THURSDAY) == []
        events = await uow.session.execute(
            select(AuditEvent.action, AuditEvent.actor_staff_id, AuditEvent.details)
            .where(AuditEvent.subject_id == str(person))
            .order_by(AuditEvent.id)
        )
        assert [tuple(event) for event in events] == [
            ("leave.recorded", office["Second Line"], {"day": "2025-11-20", "kind": "leave"}),
            ("leave.removed", person, {"day": "2025-11-20"}),
        ]


@pytest.fixture
async def teams(db: Database) -> People:
    people = await _seed(
        db,
        {
            "Boss": {},
            "Idle": {"supervisor": "Boss"},
            "Busy": {"supervisor": "Boss"},
            "Away": {"supervisor": "Boss"},
            "Gone": {"supervisor": "Boss", "status": StaffStatus.LEFT},
            "Newcomer": {"supervisor": "Boss", "telegram": None},
            "Happy Boss": {},
            "Diligent": {"supervisor": "Happy Boss"},
            "Offline Boss": {"telegram": None},
            "Orphan": {"supervisor": "Offline Boss"},
            "Relaxed Boss": {},
            "Holiday": {"supervisor": "Relaxed Boss"},
        },
    )
    for name in ("Busy", "Diligent", "Boss"):
        await _entry(db, people[name], THURSDAY, EntryStatus.SUBMITTED)
    for name in ("Away", "Holiday"):
        await _leave(db, people[name], THURSDAY)
    return people


async def test_supervisors_learn_who_of_their_team_has_not_logged(
    db: Database, teams: People
) -> None:
    summaries: list[TeamSummary] = []

    def render(summary: TeamSummary) -> Outgoing:
        summaries.append(summary)
        return reminders.team_summary_message(summary, text="summary")

    async def run(now: datetime) -> int | None:
        return await reminders.run_team_summary(
            db.uow, CALENDAR, time(18, 30), SHANGHAI, render, now=now
        )

    assert await run(at(THURSDAY, 18, 29)) is None
    assert await run(at(date(2025, 10, 1), 18, 30)) is None, "a holiday"
    assert await run(at(THURSDAY, 18, 30)) == 1
    assert await run(at(THURSDAY, 18, 31)) is None
    [summary] = summaries
    assert summary.supervisor.staff_id == teams["Boss"]
    assert [(r.name, r.linked) for r in summary.missing] == [("Idle", True), ("Newcomer", False)]
    assert [r.name for r in summary.on_leave] == ["Away"]
    [row] = await _outbox(db)
    assert row.dedup_key == f"team-summary/2025-11-20/staff/{teams['Boss']}"
    assert row.kind == "team_summary"


async def test_a_supervisor_sees_each_reports_day(db: Database, teams: People) -> None:
    async with db.uow() as uow:
        states = await reminders.team_today(uow, teams["Boss"], THURSDAY)
    assert states == {
        "E002": DayState.NOT_YET,
        "E003": DayState.LOGGED,
        "E004": DayState.ON_LEAVE,
        "E006": DayState.NOT_YET,
    }


async def test_the_team_summary_is_one_query(db: Database, teams: People) -> None:
    async with db.uow() as uow:
        with statements(db) as seen:
            absent = await uow.leave.absent_reports(THURSDAY)
        assert len(seen) == 1
    assert {row.supervisor.name for row in absent} == {"Boss", "Relaxed Boss"}
