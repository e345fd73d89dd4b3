"""Logging work: a plain message is today's entry; /log asks step by step.

The guided conversation's state lives in the store (``assessment.log_flow``), so
each message or button press here is answered from what the store says, whichever
bot process receives it and however often the bot restarted in between.
"""

from __future__ import annotations

from babel.dates import format_time
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import ApplicationHandlerStop

from assessment import entries, log_flow
from assessment.entries import EntryView
from assessment.entry_rules import EntryError, Evidence, TooMany, date_choices
from assessment.log_flow import LogDraft, Outcome, Saved, Step
from handlers.callbacks import LogAnswer
from handlers.context import WorkledgerContext
from handlers.entry_cards import (
    amount,
    card,
    card_keyboard,
    day_label,
    error_text,
    rules,
    today,
    unit_of,
)
from storage.enums import EntryStatus

# Buttons per row in the choice of a date.
DATES_PER_ROW = 2


async def quick_log(update: Update, context: WorkledgerContext) -> None:
    """Any plain text from a member: a submitted entry for today, confirmed with buttons."""
    message = update.effective_message
    member = context.member
    assert message is not None and member is not None  # the gate let only members through
    async with context.uow() as uow:
        result = await entries.quick_log(
            uow,
            member.id,
            message.text,
            today=today(context),
            zone=context.bot_data.settings.zone,
            limits=context.policy.entries,
            policy=context.policy,
            now=context.now(),
        )
    if isinstance(result, EntryError):
        await message.reply_text(error_text(context, result))
        return
    if isinstance(result, TooMany):
        await message.reply_text(too_many_text(context, result))
        return
    await _confirm(message, context, result)


def too_many_text(
    context: WorkledgerContext, refusal: TooMany, *, draft_kept: bool = False
) -> str:
    """Why an entry met a flood limit and when its author may log again (within the 200
    characters of a button's alert)."""
    _ = context._
    if refusal.per == "day":
        text = context.ngettext(
            "You can log at most {count} entry a day. Nothing was saved; "
            "you can log again tomorrow.",
            "You can log at most {count} entries a day. Nothing was saved; "
            "you can log again tomorrow.",
            refusal.limit,
        ).format(count=refusal.limit)
    else:
        at = format_time(
            refusal.until,
            format="medium",
            tzinfo=context.bot_data.settings.zone,
            locale=context.translator.babel,
        )
        text = context.ngettext(
            "You can log at most {count} entry a minute. Nothing was saved; "
            "you can log again at {time}.",
            "You can log at most {count} entries a minute. Nothing was saved; "
            "you can log again at {time}.",
            refusal.limit,
        ).format(count=refusal.limit, time=at)
    if draft_kept:
        text = _("{refusal} Your draft is kept: press Save again then.").format(refusal=text)
    return text


async def _confirm(message: Message, context: WorkledgerContext, entry: EntryView) -> None:
    heading = context._("Logged for {day}.").format(day=day_label(context, entry.work_date))
    await message.reply_text(
        card(context, entry, heading), reply_markup=card_keyboard(context, entry)
    )


async def begin(update: Update, context: WorkledgerContext) -> None:
    """/log: start a guided entry with the question of its date."""
    message = update.effective_message
    member = context.member
    assert message is not None and member is not None
    async with context.uow() as uow:
        draft = await log_flow.start_log(uow, member.id, now=context.now())
    text, markup = question(context, draft)
    await message.reply_text(text, reply_markup=markup)


def _button(label: str, step: Step, value: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=LogAnswer(step, value).pack())


def _closing_row(context: WorkledgerContext, draft: LogDraft) -> list[InlineKeyboardButton]:
    # A new entry may skip an optional question; an edit can only be left.
    if draft.kind == log_flow.LOG and draft.step in log_flow.OPTIONAL:
        return [_button(context._("Skip"), draft.step, log_flow.SKIP)]
    return [_button(context._("Cancel"), draft.step, log_flow.CANCEL)]


def _date_rows(context: WorkledgerContext) -> list[list[InlineKeyboardButton]]:
    current = rules(context)
    days = date_choices(
        current.today, current.calendar, current.limits, closed_through=current.closed_through
    )
    buttons = [
        _button(
            context._("Today, {day}").format(day=day_label(context, day))
            if day == current.today
            else day_label(context, day),
            Step.DATE,
            day.isoformat(),
        )
        for day in days
    ]
    return [buttons[i : i + DATES_PER_ROW] for i in range(0, len(buttons), DATES_PER_ROW)]


def _summary(context: WorkledgerContext, draft: LogDraft) -> str:
    _ = context._
    assert draft.work_date is not None
    preview = entries.EntryView(
        id=0,
        staff_id=0,
        work_date=draft.work_date,
        text=draft.text or "",
        status=EntryStatus.SUBMITTED,
        version=0,
        indicator_id=draft.indicator_id,
        quantity=draft.quantity,
        hours=draft.hours,
        attachments=len(draft.evidence),
    )
    return card(context, preview, _("Please check the entry, then save it:"), with_status=False)


def question(
    context: WorkledgerContext, draft: LogDraft
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The text and buttons that ask ``draft.step``'s question."""
    _ = context._
    limits = context.policy.entries
    rows: list[list[InlineKeyboardButton]] = []
    if draft.step is Step.DATE:
        text = _("Which day is the entry for? You can also type a date, such as 2026-11-20.")
        rows = _date_rows(context)
    elif draft.step is Step.INDICATOR:
        text = _("Which indicator of your post does the work count towards?")
        rows = [
            [_button(indicator.names.get(context.locale), Step.INDICATOR, indicator.id)]
            for indicator in log_flow.indicators(context.policy, draft.post_type)
        ]
    elif draft.step is Step.QUANTITY:
        unit = unit_of(context, draft.indicator_id)
        text = (
            _("How many {unit}? Type a number.").format(unit=unit)
            if unit
            else _("What quantity? Type a number.")
        )
    elif draft.step is Step.HOURS:
        text = _("How many hours did it take? Type a number from {low} to {high}.").format(
            low=amount(context, limits.min_hours), high=amount(context, limits.max_hours)
        )
    elif draft.step is Step.TEXT:
        text = _("Describe the work in one message (at most {limit} characters).").format(
            limit=limits.max_text_length
        )
    elif draft.step is Step.EVIDENCE:
        text = _(
            "Send photos or documents as evidence (at most {count}), then press Done."
        ).format(count=limits.max_attachments)
        rows = [[_button(_("Done"), Step.EVIDENCE, log_flow.DONE)]]
    else:
        text = _summary(context, draft)
        rows = [
            [
                _button(_("Save"), Step.CONFIRM, log_flow.SAVE),
                _button(_("Cancel"), Step.CONFIRM, log_flow.CANCEL),
            ]
        ]
    if draft.step is not Step.CONFIRM:
        rows.append(_closing_row(context, draft))
    return text, InlineKeyboardMarkup(rows)


def _saved_text(context: WorkledgerContext, saved: Saved) -> str:
    heading = (
        context._("Saved: your entry for {day}.").format(
            day=day_label(context, saved.entry.work_date)
        )
        if saved.created
        else context._("Changed.")
    )
    return card(context, saved.entry, heading)


async def _reply(message: Message, context: WorkledgerContext, outcome: Outcome) -> None:
    if isinstance(outcome, EntryError):
        await message.reply_text(error_text(context, outcome))
    elif isinstance(outcome, TooMany):
        await message.reply_text(too_many_text(context, outcome, draft_kept=True))
    elif isinstance(outcome, Saved):
        await message.reply_text(
            _saved_text(context, outcome), reply_markup=card_keyboard(context, outcome.entry)
        )
    elif outcome.step is Step.EVIDENCE and outcome.evidence:
        await message.reply_text(
            context._("Added {count} of at most {limit}. Send more, or press Done.").format(
                count=outcome.collected, limit=context.policy.entries.max_attachments
            ),
            reply_markup=InlineKeyboardMarkup(
                [[_button(context._("Done"), Step.EVIDENCE, log_flow.DONE)]]
            ),
        )
    else:
        text, markup = question(context, outcome)
        await message.reply_text(text, reply_markup=markup)


def _evidence(message: Message) -> Evidence | None:
    if message.photo:
        photo = message.photo[-1]  # the largest size Telegram made
        return Evidence("photo", photo.file_id, photo.file_unique_id, None, photo.file_size)
    if message.document is not None:
        document = message.document
        return Evidence(
            "document",
            document.file_id,
            document.file_unique_id,
            document.file_name,
            document.file_size,
        )
    return None


async def capture(update: Update, context: WorkledgerContext) -> None:
    """Take a member's next message as the answer to their /log or edit question, if any."""
    message = update.effective_message
    member = context.member
    if message is None or member is None or context.question not in log_flow.KINDS:
        return  # nothing asked (the gate read the member's conversation, if any)
    evidence = _evidence(message)
    async with context.uow() as uow:
        if evidence is not None:
            outcome = await log_flow.add_evidence(
                uow, member.id, evidence, rules(context), now=context.now()
            )
        else:
            outcome = await log_flow.answer_text(
                uow, member.id, message.text or "", rules(context), now=context.now()
            )
    if outcome is None:
        return  # nothing asked: the message goes on to the quick log or the roster upload
    await _reply(message, context, outcome)
    raise ApplicationHandlerStop


async def answer(update: Update, context: WorkledgerContext) -> None:
    """A button answering a /log or edit question."""
    query = update.callback_query
    member = context.member
    assert query is not None and member is not None
    action = LogAnswer.from_press(query.data)
    async with context.uow() as uow:
        if action.value == log_flow.CANCEL:
            await log_flow.cancel(uow, member.id, now=context.now())
            outcome: Outcome | None = None
        else:
            outcome = await log_flow.choose(
                uow, member.id, Step(action.step), action.value, rules(context), now=context.now()
            )
    if outcome is None:
        await query.answer()
        await query.edit_message_text(context._("Cancelled; nothing was saved."))
        return
    if isinstance(outcome, EntryError):
        await query.answer(error_text(context, outcome), show_alert=True)
        return
    if isinstance(outcome, TooMany):
        await query.answer(too_many_text(context, outcome, draft_kept=True), show_alert=True)
        return
    await query.answer()
    if isinstance(outcome, Saved):
        await query.edit_message_text(
            _saved_text(context, outcome), reply_markup=card_keyboard(context, outcome.entry)
        )
        return
    text, markup = question(context, outcome)
    await query.edit_message_text(text, reply_markup=markup)


async def cancel(update: Update, context: WorkledgerContext) -> None:
    """/cancel: end a /log or edit in progress; otherwise let /cancel reach the notice draft."""
    message = update.effective_message
    member = context.member
    assert message is not None and member is not None
    async with context.uow() as uow:
        ended = await log_flow.cancel(uow, member.id, now=context.now())
    if not ended:
        return
    await message.reply_text(context._("Cancelled; nothing was saved."))
    raise ApplicationHandlerStop
