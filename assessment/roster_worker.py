"""Roster files read in worker processes, so the bot's event loop never parses one.

A file takes seconds of CPU to read and check (100,000 rows), and a thread would
still take the interpreter lock from the loop; so each file is read by a process
of its own. Children are forked from a forkserver that has the reader imported
(it starts once, lazily, on the first file), so one starts in milliseconds and
leaves nothing behind. Within a child the reader keeps to ``LIMITS`` (its own time
budget, in CPU seconds, included) and the address space is capped at what it had
plus ``MEMORY_ALLOWANCE``; a child still running at ``WALL_FACTOR`` times the
budget on the wall clock is killed. The rows come back as plain tuples, which
pickle ten times faster than the dataclasses, and stay pickled (``PackedRoster``, one
bytes object however many rows) until a caller unpacks them: what is kept between a
preview and its Apply is then nothing the cyclic garbage collector has to walk. At
most ``parallel`` files are read at once; the others wait their turn.

Typical use, by the bot::

    workers = RosterWorkers()
    roster = await workers.parse(data, "roster.xlsx", RosterRules.of(policy))
    # or: packed = await workers.read(...); later roster = await unpack(packed)
    ...
    workers.close()  # at shutdown: children still reading are killed
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import pickle
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess

from assessment import collector
from assessment.roster_cells import RosterRules
from assessment.roster_problems import ProblemCode, RosterProblem, RosterRejected, rejected
from assessment.roster_read import LIMITS, Limits
from assessment.roster_rows import ParsedRoster, RosterRow
from storage.enums import Role, StaffStatus

# Memory a child may take on top of what it starts with (its address space is capped).
MEMORY_ALLOWANCE = 300 * 1024 * 1024
# A child still running this many times its CPU budget later, on the wall clock, is
# killed: it is stuck somewhere the reader does not look at its budget, or starved of
# CPU (on a busy machine a reader gets a share of a core; the budget counts its own).
WALL_FACTOR = 4.0

_MIB = 1024 * 1024
_context_lock = threading.Lock()
_context: BaseContext | None = None


def worker_context() -> BaseContext:
    """The start method for readers: a forkserver with the reader loaded, else spawn."""
    global _context
    with _context_lock:
        if _context is None:
            if "forkserver" in multiprocessing.get_all_start_methods():
                forkserver = multiprocessing.get_context("forkserver")
                forkserver.set_forkserver_preload(
                    ["assessment.roster", "assessment.roster_worker", "assessment.roster_plan"]
                )
                _context = forkserver
            else:
                _context = multiprocessing.get_context("spawn")
        return _context


@dataclass(frozen=True, slots=True)
class PackedRoster:
    """A roster a worker read and checked, still pickled as it came from the worker."""

    filename: str
    rows: int
    blob: bytes


async def unpack(packed: PackedRoster) -> ParsedRoster:
    """The roster in ``packed``, built in the loop's executor thread."""
    with collector.full_passes_held():
        return await asyncio.to_thread(_unpack, packed)


def _unpack(packed: PackedRoster) -> ParsedRoster:
    # The blob comes from this module's own child process, never from outside.
    return unpacked(pickle.loads(packed.blob))  # noqa: S301


class RosterWorkers:
    """Reads roster files in child processes, within limits, off the caller's event loop."""

    def __init__(
        self,
        *,
        parallel: int = 1,
        limits: Limits = LIMITS,
        memory: int = MEMORY_ALLOWANCE,
    ) -> None:
        self.limits = limits
        self.memory = memory
        self._parallel = parallel
        self._slots: asyncio.Semaphore | None = None
        self._running: set[BaseProcess] = set()
        self._lock = threading.Lock()
        # What the last child reported: its peak resident memory and its reading time.
        self.last_peak_bytes: int | None = None
        self.last_seconds: float | None = None

    async def parse(self, data: bytes, filename: str, rules: RosterRules) -> ParsedRoster:
        """``parse_roster`` in a child process; waits for a free worker first.

        Raises:
            RosterRejected: every problem found, or ``too_slow`` / ``out_of_memory``
                when the child overran its budget or its memory.
        """
        return await unpack(await self.read(data, filename, rules))

    async def read(self, data: bytes, filename: str, rules: RosterRules) -> PackedRoster:
        """``parse`` without the unpacking: the checked roster as the child sent it.

        Raises:
            RosterRejected: as ``parse``.
        """
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._parallel)
        async with self._slots:
            return await asyncio.to_thread(self._read, data, filename, rules)

    @property
    def running(self) -> int:
        """How many children are reading now."""
        with self._lock:
            return len(self._running)

    def close(self) -> None:
        """Kill the children still reading (their callers get ``out_of_memory``).

        Nothing else is held: a bot started again reads files again.
        """
        with self._lock:
            running = list(self._running)
        for process in running:
            process.kill()

    def _read(self, data: bytes, filename: str, rules: RosterRules) -> PackedRoster:
        # In a thread of the loop's executor: it only waits on the child's pipe.
        context = worker_context()
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(  # type: ignore[attr-defined]
            target=_work,
            args=(sender, data, filename, rules, self.limits, self.memory),
            name="roster-reader",
            daemon=True,
        )
        try:
            with self._lock:
                process.start()
                self._running.add(process)
            sender.close()
            return self._outcome(receiver, filename)
        finally:
            receiver.close()
            if process.pid is not None:
                if process.is_alive():
                    process.kill()
                process.join()
            with self._lock:
                self._running.discard(process)

    def _outcome(self, receiver: Connection, filename: str) -> PackedRoster:
        limits = self.limits
        if not receiver.poll(limits.seconds * WALL_FACTOR):
            # Stuck where the reader's own budget is not looked at: killed by the caller.
            raise rejected(ProblemCode.TOO_SLOW, detail=f"{limits.seconds:g}")
        try:
            kind, value, self.last_peak_bytes, self.last_seconds = receiver.recv()
            if kind == "rejected":
                raise RosterRejected(value)
            blob = receiver.recv_bytes()
        except EOFError:
            # The child died before answering: the kernel's memory killer, or a crash in C.
            raise rejected(ProblemCode.OUT_OF_MEMORY, detail=str(self.memory // _MIB)) from None
        return PackedRoster(filename, value, blob)


def _work(
    sender: Connection,
    data: bytes,
    filename: str,
    rules: RosterRules,
    limits: Limits,
    memory: int,
) -> None:
    """The child: read the file, send back ("parsed", row count) then the pickled rows,
    or ("rejected", problems).

    With them its peak resident memory in bytes and the seconds it took (for benchmarks).
    """
    # Loaded in the forkserver already: here it costs nothing.
    from assessment.roster import parse_roster

    started = time.monotonic()
    lower_priority()
    cap_memory(memory)
    outcome: tuple[str, object]
    blob = b""
    try:
        roster = parse_roster(data, filename, rules, limits=limits)
        blob = pickle.dumps(packed(roster), protocol=pickle.HIGHEST_PROTOCOL)
        outcome = ("parsed", len(roster.rows))
        del roster
    except RosterRejected as rejection:
        outcome = ("rejected", rejection.problems)
    except MemoryError:
        problem = RosterProblem(None, None, ProblemCode.OUT_OF_MEMORY, detail=str(memory // _MIB))
        outcome = ("rejected", (problem,))
    del data
    sender.send((*outcome, _peak_bytes(), time.monotonic() - started))
    if outcome[0] == "parsed":
        sender.send_bytes(blob)
    sender.close()


def _peak_bytes() -> int | None:
    try:
        import resource

        # Linux reports kilobytes.
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    except ImportError:
        return None


# How much lower than the bot's a reading or planning child's CPU priority is: on a busy
# machine the bot's event loop, which answers everyone, goes first. The reader's budget
# is in CPU seconds, so a child made to wait is not refused for it.
NICENESS = 10


def lower_priority() -> None:
    """Give this (child) process ``NICENESS`` less CPU priority (where there is ``nice``)."""
    with contextlib.suppress(AttributeError, OSError):
        os.nice(NICENESS)


def cap_memory(memory: int) -> None:
    """Cap the address space at what the process has now plus ``memory`` (Linux only)."""
    try:
        import resource

        with open("/proc/self/statm", encoding="ascii") as statm:
            size = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (ImportError, OSError, ValueError):
        return
    resource.setrlimit(resource.RLIMIT_AS, (size + memory, size + memory))


# A row as it crosses the pipe: RosterRow's fields, the difficulty as text, roles as an int.
PackedRow = tuple[int, str, str, str, str, str, str, str | None, int, str | None, str]
Packed = tuple[str, list[PackedRow]]


def packed(roster: ParsedRoster) -> Packed:
    """A parsed roster as plain tuples, quick to pickle between processes."""
    return roster.filename, [
        (
            row.row,
            row.employee_no,
            row.name,
            row.department,
            row.post,
            row.post_type,
            str(row.difficulty),
            row.supervisor_no,
            int(row.roles),
            row.language,
            row.status.value,
        )
        for row in roster.rows
    ]


def unpacked(blob: Packed) -> ParsedRoster:
    """The parsed roster ``packed`` made of ``blob``."""
    filename, rows = blob
    statuses = {status.value: status for status in StaffStatus}
    return ParsedRoster(
        filename,
        tuple(
            RosterRow(
                number,
                employee_no,
                name,
                department,
                post,
                post_type,
                Decimal(difficulty),
                supervisor_no,
                Role(roles),
                language,
                statuses[status],
            )
            for (
                number,
                employee_no,
                name,
                department,
                post,
                post_type,
                difficulty,
                supervisor_no,
                roles,
                language,
                status,
            ) in rows
        ),
    )
