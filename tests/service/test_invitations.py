"""Invitations on a real database: issue, redeem once, expire, refuse guessing, unlink."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from assessment.invitations import (
    CODE_BYTES,
    InvitationError,
    LinkOutcome,
    hash_code,
    invite,
    invite_department,
    redeem,
    unlink,
)
from storage.engine import Database
from storage.enums import StaffStatus
from storage.models import Department, Invitation, Staff

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
TTL = timedelta(days=7)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    async with database.uow() as uow:
        office = await uow.departments.add(Department(name="Permits Office"))
        for number, name in [("E1", "Li Wei"), ("E2", "Wang Fang"), ("E3", "Zhao Lei")]:
            await uow.staff.add(Staff(employee_no=number, name=name, department_id=office.id))
        await uow.staff.add(
            Staff(
                employee_no="E9",
                name="Gone",
                department_id=office.id,
                status=StaffStatus.LEFT,
            )
        )
        await uow.commit()
    yield database
    await database.dispose()


async def _invite(db: Database, *numbers: str, now: datetime = NOW) -> list[str]:
    async with db.uow() as uow:
        issued = await invite(uow, list(numbers), actor_staff_id=None, ttl=TTL, now=now)
    return [i.code for i in issued]


async def _redeem(db: Database, code: str, user: int, now: datetime = NOW) -> LinkOutcome:
    async with db.uow() as uow:
        result = await redeem(uow, code, user, now=now, max_failures=5)
    return result.outcome


async def test_codes_are_random_url_safe_short_and_stored_hashed(db: Database) -> None:
    codes = await _invite(db, "E1", "E2")
    assert len(set(codes)) == 2
    for code in codes:
        assert len(code) <= 64
        assert len(code) * 6 >= CODE_BYTES * 8 >= 128
        assert code.replace("-", "").replace("_", "").isalnum()
    async with db.uow() as uow:
        stored = list(await uow.session.scalars(select(Invitation.code_hash)))
    assert sorted(stored) == sorted(hash_code(code) for code in codes)
    assert not set(codes) & set(stored)


async def test_redeem_links_once(db: Database) -> None:
    [code] = await _invite(db, "E1")
    assert await _redeem(db, code, 101) is LinkOutcome.LINKED
    async with db.uow() as uow:
        staff = await uow.staff.by_employee_no("E1")
        assert staff is not None
        assert staff.telegram_user_id == 101
        assert staff.linked_at == NOW
        actions = [event.action for event in await uow.audit.events()]
    assert actions == ["staff.invited", "staff.linked"]
    assert await _redeem(db, code, 102) is LinkOutcome.USED
    assert await _redeem(db, code, 101) is LinkOutcome.ACCOUNT_TAKEN


async def test_expired_code(db: Database) -> None:
    [code] = await _invite(db, "E1")
    assert await _redeem(db, code, 101, now=NOW + TTL) is LinkOutcome.EXPIRED


async def test_inviting_again_replaces_the_old_code(db: Database) -> None:
    [old] = await _invite(db, "E1")
    [new] = await _invite(db, "E1")
    assert await _redeem(db, old, 101) is LinkOutcome.INVALID
    assert await _redeem(db, new, 101) is LinkOutcome.LINKED


async def test_a_code_for_someone_already_linked(db: Database) -> None:
    [code] = await _invite(db, "E1")
    assert await _redeem(db, code, 101) is LinkOutcome.LINKED
    with pytest.raises(InvitationError, match="linked"):
        await _invite(db, "E1")
    async with db.uow() as uow:
        await unlink(uow, "E1", actor_staff_id=None, now=NOW)
    [again] = await _invite(db, "E1")
    assert await _redeem(db, again, 202) is LinkOutcome.LINKED


async def test_unknown_left_and_unlinked_people_cannot_be_invited_or_unlinked(
    db: Database,
) -> None:
    with pytest.raises(InvitationError, match="unknown"):
        await _invite(db, "E1", "NOPE")
    with pytest.raises(InvitationError, match="left"):
        await _invite(db, "E9")
    async with db.uow() as uow:
        count = await uow.session.scalar(select(func.count()).select_from(Invitation))
    assert count == 0, "a refused batch issues nothing"
    with pytest.raises(InvitationError, match="not_linked"):
        async with db.uow() as uow:
            await unlink(uow, "E2", actor_staff_id=None, now=NOW)


async def test_the_sixth_failure_in_an_hour_is_refused_even_with_a_good_code(
    db: Database,
) -> None:
    [code] = await _invite(db, "E1")
    for attempt in range(5):
        outcome = await _redeem(db, f"guess{attempt}", 666, now=NOW + timedelta(minutes=attempt))
        assert outcome is LinkOutcome.INVALID
    async with db.uow() as uow:
        locked = await redeem(uow, code, 666, now=NOW + timedelta(minutes=10), max_failures=5)
    assert locked.outcome is LinkOutcome.TOO_MANY_ATTEMPTS
    assert locked.retry_at == NOW + timedelta(hours=1)
    assert await _redeem(db, code, 667) is LinkOutcome.LINKED, "other accounts are not locked"


async def test_the_lock_lifts_after_the_hour(db: Database) -> None:
    [code] = await _invite(db, "E1")
    for attempt in range(5):
        await _redeem(db, f"guess{attempt}", 666)
    assert await _redeem(db, code, 666, now=NOW + timedelta(minutes=61)) is LinkOutcome.LINKED


async def test_two_accounts_racing_for_one_code_link_once(db: Database) -> None:
    [code] = await _invite(db, "E1")
    outcomes = await asyncio.gather(*(_redeem(db, code, 300 + n) for n in range(4)))
    assert sorted(outcomes).count(LinkOutcome.LINKED) == 1
    async with db.uow() as uow:
        linked = await uow.session.scalar(
            select(func.count()).select_from(Staff).where(Staff.telegram_user_id.is_not(None))
        )
    assert linked == 1


async def test_department_invitations_skip_linked_and_left_people(db: Database) -> None:
    [code] = await _invite(db, "E1")
    await _redeem(db, code, 101)
    async with db.uow() as uow:
        office = await uow.departments.get_by_name("Permits Office")
        assert office is not None
        issued = await invite_department(uow, office.id, actor_staff_id=None, ttl=TTL, now=NOW)
    assert [i.employee_no for i in issued] == ["E2", "E3"]
