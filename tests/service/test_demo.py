"""The sandbox's demo organisation, built on a real store (SQLite and PostgreSQL) at
several clock dates: what it holds, and that it is data the rules themselves accept."""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from assessment import results
from assessment.calendar import WorkCalendar
from assessment.periods import Stage, current_stage, period_of
from assessment.roster import parse_roster
from assessment.roster_import import import_roster
from bot.sandbox.demo import (
    DEMO_FIRST_TELEGRAM_ID,
    DEMO_ROSTER_NAME,
    DEMO_TELEGRAM_IDS,
    DemoStoreNotEmptyError,
    DemoSummary,
    build_demo,
    demo_people,
    demo_roster,
)
from config.clock import Clock
from config.policy import load_policy
from config.settings import Settings
from handlers.context import BotData
from storage.engine import Database
from storage.enums import EntryStatus, Role, StaffStatus
from storage.models import (
    AssessmentPeriod,
    AuditEvent,
    Department,
    LeaveDay,
    OutboxMessage,
    PeriodReview,
    Post,
    Staff,
    WorkEntry,
)

ZONE = "Asia/Shanghai"
# Mid-month; the 1st (the previous month in self-assessment); the 4th (its supervisor
# review has begun); a Sunday.
MOMENTS = [
    "2026-11-16T10:00:00+08:00",
    "2026-12-01T09:00:00+08:00",
    "2026-12-04T15:00:00+08:00",
    "2026-11-22T11:00:00+08:00",
]
_CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
async def data(database_url: str) -> AsyncIterator[BotData]:
    """The running application's ``bot_data`` as the sandbox hands it over."""
    bot_data = BotData()
    bot_data.configure(
        Settings(database_url=database_url, timezone=ZONE, language="zh_Hans"), load_policy()
    )
    database = Database(database_url)
    bot_data.attach(database)
    yield bot_data
    await database.dispose()


@pytest.mark.parametrize("moment", MOMENTS)
async def test_the_demo_organisation(
    data: BotData, moment: str, caplog: pytest.LogCaptureFixture
) -> None:
    data.clock = Clock.at(datetime.fromisoformat(moment))
    caplog.set_level(logging.WARNING)
    summary = await build_demo(data)

    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert isinstance(summary, DemoSummary)
    assert (summary.people, summary.departments, summary.periods) == (30, 3, 2)
    assert summary.entries_approved > 150
    assert summary.entries_pending > 0
    assert (summary.entries_returned, summary.entries_rejected) == (1, 1)

    policy, zone = data.policy, data.settings.zone
    today = data.clock.today(zone)
    async with data.database.uow() as uow:
        session = uow.session
        # Three departments, each of its own post type.
        kinds: dict[str, set[str]] = {}
        for name, post_type in await session.execute(
            select(Department.name, Post.post_type).join(Post, Post.department_id == Department.id)
        ):
            kinds.setdefault(name, set()).add(post_type)
        assert len(kinds) == 3
        assert sorted(t for types in kinds.values() for t in types) == [
            "law_enforcement",
            "management",
            "service",
        ]

        # Everyone joined, as the emulated Telegram users the sandbox sends as.
        people = list(await session.scalars(select(Staff).order_by(Staff.telegram_user_id)))
        assert len(people) == 30
        emulated = demo_people()
        assert [p.telegram_user_id for p in people] == [e.telegram_user_id for e in emulated]
        assert emulated[0].telegram_user_id == DEMO_FIRST_TELEGRAM_ID
        assert tuple(e.telegram_user_id for e in emulated) == DEMO_TELEGRAM_IDS
        assert {e.language_code for e in emulated} == {"en", "zh-hans", "zh-hant"}
        assert [p.employee_no for p in people] == [e.employee_no for e in emulated]
        assert all(e.first_name and e.last_name for e in emulated)

        # Supervisors, HR, an administrator, a second-line adviser on a management post.
        supervisors = [p for p in people if p.roles & Role.SUPERVISOR]
        assert len(supervisors) == 4
        assert [p.employee_no for p in people if p.roles & Role.HR] == ["A02"]
        assert [p.employee_no for p in people if p.roles & Role.ADMIN] == ["A01"]
        second_line = [p for p in people if p.status is StaffStatus.SECOND_LINE]
        assert len(second_line) == 1
        post = await session.get(Post, second_line[0].post_id)
        assert post is not None and post.post_type == "management"
        reports = Counter(p.supervisor_id for p in people)
        assert all(reports[s.id] >= 4 for s in supervisors)

        # Someone on leave, through today's last workday.
        calendar = WorkCalendar(policy)
        leave = list(await session.scalars(select(LeaveDay.day)))
        assert len(leave) == 3
        assert max(leave) == calendar.workdays(today - timedelta(days=20), today)[-1]

        # Entries: on workdays, in Chinese and English, by status as the summary counts.
        entries = list(await session.scalars(select(WorkEntry)))
        statuses = Counter(entry.status for entry in entries)
        assert statuses == {
            EntryStatus.APPROVED: summary.entries_approved,
            EntryStatus.SUBMITTED: summary.entries_pending,
            EntryStatus.RETURNED: 1,
            EntryStatus.REJECTED: 1,
        }
        assert all(calendar.is_workday(entry.work_date) for entry in entries)
        assert all(entry.work_date <= today for entry in entries)
        assert any(_CJK.search(entry.text) for entry in entries)
        assert any(entry.text.isascii() for entry in entries)
        assert any(entry.hours is not None and entry.quantity is not None for entry in entries)
        # The waiting ones are recent: none is old enough to be escalated yet.
        waiting = [e.work_date for e in entries if e.status is EntryStatus.SUBMITTED]
        assert len(calendar.workdays(min(waiting), today)) <= 2

        # The period two back: published, everyone scored 0..100 and graded within the
        # quota, but the director (left out by HR); each has their score notice.
        under_review = period_of(today, policy).previous()
        published = under_review.previous()
        stored = await uow.periods.by_key(published.key)
        assert stored is not None and stored.published_at is not None
        scope = await uow.results.people(stored.id)
        assert len(scope) == 30
        excluded = [p.employee_no for p in scope if p.excluded_reason is not None]
        assert excluded == ["A01"]
        scored = [p for p in scope if p.excluded_reason is None]
        assert all(p.signed_off and p.score is not None for p in scored)
        assert all(0 <= (p.score or 0) <= 100 for p in scored)
        assert {p.grade_id for p in scored} <= {grade.id for grade in policy.grades}
        assert len({p.grade_id for p in scored}) >= 2
        assert all(p.published_at is not None for p in scored)
        assert await results.quota_problems(uow, stored.id, policy) == ()
        notices = await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "score")
        )
        assert notices == len(scored)
        menus = await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "menu")
        )
        assert menus == 30

        # The previous period: under review as far as today's date takes it.
        stage = await current_stage(uow, under_review, today, policy, zone)
        assert stage in (Stage.SELF_ASSESSMENT, Stage.SUPERVISOR_REVIEW, Stage.CALIBRATION)
        row = await uow.periods.by_key(under_review.key)
        assert row is not None and row.published_at is None
        reviews = list(
            await session.scalars(select(PeriodReview).where(PeriodReview.period_id == row.id))
        )
        written = [r for r in reviews if r.self_text]
        signed = [r for r in reviews if r.signed_off_at is not None]
        assert len(written) >= 3
        if stage is Stage.SELF_ASSESSMENT:
            assert signed == []
        else:
            assert 1 <= len(signed) < len(written)
        periods = await session.scalar(select(func.count()).select_from(AssessmentPeriod))
        assert periods == 2
        audited = await session.scalar(select(func.count()).select_from(AuditEvent))

    # Every person passes the roster import's own checks: imported again (a preview),
    # the same roster changes nothing.
    roster = parse_roster(demo_roster(), DEMO_ROSTER_NAME, policy)
    async with data.database.uow() as uow:
        preview = await import_roster(
            uow, roster, actor_staff_id=None, now=data.clock.now(), dry_run=True
        )
    assert (preview.created, preview.updated, preview.missing) == ((), (), ())
    assert len(preview.unchanged) == 30
    assert preview.role_changes == {}

    # Built once only: a second build is refused before it writes anything.
    with pytest.raises(DemoStoreNotEmptyError):
        await build_demo(data)
    async with data.database.uow() as uow:
        again = await uow.session.scalar(select(func.count()).select_from(WorkEntry))
        events = await uow.session.scalar(select(func.count()).select_from(AuditEvent))
    assert again == len(entries)
    assert events == audited
