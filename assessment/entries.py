"""Daily work entries by their author: the quick log, writing, editing and deleting.

An entry is evidence for the assessment, so nothing about it is ever lost: every
change keeps the old values in ``entry_revisions`` and writes an audit event, and
deleting only sets the status ``deleted``. Changes are conditional updates on the
entry's version, so two edits, or an edit and a supervisor's decision, cannot both
win. Each use case takes ``today`` and ``now`` from its caller, so tests fix the clock.

The quick log is the most common update of all (every plain text message): it reads
nothing, and writes the entry and its audit event in one transaction.

Flood control: every new entry, quick or guided, is counted by its own INSERT against the
policy's ``max_per_minute`` (any 60 seconds) and ``max_per_day`` (the organisation's day);
past either, nothing is written and the author learns when they may log again
(``TooMany``). Entries count from when they were written, whatever became of them since:
a deleted entry's request already reached its approver. Edits are not counted: they
change an entry rather than add one, a returned entry must be changed to count at all,
and the approver's side of a burst is bounded by coalescing the requests
(``assessment.approvals.queue_requests``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any

from assessment.entry_rules import (
    EDITABLE,
    FLOOD_MINUTE,
    EntryError,
    Evidence,
    TooMany,
    Workdays,
    check_date,
    check_evidence,
    clean_text,
    day_bounds,
    not_editable,
    too_many,
)
from assessment.periods import closed_through, is_entry_closed
from config.policy import EntryLimits, Policy
from storage.enums import EntryStatus
from storage.models import EntryRevision, WorkEntry
from storage.repositories.audit import Event
from storage.uow import UnitOfWork

__all__ = [
    "EntryChange",
    "EntryError",
    "EntryView",
    "Evidence",
    "NewEntry",
    "Rules",
    "TooMany",
    "check_day",
    "create_entry",
    "delete_entry",
    "edit_entry",
    "open_entry",
    "own_entry",
    "quick_log",
    "stage_edit",
    "stage_new",
]

SUBJECT = "work_entry"


@dataclass(frozen=True, slots=True)
class Rules:
    """What an entry is checked against: the policy, the work calendar, the current day
    and the organisation's time zone (where its days start, for the day's limit)."""

    policy: Policy
    calendar: Workdays
    today: date
    zone: tzinfo

    @property
    def limits(self) -> EntryLimits:
        """The policy's limits on entries."""
        return self.policy.entries

    @property
    def closed_through(self) -> date:
        """The last day of the latest period under review: entries up to it are closed."""
        return closed_through(self.today, self.policy)


async def check_day(uow: UnitOfWork, author_id: int, day: date, rules: Rules) -> EntryError | None:
    """None if ``author_id`` may date an entry ``day`` now; otherwise why not.

    The entry rules' ``check_date``, where a day of a closed period is allowed if HR
    reopened the author's period (the store's ``entry_open`` decides it again on writing).
    """
    error = check_date(
        day, rules.today, rules.calendar, rules.limits, closed_through=rules.closed_through
    )
    if error is EntryError.CLOSED_PERIOD and await uow.periods.is_reopened(author_id, day):
        # Reopened: the period counts as open; every other rule still holds.
        error = check_date(day, rules.today, rules.calendar, rules.limits, closed_through=date.min)
    return error


@dataclass(frozen=True, slots=True)
class EntryView:
    """A read-only snapshot of an entry, safe to keep after the session closes."""

    id: int
    staff_id: int
    work_date: date
    text: str
    status: EntryStatus
    version: int
    indicator_id: str | None = None
    quantity: Decimal | None = None
    hours: Decimal | None = None
    attachments: int = 0
    decision_reason: str | None = None

    @classmethod
    def of(cls, entry: WorkEntry, attachments: int = 0) -> EntryView:
        """Snapshot a stored entry."""
        return cls(
            id=entry.id,
            staff_id=entry.staff_id,
            work_date=entry.work_date,
            text=entry.text,
            status=entry.status,
            version=entry.version,
            indicator_id=entry.indicator_id,
            quantity=entry.quantity,
            hours=entry.hours,
            attachments=attachments,
            decision_reason=entry.decision_reason,
        )

    @property
    def editable(self) -> bool:
        """Whether its author may still change it (no supervisor has decided it)."""
        return self.status in EDITABLE


@dataclass(frozen=True, slots=True)
class NewEntry:
    """Everything a guided entry was given before it is written."""

    work_date: date
    text: str
    indicator_id: str | None = None
    quantity: Decimal | None = None
    hours: Decimal | None = None
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True, slots=True)
class EntryChange:
    """One edit of an entry: each value given replaces the old one, ``None`` keeps it."""

    work_date: date | None = None
    text: str | None = None
    indicator_id: str | None = None
    quantity: Decimal | None = None
    hours: Decimal | None = None
    evidence: tuple[Evidence, ...] = ()


async def quick_log(
    uow: UnitOfWork,
    author_id: int,
    text: str | None,
    *,
    today: date,
    zone: tzinfo,
    limits: EntryLimits,
    policy: Policy,
    now: datetime,
) -> EntryView | EntryError | TooMany:
    """Turn a plain text message into a submitted entry for ``today``, and commit.

    Statements: the entry, whose INSERT counts the author's recent entries (on
    PostgreSQL after a lock on the author), its audit event (and the update's claim),
    COMMIT.

    Args:
        uow: The unit of work; committed here when the entry is written.
        author_id: The staff member who sent the message.
        text: The message text.
        today: The organisation-local day the entry is for.
        zone: The organisation's time zone (where ``today`` starts).
        limits: The policy's entry limits (text length, entries a minute and a day).
        policy: The policy, whose periods decide what is closed (today never is, but
            the INSERT applies the one rule all the same).
        now: When it happens (UTC).

    Returns:
        The new entry; ``EMPTY_TEXT`` / ``TEXT_TOO_LONG`` / ``CLOSED_PERIOD``, or
        ``TooMany`` (a flood limit met), with nothing written.
    """
    cleaned = clean_text(text, limits)
    if isinstance(cleaned, EntryError):
        return cleaned
    flood = Flood(limits, today, zone, closed_through(today, policy))
    written = await _write_new(
        uow, author_id, NewEntry(today, cleaned), flood, via="quick", now=now
    )
    if isinstance(written, EntryView):
        await uow.commit()
    return written


@dataclass(frozen=True, slots=True)
class Flood:
    """What a new entry's INSERT checks: the flood limits and the day it counts in, and
    the last closed day (``assessment.periods.closed_through``)."""

    limits: EntryLimits
    today: date
    zone: tzinfo
    closed_through: date


async def _write_new(
    uow: UnitOfWork,
    author_id: int,
    new: NewEntry,
    flood: Flood,
    *,
    via: str,
    now: datetime,
    events: list[Event] | None = None,
) -> EntryView | TooMany | EntryError:
    """Write a checked new entry, its evidence and its audit event (no commit), unless its
    author met a flood limit, or its period closed (``CLOSED_PERIOD``): then nothing is
    written, and the refusal is told. Given ``events``, the audit event is appended to
    them for the caller to write with others (``stage_many``)."""
    limits = flood.limits
    day_start, tomorrow = day_bounds(flood.today, flood.zone)
    minute_start = now - FLOOD_MINUTE
    entry_id = await uow.entries.insert_within(
        {
            "staff_id": author_id,
            "work_date": new.work_date,
            "text": new.text,
            "indicator_id": new.indicator_id,
            "quantity": new.quantity,
            "hours": new.hours,
            "status": EntryStatus.SUBMITTED,
            "created_at": now,
            "submitted_at": now,
            "updated_at": now,
            "version": 1,
        },
        day_start=day_start,
        minute_start=minute_start,
        per_minute=limits.max_per_minute,
        per_day=limits.max_per_day,
        closed_through=flood.closed_through,
    )
    if entry_id is None:
        if new.work_date <= flood.closed_through and not await uow.periods.is_reopened(
            author_id, new.work_date
        ):
            return EntryError.CLOSED_PERIOD
        # Counted again in the same transaction, under the same lock: the same figures.
        recent = await uow.entries.recent(
            author_id, day_start=day_start, minute_start=minute_start, nth=limits.max_per_minute
        )
        refusal = too_many(recent.today, recent.nth_in_minute, limits, tomorrow=tomorrow)
        return refusal or TooMany("minute", limits.max_per_minute, now + FLOOD_MINUTE)
    if new.evidence:
        await uow.entries.add_attachments(_attachment_rows(entry_id, new.evidence, now))
    details: dict[str, Any] = {"work_date": new.work_date.isoformat(), "via": via}
    if via != "quick":
        details["attachments"] = len(new.evidence)
    event = Event("entry.logged", SUBJECT, entry_id, at=now, actor_staff_id=author_id,
                  details=details)  # fmt: skip
    if events is None:
        await uow.audit.add(event)
    else:
        events.append(event)
    return EntryView(
        entry_id,
        author_id,
        new.work_date,
        new.text,
        EntryStatus.SUBMITTED,
        1,
        new.indicator_id,
        new.quantity,
        new.hours,
        len(new.evidence),
    )


async def _check_indicator(
    uow: UnitOfWork, author_id: int, indicator_id: str, policy: Policy
) -> EntryError | None:
    return _indicator_error(await uow.entries.post_type_of(author_id), indicator_id, policy)


def _indicator_error(
    post_type: str | None, indicator_id: str, policy: Policy
) -> EntryError | None:
    # Only the indicators of the author's own post type, whatever a button claims.
    if post_type is None or post_type not in policy.indicators:
        return EntryError.UNKNOWN_INDICATOR
    if indicator_id not in {indicator.id for indicator in policy.indicators_for(post_type)}:
        return EntryError.UNKNOWN_INDICATOR
    return None


def _check_numbers(
    quantity: Decimal | None, hours: Decimal | None, limits: EntryLimits
) -> EntryError | None:
    if quantity is not None and quantity < 0:
        return EntryError.QUANTITY_OUT_OF_RANGE
    if hours is not None and not limits.min_hours <= hours <= limits.max_hours:
        return EntryError.HOURS_OUT_OF_RANGE
    return None


def _check_all_evidence(
    already: int, evidence: tuple[Evidence, ...], limits: EntryLimits
) -> EntryError | None:
    for count, item in enumerate(evidence, start=already):
        error = check_evidence(count, item, limits)
        if error is not None:
            return error
    return None


def _attachment_rows(entry_id: int, evidence: tuple[Evidence, ...], now: datetime) -> list[Any]:
    return [
        {
            "entry_id": entry_id,
            "kind": item.kind,
            "file_id": item.file_id,
            "file_unique_id": item.file_unique_id,
            "file_name": item.file_name,
            "file_size": item.file_size,
            "added_at": now,
        }
        for item in evidence
    ]


async def stage_new(
    uow: UnitOfWork, author_id: int, new: NewEntry, rules: Rules, *, now: datetime
) -> EntryView | EntryError | TooMany:
    """Check and write a guided entry with its evidence, in the caller's transaction.

    Does not commit, so a caller can end its conversation in the same transaction.
    Refused (an error, or ``TooMany``), it has written nothing.
    """
    (written,) = await stage_many(uow, [(author_id, new, now)], rules)
    return written


async def stage_many(
    uow: UnitOfWork, entries: Sequence[tuple[int, NewEntry, datetime]], rules: Rules
) -> list[EntryView | EntryError | TooMany]:
    """The batch form of ``stage_new``: each (author, entry, when) checked and written by
    the same rules, in order, in the caller's transaction (no commit); what each became.
    The authors' post types are read once and the audit events written together."""
    indicated = {author_id for author_id, new, _ in entries if new.indicator_id is not None}
    post_types = await uow.entries.post_types_of(indicated) if indicated else {}
    flood = Flood(rules.limits, rules.today, rules.zone, rules.closed_through)
    events: list[Event] = []
    written: list[EntryView | EntryError | TooMany] = []
    for author_id, new, now in entries:
        text = clean_text(new.text, rules.limits)
        if isinstance(text, EntryError):
            written.append(text)
            continue
        error = (
            await check_day(uow, author_id, new.work_date, rules)
            or _check_numbers(new.quantity, new.hours, rules.limits)
            or _check_all_evidence(0, new.evidence, rules.limits)
        )
        if error is None and new.indicator_id is not None:
            error = _indicator_error(post_types.get(author_id), new.indicator_id, rules.policy)
        if error is not None:
            written.append(error)
            continue
        staged = await _write_new(
            uow, author_id, replace(new, text=text), flood, via="guided", now=now, events=events
        )
        written.append(staged)
    await uow.audit.add_many(events)
    return written


async def create_entry(
    uow: UnitOfWork, author_id: int, new: NewEntry, rules: Rules, *, now: datetime
) -> EntryView | EntryError | TooMany:
    """Write a guided entry (date, indicator, quantity, hours, text, evidence) and commit."""
    result = await stage_new(uow, author_id, new, rules, now=now)
    if isinstance(result, EntryView):
        await uow.commit()
    return result


async def own_entry(uow: UnitOfWork, entry_id: int, author_id: int) -> EntryView | EntryError:
    """One of the author's entries, in whatever status, for them to look at."""
    entry = await uow.entries.get(entry_id)
    if entry is None:
        return EntryError.UNKNOWN_ENTRY
    if entry.staff_id != author_id:
        return EntryError.NOT_YOURS
    if entry.status is EntryStatus.DELETED:
        return EntryError.DELETED
    return EntryView.of(entry, await uow.entries.attachment_count(entry_id))


async def _refusal(
    uow: UnitOfWork, entry: WorkEntry | None, author_id: int, today: date, policy: Policy
) -> EntryError | None:
    if entry is None:
        return EntryError.UNKNOWN_ENTRY
    if entry.staff_id != author_id:
        return EntryError.NOT_YOURS
    refusal = not_editable(entry.status)
    if refusal is None and await is_entry_closed(uow, author_id, entry.work_date, today, policy):
        return EntryError.CLOSED_PERIOD
    return refusal


async def _why_unchanged(uow: UnitOfWork, entry_id: int, closed: date) -> EntryError:
    # The conditional UPDATE matched nothing: another change won, or the period closed.
    still_open = await uow.periods.entry_is_open(entry_id, closed)
    return EntryError.CLOSED_PERIOD if still_open is False else EntryError.CHANGED


async def open_entry(
    uow: UnitOfWork, entry_id: int, author_id: int, today: date, policy: Policy
) -> EntryView | EntryError:
    """One of the author's entries that they may still change (to begin an edit)."""
    entry = await uow.entries.get(entry_id)
    refusal = await _refusal(uow, entry, author_id, today, policy)
    if refusal is not None:
        return refusal
    assert entry is not None
    return EntryView.of(entry, await uow.entries.attachment_count(entry_id))


def _revision(entry: WorkEntry, author_id: int, now: datetime) -> EntryRevision:
    return EntryRevision(
        entry_id=entry.id,
        changed_at=now,
        changed_by_id=author_id,
        work_date=entry.work_date,
        text=entry.text,
        indicator_id=entry.indicator_id,
        quantity=entry.quantity,
        hours=entry.hours,
        status=entry.status,
    )


async def _changed_values(
    uow: UnitOfWork, entry: WorkEntry, change: EntryChange, rules: Rules, attached: int
) -> dict[str, Any] | EntryError:
    values: dict[str, Any] = {}
    if change.text is not None:
        text = clean_text(change.text, rules.limits)
        if isinstance(text, EntryError):
            return text
        values["text"] = text
    if change.work_date is not None and change.work_date != entry.work_date:
        error = await check_day(uow, entry.staff_id, change.work_date, rules)
        if error is not None:
            return error
        values["work_date"] = change.work_date
    error = _check_numbers(change.quantity, change.hours, rules.limits) or _check_all_evidence(
        attached, change.evidence, rules.limits
    )
    if error is None and change.indicator_id is not None:
        error = await _check_indicator(uow, entry.staff_id, change.indicator_id, rules.policy)
    if error is not None:
        return error
    for name in ("indicator_id", "quantity", "hours"):
        value = getattr(change, name)
        if value is not None:
            values[name] = value
    return values


async def stage_edit(
    uow: UnitOfWork,
    entry_id: int,
    author_id: int,
    change: EntryChange,
    rules: Rules,
    *,
    now: datetime,
    expected_version: int | None = None,
) -> EntryView | EntryError:
    """Change an entry for its author, in the caller's transaction (no commit).

    The old values go to ``entry_revisions``; a returned entry is submitted again.

    Args:
        uow: The unit of work.
        entry_id: The entry.
        author_id: Who asks; only the author may change an entry.
        change: The new values.
        rules: Policy, calendar and today.
        now: When it happens (UTC).
        expected_version: The version the author saw when they began the edit; a
            different one means someone (a supervisor) changed the entry meanwhile.

    Returns:
        The changed entry, or why nothing was changed (``CHANGED`` when another
        change won the race).
    """
    entry = await uow.entries.get(entry_id)
    refusal = await _refusal(uow, entry, author_id, rules.today, rules.policy)
    if refusal is not None:
        return refusal
    assert entry is not None
    if expected_version is not None and entry.version != expected_version:
        return EntryError.CHANGED
    attached = await uow.entries.attachment_count(entry_id)
    values = await _changed_values(uow, entry, change, rules, attached)
    if isinstance(values, EntryError):
        return values
    resubmitted = entry.status is EntryStatus.RETURNED
    changed = sorted(values) + (["attachments"] if change.evidence else [])
    # A changed entry goes to its approver again, as a new version.
    values["updated_at"] = values["submitted_at"] = now
    if resubmitted:
        values.update(
            status=EntryStatus.SUBMITTED, decided_by_id=None, decided_at=None, decision_reason=None
        )
    # The conditional update goes first: when it loses, nothing else has been written.
    closed = rules.closed_through
    if not await uow.entries.change(
        entry_id, entry.version, EDITABLE, values, closed_through=closed
    ):
        return await _why_unchanged(uow, entry_id, closed)
    await uow.entries.add_revision(_revision(entry, author_id, now))
    await uow.entries.add_attachments(_attachment_rows(entry_id, change.evidence, now))
    details: dict[str, Any] = {"changed": changed, "version": entry.version + 1}
    if resubmitted:
        details.update(resubmitted=True, returned_reason=entry.decision_reason)
    await uow.audit.add(
        Event("entry.edited", SUBJECT, entry_id, at=now, actor_staff_id=author_id, details=details)
    )
    return EntryView(
        id=entry.id,
        staff_id=entry.staff_id,
        work_date=values.get("work_date", entry.work_date),
        text=values.get("text", entry.text),
        status=EntryStatus.SUBMITTED,
        version=entry.version + 1,
        indicator_id=values.get("indicator_id", entry.indicator_id),
        quantity=values.get("quantity", entry.quantity),
        hours=values.get("hours", entry.hours),
        attachments=attached + len(change.evidence),
    )


async def edit_entry(
    uow: UnitOfWork,
    entry_id: int,
    author_id: int,
    change: EntryChange,
    rules: Rules,
    *,
    now: datetime,
    expected_version: int | None = None,
) -> EntryView | EntryError:
    """Change an entry for its author and commit (see ``stage_edit``)."""
    result = await stage_edit(
        uow, entry_id, author_id, change, rules, now=now, expected_version=expected_version
    )
    if not isinstance(result, EntryError):
        await uow.commit()
    return result


async def delete_entry(
    uow: UnitOfWork,
    entry_id: int,
    author_id: int,
    *,
    today: date,
    policy: Policy,
    now: datetime,
) -> EntryView | EntryError:
    """Delete an undecided entry for its author: only its status changes, to ``deleted``.
    Refused (``CLOSED_PERIOD``) once the entry's period is under review."""
    entry = await uow.entries.get(entry_id)
    refusal = await _refusal(uow, entry, author_id, today, policy)
    if refusal is not None:
        return refusal
    assert entry is not None
    values = {"status": EntryStatus.DELETED, "updated_at": now}
    closed = closed_through(today, policy)
    if not await uow.entries.change(
        entry_id, entry.version, EDITABLE, values, closed_through=closed
    ):
        return await _why_unchanged(uow, entry_id, closed)
    await uow.entries.add_revision(_revision(entry, author_id, now))
    await uow.audit.add(
        Event(
            "entry.deleted",
            SUBJECT,
            entry_id,
            at=now,
            actor_staff_id=author_id,
            details={"work_date": entry.work_date.isoformat(), "version": entry.version + 1},
        )
    )
    await uow.commit()
    view = EntryView.of(entry)
    return EntryView(
        view.id, view.staff_id, view.work_date, view.text, EntryStatus.DELETED, view.version + 1
    )
