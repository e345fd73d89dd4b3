"""Invitations: one-time codes that link a Telegram account to exactly one staff record.

A code is 192 random bits, URL-safe, 32 characters (Telegram allows 64 in a deep
link). Only its SHA-256 is stored; a slow hash buys nothing against a random
192-bit secret, and a fast one keeps redemption a single indexed look-up.
"""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from assessment.people import StaffMember
from storage.enums import StaffStatus
from storage.models import Invitation, Staff
from storage.repositories.audit import Event
from storage.uow import UnitOfWork

CODE_BYTES = 24
FAILURE_WINDOW = timedelta(hours=1)
_CODE_SHAPE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class InvitationError(Exception):
    """An invitation could not be issued; ``code`` says why, ``employee_no`` for whom."""

    def __init__(self, code: str, employee_no: str) -> None:
        super().__init__(f"{code}: {employee_no}")
        self.code = code
        self.employee_no = employee_no


def new_code() -> str:
    """A fresh random invitation code."""
    return secrets.token_urlsafe(CODE_BYTES)


def hash_code(code: str) -> str:
    """The stored form of a code."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def deep_link(bot_username: str, code: str) -> str:
    """The ``t.me`` link that opens the bot with ``/start <code>``."""
    return f"https://t.me/{bot_username}?start={code}"


@dataclass(frozen=True, slots=True)
class IssuedInvitation:
    """A code just issued; the only moment the plain code exists."""

    employee_no: str
    name: str
    code: str
    expires_at: datetime


async def _issue(
    uow: UnitOfWork,
    people: Sequence[Staff],
    *,
    actor_staff_id: int | None,
    ttl: timedelta,
    now: datetime,
) -> list[IssuedInvitation]:
    """A new code for each of ``people``, replacing their earlier ones, and an audit event
    each (no commit): the same few statements for one person or a department."""
    expires_at = now + ttl
    codes = [new_code() for _ in people]
    await uow.invitations.replace_many(
        [
            Invitation(
                staff_id=staff.id,
                code_hash=hash_code(code),
                created_by_id=actor_staff_id,
                created_at=now,
                expires_at=expires_at,
            )
            for staff, code in zip(people, codes, strict=True)
        ]
    )
    await uow.audit.add_many(
        [
            Event(
                "staff.invited",
                "staff",
                staff.id,
                at=now,
                actor_staff_id=actor_staff_id,
                details={"employee_no": staff.employee_no, "expires_at": expires_at.isoformat()},
            )
            for staff in people
        ]
    )
    return [
        IssuedInvitation(staff.employee_no, staff.name, code, expires_at)
        for staff, code in zip(people, codes, strict=True)
    ]


async def invite(
    uow: UnitOfWork,
    employee_nos: list[str],
    *,
    actor_staff_id: int | None,
    ttl: timedelta,
    now: datetime,
) -> list[IssuedInvitation]:
    """Issue a code to each person, replacing earlier codes; all or nothing.

    Raises:
        InvitationError: someone is unknown (``unknown``), has left (``left``) or
            is already linked (``linked``: HR must unlink them first).
    """
    wanted = list(dict.fromkeys(employee_nos))
    found = {staff.employee_no: staff for staff in await uow.staff.by_employee_nos(wanted)}
    people = []
    for employee_no in wanted:
        staff = found.get(employee_no)
        if staff is None:
            raise InvitationError("unknown", employee_no)
        if staff.status is StaffStatus.LEFT:
            raise InvitationError("left", employee_no)
        if staff.telegram_user_id is not None:
            raise InvitationError("linked", employee_no)
        people.append(staff)
    issued = await _issue(uow, people, actor_staff_id=actor_staff_id, ttl=ttl, now=now)
    await uow.commit()
    return issued


async def invite_department(
    uow: UnitOfWork,
    department_id: int,
    *,
    actor_staff_id: int | None,
    ttl: timedelta,
    now: datetime,
) -> list[IssuedInvitation]:
    """Issue codes to everyone in a department who still has to link their account."""
    people = await uow.invitations.unlinked_in_department(department_id)
    issued = await _issue(uow, people, actor_staff_id=actor_staff_id, ttl=ttl, now=now)
    await uow.commit()
    return issued


class LinkOutcome(enum.StrEnum):
    """How an attempt to redeem an invitation ended."""

    LINKED = "linked"
    INVALID = "invalid"
    USED = "used"
    EXPIRED = "expired"
    RECORD_TAKEN = "record_taken"
    ACCOUNT_TAKEN = "account_taken"
    TOO_MANY_ATTEMPTS = "too_many_attempts"


@dataclass(frozen=True, slots=True)
class LinkResult:
    """The outcome, the person now linked (if any) and when a locked-out user may retry."""

    outcome: LinkOutcome
    member: StaffMember | None = None
    retry_at: datetime | None = None


async def redeem(
    uow: UnitOfWork,
    code: str,
    telegram_user_id: int,
    *,
    now: datetime,
    max_failures: int,
) -> LinkResult:
    """Link ``telegram_user_id`` to the person the code was issued to, once.

    Every failure is counted against the Telegram account; after ``max_failures``
    in an hour, attempts are refused without looking at the code until the hour
    has passed. Answers never reveal anything about other staff.
    """
    since = now - FAILURE_WINDOW
    if await uow.invitations.failures_since(telegram_user_id, since) >= max_failures:
        first = await uow.invitations.oldest_failure_since(telegram_user_id, since)
        return LinkResult(LinkOutcome.TOO_MANY_ATTEMPTS, retry_at=(first or now) + FAILURE_WINDOW)
    existing = await uow.staff.by_telegram_id(telegram_user_id)
    if existing is not None:
        return LinkResult(LinkOutcome.ACCOUNT_TAKEN, member=StaffMember.of(existing))

    outcome = await _check(uow, code, now)
    if isinstance(outcome, LinkOutcome):
        await uow.invitations.record_failure(telegram_user_id, now)
        await uow.audit.add(
            Event(
                "staff.link_failed",
                "telegram_user",
                telegram_user_id,
                at=now,
                actor_telegram_id=telegram_user_id,
                details={"outcome": outcome.value},
            )
        )
        await uow.commit()
        return LinkResult(outcome)

    invitation, staff = outcome
    if not await uow.invitations.mark_used(invitation.id, telegram_user_id, now):
        return LinkResult(LinkOutcome.USED)
    staff.telegram_user_id = telegram_user_id
    staff.linked_at = now
    await uow.audit.add(
        Event(
            "staff.linked",
            "staff",
            staff.id,
            at=now,
            actor_staff_id=staff.id,
            actor_telegram_id=telegram_user_id,
            details={"employee_no": staff.employee_no},
        )
    )
    await uow.commit()
    return LinkResult(LinkOutcome.LINKED, member=StaffMember.of(staff))


async def _check(
    uow: UnitOfWork, code: str, now: datetime
) -> LinkOutcome | tuple[Invitation, Staff]:
    if not _CODE_SHAPE.match(code):
        return LinkOutcome.INVALID
    found = await uow.invitations.by_hash_with_staff(hash_code(code))
    if found is None:
        return LinkOutcome.INVALID
    invitation, staff = found
    if invitation.used_at is not None:
        return LinkOutcome.USED
    if invitation.expires_at <= now:
        return LinkOutcome.EXPIRED
    if staff is None or staff.status is StaffStatus.LEFT:
        return LinkOutcome.INVALID
    if staff.telegram_user_id is not None:
        return LinkOutcome.RECORD_TAKEN
    return invitation, staff


async def unlink(
    uow: UnitOfWork, employee_no: str, *, actor_staff_id: int | None, now: datetime
) -> int | None:
    """Detach a person's Telegram account (a lost phone); returns the account id it had.

    Raises:
        InvitationError: the person is unknown (``unknown``) or not linked (``not_linked``).
    """
    staff = await uow.staff.by_employee_no(employee_no)
    if staff is None:
        raise InvitationError("unknown", employee_no)
    if staff.telegram_user_id is None:
        raise InvitationError("not_linked", employee_no)
    previous = staff.telegram_user_id
    staff.telegram_user_id = None
    staff.linked_at = None
    await uow.audit.add(
        Event(
            "staff.unlinked",
            "staff",
            staff.id,
            at=now,
            actor_staff_id=actor_staff_id,
            details={"employee_no": employee_no, "telegram_user_id": previous},
        )
    )
    await uow.commit()
    return previous
