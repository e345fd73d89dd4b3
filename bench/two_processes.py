"""Two webhook processes against one: throughput and the interactive p99, on PostgreSQL.

    .venv/bin/python bench/two_processes.py --scratch-postgres ADMIN_URL
        [--burst 2000] [--rate 60] [--seconds 15] [--people 200] [--json FILE]

For one and then two real ``workledger run --webhook`` processes (children, as an
operator starts them), each on a fresh scratch PostgreSQL database of its own server,
behind the test balancer (``bot.emulator.balancer``) and the Bot API emulator in this
process, which posts updates over up to 40 connections as Telegram does (each chat's
one at a time). Every update is a quick log from one of ``--people`` staff; its time
runs from the moment the emulator queued it to the emulator's receipt of its reply
(``sendMessage``).

- **Throughput**: ``--burst`` quick logs queued at once; updates answered per second,
  from the first queued to the last answered. The ratio two / one is printed against
  the goal (at least 1.4 on a 2-core machine, where PostgreSQL, the emulator and the
  bots share the cores).
- **Interactive p99**: an open-loop load of ``--rate`` quick logs a second for
  ``--seconds``, each sent at its fixed moment whatever the replies do; the p99 of
  their times (``bench.responsiveness.percentile``, nearest rank), and the median.

Figures are printed, never asserted; every update must be answered once (checked).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert

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
from bench.responsiveness import percentile
from bot.emulator import BotApiEmulator, EmulatedUser, start_emulator
from bot.emulator.balancer import Balancer
from bot.emulator.model import JSONDict
from storage import migrate
from storage.engine import Database
from storage.enums import Role
from storage.models import Department, Staff

TOKEN = "123456:bench-token-for-the-emulator-only"  # noqa: S105 - not a secret
SECRET = "bench-two-processes-secret"  # noqa: S105 - the emulator's and the bots' only
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_POLICY = ROOT / "config" / "policies" / "default.toml"
FIRST_PERSON = 720_000_000
CONNECTIONS = 40
GOAL_RATIO = 1.4
TEXT = re.compile(r"bench-(\d+)")


@dataclass
class Run:
    """One run's figures (one or two processes)."""

    processes: int
    burst: int = 0
    burst_seconds: float = 0.0
    updates_per_second: float = 0.0
    offered: int = 0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    unanswered: int = 0
    answered_twice: int = 0
    machine_cpu_share: float = 0.0  # of both cores, over the run
    per_process: list[int] = field(default_factory=list)  # updates each answered


def _policy(folder: Path, send_rate: float) -> Path:
    """The default policy with per-person entry limits lifted above the load, and the
    global send rate at ``send_rate``: at Telegram's 30 a second every reply waits for the
    rate, which both processes share, and the run measures the rate, not the processes."""
    text = DEFAULT_POLICY.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^(max_per_(minute|day)) = \d+", r"\1 = 1000", text)
    text, found = re.subn(
        r"(?m)^messages_per_second = \d+", f"messages_per_second = {send_rate:g}", text
    )
    if found != 1:
        raise RuntimeError(f"{DEFAULT_POLICY}: broadcast.messages_per_second not found")
    path = folder / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def _seed(url: str, people: int) -> list[EmulatedUser]:
    database = Database(url)
    try:
        await migrate.upgrade(database.engine)
        async with database.uow() as uow:
            office = await uow.departments.add(Department(name="Counter"))
            await uow.commit()
        rows = [
            {
                "employee_no": f"T{n:06d}",
                "name": f"Person {n}",
                "department_id": office.id,
                "roles": Role.STAFF,
                "telegram_user_id": FIRST_PERSON + n,
                "language": "en",
                "version": 1,
            }
            for n in range(people)
        ]
        async with database.engine.begin() as connection:
            await connection.execute(insert(Staff), rows)
    finally:
        await database.dispose()
    return [EmulatedUser(id=FIRST_PERSON + n, first_name=f"P{n}") for n in range(people)]


class Replies:
    """When each ``bench-N`` update was queued and when (and how often) it was answered."""

    def __init__(self, emulator: BotApiEmulator) -> None:
        self._emulator = emulator
        self.queued: dict[int, float] = {}
        self._seen = 0
        self.answered: dict[int, float] = {}
        self.twice = 0

    def send(self, user: EmulatedUser, number: int) -> None:
        self._emulator.send_text(user, f"bench-{number} processed permit applications")
        self.queued[number] = time.time()

    def collect(self) -> None:
        calls: list[JSONDict] = self._emulator.calls("sendMessage")
        for call in calls[self._seen :]:
            match = TEXT.search(str(call["params"].get("text") or ""))
            if match is None or call["status"] != 200:
                continue
            number = int(match.group(1))
            if number in self.answered:
                self.twice += 1
            else:
                self.answered[number] = float(call["at"])
        self._seen = len(calls)

    async def until_answered(self, numbers: Sequence[int], within: float) -> None:
        deadline = time.monotonic() + within
        while True:
            self.collect()
            if all(n in self.answered for n in numbers) or time.monotonic() > deadline:
                return
            await asyncio.sleep(0.2)


@asynccontextmanager
async def _bots(
    count: int, url: str, emulator_url: str, folder: Path, send_rate: float
) -> AsyncIterator[tuple[list[Child], Balancer]]:
    ports = [free_port() for _ in range(count)]
    balancer = Balancer([f"http://127.0.0.1:{port}" for port in ports], seed=14)
    hook = await balancer.start()
    env = child_environment(
        WORKLEDGER_TOKEN=TOKEN,
        WORKLEDGER_DATABASE_URL=url,
        WORKLEDGER_API_URL=f"{emulator_url}/bot",
        WORKLEDGER_LANGUAGE="en",
        WORKLEDGER_POLICY=str(_policy(folder, send_rate)),
        WORKLEDGER_WEBHOOK_SECRET=SECRET,
        WORKLEDGER_SECRET_KEY="bench-" + "k" * 40,
    )
    bots = []
    for n, port in enumerate(ports):
        command = [
            sys.executable, "-m", "bot", "--log-level", "WARNING", "run", "--webhook",
            f"{hook}/telegram", "--listen", f"127.0.0.1:{port}",
            "--max-connections", str(CONNECTIONS),
        ]  # fmt: skip
        log = folder / f"bot-{count}-{n}.log"
        bots.append(Child(f"bot {n} of {count}", command, env=env, cwd=folder, log_path=log))
    try:
        for bot, port in zip(bots, ports, strict=True):
            await wait_until_answering(f"http://127.0.0.1:{port}/healthz", bot, timeout=120)
        yield bots, balancer
    finally:
        for bot in bots:
            await bot.stop()
        await balancer.close()


async def run_one(count: int, args: argparse.Namespace, folder: Path) -> Run:
    """One run: ``count`` processes on a fresh database, the burst, then the paced load."""
    run = Run(processes=count)
    async with AsyncExitStack() as stack:
        url = await stack.enter_async_context(scratch_postgres(args.scratch_postgres))
        users = await _seed(url, args.people)
        emulator = BotApiEmulator(webhook_connections=CONNECTIONS, webhook_attempts=20)
        running = await start_emulator(emulator=emulator)
        stack.push_async_callback(running.close)
        for user in users:
            emulator.add_user(user)
        bots, balancer = await stack.enter_async_context(
            _bots(count, url, running.url, folder, args.send_rate)
        )
        deadline = time.monotonic() + 60
        while len(emulator.calls("setWebhook")) < count and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        replies = Replies(emulator)
        # Warm-up: every person once (their first quick log builds caches, opens sessions).
        warm = list(range(len(users)))
        for n in warm:
            replies.send(users[n], n)
        await replies.until_answered(warm, within=120)
        busy_before, wall_before = machine_busy_seconds(), time.monotonic()
        # Throughput: the burst, all at once.
        first = len(users)
        burst = list(range(first, first + args.burst))
        started = time.time()
        for n in burst:
            replies.send(users[n % len(users)], n)
        await replies.until_answered(burst, within=600)
        done = [replies.answered[n] for n in burst if n in replies.answered]
        run.burst = len(burst)
        run.burst_seconds = (max(done) - started) if done else 0.0
        run.updates_per_second = len(done) / run.burst_seconds if run.burst_seconds else 0.0
        # Interactive: the paced load, each update at its fixed moment.
        first = burst[-1] + 1
        paced = list(range(first, first + int(args.rate * args.seconds)))
        begin = time.monotonic()
        for k, n in enumerate(paced):
            delay = begin + k / args.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            replies.send(users[n % len(users)], n)
        await replies.until_answered(paced, within=300)
        times = [
            (replies.answered[n] - replies.queued[n]) * 1000
            for n in paced
            if n in replies.answered
        ]
        run.offered = len(paced)
        run.p50_ms = percentile(times, 0.50)
        run.p99_ms = percentile(times, 0.99)
        await asyncio.sleep(1)
        replies.collect()
        everything = [*warm, *burst, *paced]
        run.unanswered = sum(n not in replies.answered for n in everything)
        run.answered_twice = replies.twice
        run.per_process = [balancer.answered[n] for n in range(count)]
        elapsed = time.monotonic() - wall_before
        run.machine_cpu_share = (machine_busy_seconds() - busy_before) / (2 * elapsed)
        for bot in bots:
            if not bot.alive():
                raise ChildError(f"{bot.name} exited ({bot.returncode}):\n{bot.tail()}")
    return run


def render(runs: Sequence[Run], database: str) -> str:
    """The report: each run's figures, then the ratio against the goal."""
    lines = [f"two processes against one, {database}, updates through the balancer:"]
    for run in runs:
        lines.append(
            f"  {run.processes} process{'es' if run.processes > 1 else ''}: "
            f"burst of {run.burst} in {run.burst_seconds:.1f} s = "
            f"{run.updates_per_second:.0f} updates/s; paced {run.offered} updates: "
            f"p50 {run.p50_ms:.0f} ms, p99 {run.p99_ms:.0f} ms; "
            f"answered per process {run.per_process}; unanswered {run.unanswered}, "
            f"twice {run.answered_twice}; machine CPU {run.machine_cpu_share:.0%}"
        )
    if len(runs) == 2 and runs[0].updates_per_second:
        ratio = runs[1].updates_per_second / runs[0].updates_per_second
        verdict = "met" if ratio >= GOAL_RATIO else "not met"
        lines.append(f"  throughput ratio two/one: {ratio:.2f} (goal >= {GOAL_RATIO}: {verdict})")
    return "\n".join(lines)


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--scratch-postgres", required=True, metavar="ADMIN_URL",
        help="a PostgreSQL server's admin URL: each run gets a scratch database there",
    )  # fmt: skip
    parser.add_argument("--burst", type=int, default=2000, help="quick logs queued at once")
    parser.add_argument("--rate", type=float, default=60.0, help="paced quick logs a second")
    parser.add_argument("--seconds", type=float, default=15.0, help="of the paced load")
    parser.add_argument("--people", type=int, default=200, help="staff sending them")
    parser.add_argument(
        "--send-rate",
        type=float,
        default=1000.0,
        help="the policy's messages_per_second (Telegram's 30 would cap both runs alike)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args(argv)


async def _main(args: argparse.Namespace) -> list[Run]:
    runs = []
    with tempfile.TemporaryDirectory(prefix="wl-two-") as folder:
        for count in (1, 2):
            runs.append(await run_one(count, args, Path(folder)))
            print(render(runs[-1:], "").splitlines()[1], flush=True)
    return runs


def main(argv: Sequence[str] | None = None) -> int:
    """Run both, print the report (and write ``--json``)."""
    args = _arguments(argv)
    runs = asyncio.run(_main(args))
    print(render(runs, describe_url(args.scratch_postgres)))
    if args.json is not None:
        args.json.write_text(json.dumps([asdict(run) for run in runs], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
