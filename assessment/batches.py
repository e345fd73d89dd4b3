"""Big jobs over the staff, in batches of bounded size, each its own transaction.

SQLite has one writer at a time, and on PostgreSQL a long transaction holds its locks
and keeps old row versions alive: a job that queued 100,000 reminders in one
transaction would make a quick log or an Approve press wait for all of it. So a job
walks the staff by id in windows of ``BATCH_SIZE`` consecutive ids (so at most that
many people, whatever the gaps), reads what a window needs in a short read of its
own, and writes it in a transaction of its own: an interactive write waits for one
batch at most, and no statement scans more than one window.

Done once, whatever restarts or extra processes: the batch of window ``i`` is claimed
as ``<key>/batch/<i>`` in the transaction that writes it, and the last window claims
``<key>`` itself (and drops the batch claims). A process that dies between batches
leaves the batches it wrote claimed, and the next run does only the rest. Two
processes walking at once never write the same batch: the second one's claim waits
for the first one's commit, then fails. What the batches queue has dedup keys too,
as a second line of defence.

Windows are fixed ranges of ids rather than "the next ``BATCH_SIZE`` people", so that
a window's key names the same people in every process and every run, and the next
window is found by arithmetic, with no cursor to keep.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from storage.uow import UnitOfWork

__all__ = ["BATCH_SIZE", "Window", "run_in_batches"]

# One batch's transaction (its claim, an INSERT ... SELECT per language of up to this
# many people with their day's entry and leave looked up, the commit) is what a quick
# log or an Approve press may wait for while the job runs (on SQLite, where there is
# one writer at a time, in the queue of write turns). bench/responsiveness.py, the
# daily reminder over 100,000 staff under 35 updates a second on SQLite: reply p99
# 50 ms at 500 as at 250 (19-23 ms idle), the job 3.7 s at 500 and 7.5 s at 250; at
# 1,000 the p99 was 61 ms. Each transaction's own cost dominates below 500.
BATCH_SIZE = 500

Prepared = TypeVar("Prepared")


@dataclass(frozen=True, slots=True)
class Window:
    """Staff ids ``after`` < id <= ``through``: one batch's people; ``last`` ends the job."""

    index: int
    after: int
    through: int
    last: bool


async def run_in_batches(
    uows: Callable[[], UnitOfWork],
    key: str,
    prepare: Callable[[UnitOfWork, Window], Awaitable[Prepared | None]],
    write: Callable[[UnitOfWork, Window, Prepared], Awaitable[int]],
    *,
    now: datetime,
    size: int = BATCH_SIZE,
) -> int | None:
    """Do the work ``key`` names for every window of staff ids, once.

    Args:
        uows: Makes a fresh unit of work (every read and every batch is its own).
        key: Names the work and its period (``daily-reminder/2026-11-20``).
        prepare: Reads what one window needs; None if it has nothing to write.
        write: Writes what ``prepare`` found, in the window's transaction (never
            committing it); returns how many rows it wrote.
        now: The current moment (aware), recorded with the claims.
        size: Staff ids per window.

    Returns:
        How many rows this run wrote; None if it wrote no batch because the work was
        done (or was being finished) by another run.
    """
    async with uows() as uow:
        # Most ticks come after the work is done: a read answers them without an insert.
        if await uow.claims.claimed(key):
            return None
    written: int | None = None
    index = 0
    while True:
        async with uows() as uow:
            through = (index + 1) * size
            window = Window(index, index * size, through, through >= await uow.staff.highest_id())
            batch = f"{key}/batch/{index}"
            done = not window.last and await uow.claims.claimed(batch)
            prepared = None if done else await prepare(uow, window)
        if prepared is not None or window.last:
            async with uows() as uow:
                # The claim first: on SQLite a transaction that read first cannot wait
                # for another writer, and fails instead.
                if not await uow.claims.claim(key if window.last else batch, now):
                    pass  # another run wrote this batch (or, the last one, finished the work)
                elif not window.last and await uow.claims.claimed(key):
                    return written  # another run finished meanwhile: this batch rolls back
                else:
                    count = 0 if prepared is None else await write(uow, window, prepared)
                    if window.last:
                        await uow.claims.forget([f"{key}/batch/{i}" for i in range(index)])
                    await uow.commit()
                    written = (written or 0) + count
        if window.last:
            return written
        index += 1
        # The updates waiting meanwhile go first (on SQLite their writes too: the store
        # hands out write turns first come, first served).
        await asyncio.sleep(0)
