"""Invitation codes (stored hashed) and failed attempts to redeem them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update

from storage.enums import StaffStatus
from storage.models import Invitation, LinkAttempt, Staff
from storage.repositories.base import Repository

# Staff ids per DELETE ... IN (a bound parameter each).
_IN_CHUNK = 1000


class InvitationRepository(Repository):
    """One live invitation per person, found by the hash of its code."""

    async def replace(self, invitation: Invitation) -> Invitation:
        """Store ``invitation`` as the person's only one, dropping any earlier code."""
        await self.replace_many([invitation])
        return invitation

    async def replace_many(self, invitations: Sequence[Invitation]) -> None:
        """Store each of ``invitations`` as its person's only one, dropping earlier codes:
        one DELETE per thousand people, the new rows in one flush."""
        staff_ids = [invitation.staff_id for invitation in invitations]
        for start in range(0, len(staff_ids), _IN_CHUNK):
            chunk = staff_ids[start : start + _IN_CHUNK]
            await self.session.execute(delete(Invitation).where(Invitation.staff_id.in_(chunk)))
        self.session.add_all(invitations)
        await self.session.flush()

    async def unlinked_in_department(self, department_id: int) -> list[Staff]:
        """People of a department who are still on staff and have no linked account."""
        return list(
            await self.session.scalars(
                select(Staff)
                .where(
                    Staff.department_id == department_id,
                    Staff.telegram_user_id.is_(None),
                    Staff.status != StaffStatus.LEFT,
                )
                .order_by(Staff.employee_no)
            )
        )

    async def by_hash(self, code_hash: str) -> Invitation | None:
        """The invitation whose code hashes to ``code_hash``, if any."""
        return await self.session.scalar(
            select(Invitation).where(Invitation.code_hash == code_hash)
        )

    async def by_hash_with_staff(self, code_hash: str) -> tuple[Invitation, Staff | None] | None:
        """The invitation whose code hashes to ``code_hash`` and the person it was issued
        to (None if their record is gone), in one statement; None if no code matches."""
        found = (
            await self.session.execute(
                select(Invitation, Staff)
                .outerjoin(Staff, Staff.id == Invitation.staff_id)
                .where(Invitation.code_hash == code_hash)
            )
        ).first()
        return None if found is None else (found[0], found[1])

    async def mark_used(self, invitation_id: int, telegram_user_id: int, at: datetime) -> bool:
        """Use the invitation once; False if someone else used it first."""
        result = await self.session.execute(
            update(Invitation)
            .where(Invitation.id == invitation_id, Invitation.used_at.is_(None))
            .values(used_at=at, used_by_telegram_id=telegram_user_id)
        )
        return bool(getattr(result, "rowcount", 0))

    async def record_failure(self, telegram_user_id: int, at: datetime) -> None:
        """Count one failed attempt by this Telegram account."""
        self.session.add(LinkAttempt(telegram_user_id=telegram_user_id, at=at))
        await self.session.flush()

    async def failures_since(self, telegram_user_id: int, since: datetime) -> int:
        """How many failed attempts this Telegram account made since ``since``."""
        count = await self.session.scalar(
            select(func.count())
            .select_from(LinkAttempt)
            .where(LinkAttempt.telegram_user_id == telegram_user_id, LinkAttempt.at >= since)
        )
        return int(count or 0)

    async def oldest_failure_since(
        self, telegram_user_id: int, since: datetime
    ) -> datetime | None:
        """The earliest counted failure since ``since`` (when the lock-out window opened)."""
        return await self.session.scalar(
            select(func.min(LinkAttempt.at)).where(
                LinkAttempt.telegram_user_id == telegram_user_id, LinkAttempt.at >= since
            )
        )
