"""Flood control on a real database: entries a person may write a minute and a day."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from assessment import entries
from assessment.calendar import WorkCalendar
from assessment.entries import EntryChange, EntryView, NewEntry, Rules, TooMany
from config.policy import EntryLimits, Policy, load_policy
from storage.engine import Database
from storage.enums import Role
from storage.models import AuditEvent, Department, Staff, WorkEntry

MONDAY = date(2025, 11, 17)
NOW = datetime(2025, 11, 17, 2, 30, tzinfo=UTC)  # 10:30 in Shanghai
ZONE = ZoneInfo("Asia/Shanghai")
# Midnight between Monday and Tuesday in Shanghai.
TUESDAY_STARTS = datetime(2025, 11, 17, 16, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def policy() -> Policy:
    base = load_policy()
    limits = base.entries.model_copy(update={"max_per_minute": 3, "max_per_day": 5})
    return base.model_copy(update={"entries": limits})


@pytest.fixture
async def author(db: Database) -> int:
    async with db.uow() as uow:
        office = await uow.departments.add(Department(name="Permits Office"))
        boss = await uow.staff.add(
            Staff(employee_no="E010", name="Sun Li", department_id=office.id,
                  roles=Role.STAFF | Role.SUPERVISOR, telegram_user_id=9002)
        )  # fmt: skip
        author = await uow.staff.add(
            Staff(employee_no="E011", name="Su Yi", department_id=office.id,
                  supervisor_id=boss.id, telegram_user_id=9003)
        )  # fmt: skip
        await uow.commit()
        return author.id


async def quick(
    db: Database, limits: EntryLimits, author: int, at: datetime, today: date = MONDAY
) -> EntryView | TooMany:
    async with db.uow() as uow:
        result = await entries.quick_log(
            uow,
            author,
            "Counter duty",
            today=today,
            zone=ZONE,
            limits=limits,
            now=at,
            policy=load_policy(),
        )
    assert not isinstance(result, entries.EntryError)
    return result


async def written(db: Database) -> tuple[int, int]:
    """Entries and audit events in the store."""
    async with db.uow() as uow:
        rows = await uow.session.scalar(select(func.count()).select_from(WorkEntry))
        events = await uow.session.scalar(select(func.count()).select_from(AuditEvent))
    return int(rows or 0), int(events or 0)


async def test_the_minute_limit_counts_any_sixty_seconds_and_says_when_it_lifts(
    db: Database, policy: Policy, author: int
) -> None:
    limits = policy.entries
    for seconds in (0, 10, 20):
        assert isinstance(
            await quick(db, limits, author, NOW + timedelta(seconds=seconds)), EntryView
        )
    before = await written(db)
    refused = await quick(db, limits, author, NOW + timedelta(seconds=59))
    # The oldest of the three leaves the window a minute after it was written.
    assert refused == TooMany("minute", 3, NOW + timedelta(seconds=60))
    assert await written(db) == before, "nothing written when refused"
    assert isinstance(await quick(db, limits, author, NOW + timedelta(seconds=60)), EntryView)
    # The next lifts when the second one is a minute old.
    refused = await quick(db, limits, author, NOW + timedelta(seconds=61))
    assert refused == TooMany("minute", 3, NOW + timedelta(seconds=70))


async def test_the_day_limit_lifts_at_the_organisations_midnight(
    db: Database, policy: Policy, author: int
) -> None:
    limits = policy.entries
    # Sunday 23:59 in Shanghai: the day before, not counted on Monday.
    sunday = await quick(db, limits, author, TUESDAY_STARTS - timedelta(days=1, minutes=1),
                         today=date(2025, 11, 16))  # fmt: skip
    assert isinstance(sunday, EntryView)
    for minute in range(5):
        at = NOW + timedelta(minutes=minute)
        assert isinstance(await quick(db, limits, author, at), EntryView), minute
    before = await written(db)
    refused = await quick(db, limits, author, NOW + timedelta(hours=5))
    assert refused == TooMany("day", 5, TUESDAY_STARTS)
    assert await written(db) == before
    tuesday = await quick(db, limits, author, TUESDAY_STARTS, today=MONDAY + timedelta(days=1))
    assert isinstance(tuesday, EntryView)


async def test_when_both_limits_are_met_the_answer_is_the_later_moment(
    db: Database, policy: Policy, author: int
) -> None:
    limits = policy.entries.model_copy(update={"max_per_minute": 5})
    late = TUESDAY_STARTS - timedelta(seconds=30)
    for second in range(5):
        at = late + timedelta(seconds=second)
        assert isinstance(await quick(db, limits, author, at), EntryView)
    # Five today and five within the minute: the minute lifts after midnight, so it binds.
    minute = TooMany("minute", 5, late + timedelta(seconds=60))
    assert await quick(db, limits, author, late + timedelta(seconds=10)) == minute
    assert (
        await quick(db, limits, author, TUESDAY_STARTS, today=MONDAY + timedelta(days=1)) == minute
    )


async def test_guided_entries_count_alike_and_edits_and_deletions_free_no_place(
    db: Database, policy: Policy, author: int
) -> None:
    limits = policy.entries
    rules = Rules(policy, WorkCalendar(policy), MONDAY, ZONE)
    first = await quick(db, limits, author, NOW)
    assert isinstance(first, EntryView)
    async with db.uow() as uow:
        guided = await entries.create_entry(
            uow, author, NewEntry(MONDAY, "Inspection"), rules, now=NOW + timedelta(seconds=1)
        )
    assert isinstance(guided, EntryView)
    async with db.uow() as uow:
        deleted = await entries.delete_entry(
            uow, first.id, author, today=MONDAY, now=NOW + timedelta(seconds=2), policy=policy
        )
    assert isinstance(deleted, EntryView)
    assert isinstance(await quick(db, limits, author, NOW + timedelta(seconds=3)), EntryView)
    before = await written(db)
    async with db.uow() as uow:
        refused = await entries.create_entry(
            uow, author, NewEntry(MONDAY, "One more"), rules, now=NOW + timedelta(seconds=4)
        )
    assert refused == TooMany("minute", 3, NOW + timedelta(seconds=60))
    assert await written(db) == before
    # An edit is not a new entry: it goes through at the limit.
    async with db.uow() as uow:
        edited = await entries.edit_entry(
            uow, guided.id, author, EntryChange(text="Inspection, 3 sites"), rules,
            now=NOW + timedelta(seconds=5),
        )  # fmt: skip
    assert isinstance(edited, EntryView)


async def test_two_processes_logging_for_one_person_at_once_count_one_after_the_other(
    db: Database, database_url: str, policy: Policy, author: int
) -> None:
    limits = policy.entries
    for seconds in (0, 1):
        at = NOW + timedelta(seconds=seconds)
        assert isinstance(await quick(db, limits, author, at), EntryView)
    other = Database(database_url)
    try:
        at = NOW + timedelta(seconds=2)
        async with db.uow() as uow:
            # The first process writes the third entry of the minute, not committed yet...
            third = await uow.entries.insert_within(
                {"staff_id": author, "work_date": MONDAY, "text": "third", "status": "submitted",
                 "created_at": at, "submitted_at": at, "updated_at": at, "version": 1},
                day_start=TUESDAY_STARTS - timedelta(days=1),
                minute_start=at - timedelta(minutes=1),
                per_minute=limits.max_per_minute, per_day=limits.max_per_day,
                closed_through=date.min,
            )  # fmt: skip
            assert third is not None
            # ...when the second writes for the same person: it waits for the first.
            second = asyncio.create_task(quick(other, limits, author, at))
            await asyncio.sleep(0.3)
            assert not second.done(), "the second process counted before the first ended"
            await uow.commit()
        assert await second == TooMany("minute", 3, NOW + timedelta(seconds=60))
    finally:
        await other.dispose()
    assert (await written(db))[0] == 3
