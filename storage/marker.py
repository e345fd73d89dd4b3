"""Which kind of bot a store belongs to: the sandbox's or a real (production) bot's.

Work in progress: the signature is final; ``claim_store`` does not check anything yet.
"""

from __future__ import annotations

from typing import Literal

from storage.engine import Database

StoreKind = Literal["sandbox", "production"]

__all__ = ["StoreInUseError", "StoreKind", "claim_store"]


class StoreInUseError(RuntimeError):
    """The store is marked for the other kind of bot; its message is one line for people."""


async def claim_store(database: Database, kind: StoreKind) -> None:
    """Mark the store as ``kind``'s, or refuse it (``StoreInUseError``) when it is the
    other kind's. A store with no mark takes the first claim. Not written yet: a no-op."""
    del database, kind
