"""Which kind of bot a store belongs to: the sandbox's, or a real (production) bot's.

The sandbox fills its store with an invented organisation and moves its clock at will;
a real bot's store holds people's real records. Neither may ever run on the other's
store, so each claims the store when it starts (``claim_store``): a store without a
mark becomes the first claimant's, for good; a store marked for the other kind is
refused. The mark is the ``kind`` fact of ``store_facts``, written once. The command
line's other commands (``staff import``, ``results``, ...) do not claim: they act for
an operator on whichever store they are pointed at.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from storage.engine import Database

__all__ = ["KIND_FACT", "StoreInUseError", "StoreKind", "claim_store"]

StoreKind = Literal["sandbox", "production"]
KIND_FACT = "kind"

_REFUSALS: dict[str, str] = {
    "sandbox": (
        "this database belongs to the sandbox; a real bot needs a database of its own "
        "(set WORKLEDGER_DATABASE_URL to it)"
    ),
    "production": (
        "this database belongs to a real bot; the sandbox never runs on it "
        "(it keeps a SQLite file of its own)"
    ),
}


class StoreInUseError(RuntimeError):
    """The store is marked for the other kind of bot; the message is one line for people."""

    def __init__(self, marked: str) -> None:
        other = f"this database belongs to another kind of bot ({marked})"
        super().__init__(_REFUSALS.get(marked, other))
        self.marked = marked


async def claim_store(database: Database, kind: StoreKind, *, now: datetime | None = None) -> None:
    """Mark the store as ``kind``'s if it has no mark yet, and commit; refuse it otherwise.

    Two processes claiming an unmarked store at once: one mark is written, and the
    other process sees it (and is refused if it is of the other kind).

    Raises:
        StoreInUseError: The store is marked for the other kind of bot.
    """
    async with database.uow() as uow:
        marked = await uow.store_facts.settle(KIND_FACT, kind, at=now or datetime.now(UTC))
        await uow.commit()
    if marked != kind:
        raise StoreInUseError(marked)
