"""Benchmark plumbing: child processes, /proc readings, free ports, scratch databases.

Linux only (the readings come from ``/proc``). Every child started here is killed
when the benchmark ends, however it ends: ``finally`` blocks stop them, an ``atexit``
hook kills what is left, and each child gets a parent-death signal so that even a
``kill -9`` of the benchmark does not leave an emulator or a sender running.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

ROOT = Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# Sets the parent-death signal (prctl PR_SET_PDEATHSIG = 1), makes sure the parent is
# still there, then becomes the real command: same pid, so /proc readings stay right.
_LAUNCHER = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    os._exit(70)\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


class ChildError(RuntimeError):
    """A child process failed to start or died when it should not have."""


def proc_cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a live process, in seconds (``/proc/<pid>/stat``)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    # The command name may hold spaces and parentheses: the fields start after the last ')'.
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def process_tree_cpu_seconds(root: int) -> float:
    """CPU seconds of a process, its live children and the children it has reaped
    (``/proc``): a local PostgreSQL server's work, its postmaster's pid as ``root``."""

    def fields(pid: str) -> list[str]:
        text = Path(f"/proc/{pid}/stat").read_text()
        return text[text.rindex(")") + 2 :].split()

    own = fields(str(root))
    ticks = sum(int(value) for value in own[11:15])  # utime, stime, cutime, cstime
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            child = fields(entry.name)
        except (OSError, ValueError):
            continue  # gone meanwhile
        if int(child[1]) == root:
            ticks += int(child[11]) + int(child[12])
    return ticks / CLOCK_TICKS


async def local_postgres_pid(connection: Any) -> int | None:
    """The postmaster's pid of the PostgreSQL server an (async) connection talks to, if it
    runs on this machine and its data directory can be read; None otherwise (SQLite, a
    remote server, no privilege)."""
    if connection.dialect.name != "postgresql":
        return None
    try:
        folder = (await connection.exec_driver_sql("SHOW data_directory")).scalar()
        pid = int((Path(str(folder)) / "postmaster.pid").read_text().split()[0])
        process_tree_cpu_seconds(pid)
    except (SQLAlchemyError, OSError, ValueError, IndexError):
        # The server's CPU is then not counted.
        return None
    return pid


def proc_status_kb(pid: int, key: str) -> int:
    """A ``kB`` figure of ``/proc/<pid>/status``, e.g. ``VmHWM`` (peak RSS) or ``VmRSS``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == key:
            return int(value.split()[0])
    raise KeyError(f"{key} is not in /proc/{pid}/status")


def machine_busy_seconds() -> float:
    """CPU seconds all processes have used since boot, summed over cores (``/proc/stat``)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    # guest time is already counted in user and nice
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (bind port 0, read it, let it go)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class Child:
    """A child process with its output in a log file, and readings of its CPU and memory."""

    def __init__(
        self,
        name: str,
        args: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        log_path: Path,
    ) -> None:
        self.name = name
        self.log_path = log_path
        command = list(args)
        if sys.platform == "linux":
            command = [sys.executable, "-c", _LAUNCHER, str(os.getpid()), *command]
        self._log = log_path.open("ab")
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command,
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Ctrl-C in the terminal reaches the benchmark only; it stops the children itself.
            start_new_session=True,
        )
        self.pid = self._process.pid
        self.started = time.time()
        self.last_cpu = 0.0
        self.last_peak_rss_kb = 0
        _CHILDREN.add(self)

    @property
    def returncode(self) -> int | None:
        """The exit status, or None while it runs."""
        return self._process.poll()

    def alive(self) -> bool:
        """Whether it still runs."""
        return self._process.poll() is None

    def sample(self) -> float:
        """Read (and remember) its CPU seconds and peak RSS; the last reading once it is gone."""
        with contextlib.suppress(OSError, KeyError, ValueError, IndexError):
            self.last_cpu = proc_cpu_seconds(self.pid)
            self.last_peak_rss_kb = proc_status_kb(self.pid, "VmHWM")
        return self.last_cpu

    def signal(self, number: int) -> None:
        """Send a signal if it still runs."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, number)

    async def wait(self, timeout: float) -> int | None:  # noqa: ASYNC109 - polls a Popen
        """Wait up to ``timeout`` seconds for it to exit; its status, or None."""
        deadline = time.monotonic() + timeout
        # A Popen has no event to await: poll it.
        while self.alive() and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        return self.returncode

    async def stop(self, timeout: float = 20.0) -> tuple[int | None, bool]:  # noqa: ASYNC109
        """SIGTERM, wait, then SIGKILL if needed: (exit status, whether it stopped by itself)."""
        self.sample()
        self.signal(signal.SIGTERM)
        status = await self.wait(timeout)
        graceful = status is not None
        if not graceful:
            self.kill()
            status = self.returncode
        self.close()
        return status, graceful

    def kill(self) -> None:
        """SIGKILL and reap (no chance to clean up: this is how a crash looks)."""
        self.signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=10)

    def close(self) -> None:
        """Forget it (after it exited)."""
        if not self._log.closed:
            self._log.close()
        _CHILDREN.discard(self)

    def tail(self, lines: int = 30) -> str:
        """The end of its output, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


_CHILDREN: set[Child] = set()


@atexit.register
def kill_children() -> None:
    """Kill every child still running (the last line of defence)."""
    for child in list(_CHILDREN):
        child.kill()
        child.close()


def child_environment(**values: str) -> dict[str, str]:
    """Our environment without any ``WORKLEDGER_*`` settings, plus ``values``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("WORKLEDGER_")}
    path = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.update(PYTHONPATH=path, PYTHONUNBUFFERED="1", **values)
    return env


async def wait_until_answering(url: str, child: Child, timeout: float = 30.0) -> None:  # noqa: ASYNC109
    """Poll ``GET url`` until it answers 200; fail early if the child dies."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            if not child.alive():
                raise ChildError(f"{child.name} exited ({child.returncode}):\n{child.tail()}")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as response:
                    if response.status == 200:
                        return
            if time.monotonic() > deadline:
                raise ChildError(f"{child.name} did not answer {url} in {timeout}s")
            await asyncio.sleep(0.05)


async def _pg_admin(admin_url: str, statement: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    url = make_url(admin_url)
    connection = await asyncpg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database or "postgres",
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def scratch_postgres(admin_url: str) -> AsyncIterator[str]:
    """A new, empty PostgreSQL database on ``admin_url``'s server; dropped afterwards."""
    name = f"wl_bench_{uuid.uuid4().hex[:12]}"
    await _pg_admin(admin_url, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        await _pg_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def describe_url(url: str) -> str:
    """A database URL for a report: the dialect and where, never the password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"sqlite ({parsed.database})"
    return f"{parsed.get_backend_name()} ({parsed.host}:{parsed.port}/{parsed.database})"
