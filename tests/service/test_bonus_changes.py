"""What changes a period's bonus after HR set it, in the store, on SQLite and PostgreSQL: an
allowance withdrawn (before publication only, nothing half-written), and a grade changed
on review after payment prompting HR's correction, which pays exactly the difference.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date
from decimal import Decimal

from sqlalchemy import func, select

from assessment import appeals, bonus, bonus_changes
from assessment.appeals import CaseRow
from assessment.bonus import BonusError
from assessment.bonus_changes import ChangedResult, Withdrawn, correction_key
from assessment.outbox import Outgoing
from assessment.people import StaffMember, member
from storage.engine import Database
from storage.enums import BonusRunStatus
from storage.models import AuditEvent, BonusAllowance, BonusLine, BonusRun, OutboxMessage, Staff
from storage.repositories.calendar import Recipient

from .test_bonus_runs import KEY, NOW, POLICY, SIZE, pooled, seed

TODAY = date(2026, 12, 12)


class Notices:
    """The appeal use cases' messages as plain text; the correction prompt keyed as the
    bot keys it (once per case and HR member)."""

    def _out(self, recipient: Recipient, text: str, key: str | None = None) -> Outgoing:
        return Outgoing(
            chat_id=recipient.telegram_user_id,
            kind="test",
            text=text,
            staff_id=recipient.staff_id,
            dedup_key=key,
        )

    def new_case(self, recipient: Recipient, case: CaseRow, today: date) -> Outgoing:
        return self._out(recipient, f"new {case.id}")

    def outcome(
        self, recipient: Recipient, case: CaseRow, appeal_due_on: date | None, today: date
    ) -> Outgoing:
        return self._out(recipient, f"outcome {case.id}")

    def extended(self, recipient: Recipient, case: CaseRow, today: date) -> Outgoing:
        return self._out(recipient, f"extended {case.id}")

    def reminder(self, recipient: Recipient, case: CaseRow, today: date) -> Outgoing:
        return self._out(recipient, f"reminder {case.id}")

    def overdue(self, recipient: Recipient, case: CaseRow, today: date) -> Outgoing:
        return self._out(recipient, f"overdue {case.id}")

    def correction_due(self, recipient: Recipient, change: ChangedResult) -> Outgoing:
        return self._out(
            recipient,
            f"correct {change.employee_no} {change.grade_before}->{change.grade_after}"
            f" paid by {change.paid_by}",
            correction_key(change.case_id, recipient.staff_id),
        )


async def preview(db: Database, hr: StaffMember, reason: str | None = None) -> bonus.Computed:
    computed = await bonus.compute(
        db.uow, hr, KEY, POLICY, pool_total=None, reason=reason, now=NOW, size=SIZE
    )
    assert isinstance(computed, bonus.Computed), computed
    return computed


async def someone_with_an_allowance(db: Database) -> tuple[Staff, BonusAllowance]:
    async with db.uow() as uow:
        allowance = await uow.session.scalar(
            select(BonusAllowance).order_by(BonusAllowance.id).limit(1)
        )
        assert allowance is not None
        staff = await uow.session.get(Staff, allowance.staff_id)
        assert staff is not None
        return staff, allowance


async def withdrawals(db: Database) -> list[AuditEvent]:
    async with db.uow() as uow:
        return list(
            await uow.session.scalars(
                select(AuditEvent).where(AuditEvent.action == "bonus.allowance_withdrawn")
            )
        )


async def in_force(db: Database, allowance_id: int) -> bool:
    async with db.uow() as uow:
        found = await uow.bonus.allowance(allowance_id)
    assert found is not None
    return found.withdrawn_at is None


async def withdraw(
    db: Database, hr: StaffMember, allowance_id: int, reason: str | None = "Assigned by mistake"
) -> Withdrawn | BonusError:
    async with db.uow() as uow:
        return await bonus_changes.withdraw_allowance(
            uow, hr, allowance_id, reason, POLICY, now=NOW
        )


async def test_a_withdrawn_allowance_leaves_the_next_preview_and_sets_the_old_one_aside(
    db: Database,
) -> None:
    hr, _ = await seed(db, people=12)
    staff, allowance = await someone_with_an_allowance(db)
    amount = POLICY.bonus.allowances[allowance.kind].amount
    before = await preview(db, hr)

    async with db.uow() as uow:
        listed = await bonus_changes.person_allowances(uow, hr, KEY, staff.employee_no)
    assert isinstance(listed, bonus_changes.Allowances)
    assert [row.id for row in listed.rows] == [allowance.id] and listed.paid_by is None

    done = await withdraw(db, hr, allowance.id)
    assert isinstance(done, Withdrawn)
    assert (done.allowance.kind, done.reason, done.amount) == (
        allowance.kind,
        "Assigned by mistake",
        amount,
    )
    assert done.person.employee_no == staff.employee_no
    # The preview computed before would still pay it: set aside, never published.
    assert await bonus.publish(db.uow, hr, before.run_id, now=NOW) is BonusError.DISCARDED
    after = await preview(db, hr)
    assert after.total == before.total - amount
    async with db.uow() as uow:
        line = await uow.bonus.line_of(after.run_id, staff.id)
    assert line is not None and line.allowance == 0
    [event] = await withdrawals(db)
    assert event.details == {
        "period": KEY,
        "kind": allowance.kind,
        "reason": "Assigned by mistake",
        "assigned_reason": "Mountain station",
    }
    assert event.actor_staff_id == hr.id

    # Withdrawn twice: refused. Assigned again: in force, and the preview pays it again.
    assert await withdraw(db, hr, allowance.id) is BonusError.NO_ALLOWANCE
    async with db.uow() as uow:
        again = await bonus.assign_allowance(
            uow, hr, KEY, staff.employee_no, allowance.kind, "Back at the station", POLICY,
            now=NOW,
        )  # fmt: skip
    assert isinstance(again, bonus.Assigned)
    assert await in_force(db, allowance.id)
    assert (await preview(db, hr)).total == before.total


async def test_after_publication_a_withdrawal_is_refused_and_nothing_is_written(
    db: Database,
) -> None:
    hr, _ = await seed(db, people=12)
    _, allowance = await someone_with_an_allowance(db)
    paid = await preview(db, hr)
    assert isinstance(await bonus.publish(db.uow, hr, paid.run_id, now=NOW), bonus.Published)
    # A correction's draft open meanwhile stays as it is.
    draft = await preview(db, hr, reason="Recount")

    async with db.uow() as uow:
        assert await bonus_changes.withdrawable(uow, hr, allowance.id) is BonusError.PAID
    assert await withdraw(db, hr, allowance.id) is BonusError.PAID
    assert await in_force(db, allowance.id)
    assert await withdrawals(db) == []
    async with db.uow() as uow:
        run = await uow.bonus.run(draft.run_id)
    assert run is not None and run.status is BonusRunStatus.DRAFT


async def test_every_bad_withdrawal_is_refused_and_changes_nothing(db: Database) -> None:
    hr, _ = await seed(db, people=12)
    staff, allowance = await someone_with_an_allowance(db)
    async with db.uow() as uow:
        clerk = await member(uow, staff.id)
        assert clerk is not None
        assert await bonus_changes.person_allowances(uow, hr, KEY, "NOBODY") is (
            BonusError.UNKNOWN_PERSON
        )
        assert await bonus_changes.person_allowances(uow, hr, "2025-01", staff.employee_no) is (
            BonusError.UNKNOWN_PERIOD
        )
        assert await bonus_changes.person_allowances(uow, clerk, KEY, staff.employee_no) is (
            BonusError.NOT_HR
        )
        assert await bonus_changes.withdrawable(uow, clerk, allowance.id) is BonusError.NOT_HR
        assert await bonus_changes.withdrawable(uow, hr, 2**31 - 1) is BonusError.NO_ALLOWANCE
    assert await withdraw(db, clerk, allowance.id) is BonusError.NOT_HR
    assert await withdraw(db, hr, allowance.id, None) is BonusError.REASON_NEEDED
    assert await withdraw(db, hr, allowance.id, "   ") is BonusError.REASON_NEEDED
    assert await withdraw(db, hr, allowance.id, "x" * 501) is BonusError.REASON_TOO_LONG
    assert await withdraw(db, hr, 2**31 - 1) is BonusError.NO_ALLOWANCE
    assert await in_force(db, allowance.id)
    assert await withdrawals(db) == []


async def test_a_withdrawal_and_a_publication_at_once_never_pay_a_withdrawn_allowance(
    db: Database,
) -> None:
    hr, _ = await seed(db, people=12)
    staff, allowance = await someone_with_an_allowance(db)
    draft = await preview(db, hr)
    published, withdrawn = await asyncio.gather(
        bonus.publish(db.uow, hr, draft.run_id, now=NOW), withdraw(db, hr, allowance.id)
    )
    async with db.uow() as uow:
        line = await uow.bonus.line_of(draft.run_id, staff.id)
    assert line is not None and line.allowance > 0
    if isinstance(published, bonus.Published):
        # The run paid it: the withdrawal is refused.
        assert withdrawn is BonusError.PAID
        assert await in_force(db, allowance.id)
    else:
        assert published is BonusError.DISCARDED
        assert isinstance(withdrawn, Withdrawn)
        assert not await in_force(db, allowance.id)


async def _review(
    db: Database, person: StaffMember, hr: StaffMember, grade: str, period_id: int
) -> appeals.Decided:
    async with db.uow() as uow:
        filed = await appeals.file(
            uow, person, period_id, appeals.REVIEW, "Miscounted", [], POLICY, Notices(),
            today=TODAY, zone=UTC, now=NOW,
        )  # fmt: skip
    assert isinstance(filed, appeals.Filed), filed
    async with db.uow() as uow:
        decided = await appeals.decide(
            uow, hr, filed.case.id, filed.case.version, grade, "Looked again", POLICY,
            Notices(), today=TODAY, now=NOW,
        )  # fmt: skip
    assert isinstance(decided, appeals.Decided), decided
    return decided


async def prompts(db: Database) -> list[OutboxMessage]:
    async with db.uow() as uow:
        return list(
            await uow.session.scalars(
                select(OutboxMessage).where(OutboxMessage.dedup_key.like("bonus-correction/%"))
            )
        )


async def someone_not(db: Database, period_id: int, *grades: str) -> tuple[StaffMember, str]:
    """Someone whose published grade that counts is none of ``grades``, and that grade."""
    async with db.uow() as uow:
        rows = await uow.results.people(period_id)
        found = next(p for p in rows if p.final_grade_id not in grades and p.score is not None)
        person = await member(uow, found.staff_id)
    assert person is not None and found.final_grade_id is not None
    return person, found.final_grade_id


def formula(grade: str, difficulty: Decimal) -> Decimal:
    """A line by the policy's formula, rounded once to the cent (no allowance)."""
    coefficient = POLICY.grade(grade).coefficient
    return (POLICY.bonus.base * coefficient * difficulty).quantize(Decimal("0.01"))


async def test_a_grade_changed_after_payment_prompts_hr_and_its_correction_pays_the_difference(
    db: Database,
) -> None:
    hr, period_id = await seed(db, people=30)
    first = await preview(db, hr)
    assert isinstance(await bonus.publish(db.uow, hr, first.run_id, now=NOW), bonus.Published)
    person, was = await someone_not(db, period_id, "excellent", "good")
    async with db.uow() as uow:
        paid = await uow.bonus.line_of(first.run_id, person.id)
    assert paid is not None

    decided = await _review(db, person, hr, "good", period_id)
    # HR (not the person) is told once, with who, the grades and the run that paid.
    [prompt] = await prompts(db)
    assert prompt.staff_id == hr.id
    assert prompt.text == f"correct {person.employee_no} {was}->good paid by 1"
    assert prompt.dedup_key == correction_key(decided.case.id, hr.id)
    async with db.uow() as uow:
        change = await bonus_changes.changed_after_payment(
            uow, case_id=decided.case.id, kind="review", period_id=period_id, period_key=KEY,
            staff_id=person.id, employee_no=person.employee_no, name=person.name,
            grade_before=was, grade_after="good",
        )  # fmt: skip
        # Told again (a second delivery of the same decision): still once.
        await bonus_changes.prompt_correction(uow, change, Notices().correction_due, now=NOW)
        await uow.commit()
    assert len(await prompts(db)) == 1

    async with db.uow() as uow:
        correction = await bonus_changes.correction_of(uow, hr, decided.case.id, 1)
        assert await bonus_changes.correction_of(uow, hr, decided.case.id, 2) is (
            BonusError.UNKNOWN_CHANGE
        )
        assert await bonus_changes.correction_of(uow, person, decided.case.id, 1) is (
            BonusError.NOT_HR
        )
    assert correction == bonus_changes.Correction(KEY, None)
    second = await preview(db, hr, reason="A published result was changed on review or appeal.")
    async with db.uow() as uow:
        line = await uow.bonus.line_of(second.run_id, person.id)
        changed = await uow.session.scalar(
            select(func.count()).where(BonusLine.run_id == second.run_id, BonusLine.change != 0)
        )
    assert line is not None and line.paid == paid.amount and line.allowance == paid.allowance
    # Exactly the difference, to the cent: the new grade's line less the old one's.
    difficulty = Decimal(str(line.difficulty))
    expected = formula("good", difficulty) - formula(was, difficulty)
    assert expected > 0
    assert Decimal(line.change) * POLICY.bonus.rounding == expected
    assert second.change == expected and changed == 1
    assert isinstance(await bonus.publish(db.uow, hr, second.run_id, now=NOW), bonus.Published)
    async with db.uow() as uow:
        assert await bonus_changes.correction_of(uow, hr, decided.case.id, 1) is (
            BonusError.CORRECTED
        )


async def test_no_prompt_before_payment_nor_when_the_grade_stands(db: Database) -> None:
    hr, period_id = await seed(db, people=30)
    person, grade = await someone_not(db, period_id, "excellent")
    upheld = await _review(db, person, hr, grade, period_id)
    assert upheld.case.outcome == "upheld"
    other, was = await someone_not(db, period_id, "excellent", grade)
    changed = await _review(db, other, hr, grade, period_id)
    assert changed.case.outcome == "changed" and was != grade
    assert await prompts(db) == []
    async with db.uow() as uow:
        assert await bonus_changes.correction_of(uow, hr, upheld.case.id, 1) is (
            BonusError.UNKNOWN_CHANGE
        )
        runs = await uow.session.scalar(select(func.count()).select_from(BonusRun))
    assert runs == 0


async def test_in_pool_mode_the_prompted_correction_shares_the_same_pool_again(
    db: Database,
) -> None:
    hr, period_id = await seed(db, people=30)
    policy = pooled(POLICY)
    pool = Decimal("54321.09")
    first = await bonus.compute(
        db.uow, hr, KEY, policy, pool_total=pool, reason=None, now=NOW, size=SIZE
    )
    assert isinstance(first, bonus.Computed), first
    assert isinstance(await bonus.publish(db.uow, hr, first.run_id, now=NOW), bonus.Published)
    person, _ = await someone_not(db, period_id, "excellent", "good")
    decided = await _review(db, person, hr, "good", period_id)
    async with db.uow() as uow:
        correction = await bonus_changes.correction_of(uow, hr, decided.case.id, 1)
    assert correction == bonus_changes.Correction(KEY, pool)
    second = await bonus.compute(
        db.uow, hr, KEY, policy, pool_total=correction.pool_total, reason="Review", now=NOW,
        size=SIZE,
    )  # fmt: skip
    assert isinstance(second, bonus.Computed), second
    # The same pool, shared again: nothing more is paid in all, the person gains.
    assert second.total == pool and second.change == 0
    async with db.uow() as uow:
        line = await uow.bonus.line_of(second.run_id, person.id)
    assert line is not None and line.change > 0
