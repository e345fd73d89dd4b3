"""What the sandbox's inspector may show of a person, and how much of it.

Read-only: a person's record, their entries this month (the calendar month of the
organisation-local day), the latest messages the bot queued for them and the latest
audit events by or about them, each list bounded. Nothing secret leaves: invitation
codes in links (``?start=...``) are masked wherever text is shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from assessment.entries import SUBJECT as ENTRY_SUBJECT
from storage.enums import Role
from storage.repositories.inspection import AuditRow, CardRow, EntryRow, OutboxRow
from storage.uow import UnitOfWork

__all__ = [
    "AUDIT_LIMIT",
    "ENTRY_LIMIT",
    "OUTBOX_LIMIT",
    "ROSTER_LIMIT",
    "PersonState",
    "masked",
    "person_state",
    "role_names",
    "roster",
    "this_month",
]

ROSTER_LIMIT = 2000
ENTRY_LIMIT = 300
OUTBOX_LIMIT = 50
AUDIT_LIMIT = 30

# A deep link's payload is an invitation code (``t.me/bot?start=CODE``).
_START_PAYLOAD = re.compile(r"([?&]start(?:group)?=)[^\s&#]+", re.IGNORECASE)
# Detail keys whose values are never shown.
_SECRET_KEYS = re.compile(r"code|token|secret|password", re.IGNORECASE)
# Shown first: HR, then supervisors, then everyone else.
_RANK = ((Role.HR | Role.ADMIN, 0), (Role.SUPERVISOR, 1))


@dataclass(frozen=True, slots=True)
class PersonState:
    """One person as the inspector shows them: the lists newest first, each bounded."""

    record: CardRow
    month: tuple[date, date]
    entries: list[EntryRow]
    outbox: list[OutboxRow]
    audit: list[AuditRow]


def this_month(today: date) -> tuple[date, date]:
    """The first and last day of ``today``'s calendar month."""
    start = today.replace(day=1)
    following = (start + timedelta(days=32)).replace(day=1)
    return start, following - timedelta(days=1)


def role_names(roles: Role) -> tuple[str, ...]:
    """``roles`` as lower-case names, in the order of ``Role``: ``("staff", "hr")``."""
    return tuple(
        str(role.name).lower() for role in Role if role is not Role.NONE and role in roles
    )


def masked(text: str) -> str:
    """``text`` with invitation codes of deep links replaced by an ellipsis."""
    return _START_PAYLOAD.sub(r"\1…", text)


def masked_details(details: dict[str, object]) -> dict[str, object]:
    """An audit event's details without values of secret-looking keys."""
    return {key: "…" if _SECRET_KEYS.search(key) else value for key, value in details.items()}


def _rank(card: CardRow) -> int:
    return next((rank for roles, rank in _RANK if card.roles & roles), 2)


async def roster(uow: UnitOfWork, today: date) -> list[CardRow]:
    """Everyone on the roster who has not left (at most ``ROSTER_LIMIT``): HR first,
    then supervisors, then the rest, each by employee number."""
    cards = await uow.inspection.roster(today, ROSTER_LIMIT)
    return sorted(cards, key=lambda card: (_rank(card), card.employee_no))


async def person_state(uow: UnitOfWork, telegram_user_id: int, today: date) -> PersonState | None:
    """The state of the person linked to ``telegram_user_id`` on ``today``; None for a
    stranger (nobody on the roster is linked to that account)."""
    card = await uow.inspection.card(telegram_user_id, today)
    if card is None:
        return None
    start, end = this_month(today)
    return PersonState(
        record=card,
        month=(start, end),
        entries=await uow.inspection.entries(card.id, start, end, ENTRY_LIMIT),
        outbox=await uow.inspection.outbox(card.id, telegram_user_id, OUTBOX_LIMIT),
        audit=await uow.inspection.audit(card.id, telegram_user_id, ENTRY_SUBJECT, AUDIT_LIMIT),
    )
