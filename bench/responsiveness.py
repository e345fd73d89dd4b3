"""Responsiveness benchmark: how long people wait for the bot at its busiest moments.

    .venv/bin/python bench/responsiveness.py [--seconds 20] [--staff 100000]
        [--broadcast 10000] [--roster xlsx|csv] [--scratch-postgres ADMIN_URL] [--json FILE]
        [--citizens 300] [--citizen-seconds 10] [--export-entries 4] [--export-limit 900]
        [--only idle|reminders|broadcast|roster|scoring|export|citizens ...]

An offered load of 30 quick logs and 5 Approve presses a second from 200 people
(20 of them supervisors pressing Approve on their reports' entries), for 20 s,
through the real ``bot.app.build_application`` (started as ``bench/quick_log.py``
starts it: ``post_init`` opens the store and starts the outbox sender; every Bot API
call answered in-process). Five runs, each in a fresh Application on one store that
holds ``--staff`` people in all:

(a) idle: only that load;
(b) at 17:30: the same load while the daily reminder job the bot schedules
    (``handlers.reminders.daily_reminder_tick``, run by the Application's JobQueue one
    second into the load) chooses its recipients among the staff and queues them; the
    bot's clock (``Settings.clock_start``, as ``WORKLEDGER_CLOCK_START`` sets it) reads
    the policy's reminder time on a workday in the organisation's zone;
(c) during a broadcast: the same load while a ``--broadcast``-recipient notice,
    queued before the Application starts, drains through the outbox sender inside it
    at the policy's own rate (production limits);
(d) during a roster upload: the same load while HR sends the largest roster file the
    limits allow (``--roster xlsx``, the default, or ``csv``: 100,000 people, built by
    ``bench/roster_files.py``) one second into the load, and presses Apply as soon as
    the preview arrives. The bot downloads it (from this process's Bot API), reads it
    in its worker process and previews, then imports it. The preview's and the
    import's times are reported, from the upload (the press) to the bot's reply.
(e) during a whole period's scoring: the same load while ``score_period`` scores,
    grades and stores a past period (June 2025) of everyone in the store, one second
    into the load, in the bot's process on the bot's store; seeded before the run in SQL
    (``bench/scoring.py``'s ``seed_period``): a review row and 22 approved entries for
    everyone not left, ratings and points;
(f) during an export: the same load while HR's ledger of a past period (May 2025,
    seeded as (e)'s with ``--export-entries`` approved entries a person, 4 by default:
    400,000 entries, an export that outlasts the load several times over) is exported to
    XLSX as ``/export`` builds it, in the bot's export worker
    (``assessment.export_worker``: a process of its own reads the keyset pages from the
    store and writes the file), one second into the load. The run waits for it to end
    (``--export-limit`` seconds at most) and checks its row count; the report gives the
    share of the measured load it ran through and the worker's CPU time;
(g) during a rush of citizens: the same load while 300 citizens (``--citizens``) rate
    one clerk in 10 s (``--citizen-seconds``), one second into the load, each through
    a matter's QR code of their own (issued before the run, as ``/rate`` issues them):
    ``/start c_...`` from a stranger's account, then a press of the stars half a second
    later. Past ``[citizens] burst_max`` an hour the ratings are flagged for HR, not
    counted; every one must be stored, counted or flagged. The p99 above is the
    interactive load's; the citizens' presses have their own line.

The load is open-loop: every update has a fixed moment to reach the bot and is sent
then, whatever the replies do: it waits with Telegram's pending updates until the bot's
own poller takes it into the inbox, as ``bench/quick_log.py`` feeds it (``--no-inbox``:
straight onto ``application.update_queue``, as before the inbox). An
update's time runs from that moment (so a loop too busy to take it on time counts
against it) to the Bot API request of its reply: ``sendMessage`` for a quick log,
``answerCallbackQuery`` for a press. A 10 ms asyncio ticker measures the event loop's
longest stall (its worst lateness). The replies take from the process's send budget
(``bot.budget``) without Telegram's 30 messages/s cap, as in the other benchmarks, while
the sender keeps pacing itself at the policy's rate; ``--production-budget`` keeps the
cap, so replies and the sender share Telegram's 30 messages/s, replies first.

Goals, printed as met or not met, never asserted: p99 at most 150 ms and the longest
stall at most 50 ms in every run; p99 loaded / p99 idle at most 2. Nothing lost is
checked: every update answered, every press approved its entry, every quick log an entry,
every citizen's press a stored rating.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import SecretStr
from sqlalchemy import delete, func, insert, select
from telegram import Update
from telegram.request import RequestData

import bench.quick_log as quick_log
import bench.write_turns as write_turns
from assessment.calendar import WorkCalendar
from assessment.citizens import MATTER, CitizenKeys, payload
from assessment.exports import ExportRequest
from assessment.period_scoring import score_period
from assessment.periods import period_of
from assessment.reminders import DAILY_KIND
from assessment.roster import MAX_ROWS
from bench._support import describe_url, scratch_postgres
from bench.approvals import press_update
from bench.broadcast import queue_broadcast
from bench.quick_log import (
    BIG_FIRST_USER,
    TOKEN,
    ZONE,
    StubRequest,
    big_office_chat,
    offer_update,
    seed_staff,
    started,
    text_update,
)
from bench.roster_files import csv_file, valid_rows, xlsx
from bench.scoring import seed_period
from bench.write_turns import TurnLog
from config.policy import load_policy
from config.settings import Settings
from handlers.callbacks import CitizenStars, Decide
from handlers.context import WorkledgerContext
from handlers.export_labels import sheet_words
from handlers.reminders import daily_reminder_tick
from locales import translator
from storage import migrate
from storage.engine import Database
from storage.enums import DeliveryStatus, EntryStatus, Role, StaffStatus
from storage.models import (
    CitizenRating,
    Department,
    OutboxMessage,
    PeriodReview,
    Post,
    Staff,
    WorkEntry,
)

FIRST_PERSON = 650_000_000
TICK = 0.010
# When the reminder job starts, counted from the first measured update.
REMINDERS_AT = 1.0
# The goals (printed, never asserted).
GOAL_P99_MS = 150.0
GOAL_STALL_MS = 50.0
GOAL_RATIO = 2.0
QUICK_LOG = "quick log"
PRESS = "press"
# text_update's text, which the quick log's reply card repeats.
QUICK_LOG_TEXT = "Processed permit applications, batch "
BATCH = re.compile(re.escape(QUICK_LOG_TEXT) + r"(\d+)")
BROADCAST_PREFIX = "bench-responsiveness/"
RUNS = (
    ("idle", "(a) idle"),
    ("reminders", "(b) at 17:30"),
    ("broadcast", "(c) broadcast"),
    ("roster", "(d) roster"),
    ("scoring", "(e) scoring"),
    ("export", "(f) export"),
    ("citizens", "(g) citizens"),
)
# When HR sends the roster file, counted from the first measured update.
ROSTER_AT = 1.0
# When the whole period's scoring starts, counted from the first measured update, and
# the period it scores (long past: nothing of the load is in it).
SCORING_AT = 1.0
SCORING_PERIOD = period_of(date(2025, 6, 1), load_policy())
# When the ledger's export starts, and the period it exports (seeded as (e)'s).
EXPORT_AT = 1.0
EXPORT_PERIOD = period_of(date(2025, 5, 1), load_policy())
HR_PERSON = FIRST_PERSON - 1
ROSTER_FILE_ID = "bench-roster-largest"
# Run (g): when the citizens begin, counted from the first measured update; their
# Telegram accounts (strangers to the bot); how long after opening the link each presses.
CITIZENS_AT = 1.0
FIRST_CITIZEN = 880_000_000
CITIZEN_PRESS_AFTER = 0.5
# The card a citizen's /start gets (an answer, not an apology).
CITIZEN_CARD = "How was the service of "
# The bot's own periodic jobs first due later than this after start are off in every run.
JOBS_DUE_WITHIN = 30.0


# --------------------------------------------------------------------------- measuring


class TimedStub(StubRequest):
    """The in-process Bot API, noting when each update's reply is requested.

    A quick log's reply is the ``sendMessage`` whose card repeats its text (which
    names the update); a press's is the ``answerCallbackQuery`` of its query id (the
    update id, see ``press_update``).
    """

    def __init__(self) -> None:
        super().__init__()
        self.replied: dict[int, float] = {}
        # Messages that answer no update of the load (an apology after an error, ...).
        self.other_messages = 0
        # The star cards citizens' /start got in run (g).
        self.citizen_cards = 0
        self._waiting: set[int] = set()
        self.all_replied = asyncio.Event()
        # The roster HR sends in run (d), and when its preview and import were answered.
        self.roster: bytes = b""
        self.roster_previewed: float | None = None
        self.roster_apply: str | None = None
        self.roster_applied: float | None = None
        self.roster_text = ""
        self.roster_answered = asyncio.Event()

    def expect_roster(self, content: bytes) -> None:
        """Serve ``content`` as the roster file; ``roster_answered`` is set at each answer."""
        self.roster = content
        self.roster_answered = asyncio.Event()

    def _roster_reply(self, endpoint: str, params: Any, moment: float) -> bool:
        """Note an answer to HR's roster (True), or say it is none (False)."""
        text = str(params.get("text", ""))
        if text.startswith("Dry run: nothing was written.") and self.roster_previewed is None:
            self.roster_previewed = moment
            buttons = params.get("reply_markup", {}).get("inline_keyboard", [[]])
            self.roster_apply = str(buttons[0][0]["callback_data"])
        elif text.startswith("The roster was not imported") or (
            endpoint == "editMessageText" and "people added" in text
        ):
            self.roster_applied = moment
        else:
            return False
        self.roster_text = text
        self.roster_answered.set()
        return True

    def await_replies(self, update_ids: Sequence[int]) -> None:
        """``all_replied`` is set once each of ``update_ids`` has had its reply."""
        self._waiting = set(update_ids) - set(self.replied)
        self.all_replied = asyncio.Event()
        if not self._waiting:
            self.all_replied.set()

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
        moment = time.perf_counter()
        endpoint = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data is not None else {}
        update_id: int | None = None
        if "/file/bot" in url:  # the roster file's download
            return 200, self.roster
        if endpoint == "getFile":
            result = {
                "file_id": ROSTER_FILE_ID,
                "file_unique_id": ROSTER_FILE_ID,
                "file_size": len(self.roster),
                "file_path": "documents/roster",
            }
            return 200, json.dumps({"ok": True, "result": result}).encode()
        about_roster = False
        if self.roster and endpoint in ("sendMessage", "editMessageText"):
            about_roster = self._roster_reply(endpoint, params, moment)
        if endpoint == "sendMessage":
            text = str(params.get("text", ""))
            found = BATCH.search(text)
            update_id = int(found.group(1)) if found else None
            citizen = text.startswith(CITIZEN_CARD)
            self.citizen_cards += citizen
            self.other_messages += found is None and not about_roster and not citizen
        elif endpoint == "answerCallbackQuery":
            with contextlib.suppress(KeyError, ValueError):
                update_id = int(str(params["callback_query_id"]))
        if update_id is not None and update_id not in self.replied:
            self.replied[update_id] = moment
            self._waiting.discard(update_id)
            if not self._waiting:
                self.all_replied.set()
        return await super().do_request(
            url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
        )


class Ticker:
    """A task waking every ``TICK``; the worst lateness is the loop's longest stall."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start ticking."""
        self._task = asyncio.create_task(self._run(), name="stall-ticker")

    async def stop(self) -> float:
        """Stop; the longest stall in seconds."""
        self._stop.set()
        if self._task is not None:
            await self._task
        return self.worst

    async def _run(self) -> None:
        expected = time.perf_counter() + TICK
        while not self._stop.is_set():
            await asyncio.sleep(TICK)
            now = time.perf_counter()
            self.worst = max(self.worst, now - expected)
            expected = now + TICK


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (``share`` 0.99 for p99); NaN of nothing."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(1, math.ceil(share * len(ordered))) - 1]


# --------------------------------------------------------------------------- the load


@dataclass(frozen=True)
class Team:
    """The people of the load: who logs, and the entries their supervisors approve."""

    people: list[int]  # Telegram ids, supervisors included
    entries: list[tuple[int, int]]  # (entry id, supervisor's Telegram id), in press order


@dataclass(frozen=True)
class Offered:
    """One update of the load and when it enters the queue (seconds after the start)."""

    at: float
    kind: str
    update: Update


class Load:
    """Hands out quick-log senders and entries to press, in turn, across the runs."""

    def __init__(self, team: Team, first_update: int) -> None:
        self.team = team
        self.next_update = first_update
        self._person = 0
        self._entry = 0

    def take_update_id(self) -> int:
        """An update id for an update outside the load (HR's roster and press)."""
        self.next_update += 1
        return self.next_update - 1

    def schedule(
        self, seconds: float, logs_per_second: float, presses_per_second: float, bot: Any
    ) -> tuple[list[Offered], list[int]]:
        """``seconds`` of the load, in time order; and the entries its presses approve."""
        moments = [
            (n / logs_per_second, QUICK_LOG) for n in range(round(seconds * logs_per_second))
        ]
        moments += [
            ((n + 0.5) / presses_per_second, PRESS)
            for n in range(round(seconds * presses_per_second))
        ]
        offered = []
        pressed = []
        for at, kind in sorted(moments):
            update_id = self.next_update
            self.next_update += 1
            if kind == QUICK_LOG:
                person = self.team.people[self._person % len(self.team.people)]
                self._person += 1
                update = text_update(update_id, person, bot)
            else:
                entry_id, boss = self.team.entries[self._entry]
                self._entry += 1
                pressed.append(entry_id)
                data = Decide(entry_id, 1, "a").pack()
                parsed = Update.de_json(press_update(update_id, boss, data), bot)
                assert parsed is not None
                update = parsed
            offered.append(Offered(at, kind, update))
        return offered, pressed


async def offer(application: Any, load: Sequence[Offered]) -> tuple[dict[int, float], float]:
    """Put each update on the queue at its moment, open-loop; its moment by id, latest put."""
    due: dict[int, float] = {}
    late = 0.0
    start = time.perf_counter() + 0.02
    for item in load:
        moment = start + item.at
        wait = moment - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        late = max(late, time.perf_counter() - moment)
        due[item.update.update_id] = moment
        offer_update(application, item.update)
    return due, late


def roster_update(update_id: int, bot: Any) -> Update:
    """HR sending the roster file as a document."""
    payload = {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": HR_PERSON, "type": "private", "first_name": "HR"},
            "from": {"id": HR_PERSON, "is_bot": False, "first_name": "HR", "language_code": "en"},
            "document": {
                "file_id": ROSTER_FILE_ID,
                "file_unique_id": ROSTER_FILE_ID,
                "file_name": "roster",
            },
        },
    }
    update = Update.de_json(payload, bot)
    assert update is not None
    return update


def start_update(update_id: int, user_id: int, code_id: int, keys: CitizenKeys) -> dict[str, Any]:
    """A citizen opening a matter's QR code: ``/start c_...`` from a stranger."""
    text = f"/start {payload(code_id, keys)}"
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": "Citizen"},
            "from": {
                "id": user_id,
                "is_bot": False,
                "first_name": "Citizen",
                "language_code": "en",
            },
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len("/start")}],
        },
    }


async def _issue_citizen_codes(
    database: Database, config: Config, settings: Settings, load: Load
) -> tuple[int, list[tuple[int, int]]]:
    """Run (g)'s clerk (a report in the load's team) and a matter's code per citizen,
    issued at the run's clock, as ``/rate`` issues them; (code id, citizen's account)."""
    issued_at = settings.clock_start or datetime.now(UTC)
    policy = load_policy()
    expires_at = issued_at + timedelta(minutes=policy.citizens.code_minutes)
    async with database.uow() as uow:
        clerk = await uow.staff.by_telegram_id(load.team.people[config.supervisors])
        assert clerk is not None
        codes = [
            await uow.citizens.add_code(clerk.id, MATTER, now=issued_at, expires_at=expires_at)
            for _ in range(config.citizens)
        ]
        await uow.commit()
    return clerk.id, [(code_id, FIRST_CITIZEN + n) for n, code_id in enumerate(codes)]


# --------------------------------------------------------------------------- seeding


async def seed_team(
    database: Database, people: int, supervisors: int, day: date, entries: int
) -> Team:
    """``people`` linked staff, ``supervisors`` of them heading the rest; ``entries`` to decide."""
    async with database.uow() as uow:
        office = await uow.departments.add(Department(name="Responsiveness Office"))
        post = await uow.posts.add(
            Post(department_id=office.id, name="Clerk", post_type="service")
        )
        await uow.commit()
    now = datetime.now(UTC)

    def person(n: int, roles: Role, boss: int | None) -> dict[str, Any]:
        return {
            "employee_no": f"R{n:05d}", "name": f"Person R{n}", "department_id": office.id,
            "post_id": post.id, "roles": roles, "status": StaffStatus.ACTIVE,
            "telegram_user_id": FIRST_PERSON + n, "linked_at": now, "language": "en",
            "supervisor_id": boss, "created_at": now, "updated_at": now, "version": 1,
        }  # fmt: skip

    async with database.engine.begin() as connection:
        bosses = [person(n, Role.STAFF | Role.SUPERVISOR, None) for n in range(supervisors)]
        hr = person(-1, Role.STAFF | Role.HR, None) | {
            "employee_no": "HR0001",
            "telegram_user_id": HR_PERSON,
        }
        await connection.execute(insert(Staff), [hr, *bosses])
        staff_of = dict(
            (
                await connection.execute(
                    select(Staff.telegram_user_id, Staff.id).where(
                        Staff.department_id == office.id
                    )
                )
            ).all()
        )
        boss_of = {n: FIRST_PERSON + n % supervisors for n in range(supervisors, people)}
        await connection.execute(
            insert(Staff),
            [person(n, Role.STAFF, staff_of[boss_of[n]]) for n in range(supervisors, people)],
        )
        staff_of = dict(
            (
                await connection.execute(
                    select(Staff.telegram_user_id, Staff.id).where(
                        Staff.department_id == office.id
                    )
                )
            ).all()
        )
        reports = list(range(supervisors, people))
        authors = [reports[k % len(reports)] for k in range(entries)]
        await connection.execute(
            insert(WorkEntry),
            [
                {
                    "staff_id": staff_of[FIRST_PERSON + n],
                    "work_date": day,
                    "text": f"Inspected site {k}",
                    "status": EntryStatus.SUBMITTED,
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                }
                for k, n in enumerate(authors)
            ],
        )
        entry_of = {
            str(text): int(entry_id)
            for entry_id, text in await connection.execute(
                select(WorkEntry.id, WorkEntry.text).where(
                    WorkEntry.staff_id.in_([staff_of[FIRST_PERSON + n] for n in reports])
                )
            )
        }
        pressed = [(entry_of[f"Inspected site {k}"], boss_of[n]) for k, n in enumerate(authors)]
    return Team([FIRST_PERSON + n for n in range(people)], pressed)


def busy_day(now: datetime | None = None) -> tuple[date, datetime]:
    """The latest workday whose reminder time has passed, and that moment (aware).

    In the past, so the reminders queued at the bot's clock are due at once whichever
    clock the sender reads.
    """
    policy = load_policy()
    calendar = WorkCalendar(policy)
    zone = ZoneInfo(ZONE)
    local = (now or datetime.now(UTC)).astimezone(zone)
    day = local.date()
    while True:
        moment = datetime.combine(day, policy.reminders.daily_time, tzinfo=zone)
        if calendar.is_workday(day) and moment <= local - timedelta(hours=1):
            return day, moment
        day -= timedelta(days=1)


# --------------------------------------------------------------------------- runs


@dataclass
class Config:
    """What to run."""

    seconds: float = 20.0
    warm_up: float = 2.0  # seconds of the same load before the measured one, untimed
    quick_logs_per_second: float = 30.0
    presses_per_second: float = 5.0
    people: int = 200
    supervisors: int = 20
    staff: int = 100_000  # in the store, the load's people included
    broadcast: int = 10_000
    drain: float = 15.0  # longest wait for the last replies after the last update is put
    job_limit: float = 180.0  # longest wait for the reminder job to end
    database_url: str | None = None
    production_budget: bool = False
    roster: str = "xlsx"  # the largest roster file of run (d): "xlsx" or "csv"
    roster_people: int = MAX_ROWS  # its people (the limit)
    roster_limit: float = 120.0  # longest wait for the roster's preview, then its import
    only: tuple[str, ...] = ()  # the runs to make (by name); all of them if empty
    scoring_entries: int = 22  # approved entries per person in the period run (e) scores
    citizens: int = 300  # citizens rating one clerk in run (g)...
    citizen_seconds: float = 10.0  # ...within this many seconds
    # Approved entries per person in the period run (f) exports; the longest wait for it.
    export_entries: int = 4
    export_limit: float = 900.0


@dataclass
class Run:
    """The figures of one run."""

    name: str
    label: str
    offered: int = 0
    quick_logs: int = 0
    presses: int = 0
    answered: int = 0
    p50_ms: float = math.nan
    p99_ms: float = math.nan
    quick_log_p99_ms: float = math.nan
    press_p99_ms: float = math.nan
    max_ms: float = math.nan
    longest_stall_ms: float = math.nan
    latest_put_ms: float = math.nan  # how late the feeder put an update, at worst
    sender_sent: int = 0  # outbox messages the sender settled as sent during the run
    sender_seconds: float = 0.0  # how long "during the run" was
    cpu_seconds: float = 0.0  # the process's CPU time during the run, all its threads
    other_messages: int = 0  # the bot's messages that answer no update (apologies, ...)
    entries_logged: int = 0  # quick logs that became entries (warm-up included)
    quick_logs_total: int = 0
    presses_approved: int = 0  # entries pressed that are approved (warm-up included)
    presses_total: int = 0
    reminders_queued: int | None = None
    reminders_expected: int | None = None
    reminder_job_seconds: float | None = None
    broadcast_queued: int | None = None
    broadcast_sent: int | None = None  # of the notice's copies, in the window
    p99_ratio_to_idle: float | None = None
    roster_bytes: int | None = None
    roster_preview_seconds: float | None = None  # from the upload to the preview
    roster_import_seconds: float | None = None  # from the Apply press to the summary
    roster_reader_seconds: float | None = None  # the worker's own reading time
    roster_reader_peak_mib: float | None = None  # the worker's peak resident memory
    roster_reply: str | None = None  # the first line of the bot's last answer to HR
    scoring_expected: int | None = None  # review rows of the scored period
    scoring_scored: int | None = None  # people the run scored, graded and stored
    scoring_seconds: float | None = None
    export_expected: int | None = None  # entries of the exported period
    export_rows: int | None = None  # rows the export wrote
    export_seconds: float | None = None
    export_worker_cpu_seconds: float | None = None  # the export's worker's CPU time
    export_worker_peak_mib: float | None = None
    export_share_of_load: float | None = None  # of the measured load, the export ran through
    load_stall_ms: float | None = None  # the longest stall until the load's last reply
    citizens_offered: int | None = None  # citizens who opened a code and pressed, run (g)
    citizen_cards: int | None = None  # star cards their /start got
    citizens_stored: int | None = None  # their ratings in the store, counted or flagged
    citizens_counted: int | None = None
    citizens_flagged: int | None = None
    citizen_press_p99_ms: float | None = None
    # SQLite: this process's write turns during the run (``bench.write_turns``).
    write_turns: str | None = None
    error: str | None = None

    @property
    def complete(self) -> bool:
        """Every update answered, every quick log an entry, every press an approval."""
        return (
            self.error is None
            and self.answered == self.offered
            and self.entries_logged == self.quick_logs_total
            and self.presses_approved == self.presses_total
            and (self.reminders_queued is None or self.reminders_queued == self.reminders_expected)
            and (self.roster_bytes is None or self.roster_import_seconds is not None)
            and (self.scoring_expected is None or self.scoring_scored == self.scoring_expected)
            and (self.export_expected is None or self.export_rows == self.export_expected)
            and (self.citizens_offered is None or self.citizens_stored == self.citizens_offered)
        )


async def _count(database: Database, statement: Any) -> int:
    async with database.engine.connect() as connection:
        return int((await connection.execute(statement)).scalar_one())


def _quick_log_entries() -> Any:
    return (
        select(func.count())
        .select_from(WorkEntry)
        .where(WorkEntry.text.startswith(QUICK_LOG_TEXT, autoescape=True))
    )


def _approved(ids: Sequence[int]) -> Any:
    return select(func.count()).where(
        WorkEntry.id.in_(list(ids)), WorkEntry.status == EntryStatus.APPROVED
    )


def _sent(*, broadcast: bool = False) -> Any:
    statement = (
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.status == DeliveryStatus.SENT)
    )
    if broadcast:
        statement = statement.where(
            OutboxMessage.dedup_key.startswith(BROADCAST_PREFIX, autoescape=True)
        )
    return statement


async def _clear_outbox(database: Database) -> None:
    # What one run left to send must not be the next run's broadcast.
    async with database.engine.begin() as connection:
        await connection.execute(
            delete(OutboxMessage).where(
                OutboxMessage.status.in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING])
            )
        )


def _ms(seconds: float) -> float:
    return seconds * 1000.0


def quiet_jobs(application: Any) -> list[str]:
    """Switch off the bot's periodic jobs whose first run is more than ``JOBS_DUE_WITHIN``
    seconds away (the daily reminder, the monthly check's reminders, ...); their names.

    On a quiet machine a run ends before any of them first runs (a minute after start);
    on a busy one it lasts longer, and the daily reminder or the monthly check's stage
    reminders to all 100,000 staff would fall into whichever run it is. The jobs of the
    interactive load itself (approval requests every few seconds, a notice's progress)
    stay on; run (b) schedules the reminder job itself.
    """
    assert application.job_queue is not None
    latest = datetime.now(UTC) + timedelta(seconds=JOBS_DUE_WITHIN)
    off = []
    for job in application.job_queue.jobs():
        if job.next_t is not None and job.next_t > latest:
            job.enabled = False
            off.append(job.name)
    return off


async def run_one(
    name: str,
    label: str,
    config: Config,
    settings: Settings,
    database: Database,
    load: Load,
    *,
    reminders_expected: int | None = None,
    scoring_expected: int | None = None,
    export_expected: int | None = None,
) -> Run:
    """One run: warm up, then the measured load (with the reminder job if asked)."""
    run = Run(name, label)
    run.scoring_expected = scoring_expected
    run.export_expected = export_expected
    # Every run starts from the same garbage collector state: a full collection of a heap
    # this size takes 100 ms or more here, and whether one falls inside a run should
    # depend on that run's work, not on what the seeding or the run before left.
    gc.collect()
    stub = TimedStub()
    logged_before = await _count(database, _quick_log_entries())
    pressed: list[int] = []
    reminder_job: dict[str, float] = {}
    job_done = asyncio.Event()

    async def reminders(context: WorkledgerContext) -> None:
        begun = time.perf_counter()
        try:
            await daily_reminder_tick(context)
        finally:
            reminder_job["seconds"] = time.perf_counter() - begun
            job_done.set()

    roster_task: asyncio.Task[None] | None = None
    if name == "roster":
        people = valid_rows(config.roster_people)
        stub.expect_roster(csv_file(people) if config.roster == "csv" else xlsx(people))
        run.roster_bytes = len(stub.roster)

    async def hr_sends_the_roster(application: Any, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        sent = time.perf_counter()
        application.update_queue.put_nowait(roster_update(load.take_update_id(), application.bot))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stub.roster_answered.wait(), config.roster_limit)
        if stub.roster_previewed is None or stub.roster_apply is None:
            run.error = "no preview of the roster"
            return
        run.roster_preview_seconds = stub.roster_previewed - sent
        files = application.bot_data.roster_files
        run.roster_reader_seconds = files.workers.last_seconds
        if files.workers.last_peak_bytes is not None:
            run.roster_reader_peak_mib = files.workers.last_peak_bytes / 1024 / 1024
        stub.roster_answered = asyncio.Event()
        pressed = time.perf_counter()
        press = Update.de_json(
            press_update(load.take_update_id(), HR_PERSON, stub.roster_apply), application.bot
        )
        application.update_queue.put_nowait(press)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stub.roster_answered.wait(), config.roster_limit)
        if stub.roster_applied is None:
            run.error = "no answer to Apply"
            return
        run.roster_import_seconds = stub.roster_applied - pressed

    async def scores_the_period(application: Any, at: float) -> None:
        # As a job or HR's command would: the bot's own store, its clock.
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        begun = time.perf_counter()
        done = await score_period(
            application.bot_data.database,
            application.bot_data.policy,
            SCORING_PERIOD,
            now=datetime.now(UTC),
            worker=application.bot_data.scoring,
        )
        run.scoring_seconds = time.perf_counter() - begun
        run.scoring_scored = done.scored

    export_span: list[float] = []

    async def exports_the_ledger(application: Any, at: float) -> None:
        # As /export does: the bot's store, the requester's words, the bot's export worker.
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        data = application.bot_data
        words = sheet_words("ledger", translator("zh_Hans"), data.policy, ZONE)
        request = ExportRequest("ledger", EXPORT_PERIOD, ZoneInfo(ZONE))
        with tempfile.TemporaryDirectory(prefix="wl-responsiveness-export-") as folder:
            begun = time.perf_counter()
            done = await data.exports.export(
                data.database, data.policy, request, words, Path(folder) / "ledger.xlsx"
            )
            ended = time.perf_counter()
        export_span.extend((begun, ended))
        run.export_seconds = ended - begun
        run.export_rows = done.rows
        run.export_worker_cpu_seconds = done.cpu_seconds
        if done.peak_bytes is not None:
            run.export_worker_peak_mib = done.peak_bytes / 1024 / 1024

    citizen_codes: list[tuple[int, int]] = []
    clerk: int | None = None
    if name == "citizens":
        clerk, citizen_codes = await _issue_citizen_codes(database, config, settings, load)
        run.citizens_offered = len(citizen_codes)
    citizen_due: dict[int, float] = {}
    citizen_task: asyncio.Task[None] | None = None

    async def citizens_rate(application: Any, at: float) -> None:
        # Open-loop, as the load: each citizen's /start and press at their own moment.
        assert settings.secret_key is not None
        keys = CitizenKeys.of(settings.secret_key.get_secret_value())
        spacing = config.citizen_seconds / max(1, len(citizen_codes))
        events = []
        for n, (code_id, user) in enumerate(citizen_codes):
            opened = at + n * spacing
            events.append((opened, start_update(load.take_update_id(), user, code_id, keys)))
            data = CitizenStars(code_id, 1 + n % 5, keys.press_mac(code_id, user)).pack()
            press = press_update(load.take_update_id(), user, data)
            events.append((opened + CITIZEN_PRESS_AFTER, press))
        for moment, raw in sorted(events, key=lambda event: event[0]):
            await asyncio.sleep(max(0.0, moment - time.perf_counter()))
            update = Update.de_json(raw, application.bot)
            assert update is not None
            if update.callback_query is not None:
                citizen_due[update.update_id] = time.perf_counter()
            offer_update(application, update)

    scoring_task: asyncio.Task[None] | None = None
    export_task: asyncio.Task[None] | None = None
    async with started(
        settings, stub, rate_limited=config.production_budget, sender=StubRequest()
    ) as application:
        quiet_jobs(application)
        turns = TurnLog()
        turns.attach(application.bot_data.database.engine)
        rates = (config.quick_logs_per_second, config.presses_per_second, application.bot)
        warm, warm_pressed = load.schedule(config.warm_up, *rates)
        measured, measured_pressed = load.schedule(config.seconds, *rates)
        pressed = warm_pressed + measured_pressed
        run.quick_logs_total = sum(1 for item in warm + measured if item.kind == QUICK_LOG)
        run.presses_total = len(pressed)
        # Warm: statements compiled, Babel's data loaded, the sender settled.
        stub.await_replies([item.update.update_id for item in warm])
        await offer(application, warm)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stub.all_replied.wait(), config.drain)
        await asyncio.sleep(0.3)

        sent_before = await _count(database, _sent())
        notice_before = await _count(database, _sent(broadcast=True))
        counted = time.perf_counter()
        cpu_before = time.process_time()
        ids = [item.update.update_id for item in measured]
        stub.await_replies(ids)
        ticker = Ticker()
        ticker.start()
        others_before = stub.other_messages
        if name == "reminders":
            assert application.job_queue is not None
            application.job_queue.run_once(reminders, REMINDERS_AT, name="bench-daily-reminder")
        if name == "roster":
            roster_task = asyncio.create_task(
                hr_sends_the_roster(application, time.perf_counter() + ROSTER_AT)
            )
        if name == "scoring":
            scoring_task = asyncio.create_task(
                scores_the_period(application, time.perf_counter() + SCORING_AT)
            )
        if name == "export":
            export_task = asyncio.create_task(
                exports_the_ledger(application, time.perf_counter() + EXPORT_AT)
            )
        cards_before = stub.citizen_cards
        if name == "citizens":
            citizen_task = asyncio.create_task(
                citizens_rate(application, time.perf_counter() + CITIZENS_AT)
            )
        due, late = await offer(application, measured)
        load_span = (min(due.values(), default=counted), max(due.values(), default=counted))
        if citizen_task is not None:
            await citizen_task
            # The load's replies and the citizens' presses' answers, all awaited below.
            stub.await_replies([*ids, *citizen_due])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stub.all_replied.wait(), config.drain)
        run.load_stall_ms = _ms(ticker.worst)
        if scoring_task is not None:
            try:
                await asyncio.wait_for(scoring_task, config.job_limit)
            except TimeoutError:
                run.error = "the scoring did not finish"
        if export_task is not None:
            try:
                await asyncio.wait_for(export_task, config.export_limit)
            except TimeoutError:
                run.error = "the export did not finish"
            if export_span and load_span[1] > load_span[0]:
                through = min(export_span[1], load_span[1]) - max(export_span[0], load_span[0])
                run.export_share_of_load = max(0.0, through) / (load_span[1] - load_span[0])
        if roster_task is not None:
            await roster_task
            # The summary's first line, or a refusal with its first problem.
            lines = stub.roster_text.split("\n")
            run.roster_reply = "; ".join(lines[: 2 if lines[0].startswith("The roster") else 1])
        if name == "reminders":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(job_done.wait(), config.job_limit)
        run.longest_stall_ms = _ms(await ticker.stop())
        run.write_turns = write_turns.summary(turns.between(counted, time.perf_counter()))
        if name == "citizens":
            run.citizen_cards = stub.citizen_cards - cards_before
        run.other_messages = stub.other_messages - others_before
        run.sender_sent = await _count(database, _sent()) - sent_before
        run.sender_seconds = time.perf_counter() - counted
        run.cpu_seconds = time.process_time() - cpu_before
        if name == "broadcast":
            run.broadcast_sent = await _count(database, _sent(broadcast=True)) - notice_before

    kinds = {item.update.update_id: item.kind for item in measured}
    waits = {i: (stub.replied[i] - due[i] if i in stub.replied else math.inf) for i in ids}
    run.offered = len(ids)
    run.quick_logs = sum(1 for kind in kinds.values() if kind == QUICK_LOG)
    run.presses = run.offered - run.quick_logs
    run.answered = sum(1 for i in ids if i in stub.replied)
    every = list(waits.values())
    run.p50_ms = _ms(percentile(every, 0.50))
    run.p99_ms = _ms(percentile(every, 0.99))
    run.max_ms = _ms(max(every, default=math.nan))
    run.quick_log_p99_ms = _ms(
        percentile([w for i, w in waits.items() if kinds[i] == QUICK_LOG], 0.99)
    )
    run.press_p99_ms = _ms(percentile([w for i, w in waits.items() if kinds[i] == PRESS], 0.99))
    run.latest_put_ms = _ms(late)
    run.entries_logged = await _count(database, _quick_log_entries()) - logged_before
    run.presses_approved = await _count(database, _approved(pressed)) if pressed else 0
    if name == "citizens" and clerk is not None:
        citizen_waits = [stub.replied.get(i, math.inf) - at for i, at in citizen_due.items()]
        run.citizen_press_p99_ms = _ms(percentile(citizen_waits, 0.99))
        rated = select(func.count()).where(CitizenRating.staff_id == clerk)
        run.citizens_stored = await _count(database, rated)
        run.citizens_counted = await _count(
            database, rated.where(CitizenRating.status == "counted")
        )
        run.citizens_flagged = await _count(
            database, rated.where(CitizenRating.status == "flagged")
        )
    if name == "reminders":
        run.reminder_job_seconds = reminder_job.get("seconds")
        if not job_done.is_set():
            run.error = "the reminder job did not finish"
        run.reminders_expected = reminders_expected
        run.reminders_queued = await _count(
            database,
            select(func.count()).where(
                OutboxMessage.kind == DAILY_KIND, OutboxMessage.chat_id >= BIG_FIRST_USER
            ),
        )
    return run


# --------------------------------------------------------------------------- report


@dataclass
class Report:
    """Every figure the benchmark prints."""

    database: str
    config: dict[str, Any]
    day: str
    runs: dict[str, Run] = field(default_factory=dict)

    def _every(self) -> list[Run]:
        return list(self.runs.values())

    @property
    def p99_met(self) -> bool:
        """p99 at most ``GOAL_P99_MS`` in every run."""
        return all(run.p99_ms <= GOAL_P99_MS for run in self._every())

    @property
    def stall_met(self) -> bool:
        """The longest stall at most ``GOAL_STALL_MS`` in every run."""
        return all(run.longest_stall_ms <= GOAL_STALL_MS for run in self._every())

    @property
    def ratio_met(self) -> bool:
        """p99 loaded / p99 idle at most ``GOAL_RATIO`` in every loaded run."""
        ratios = [run.p99_ratio_to_idle for run in self._every() if run.name != "idle"]
        return all(ratio is not None and ratio <= GOAL_RATIO for ratio in ratios)

    @property
    def nothing_lost(self) -> bool:
        """Every run answered every update and did all its work."""
        return all(run.complete for run in self._every())

    def as_json(self) -> dict[str, Any]:
        """The figures, NaN and infinity as null."""

        def clean(value: Any) -> Any:
            if isinstance(value, float) and not math.isfinite(value):
                return None
            if isinstance(value, dict):
                return {key: clean(item) for key, item in value.items()}
            if isinstance(value, list):
                return [clean(item) for item in value]
            return value

        return clean(
            {
                **asdict(self),
                "goals": {
                    "p99_ms_at_most": GOAL_P99_MS,
                    "p99_met": self.p99_met,
                    "longest_stall_ms_at_most": GOAL_STALL_MS,
                    "stall_met": self.stall_met,
                    "p99_ratio_to_idle_at_most": GOAL_RATIO,
                    "ratio_met": self.ratio_met,
                },
                "nothing_lost": self.nothing_lost,
            }
        )


def _figure(value: float | None, digits: int = 1) -> str:
    if value is None or math.isnan(value):
        return "-"
    if math.isinf(value):
        return "no reply"
    return f"{value:,.{digits}f}"


def _verdict(met: bool) -> str:
    return "met" if met else "not met"


def render(report: Report) -> str:
    """The printed report: the runs side by side, then the goals."""
    c = report.config
    runs = report.runs
    limiter = (
        "the production send budget (30 msg/s, shared with the sender, replies first)"
        if c["production_budget"]
        else "the send budget without Telegram's 30/s cap (as the other benchmarks)"
    )
    lines = [
        f"Responsiveness benchmark on {report.database}, Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs; Bot API answered in-process",
        f"  offered open-loop: {c['quick_logs_per_second']:g} quick logs/s + "
        f"{c['presses_per_second']:g} Approve presses/s from {c['people']} people "
        f"({c['supervisors']} supervisors) for {c['seconds']:g} s, after {c['warm_up']:g} s of "
        f"the same untimed; {c['staff']:,} staff in the store; bot's day {report.day}",
        f"  replies: {limiter}; the sender at the policy's rate",
        "  time = from the update's moment to enter the queue to its reply's Bot API request "
        "(sendMessage / answerCallbackQuery)",
        "",
    ]
    width = 16
    header = f"  {'':<30}" + "".join(f"{run.label:>{width}}" for run in runs.values())
    lines.append(header)

    def row(title: str, cells: list[str]) -> None:
        lines.append(f"  {title:<30}" + "".join(f"{cell:>{width}}" for cell in cells))

    every = list(runs.values())
    row("updates answered", [f"{r.answered}/{r.offered}" for r in every])
    row("p50 ms", [_figure(r.p50_ms) for r in every])
    row("p99 ms", [_figure(r.p99_ms) for r in every])
    row("  p99 quick log ms", [_figure(r.quick_log_p99_ms) for r in every])
    row("  p99 Approve press ms", [_figure(r.press_p99_ms) for r in every])
    row("  max ms", [_figure(r.max_ms) for r in every])
    row("longest loop stall ms", [_figure(r.longest_stall_ms) for r in every])
    row("p99 loaded / p99 idle", [_figure(r.p99_ratio_to_idle, 2) for r in every])
    row(
        "sender sent, msg/s",
        [
            f"{r.sender_sent} ({r.sender_sent / r.sender_seconds:.1f}/s)"
            if r.sender_seconds
            else str(r.sender_sent)
            for r in every
        ],
    )
    row("feeder's latest put ms", [_figure(r.latest_put_ms) for r in every])
    # The work done, whatever share of the machine the process got: a busy machine's waits
    # are mostly queueing, its CPU seconds are not.
    row(
        "bot's CPU s (of wall s)",
        [f"{r.cpu_seconds:.1f} ({r.sender_seconds:.0f})" for r in every],
    )
    row("other messages (apologies...)", [str(r.other_messages) for r in every])
    lines.append("")
    reminders = runs.get("reminders")
    if reminders is not None:
        right = (
            "as expected"
            if reminders.reminders_queued == reminders.reminders_expected
            else f"EXPECTED {reminders.reminders_expected}"
        )
        lines.append(
            f"  (b) the daily reminder job chose and queued {reminders.reminders_queued or 0:,} "
            f"reminders ({right}) in {_figure(reminders.reminder_job_seconds, 2)} s, "
            f"started {REMINDERS_AT:g} s into the load"
        )
    broadcast = runs.get("broadcast")
    if broadcast is not None:
        lines.append(
            f"  (c) a notice to {broadcast.broadcast_queued or 0:,} chats queued before the run; "
            f"{broadcast.broadcast_sent or 0} of them sent during the measured load (the sender's "
            f"{broadcast.sender_sent} messages in all)"
        )
    roster = runs.get("roster")
    if roster is not None:
        kind = "CSV" if c["roster"] == "csv" else "XLSX"
        lines.append(
            f"  (d) HR sent a roster of {c['roster_people']:,} people ({kind}, "
            f"{(roster.roster_bytes or 0) / 1e6:.1f} MB; the limit is {MAX_ROWS:,}) "
            f"{ROSTER_AT:g} s into the load: "
            f"preview in {_figure(roster.roster_preview_seconds, 2)} s (read in the worker in "
            f"{_figure(roster.roster_reader_seconds, 2)} s, peak "
            f"{_figure(roster.roster_reader_peak_mib, 0)} MiB); Apply answered in "
            f"{_figure(roster.roster_import_seconds, 2)} s: {roster.roster_reply or '-'}"
        )
    scoring = runs.get("scoring")
    if scoring is not None:
        right = (
            "everyone reviewable"
            if scoring.scoring_scored == scoring.scoring_expected
            else f"EXPECTED {scoring.scoring_expected}"
        )
        lines.append(
            f"  (e) score_period scored, graded and stored {scoring.scoring_scored or 0:,} "
            f"people ({right}; {c['scoring_entries']} approved entries each) in "
            f"{_figure(scoring.scoring_seconds, 2)} s, started {SCORING_AT:g} s into the load"
        )
    exported = runs.get("export")
    if exported is not None:
        right = (
            "every entry"
            if exported.export_rows == exported.export_expected
            else f"EXPECTED {exported.export_expected}"
        )
        share = exported.export_share_of_load
        lines.append(
            f"  (f) the ledger exported to XLSX in the export worker, "
            f"{exported.export_rows or 0:,} rows ({right}) in "
            f"{_figure(exported.export_seconds, 2)} s (the worker's CPU "
            f"{_figure(exported.export_worker_cpu_seconds, 1)} s, peak "
            f"{_figure(exported.export_worker_peak_mib, 0)} MiB), started {EXPORT_AT:g} s into "
            f"the load, running through {_figure(None if share is None else share * 100, 0)}% "
            f"of it; the longest loop stall {_figure(exported.load_stall_ms)} ms until the "
            f"load's last reply, {_figure(exported.longest_stall_ms)} ms in the whole run"
        )
    citizens = runs.get("citizens")
    if citizens is not None:
        lines.append(
            f"  (g) {citizens.citizens_offered or 0} citizens rated one clerk in "
            f"{c['citizen_seconds']:g} s ({citizens.citizen_cards or 0} star cards for their "
            f"/start), started {CITIZENS_AT:g} s into the load: "
            f"{citizens.citizens_stored or 0} ratings stored ({citizens.citizens_counted or 0} "
            f"counted, {citizens.citizens_flagged or 0} flagged as a burst for HR), "
            f"{'none' if citizens.citizens_stored == citizens.citizens_offered else 'SOME'} "
            f"lost; their presses' p99 {_figure(citizens.citizen_press_p99_ms)} ms"
        )
    for run in every:
        if run.write_turns is not None and run.write_turns != "no write turns":
            lines.append(f"  {run.label.split()[0]} {run.write_turns}")
    loaded = ", ".join(
        f"{r.label.split()[0]} {_figure(r.p99_ratio_to_idle, 2)}"
        for r in every
        if r.name != "idle"
    )
    lines += [
        "  goals:",
        f"    p99 <= {GOAL_P99_MS:g} ms in every run: {_verdict(report.p99_met)} ("
        + ", ".join(f"{r.label.split()[0]} {_figure(r.p99_ms)}" for r in every)
        + ")",
        f"    longest stall <= {GOAL_STALL_MS:g} ms in every run: {_verdict(report.stall_met)} ("
        + ", ".join(f"{r.label.split()[0]} {_figure(r.longest_stall_ms)}" for r in every)
        + ")",
        f"    p99 loaded / idle <= {GOAL_RATIO:g}: {_verdict(report.ratio_met)} ({loaded})",
        f"  nothing lost: {'yes' if report.nothing_lost else 'NO'}",
    ]
    for run in every:
        if not run.complete:
            lines.append(
                f"    {run.label}: answered {run.answered}/{run.offered}, entries "
                f"{run.entries_logged}/{run.quick_logs_total}, approved "
                f"{run.presses_approved}/{run.presses_total}"
                + (f", error: {run.error}" if run.error else "")
            )
    return "\n".join(lines)


# --------------------------------------------------------------------------- benchmark


async def run_benchmark(config: Config) -> Report:
    """The three runs on one fresh (or given, empty and migrated) database."""
    folder = Path(tempfile.mkdtemp(prefix="wl-responsiveness-"))
    url = config.database_url or f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    day, reminder_time = busy_day()
    report = Report(describe_url(url), asdict(config) | {"database_url": None}, day.isoformat())
    database = Database(url)
    try:
        await migrate.upgrade(database.engine)
        presses_per_run = round(config.warm_up * config.presses_per_second) + round(
            config.seconds * config.presses_per_second
        )
        team = await seed_team(
            database, config.people, config.supervisors, day, presses_per_run * len(RUNS)
        )
        big_office = max(0, config.staff - config.people)
        expected = await seed_staff(database, big_office, day)
        load = Load(team, int(time.time()) * 10)
        # Run (g)'s citizens need the key that signs their codes: one for this benchmark.
        secret = SecretStr(secrets.token_hex(32))

        def settings(moment: datetime) -> Settings:
            return Settings(
                token=SecretStr(TOKEN), database_url=url, api_url=None, timezone=ZONE,
                language="en", clock_start=moment, secret_key=secret,
            )  # fmt: skip

        # Half an hour before the reminders, so nothing else the jobs do is due.
        before = reminder_time - timedelta(minutes=30)
        # Each run's clock starts where no earlier run's entries are "in the last minute"
        # for the flood check (the same 200 people log in every run): (a) half an hour
        # before the reminders, so nothing else the jobs do is due; (b) at the reminder
        # time; the later ones minutes after it (a run lasts well under a minute, so no
        # job's first tick comes, and the day's reminder is claimed already).
        later = 0
        for name, label in RUNS:
            if config.only and name not in config.only:
                continue
            queued = None
            scoring_expected = export_expected = None
            if name == "export":
                # As (e)'s: written long ago, so no flood limit of today counts it.
                await seed_period(
                    database,
                    EXPORT_PERIOD,
                    config.export_entries,
                    at=datetime.combine(EXPORT_PERIOD.ends_on, datetime.min.time(), UTC),
                )
                export_expected = await _count(
                    database,
                    select(func.count())
                    .select_from(WorkEntry)
                    .where(
                        WorkEntry.work_date.between(EXPORT_PERIOD.starts_on, EXPORT_PERIOD.ends_on)
                    ),
                )
            if name == "scoring":
                # Written long ago: none of it counts against anyone's flood limit today.
                await seed_period(
                    database,
                    SCORING_PERIOD,
                    config.scoring_entries,
                    at=datetime.combine(SCORING_PERIOD.ends_on, datetime.min.time(), UTC),
                )
                scoring_expected = await _count(
                    database, select(func.count()).select_from(PeriodReview)
                )
            if name == "broadcast":
                chats = [c for n in range(big_office) if (c := big_office_chat(n)) is not None]
                chats = chats[: config.broadcast]
                await queue_broadcast(database, BROADCAST_PREFIX, chats)
                queued = len(chats)
            if name == "idle":
                moment = before
            elif name == "reminders":
                moment = reminder_time
            else:
                later += 1
                moment = reminder_time + timedelta(minutes=5 * later)
            run = await run_one(
                name,
                label,
                config,
                settings(moment),
                database,
                load,
                reminders_expected=expected if name == "reminders" else None,
                scoring_expected=scoring_expected,
                export_expected=export_expected,
            )
            run.broadcast_queued = queued
            report.runs[name] = run
            await _clear_outbox(database)
        idle = report.runs["idle"].p99_ms if "idle" in report.runs else math.nan
        for run in report.runs.values():
            if run.name != "idle" and idle > 0 and math.isfinite(idle):
                run.p99_ratio_to_idle = run.p99_ms / idle
    finally:
        await database.dispose()
        shutil.rmtree(folder, ignore_errors=True)
    return report


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/responsiveness.py", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="measured load per run")
    parser.add_argument("--warm-up", type=float, default=2.0, help="untimed load before it")
    parser.add_argument("--quick-logs", type=float, default=30.0, help="per second")
    parser.add_argument("--presses", type=float, default=5.0, help="Approve presses per second")
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--supervisors", type=int, default=20)
    parser.add_argument("--staff", type=int, default=100_000, help="in the store in all")
    parser.add_argument("--broadcast", type=int, default=10_000, help="recipients of (c)")
    parser.add_argument(
        "--production-budget",
        action="store_true",
        help="keep Telegram's 30 messages/s cap on the replies too (shared with the sender)",
    )
    parser.add_argument(
        "--scratch-postgres",
        metavar="ADMIN_URL",
        help="create a scratch database on this PostgreSQL server, drop it afterwards",
    )
    parser.add_argument(
        "--roster", choices=("xlsx", "csv"), default="xlsx", help="the roster file of (d)"
    )
    parser.add_argument(
        "--roster-people", type=int, default=MAX_ROWS, help="people in it (the limit)"
    )
    parser.add_argument("--citizens", type=int, default=300, help="rating one clerk in (g)")
    parser.add_argument(
        "--citizen-seconds", type=float, default=10.0, help="the time (g)'s citizens take"
    )
    parser.add_argument(
        "--export-entries", type=int, default=4, help="approved entries a person, run (f)"
    )
    parser.add_argument(
        "--export-limit", type=float, default=900.0, help="longest wait for (f)'s export, s"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=[name for name, _ in RUNS],
        help="make only this run (again for more); every run if not given",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the figures as JSON too")
    parser.add_argument(
        "--no-inbox", action="store_true", help="updates straight to the queue (no inbox)"
    )
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.quick_logs <= 0 or args.presses <= 0:
        parser.error("--seconds, --quick-logs and --presses must be positive")
    if not 0 < args.supervisors < args.people:
        parser.error("--supervisors must be at least 1 and fewer than --people")
    return args


async def _main(args: argparse.Namespace) -> Report:
    quick_log.USE_INBOX = not args.no_inbox
    config = Config(
        seconds=args.seconds,
        warm_up=args.warm_up,
        quick_logs_per_second=args.quick_logs,
        presses_per_second=args.presses,
        people=args.people,
        supervisors=args.supervisors,
        staff=args.staff,
        broadcast=args.broadcast,
        production_budget=args.production_budget,
        roster=args.roster,
        roster_people=args.roster_people,
        citizens=args.citizens,
        citizen_seconds=args.citizen_seconds,
        export_entries=args.export_entries,
        export_limit=args.export_limit,
        only=tuple(args.only or ()),
    )
    if args.scratch_postgres:
        async with scratch_postgres(args.scratch_postgres) as url:
            config.database_url = url
            return await run_benchmark(config)
    return await run_benchmark(config)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run, print the report, optionally write JSON."""
    args = _arguments(argv)
    report = asyncio.run(_main(args))
    print(render(report))
    if args.json:
        args.json.write_text(json.dumps(report.as_json(), indent=2) + "\n", encoding="utf-8")
        print(f"\nfigures written to {args.json}")
    return 0 if report.nothing_lost else 1


if __name__ == "__main__":
    raise SystemExit(main())
