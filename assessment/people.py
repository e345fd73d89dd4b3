"""Who is asking: the staff member behind a Telegram account, and their roles."""

from __future__ import annotations

from dataclasses import dataclass, replace

from storage.enums import Role, StaffStatus
from storage.models import Staff
from storage.repositories.directory import ProfileRow, TeamRow
from storage.uow import UnitOfWork

__all__ = [
    "Caller",
    "ProfileRow",
    "Role",
    "StaffMember",
    "StaffStatus",
    "TeamRow",
    "handled",
    "identify",
    "member",
    "members",
    "note_telegram_language",
    "profile",
    "set_language",
    "team",
]


@dataclass(frozen=True, slots=True)
class StaffMember:
    """A read-only snapshot of a staff member, safe to keep after the session closes."""

    id: int
    employee_no: str
    name: str
    department_id: int
    roles: Role
    status: StaffStatus
    language: str | None
    telegram_user_id: int | None
    telegram_language: str | None = None

    @classmethod
    def of(cls, staff: Staff) -> StaffMember:
        """Snapshot a stored staff record."""
        return cls(
            id=staff.id,
            employee_no=staff.employee_no,
            name=staff.name,
            department_id=staff.department_id,
            roles=staff.roles,
            status=staff.status,
            language=staff.language,
            telegram_user_id=staff.telegram_user_id,
            telegram_language=staff.telegram_language,
        )

    def has(self, role: Role) -> bool:
        """Whether this person holds ``role``."""
        return bool(self.roles & role)

    @property
    def is_active(self) -> bool:
        """Still on staff (second-line staff work like anyone else)."""
        return self.status is not StaffStatus.LEFT


@dataclass(frozen=True, slots=True)
class Caller:
    """The outcome of looking at an incoming update before any handler runs."""

    duplicate: bool
    member: StaffMember | None
    # What the member's next message answers (a /log question, a reason, a notice's
    # content), if anything: the captures take it, and it is no quick log entry.
    question: str | None = None


async def identify(
    uow: UnitOfWork,
    update_id: int,
    telegram_user_id: int | None,
    language_code: str | None = None,
) -> Caller:
    """Find the staff member behind ``telegram_user_id``, unless ``update_id`` was handled.

    A redelivered update (a webhook retry, a restart before Telegram heard back) is
    a no-op. Updates are recorded as handled with the first commit of whatever they
    change (``PendingClaim``), so one SELECT is all every update costs here (and an
    UPDATE when the person's Telegram language changed). Use a unit of work without
    the update's claim: noting the language is not handling the update.
    """
    arrival = await uow.updates.arrive(update_id, telegram_user_id)
    if arrival.seen:
        return Caller(duplicate=True, member=None)
    member = None if arrival.sender is None else StaffMember(**arrival.sender)
    if member is not None:
        member = await note_telegram_language(uow, member, language_code)
    return Caller(duplicate=False, member=member, question=arrival.question)


async def note_telegram_language(
    uow: UnitOfWork, member: StaffMember, language_code: str | None
) -> StaffMember:
    """Remember the language the person's Telegram app reports, when it changed, for
    messages the bot sends them later on its own."""
    reported = language_code[:35] if language_code else None
    if not reported or member.telegram_language == reported:
        return member
    await uow.staff.set_telegram_language(member.id, reported)
    await uow.commit()
    return replace(member, telegram_language=reported)


async def set_language(uow: UnitOfWork, staff_id: int, locale: str) -> StaffMember:
    """Store the language a person chose; everything sent to them afterwards uses it."""
    staff = await uow.staff.get(staff_id)
    if staff is None:
        raise LookupError(staff_id)
    staff.language = locale
    await uow.commit()
    return StaffMember.of(staff)


async def profile(uow: UnitOfWork, staff_id: int) -> ProfileRow:
    """A person's own record, for them to check."""
    row = await uow.directory.profile(staff_id)
    if row is None:
        raise LookupError(staff_id)
    return row


async def team(uow: UnitOfWork, supervisor_id: int) -> list[TeamRow]:
    """A supervisor's direct reports."""
    return await uow.directory.team(supervisor_id)


async def members(uow: UnitOfWork, employee_nos: list[str]) -> list[StaffMember]:
    """Snapshots of the people with these employee numbers."""
    return [StaffMember.of(staff) for staff in await uow.staff.by_employee_nos(employee_nos)]


async def member(uow: UnitOfWork, staff_id: int) -> StaffMember | None:
    """A snapshot of the person with this id, if there is one."""
    staff = await uow.staff.get(staff_id)
    return None if staff is None else StaffMember.of(staff)


async def handled(uow: UnitOfWork, update_id: int) -> bool:
    """Whether an update's first commit is done: then what it changed was saved."""
    return await uow.updates.handled(update_id)
