"""Every scheduled job does its work once, however many bot processes share the store.

The jobs are the ones the real Application schedules (read from its JobQueue, so a new
job cannot escape this test). Over the demo organisation, at a moment when much is due,
each job runs in two Applications on one store at the same time; its effect there (the
outbox rows it queued, the calls it made to Telegram) must equal that of one run in one
Application on a copy of the store. Then a later tick in one of the two must do what a
later tick of the lone one does: nothing at all, unless there is more to do (a broadcast's
progress moved on).
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import sqlite3
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.engine import make_url

from assessment import notices
from assessment.notices import Audience
from bot.app import build_application
from bot.emulator import EmulatedUser, EmulatorDriver, RunningEmulator
from bot.sandbox.demo import build_demo, demo_people
from config.clock import Clock
from config.policy import load_policy
from config.settings import Settings
from handlers.context import WorkledgerApplication, WorkledgerContext
from storage.engine import Database, create_engine
from storage.enums import Role
from storage.models import OutboxMessage, Staff

from .conftest import TOKEN

pytestmark = pytest.mark.e2e

# A Friday evening, the supervisor review under way: reminders, summaries, requests due.
MOMENT = datetime.fromisoformat("2026-12-04T19:00:00+08:00")
# Jobs with work to do at that moment: the comparison must have something to compare.
BUSY = {"daily-reminder", "team-summary", "approval-requests", "monthly-check", "notice-progress"}
Effect = Counter[tuple[Any, ...]]


def _settings(url: str, emulator: RunningEmulator) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        token=TOKEN,  # type: ignore[arg-type]
        database_url=url,
        api_url=emulator.base_url,
        timezone="Asia/Shanghai",
        language="zh_Hans",
        secret_key=secrets.token_hex(32),  # type: ignore[arg-type]
    )


async def _started(stack: AsyncExitStack, settings: Settings) -> WorkledgerApplication:
    """An Application as ``running`` starts it, jobs scheduled, but its sender stopped: the
    outbox stays as the jobs leave it."""
    application = build_application(settings, load_policy())
    application.bot_data.clock = Clock.at(MOMENT)
    await application.initialize()
    assert application.post_init is not None
    await application.post_init(application)
    data = application.bot_data
    data.stop_background.set()
    await asyncio.gather(*data.background)

    async def close() -> None:
        await application.shutdown()
        assert application.post_shutdown is not None
        await application.post_shutdown(application)

    stack.push_async_callback(close)
    return application


async def _copy(url: str, tmp_path: Path, database: Database) -> AsyncIterator[str]:
    """A copy of the store at ``url`` as it is now."""
    if url.startswith("sqlite"):
        source = make_url(url).database
        assert source is not None
        target = tmp_path / "copy.db"
        with sqlite3.connect(source) as live, sqlite3.connect(target) as copy:
            live.backup(copy)
        yield f"sqlite+aiosqlite:///{target}"
        return
    name = f"copy_{uuid.uuid4().hex[:12]}"
    source_name = make_url(url).database
    admin = create_engine(
        make_url(url).set(database="postgres").render_as_string(hide_password=False)
    ).execution_options(isolation_level="AUTOCOMMIT")
    # A template must have no other connection while it is copied.
    await database.engine.dispose()
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source_name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def _broadcast_under_way(application: WorkledgerApplication, driver: EmulatorDriver) -> None:
    """HR's notice to everyone, confirmed: its copies and progress are the jobs' to do."""
    for person in demo_people():
        await driver.add_user(
            EmulatedUser(id=person.telegram_user_id, first_name=person.first_name)
        )
    data = application.bot_data
    async with data.database.uow() as uow:
        staff = (await uow.session.scalars(select(Staff).order_by(Staff.id))).all()
        hr = next(p for p in staff if Role.HR in p.roles and p.telegram_user_id)
        assert hr is not None and hr.telegram_user_id is not None
        notice_id = await notices.start(uow, hr.id)
        await notices.set_content(uow, notice_id, hr.id, text="Office closed on Friday")
        await notices.change(
            uow, notice_id, hr.id, lambda draft: dataclasses.replace(draft, audience=Audience())
        )
        queued = await notices.queue(
            uow, notice_id, hr.id, now=data.clock.now(), progress_chat_id=hr.telegram_user_id
        )
        assert not isinstance(queued, notices.NoticeError), queued


async def _outbox(application: WorkledgerApplication) -> Effect:
    async with application.bot_data.database.uow() as uow:
        rows = await uow.session.execute(
            select(
                OutboxMessage.chat_id,
                OutboxMessage.kind,
                OutboxMessage.dedup_key,
                OutboxMessage.text,
            )
        )
        return Counter(tuple(row) for row in rows)


async def _effect(
    applications: list[WorkledgerApplication],
    run: Callable[[], Awaitable[None]],
    driver: EmulatorDriver,
) -> tuple[Effect, Effect]:
    """What ``run`` added to the outbox of ``applications``' store, and sent to Telegram."""
    before, calls = await _outbox(applications[0]), len(await driver.calls())
    await run()
    added = await _outbox(applications[0])
    added.subtract(before)
    sent = Counter(
        (call["method"], call["params"].get("chat_id"), call["params"].get("text"))
        for call in (await driver.calls())[calls:]
    )
    return +added, sent


def _writes(database: Database) -> Callable[[], tuple[int, list[str]]]:
    """From now on, until called: how many statements ran, and those that changed rows."""
    statements = 0
    changed: list[str] = []

    def seen(_conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        nonlocal statements
        statements += 1
        writes = statement.lstrip().split(None, 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"}
        if writes and (cursor.rowcount or 0) > 0:
            changed.append(statement.split("\n", 1)[0][:120])

    engine = database.engine.sync_engine
    event.listen(engine, "after_cursor_execute", seen)

    def stop() -> tuple[int, list[str]]:
        event.remove(engine, "after_cursor_execute", seen)
        return statements, changed

    return stop


async def _run(application: WorkledgerApplication, name: str) -> None:
    assert application.job_queue is not None
    [job] = application.job_queue.get_jobs_by_name(name)
    await job.callback(WorkledgerContext.from_job(job, application))


async def test_every_scheduled_job_does_its_work_once_across_two_processes(
    database_url: str, emulator: RunningEmulator, driver: EmulatorDriver, tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        first = await _started(stack, _settings(database_url, emulator))
        await build_demo(first.bot_data)
        await _broadcast_under_way(first, driver)
        copies = _copy(database_url, tmp_path, first.bot_data.database)
        copy_url = await anext(copies)
        stack.push_async_callback(copies.aclose)
        second = await _started(stack, _settings(database_url, emulator))
        alone = await _started(stack, _settings(copy_url, emulator))

        assert first.job_queue is not None
        names = sorted(job.name or "" for job in first.job_queue.jobs())
        assert names and all(names), "every job has a name"
        assert len(set(names)) == len(names)

        busy = set()
        ticks: dict[str, int] = {}
        for name in names:
            both, sent_both = await _effect(
                [first],
                lambda name=name: _gather(_run(first, name), _run(second, name)),
                driver,
            )
            once, sent_once = await _effect([alone], lambda name=name: _run(alone, name), driver)
            assert both == once, f"{name}: two processes did more, or other, than one"
            assert sent_both == sent_once, f"{name}: Telegram was told more than once"
            if both or sent_both:
                busy.add(name)
            # A later tick, in a process that lost the work: what a later tick of the lone
            # process does (more progress to show), or nothing at all.
            writes = _writes(second.bot_data.database)
            again, sent_again = await _effect(
                [second], lambda name=name: _run(second, name), driver
            )
            statements, changed = writes()
            later, sent_later = await _effect([alone], lambda name=name: _run(alone, name), driver)
            assert (again, sent_again) == (later, sent_later), f"{name} did its work twice"
            if not (later or sent_later):
                assert not changed, f"{name}: a tick after the work was done changed {changed}"
            ticks[name] = statements
        print(f"with work at {MOMENT}: {sorted(busy)}; statements of a later tick: {ticks}")
        assert busy >= BUSY


async def _gather(*runs: Awaitable[None]) -> None:
    await asyncio.gather(*runs)
