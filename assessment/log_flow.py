"""The guided /log conversation and one-question edits of an entry, kept in the store.

/log asks, in order: the date, an indicator of the person's post type, a quantity
(for a counted indicator), hours, the text, evidence, then confirms. The optional
steps can be skipped. An edit started from an entry's buttons asks one question and
applies the answer. Where a person stands is a row in ``conversations``, so a restart
of the bot (or another bot process) continues where they were; a conversation left
alone for a day is forgotten, so that a plain message then becomes a quick log again.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from assessment.entries import (
    EntryChange,
    EntryView,
    NewEntry,
    Rules,
    check_day,
    open_entry,
    stage_edit,
    stage_new,
)
from assessment.entry_rules import (
    EntryError,
    Evidence,
    TooMany,
    check_evidence,
    clean_text,
    parse_day,
    parse_hours,
    parse_quantity,
)
from config.policy import Indicator, Policy
from storage.repositories.conversations import StoredConversation
from storage.uow import UnitOfWork

__all__ = [
    "CANCEL",
    "DONE",
    "EDIT",
    "FORGOTTEN_AFTER",
    "LOG",
    "OPTIONAL",
    "SAVE",
    "SKIP",
    "STEPS",
    "LogDraft",
    "Outcome",
    "Saved",
    "Step",
    "add_evidence",
    "answer_text",
    "cancel",
    "choose",
    "current",
    "indicators",
    "start_edit",
    "start_log",
]

LOG = "log"
EDIT = "edit"
KINDS = (LOG, EDIT)
SKIP = "skip"
DONE = "done"
SAVE = "save"
CANCEL = "cancel"
FORGOTTEN_AFTER = timedelta(hours=24)


class Step(enum.StrEnum):
    """A question of the conversation."""

    DATE = "date"
    INDICATOR = "indicator"
    QUANTITY = "quantity"
    HOURS = "hours"
    TEXT = "text"
    EVIDENCE = "evidence"
    CONFIRM = "confirm"


STEPS = frozenset(step.value for step in Step)
# What may be left out of a new entry.
OPTIONAL = frozenset({Step.INDICATOR, Step.QUANTITY, Step.HOURS, Step.EVIDENCE})


def _decimal(value: object) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


@dataclass(frozen=True, slots=True)
class LogDraft:
    """Where a person is in /log (a new entry) or in an edit (one change to ``entry_id``)."""

    kind: str
    step: Step
    entry_id: int | None = None
    version: int | None = None
    post_type: str | None = None
    work_date: date | None = None
    indicator_id: str | None = None
    quantity: Decimal | None = None
    hours: Decimal | None = None
    text: str | None = None
    evidence: tuple[Evidence, ...] = ()
    attached: int = 0

    def stored(self) -> dict[str, Any]:
        """The conversation's ``data`` (JSON: dates and decimals as text)."""
        return {
            "entry_id": self.entry_id,
            "version": self.version,
            "post_type": self.post_type,
            "work_date": None if self.work_date is None else self.work_date.isoformat(),
            "indicator_id": self.indicator_id,
            "quantity": None if self.quantity is None else str(self.quantity),
            "hours": None if self.hours is None else str(self.hours),
            "text": self.text,
            "evidence": [item.stored() for item in self.evidence],
            "attached": self.attached,
        }

    @classmethod
    def of(cls, conversation: StoredConversation) -> LogDraft | None:
        """Read a stored conversation back; None if it is not one of ours or is unreadable."""
        if conversation.kind not in KINDS or conversation.step not in STEPS:
            return None
        data = conversation.data
        try:
            work_date = data.get("work_date")
            return cls(
                kind=conversation.kind,
                step=Step(conversation.step),
                entry_id=data.get("entry_id"),
                version=data.get("version"),
                post_type=data.get("post_type"),
                work_date=None if work_date is None else date.fromisoformat(work_date),
                indicator_id=data.get("indicator_id"),
                quantity=_decimal(data.get("quantity")),
                hours=_decimal(data.get("hours")),
                text=data.get("text"),
                evidence=tuple(Evidence.of(item) for item in data.get("evidence", [])),
                attached=int(data.get("attached", 0)),
            )
        except (KeyError, TypeError, ValueError):
            return None

    @property
    def collected(self) -> int:
        """Attachments so far: the entry's own and those sent in this conversation."""
        return self.attached + len(self.evidence)

    def new_entry(self) -> NewEntry:
        """The entry this /log draft describes."""
        assert self.work_date is not None and self.text is not None
        return NewEntry(
            self.work_date, self.text, self.indicator_id, self.quantity, self.hours, self.evidence
        )


@dataclass(frozen=True, slots=True)
class Saved:
    """The conversation ended with an entry written (``created``) or changed."""

    entry: EntryView
    created: bool


# A draft: the next question to ask (its ``step``). Saved: done. An error: the answer
# was refused; the question stands unless the error ends the conversation. TooMany:
# saving met a flood limit; the draft is kept, to be saved once the limit lifts.
Outcome = LogDraft | Saved | EntryError | TooMany


def indicators(policy: Policy, post_type: str | None) -> tuple[Indicator, ...]:
    """The indicators a person of ``post_type`` may choose from (none without a post type)."""
    if post_type is None or post_type not in policy.indicators:
        return ()
    return policy.indicators_for(post_type)


def _indicator(policy: Policy, draft: LogDraft) -> Indicator | None:
    for indicator in indicators(policy, draft.post_type):
        if indicator.id == draft.indicator_id:
            return indicator
    return None


def _after(step: Step, draft: LogDraft, rules: Rules) -> Step:
    """The question that follows ``step`` in /log."""
    if step is Step.DATE and indicators(rules.policy, draft.post_type):
        return Step.INDICATOR
    if step is Step.INDICATOR:
        chosen = _indicator(rules.policy, draft)
        return (
            Step.QUANTITY if chosen is not None and chosen.kind == "quantitative" else Step.HOURS
        )
    if step in (Step.DATE, Step.QUANTITY):
        return Step.HOURS
    if step is Step.HOURS:
        return Step.TEXT
    if step is Step.TEXT and rules.limits.max_attachments > 0:
        return Step.EVIDENCE
    return Step.CONFIRM


async def _save(uow: UnitOfWork, staff_id: int, draft: LogDraft, *, now: datetime) -> None:
    await uow.conversations.save(staff_id, draft.kind, draft.step, draft.stored(), at=now)
    await uow.commit()


async def start_log(uow: UnitOfWork, staff_id: int, *, now: datetime) -> LogDraft:
    """Begin /log for a person (replacing whatever conversation they had); asks the date."""
    draft = LogDraft(LOG, Step.DATE, post_type=await uow.entries.post_type_of(staff_id))
    await _save(uow, staff_id, draft, now=now)
    return draft


async def start_edit(
    uow: UnitOfWork, staff_id: int, entry_id: int, step: Step, rules: Rules, *, now: datetime
) -> LogDraft | EntryError:
    """Begin one change of an entry: ask ``step``'s question about it (not ``CONFIRM``).

    Refused, with nothing stored, when the entry is not the person's or no longer
    open, or when the question has no possible answer (no indicators, no room for files).
    """
    if step is Step.CONFIRM:
        return EntryError.WRONG_ANSWER
    entry = await open_entry(uow, entry_id, staff_id, rules.today, rules.policy)
    if isinstance(entry, EntryError):
        return entry
    post_type = await uow.entries.post_type_of(staff_id) if step is Step.INDICATOR else None
    if step is Step.INDICATOR and not indicators(rules.policy, post_type):
        return EntryError.NO_INDICATORS
    if step is Step.EVIDENCE and entry.attachments >= rules.limits.max_attachments:
        return EntryError.TOO_MANY_ATTACHMENTS
    draft = LogDraft(
        EDIT,
        step,
        entry_id=entry.id,
        version=entry.version,
        post_type=post_type,
        indicator_id=entry.indicator_id,
        attached=entry.attachments,
    )
    await _save(uow, staff_id, draft, now=now)
    return draft


async def current(uow: UnitOfWork, staff_id: int, *, now: datetime) -> LogDraft | None:
    """The person's /log or edit in progress, unless they left it for a day or more."""
    stored = await uow.conversations.get(staff_id, since=now - FORGOTTEN_AFTER)
    return None if stored is None else LogDraft.of(stored)


async def cancel(uow: UnitOfWork, staff_id: int, *, now: datetime) -> bool:
    """End the person's /log or edit without writing anything; False if none was going on."""
    ongoing = await current(uow, staff_id, now=now)
    dropped = await uow.conversations.drop(staff_id)
    await uow.commit()
    return ongoing is not None and dropped


# Errors after which the edit cannot go on: the entry is gone, decided or changed.
_ENDING = frozenset(
    {
        EntryError.UNKNOWN_ENTRY,
        EntryError.NOT_YOURS,
        EntryError.DELETED,
        EntryError.DECIDED,
        EntryError.CHANGED,
        EntryError.CLOSED_PERIOD,
    }
)


async def _apply_edit(
    uow: UnitOfWork,
    staff_id: int,
    draft: LogDraft,
    change: EntryChange,
    rules: Rules,
    now: datetime,
) -> Outcome:
    assert draft.entry_id is not None
    result = await stage_edit(
        uow, draft.entry_id, staff_id, change, rules, now=now, expected_version=draft.version
    )
    if isinstance(result, EntryError):
        if result in _ENDING:
            await uow.conversations.drop(staff_id)
            await uow.commit()
        return result
    await uow.conversations.drop(staff_id)
    await uow.commit()
    return Saved(result, created=False)


async def _finish_log(
    uow: UnitOfWork, staff_id: int, draft: LogDraft, rules: Rules, now: datetime
) -> Outcome:
    if draft.text is None or draft.work_date is None:
        return EntryError.NO_TEXT_YET
    result = await stage_new(uow, staff_id, draft.new_entry(), rules, now=now)
    if isinstance(result, TooMany):
        return result  # nothing written, the draft kept: Save works again once it lifts
    # Saving fails otherwise only if the day moved on past the draft's date: start again.
    await uow.conversations.drop(staff_id)
    if isinstance(result, EntryError):
        await uow.commit()
        return result
    await uow.commit()
    return Saved(result, created=True)


async def _answered(
    uow: UnitOfWork, staff_id: int, draft: LogDraft, rules: Rules, now: datetime, **values: Any
) -> Outcome:
    """Record an answer to ``draft.step`` and ask the next question (or apply an edit)."""
    if draft.kind == EDIT:
        return await _apply_edit(uow, staff_id, draft, EntryChange(**values), rules, now)
    answered = replace(draft, **values)
    following = replace(answered, step=_after(draft.step, answered, rules))
    await _save(uow, staff_id, following, now=now)
    return following


async def answer_text(
    uow: UnitOfWork, staff_id: int, text: str, rules: Rules, *, now: datetime
) -> Outcome | None:
    """Take a typed answer to the current question; None if no conversation is going on."""
    draft = await current(uow, staff_id, now=now)
    if draft is None:
        return None
    step = draft.step
    if step is Step.DATE:
        day = parse_day(text, rules.today)
        if day is None:
            return EntryError.NOT_A_DATE
        error = await check_day(uow, staff_id, day, rules)
        if error is not None:
            return error
        return await _answered(uow, staff_id, draft, rules, now, work_date=day)
    if step is Step.QUANTITY:
        quantity = parse_quantity(text)
        if isinstance(quantity, EntryError):
            return quantity
        return await _answered(uow, staff_id, draft, rules, now, quantity=quantity)
    if step is Step.HOURS:
        hours = parse_hours(text, rules.limits)
        if isinstance(hours, EntryError):
            return hours
        return await _answered(uow, staff_id, draft, rules, now, hours=hours)
    if step is Step.TEXT:
        cleaned = clean_text(text, rules.limits)
        if isinstance(cleaned, EntryError):
            return cleaned
        return await _answered(uow, staff_id, draft, rules, now, text=cleaned)
    # Indicators, evidence and the confirmation are answered with buttons and files.
    return EntryError.WRONG_ANSWER


async def choose(
    uow: UnitOfWork, staff_id: int, step: Step, value: str, rules: Rules, *, now: datetime
) -> Outcome:
    """Take a button's answer (``value``) to the question ``step``."""
    draft = await current(uow, staff_id, now=now)
    if draft is None:
        return EntryError.NOTHING_IN_PROGRESS
    if draft.step is not step:
        return EntryError.STEP_OVER
    if value == SKIP and draft.kind == LOG and step in OPTIONAL:
        return await _answered(uow, staff_id, draft, rules, now)
    if step is Step.DATE:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return EntryError.WRONG_ANSWER
        error = await check_day(uow, staff_id, day, rules)
        if error is not None:
            return error
        return await _answered(uow, staff_id, draft, rules, now, work_date=day)
    if step is Step.INDICATOR:
        if value not in {indicator.id for indicator in indicators(rules.policy, draft.post_type)}:
            return EntryError.UNKNOWN_INDICATOR
        return await _answered(uow, staff_id, draft, rules, now, indicator_id=value)
    if step is Step.EVIDENCE and value == DONE:
        if draft.kind == EDIT:
            if not draft.evidence:
                await cancel(uow, staff_id, now=now)
                return EntryError.NO_EVIDENCE
            return await _apply_edit(
                uow, staff_id, draft, EntryChange(evidence=draft.evidence), rules, now
            )
        return await _answered(uow, staff_id, draft, rules, now)
    if step is Step.CONFIRM and value == SAVE:
        return await _finish_log(uow, staff_id, draft, rules, now)
    return EntryError.WRONG_ANSWER


async def add_evidence(
    uow: UnitOfWork, staff_id: int, evidence: Evidence, rules: Rules, *, now: datetime
) -> Outcome | None:
    """Keep a photo or document sent at the evidence question; None if none is asked."""
    draft = await current(uow, staff_id, now=now)
    if draft is None or draft.step is not Step.EVIDENCE:
        return None
    error = check_evidence(draft.collected, evidence, rules.limits)
    if error is not None:
        return error
    following = replace(draft, evidence=(*draft.evidence, evidence))
    await _save(uow, staff_id, following, now=now)
    return following
