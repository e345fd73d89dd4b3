"""Two ``workledger run --webhook`` processes on one PostgreSQL, as production runs them.

The emulator posts each update to the test balancer (``bot.emulator.balancer``), which
hands it to one of the two processes at random and some to both at once; the
processes share nothing but the store. PostgreSQL only: SQLite is one process by
design (its file store refuses a second writer process).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import signal
import socket
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from assessment.outbox import Outgoing, enqueue
from bot.delivery import HEARTBEAT
from bot.emulator import EmulatedUser, EmulatorDriver, RunningEmulator
from bot.emulator.balancer import Balancer
from bot.emulator.model import JSONDict
from storage.engine import Database
from storage.enums import DeliveryStatus, Role
from storage.models import DeliveryWorker, Department, OutboxMessage, Post, Staff, WorkEntry

from .chat import Message, buttons, current
from .conftest import TOKEN, eventually
from .people import seed

pytestmark = pytest.mark.e2e

SECRET = "two-" + secrets.token_hex(16)
DEFAULT_POLICY = Path(__file__).parents[2] / "config" / "policies" / "default.toml"
# The configured global rate for the delivery test: high enough to keep it short.
RATE = 100
CLEAN_EXIT_SIGNS = ("Traceback", "Task was destroyed", "was never awaited", "ERROR")


@dataclass
class Bot:
    """One ``python -m bot run --webhook`` process, its port and its log file."""

    process: asyncio.subprocess.Process
    port: int
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def postgres(backend: str) -> None:
    if backend == "sqlite":
        pytest.skip("several processes share PostgreSQL only; SQLite is one process by design")


@pytest.fixture
async def db(postgres: None, database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest.fixture
async def balancer() -> AsyncIterator[Balancer]:
    ports = [_free_port(), _free_port()]
    spread = Balancer([f"http://127.0.0.1:{port}" for port in ports], twice=0.25, seed=16)
    await spread.start()
    yield spread
    await spread.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _policy(folder: Path) -> Path:
    """The default policy with the burst's per-person limits lifted and the rate at RATE."""
    text = DEFAULT_POLICY.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^(max_per_(minute|day)) = \d+", r"\1 = 1000", text)
    text = re.sub(r"(?m)^messages_per_second = \d+", f"messages_per_second = {RATE}", text)
    path = folder / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _environment(
    database_url: str, emulator: RunningEmulator, folder: Path, clock_start: str | None
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKLEDGER_")}
    env.update(
        WORKLEDGER_TOKEN=TOKEN,
        WORKLEDGER_DATABASE_URL=database_url,
        WORKLEDGER_API_URL=emulator.base_url,
        WORKLEDGER_LANGUAGE="en",
        WORKLEDGER_POLICY=str(_policy(folder)),
        WORKLEDGER_WEBHOOK_SECRET=SECRET,
    )
    if clock_start is not None:
        env["WORKLEDGER_CLOCK_START"] = clock_start
    return env


# ``python -m bot``, its minute-long job ticks every TICK seconds instead: the reminder
# test waits seconds for the jobs, not a minute (and both processes race at every tick).
TICK = 2
_TICKING = (
    "import sys\n"
    "from datetime import timedelta\n"
    "import bot.app\n"
    f"bot.app.REMINDER_TICK = timedelta(seconds={TICK})\n"
    "from bot.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


async def _start(
    env: dict[str, str], url: str, port: int, folder: Path, name: str, *, ticking: bool
) -> Bot:
    log = folder / f"{name}.log"
    command = ["-c", _TICKING] if ticking else ["-m", "bot"]
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, *command, "run", "--webhook", f"{url}/telegram",
            "--listen", f"127.0.0.1:{port}", cwd=folder, env=env, stdout=out, stderr=out,
        )  # fmt: skip
    return Bot(process, port, log)


async def _healthy(bot: Bot) -> bool:
    if bot.process.returncode is not None:
        raise AssertionError(f"the bot exited with {bot.process.returncode}:\n{bot.text()}")
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{bot.port}/healthz") as response,
        ):
            return response.status == 200
    except aiohttp.ClientError:
        return False


@contextlib.asynccontextmanager
async def two_bots(
    database_url: str,
    emulator: RunningEmulator,
    driver: EmulatorDriver,
    balancer: Balancer,
    folder: Path,
    *,
    clock_start: str | None = None,
    ticking: bool = False,
) -> AsyncIterator[list[Bot]]:
    """Both processes, started at once, each healthy and its webhook set."""
    env = _environment(database_url, emulator, folder, clock_start)
    ports = [int(backend.rsplit(":", 1)[1]) for backend in balancer.backends]
    bots = [
        await _start(env, balancer.url, port, folder, f"bot{n}", ticking=ticking)
        for n, port in enumerate(ports)
    ]
    try:
        for bot in bots:
            await eventually(lambda bot=bot: _healthy(bot), within=60)  # type: ignore[misc]

        async def both_set() -> bool:
            return len(await driver.calls("setWebhook")) >= len(bots)

        await eventually(both_set, within=30)
        yield bots
        for bot in bots:
            if bot.process.returncode is None:
                bot.process.send_signal(signal.SIGTERM)
        for bot in bots:
            code = await asyncio.wait_for(bot.process.wait(), 30)
            assert code in (0, -signal.SIGKILL), bot.text()
            if code == 0:
                for sign in CLEAN_EXIT_SIGNS:
                    assert sign not in bot.text(), bot.text()
    finally:
        for bot in bots:
            if bot.process.returncode is None:
                bot.process.kill()
                await bot.process.wait()


async def _press(
    driver: EmulatorDriver, user: EmulatedUser, message: Message, label: str
) -> Message:
    data = next(d for text, d in buttons(message).items() if text.startswith(label))
    before = (message.get("text"), message.get("edit_count"))
    await driver.press(user, message["message_id"], data)

    async def changed() -> Message | None:
        now = await current(driver, user.id, message["message_id"])
        return now if (now.get("text"), now.get("edit_count")) != before else None

    return await eventually(changed, within=15)


async def _say(driver: EmulatorDriver, user: EmulatedUser, text: str) -> Message:
    await driver.send_text(user, text)
    [reply] = await driver.wait_for_message(user.id, timeout=15)
    return reply


async def test_a_guided_log_started_on_one_process_continues_on_the_other(
    db: Database,
    database_url: str,
    emulator: RunningEmulator,
    driver: EmulatorDriver,
    balancer: Balancer,
    tmp_path: Path,
) -> None:
    org = await seed(db)
    user = org.staff
    await driver.add_user(user)
    async with two_bots(database_url, emulator, driver, balancer, tmp_path):
        balancer.twice = 0.0
        steps: list[int] = []

        def on(backend: int) -> None:
            balancer.pin(backend)
            steps.append(backend)

        on(0)
        question = await _say(driver, user, "/log")
        assert question["text"].startswith("Which day is the entry for?")
        on(1)
        question = await _press(driver, user, question, "Today")
        assert question["text"].startswith("Which indicator")
        on(0)
        question = await _press(driver, user, question, "Permits processed")
        assert question["text"] == "How many permits? Type a number."
        on(1)
        question = await _say(driver, user, "12")
        assert question["text"].startswith("How many hours did it take?")
        on(0)
        question = await _say(driver, user, "2h")
        assert question["text"].startswith("Describe the work")
        on(1)
        question = await _say(driver, user, "Counter duty across two processes")
        assert question["text"].startswith("Send photos or documents")
        on(0)
        summary = await _press(driver, user, question, "Done")
        assert summary["text"].startswith("Please check the entry")
        on(1)
        saved = await _press(driver, user, summary, "Save")
        assert saved["text"].startswith("Saved: your entry for")
    async with db.uow() as uow:
        [entry] = list(await uow.session.scalars(select(WorkEntry)))
    assert (entry.indicator_id, entry.quantity, entry.hours) == (
        "permits_processed",
        Decimal(12),
        Decimal(2),
    )
    assert balancer.answered[0] >= steps.count(0)
    assert balancer.answered[1] >= steps.count(1)


PEOPLE = 5
MESSAGES = 100
TOKEN_OF_TEXT = re.compile(r"burst-(\d+)-(\d+)")


async def _people(db: Database, driver: EmulatorDriver, first_id: int) -> list[EmulatedUser]:
    users = [
        EmulatedUser(id=first_id + n, first_name=f"P{n}", language_code="en")
        for n in range(PEOPLE)
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


async def _replies(driver: EmulatorDriver, users: Sequence[EmulatedUser]) -> Counter[str]:
    """How often each logged text was answered with its entry's card."""
    seen: Counter[str] = Counter()
    for user in users:
        for message in await driver.messages(user.id):
            text = message.get("text") or ""
            if text.startswith("Logged for"):
                seen.update(match.group(0) for match in TOKEN_OF_TEXT.finditer(text))
    return seen


async def test_updates_spread_over_both_and_some_sent_twice_are_each_answered_once(
    db: Database,
    database_url: str,
    emulator: RunningEmulator,
    driver: EmulatorDriver,
    balancer: Balancer,
    tmp_path: Path,
) -> None:
    users = await _people(db, driver, 7300)
    async with two_bots(database_url, emulator, driver, balancer, tmp_path):
        sent = []
        for n in range(MESSAGES):
            sent.append(
                await driver.send_text(users[n % PEOPLE], f"burst-{n % PEOPLE}-{n // PEOPLE}")
            )
        # Telegram sending some again later, its first answer lost.
        for update in sent[::10]:
            await driver.send_raw_update(update)

        async def all_answered() -> Counter[str] | None:
            seen = await _replies(driver, users)
            return seen if len(seen) == MESSAGES else None

        await eventually(all_answered, within=120)
        await asyncio.sleep(1)  # a second answer would be there by now
        seen = await _replies(driver, users)
    assert set(seen.values()) == {1}, [text for text, times in seen.items() if times > 1]
    assert balancer.doubled > 10
    assert balancer.answered[0] > 10 and balancer.answered[1] > 10


RECIPIENTS = 2000
BROADCAST = "The office moves to the new building on Monday"
REMINDER = "You have not logged any work for"


async def test_a_daily_reminder_and_a_broadcast_reach_each_person_once_at_the_shared_rate(
    db: Database,
    database_url: str,
    emulator: RunningEmulator,
    driver: EmulatorDriver,
    balancer: Balancer,
    tmp_path: Path,
) -> None:
    staff = await _people(db, driver, 7400)  # owe today's entry: reminded at 17:30
    recipients = [300_000 + n for n in range(RECIPIENTS)]
    for user_id in recipients:
        emulator.emulator.add_user(EmulatedUser(id=user_id, first_name=f"R{user_id}"))
    # The bots' clock: a Tuesday, after the daily reminder's 17:30 and before the team
    # summary's 18:30. The broadcast is queued at that time too (not in their future).
    clock = "2026-12-01T17:40:00+08:00"
    async with db.uow() as uow:
        await enqueue(
            uow,
            [Outgoing(chat_id=chat, kind="notice", text=BROADCAST) for chat in recipients],
            now=datetime.fromisoformat(clock),
        )
        await uow.commit()
    async with two_bots(
        database_url, emulator, driver, balancer, tmp_path, clock_start=clock, ticking=True
    ):
        state = emulator.emulator

        def delivered() -> list[JSONDict]:
            return [c for c in state.calls("sendMessage") if c["status"] == 200]

        # Read in this process, twice a second: asking the emulator over HTTP for
        # thousands of calls fifty times a second would slow it down for the bots. 20 s at
        # the rate; a machine busy with other work takes several times as long.
        async with asyncio.timeout(300):
            while True:
                texts = [str(c["params"].get("text")) for c in delivered()]
                reminded = sum(t.startswith(REMINDER) for t in texts)
                if texts.count(BROADCAST) >= RECIPIENTS and reminded >= PEOPLE:
                    break
                await asyncio.sleep(0.5)
        await asyncio.sleep(1)  # anything sent twice would be there by now
        calls = delivered()
    broadcast = Counter(
        int(c["params"]["chat_id"]) for c in calls if c["params"].get("text") == BROADCAST
    )
    assert set(broadcast) == set(recipients)
    assert set(broadcast.values()) == {1}
    reminders = Counter(
        int(c["params"]["chat_id"])
        for c in calls
        if str(c["params"].get("text")).startswith(REMINDER)
    )
    assert reminders == Counter({user.id: 1 for user in staff}), reminders
    times = sorted(float(c["at"]) for c in calls)
    busiest = _busiest_second(times)
    assert busiest <= RATE * 1.1, (
        f"{busiest} messages in one second across both, the rate is {RATE}"
    )


def _busiest_second(times: Sequence[float]) -> int:
    busiest, first = 0, 0
    for last, moment in enumerate(times):
        while moment - times[first] >= 1.0:
            first += 1
        busiest = max(busiest, last - first + 1)
    return busiest


KILLED_BROADCAST = "Water will be off on Thursday morning"
KILL_RECIPIENTS = 400
# The survivor takes the killed sender's leased messages within this long (issue 16).
TAKEOVER_WITHIN = 10.0


async def test_kill_9_of_one_process_mid_load_loses_no_update_and_no_message(
    db: Database,
    database_url: str,
    emulator: RunningEmulator,
    driver: EmulatorDriver,
    balancer: Balancer,
    tmp_path: Path,
) -> None:
    users = await _people(db, driver, 7500)
    recipients = [400_000 + n for n in range(KILL_RECIPIENTS)]
    for user_id in recipients:
        emulator.emulator.add_user(EmulatedUser(id=user_id, first_name=f"R{user_id}"))
    async with db.uow() as uow:
        await enqueue(
            uow,
            [Outgoing(chat_id=chat, kind="notice", text=KILLED_BROADCAST) for chat in recipients],
            now=datetime.now(UTC),
        )
        await uow.commit()
    state = emulator.emulator

    def broadcast_sent() -> list[JSONDict]:
        return [
            c
            for c in state.calls("sendMessage")
            if c["status"] == 200 and c["params"].get("text") == KILLED_BROADCAST
        ]

    async with two_bots(database_url, emulator, driver, balancer, tmp_path) as bots:
        texts = [f"burst-{n % PEOPLE}-{n // PEOPLE}" for n in range(MESSAGES)]

        async def burst() -> None:
            for n, text in enumerate(texts):
                await driver.send_text(users[n % PEOPLE], text)

        sending = asyncio.create_task(burst())
        try:

            async def mid_load() -> bool:
                answered = sum((await _replies(driver, users)).values())
                owners = {owner for owner, _ in await _leases(db)}
                # Both senders hold some of the broadcast, and the burst is under way.
                return answered >= MESSAGES // 4 and len(owners) >= 2

            await eventually(mid_load, within=60)
            bots[0].process.kill()
            killed_at = time.monotonic()
            assert await bots[0].process.wait() == -signal.SIGKILL
            # What the killed process held: the leases of the sender whose heartbeat stopped.
            at_kill = await _leases(db)
            seen = await _heartbeats(db)
            await asyncio.sleep(HEARTBEAT * 2.5)
            [survivor_id] = {w for w, at in (await _heartbeats(db)).items() if at > seen[w]}
            held = {row for owner, row in at_kill if owner != survivor_id}
            assert held, "the killed process held messages"

            async def taken_over() -> bool:
                still = {row for owner, row in await _leases(db) if owner != survivor_id}
                return not held & still

            # The survivor takes the killed sender's leases (they end, and are sent again).
            left = TAKEOVER_WITHIN - (time.monotonic() - killed_at)
            await eventually(taken_over, within=max(left, 0.1))
            await sending
        finally:
            sending.cancel()

        async def everything_arrived() -> bool:
            stored = await _entry_texts(db)
            arrived = {int(c["params"]["chat_id"]) for c in broadcast_sent()}
            return set(stored) >= set(texts) and arrived >= set(recipients)

        await eventually(everything_arrived, within=240)
        await asyncio.sleep(1)  # anything handled twice would show by now
        replies = await _replies(driver, users)
        stored = await _entry_texts(db)
        sent = broadcast_sent()
    # No update lost, none handled twice: each text is one entry.
    assert stored == Counter(texts), {t: n for t, n in stored.items() if n != 1}
    # An update being handled at the kill, past its commit and before its reply, has its
    # entry and no reply: at most the updates in progress then. None is answered twice.
    assert set(replies.values()) <= {1}
    assert len(set(texts) - set(replies)) <= 8, sorted(set(texts) - set(replies))
    # No message lost; at most the messages in flight at the kill arrive twice.
    copies = Counter(int(c["params"]["chat_id"]) for c in sent)
    assert set(copies) == set(recipients)
    assert sum(copies.values()) - len(recipients) <= 8 + 100


async def _leases(db: Database) -> set[tuple[str, int]]:
    """(owner, outbox row id) of every message leased to a sender now."""
    async with db.uow() as uow:
        rows = await uow.session.execute(
            select(OutboxMessage.lease_owner, OutboxMessage.id).where(
                OutboxMessage.status == DeliveryStatus.SENDING
            )
        )
        return {(str(owner), int(row)) for owner, row in rows}


async def _heartbeats(db: Database) -> dict[str, datetime]:
    async with db.uow() as uow:
        rows = await uow.session.execute(select(DeliveryWorker.worker_id, DeliveryWorker.seen_at))
        return {worker_id: seen_at for worker_id, seen_at in rows}


async def _entry_texts(db: Database) -> Counter[str]:
    async with db.uow() as uow:
        texts = list(await uow.session.scalars(select(WorkEntry.text)))
    return Counter(match.group(0) for text in texts for match in TOKEN_OF_TEXT.finditer(text))
