"""Exports built in worker processes, so that an export never holds the bot's event loop.

A period's work ledger is 2.2 million rows: minutes of CPU reading the pages, shaping the
cells and writing the XLSX. In the bot's process, even in a thread, that work takes the
interpreter lock from the event loop (and from aiosqlite's thread), and every chat waits
behind the export. So each export is built by a child process of its own
(``ExportWorkers.export``), started with the ``spawn`` method (the forkserver is the
roster readers') for that export and gone when it ends: exports are rare and long, and a
process kept between them would keep the memory its largest export reached.

The child runs ``niceness`` steps below the bot (10 by default): an export is work that
can wait, and on a machine short of CPU the scheduler then gives the bot's updates (and
the store's processes serving them) the cores first, while an idle core still goes to
the export. Without it a 2-core machine shared with other work answered a PostgreSQL
bot's updates seconds late during an export, with its event loop never stalled: the
export's process simply had its full share of the CPU.

The child opens its own engine on the store's URL and runs ``exports.export``, the
pipeline itself (the same sources, keyset pages, shaping and ``sheets``'
neutralisation), writing the file to the caller's path. Nothing but small marks comes
back over the pipe: the start, the rows done after each page (the caller's progress),
and the row count with the child's peak memory and CPU time. The request's page size is
the caller's (``ExportRequest.rows_per_page``, read before the child starts).

At most ``parallel`` exports are built at once (two by default); others wait their turn.
A child that dies (killed, out of memory, a crash in C), is silent for ``timeout``
seconds (a page takes well under one; its start, ``start_timeout``), or fails, fails its
export with ``ExportError``;
a silent one is killed. Its file may then be half written: the caller's to remove
(``/export`` writes it in a temporary folder, ``workledger export`` under a temporary
name). The child's own temporary files (openpyxl's sheet, written as the rows come) are
in a folder of this module's, removed once the child is gone, whatever its end.
Typical use, by the bot::

    workers = ExportWorkers()
    result = await workers.export(database, policy, request, words, path, progress=report)
    ...
    workers.close()  # at shutdown: children still building are killed, their exports fail
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import multiprocessing
import pickle
import shutil
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from assessment.children import NICENESS, exit_text, lower_priority
from assessment.exports import (
    FORMATS,
    SOURCES,
    ExportRequest,
    ExportResult,
    Progress,
    SheetWords,
    export,
)
from config.policy import Policy, pickled
from storage.engine import Database

__all__ = ["NICENESS", "PARALLEL", "START_TIMEOUT", "TIMEOUT", "ExportError", "ExportWorkers"]

# Far longer than a page takes on a busy machine (5,000 rows: well under a second).
TIMEOUT = 120.0
# A new child's start: the interpreter, the store's and the export's imports, a second.
START_TIMEOUT = 60.0
PARALLEL = 2


class ExportError(RuntimeError):
    """An export could not be built: its worker died, hung, failed, or was stopped."""


@dataclass(frozen=True)
class _Job:
    """What a child needs: the store, the policy, the request, the words, where to write."""

    url: str
    policy: Policy
    request: ExportRequest
    words: SheetWords
    target: str
    scratch: str


class ExportWorkers:
    """Builds exports in child processes, one each, at most ``parallel`` at once."""

    def __init__(
        self,
        *,
        parallel: int = PARALLEL,
        timeout: float = TIMEOUT,
        start_timeout: float = START_TIMEOUT,
        niceness: int = NICENESS,
    ) -> None:
        if parallel < 1:
            raise ValueError("at least one export at a time")
        self.timeout = timeout
        self.start_timeout = start_timeout
        self.niceness = niceness
        self._parallel = parallel
        self._slots: asyncio.Semaphore | None = None
        self._running: set[_Child] = set()
        self._lock = threading.Lock()
        self._closed = False

    async def export(
        self,
        database: Database,
        policy: Policy,
        request: ExportRequest,
        words: SheetWords,
        target: Path,
        *,
        progress: Progress | None = None,
    ) -> ExportResult:
        """``exports.export`` of ``request`` to ``target`` in a child process reading
        ``database``'s store; ``progress(done, total)`` after each page. Waits for a free
        worker first.

        Raises:
            KeyError: No source of ``request.kind``.
            ValueError: The header does not fit the source's columns, or an unknown format.
            ExportError: The child died, was silent for ``timeout`` seconds, failed (its
                traceback in the message), or the workers were closed; ``target`` may
                then hold part of the file.
        """
        source = SOURCES[request.kind]
        if len(words.header) != len(source.columns):
            raise ValueError(f"{len(words.header)} labels for {len(source.columns)} columns")
        if request.fmt not in FORMATS:
            raise ValueError(f"unknown format {request.fmt!r}")
        request = dataclasses.replace(request, batch_size=request.rows_per_page)
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._parallel)
        async with self._slots:
            scratch = tempfile.mkdtemp(prefix="workledger-export-worker-")
            child: _Child | None = None
            try:
                job = _Job(database.url, policy, request, words, str(target), scratch)
                child = await asyncio.to_thread(self._start, job)
                return await self._follow(child, progress)
            finally:
                # Shielded: a cancelled export still reaps its child and removes its files.
                await asyncio.shield(asyncio.to_thread(self._end, child, scratch))

    @property
    def running(self) -> int:
        """How many exports are being built now."""
        with self._lock:
            return len(self._running)

    @property
    def pids(self) -> list[int]:
        """The children's process ids (for tests and diagnostics)."""
        with self._lock:
            return sorted(child.pid for child in self._running)

    def close(self) -> None:
        """Kill the children still building; their exports fail with ``ExportError``.

        Nothing else is held: a bot started again builds exports again.
        """
        self._closed = True
        with self._lock:
            running = list(self._running)
        for child in running:
            child.kill()

    async def _follow(self, child: _Child, progress: Progress | None) -> ExportResult:
        timeout = self.start_timeout
        while True:
            kind, value = await asyncio.to_thread(self._next, child, timeout)
            timeout = self.timeout
            if kind == "progress" and progress is not None:
                await progress(*value)
            elif kind == "done":
                rows, peak_bytes, cpu_seconds = value
                return ExportResult(rows, peak_bytes, cpu_seconds)
            elif kind == "failed":
                raise ExportError(f"the export worker failed:\n{value}")

    # In threads of the loop's executor: they start, wait on or reap a child.

    def _start(self, job: _Job) -> _Child:
        if self._closed:
            raise ExportError("the export workers are closed (the bot is stopping)")
        # Pickled here, off the event loop, as everything else a start does.
        blob = pickled(job)
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe(duplex=True)
        process = context.Process(target=_serve, args=(theirs,), name="export-worker", daemon=True)
        with self._lock:
            process.start()
            child = _Child(process, ours)
            self._running.add(child)
        theirs.close()
        lower_priority(child.pid, self.niceness)
        try:
            ours.send_bytes(blob)
        except OSError as error:
            self._end(child, None)
            raise ExportError(
                f"the export worker exited at start ({exit_text(child.process)})"
            ) from error
        return child

    def _next(self, child: _Child, timeout: float) -> tuple[str, Any]:
        try:
            if not child.connection.poll(timeout):
                child.kill()
                raise ExportError(f"the export worker did not answer in {timeout:g} s")
            kind, value = child.connection.recv()
        except (EOFError, OSError) as error:
            child.process.join(1.0)
            if self._closed:
                raise ExportError("the export was stopped: the bot is stopping") from error
            raise ExportError(f"the export worker exited ({exit_text(child.process)})") from error
        return kind, value

    def _end(self, child: _Child | None, scratch: str | None) -> None:
        if child is not None:
            child.stop()
            with self._lock:
                self._running.discard(child)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


class _Child:
    """One child process and our end of its pipe."""

    def __init__(self, process: BaseProcess, connection: Connection) -> None:
        self.process = process
        self.connection = connection
        self.pid = process.pid or 0

    def kill(self) -> None:
        """Kill the process if it still runs, and reap it (the pipe is closed by ``stop``)."""
        with contextlib.suppress(OSError, ValueError):
            if self.process.is_alive():
                self.process.kill()
                self.process.join(5.0)

    def stop(self) -> None:
        """Let a child that answered exit (else kill it), reap it, close the pipe."""
        with contextlib.suppress(OSError, ValueError):
            self.process.join(5.0)
            if self.process.is_alive():
                self.process.kill()
                self.process.join(5.0)
        self.connection.close()


def _serve(connection: Connection) -> None:
    """The child: take the job, say it started, build the export, say how it ended."""
    # From the bot's own process, never from outside.
    job: _Job = pickle.loads(connection.recv_bytes())  # noqa: S301
    # openpyxl's temporary files in the parent's folder, which it removes whatever our end.
    tempfile.tempdir = job.scratch
    # What start-up made (the libraries, the policy) lives as long as the child: kept out
    # of the collector's passes, which walked it again and again as the pages came and
    # went (a tenth of the export's CPU at 51,005 entries, 1.37 s of 12.8 s; 0.32 s so).
    gc.collect()
    gc.freeze()
    connection.send(("started", None))
    answer: tuple[str, Any]
    try:
        rows = asyncio.run(_build(job, connection))
        answer = ("done", (rows, _peak_bytes(), time.process_time()))
    except Exception:
        answer = ("failed", traceback.format_exc())
    connection.send(answer)
    connection.close()


async def _build(job: _Job, connection: Connection) -> int:
    database = Database(job.url)

    async def progress(done: int, total: int) -> None:
        connection.send(("progress", (done, total)))

    try:
        result = await export(
            database.uow, job.policy, job.request, job.words, Path(job.target), progress=progress
        )
    finally:
        await database.dispose()
    return result.rows


def _peak_bytes() -> int | None:
    """This process's peak resident memory: ``VmHWM``, its own address space's since the
    exec (``getrusage``'s figure would be at least the parent's at the spawn)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except (OSError, ValueError):
        pass
    try:
        import resource
    except ImportError:
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kB
