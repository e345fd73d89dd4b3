"""What the sandbox's inspector shows beside a chat: the roster and one person's state.

Read-only. Work in progress: the signatures are final, the reads are not written yet
(both functions raise ``NotImplementedError`` until they are).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from handlers.context import BotData

__all__ = ["PersonCard", "inspect_person", "roster_people"]


@dataclass(frozen=True)
class PersonCard:
    """One person on the roster, as the sandbox's picker shows them."""

    telegram_user_id: int | None
    employee_no: str
    name: str
    roles: tuple[str, ...]
    department: str | None
    post: str | None
    supervisor: str | None
    language: str | None
    on_leave: bool
    joined: bool


async def roster_people(data: BotData) -> list[PersonCard]:
    """Everyone on the roster (supervisors and HR first); read-only."""
    raise NotImplementedError("roster_people is not written yet")


async def inspect_person(data: BotData, telegram_user_id: int) -> dict[str, Any]:
    """JSON-ready state of the person behind ``telegram_user_id``: ``record``, this
    month's ``entries``, latest ``outbox`` rows, latest ``audit`` events and ``now``.
    A stranger gets ``record: None`` and empty lists."""
    raise NotImplementedError("inspect_person is not written yet")
