"""Quick-log benchmark: plain text messages through the real Application, against floors.

    .venv/bin/python bench/quick_log.py [--updates 3000] [--users 300]
        [--recipients 100000] [--limited-updates 150] [--database-url URL]

Nothing touches the network: every Bot API call (getMe, setMyCommands, sendMessage, ...)
is answered in-process by ``StubRequest``, a ``telegram.request.BaseRequest`` given to
PTB through ``ApplicationBuilder().request(...)``/``.get_updates_request(...)``.

Runs, in one process and on one migrated database (a temporary SQLite file unless
``--database-url`` or ``WORKLEDGER_DATABASE_URL`` names one):

- workledger: the real ``bot.app.build_application`` (its builder only gets the stub
  request; ``post_init`` opens the store and starts the outbox sender, which stays idle),
  fed ``--updates`` text messages from ``--users`` linked staff the way Telegram's are:
  they wait in a stand-in for Telegram's pending updates (``PendingUpdates``) until the
  bot's own poller (``bot.polling``) takes them, up to 100 at a time, into the inbox
  (``bot.inbox``: stored and committed, then handled). ``--no-inbox`` puts them straight
  on ``application.update_queue`` instead, as PTB's updater did. The rate limiter and the send
  budget stay in the path, but without Telegram's 30 messages/s cap, so the code is measured;
- workledger-limited: the same with the production rate limiter untouched, a few
  updates only: what Telegram's flood limit lets a bot reply at all;
- floor: a minimal Application whose one handler does one raw-driver INSERT (aiosqlite
  or asyncpg, one persistent connection) and commit, and one reply;
- ptb: a minimal Application whose one handler only replies;
- recipients: ``uow.leave.owing_entry(day)`` over ``--recipients`` staff rows.

Throughput is N / (first put .. the N-th reply), and every run must end with N replies
(and, for the entry-writing runs, N new rows): nothing lost.

The bundled policy's flood limit stays as it is (``max_per_minute`` entries a person in
any minute, ``max_per_day`` a day), and every entry pays its check in full. So that no
entry is refused, each entry-writing run has its own people, as many as the limit needs
(at least ``--users``, each at most ``max_per_minute`` entries). The goal is at least
``GOAL_RATE`` updates/s in one process, on SQLite and on PostgreSQL; the ratio to the
floor is printed for information only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import SecretStr
from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url
from telegram import Bot, Update
from telegram.ext import Application, ApplicationBuilder, MessageHandler, filters
from telegram.request import BaseRequest, RequestData

import bot.app as bot_app
import bot.delivery as bot_delivery
from assessment import entries
from assessment.people import identify
from bench._support import describe_url, scratch_postgres
from bot.budget import SendBudget
from bot.inbox import Intake
from bot.polling import Poller
from config.clock import Clock
from config.policy import load_policy
from config.settings import Settings
from storage import migrate
from storage.engine import Database
from storage.enums import EntryStatus, Role, StaffStatus
from storage.models import Department, LeaveDay, Post, Staff, WorkEntry
from storage.repositories.inbox import Received
from storage.uow import PendingClaim

# Whether updates come in through the inbox, as in production (``--no-inbox``: not).
USE_INBOX = True
# A send budget this fast never makes a reply wait.
UNCAPPED_RATE = 1e9
TOKEN = "123456:bench-token-answered-locally"  # noqa: S105 - not a secret
BOT_USER = {
    "id": 123456,
    "is_bot": True,
    "first_name": "Workledger",
    "username": "workledger_bench_bot",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
FIRST_USER = 700_000_000
BIG_FIRST_USER = 800_000_000
ZONE = "Asia/Shanghai"
FLOOR_TABLE = "bench_floor_entries"
COUNT_FLOOR = f"SELECT count(*) FROM {FLOOR_TABLE}"  # noqa: S608 - a constant
# Updates/s one bot process must handle: ten times the 30 messages/s Telegram lets a bot send.
GOAL_RATE = 300.0


# --------------------------------------------------------------------------- stub Bot API


class StubRequest(BaseRequest):
    """Answers every Bot API call locally; counts sendMessage replies per run."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.replies = 0
        self.target = 0
        self.done = asyncio.Event()
        self._message_id = 0

    def expect(self, count: int) -> None:
        """Start counting replies afresh; ``done`` is set at the ``count``-th."""
        self.replies = 0
        self.target = count
        self.done = asyncio.Event()

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        self.calls[endpoint] = self.calls.get(endpoint, 0) + 1
        params = request_data.parameters if request_data is not None else {}
        result: Any = True
        if endpoint == "getMe":
            result = BOT_USER
        elif endpoint == "getUpdates":
            result = []
        elif endpoint == "sendMessage":
            self._message_id += 1
            chat_id = int(str(params["chat_id"]))
            result = {
                "message_id": self._message_id,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "from": BOT_USER,
                "text": params.get("text", ""),
            }
            self.replies += 1
            if self.replies >= self.target:
                self.done.set()
        elif endpoint == "editMessageText" and "chat_id" in params:
            # As Telegram answers an edit of a chat message: the message as it is now.
            result = {
                "message_id": int(str(params["message_id"])),
                "date": int(time.time()),
                "chat": {"id": int(str(params["chat_id"])), "type": "private"},
                "from": BOT_USER,
                "text": params.get("text", ""),
            }
        return 200, json.dumps({"ok": True, "result": result}).encode()


def _stub_delivery_bot(stub: StubRequest) -> Callable[..., Bot]:
    def make(token: str, api_url: str | None, file_url: str | None, concurrency: int) -> Bot:
        return Bot(token, request=stub)

    return make


def _uncapped_budget(rate: float) -> SendBudget:
    # The production budget object, minus Telegram's 30 messages/s.
    return SendBudget(UNCAPPED_RATE)


@contextlib.contextmanager
def stubbed(
    stub: StubRequest, *, rate_limited: bool, sender: StubRequest | None = None
) -> Iterator[None]:
    """The outbox sender with its Bot API calls answered here (``build_application`` is
    given ``stub`` as its request): ``sender`` if given, else ``stub`` as well.
    """
    with contextlib.ExitStack() as stack:
        stack.enter_context(
            mock.patch.object(bot_delivery, "delivery_bot", _stub_delivery_bot(sender or stub))
        )
        if not rate_limited:
            stack.enter_context(mock.patch.object(bot_app, "SendBudget", _uncapped_budget))
        yield


# --------------------------------------------------------------------------- seeding


async def seed_members(database: Database, users: int) -> dict[int, int]:
    """``users`` linked, active staff in one department and post: Telegram id -> staff id."""
    async with database.uow() as uow:
        office = await uow.departments.add(Department(name="Bench Office"))
        post = await uow.posts.add(
            Post(department_id=office.id, name="Bench Clerk", post_type="service")
        )
        await uow.commit()
    now = datetime.now(UTC)
    rows = [
        {
            "employee_no": f"Q{n:06d}",
            "name": f"Member {n}",
            "department_id": office.id,
            "post_id": post.id,
            "roles": Role.STAFF,
            "status": StaffStatus.ACTIVE,
            "telegram_user_id": FIRST_USER + n,
            "linked_at": now,
            "language": "en",
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        for n in range(users)
    ]
    async with database.engine.begin() as connection:
        await connection.execute(insert(Staff), rows)
        result = await connection.execute(
            select(Staff.telegram_user_id, Staff.id).where(Staff.telegram_user_id >= FIRST_USER)
        )
        return {int(str(telegram)): int(staff) for telegram, staff in result}


async def count_entries(database: Database) -> int:
    """Work entries in the store."""
    async with database.engine.connect() as connection:
        return int(
            (await connection.execute(select(func.count()).select_from(WorkEntry))).scalar_one()
        )


def text_update(update_id: int, user_id: int, bot: Bot) -> Update:
    """A private plain-text message from ``user_id``, as Telegram would send it."""
    payload = {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": "Bench"},
            "from": {
                "id": user_id,
                "is_bot": False,
                "first_name": "Bench",
                "language_code": "en",
            },
            "text": f"Processed permit applications, batch {update_id}",
        },
    }
    update = Update.de_json(payload, bot)
    assert update is not None
    return update


# --------------------------------------------------------------------------- runs


@dataclass
class Run:
    """One stream of updates through one Application."""

    name: str
    updates: int
    seconds: float = 0.0
    replies: int = 0
    rows: int = 0
    completed: bool = False
    api_calls: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Updates handled per second."""
        return self.updates / self.seconds if self.seconds else 0.0


class PendingUpdates:
    """Telegram's side of ``getUpdates``: offered updates wait here for the bot's poller."""

    def __init__(self) -> None:
        self._waiting: asyncio.Queue[Update] = asyncio.Queue()

    def put(self, update: Update) -> None:
        """An update arrives at Telegram."""
        self._waiting.put_nowait(update)

    async def get_updates(
        self,
        *,
        offset: int | None = None,
        limit: int = 100,
        timeout: timedelta | float | None = None,  # noqa: ASYNC109 - getUpdates' own parameter
        allowed_updates: Sequence[str] | None = None,
    ) -> list[Update]:
        """Whatever waits (at most ``limit``), long-polling up to ``timeout`` for the first."""
        seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else (timeout or 0)
        try:
            if seconds:
                first = await asyncio.wait_for(self._waiting.get(), seconds)
            else:
                first = self._waiting.get_nowait()
        except (TimeoutError, asyncio.QueueEmpty):
            return []
        batch = [first]
        while len(batch) < limit and not self._waiting.empty():
            batch.append(self._waiting.get_nowait())
        return batch


# The pending updates of each started workledger Application (``offer_update``).
_PENDING: dict[int, PendingUpdates] = {}


def offer_update(application: Application[Any, Any, Any, Any, Any, Any], update: Update) -> None:
    """Send ``update`` to the bot: through the inbox, unless ``--no-inbox`` or a bare PTB app."""
    pending = _PENDING.get(id(application))
    if pending is None:
        application.update_queue.put_nowait(update)
    else:
        pending.put(update)


async def _feed(
    application: Application[Any, Any, Any, Any, Any, Any],
    stub: StubRequest,
    users: Sequence[int],
    count: int,
    first_update: int,
    limit: float,
) -> tuple[float, bool]:
    """Put ``count`` updates on the queue; seconds until the ``count``-th reply, and whether."""
    stub.expect(count)
    updates = [
        text_update(first_update + n, users[n % len(users)], application.bot) for n in range(count)
    ]
    started = time.perf_counter()
    for update in updates:
        offer_update(application, update)
    try:
        await asyncio.wait_for(stub.done.wait(), limit)
        completed = True
    except TimeoutError:
        completed = False
    return time.perf_counter() - started, completed


@contextlib.asynccontextmanager
async def started(
    settings: Settings,
    stub: StubRequest,
    *,
    rate_limited: bool = False,
    sender: StubRequest | None = None,
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """The real Application, started as ``running`` does, its Bot API answered by ``stub``.

    ``sender``, if given, answers the outbox sender's calls instead of ``stub``.
    """
    # Patched for the whole run: post_init starts the outbox sender, which builds its Bot then.
    with stubbed(stub, rate_limited=rate_limited, sender=sender):
        application = bot_app.build_application(settings, load_policy(), request=stub)
        await application.initialize()
        try:
            assert application.post_init is not None
            await application.post_init(application)
            await application.start()
            inbox = _inbox(application) if USE_INBOX else None
            try:
                yield application
            finally:
                if inbox is not None:
                    await inbox.stop_polling()
                await application.stop()
                if inbox is not None:
                    await inbox.aclose()
        finally:
            data = application.bot_data
            data.stop_background.set()
            for task in data.background:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(task, 10)
            data.background.clear()
            await application.shutdown()
            if application.post_shutdown is not None:
                await application.post_shutdown(application)


class _Inbox:
    """The inbox and poller of a started Application, as ``bot.app.running`` sets them up."""

    def __init__(self, application: Any) -> None:
        self.application = application
        self.intake = Intake(application)
        application.update_processor.on_finished = self.intake.finished
        self.pending = PendingUpdates()
        self.poller = Poller(self.pending, self.intake, bot_app.UPDATES, timeout=1.0)  # type: ignore[arg-type]
        self.marked = asyncio.Event()
        self.marking = asyncio.create_task(self.intake.keep_marking(self.marked))
        self.polling = asyncio.create_task(self.poller.run())
        _PENDING[id(application)] = self.pending

    async def stop_polling(self) -> None:
        """Stop polling (before the Application stops)."""
        self.poller.stop()
        await self.polling

    async def aclose(self) -> None:
        """Write the last finished marks (after the Application stopped)."""
        self.marked.set()
        await self.marking
        _PENDING.pop(id(self.application), None)


def _inbox(application: Any) -> _Inbox:
    return _Inbox(application)


async def run_workledger(
    settings: Settings,
    database: Database,
    users: Sequence[int],
    count: int,
    first_update: int,
    *,
    rate_limited: bool,
    limit: float,
) -> Run:
    """The real Application: gate, quick log, reply card, through ``update_queue``."""
    name = "workledger-limited" if rate_limited else "workledger"
    stub = StubRequest()
    before = await count_entries(database)
    async with started(settings, stub, rate_limited=rate_limited) as application:
        seconds, completed = await _feed(application, stub, users, count, first_update, limit)
    rows = await count_entries(database) - before
    # getMe twice: the Application's bot and the outbox sender's, both answered by the stub.
    answered_locally = stub.calls.get("getMe", 0) >= 2
    ok = completed and rows == count and answered_locally
    return Run(name, count, seconds, stub.replies, rows, ok, dict(stub.calls))


class FloorStore:
    """One persistent raw-driver connection doing one INSERT and COMMIT per call."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.sqlite = self.url.get_backend_name() == "sqlite"
        self.connection: Any = None

    async def open(self) -> None:
        """Connect and create the floor's table (shaped like ``work_entries``)."""
        columns = (
            "staff_id INTEGER NOT NULL, work_date DATE NOT NULL, text TEXT NOT NULL, "
            "status VARCHAR(20) NOT NULL, created_at TIMESTAMP NOT NULL, "
            "updated_at TIMESTAMP NOT NULL, version INTEGER NOT NULL"
        )
        if self.sqlite:
            import aiosqlite

            self.connection = await aiosqlite.connect(self.url.database or ":memory:")
            # The same pragmas as the store's engine.
            for pragma in ("journal_mode=WAL", "busy_timeout=5000", "synchronous=NORMAL"):
                await self.connection.execute(f"PRAGMA {pragma}")
            await self.connection.execute(
                f"CREATE TABLE IF NOT EXISTS {FLOOR_TABLE} (id INTEGER PRIMARY KEY, {columns})"
            )
            await self.connection.commit()
        else:
            import asyncpg  # type: ignore[import-untyped]

            dsn = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
            self.connection = await asyncpg.connect(dsn)
            await self.connection.execute(
                f"CREATE TABLE IF NOT EXISTS {FLOOR_TABLE} (id BIGSERIAL PRIMARY KEY, {columns})"
            )

    async def insert(self, staff_id: int, day: date, text: str) -> None:
        """One INSERT, committed."""
        now = datetime.now(UTC).replace(tzinfo=None)
        values = (staff_id, day, text, EntryStatus.SUBMITTED.value, now, now, 1)
        if self.sqlite:
            await self.connection.execute(
                f"INSERT INTO {FLOOR_TABLE} (staff_id, work_date, text, status, created_at, "  # noqa: S608 - a constant
                "updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (staff_id, day.isoformat(), text, values[3], now.isoformat(), now.isoformat(), 1),
            )
            await self.connection.commit()
        else:
            # Autocommit: one statement is one transaction, committed.
            await self.connection.execute(
                f"INSERT INTO {FLOOR_TABLE} (staff_id, work_date, text, status, created_at, "  # noqa: S608 - a constant
                "updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                *values,
            )

    async def count(self) -> int:
        """Rows in the floor's table."""
        if self.sqlite:
            async with self.connection.execute(COUNT_FLOOR) as cursor:
                row = await cursor.fetchone()
                return int(row[0])
        return int(await self.connection.fetchval(COUNT_FLOOR))

    async def close(self) -> None:
        """Drop the floor's table and disconnect."""
        if self.connection is None:
            return
        await self.connection.execute(f"DROP TABLE IF EXISTS {FLOOR_TABLE}")
        if self.sqlite:
            await self.connection.commit()
        await self.connection.close()
        self.connection = None


async def run_minimal(
    name: str,
    handle: Callable[[Update], Awaitable[None]],
    users: Sequence[int],
    count: int,
    first_update: int,
    limit: float,
) -> Run:
    """A bare Application whose one handler calls ``handle`` and replies once."""
    stub = StubRequest()
    application = ApplicationBuilder().token(TOKEN).request(stub).get_updates_request(stub).build()

    async def callback(update: Update, _context: Any) -> None:
        await handle(update)
        assert update.effective_message is not None
        await update.effective_message.reply_text("Logged.")

    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, callback))
    async with application:
        await application.start()
        try:
            seconds, completed = await _feed(application, stub, users, count, first_update, limit)
        finally:
            await application.stop()
    return Run(name, count, seconds, stub.replies, 0, completed, dict(stub.calls))


async def run_floor(
    url: str, members: dict[int, int], count: int, first_update: int, limit: float
) -> Run:
    """The floor: one raw INSERT + COMMIT and one reply per update."""
    store = FloorStore(url)
    await store.open()
    try:
        day = datetime.now().astimezone().date()

        async def write(update: Update) -> None:
            message = update.effective_message
            assert message is not None and message.from_user is not None
            await store.insert(members[message.from_user.id], day, message.text or "")

        run = await run_minimal("floor", write, list(members), count, first_update, limit)
        run.rows = await store.count()
        run.completed = run.completed and run.rows == count
        return run
    finally:
        await store.close()


async def _nothing(_update: Update) -> None:
    return None


@dataclass
class StoreOnly:
    """The quick log's write alone against the floor's INSERT alone: no Telegram at all."""

    writes: int
    workledger_seconds: float
    floor_seconds: float

    @property
    def ratio(self) -> float:
        """Workledger writes/s over the floor's."""
        return self.floor_seconds / self.workledger_seconds if self.workledger_seconds else 0.0


async def run_store_only(
    database: Database, url: str, members: dict[int, int], count: int, first_update: int
) -> StoreOnly:
    """The gate's lookup and ``entries.quick_log`` (claim, entry, audit event) vs one INSERT."""
    users = list(members)
    limits = load_policy().entries
    clock = Clock()
    zone = ZoneInfo(ZONE)
    day = clock.now().astimezone(zone).date()
    started = time.perf_counter()
    for n in range(count):
        user, update_id = users[n % len(users)], first_update + n
        async with database.uow() as uow:
            caller = await identify(uow, update_id, user)
        assert caller.member is not None
        async with database.uow(claim=PendingClaim(update_id, at=clock.now())) as uow:
            logged = await entries.quick_log(
                uow, caller.member.id, f"Store-only {n}", today=day, zone=zone, limits=limits,
                now=clock.now(), policy=load_policy(),
            )  # fmt: skip
        assert isinstance(logged, entries.EntryView), logged
    ours = time.perf_counter() - started
    store = FloorStore(url)
    await store.open()
    try:
        started = time.perf_counter()
        for n in range(count):
            await store.insert(members[users[n % len(users)]], day, f"Store-only {n}")
        floor = time.perf_counter() - started
    finally:
        await store.close()
    return StoreOnly(count, ours, floor)


@dataclass
class InboxOnly:
    """What storing updates in the inbox costs alone: alone, in Telegram's batches, marked."""

    updates: int
    one_by_one_seconds: float
    batched_seconds: float
    marked_seconds: float


async def run_inbox_only(
    database: Database, users: Sequence[int], count: int, first_update: int
) -> InboxOnly:
    """``uow.inbox.accept`` and commit per update, then per 100, then the finished marks."""
    bot = Bot(TOKEN)
    updates = [text_update(first_update + n, users[n % len(users)], bot) for n in range(count)]

    async def store(batch: Sequence[Update]) -> None:
        received = [Received(u.update_id, u.effective_user.id, u.to_dict()) for u in batch]  # type: ignore[union-attr]
        async with database.uow() as uow:
            await uow.inbox.accept(received, at=datetime.now(UTC))
            await uow.commit()

    half = max(1, count // 2)
    started = time.perf_counter()
    for update in updates[:half]:
        await store([update])
    one_by_one = (time.perf_counter() - started) / half * count
    started = time.perf_counter()
    for at in range(half, count, 100):
        await store(updates[at : at + 100])
    batched = (time.perf_counter() - started) / max(1, count - half) * count
    started = time.perf_counter()
    for at in range(0, count, 100):
        async with database.uow() as uow:
            ids = [u.update_id for u in updates[at : at + 100]]
            await uow.inbox.finish(ids, at=datetime.now(UTC))
            await uow.commit()
    return InboxOnly(count, one_by_one, batched, time.perf_counter() - started)


# --------------------------------------------------------------------------- recipients


@dataclass
class Recipients:
    """``owing_entry`` over many staff."""

    staff: int
    seconds: float
    rows: int
    expected: int


def big_office_chat(n: int) -> int | None:
    """The Telegram id of the ``n``-th person of ``seed_staff``; None if not linked."""
    return BIG_FIRST_USER + n if n % 10 != 0 else None


async def seed_staff(database: Database, staff: int, day: date) -> int:
    """Bulk-insert ``staff`` people (a mix of states); how many owe an entry for ``day``.

    One in 10 is not linked, one in 25 has left; of the rest, a third logged ``day``
    (one in 12 of those deleted it again), and one in 7 of the others is on leave.
    """
    async with database.uow() as uow:
        office = await uow.departments.add(Department(name="Big Office"))
        await uow.commit()
    now = datetime.now(UTC)
    rows = []
    expected = 0
    for n in range(staff):
        status = StaffStatus.LEFT if n % 25 == 0 else StaffStatus.ACTIVE
        rows.append(
            {
                "employee_no": f"B{n:07d}",
                "name": f"Person {n}",
                "department_id": office.id,
                "roles": Role.STAFF,
                "status": status,
                "telegram_user_id": big_office_chat(n),
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
        )
    async with database.engine.begin() as connection:
        for start in range(0, len(rows), 20_000):
            await connection.execute(insert(Staff), rows[start : start + 20_000])
        ids = [
            int(i)
            for i in (
                await connection.execute(
                    select(Staff.id).where(Staff.department_id == office.id).order_by(Staff.id)
                )
            ).scalars()
        ]
        entries = []
        leave = []
        for n, staff_id in enumerate(ids):
            if n % 3 == 0:  # logged that day (one in 12 of those deleted it: still owing)
                entry_status = EntryStatus.DELETED if n % 12 == 0 else EntryStatus.SUBMITTED
                entries.append(
                    {
                        "staff_id": staff_id,
                        "work_date": day,
                        "text": "done",
                        "status": entry_status,
                        "created_at": now,
                        "updated_at": now,
                        "version": 1,
                    }
                )
                # An entry the day before never counts.
            elif n % 7 == 0:
                leave.append(
                    {"staff_id": staff_id, "day": day, "kind": "leave", "created_at": now}
                )
            if n % 3 == 1:
                entries.append(
                    {
                        "staff_id": staff_id,
                        "work_date": day - timedelta(days=1),
                        "text": "yesterday",
                        "status": EntryStatus.SUBMITTED,
                        "created_at": now,
                        "updated_at": now,
                        "version": 1,
                    }
                )
            linked = n % 10 != 0
            working = n % 25 != 0
            logged = n % 3 == 0 and n % 12 != 0
            on_leave = n % 3 != 0 and n % 7 == 0
            if linked and working and not logged and not on_leave:
                expected += 1
        for start in range(0, len(entries), 20_000):
            await connection.execute(insert(WorkEntry), entries[start : start + 20_000])
        for start in range(0, len(leave), 20_000):
            await connection.execute(insert(LeaveDay), leave[start : start + 20_000])
    if database.engine.dialect.name == "postgresql":
        # Committed: on PostgreSQL the statistics ANALYZE gathers are rolled back otherwise.
        async with database.engine.begin() as connection:
            await connection.exec_driver_sql("ANALYZE")
    return expected


async def run_recipients(database: Database, staff: int, day: date) -> Recipients:
    """``seed_staff``, then time ``owing_entry(day)``."""
    expected = await seed_staff(database, staff, day)
    async with database.uow() as uow:
        started = time.perf_counter()
        owing = await uow.leave.owing_entry(day)
        seconds = time.perf_counter() - started
    # The quick-log members and earlier staff are in the same store: count ours only.
    ours = sum(1 for r in owing if r.telegram_user_id >= BIG_FIRST_USER)
    return Recipients(staff, seconds, ours, expected)


# --------------------------------------------------------------------------- benchmark


@dataclass
class Config:
    """What to run."""

    updates: int = 3000
    users: int = 300
    recipients: int = 100_000
    limited_updates: int = 150
    database_url: str | None = None
    timeout: float = 90.0


@dataclass
class Report:
    """Every figure the benchmark prints."""

    database: str
    runs: dict[str, Run] = field(default_factory=dict)
    store_only: StoreOnly | None = None
    inbox_only: InboxOnly | None = None
    recipients: Recipients | None = None

    @property
    def ratio(self) -> float:
        """Workledger updates/s over the floor's (for information)."""
        floor = self.runs["floor"].rate
        return self.runs["workledger"].rate / floor if floor else 0.0

    @property
    def goal_met(self) -> bool:
        """Whether the real Application handled at least ``GOAL_RATE`` updates/s."""
        return self.runs["workledger"].rate >= GOAL_RATE

    @property
    def nothing_lost(self) -> bool:
        """Every run handled and answered every update (and wrote every entry)."""
        return all(run.completed and run.replies == run.updates for run in self.runs.values())


async def _migrated(url: str) -> Database:
    database = Database(url)
    await migrate.upgrade(database.engine)
    return database


async def run_benchmark(config: Config) -> Report:
    """All runs on one fresh or given database; see the module docstring."""
    folder = Path(tempfile.mkdtemp(prefix="wl-quicklog-"))
    url = config.database_url or f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    report = Report(database=describe_url(url))
    database = await _migrated(url)
    try:
        # Each entry-writing run its own people, none past the flood limit (see above).
        per_minute = load_policy().entries.max_per_minute
        wanted = [config.updates, config.limited_updates, config.updates]
        sizes = [max(config.users, math.ceil(count / per_minute)) for count in wanted]
        everyone = list((await seed_members(database, sum(sizes))).items())
        cohorts: list[dict[int, int]] = []
        for size in sizes:
            cohorts.append(dict(everyone[:size]))
            everyone = everyone[size:]
        members, limited_members, store_members = cohorts
        users = list(members)
        settings = Settings(
            token=SecretStr(TOKEN), database_url=url, api_url=None, timezone=ZONE, language="en"
        )
        # Update ids are unique across runs: the gate drops an id it has seen.
        next_id = int(time.time()) * 10
        workledger = await run_workledger(
            settings,
            database,
            users,
            config.updates,
            next_id,
            rate_limited=False,
            limit=config.timeout,
        )
        report.runs[workledger.name] = workledger
        next_id += config.updates
        report.runs["floor"] = await run_floor(
            url, members, config.updates, next_id, config.timeout
        )
        next_id += config.updates
        report.runs["ptb"] = await run_minimal(
            "ptb", _nothing, users, config.updates, next_id, config.timeout
        )
        next_id += config.updates
        if config.limited_updates:
            limited = await run_workledger(
                settings,
                database,
                list(limited_members),
                config.limited_updates,
                next_id,
                rate_limited=True,
                limit=config.timeout,
            )
            report.runs[limited.name] = limited
            next_id += config.limited_updates
        report.store_only = await run_store_only(
            database, url, store_members, config.updates, next_id
        )
        next_id += config.updates
        report.inbox_only = await run_inbox_only(database, users, config.updates, next_id)
        next_id += config.updates
        if config.recipients:
            day = datetime.now(settings.zone).date() + timedelta(days=30)
            report.recipients = await run_recipients(database, config.recipients, day)
    finally:
        await database.dispose()
        shutil.rmtree(folder, ignore_errors=True)
    return report


def render(report: Report) -> str:
    """The printed report."""
    runs = report.runs
    lines = [
        f"Quick-log benchmark on {report.database}, Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs; Bot API answered in-process (StubRequest)",
    ]
    labels = {
        "workledger": "workledger (real Application, rate limiter uncapped)",
        "floor": "floor (1 raw INSERT+COMMIT + 1 reply)",
        "ptb": "PTB reply-only floor",
        "workledger-limited": "workledger with the production send budget (30 msg/s)",
    }
    for name, run in runs.items():
        lines.append(
            f"  {labels[name]:<56} {run.rate:>8.1f} updates/s  ({run.updates} in "
            f"{run.seconds:.2f}s; replies {run.replies}, rows {run.rows}, "
            f"{'complete' if run.completed else 'INCOMPLETE'})"
        )
    if "workledger" in runs:
        verdict = "met" if report.goal_met else "not met"
        lines.append(
            f"  goal: at least {GOAL_RATE:.0f} updates/s in one process: "
            f"{runs['workledger'].rate:.1f} [{verdict}]"
        )
    if "workledger" in runs and "floor" in runs:
        lines.append(f"  ratio workledger/floor: {report.ratio:.3f} (for information)")
    lines.append(f"  nothing lost: {'yes' if report.nothing_lost else 'NO'}")
    if "workledger" in runs:
        calls = ", ".join(f"{k} {v}" for k, v in sorted(runs["workledger"].api_calls.items()))
        lines.append(f"  Bot API calls answered by the stub (workledger run): {calls}")
    store = report.store_only
    if store is not None:
        lines.append(
            "  store only, no Telegram: quick-log write "
            f"{store.writes / store.workledger_seconds:,.0f}/s vs floor INSERT "
            f"{store.writes / store.floor_seconds:,.0f}/s "
            f"(ratio {store.ratio:.3f}; the write is 4 statements' work: sender check, claim, "
            "entry (whose INSERT counts the author's recent entries; after a lock on the "
            "author on PostgreSQL), audit event)"
        )
    inbox = report.inbox_only
    if inbox is not None:

        def ms(seconds: float) -> str:
            return f"{seconds / inbox.updates * 1000:.2f} ms"

        lines.append(
            f"  inbox only, per update: stored alone {ms(inbox.one_by_one_seconds)}, in "
            f"batches of 100 {ms(inbox.batched_seconds)}, marked finished (per 100) "
            f"{ms(inbox.marked_seconds)}; the quick-log write alone "
            f"{ms(store.workledger_seconds * inbox.updates / store.writes) if store else '-'}"
        )
    r = report.recipients
    if r is not None:
        right = "matches" if r.rows == r.expected else f"EXPECTED {r.expected}"
        lines.append(
            f"  owing_entry(day) over {r.staff:,} staff: {r.seconds:.3f}s, "
            f"{r.rows:,} recipients ({right})"
        )
    return "\n".join(lines)


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/quick_log.py", description=__doc__.split("\n")[0])
    parser.add_argument("--updates", type=int, default=3000)
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--recipients", type=int, default=100_000, help="staff rows, 0 to skip")
    parser.add_argument(
        "--limited-updates", type=int, default=150, help="rate-limited run (0 to skip)"
    )
    parser.add_argument(
        "--no-inbox", action="store_true", help="updates straight to the queue (no inbox)"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--database-url", default=os.environ.get("WORKLEDGER_DATABASE_URL"))
    where.add_argument(
        "--scratch-postgres",
        metavar="ADMIN_URL",
        help="create a scratch database on this PostgreSQL server, drop it afterwards",
    )
    args = parser.parse_args(argv)
    if args.updates < 1 or args.users < 1:
        parser.error("--updates and --users must be at least 1")
    global USE_INBOX
    USE_INBOX = not args.no_inbox
    return args


@contextlib.asynccontextmanager
async def _database_url(args: argparse.Namespace) -> AsyncIterator[str | None]:
    if args.scratch_postgres:
        async with scratch_postgres(args.scratch_postgres) as url:
            yield url
    else:
        yield args.database_url


async def _main(args: argparse.Namespace) -> Report:
    async with _database_url(args) as url:
        return await run_benchmark(
            Config(
                updates=args.updates,
                users=args.users,
                recipients=args.recipients,
                limited_updates=args.limited_updates,
                database_url=url,
            )
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run and print the report."""
    report = asyncio.run(_main(_arguments(argv)))
    print(render(report))
    return 0 if report.nothing_lost else 1


if __name__ == "__main__":
    raise SystemExit(main())
