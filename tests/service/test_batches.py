"""Big jobs in batches on a real database: one transaction per batch, once across crashes."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time
from typing import Self
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, insert, select, update

from assessment import notices, reminders
from assessment.calendar import WorkCalendar
from assessment.outbox import Circular
from assessment.reminders import Languages
from config.policy import load_policy
from storage.engine import Database
from storage.enums import DeliveryStatus, EntryStatus, Role, StaffStatus
from storage.models import Department, JobClaim, Notice, OutboxMessage, Staff, WorkEntry
from storage.uow import UnitOfWork

SHANGHAI = ZoneInfo("Asia/Shanghai")
THURSDAY = date(2025, 11, 20)
AT = time(17, 30)
NOW = datetime.combine(THURSDAY, time(17, 31), tzinfo=SHANGHAI)
CALENDAR = WorkCalendar(load_policy())
DAILY = "daily-reminder/2025-11-20"


class CrashError(Exception):
    """The process died."""


class Journal:
    """Units of work for a job that count its commits and act between them.

    Whenever the job opens a unit of work after a commit, ``between`` runs first (an
    interactive write of another unit of work, say), and what it returns is kept; or,
    from ``crash_after`` commits on, the process "dies" instead. With ``crash_at_commit``
    it dies instead of making that commit (counting from 1).
    """

    def __init__(
        self,
        db: Database,
        between: Callable[[], Awaitable[int]] | None = None,
        crash_after: int | None = None,
        crash_at_commit: int | None = None,
    ) -> None:
        self.db = db
        self.between = between
        self.crash_after = crash_after
        self.crash_at_commit = crash_at_commit
        self.commits = 0
        self.seen: list[int] = []

    def uow(self) -> UnitOfWork:
        return _Watched(self)


class _Watched(UnitOfWork):
    def __init__(self, journal: Journal) -> None:
        super().__init__(journal.db.sessions)
        self.journal = journal

    async def __aenter__(self) -> Self:
        journal = self.journal
        if journal.commits > len(journal.seen):
            if journal.crash_after is not None and journal.commits >= journal.crash_after:
                raise CrashError
            journal.seen.append(await journal.between() if journal.between else 0)
        return await super().__aenter__()

    async def commit(self) -> None:
        if self.journal.commits + 1 == self.journal.crash_at_commit:
            raise CrashError
        await super().commit()
        self.journal.commits += 1


async def _staff(db: Database, count: int, *, supervised_by_first: bool = False) -> list[int]:
    """``count`` linked, active people (ids in order), English and Chinese in turn."""
    async with db.uow() as uow:
        office = await uow.departments.add(Department(name="Permits Office"))
        await uow.commit()
    now = datetime.now(UTC)
    rows = [
        {
            "employee_no": f"E{n:04}",
            "name": f"Person {n}",
            "department_id": office.id,
            "roles": Role.STAFF,
            "status": StaffStatus.ACTIVE,
            "telegram_user_id": 5000 + n,
            "language": "en" if n % 2 else "zh_Hans",
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        for n in range(count)
    ]
    async with db.engine.begin() as connection:
        await connection.execute(insert(Staff), rows)
        ids = list((await connection.execute(select(Staff.id).order_by(Staff.id))).scalars())
    assert ids == list(range(ids[0], ids[0] + count)), "consecutive ids: windows are full"
    return ids


def _render(readers: Languages, day: date) -> Circular:
    return reminders.daily_reminder(day, text=f"remind ({readers.language})", markup=None)


async def _daily(uows: Callable[[], UnitOfWork], size: int) -> int | None:
    return await reminders.run_daily(
        uows, CALENDAR, AT, SHANGHAI, _render, now=NOW, batch_size=size
    )


async def _outbox(db: Database) -> list[OutboxMessage]:
    async with db.uow() as uow:
        return list(await uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


async def _claims(db: Database) -> list[str]:
    async with db.uow() as uow:
        return sorted(await uow.session.scalars(select(JobClaim.key)))


def _quick_log(db: Database, staff_id: int) -> Callable[[], Awaitable[int]]:
    """An interactive write (yesterday's entry) that returns the reminders queued so far."""

    async def write() -> int:
        async with db.uow() as uow:
            await uow.entries.add(
                WorkEntry(
                    staff_id=staff_id,
                    work_date=date(2025, 11, 19),
                    text="permits",
                    status=EntryStatus.SUBMITTED,
                )
            )
            await uow.commit()
        async with db.uow() as uow:
            return int(
                await uow.session.scalar(select(func.count()).select_from(OutboxMessage)) or 0
            )

    return write


@pytest.mark.parametrize(("people", "size"), [(7, 3), (6, 3), (5, 1000)])
async def test_the_daily_reminder_commits_one_batch_at_a_time(
    db: Database, people: int, size: int
) -> None:
    ids = await _staff(db, people)
    journal = Journal(db, between=_quick_log(db, ids[0]))
    assert await _daily(journal.uow, size) == people
    batches = math.ceil(people / size)
    assert journal.commits == batches
    # Between any two batches another unit of work wrote, and saw the batches so far.
    assert journal.seen == [size * n for n in range(1, batches)]
    rows = await _outbox(db)
    assert sorted(row.staff_id for row in rows) == ids
    assert {row.dedup_key for row in rows} == {f"{DAILY}/staff/{i}" for i in ids}
    texts = {row.staff_id: row.text for row in rows}
    assert texts[ids[0]] == "remind (zh_Hans)" and texts[ids[1]] == "remind (en)"
    assert await _claims(db) == [DAILY], "the batches' claims go with the last one"
    async with db.uow() as uow:
        logged = await uow.session.scalar(select(func.count()).select_from(WorkEntry))
    assert logged == batches - 1, "every interactive write went through"


async def test_a_crash_between_batches_is_finished_by_the_next_run_once(db: Database) -> None:
    ids = await _staff(db, 7)
    journal = Journal(db, crash_after=1)
    with pytest.raises(CrashError):
        await _daily(journal.uow, 3)
    assert sorted(row.staff_id for row in await _outbox(db)) == ids[:3]
    assert await _claims(db) == [f"{DAILY}/batch/0"], "the day is not done yet"

    assert await _daily(Journal(db).uow, 3) == 4, "only the people left"
    assert await _daily(Journal(db).uow, 3) is None
    assert Counter(row.staff_id for row in await _outbox(db)) == Counter(ids)
    assert await _claims(db) == [DAILY]


async def test_a_crash_inside_a_batch_leaves_that_batch_to_the_next_run(db: Database) -> None:
    ids = await _staff(db, 7)
    journal = Journal(db, crash_at_commit=2)  # the second batch, written but not committed
    with pytest.raises(CrashError):
        await _daily(journal.uow, 3)
    assert sorted(row.staff_id for row in await _outbox(db)) == ids[:3]
    assert await _claims(db) == [f"{DAILY}/batch/0"]
    assert await _daily(db.uow, 3) == 4
    assert Counter(row.staff_id for row in await _outbox(db)) == Counter(ids)


async def test_two_processes_walking_at_once_queue_each_reminder_once(db: Database) -> None:
    ids = await _staff(db, 20)
    results = await asyncio.gather(*(_daily(db.uow, 3) for _ in range(4)))
    assert sum(result or 0 for result in results) == 20
    assert Counter(row.staff_id for row in await _outbox(db)) == Counter(ids)
    assert DAILY in await _claims(db)


async def test_batches_skip_people_who_owe_nothing_and_windows_with_nobody(
    db: Database,
) -> None:
    ids = await _staff(db, 9)
    async with db.uow() as uow:
        for staff_id in ids[3:6]:  # the whole second window logged
            await uow.entries.add(
                WorkEntry(staff_id=staff_id, work_date=THURSDAY, text="x", status="submitted")
            )
        await uow.commit()
    journal = Journal(db)
    assert await _daily(journal.uow, 3) == 6
    assert journal.commits == 2, "the two windows with anyone to remind"
    assert sorted(row.staff_id for row in await _outbox(db)) == ids[:3] + ids[6:]


async def test_the_next_ticks_tidy_up_goes_in_batches_too(db: Database) -> None:
    ids = await _staff(db, 7)
    assert await _daily(db.uow, 3) == 7
    async with db.uow() as uow:
        for staff_id in (ids[1], ids[5]):  # logged before their reminders went
            await uow.entries.add(
                WorkEntry(staff_id=staff_id, work_date=THURSDAY, text="x", status="submitted")
            )
        await uow.commit()
    journal = Journal(db, between=_quick_log(db, ids[0]))
    assert await _daily(journal.uow, 3) is None, "done already"
    assert journal.commits == 3, "seven queued reminders, three at a time"
    assert journal.seen == [6, 5, 5], "a quick log between batches, seeing the queue shrink"
    left = sorted(row.staff_id for row in await _outbox(db))
    assert left == [i for i in ids if i not in (ids[1], ids[5])]


async def _notice(db: Database, author_id: int) -> int:
    """A notice to everyone, confirmed by its author: queued, its copies not yet."""
    async with db.uow() as uow:
        notice = await uow.notices.add(
            Notice(created_by_id=author_id, audience={"kind": "everyone"}, text="Fire drill")
        )
        await uow.commit()
    async with db.uow() as uow:
        queued = await notices.queue(uow, notice.id, author_id, now=NOW, progress_chat_id=1)
    assert isinstance(queued, notices.Progress) and not queued.all_queued
    return notice.id


def _copy(draft: notices.Draft, author: str, readers: Languages) -> Circular:
    return notices.copy_for(
        draft, text=f"{author}: {draft.text} ({readers.language})", markup=None
    )


async def _figures(db: Database, notice_id: int) -> notices.Progress:
    async with db.uow() as uow:
        figures = await notices.progress(uow, notice_id)
    assert figures is not None
    return figures


async def test_a_broadcast_queues_its_copies_one_batch_at_a_time(db: Database) -> None:
    ids = await _staff(db, 8)
    notice_id = await _notice(db, ids[0])
    journal = Journal(db, between=_quick_log(db, ids[-1]))
    assert await notices.queue_copies(journal.uow, notice_id, _copy, now=NOW, batch_size=3) == 8
    assert journal.commits == 3
    assert journal.seen == [3, 6], "another unit of work wrote, and saw the copies so far"
    rows = await _outbox(db)
    assert sorted(row.staff_id for row in rows) == ids
    assert {row.dedup_key for row in rows} == {f"notice:{notice_id}:staff:{i}" for i in ids}
    assert {row.text for row in rows} == {
        "Person 0: Fire drill (zh_Hans)",
        "Person 0: Fire drill (en)",
    }
    figures = await _figures(db, notice_id)
    assert figures.all_queued and figures.recipients == 8 and not figures.finished


async def test_a_broadcast_cut_short_is_finished_once_and_not_before(db: Database) -> None:
    ids = await _staff(db, 8)
    notice_id = await _notice(db, ids[0])
    with pytest.raises(CrashError):
        await notices.queue_copies(
            Journal(db, crash_after=1).uow, notice_id, _copy, now=NOW, batch_size=3
        )
    assert len(await _outbox(db)) == 3
    # The three copies queued so far were all delivered: the notice is not done yet.
    async with db.uow() as uow:
        await uow.session.execute(update(OutboxMessage).values(status=DeliveryStatus.SENT))
        await uow.commit()
    figures = await _figures(db, notice_id)
    assert figures.waiting == 0 and not figures.all_queued and not figures.finished

    assert await notices.queue_copies(db.uow, notice_id, _copy, now=NOW, batch_size=3) == 5
    assert await notices.queue_copies(db.uow, notice_id, _copy, now=NOW, batch_size=3) is None
    assert Counter(row.staff_id for row in await _outbox(db)) == Counter(ids)
    assert (await _figures(db, notice_id)).all_queued
