"""What changes a period's bonus after HR set it, in the store, on SQLite and PostgreSQL: an
allowance withdrawn (before publication: the next run pays without it; after: the next
correction recovers exactly its amount, or in pool mode shares it again; a publication at
the same moment in either order; nothing half-written), and a grade changed on review
after payment prompting HR's correction, which pays exactly the difference.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date
from decimal import Decimal

from sqlalchemy import func, select, text

from assessment import appeals, bonus, bonus_changes
from assessment.appeals import CaseRow
from assessment.bonus import BonusError
from assessment.bonus_changes import ChangedResult, Withdrawn, correction_key
from assessment.outbox import Outgoing
from assessment.people import StaffMember, member
from config.policy import Policy
from storage.engine import Database
from storage.models import AuditEvent, BonusAllowance, BonusLine, BonusRun, OutboxMessage, Staff
from storage.repositories.calendar import Recipient
from storage.uow import UnitOfWork

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
    db: Database,
    hr: StaffMember,
    allowance_id: int,
    reason: str | None = "Assigned by mistake",
    *,
    policy: Policy = POLICY,
    uow: UnitOfWork | None = None,
) -> Withdrawn | BonusError:
    async with uow or db.uow() as work:
        return await bonus_changes.withdraw_allowance(
            work, hr, allowance_id, reason, policy, now=NOW
        )


class Held(UnitOfWork):
    """A unit of work whose commit waits to be let go: its writes stay uncommitted, their
    locks held, while another transaction runs into them."""

    def __init__(self, db: Database) -> None:
        super().__init__(db.sessions, on_job_claim=db.on_job_claim)
        self.writing = asyncio.Event()
        self.go = asyncio.Event()

    async def commit(self) -> None:
        self.writing.set()
        await self.go.wait()
        await super().commit()


async def waiting_behind(db: Database) -> None:
    """Until another transaction waits for a held one's writes: for this process's turn
    to write on SQLite, for a row lock on PostgreSQL (the two really overlap)."""
    for _ in range(2000):
        if db.write_turns is not None:
            if db.write_turns.waiting:
                return
        else:
            async with db.uow() as uow:
                if await uow.session.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                ):
                    return
        await asyncio.sleep(0.005)
    raise AssertionError("the second transaction never waited for the first")


async def steps(db: Database, run_id: int, staff_id: int) -> BonusLine:
    async with db.uow() as uow:
        line = await uow.bonus.line_of(run_id, staff_id)
    assert line is not None
    return line


async def changes(db: Database, run_id: int) -> dict[int, int]:
    """Whom a run changes, and by how many steps."""
    async with db.uow() as uow:
        rows = await uow.session.execute(
            select(BonusLine.staff_id, BonusLine.change).where(
                BonusLine.run_id == run_id, BonusLine.change != 0
            )
        )
    return {staff_id: change for staff_id, change in rows}


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
    assert done.person.employee_no == staff.employee_no and done.paid_by is None
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
        "paid_by": None,
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


async def test_after_publication_the_next_correction_recovers_exactly_the_allowance(
    db: Database,
) -> None:
    hr, _ = await seed(db, people=12)
    staff, allowance = await someone_with_an_allowance(db)
    amount = POLICY.bonus.allowances[allowance.kind].amount
    first = await preview(db, hr)
    assert isinstance(await bonus.publish(db.uow, hr, first.run_id, now=NOW), bonus.Published)
    paid = await steps(db, first.run_id, staff.id)
    assert Decimal(paid.allowance) * POLICY.bonus.rounding == amount
    # A correction's draft open meanwhile would pay it again: set aside.
    draft = await preview(db, hr, reason="Recount")

    async with db.uow() as uow:
        pressable = await bonus_changes.withdrawable(uow, hr, allowance.id)
        listed = await bonus_changes.person_allowances(uow, hr, KEY, staff.employee_no)
    assert not isinstance(pressable, BonusError) and pressable[0].id == allowance.id
    assert isinstance(listed, bonus_changes.Allowances) and listed.paid_by == 1
    done = await withdraw(db, hr, allowance.id)
    assert isinstance(done, Withdrawn)
    assert (done.paid_by, done.pool, done.amount) == (1, None, amount)
    assert not await in_force(db, allowance.id)
    [event] = await withdrawals(db)
    assert event.details["paid_by"] == 1 and event.details["reason"] == "Assigned by mistake"
    assert await bonus.publish(db.uow, hr, draft.run_id, now=NOW) is BonusError.DISCARDED

    correction = await preview(db, hr, reason="Hardship allowance withdrawn")
    line = await steps(db, correction.run_id, staff.id)
    # Exactly the allowance, to the cent, from that person only; the rest stands.
    assert (line.paid, line.allowance, line.share) == (paid.amount, 0, paid.share)
    assert Decimal(line.change) * POLICY.bonus.rounding == -amount
    assert await changes(db, correction.run_id) == {staff.id: line.change}
    assert correction.change == -amount and correction.total == first.total - amount
    assert isinstance(await bonus.publish(db.uow, hr, correction.run_id, now=NOW), bonus.Published)
    # Recovered once: a later correction has nothing more to recover.
    again = await preview(db, hr, reason="Recount")
    assert again.change == 0 and await changes(db, again.run_id) == {}


async def test_an_allowance_assigned_after_publication_and_withdrawn_was_never_paid(
    db: Database,
) -> None:
    hr, period_id = await seed(db, people=12)
    first = await preview(db, hr)
    assert isinstance(await bonus.publish(db.uow, hr, first.run_id, now=NOW), bonus.Published)
    async with db.uow() as uow:
        having = set(await uow.session.scalars(select(BonusAllowance.staff_id)))
        paid = set(
            await uow.session.scalars(
                select(BonusLine.staff_id).where(BonusLine.run_id == first.run_id)
            )
        )
        staff = await uow.session.get(Staff, min(paid - having))
        assert staff is not None
        assigned = await bonus.assign_allowance(
            uow, hr, KEY, staff.employee_no, "hardship", "Night shifts", POLICY, now=NOW
        )
    assert isinstance(assigned, bonus.Assigned) and assigned.paid_by == 1
    async with db.uow() as uow:
        [allowance] = await uow.bonus.allowances(period_id, staff.id)
    done = await withdraw(db, hr, allowance.id)
    # The run paid no allowance of theirs: nothing to recover, the next run pays without it.
    assert isinstance(done, Withdrawn) and done.paid_by is None
    assert (await preview(db, hr, reason="Recount")).change == 0


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


async def test_a_withdrawal_first_sets_the_draft_aside_and_the_publication_is_refused(
    db: Database,
) -> None:
    hr, _ = await seed(db, people=12)
    staff, allowance = await someone_with_an_allowance(db)
    draft = await preview(db, hr)
    # The withdrawal has written, uncommitted, when the publication comes: it waits for
    # the withdrawal and then finds its draft set aside.
    held = Held(db)
    withdrawing = asyncio.create_task(withdraw(db, hr, allowance.id, uow=held))
    await held.writing.wait()
    publishing = asyncio.create_task(bonus.publish(db.uow, hr, draft.run_id, now=NOW))
    await waiting_behind(db)
    held.go.set()
    withdrawn, published = await withdrawing, await publishing
    assert isinstance(withdrawn, Withdrawn) and withdrawn.paid_by is None
    assert published is BonusError.DISCARDED
    assert not await in_force(db, allowance.id)
    async with db.uow() as uow:
        assert await uow.bonus.latest_published(allowance.period_id) is None
    # The first run published pays without it.
    run = await preview(db, hr)
    assert isinstance(await bonus.publish(db.uow, hr, run.run_id, now=NOW), bonus.Published)
    assert (await steps(db, run.run_id, staff.id)).allowance == 0


async def test_a_publication_first_pays_it_and_the_withdrawal_is_recovered_by_the_correction(
    db: Database,
) -> None:
    hr, _ = await seed(db, people=12)
    staff, allowance = await someone_with_an_allowance(db)
    amount = POLICY.bonus.allowances[allowance.kind].amount
    draft = await preview(db, hr)
    # The publication has written, uncommitted, when the withdrawal comes: it waits for
    # the publication and then succeeds; the run paid the allowance.
    held = Held(db)
    publishing = asyncio.create_task(bonus.publish(lambda: held, hr, draft.run_id, now=NOW))
    await held.writing.wait()
    withdrawing = asyncio.create_task(withdraw(db, hr, allowance.id))
    await waiting_behind(db)
    held.go.set()
    published, withdrawn = await publishing, await withdrawing
    assert isinstance(published, bonus.Published) and published.number == 1
    assert isinstance(withdrawn, Withdrawn) and withdrawn.paid_by == 1
    assert not await in_force(db, allowance.id)
    paid = await steps(db, draft.run_id, staff.id)
    assert Decimal(paid.allowance) * POLICY.bonus.rounding == amount
    correction = await preview(db, hr, reason="Hardship allowance withdrawn")
    line = await steps(db, correction.run_id, staff.id)
    assert Decimal(line.change) * POLICY.bonus.rounding == -amount
    assert await changes(db, correction.run_id) == {staff.id: line.change}


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


async def test_in_pool_mode_the_withdrawn_allowance_is_shared_again_by_the_same_pool(
    db: Database,
) -> None:
    hr, _ = await seed(db, people=30)
    policy = pooled(POLICY)
    pool = Decimal("54321.09")
    first = await bonus.compute(
        db.uow, hr, KEY, policy, pool_total=pool, reason=None, now=NOW, size=SIZE
    )
    assert isinstance(first, bonus.Computed), first
    assert isinstance(await bonus.publish(db.uow, hr, first.run_id, now=NOW), bonus.Published)
    # Someone with an allowance whose grade earns a share.
    async with db.uow() as uow:
        allowance = await uow.session.scalar(
            select(BonusAllowance)
            .join(BonusLine, BonusLine.staff_id == BonusAllowance.staff_id)
            .where(BonusLine.run_id == first.run_id, BonusLine.weight > 0)
            .order_by(BonusAllowance.id)
            .limit(1)
        )
        assert allowance is not None
        staff = await uow.session.get(Staff, allowance.staff_id)
        assert staff is not None
    amount = POLICY.bonus.allowances[allowance.kind].amount
    done = await withdraw(db, hr, allowance.id, policy=policy)
    assert isinstance(done, Withdrawn) and (done.paid_by, done.pool) == (1, pool)
    second = await bonus.compute(
        db.uow, hr, KEY, policy, pool_total=done.pool, reason="Allowance withdrawn", now=NOW,
        size=SIZE,
    )  # fmt: skip
    assert isinstance(second, bonus.Computed), second
    # The same pool shared again: nothing more is paid in all. The person gives back the
    # allowance less their share of it; the rest of it goes to everyone else's shares.
    assert second.total == pool and second.change == 0
    paid = await steps(db, first.run_id, staff.id)
    line = await steps(db, second.run_id, staff.id)
    step = POLICY.bonus.rounding
    gained = line.share - paid.share
    assert line.allowance == 0 and gained > 0
    assert Decimal(line.change) * step == -amount + Decimal(gained) * step
    moved = await changes(db, second.run_id)
    others = {who: change for who, change in moved.items() if who != staff.id}
    assert others and all(change > 0 for change in others.values())
    assert sum(others.values()) == -line.change
