"""Broadcast benchmark: the real outbox sender (``workledger deliver``) against the emulator.

    .venv/bin/python bench/broadcast.py [--recipients 10000] [--rates 300,1000]
        [--database-url URL | --scratch-postgres ADMIN_URL] [--json PATH]

Each scenario starts a fresh Bot API emulator (``python -m bot.emulator``) and a real
sender (``python -m bot deliver``), each in a process of its own, queues one message
per recipient with ``assessment.outbox.enqueue``, and waits until every row is final.
The figures come from the emulator's call log (what Telegram would have seen), the
outbox table, and ``/proc`` (CPU time and peak RSS of each process).

Scenarios: one per configured rate with injected faults (429, 500, 502 on a few
percent of ``sendMessage`` calls); the unthrottled ceiling (a very high configured
rate, no faults); a crash run (``kill -9`` of the sender after about 40% has been
sent, then a new sender, which has to wait out the dead one's lease).

The database is a SQLite file in a temporary folder unless ``--database-url`` (or
``WORKLEDGER_DATABASE_URL``) names one; ``--scratch-postgres`` creates a scratch
PostgreSQL database on that server and drops it afterwards. A database given by URL is
migrated, must have nothing pending in its outbox and no live sender, and gets back
exactly the rows it had: the benchmark deletes the ones it queued.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import inspect
import json
import math
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import delete, func, select

from assessment.batches import BATCH_SIZE
from assessment.outbox import BULK, Outgoing, enqueue
from bench._support import (
    Child,
    ChildError,
    child_environment,
    describe_url,
    free_port,
    machine_busy_seconds,
    scratch_postgres,
    wait_until_answering,
)
from bot.delivery import DEAD_AFTER, FLUSH_EVERY, FLUSH_SIZE, LEASE, serve
from bot.emulator import EmulatedUser, EmulatorDriver
from config.policy import DEFAULT_POLICY_PATH, load_policy
from storage import migrate
from storage.engine import Database
from storage.enums import DeliveryStatus
from storage.models import DeliveryWorker, OutboxMessage

TOKEN = "123456:bench-token-for-the-emulator-only"  # noqa: S105 - not a secret
FIRST_CHAT = 100_000_000
SEND = "sendMessage"
# The sender's concurrency as `workledger deliver` runs it (serve's default).
CONCURRENCY = int(inspect.signature(serve).parameters["concurrency"].default)
FINAL = {DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.UNREACHABLE}
POLL = 0.2
# Injected on sendMessage, in this order (the first rule that fires answers the call).
FAULTS: tuple[tuple[int, float, int], ...] = ((429, 0.01, 11), (500, 0.02, 12), (502, 0.01, 13))
TEXT = (
    "Notice {n}: the monthly assessment results for November are published. "
    "Open /score to see your grade and bonus; appeals are open until the 5th."
)


@dataclass(frozen=True)
class Scenario:
    """One run of the sender."""

    name: str
    rate: float
    faults: bool = True
    crash_at: float | None = None  # kill -9 the sender when this share has been sent


@dataclass
class CrashFigures:
    """What the crash did and how the store recovered."""

    killed_after_sent: int = 0  # rows settled as sent in the store at the kill
    accepted_before_kill: int = 0  # chats Telegram had accepted a message for at the kill
    leased_at_kill: int = 0  # rows the dead sender held under lease
    accepted_but_unsettled: int = 0  # leased rows whose message Telegram already had
    duplicates: int = 0  # chats that got the message twice (or more) in the end
    bound_nominal: int = 0  # concurrency + one flush interval's outcomes at this rate
    bound_cap: int = 0  # concurrency + FLUSH_SIZE
    recover_seconds: float = 0.0  # from the kill until every row was final
    lease_seconds: float = LEASE.total_seconds()
    restart_rate_first_15s: float = 0.0  # ok calls/s in the new sender's first DEAD_AFTER
    first_sender_peak_rss_mib: float = 0.0


@dataclass
class RunResult:
    """The figures of one scenario."""

    scenario: str
    database: str
    recipients: int
    configured_rate: float
    faults: bool
    completed: bool = False  # every row final within the time limit
    wall_seconds: float = 0.0  # sender start until every row was final
    calls: int = 0  # every sendMessage call the emulator received
    ok_calls: int = 0
    status_counts: dict[str, int] = field(default_factory=dict)
    injected_429: int = 0
    injected_5xx: int = 0
    achieved_rate: float = 0.0  # successful calls over the first..last successful call
    achieved_ratio: float = 0.0
    steady_rate: float = 0.0  # successful calls between the 5th and 95th percentile
    steady_ratio: float = 0.0
    all_calls_rate: float = 0.0  # every call (faults too) over its own span
    all_calls_ratio: float = 0.0
    busiest_window_all: int = 0  # max calls (faults included) in any 1 s window
    busiest_ratio_all: float = 0.0
    busiest_window_ok: int = 0  # the same, successful calls only
    rows: dict[str, int] = field(default_factory=dict)  # outbox rows by final status
    lost_rows: int = 0  # outbox rows not sent
    lost_chats: int = 0  # recipients whose chat never got the message
    lost: int = 0  # recipients in either set
    duplicated: int = 0  # chats that got more than one successful message
    extra_messages: int = 0  # successful messages beyond one per chat
    stray_chats: int = 0  # successful calls to chats we never queued for
    sender_peak_rss_mib: float = 0.0
    sender_cpu_seconds: float = 0.0  # all senders of the scenario, start to stop
    emulator_cpu_seconds: float = 0.0  # from the sender's start to the end of sending
    bench_cpu_seconds: float = 0.0  # this process (polling the store) in the same time
    # Cores kept busy meanwhile by every other process (a local PostgreSQL server included).
    other_load_cores: float = 0.0
    sender_cpu_share: float = 0.0  # of one core, over the sending span
    emulator_cpu_share: float = 0.0
    sender_exit: int | None = None  # the last sender's exit status after SIGTERM
    sender_stopped_gracefully: bool = True
    crash: CrashFigures | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Config:
    """What to run."""

    recipients: int = 10_000
    rates: Sequence[float] = (300.0, 1000.0)
    database_url: str | None = None  # None: a SQLite file in a temporary folder
    ceiling_rate: float | None = 100_000.0
    crash_rate: float | None = 300.0
    crash_at: float = 0.4
    faults: bool = True
    time_limit: float | None = None  # per scenario; None: from the rate and size
    verbose: bool = True


@dataclass
class Report:
    """Every scenario's figures, and what they ran on."""

    started: str
    database: str
    recipients: int
    cpus: int
    python: str
    concurrency: int
    runs: list[RunResult] = field(default_factory=list)
    ceiling: RunResult | None = None
    crash: RunResult | None = None
    notes: list[str] = field(default_factory=list)


def environment_notes() -> list[str]:
    """Things about the installed packages that change the figures."""
    notes = []
    if importlib.util.find_spec("sniffio") is None:
        notes.append(
            "sniffio is not installed: httpcore retries `import sniffio` (and fails) on every "
            "lock it sets up, several times per request; this costs the sender about a third "
            "of its CPU (encode/httpcore#1103; anyio >= 4.11 stopped depending on sniffio)"
        )
    return notes


# ------------------------------------------------------------------------- analysis


def busiest_window(times: Sequence[float], width: float = 1.0) -> int:
    """The most events in any window ``[t, t + width)`` (``times`` sorted)."""
    best = 0
    start = 0
    for end, moment in enumerate(times):
        while moment - times[start] >= width:
            start += 1
        best = max(best, end - start + 1)
    return best


def span_rate(times: Sequence[float]) -> float:
    """Events per second over their own span: (n - 1) intervals / (last - first)."""
    if len(times) < 2 or times[-1] <= times[0]:
        return 0.0
    return (len(times) - 1) / (times[-1] - times[0])


def steady_rate(times: Sequence[float], low: float = 0.05, high: float = 0.95) -> float:
    """The rate between two percentiles: the stream without its start-up and retry tail."""
    if len(times) < 20:
        return span_rate(times)
    first = int(len(times) * low)
    last = int(len(times) * high) - 1
    return span_rate(times[first : last + 1])


def cpu_share(
    samples: Sequence[tuple[float, float]], start: float, end: float
) -> tuple[float, float]:
    """CPU seconds and share of one core between ``start`` and ``end`` from (time, cpu)."""
    inside = [s for s in samples if start <= s[0] <= end]
    if len(inside) < 2:
        inside = list(samples)
    if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
        return 0.0, 0.0
    used = inside[-1][1] - inside[0][1]
    return used, used / (inside[-1][0] - inside[0][0])


def _ratio(value: float, rate: float) -> float:
    return value / rate if rate else 0.0


def analyse(
    result: RunResult,
    calls: Sequence[dict[str, Any]],
    rows: Sequence[tuple[int, str]],
    chats: Sequence[int],
) -> None:
    """Fill in the call-log and store figures of ``result``."""
    rate = result.configured_rate
    every = sorted(float(call["at"]) for call in calls)
    ok = sorted(float(call["at"]) for call in calls if call["status"] == 200)
    statuses = Counter(int(call["status"]) for call in calls)
    result.calls = len(every)
    result.ok_calls = len(ok)
    result.status_counts = {str(status): count for status, count in sorted(statuses.items())}
    result.injected_429 = statuses.get(429, 0)
    result.injected_5xx = sum(count for status, count in statuses.items() if status >= 500)
    result.achieved_rate = span_rate(ok)
    result.achieved_ratio = _ratio(result.achieved_rate, rate)
    result.steady_rate = steady_rate(ok)
    result.steady_ratio = _ratio(result.steady_rate, rate)
    result.all_calls_rate = span_rate(every)
    result.all_calls_ratio = _ratio(result.all_calls_rate, rate)
    result.busiest_window_all = busiest_window(every)
    result.busiest_ratio_all = _ratio(result.busiest_window_all, rate)
    result.busiest_window_ok = busiest_window(ok)

    received = Counter(int(call["params"]["chat_id"]) for call in calls if call["status"] == 200)
    expected = set(chats)
    result.rows = dict(sorted(Counter(status for _, status in rows).items()))
    not_sent = {chat for chat, status in rows if status != DeliveryStatus.SENT}
    missing = {chat for chat in expected if received[chat] == 0}
    result.lost_rows = len(not_sent) + max(0, len(expected) - len(rows))
    result.lost_chats = len(missing)
    result.lost = len(not_sent | missing | (expected - {chat for chat, _ in rows}))
    result.duplicated = sum(1 for chat in expected if received[chat] > 1)
    result.extra_messages = sum(received[chat] - 1 for chat in expected if received[chat] > 1)
    result.stray_chats = len(set(received) - expected)


# ---------------------------------------------------------------------------- store


async def _prepare_store(database: Database) -> None:
    await migrate.upgrade(database.engine)
    async with database.uow() as uow:
        busy = await uow.session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status.in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING]))
        )
        recent = datetime.now(UTC) - DEAD_AFTER
        senders = await uow.session.scalar(
            select(func.count())
            .select_from(DeliveryWorker)
            .where(DeliveryWorker.seen_at >= recent)
        )
    if busy:
        raise SystemExit(
            f"the outbox of {describe_url(database.url)} has {busy} message(s) waiting: the "
            "benchmark's sender would send them to the emulator. Use a scratch database."
        )
    if senders:
        raise SystemExit(
            f"{senders} sender(s) are running on {describe_url(database.url)}: they would share "
            "the rate and take the benchmark's messages. Use a scratch database."
        )


async def queue_broadcast(database: Database, prefix: str, chats: Sequence[int]) -> None:
    """One bulk notice per chat, queued in transactions of ``BATCH_SIZE`` rows."""
    for first in range(0, len(chats), BATCH_SIZE):
        async with database.uow() as uow:
            await enqueue(
                uow,
                [
                    Outgoing(
                        chat_id=chat,
                        kind="bench-broadcast",
                        text=TEXT.format(n=n),
                        dedup_key=f"{prefix}{chat}",
                        priority=BULK,
                    )
                    for n, chat in enumerate(chats[first : first + BATCH_SIZE], start=first)
                ],
                now=datetime.now(UTC),
            )
            await uow.commit()


def _ours(prefix: str) -> Any:
    return OutboxMessage.dedup_key.startswith(prefix, autoescape=True)


async def _status_counts(database: Database, prefix: str) -> Counter[str]:
    async with database.uow() as uow:
        rows = await uow.session.execute(
            select(OutboxMessage.status, func.count())
            .where(_ours(prefix))
            .group_by(OutboxMessage.status)
        )
        return Counter({str(status): int(count) for status, count in rows})


async def _rows(database: Database, prefix: str) -> list[tuple[int, str]]:
    async with database.uow() as uow:
        rows = await uow.session.execute(
            select(OutboxMessage.chat_id, OutboxMessage.status).where(_ours(prefix))
        )
        return [(int(chat), str(status)) for chat, status in rows]


async def _unsent_detail(database: Database, prefix: str, limit: int = 10) -> list[str]:
    """The rows that did not end as sent: status, attempts and error, for the report."""
    async with database.uow() as uow:
        rows = await uow.session.execute(
            select(
                OutboxMessage.chat_id,
                OutboxMessage.status,
                OutboxMessage.attempts,
                OutboxMessage.error,
            )
            .where(_ours(prefix), OutboxMessage.status != DeliveryStatus.SENT)
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        return [
            f"chat {chat}: {status}, attempts {attempts}, error {error!r}"
            for chat, status, attempts, error in rows
        ]


async def _forget(database: Database, prefix: str) -> None:
    async with database.uow() as uow:
        await uow.session.execute(delete(OutboxMessage).where(_ours(prefix)))
        await uow.commit()


# ------------------------------------------------------------------------ processes


def _policy_file(folder: Path, rate: float) -> Path:
    """A copy of the default policy with ``broadcast.messages_per_second = rate``."""
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    section = re.search(r"(?ms)^\[broadcast\]\n.*?(?=^\[|\Z)", text)
    if section is None:
        raise RuntimeError(f"{DEFAULT_POLICY_PATH} has no [broadcast] table")
    value = f"{rate:g}" if rate != int(rate) else str(int(rate))
    body, count = re.subn(
        r"(?m)^messages_per_second\s*=.*$", f"messages_per_second = {value}", section.group(0)
    )
    if count != 1:
        raise RuntimeError(f"{DEFAULT_POLICY_PATH}: broadcast.messages_per_second not found")
    path = folder / f"policy-{value}.toml"
    path.write_text(text[: section.start()] + body + text[section.end() :], encoding="utf-8")
    if float(load_policy(path).broadcast.messages_per_second) != rate:
        raise RuntimeError(f"{path}: the rate did not take")
    return path


@asynccontextmanager
async def _emulator(folder: Path, name: str) -> AsyncIterator[tuple[Child, str]]:
    port = free_port()
    child = Child(
        f"emulator ({name})",
        [sys.executable, "-m", "bot.emulator", "--host", "127.0.0.1", "--port", str(port)],
        env=child_environment(),
        cwd=folder,
        log_path=folder / f"{name}-emulator.log",
    )
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_until_answering(url + "/", child)
        yield child, url
    finally:
        await child.stop(timeout=5.0)


def _start_sender(folder: Path, name: str, database_url: str, api: str, policy: Path) -> Child:
    """``python -m bot deliver``, exactly as an operator runs it, with the benchmark's settings."""
    env = child_environment(
        WORKLEDGER_TOKEN=TOKEN,
        WORKLEDGER_API_URL=f"{api}/bot",
        WORKLEDGER_DATABASE_URL=database_url,
        WORKLEDGER_POLICY=str(policy),
    )
    return Child(
        f"sender ({name})",
        [sys.executable, "-m", "bot", "deliver"],
        env=env,
        cwd=folder,  # an empty folder: no stray .env file is read
        log_path=folder / f"{name}-sender.log",
    )


async def _register(driver: EmulatorDriver, chats: Sequence[int]) -> None:
    gate = asyncio.Semaphore(32)

    async def one(chat: int) -> None:
        async with gate:
            await driver.add_user(EmulatedUser(id=chat, first_name=f"Staff {chat}"))

    await asyncio.gather(*(one(chat) for chat in chats))


async def _inject_faults(driver: EmulatorDriver) -> None:
    for status, probability, seed in FAULTS:
        await driver.inject_fault(
            status,
            method=SEND,
            probability=probability,
            seed=seed,
            retry_after=1 if status == 429 else None,
        )


def _time_limit(config: Config, scenario: Scenario) -> float:
    if config.time_limit is not None:
        return config.time_limit
    # Expect at least 100 msg/s even when "unthrottled"; three times the ideal otherwise.
    rate = min(scenario.rate, 100.0) if scenario.rate > 10_000 else scenario.rate
    limit = 45.0 + 3.0 * config.recipients / rate
    if scenario.crash_at is not None:
        limit += LEASE.total_seconds() + 30.0
    return limit


def _say(config: Config, text: str) -> None:
    if config.verbose:
        print(text, flush=True)


async def run_scenario(
    config: Config, scenario: Scenario, database: Database, folder: Path
) -> RunResult:
    """Run one scenario end to end and measure it."""
    count = config.recipients
    result = RunResult(
        scenario=scenario.name,
        database=describe_url(database.url),
        recipients=count,
        configured_rate=scenario.rate,
        faults=scenario.faults,
    )
    prefix = f"bench:{uuid.uuid4().hex[:8]}:{scenario.name}:"
    chats = [FIRST_CHAT + n for n in range(count)]
    policy = _policy_file(folder, scenario.rate)
    senders: list[Child] = []
    _say(config, f"\n== {scenario.name}: {count} messages at {scenario.rate:g}/s")
    async with AsyncExitStack() as stack:
        emulator, api = await stack.enter_async_context(_emulator(folder, scenario.name))
        driver = await stack.enter_async_context(EmulatorDriver(api))
        began = time.monotonic()
        await _register(driver, chats)
        await queue_broadcast(database, prefix, chats)
        stack.push_async_callback(_forget, database, prefix)
        if scenario.faults:
            await _inject_faults(driver)
        _say(config, f"   {count} users registered and queued in {time.monotonic() - began:.1f}s")

        async def stop_senders() -> None:
            for sender in senders:
                if sender.alive():
                    await sender.stop()

        stack.push_async_callback(stop_senders)
        emulator_samples: list[tuple[float, float]] = []
        sender_samples: list[tuple[float, float]] = []
        bench_samples: list[tuple[float, float]] = []
        machine_samples: list[tuple[float, float]] = []
        dead_cpu = 0.0
        limit = _time_limit(config, scenario)
        crash = CrashFigures() if scenario.crash_at is not None else None
        killed_at = 0.0

        def sample() -> None:
            now = time.time()
            emulator_samples.append((now, emulator.sample()))
            sender_samples.append((now, dead_cpu + senders[-1].sample()))
            bench_samples.append((now, sum(os.times()[:2])))
            machine_samples.append((now, machine_busy_seconds()))

        senders.append(_start_sender(folder, scenario.name, database.url, api, policy))
        start = time.time()
        deadline = time.monotonic() + limit
        while True:
            sample()
            counts = await _status_counts(database, prefix)
            done = sum(counts[str(status)] for status in FINAL)
            if done >= count:
                result.completed = True
                break
            if time.monotonic() > deadline:
                result.notes.append(
                    f"time limit of {limit:.0f}s reached with {count - done} row(s) not final: "
                    f"{dict(counts)}"
                )
                break
            current = senders[-1]
            if not current.alive():
                raise ChildError(
                    f"{current.name} exited ({current.returncode}):\n{current.tail()}"
                )
            if (
                crash is not None
                and scenario.crash_at is not None
                and not killed_at
                and counts[str(DeliveryStatus.SENT)] >= scenario.crash_at * count
            ):
                dead_cpu += current.sample()
                crash.first_sender_peak_rss_mib = current.last_peak_rss_kb / 1024
                current.kill()
                current.close()
                killed_at = time.time()
                await _after_kill(crash, database, driver, prefix, scenario.rate)
                _say(
                    config,
                    f"   kill -9 after {crash.killed_after_sent} sent; "
                    f"{crash.leased_at_kill} leased, {crash.accepted_but_unsettled} of them "
                    "already accepted by Telegram; starting a new sender",
                )
                senders.append(
                    _start_sender(folder, f"{scenario.name}-restart", database.url, api, policy)
                )
            await asyncio.sleep(POLL)
        finished = time.time()
        result.wall_seconds = finished - start
        sample()
        last = senders[-1]
        result.sender_peak_rss_mib = max(
            last.last_peak_rss_kb / 1024, crash.first_sender_peak_rss_mib if crash else 0.0
        )
        result.sender_exit, result.sender_stopped_gracefully = await last.stop()
        if not result.sender_stopped_gracefully:
            result.notes.append("the sender did not stop within 20s of SIGTERM; it was killed")
        elif result.sender_exit != 0:
            result.notes.append(f"the sender exited with status {result.sender_exit}")
        result.sender_cpu_seconds = dead_cpu + last.last_cpu
        result.notes.extend(_log_problems(senders))
        calls = await driver.calls(SEND)
        rows = await _rows(database, prefix)
        unsent = await _unsent_detail(database, prefix)

    analyse(result, calls, rows, chats)
    result.notes.extend(f"not sent: {line}; calls {_history(calls, line)}" for line in unsent)
    ok = sorted(float(call["at"]) for call in calls if call["status"] == 200)
    span = (ok[0], ok[-1]) if ok else (start, finished)
    _, result.sender_cpu_share = cpu_share(sender_samples, *span)
    result.emulator_cpu_seconds, result.emulator_cpu_share = cpu_share(
        emulator_samples, start, finished
    )
    _, result.emulator_cpu_share = cpu_share(emulator_samples, *span)
    result.bench_cpu_seconds, _ = cpu_share(bench_samples, start, finished)
    # Everything the machine did meanwhile, less what the three processes of the run did.
    ours = sum(
        cpu_share(samples, start, finished)[1]
        for samples in (sender_samples, emulator_samples, bench_samples)
    )
    result.other_load_cores = max(0.0, cpu_share(machine_samples, start, finished)[1] - ours)
    if result.other_load_cores > 0.25:
        result.notes.append(
            f"other processes kept {result.other_load_cores:.2f} of {os.cpu_count()} cores busy "
            "during this run (a PostgreSQL server on this machine counts here too): the "
            "sender's figures are lower than on a quiet machine"
        )
    if crash is not None:
        crash.duplicates = result.duplicated
        crash.recover_seconds = finished - killed_at if killed_at else 0.0
        after = [t for t in ok if t >= killed_at] if killed_at else []
        if after:
            # The dead sender counts as alive until it is found dead (``DEAD_AFTER``): the
            # new one shares the rate with it until then.
            window = [t for t in after if t < after[0] + DEAD_AFTER.total_seconds()]
            crash.restart_rate_first_15s = len(window) / DEAD_AFTER.total_seconds()
        if not killed_at:
            result.notes.append("the sender finished before the crash point; no kill happened")
        result.crash = crash
    _say(config, _describe_run(result))
    return result


def _history(calls: Sequence[dict[str, Any]], line: str) -> str:
    """The sendMessage calls for the chat a line of ``_unsent_detail`` names."""
    chat = int(line.split()[1].rstrip(":"))
    return (
        ", ".join(
            f"{call['status']}@{call['at']:.2f}"
            for call in calls
            if int(call["params"]["chat_id"]) == chat
        )
        or "none"
    )


def _log_problems(senders: Sequence[Child]) -> list[str]:
    """Errors and tracebacks the senders logged (none is expected, faults included)."""
    notes = []
    for sender in senders:
        try:
            lines = sender.log_path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        bad = [line for line in lines if " ERROR " in line or line.startswith("Traceback")]
        if bad:
            notes.append(f"{sender.name} logged {len(bad)} error line(s), first: {bad[0][:200]}")
    return notes


async def _after_kill(
    crash: CrashFigures, database: Database, driver: EmulatorDriver, prefix: str, rate: float
) -> None:
    """What the dead sender left behind: leased rows, and which of those Telegram already had."""
    calls = await driver.calls(SEND)
    accepted = {int(call["params"]["chat_id"]) for call in calls if call["status"] == 200}
    rows = await _rows(database, prefix)
    leased = [chat for chat, status in rows if status == DeliveryStatus.SENDING]
    crash.killed_after_sent = sum(1 for _, status in rows if status == DeliveryStatus.SENT)
    crash.accepted_before_kill = len(accepted)
    crash.leased_at_kill = len(leased)
    crash.accepted_but_unsettled = sum(1 for chat in leased if chat in accepted)
    crash.bound_nominal = CONCURRENCY + math.ceil(rate * FLUSH_EVERY)
    crash.bound_cap = CONCURRENCY + FLUSH_SIZE


# --------------------------------------------------------------------------- report


def _mib(mib: float) -> str:
    return f"{mib:.1f} MiB"


def _describe_run(r: RunResult) -> str:
    lines = [
        f"   completed: {'yes' if r.completed else 'NO'} in {r.wall_seconds:.1f}s; "
        f"outbox rows {r.rows}",
        f"   sendMessage calls: {r.calls} ({r.status_counts}); "
        f"injected 429: {r.injected_429}, 5xx: {r.injected_5xx}",
        f"   achieved {r.achieved_rate:.1f}/s = {r.achieved_ratio:.3f} of {r.configured_rate:g}/s"
        f" (steady 5-95%: {r.steady_rate:.1f}/s = {r.steady_ratio:.3f}; all calls incl. faults:"
        f" {r.all_calls_rate:.1f}/s = {r.all_calls_ratio:.3f})",
        f"   busiest 1 s window, all calls: {r.busiest_window_all} = "
        f"{r.busiest_ratio_all:.3f} of the rate (successful only: {r.busiest_window_ok})",
        f"   lost {r.lost} (rows not sent {r.lost_rows}, chats without it {r.lost_chats}); "
        f"duplicated {r.duplicated} chats ({r.extra_messages} extra messages); "
        f"stray chats {r.stray_chats}",
        f"   sender peak RSS {_mib(r.sender_peak_rss_mib)}; CPU: sender "
        f"{r.sender_cpu_seconds:.1f}s ({r.sender_cpu_share:.0%} of a core while sending), "
        f"emulator {r.emulator_cpu_seconds:.1f}s ({r.emulator_cpu_share:.0%}), this process "
        f"{r.bench_cpu_seconds:.1f}s; other processes {r.other_load_cores:.2f} cores",
        f"   sender exit after SIGTERM: {r.sender_exit}",
    ]
    if r.crash is not None:
        c = r.crash
        lines += [
            f"   crash: killed after {c.killed_after_sent} settled as sent "
            f"({c.accepted_before_kill} accepted by Telegram); {c.leased_at_kill} rows leased, "
            f"{c.accepted_but_unsettled} of them already accepted",
            f"   crash: duplicates {c.duplicates}; documented bound concurrency "
            f"{CONCURRENCY} + one unflushed batch = {c.bound_nominal} at this rate "
            f"(cap {c.bound_cap} with FLUSH_SIZE {FLUSH_SIZE})",
            f"   crash: recovered {c.recover_seconds:.1f}s after the kill (lease "
            f"{c.lease_seconds:.0f}s); new sender's first {DEAD_AFTER.total_seconds():.0f}s: "
            f"{c.restart_rate_first_15s:.1f} ok/s",
        ]
    lines += [f"   note: {note}" for note in r.notes]
    return "\n".join(lines)


def _num(value: float, meaningful: bool) -> str:
    return f"{value:.3f}" if meaningful else "-"


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISS"


def render(report: Report) -> str:
    """The final table."""
    header = (
        f"{'scenario':<12} {'rate/s':>8} {'achieved':>9} {'ratio':>6} {'steady':>6} "
        f"{'max 1s':>7} {'ratio':>6} {'lost':>5} {'dup':>4} {'429':>4} {'5xx':>4} "
        f"{'RSS MiB':>8} {'snd CPU':>8} {'emu CPU':>8} {'secs':>6}"
    )
    lines = [
        "",
        f"Broadcast benchmark: {report.recipients} recipients, {report.database}, "
        f"{report.cpus} CPUs, Python {report.python}, sender concurrency {report.concurrency}",
        "achieved = successful sendMessage calls / span first..last success; max 1s = busiest "
        "1 s window over ALL sendMessage arrivals (faulted calls included)",
        header,
        "-" * len(header),
    ]
    runs = [*report.runs, *(r for r in (report.ceiling, report.crash) if r is not None)]
    for r in runs:
        # Ratios to 100,000/s mean nothing; the crash run's span includes the lease wait.
        paced = r is not report.ceiling
        steady = r is not report.crash
        lines.append(
            f"{r.scenario:<12} {r.configured_rate:>8g} {r.achieved_rate:>9.1f} "
            f"{_num(r.achieved_ratio, paced and steady):>6} {_num(r.steady_ratio, paced):>6} "
            f"{r.busiest_window_all:>7} {_num(r.busiest_ratio_all, paced):>6} {r.lost:>5} "
            f"{r.duplicated:>4} {r.injected_429:>4} {r.injected_5xx:>4} "
            f"{r.sender_peak_rss_mib:>8.1f} {r.sender_cpu_share:>8.0%} "
            f"{r.emulator_cpu_share:>8.0%} {r.wall_seconds:>6.1f}"
        )
    lines.append(
        "(snd/emu CPU: share of one core while sending; crash: achieved spans the lease wait; "
        "secs: sender start until every row was final)"
    )
    lines.append("")
    for r in report.runs:
        lines.append(
            f"{r.scenario}: achieved/configured {r.achieved_ratio:.3f} "
            f"[{_verdict(0.95 <= r.achieved_ratio <= 1.0)}, goal 0.95-1.0]; busiest 1 s "
            f"{r.busiest_ratio_all:.3f} [{_verdict(r.busiest_ratio_all <= 1.1)}, goal <= 1.1]; "
            f"lost {r.lost}, duplicated {r.duplicated} "
            f"[{_verdict(r.lost == 0 and r.duplicated == 0)}, goal 0]"
        )
    if report.ceiling is not None:
        c = report.ceiling
        top = max((r.configured_rate for r in report.runs), default=0.0)
        ratio = c.achieved_rate / top if top else 0.0
        lines.append(
            f"ceiling: {c.achieved_rate:.0f} msg/s unthrottled = {ratio:.2f}x the highest "
            f"configured rate [{_verdict(ratio >= 1.2)}, goal >= 1.2x]; CPU while sending: "
            f"sender {c.sender_cpu_share:.0%} of a core, emulator {c.emulator_cpu_share:.0%} "
            f"of a core ({report.cpus} CPUs) -> {limiting_side(c, report.cpus)}"
        )
    if report.crash is not None and report.crash.crash is not None:
        k = report.crash.crash
        lines.append(
            f"crash: lost {report.crash.lost}, duplicated {k.duplicates} (documented bound "
            f"{k.bound_nominal} = concurrency {CONCURRENCY} + one unflushed batch; "
            f"{k.accepted_but_unsettled} were accepted but unsettled at the kill); recovered "
            f"{k.recover_seconds:.0f}s after the kill (lease {k.lease_seconds:.0f}s)"
        )
    for run in runs:
        lines.extend(f"note ({run.scenario}): {note}" for note in run.notes)
    lines.extend(f"note: {note}" for note in report.notes)
    return "\n".join(lines)


def limiting_side(run: RunResult, cpus: int) -> str:
    """Which side ran out of CPU in an unthrottled run."""
    busy = 0.85
    sender, emulator = run.sender_cpu_share, run.emulator_cpu_share
    if sender >= busy and emulator >= busy:
        return "both processes were CPU-bound (each near one full core)"
    if sender >= busy:
        return "the sender was CPU-bound (one core: it is a single asyncio thread)"
    if emulator >= busy:
        return "the emulator was CPU-bound (one core), not the sender"
    if cpus and sender + emulator + run.other_load_cores >= busy * cpus:
        return (
            f"the machine's {cpus} cores were saturated (other processes: "
            f"{run.other_load_cores:.2f} cores)"
        )
    return (
        "neither process used a full core: latency bound (concurrency "
        f"{CONCURRENCY} requests in flight, store round trips)"
    )


# ----------------------------------------------------------------------------- main


def scenarios(config: Config) -> list[Scenario]:
    """The scenarios ``config`` asks for, in order."""
    chosen = [Scenario(f"rate-{rate:g}", rate, faults=config.faults) for rate in config.rates]
    if config.ceiling_rate:
        chosen.append(Scenario("ceiling", config.ceiling_rate, faults=False))
    if config.crash_rate:
        chosen.append(
            Scenario("crash", config.crash_rate, faults=config.faults, crash_at=config.crash_at)
        )
    return chosen


async def run_benchmark(config: Config) -> Report:
    """Run every scenario of ``config`` and return the figures."""
    folder = Path(tempfile.mkdtemp(prefix="wl-bench-"))
    url = config.database_url or f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    report = Report(
        started=datetime.now(UTC).isoformat(timespec="seconds"),
        database=describe_url(url),
        recipients=config.recipients,
        cpus=os.cpu_count() or 0,
        python=sys.version.split()[0],
        concurrency=CONCURRENCY,
        notes=environment_notes(),
    )
    database = Database(url)
    try:
        await _prepare_store(database)
        for scenario in scenarios(config):
            result = await run_scenario(config, scenario, database, folder)
            if scenario.crash_at is not None:
                report.crash = result
            elif scenario.name == "ceiling":
                report.ceiling = result
            else:
                report.runs.append(result)
    finally:
        await database.dispose()
        shutil.rmtree(folder, ignore_errors=True)
    return report


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/broadcast.py",
        description="Measure the real outbox sender against the Bot API emulator.",
    )
    parser.add_argument("--recipients", type=int, default=10_000, help="messages (one per chat)")
    parser.add_argument(
        "--rates", default="300,1000", help="configured messages_per_second, comma-separated"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--database-url",
        default=os.environ.get("WORKLEDGER_DATABASE_URL"),
        help="SQLAlchemy async URL (default: WORKLEDGER_DATABASE_URL, else a temp SQLite file)",
    )
    where.add_argument(
        "--scratch-postgres",
        metavar="ADMIN_URL",
        help="create a scratch database on this PostgreSQL server, drop it afterwards",
    )
    parser.add_argument("--ceiling-rate", type=float, default=100_000.0)
    parser.add_argument("--no-ceiling", action="store_true", help="skip the unthrottled run")
    parser.add_argument("--crash-rate", type=float, default=300.0)
    parser.add_argument("--crash-at", type=float, default=0.4, help="share sent before kill -9")
    parser.add_argument("--no-crash", action="store_true", help="skip the crash run")
    parser.add_argument("--no-faults", action="store_true", help="inject no 429/5xx")
    parser.add_argument("--time-limit", type=float, help="seconds per scenario (default: auto)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the figures as JSON")
    args = parser.parse_args(argv)
    if args.recipients < 1:
        parser.error("--recipients must be at least 1")
    try:
        args.rate_list = [float(part) for part in args.rates.split(",") if part.strip()]
    except ValueError:
        parser.error(f"--rates: not a list of numbers: {args.rates!r}")
    if any(rate <= 0 for rate in args.rate_list):
        parser.error("--rates must be positive")
    if not 0.0 < args.crash_at < 1.0:
        parser.error("--crash-at must be between 0 and 1")
    return args


async def _main(args: argparse.Namespace) -> Report:
    config = Config(
        recipients=args.recipients,
        rates=args.rate_list,
        database_url=args.database_url,
        ceiling_rate=None if args.no_ceiling else args.ceiling_rate,
        crash_rate=None if args.no_crash else args.crash_rate,
        crash_at=args.crash_at,
        faults=not args.no_faults,
        time_limit=args.time_limit,
    )
    if args.scratch_postgres:
        async with scratch_postgres(args.scratch_postgres) as url:
            config.database_url = url
            return await run_benchmark(config)
    return await run_benchmark(config)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run, print the table, optionally write JSON."""
    args = _arguments(argv)
    # SIGINT and SIGTERM unwind the benchmark (stopping its children), even when it was
    # started in the background, where SIGINT comes ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        report = asyncio.run(_main(args))
    except KeyboardInterrupt:
        print("\ninterrupted; child processes stopped", file=sys.stderr)
        return 130
    except ChildError as error:
        print(f"\nbenchmark failed: {error}", file=sys.stderr)
        return 1
    print(render(report))
    if args.json:
        args.json.write_text(json.dumps(asdict(report), indent=2) + "\n", encoding="utf-8")
        print(f"\nfigures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
