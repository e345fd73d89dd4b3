"""Who a bulk action may mark as having left: never the person asking, never the last way back.

Every action that marks many people as having left at once (the roster's "mark
the missing as left", in chat and on the command line) asks ``who_may_leave``
first, so nobody can lock HR out of the bot by accident.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from storage.enums import Role, StaffStatus
from storage.models import Staff


class KeptBecause(enum.StrEnum):
    """Why a bulk action left someone on staff."""

    YOURSELF = "yourself"  # the person pressing the button
    LAST_HR = "last_hr"  # no other active HR member would remain
    LAST_ADMIN = "last_admin"  # no other active administrator would remain


# The roles without which nobody could undo the action in the bot, in the order they are kept.
GUARDED: tuple[tuple[Role, KeptBecause], ...] = (
    (Role.HR, KeptBecause.LAST_HR),
    (Role.ADMIN, KeptBecause.LAST_ADMIN),
)


@dataclass(frozen=True, slots=True)
class Named:
    """A person as a message names them."""

    employee_no: str
    name: str


@dataclass(frozen=True, slots=True)
class Kept:
    """Someone a bulk action did not mark, and why."""

    person: Named
    because: KeptBecause


@dataclass(frozen=True, slots=True)
class Leaving:
    """What a bulk "mark as left" may do: who leaves, who is kept and why."""

    leave: tuple[Staff, ...]
    kept: tuple[Kept, ...]


def who_may_leave(
    candidates: Iterable[Staff], holders: Iterable[Staff], *, actor_staff_id: int | None
) -> Leaving:
    """Which of ``candidates`` a bulk action may mark as having left.

    ``holders`` are the people on staff holding HR or administrator rights (candidates
    among them or not). Never marked: the person acting (``actor_staff_id``, None on
    the command line), and, for HR and for administrators each, the last person on
    staff holding the role: if every holder is a candidate, one is kept (someone
    linked to Telegram first, then the lowest employee number). People who have
    already left are not candidates.
    """
    pending = [staff for staff in candidates if staff.status is not StaffStatus.LEFT]
    kept: dict[int, KeptBecause] = {
        staff.id: KeptBecause.YOURSELF for staff in pending if staff.id == actor_staff_id
    }
    leaving = {staff.id for staff in pending} - set(kept)
    on_staff = [staff for staff in holders if staff.status is not StaffStatus.LEFT]
    for role, because in GUARDED:
        if any(staff.roles & role and staff.id not in leaving for staff in on_staff):
            continue
        options = [staff for staff in pending if staff.id in leaving and staff.roles & role]
        if options:
            chosen = min(options, key=lambda s: (s.telegram_user_id is None, s.employee_no))
            kept[chosen.id] = because
            leaving.discard(chosen.id)
    return Leaving(
        leave=tuple(staff for staff in pending if staff.id in leaving),
        kept=tuple(
            Kept(Named(staff.employee_no, staff.name), kept[staff.id])
            for staff in pending
            if staff.id in kept
        ),
    )
