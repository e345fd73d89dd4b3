"""What the sandbox's inspector shows beside a chat: the roster, and one person's state.

Read-only, JSON-ready (strings, numbers, booleans, None; moments as ISO strings in the
organisation's zone); what is shown and how much is ``assessment.inspection``'s rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from assessment import inspection
from assessment.inspection import PersonState
from handlers.context import BotData
from storage.repositories.inspection import AuditRow, CardRow, EntryRow, OutboxRow

__all__ = ["PersonCard", "inspect_person", "roster_people"]

# An outbox message is shown by its first line, cut to this many characters.
FIRST_LINE = 120


@dataclass(frozen=True)
class PersonCard:
    """One person on the roster, as the sandbox's picker shows them.

    ``language`` is the bot language the person chose, else their Telegram app's as last
    seen; ``joined``: linked to a Telegram account (``telegram_user_id``).
    """

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


def _card(row: CardRow) -> PersonCard:
    return PersonCard(
        telegram_user_id=row.telegram_user_id,
        employee_no=row.employee_no,
        name=row.name,
        roles=inspection.role_names(row.roles),
        department=row.department,
        post=row.post,
        supervisor=row.supervisor,
        language=row.language or row.telegram_language,
        on_leave=bool(row.on_leave),
        joined=row.telegram_user_id is not None,
    )


async def roster_people(data: BotData) -> list[PersonCard]:
    """Everyone on the roster who has not left: HR first, then supervisors, then the rest."""
    today = data.clock.today(data.settings.zone)
    async with data.database.uow() as uow:
        rows = await inspection.roster(uow, today)
    return [_card(row) for row in rows]


def _when(moment: datetime | None, zone: tzinfo) -> str | None:
    return None if moment is None else moment.astimezone(zone).isoformat()


def _number(value: Decimal | None) -> str | None:
    # Exact decimals as text (12.5, not 12.500), never as floats.
    return None if value is None else format(value.normalize(), "f")


def _first_line(text: str | None) -> str:
    line = inspection.masked((text or "").strip()).split("\n", 1)[0]
    return line if len(line) <= FIRST_LINE else line[: FIRST_LINE - 1] + "…"


def _record(row: CardRow, zone: tzinfo) -> dict[str, Any]:
    card = _card(row)
    return {
        "telegram_user_id": row.telegram_user_id,
        "employee_no": row.employee_no,
        "name": row.name,
        "roles": list(card.roles),
        "status": row.status.value,
        "department": row.department,
        "post": row.post,
        "post_type": row.post_type,
        "supervisor": row.supervisor,
        "supervisor_no": row.supervisor_no,
        "language": row.language,
        "telegram_language": row.telegram_language,
        "approval_digest_at": row.approval_digest_at,
        "on_leave": card.on_leave,
        "joined": card.joined,
        "linked_at": _when(row.linked_at, zone),
        "unreachable_since": _when(row.unreachable_since, zone),
    }


def _entry(row: EntryRow, zone: tzinfo) -> dict[str, Any]:
    return {
        "id": row.id,
        "date": row.work_date.isoformat(),
        "text": inspection.masked(row.text),
        "indicator": row.indicator_id,
        "quantity": _number(row.quantity),
        "hours": _number(row.hours),
        "status": row.status.value,
        "created": _when(row.created_at, zone),
    }


def _message(row: OutboxRow, zone: tzinfo) -> dict[str, Any]:
    return {
        "id": row.id,
        "state": row.status.value,
        "kind": row.kind,
        "created": _when(row.created_at, zone),
        # When it was settled: sent, or given up on (failed, unreachable).
        "sent": _when(row.finished_at, zone),
        "attempts": row.attempts,
        "first_line": _first_line(row.text),
        "attachment": row.attachment_kind,
        "edit_of": row.edits_id,
        "error": _first_line(row.error) if row.error else None,
    }


def _event(row: AuditRow, staff_id: int, zone: tzinfo) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": _when(row.at, zone),
        "action": row.action,
        "subject": row.subject_type,
        "subject_id": row.subject_id,
        "by_them": row.actor_staff_id == staff_id,
        "details": inspection.masked_details(dict(row.details or {})),
    }


def _state(state: PersonState | None, zone: tzinfo, now: datetime) -> dict[str, Any]:
    if state is None:
        return {"record": None, "entries": [], "outbox": [], "audit": [], "now": _when(now, zone)}
    start, end = state.month
    return {
        "record": _record(state.record, zone),
        "month": {"from": start.isoformat(), "to": end.isoformat()},
        "entries": [_entry(row, zone) for row in state.entries],
        "outbox": [_message(row, zone) for row in state.outbox],
        "audit": [_event(row, state.record.id, zone) for row in state.audit],
        "now": _when(now, zone),
    }


async def inspect_person(data: BotData, telegram_user_id: int) -> dict[str, Any]:
    """JSON-ready state of the person behind ``telegram_user_id``: ``record``, this
    month's ``entries`` (newest day first, at most 300), the latest 50 ``outbox`` rows,
    the latest 30 ``audit`` events by or about them, and the clock's ``now``. A
    stranger (no one on the roster is linked to that account) gets ``record: None``
    and empty lists."""
    zone = data.settings.zone
    now = data.clock.now()
    async with data.database.uow() as uow:
        state = await inspection.person_state(uow, telegram_user_id, now.astimezone(zone).date())
    return _state(state, zone, now)
