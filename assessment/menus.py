"""Command menus kept in step with the roster: a change that alters one queues its republishing.

A person's menu shows the commands of their roles while they are on staff, in
their language. A change to any of these (a roster import, marking people as
left) queues a ``menu`` row in the outbox, in the transaction of the change, for
each linked person it touches. The outbox sender of whichever bot process runs,
now or once one starts, claims the row once and builds the menu from the store
as it is then, so a row that waited never shows an older menu than the store's.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from assessment.outbox import ROUTINE, Outgoing, enqueue
from assessment.people import StaffMember
from storage.enums import StaffStatus
from storage.models import Staff
from storage.uow import UnitOfWork

__all__ = ["MENU_KIND", "chat_owner", "menu_inputs", "queue_menus"]

# The outbox kind whose rows the sender turns into setMyCommands, not into a message.
MENU_KIND = "menu"


def menu_inputs(staff: Staff) -> tuple[int, bool, str | None]:
    """What a person's menu is built from and a roster can change: roles, on staff, language."""
    return int(staff.roles), staff.status is not StaffStatus.LEFT, staff.language


async def queue_menus(uow: UnitOfWork, people: Iterable[Staff], *, now: datetime) -> int:
    """Queue the republishing of these people's menus, in the caller's transaction.

    People with no Telegram account linked are skipped: linking shows them their menu.
    Returns how many were queued.
    """
    return await enqueue(
        uow,
        [
            Outgoing(
                chat_id=staff.telegram_user_id,
                kind=MENU_KIND,
                staff_id=staff.id,
                priority=ROUTINE,
            )
            for staff in people
            if staff.telegram_user_id is not None
        ],
        now=now,
    )


async def chat_owner(uow: UnitOfWork, chat_id: int) -> StaffMember | None:
    """The person whose private chat this is now, if anyone's (for the menu to show there)."""
    staff = await uow.staff.by_telegram_id(chat_id)
    return None if staff is None else StaffMember.of(staff)
