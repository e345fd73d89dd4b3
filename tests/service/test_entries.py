"""Work entries on a real database: quick log, backdating, editing, deleting, races, views."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, func, select

from assessment import entries, entry_views, log_flow, notices
from assessment.calendar import WorkCalendar, set_leave
from assessment.entries import EntryChange, EntryError, EntryView, NewEntry, Rules
from assessment.entry_rules import EDITABLE, Evidence
from assessment.log_flow import Saved, Step
from assessment.people import identify
from config.policy import Policy, load_policy
from storage.engine import Database
from storage.enums import EntryStatus, NoticeStatus, Role
from storage.models import (
    AuditEvent,
    Conversation,
    Department,
    EntryAttachment,
    EntryRevision,
    Notice,
    Post,
    Staff,
    WorkEntry,
)
from storage.uow import PendingClaim, UpdateAlreadyHandled

# A Monday; the Wednesday before is the third workday back.
MONDAY = date(2025, 11, 17)
NOW = datetime(2025, 11, 17, 2, 30, tzinfo=UTC)
ZONE = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class People:
    author: int
    boss: int
    unposted: int


@pytest.fixture
async def people(db: Database) -> People:
    async with db.uow() as uow:
        office = await uow.departments.add(Department(name="Permits Office"))
        clerk = await uow.posts.add(
            Post(department_id=office.id, name="Clerk", post_type="service")
        )
        head = await uow.posts.add(
            Post(department_id=office.id, name="Head", post_type="management")
        )
        boss = await uow.staff.add(
            Staff(employee_no="E010", name="Sun Li", department_id=office.id, post_id=head.id,
                  roles=Role.STAFF | Role.SUPERVISOR, telegram_user_id=9002)
        )  # fmt: skip
        author = await uow.staff.add(
            Staff(employee_no="E011", name="Su Yi", department_id=office.id, post_id=clerk.id,
                  supervisor_id=boss.id, telegram_user_id=9003)
        )  # fmt: skip
        unposted = await uow.staff.add(
            Staff(employee_no="E012", name="Ma Qing", department_id=office.id,
                  telegram_user_id=9004)
        )  # fmt: skip
        await uow.commit()
        return People(author.id, boss.id, unposted.id)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


def rules(policy: Policy, today: date = MONDAY) -> Rules:
    return Rules(policy, WorkCalendar(policy), today, ZONE)


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements sent to the database inside the block."""
    seen: list[str] = []

    def record(*args: object) -> None:
        seen.append(str(args[2]).split(None, 1)[0].upper())

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)


def flood_reads(db: Database) -> list[str]:
    """What the flood check sends of its own: the author's lock, on PostgreSQL only."""
    return ["SELECT"] if db.engine.dialect.name == "postgresql" else []


async def count(db: Database, model: type[object]) -> int:
    async with db.uow() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(model)) or 0)


async def quick(
    db: Database, policy: Policy, author: int, text: str = "Counter duty"
) -> EntryView:
    async with db.uow() as uow:
        result = await entries.quick_log(
            uow,
            author,
            text,
            today=MONDAY,
            zone=ZONE,
            limits=policy.entries,
            now=NOW,
            policy=policy,
        )
    assert isinstance(result, EntryView)
    return result


async def test_a_quick_log_is_one_lean_transaction(
    db: Database, policy: Policy, people: People
) -> None:
    async with db.uow() as uow:
        with statements(db) as seen:
            result = await entries.quick_log(
                uow, people.author, "  Processed 12 permits\n", today=MONDAY, zone=ZONE,
                limits=policy.entries, now=NOW, policy=policy,
            )  # fmt: skip
    assert isinstance(result, EntryView)
    # Nothing read: the entry (whose INSERT counts the author's recent entries, after a
    # lock on the author on PostgreSQL) and its audit event.
    expected = [*flood_reads(db), "INSERT", "INSERT"]
    assert [s for s in seen if s not in ("BEGIN", "COMMIT")] == expected, seen
    async with db.uow() as uow:
        entry = await uow.entries.get(result.id)
        assert entry is not None
        assert (entry.staff_id, entry.work_date, entry.text) == (
            people.author,
            MONDAY,
            "Processed 12 permits",
        )
        assert entry.status is EntryStatus.SUBMITTED
        assert entry.version == 1
        [logged] = await uow.audit.events("work_entry")
        assert (logged.action, logged.subject_id, logged.actor_staff_id, logged.at) == (
            "entry.logged",
            str(result.id),
            people.author,
            NOW,
        )
        assert logged.details == {"work_date": "2025-11-17", "via": "quick"}


@pytest.mark.parametrize("text", ["", "   \n\t ", "x" * 2001])
async def test_a_quick_log_refuses_empty_and_overlong_text(
    db: Database, policy: Policy, people: People, text: str
) -> None:
    async with db.uow() as uow:
        with statements(db) as seen:
            result = await entries.quick_log(
                uow,
                people.author,
                text,
                today=MONDAY,
                zone=ZONE,
                limits=policy.entries,
                now=NOW,
                policy=policy,
            )
    assert result in (EntryError.EMPTY_TEXT, EntryError.TEXT_TOO_LONG)
    assert seen == []
    assert await count(db, WorkEntry) == 0
    assert await count(db, AuditEvent) == 0


async def _create(
    db: Database, policy: Policy, author: int, new: NewEntry, today: date = MONDAY
) -> EntryView | EntryError:
    async with db.uow() as uow:
        return await entries.create_entry(uow, author, new, rules(policy, today), now=NOW)


async def test_backdating_within_the_window_of_workdays(
    db: Database, policy: Policy, people: People
) -> None:
    for day in (date(2025, 11, 12), date(2025, 11, 15)):  # Wednesday, and a worked Saturday
        assert isinstance(await _create(db, policy, people.author, NewEntry(day, "ok")), EntryView)
    refused = {
        date(2025, 11, 11): EntryError.TOO_FAR_BACK,
        date(2025, 11, 18): EntryError.FUTURE_DATE,
    }
    for day, error in refused.items():
        assert await _create(db, policy, people.author, NewEntry(day, "no")) is error
    # Around National Day, the holidays do not count: 28 September is three workdays back
    # (with September's self-assessment due on the 10th, so that it is not closed yet).
    check = policy.monthly_check.model_copy(
        update={"self_review_due_day": 10, "supervisor_review_due_day": 15}
    )
    later_review = policy.model_copy(update={"monthly_check": check})
    after_holiday = date(2025, 10, 9)
    ok = await _create(
        db, later_review, people.author, NewEntry(date(2025, 9, 28), "ok"), after_holiday
    )
    assert isinstance(ok, EntryView)
    too_far = await _create(
        db, later_review, people.author, NewEntry(date(2025, 9, 27), "no"), after_holiday
    )
    assert too_far is EntryError.TOO_FAR_BACK
    assert await count(db, WorkEntry) == 3


async def test_a_day_of_a_period_under_review_is_refused(
    db: Database, policy: Policy, people: People
) -> None:
    wide = policy.model_copy(
        update={"entries": policy.entries.model_copy(update={"backdate_workdays": 30})}
    )
    today = date(2025, 11, 3)
    # On 3 November October is in self-assessment (due on the 3rd), September under review.
    closed = await _create(db, wide, people.author, NewEntry(date(2025, 9, 30), "late"), today)
    assert closed is EntryError.CLOSED_PERIOD
    assert isinstance(
        await _create(db, wide, people.author, NewEntry(date(2025, 10, 1), "ok"), today),
        EntryView,
    )
    assert await count(db, WorkEntry) == 1
    # From the 4th October is under supervisor review: closed too.
    later = date(2025, 11, 4)
    closed = await _create(db, wide, people.author, NewEntry(date(2025, 10, 31), "late"), later)
    assert closed is EntryError.CLOSED_PERIOD
    assert await count(db, WorkEntry) == 1


async def test_a_guided_entry_keeps_its_indicator_numbers_and_evidence(
    db: Database, policy: Policy, people: People
) -> None:
    photo = Evidence("photo", "file-1", "unique-1", None, 2048)
    new = NewEntry(
        date(2025, 11, 14), "Counter", "permits_processed", Decimal(12), Decimal("1.5"), (photo,)
    )
    result = await _create(db, policy, people.author, new)
    assert isinstance(result, EntryView)
    assert result.attachments == 1
    async with db.uow() as uow:
        entry = await uow.entries.get(result.id)
        assert entry is not None
        assert (entry.indicator_id, entry.quantity, entry.hours) == (
            "permits_processed",
            Decimal(12),
            Decimal("1.5"),
        )
        [attachment] = await uow.entries.attachments(result.id)
        assert (attachment.kind, attachment.file_id, attachment.file_size) == (
            "photo",
            "file-1",
            2048,
        )
    # An indicator of another post type, whatever the button said, is refused.
    other = NewEntry(MONDAY, "Drafting", "documents_drafted")
    assert await _create(db, policy, people.author, other) is EntryError.UNKNOWN_INDICATOR
    hours = NewEntry(MONDAY, "Long day", hours=Decimal(25))
    assert await _create(db, policy, people.author, hours) is EntryError.HOURS_OUT_OF_RANGE


async def test_a_batch_of_guided_entries_is_each_checked_by_the_same_rules(
    db: Database, policy: Policy, people: People
) -> None:
    """``stage_many``: each entry as ``stage_new`` would take it (the refused ones write
    nothing), the authors' post types read once and the audit events written together."""
    batch = [
        (people.author, NewEntry(MONDAY, "Counter", "permits_processed", Decimal(9)), NOW),
        (people.boss, NewEntry(MONDAY, "Drafting", "documents_drafted", Decimal(2)), NOW),
        # An indicator of another post type, and one for someone without a post.
        (people.author, NewEntry(MONDAY, "Drafting", "documents_drafted"), NOW),
        (people.unposted, NewEntry(MONDAY, "Counter", "permits_processed"), NOW),
        (people.author, NewEntry(MONDAY, "Long day", hours=Decimal(25)), NOW),
        (people.unposted, NewEntry(MONDAY, "Filing"), NOW),
    ]
    with statements(db) as seen:
        async with db.uow() as uow:
            written = await entries.stage_many(uow, batch, rules(policy))
            await uow.commit()
    assert [type(w) for w in written[:2]] == [EntryView, EntryView]
    assert written[2:5] == [
        EntryError.UNKNOWN_INDICATOR,
        EntryError.UNKNOWN_INDICATOR,
        EntryError.HOURS_OUT_OF_RANGE,
    ]
    assert isinstance(written[5], EntryView)
    # One read of the post types, an INSERT per entry written, one for their audit.
    assert seen.count("SELECT") == 1 + 3 * len(flood_reads(db))
    assert seen.count("INSERT") == 3 + 1
    assert await count(db, WorkEntry) == 3
    async with db.uow() as uow:
        logged = list(
            await uow.session.scalars(
                select(AuditEvent.subject_id).where(AuditEvent.action == "entry.logged")
            )
        )
    assert sorted(logged) == sorted(str(w.id) for w in written if isinstance(w, EntryView))
    # The single form is the batch of one.
    async with db.uow() as uow:
        alone = await entries.stage_new(uow, people.author, batch[2][1], rules(policy), now=NOW)
    assert alone is EntryError.UNKNOWN_INDICATOR


async def _edit(
    db: Database,
    policy: Policy,
    entry_id: int,
    author: int,
    change: EntryChange,
    version: int | None = None,
) -> EntryView | EntryError:
    async with db.uow() as uow:
        return await entries.edit_entry(
            uow, entry_id, author, change, rules(policy), now=NOW, expected_version=version
        )


async def test_an_edit_keeps_the_old_values(db: Database, policy: Policy, people: People) -> None:
    entry = await quick(db, policy, people.author, "Counter")
    change = EntryChange(
        text="Counter duty, 30 visitors", hours=Decimal(4), work_date=date(2025, 11, 14)
    )
    edited = await _edit(db, policy, entry.id, people.author, change)
    assert isinstance(edited, EntryView)
    assert (edited.text, edited.hours, edited.work_date, edited.version) == (
        "Counter duty, 30 visitors",
        Decimal(4),
        date(2025, 11, 14),
        2,
    )
    async with db.uow() as uow:
        stored = await uow.entries.get(entry.id)
        assert stored is not None
        assert (stored.text, stored.version, stored.work_date) == (
            "Counter duty, 30 visitors",
            2,
            date(2025, 11, 14),
        )
        [revision] = await uow.entries.revisions(entry.id)
        assert (revision.text, revision.hours, revision.work_date, revision.status) == (
            "Counter",
            None,
            MONDAY,
            EntryStatus.SUBMITTED,
        )
        assert revision.changed_by_id == people.author
        actions = [e.action for e in await uow.audit.events("work_entry")]
        assert actions == ["entry.logged", "entry.edited"]


async def test_only_the_author_edits_and_only_undecided_entries(
    db: Database, policy: Policy, people: People
) -> None:
    entry = await quick(db, policy, people.author)
    change = EntryChange(text="Mine now")
    assert await _edit(db, policy, entry.id, people.boss, change) is EntryError.NOT_YOURS
    assert await _edit(db, policy, 999_999, people.author, change) is EntryError.UNKNOWN_ENTRY
    async with db.uow() as uow:
        # The supervisor's decision is a conditional update too; the approvals flow does it.
        assert await uow.entries.change(
            entry.id,
            1,
            EDITABLE,
            {"status": EntryStatus.APPROVED, "decided_by_id": people.boss},
            closed_through=date.min,
        )
        await uow.commit()
    assert await _edit(db, policy, entry.id, people.author, change) is EntryError.DECIDED
    async with db.uow() as uow:
        assert (
            await entries.delete_entry(
                uow, entry.id, people.author, today=MONDAY, now=NOW, policy=policy
            )
            is EntryError.DECIDED
        )
    assert await count(db, EntryRevision) == 0


async def test_editing_a_returned_entry_submits_it_again(
    db: Database, policy: Policy, people: People
) -> None:
    entry = await quick(db, policy, people.author)
    async with db.uow() as uow:
        await uow.entries.change(
            entry.id, 1, EDITABLE,
            {"status": EntryStatus.RETURNED, "decided_by_id": people.boss,
             "decided_at": NOW, "decision_reason": "Say how many"}, closed_through=date.min,
        )  # fmt: skip
        await uow.commit()
    edited = await _edit(db, policy, entry.id, people.author, EntryChange(quantity=Decimal(12)))
    assert isinstance(edited, EntryView)
    assert edited.status is EntryStatus.SUBMITTED
    async with db.uow() as uow:
        stored = await uow.entries.get(entry.id)
        assert stored is not None
        assert (stored.status, stored.decided_by_id, stored.decision_reason) == (
            EntryStatus.SUBMITTED,
            None,
            None,
        )
        [revision] = await uow.entries.revisions(entry.id)
        assert revision.status is EntryStatus.RETURNED
        edited_event = (await uow.audit.events("work_entry"))[-1]
        assert edited_event.details["resubmitted"] is True
        assert edited_event.details["returned_reason"] == "Say how many"


async def test_deleting_only_changes_the_status(
    db: Database, policy: Policy, people: People
) -> None:
    entry = await quick(db, policy, people.author)
    async with db.uow() as uow:
        deleted = await entries.delete_entry(
            uow, entry.id, people.author, today=MONDAY, now=NOW, policy=policy
        )
    assert isinstance(deleted, EntryView)
    assert deleted.status is EntryStatus.DELETED
    async with db.uow() as uow:
        stored = await uow.entries.get(entry.id)
        assert stored is not None and stored.status is EntryStatus.DELETED
        assert [r.status for r in await uow.entries.revisions(entry.id)] == [EntryStatus.SUBMITTED]
        assert (await uow.audit.events("work_entry"))[-1].action == "entry.deleted"
        again = await entries.delete_entry(
            uow, entry.id, people.author, today=MONDAY, now=NOW, policy=policy
        )
        assert again is EntryError.DELETED
    change = EntryChange(text="Too late")
    assert await _edit(db, policy, entry.id, people.author, change) is EntryError.DELETED


async def test_two_concurrent_edits_one_wins(db: Database, policy: Policy, people: People) -> None:
    entry = await quick(db, policy, people.author, "Counter")
    results = await asyncio.gather(
        *(
            _edit(db, policy, entry.id, people.author, EntryChange(text=text), version=1)
            for text in ("First", "Second")
        )
    )
    winners = [r for r in results if isinstance(r, EntryView)]
    assert len(winners) == 1
    assert [r for r in results if not isinstance(r, EntryView)] == [EntryError.CHANGED]
    async with db.uow() as uow:
        stored = await uow.entries.get(entry.id)
        assert stored is not None
        assert (stored.text, stored.version) == (winners[0].text, 2)
        assert len(await uow.entries.revisions(entry.id)) == 1


async def test_an_edit_that_read_before_a_decision_loses(
    db: Database, policy: Policy, people: People
) -> None:
    entry = await quick(db, policy, people.author, "Counter")
    async with db.uow() as late:
        # The edit reads version 1 (kept: the session's identity map holds it weakly) ...
        seen = await late.entries.get(entry.id)
        assert seen is not None and seen.version == 1
        # ... the supervisor approves it meanwhile ...
        async with db.uow() as decision:
            assert await decision.entries.change(
                entry.id, 1, EDITABLE, {"status": EntryStatus.APPROVED}, closed_through=date.min
            )
            await decision.commit()
        # ... so the edit's conditional update finds no row at version 1.
        result = await entries.stage_edit(
            late, entry.id, people.author, EntryChange(text="Too late"), rules(policy), now=NOW
        )
        assert result is EntryError.CHANGED
    async with db.uow() as uow:
        stored = await uow.entries.get(entry.id)
        assert stored is not None
        assert (stored.text, stored.status) == ("Counter", EntryStatus.APPROVED)
    assert await count(db, EntryRevision) == 0


async def test_the_month_shows_entries_missing_workdays_and_leave(
    db: Database, policy: Policy, people: People
) -> None:
    calendar = WorkCalendar(policy)
    # October 2025: National Day 1-8 off; Saturday 11 October a make-up workday.
    today = date(2025, 10, 15)
    async with db.uow() as uow:
        for day in calendar.workdays(date(2025, 10, 9), today):
            if day not in (date(2025, 10, 10), date(2025, 10, 13)):
                uow.session.add(WorkEntry(staff_id=people.author, work_date=day, text="Work"))
        deleted = WorkEntry(staff_id=people.author, work_date=date(2025, 10, 10), text="Gone",
                            status=EntryStatus.DELETED)  # fmt: skip
        uow.session.add(deleted)
        await uow.commit()
    async with db.uow() as uow:
        await set_leave(uow, people.author, date(2025, 10, 13), by=people.boss, now=NOW)
    async with db.uow() as uow:
        month = await entry_views.month_record(
            uow, people.author, date(2025, 10, 20), today=today, calendar=calendar
        )
        day = await entry_views.day_record(
            uow, people.author, date(2025, 10, 9), calendar=calendar
        )
    assert month.month == date(2025, 10, 1)
    assert month.missing == [date(2025, 10, 10)], "the holidays owe nothing, leave neither"
    assert month.leave == [date(2025, 10, 13)]
    assert [e.work_date for e in month.entries] == [date(2025, 10, d) for d in (9, 11, 14, 15)]
    assert month.previous == date(2025, 9, 1)
    assert month.next is None
    assert len(day.entries) == 1 and not day.missing


async def test_a_guided_conversation_survives_between_units_of_work(
    db: Database, policy: Policy, people: People
) -> None:
    current = rules(policy)

    async def step(outcome: object, expected: Step) -> None:
        assert isinstance(outcome, log_flow.LogDraft), outcome
        assert outcome.step is expected

    async with db.uow() as uow:
        draft = await log_flow.start_log(uow, people.author, now=NOW)
    assert draft.post_type == "service"
    async with db.uow() as uow:
        future = await log_flow.choose(
            uow, people.author, Step.DATE, "2025-11-18", current, now=NOW
        )
        assert future is EntryError.FUTURE_DATE
        await step(
            await log_flow.answer_text(uow, people.author, "11-14", current, now=NOW),
            Step.INDICATOR,
        )
    async with db.uow() as uow:
        stale = await log_flow.choose(
            uow, people.author, Step.DATE, "2025-11-14", current, now=NOW
        )
        assert stale is EntryError.STEP_OVER
        await step(
            await log_flow.choose(
                uow, people.author, Step.INDICATOR, "permits_processed", current, now=NOW
            ),
            Step.QUANTITY,
        )
        await step(
            await log_flow.answer_text(uow, people.author, "１２件", current, now=NOW), Step.HOURS
        )
        await step(
            await log_flow.choose(uow, people.author, Step.HOURS, "skip", current, now=NOW),
            Step.TEXT,
        )
        await step(
            await log_flow.answer_text(uow, people.author, "Counter duty", current, now=NOW),
            Step.EVIDENCE,
        )
        photo = Evidence("photo", "file-1", "unique-1", None, 100)
        await step(
            await log_flow.add_evidence(uow, people.author, photo, current, now=NOW),
            Step.EVIDENCE,
        )
        await step(
            await log_flow.choose(uow, people.author, Step.EVIDENCE, "done", current, now=NOW),
            Step.CONFIRM,
        )
    assert await count(db, WorkEntry) == 0, "nothing is written before the confirmation"
    async with db.uow() as uow:
        saved = await log_flow.choose(uow, people.author, Step.CONFIRM, "save", current, now=NOW)
    assert isinstance(saved, Saved) and saved.created
    assert (saved.entry.work_date, saved.entry.quantity, saved.entry.hours) == (
        date(2025, 11, 14),
        Decimal(12),
        None,
    )
    assert await count(db, EntryAttachment) == 1
    assert await count(db, Conversation) == 0


async def test_cancel_and_forgotten_conversations_write_nothing(
    db: Database, policy: Policy, people: People
) -> None:
    async with db.uow() as uow:
        await log_flow.start_log(uow, people.author, now=NOW)
    async with db.uow() as uow:
        assert await log_flow.cancel(uow, people.author, now=NOW)
        assert not await log_flow.cancel(uow, people.author, now=NOW)
    async with db.uow() as uow:
        await log_flow.start_log(uow, people.author, now=NOW)
    later = NOW + log_flow.FORGOTTEN_AFTER + timedelta(minutes=1)
    async with db.uow() as uow:
        assert await log_flow.current(uow, people.author, now=NOW) is not None
        assert await log_flow.current(uow, people.author, now=later) is None
        assert (
            await log_flow.answer_text(uow, people.author, "hi", rules(policy), now=later) is None
        )
    assert await count(db, WorkEntry) == 0


async def test_an_edit_conversation_applies_one_change(
    db: Database, policy: Policy, people: People
) -> None:
    entry = await quick(db, policy, people.author, "Counter")
    async with db.uow() as uow:
        draft = await log_flow.start_edit(
            uow, people.author, entry.id, Step.HOURS, rules(policy), now=NOW
        )
        assert isinstance(draft, log_flow.LogDraft) and draft.version == 1
        refused = await log_flow.start_edit(
            uow, people.boss, entry.id, Step.TEXT, rules(policy), now=NOW
        )
        assert refused is EntryError.NOT_YOURS
    async with db.uow() as uow:
        wrong = await log_flow.answer_text(uow, people.author, "99", rules(policy), now=NOW)
        assert wrong is EntryError.HOURS_OUT_OF_RANGE
        saved = await log_flow.answer_text(uow, people.author, "2.5", rules(policy), now=NOW)
    assert isinstance(saved, Saved) and not saved.created
    assert (saved.entry.hours, saved.entry.version) == (Decimal("2.5"), 2)
    assert await count(db, EntryRevision) == 1
    assert await count(db, Conversation) == 0


async def test_an_edit_question_needs_a_possible_answer(
    db: Database, policy: Policy, people: People
) -> None:
    entry = await quick(db, policy, people.unposted)
    async with db.uow() as uow:
        refused = await log_flow.start_edit(
            uow, people.unposted, entry.id, Step.INDICATOR, rules(policy), now=NOW
        )
        assert refused is EntryError.NO_INDICATORS, "no post, no indicators"
        fine = await log_flow.start_edit(
            uow, people.unposted, entry.id, Step.EVIDENCE, rules(policy), now=NOW
        )
        assert isinstance(fine, log_flow.LogDraft)
    assert await count(db, Conversation) == 1


async def test_a_quick_log_records_its_update_as_handled_in_the_same_transaction(
    db: Database, policy: Policy, people: People
) -> None:
    async with db.uow(claim=PendingClaim(501, at=NOW)) as uow:
        with statements(db) as seen:
            logged = await entries.quick_log(
                uow,
                people.author,
                "Counter duty",
                today=MONDAY,
                zone=ZONE,
                limits=policy.entries,
                now=NOW,
                policy=policy,
            )
    assert isinstance(logged, EntryView)
    expected = [*flood_reads(db), "INSERT", "INSERT", "INSERT"]
    assert [s for s in seen if s not in ("BEGIN", "COMMIT")] == expected
    # The same update again (a redelivery, or another process that got it too): nothing.
    async with db.uow(claim=PendingClaim(501, at=NOW)) as uow:
        with pytest.raises(UpdateAlreadyHandled):
            await entries.quick_log(
                uow,
                people.author,
                "Counter duty",
                today=MONDAY,
                zone=ZONE,
                limits=policy.entries,
                now=NOW,
                policy=policy,
            )
    assert await count(db, WorkEntry) == 1
    assert await count(db, AuditEvent) == 1
    async with db.uow() as uow:
        assert (await identify(uow, 501, 9003)).duplicate


async def test_what_a_persons_next_message_answers(
    db: Database, policy: Policy, people: People
) -> None:
    async with db.uow() as uow:
        assert (await identify(uow, 601, 9002)).question is None
        await uow.conversations.save(people.boss, "log", "date", {}, at=NOW)
        await uow.commit()
        assert (await identify(uow, 602, 9002)).question == "log"
        await uow.conversations.drop(people.boss)
        uow.session.add(Notice(created_by_id=people.boss, status=NoticeStatus.DRAFT))
        await uow.commit()
        assert (await identify(uow, 603, 9002)).question == notices.NOTICE_CONTENT
        draft = await uow.notices.draft_of(people.boss)
        assert draft is not None
        draft.text = "Fire drill at 3 pm"
        await uow.commit()
        assert (await identify(uow, 604, 9002)).question is None, "the draft has its content"
        assert (await identify(uow, 605, 9003)).question is None
