"""How long this process's SQLite writers hold the write turn, and how long they wait for it.

``storage.engine.WriteTurns`` orders the writers of one process: a connection about
to write waits for its turn, and keeps it until it goes back to the pool. A quick log
waits for whatever holds the turn when it comes, so the longest holds during a run
are what its slowest replies waited for. ``TurnLog.attach`` listens to a SQLite
engine's statements and pool (public SQLAlchemy events, beside the turns' own) and
notes each hold (when it began, how long, the transaction's first writing statement)
and each wait for a turn.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

# The statements that take a turn (as ``storage.engine`` judges them).
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")


@dataclass(frozen=True, slots=True)
class Hold:
    """One transaction's hold of the write turn."""

    began: float  # time.perf_counter() when the turn was taken
    seconds: float
    waited: float  # for the turn, before it
    first: str  # the first words of its first writing statement


@dataclass
class TurnLog:
    """The holds and waits of one engine's write turns, as they happen."""

    holds: list[Hold] = field(default_factory=list)

    def attach(self, engine: AsyncEngine) -> None:
        """Listen to ``engine`` (SQLite with ``WriteTurns``; anything else is left alone)."""
        if engine.dialect.name != "sqlite":
            return
        sync = engine.sync_engine
        # A statement is executed (``before_execute``) before its cursor runs it
        # (``before_cursor_execute``, where the turns wait for one).
        event.listen(sync, "before_execute", self._asking)
        event.listen(sync, "before_cursor_execute", self._taken)
        event.listen(sync.pool, "checkin", self._back)

    def between(self, start: float, end: float) -> list[Hold]:
        """The holds that began between ``start`` and ``end`` (``time.perf_counter()``)."""
        return [hold for hold in self.holds if start <= hold.began <= end]

    def _asking(self, conn: Any, *_args: Any) -> None:
        info = conn.connection.info
        noted = info.get("turn_log")
        if noted is None or noted[1] is None:  # no turn yet: this one may ask for it
            info["turn_log"] = (time.perf_counter(), None, "")

    def _taken(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        info = conn.connection.info
        noted = info.get("turn_log")
        if noted is None or noted[1] is not None:
            return
        if statement.lstrip().upper().startswith(_WRITES):
            info["turn_log"] = (noted[0], time.perf_counter(), " ".join(statement.split()[:3]))

    def _back(self, _dbapi_connection: Any, record: Any) -> None:
        noted = record.info.pop("turn_log", None)
        if noted is None or noted[1] is None:
            return
        asked, taken, first = noted
        self.holds.append(Hold(taken, time.perf_counter() - taken, taken - asked, first))


def summary(holds: list[Hold], *, longest: int = 5) -> str:
    """One line: how many holds, their total, the longest with their first statements."""
    if not holds:
        return "no write turns"
    ranked = sorted(holds, key=lambda hold: hold.seconds, reverse=True)
    waits = sorted(hold.waited for hold in holds)
    top = ", ".join(f"{hold.seconds * 1000:.0f} ms ({hold.first})" for hold in ranked[:longest])
    return (
        f"{len(holds)} write turns, {sum(h.seconds for h in holds):.2f} s held in all; "
        f"waits for a turn p99 {waits[int(0.99 * (len(waits) - 1))] * 1000:.0f} ms, "
        f"max {waits[-1] * 1000:.0f} ms; longest holds: {top}"
    )
