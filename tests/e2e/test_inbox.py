"""The durable inbox from outside: ``workledger run`` killed or stopped mid-burst loses nothing.

The bot runs as its own process, as an operator runs it, against the emulator in this
process (which confirms ``getUpdates`` offsets as Telegram does) and a file store.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from assessment.outbox import Outgoing, enqueue
from bot.emulator import EmulatedUser, EmulatorDriver, RunningEmulator
from storage.engine import Database
from storage.enums import DeliveryStatus, Role
from storage.models import (
    Department,
    InboxUpdate,
    OutboxMessage,
    Post,
    ProcessedUpdate,
    Staff,
    WorkEntry,
)

from .conftest import TOKEN, eventually

pytestmark = pytest.mark.e2e

PEOPLE = 5
MESSAGES = 300
# Seeded, so a failure can be run again as it was; the kill comes after this many replies.
SEED = int(os.environ.get("WORKLEDGER_TEST_KILL_SEED", "11"))
DEFAULT_POLICY = Path(__file__).parents[2] / "config" / "policies" / "default.toml"
CLEAN_EXIT_SIGNS = ("Traceback", "Task was destroyed", "was never awaited", "ERROR")


@dataclass
class BotProcess:
    """``python -m bot run`` with its log in a file (a pipe nobody reads would fill up)."""

    process: asyncio.subprocess.Process
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")


def _environment(database_url: str, emulator: RunningEmulator, policy: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKLEDGER_")}
    env.update(
        WORKLEDGER_TOKEN=TOKEN,
        WORKLEDGER_DATABASE_URL=database_url,
        WORKLEDGER_API_URL=emulator.base_url,
        WORKLEDGER_LANGUAGE="en",
        WORKLEDGER_POLICY=str(policy),
    )
    return env


def _burst_policy(folder: Path) -> Path:
    """The default policy, with any per-person limit on entries raised above the burst."""
    text = DEFAULT_POLICY.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^(max_per_(minute|day)) = \d+", r"\1 = 1000", text)
    path = folder / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def _workledger(*args: str, env: dict[str, str], cwd: Path, log: Path) -> BotProcess:
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", *args, cwd=cwd, env=env, stdout=out, stderr=out
        )
    return BotProcess(process, log)


async def _ended(bot: BotProcess, within: float = 30) -> int:
    return await asyncio.wait_for(bot.process.wait(), within)


@pytest.fixture
async def env(database_url: str, emulator: RunningEmulator, tmp_path: Path) -> dict[str, str]:
    environment = _environment(database_url, emulator, _burst_policy(tmp_path))
    # As an operator does before the first start (PostgreSQL is never migrated by `run`).
    upgrade = await _workledger(
        "db", "upgrade", env=environment, cwd=tmp_path, log=tmp_path / "upgrade.log"
    )
    assert await _ended(upgrade, 60) == 0, upgrade.text()
    return environment


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


async def _people(db: Database, driver: EmulatorDriver) -> list[EmulatedUser]:
    users = [
        EmulatedUser(id=7100 + n, first_name=f"P{n}", language_code="en") for n in range(PEOPLE)
    ]
    async with db.uow() as uow:
        office = await uow.departments.add(Department(name="Counter"))
        clerk = await uow.posts.add(
            Post(department_id=office.id, name="Clerk", post_type="service",
                 difficulty=Decimal("1"))
        )  # fmt: skip
        for n, user in enumerate(users):
            await uow.staff.add(
                Staff(employee_no=f"K{n:03}", name=f"Person {n}", department_id=office.id,
                      post_id=clerk.id, roles=Role.STAFF, telegram_user_id=user.id,
                      language="en")
            )  # fmt: skip
        await uow.commit()
    for user in users:
        await driver.add_user(user)
    return users


async def _count(db: Database, model: type[object]) -> int:
    async with db.uow() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(model)) or 0)


async def _stored_not_handled(db: Database) -> int:
    """Updates in the inbox whose handling never reached its first commit."""
    claimed = select(ProcessedUpdate.update_id).where(
        ProcessedUpdate.update_id == InboxUpdate.update_id
    )
    async with db.uow() as uow:
        return int(
            await uow.session.scalar(
                select(func.count()).select_from(InboxUpdate).where(~claimed.exists())
            )
            or 0
        )


TOKEN_OF_TEXT = re.compile(r"burst-(\d+)-(\d+)")


async def _replies(driver: EmulatorDriver, users: list[EmulatedUser]) -> Counter[str]:
    """How often each logged text was answered with its entry's card."""
    seen: Counter[str] = Counter()
    for user in users:
        for message in await driver.messages(user.id):
            text = message.get("text") or ""
            if text.startswith("Logged for"):
                seen.update(match.group(0) for match in TOKEN_OF_TEXT.finditer(text))
    return seen


async def _burst(driver: EmulatorDriver, users: list[EmulatedUser]) -> list[str]:
    # Each person's messages in order; the five people interleaved, as fast as can be.
    texts = [f"burst-{n % PEOPLE}-{n // PEOPLE}" for n in range(MESSAGES)]
    for n, text in enumerate(texts):
        await driver.send_text(users[n % PEOPLE], text)
    return texts


async def test_kill_9_mid_burst_loses_no_message_and_logs_none_twice(
    env: dict[str, str],
    db: Database,
    driver: EmulatorDriver,
    emulator: RunningEmulator,
    tmp_path: Path,
) -> None:
    users = await _people(db, driver)
    kill_after = random.Random(SEED).randint(20, MESSAGES // 2)
    first = await _workledger("run", env=env, cwd=tmp_path, log=tmp_path / "first.log")
    burst = asyncio.create_task(_burst(driver, users))
    try:

        async def answered_enough() -> bool:
            return sum((await _replies(driver, users)).values()) >= kill_after

        await eventually(answered_enough, within=60)
        first.process.kill()
        assert await _ended(first) == -signal.SIGKILL
    finally:
        if first.process.returncode is None:
            first.process.kill()
    texts = await burst
    # What the crash left: answered before it, stored but not handled (what PTB's updater
    # had confirmed and lost), and still Telegram's (never confirmed).
    answered_at_kill = sum((await _replies(driver, users)).values())
    stored_waiting = await _stored_not_handled(db)
    unconfirmed = len(emulator.emulator.updates)
    entries_at_kill = await _count(db, WorkEntry)

    second = await _workledger("run", env=env, cwd=tmp_path, log=tmp_path / "second.log")
    try:

        async def all_stored() -> bool:
            return await _count(db, WorkEntry) >= MESSAGES and (
                sum((await _replies(driver, users)).values()) >= MESSAGES - PEOPLE
            )

        await eventually(all_stored, within=90)
        # Whatever is left to do comes in order behind this: wait for the last reply.
        await asyncio.sleep(1.0)
        second.process.send_signal(signal.SIGTERM)
        assert await _ended(second) == 0, second.text()
    finally:
        if second.process.returncode is None:
            second.process.kill()

    async with db.uow() as uow:
        logged = Counter(await uow.session.scalars(select(WorkEntry.text)))
    assert len(logged) == MESSAGES and set(logged) == set(texts), "every message is an entry"
    assert max(logged.values()) == 1, [text for text, n in logged.items() if n > 1]

    replies = await _replies(driver, users)
    assert max(replies.values()) == 1, "no message is answered twice"
    unanswered = set(texts) - set(replies)
    # Only an update being handled at the kill, past its commit and before its reply, can
    # go unanswered; each chat's updates are handled one at a time.
    per_person = Counter(text.split("-")[1] for text in unanswered)
    assert all(n <= 1 for n in per_person.values()), unanswered
    replayed = re.search(r"replayed (\d+) unfinished updates", second.text())
    print(  # the figure for the record (pytest -s)
        f"seed {SEED}: killed after {answered_at_kill} replies, {entries_at_kill} entries; "
        f"{stored_waiting} updates stored but not handled (PTB's updater would have lost "
        f"them), {unconfirmed} still unconfirmed at Telegram; replayed "
        f"{replayed.group(1) if replayed else 0}; {len(unanswered)} unanswered"
    )
    assert stored_waiting == 0 or replayed is not None
    for sign in CLEAN_EXIT_SIGNS:
        assert sign not in second.text(), second.text()


async def test_sigterm_mid_broadcast_hands_back_leased_messages_and_exits_cleanly(
    env: dict[str, str], db: Database, driver: EmulatorDriver, tmp_path: Path
) -> None:
    recipients = [6000 + n for n in range(120)]
    for user_id in recipients:
        await driver.add_user(EmulatedUser(id=user_id, first_name=f"R{user_id}"))
    async with db.uow() as uow:
        await enqueue(
            uow,
            [
                Outgoing(chat_id=u, kind="notice", text="Office closed on Friday")
                for u in recipients
            ],
            now=datetime.now(UTC),
        )
        await uow.commit()
    bot = await _workledger("run", env=env, cwd=tmp_path, log=tmp_path / "bot.log")
    try:

        async def some_sent() -> bool:
            return len(await driver.calls("sendMessage")) >= 10

        await eventually(some_sent, within=30)
        bot.process.send_signal(signal.SIGTERM)
        assert await _ended(bot) == 0, bot.text()
    finally:
        if bot.process.returncode is None:
            bot.process.kill()
    for sign in CLEAN_EXIT_SIGNS:
        assert sign not in bot.text(), bot.text()
    async with db.uow() as uow:
        statuses = Counter(await uow.session.scalars(select(OutboxMessage.status)))
    assert statuses[DeliveryStatus.SENDING] == 0, "nothing is left leased until its lease ends"
    assert statuses[DeliveryStatus.PENDING] > 0, "the broadcast was stopped half-way"
    assert statuses[DeliveryStatus.SENT] + statuses[DeliveryStatus.PENDING] == len(recipients)
    sent = Counter(int(c["params"]["chat_id"]) for c in await driver.calls("sendMessage"))
    assert sum(sent.values()) == statuses[DeliveryStatus.SENT]


async def test_sigterm_mid_burst_then_a_restart_answers_every_message_once(
    env: dict[str, str], db: Database, driver: EmulatorDriver, tmp_path: Path
) -> None:
    """A clean stop finishes the updates in progress; the rest wait in the inbox."""
    users = await _people(db, driver)
    stop_after = random.Random(SEED + 1).randint(20, MESSAGES // 2)
    first = await _workledger("run", env=env, cwd=tmp_path, log=tmp_path / "first.log")
    burst = asyncio.create_task(_burst(driver, users))
    try:

        async def answered_enough() -> bool:
            return sum((await _replies(driver, users)).values()) >= stop_after

        await eventually(answered_enough, within=60)
        first.process.send_signal(signal.SIGTERM)
        assert await _ended(first) == 0, first.text()
    finally:
        if first.process.returncode is None:
            first.process.kill()
    texts = await burst
    assert sum((await _replies(driver, users)).values()) < MESSAGES, "stopped mid-burst"
    second = await _workledger("run", env=env, cwd=tmp_path, log=tmp_path / "second.log")
    try:

        async def all_answered() -> bool:
            return sum((await _replies(driver, users)).values()) >= MESSAGES

        await eventually(all_answered, within=90)
        second.process.send_signal(signal.SIGTERM)
        assert await _ended(second) == 0, second.text()
    finally:
        if second.process.returncode is None:
            second.process.kill()
    replies = await _replies(driver, users)
    assert set(replies) == set(texts) and max(replies.values()) == 1
    async with db.uow() as uow:
        logged = Counter(await uow.session.scalars(select(WorkEntry.text)))
    assert set(logged) == set(texts) and max(logged.values()) == 1
    for bot in (first, second):
        for sign in CLEAN_EXIT_SIGNS:
            assert sign not in bot.text(), bot.text()
