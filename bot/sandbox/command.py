"""``workledger sandbox``: the emulator, the real bot against it, and the page, on loopback.

Start-up, in order: the store (a SQLite file of its own under the working directory,
migrated, claimed for the sandbox: a production bot's store is refused), one socket
on ``--host``/``--port``, the page's server (which also serves the emulator the bot
polls), the bot through ``bot.app.running`` (the code path of ``workledger run``,
with a fixed fake token), on an empty store after the demo organisation (built into
the store the bot then starts with). It prints the URL and how long that took, and runs
until SIGINT or SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shutil
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from bot.app import build_application, open_store, running
from bot.cli_store import EXIT_STORE_IN_USE, EXIT_USAGE
from bot.emulator import BotApiEmulator
from bot.logs import configure_logging
from bot.sandbox.demo import DemoSummary, build_demo, demo_people
from bot.sandbox.inspect import roster_people
from bot.sandbox.server import (
    TELEGRAM_PREFIX,
    WILDCARD_HOSTS,
    Sandbox,
    allowed_hosts,
    create_sandbox_app,
    demo_user,
    serving,
    user_for,
)
from config.policy import Policy
from config.settings import Settings
from storage.engine import Database
from storage.marker import StoreInUseError, claim_store

log = logging.getLogger(__name__)

# Not a real token, and never one: the bot only ever talks to the emulator.
SANDBOX_TOKEN = "123456789:SANDBOX-not-a-real-token-emulator-only"  # noqa: S105
DIRECTORY = ".workledger-sandbox"
DATABASE_FILE = "sandbox.db"


@dataclass(frozen=True)
class SandboxOptions:
    """The command line's choices."""

    host: str = "127.0.0.1"
    port: int = 8080
    fresh: bool = False
    demo: bool = True
    directory: Path = Path(DIRECTORY)


def process_age() -> float | None:
    """Seconds since this process started (Linux), imports included; None elsewhere."""
    try:
        stat = Path("/proc/self/stat").read_text()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return max(0.0, uptime - ticks / os.sysconf("SC_CLK_TCK"))


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _loopback_for(host: str) -> str:
    """The address the bot and the printed URL use to reach the server."""
    if host in WILDCARD_HOSTS:
        return "[::1]" if host == "::" else "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def sandbox_settings(settings: Settings, database: Path, api_url: str) -> Settings:
    """The environment's settings with the sandbox's own store, emulator and fake token;
    a real token, database or Bot API from the environment is never used."""
    return settings.model_copy(
        update={
            "token": SecretStr(SANDBOX_TOKEN),
            "database_url": f"sqlite+aiosqlite:///{database.resolve()}",
            "api_url": api_url,
            # The sandbox's citizens' codes need a key; one of its own unless one is set.
            "secret_key": settings.secret_key or SecretStr(secrets.token_hex(32)),
        }
    )


async def _claim(settings: Settings) -> Database:
    """The store, opened, migrated and claimed for the sandbox; the bot starts with it."""
    database = await open_store(settings)
    try:
        await claim_store(database, "sandbox")
    except BaseException:
        await database.dispose()
        raise
    return database


def _entries(summary: DemoSummary) -> int:
    return (
        summary.entries_approved
        + summary.entries_pending
        + summary.entries_returned
        + summary.entries_rejected
    )


async def serve(
    settings: Settings, policy: Policy, options: SandboxOptions, started: float
) -> int:
    """Run the sandbox until SIGINT or SIGTERM; the exit status."""
    directory = options.directory
    if options.fresh and directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    try:
        sock = _bind(options.host, options.port)
    except OSError as error:
        print(
            f"workledger sandbox: cannot listen on {options.host}:{options.port}: "
            f"{error.strerror or error}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    port = sock.getsockname()[1]
    root = f"http://{_loopback_for(options.host)}:{port}"
    settings = sandbox_settings(
        settings, directory / DATABASE_FILE, f"{root}{TELEGRAM_PREFIX}/bot"
    )
    timing = _Timing(started)
    timing.phase("start")
    try:
        database = await _claim(settings)
    except StoreInUseError as error:
        sock.close()
        print(f"workledger sandbox: {error}", file=sys.stderr)
        return EXIT_STORE_IN_USE

    timing.phase("store")
    application = build_application(settings, policy)
    data = application.bot_data
    # The bot's ``post_init`` takes this store as it is (no second opening).
    data.attach(database)
    # Messages are dated by the bot's clock, so the chat's times follow time travel.
    emulator = BotApiEmulator(wall=lambda: data.clock.now().timestamp())
    sandbox = Sandbox(emulator, application)
    # The demo's people have "pressed Start" before the bot writes to them.
    sandbox.introduce(demo_user(person) for person in demo_people())
    app = create_sandbox_app(sandbox, hosts=allowed_hosts(options.host, port))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for number in signals:
        loop.add_signal_handler(number, stop.set)
    try:
        async with serving(app, sock):
            # The page answers from here on, and says what the sandbox is still doing.
            print(f"workledger sandbox: starting at {root}/", flush=True)
            await _until_ready(sandbox, options, timing, root, stop)
    finally:
        for number in signals:
            loop.remove_signal_handler(number)
        # Still attached only if the bot never started (its shutdown closes the store).
        left = data.detach()
        if left is not None:
            await left.dispose()
    return 0


async def _until_ready(
    sandbox: Sandbox,
    options: SandboxOptions,
    timing: _Timing,
    root: str,
    stop: asyncio.Event,
) -> None:
    """Run the bot (and build the demo on an empty store) until ``stop`` is set."""
    application = sandbox.application
    built: list[DemoSummary] = []
    # The demo is built into the open store before the bot starts (``post_init``): its
    # jobs would act on a half-played history, and its outbox sender (the score notices'
    # charts, drawn in a worker process) would take CPU from the build; both start after.
    if options.demo and not await roster_people(application.bot_data):
        sandbox.starting = "building the demo organisation"
        built.append(await build_demo(application.bot_data))
    timing.phase("demo")
    sandbox.starting = "starting the bot"
    async with running(application):
        timing.phase("bot")
        made = ""
        for summary in built:
            made = (
                f"; demo: {summary.people} people in {summary.departments} departments, "
                f"{_entries(summary)} entries"
            )
        # People who joined in an earlier run have "pressed Start" too (the emulator
        # forgets at exit).
        cards = await roster_people(application.bot_data)
        sandbox.introduce(filter(None, map(user_for, cards)))
        sandbox.ready = True
        log.info("sandbox start-up: %s", timing)
        print(
            f"workledger sandbox at {root}/ (ready in {timing.total():.1f} s{made}); "
            "Ctrl-C stops it",
            flush=True,
        )
        await stop.wait()
        log.info("stopping the sandbox")


class _Timing:
    """How long each phase of the start-up took, in wall and CPU time (this process's,
    its threads included); the first from the process's start."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.mark = started
        self.cpu_mark = 0.0
        self.phases: list[tuple[str, float, float]] = []

    def phase(self, name: str) -> None:
        now, cpu = time.monotonic(), time.process_time()
        self.phases.append((name, now - self.mark, cpu - self.cpu_mark))
        self.mark, self.cpu_mark = now, cpu

    def total(self) -> float:
        return time.monotonic() - self.started

    def __str__(self) -> str:
        phases = ", ".join(
            f"{name} {seconds:.2f} s (CPU {cpu:.2f} s)" for name, seconds, cpu in self.phases
        )
        return f"{phases}; CPU {time.process_time():.2f} s in all"


def sandbox_command(
    settings: Settings, policy: Policy, options: SandboxOptions, log_level: str
) -> int:
    """``workledger sandbox``: the exit status."""
    age = process_age()
    # "start": from the process's start (its imports) to here, where it is known.
    started = time.monotonic() - (age or 0.0)
    configure_logging(log_level, secrets=(SANDBOX_TOKEN,))
    return asyncio.run(serve(settings, policy, options, started))
