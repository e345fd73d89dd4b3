"""Supervisors decide entries in chat: requests with buttons, reasons, /pending, digests.

Adapters only: ``assessment.approvals`` decides who may decide what, on every press.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MaybeInaccessibleMessage,
    Message,
    Update,
)
from telegram.error import BadRequest
from telegram.ext import ApplicationHandlerStop

from assessment import approvals
from assessment.approvals import (
    ActiveDelegation,
    AlreadyDecided,
    ApprovalError,
    AuthorNotice,
    Closing,
    Contact,
    Decided,
    Decision,
    PendingRow,
)
from assessment.entry_rules import parse_day
from assessment.outbox import Outgoing
from config.clock import parse_time_of_day
from handlers.approval_messages import (
    day_label,
    decision_line,
    moment_label,
    pending_line,
    render_closing,
    render_delegation,
    render_notice,
    shown_stamp,
)
from handlers.callbacks import MAX_PAGE, ApproveShown, Decide, DigestTime, PendingPage
from handlers.context import WorkledgerContext
from handlers.entry_cards import CLOSED_PERIOD_TEXT, today
from handlers.formatting import answer_text
from handlers.gate import claim
from storage.enums import EntryStatus

PER_PAGE = 5
CONVERSATION = "decision"


# --------------------------------------------------------------------------- presses


def _already_text(context: WorkledgerContext, found: AlreadyDecided) -> str:
    _ = context._
    when = (
        moment_label(context.translator, found.at, context.settings.zone)
        if found.at is not None
        else "?"
    )
    by = found.by or _("the system")
    if found.status is EntryStatus.APPROVED:
        return _("Already approved by {name} at {when}.").format(name=by, when=when)
    if found.status is EntryStatus.RETURNED:
        return _("Already returned by {name} at {when}.").format(name=by, when=when)
    return _("Already rejected by {name} at {when}.").format(name=by, when=when)


def error_text(context: WorkledgerContext, error: ApprovalError) -> str:
    """Why a decision was not made, in the caller's language."""
    _ = context._
    texts = {
        ApprovalError.UNKNOWN_ENTRY: _("This entry does not exist."),
        ApprovalError.DELETED: _("Its author deleted this entry."),
        ApprovalError.EDITED: _(
            "Its author changed this entry since; look at the new version in /pending."
        ),
        ApprovalError.NOT_ALLOWED: _("Sorry, you may not decide this entry."),
        ApprovalError.OWN_ENTRY: _("You cannot decide your own entry."),
        ApprovalError.REASON_NEEDED: _("Please send the reason as a text message."),
        ApprovalError.REASON_TOO_LONG: _(
            "That reason is too long: at most {limit} characters."
        ).format(limit=approvals.MAX_REASON),
        ApprovalError.BAD_DATE: _(
            "Give a date from today to a year ahead, like {example}."
        ).format(example=context.today().replace(day=28).isoformat()),
        ApprovalError.UNKNOWN_PERSON: _("Nobody on staff has that employee number."),
        ApprovalError.SELF_DELEGATE: _("Choose someone other than yourself."),
        ApprovalError.DELEGATION_CYCLE: _(
            "That person's own team is decided by you, directly or through others: "
            "choose someone else, or end that delegation first."
        ),
        ApprovalError.CLOSED_PERIOD: _(CLOSED_PERIOD_TEXT),
    }
    return texts[error]


def decided_line(context: WorkledgerContext, decided: Decided) -> str:
    """What replaces the buttons once an entry is decided."""
    closing = Closing(decided.decision, decided.decided_by, decided.at, decided.reason)
    return decision_line(context.translator, context.settings.zone, closing)


async def _show_decided(message: Message | None, context: WorkledgerContext, line: str) -> None:
    # The request keeps its text, loses its buttons, and says who decided what and when.
    if message is None or not message.text:
        return
    # deleted, too old to edit, or unchanged: the decision stands anyway
    with contextlib.suppress(BadRequest):
        await message.edit_text(f"{message.text}\n\n{line}", reply_markup=None)


def _render(context: WorkledgerContext) -> Callable[[AuthorNotice], Outgoing | None]:
    return functools.partial(render_notice, context.settings.language)


def _close(context: WorkledgerContext) -> Callable[[Closing, Contact], str]:
    return functools.partial(render_closing, context.settings.language, context.settings.zone)


def _shown_in(message: MaybeInaccessibleMessage | None) -> tuple[int, int] | None:
    # The pressed message: the answer closes it, the outbox closes the other copies.
    return None if message is None else (message.chat.id, message.message_id)


async def press(update: Update, context: WorkledgerContext) -> None:
    """Approve at once; for Return and Reject, ask for the reason first."""
    query = update.callback_query
    member = context.member
    assert query is not None and member is not None
    action = Decide.from_press(query.data)
    decision = Decision(Decide.DECISIONS[action.decision])
    if decision is Decision.APPROVE:
        async with context.uow() as uow:
            result = await approvals.decide(
                uow,
                member,
                action.entry_id,
                action.version,
                decision,
                today=today(context),
                render=_render(context),
                close=_close(context),
                shown_in=_shown_in(query.message),
                policy=context.policy,
                now=context.now(),
            )
        await _answer_result(update, context, result, query.message)
        return
    async with context.uow() as uow:
        found = await approvals.check(
            uow,
            member,
            action.entry_id,
            action.version,
            decision,
            today=today(context),
            policy=context.policy,
            now=context.now(),
        )
        if isinstance(found, tuple):
            message = query.message
            await uow.conversations.save(
                member.id,
                CONVERSATION,
                decision.value,
                {
                    "entry_id": action.entry_id,
                    "version": action.version,
                    "chat_id": message.chat.id if message else None,
                    "message_id": message.message_id if message else None,
                    # So that the pressed message shows the decision as Approve's does.
                    "text": message.text if isinstance(message, Message) else None,
                },
                at=context.now(),
            )
            await uow.commit()
    if not isinstance(found, tuple):
        await _answer_result(update, context, found, query.message)
        return
    await query.answer()
    _ = context._
    question = (
        _("Why return this entry of {name}? Send the reason (or /cancel).")
        if decision is Decision.RETURN
        else _("Why reject this entry of {name}? Send the reason (or /cancel).")
    )
    await context.bot.send_message(query.from_user.id, question.format(name=found[0].author.name))


async def _answer_result(
    update: Update,
    context: WorkledgerContext,
    result: Decided | ApprovalError | AlreadyDecided,
    message: Any,
) -> None:
    query = update.callback_query
    assert query is not None
    if isinstance(result, Decided):
        line = decided_line(context, result)
        await query.answer(answer_text(line))
        await _show_decided(message, context, line)
        return
    # Nothing was written: claimed first, so that of two deliveries of the press (a
    # redelivery, another process) only one answers it.
    await claim(context)
    if isinstance(result, AlreadyDecided):
        line = _already_text(context, result)
        await query.answer(answer_text(line), show_alert=True)
        await _show_decided(message, context, line)
    else:
        await query.answer(error_text(context, result), show_alert=True)


def _pressed(data: dict[str, Any]) -> tuple[int, int] | None:
    # The message whose Return or Reject was pressed, as ``press`` noted it.
    if data.get("chat_id") and data.get("message_id"):
        return int(data["chat_id"]), int(data["message_id"])
    return None


async def capture(update: Update, context: WorkledgerContext) -> None:
    """Take the next message of a supervisor who pressed Return or Reject as the reason."""
    message = update.effective_message
    member = context.member
    if message is None or member is None or context.question != CONVERSATION:
        return
    async with context.uow() as uow:
        stored = await uow.conversations.get(member.id)
        if stored is None or stored.kind != CONVERSATION:
            return
        data = stored.data
        decision = Decision(stored.step)
        result = await approvals.decide(
            uow,
            member,
            int(data["entry_id"]),
            int(data["version"]),
            decision,
            reason=message.text,
            today=today(context),
            render=_render(context),
            close=_close(context),
            shown_in=_pressed(data),
            policy=context.policy,
            now=context.now(),
        )
        if result is not ApprovalError.REASON_NEEDED and result is not (
            ApprovalError.REASON_TOO_LONG
        ):
            await uow.conversations.drop(member.id)
            await uow.commit()
    if isinstance(result, Decided):
        line = decided_line(context, result)
        pressed = _pressed(data)
        if pressed is not None:
            # The request loses its buttons before the decision is confirmed, so the
            # confirmation never arrives while the buttons still show.
            # deleted, too old to edit, or unchanged: the decision stands anyway
            with contextlib.suppress(BadRequest):
                if data.get("text"):
                    await context.bot.edit_message_text(f"{data['text']}\n\n{line}", *pressed)
                else:
                    await context.bot.edit_message_reply_markup(*pressed, reply_markup=None)
        await message.reply_text(line)
    elif isinstance(result, AlreadyDecided):
        await message.reply_text(_already_text(context, result))
    else:
        await message.reply_text(error_text(context, result))
    raise ApplicationHandlerStop


async def cancel(update: Update, context: WorkledgerContext) -> None:
    """/cancel while a reason is asked: nothing is decided."""
    message = update.effective_message
    member = context.member
    if message is None or member is None or context.question != CONVERSATION:
        return
    async with context.uow() as uow:
        await uow.conversations.drop(member.id)
        await uow.commit()
    await message.reply_text(context._("Cancelled; the entry is still waiting for a decision."))
    raise ApplicationHandlerStop


# --------------------------------------------------------------------------- lists


def _list_lines(context: WorkledgerContext, rows: Sequence[PendingRow], start: int) -> list[str]:
    return [
        pending_line(
            context.translator, number, row.author_name, row.employee_no, row.work_date, row.text
        )
        for number, row in enumerate(rows, start=start)
    ]


async def _pending_page(context: WorkledgerContext, page: int) -> tuple[str, Any]:
    member = context.member
    assert member is not None
    async with context.uow() as uow:
        rows, total = await approvals.pending(
            uow, member, today=today(context), page=page, per_page=PER_PAGE, policy=context.policy
        )
    _ = context._
    if not rows:
        if total and page:
            return await _pending_page(context, 0)
        return _("Nothing is waiting for your decision."), None
    pages = (total + PER_PAGE - 1) // PER_PAGE
    start = page * PER_PAGE + 1
    text = "\n".join(
        [
            context.ngettext(
                "{count} entry waits for your decision (page {page} of {pages}):",
                "{count} entries wait for your decision (page {page} of {pages}):",
                total,
            ).format(count=total, page=page + 1, pages=pages),
            "",
            *_list_lines(context, rows, start),
        ]
    )
    buttons: list[list[InlineKeyboardButton]] = []
    for number, row in enumerate(rows, start=start):
        buttons.append(
            [
                InlineKeyboardButton(
                    f"{number} {label}",
                    callback_data=Decide(row.entry_id, row.version, code).pack(),
                )
                for label, code in ((_("Approve"), "a"), (_("Return"), "r"), (_("Reject"), "j"))
            ]
        )
    shown_at = shown_stamp(max(row.updated_at for row in rows))
    buttons.append(
        [
            InlineKeyboardButton(
                _("Approve all {count} on this page").format(count=len(rows)),
                callback_data=ApproveShown(
                    min(r.entry_id for r in rows), max(r.entry_id for r in rows), shown_at, 0
                ).pack(),
            )
        ]
    )
    paging = []
    if page > 0:
        paging.append(InlineKeyboardButton("«", callback_data=PendingPage(page - 1).pack()))
    if page + 1 < pages and page < MAX_PAGE:  # the parser takes pages up to MAX_PAGE
        paging.append(InlineKeyboardButton("»", callback_data=PendingPage(page + 1).pack()))
    if paging:
        buttons.append(paging)
    return text, InlineKeyboardMarkup(buttons)


async def show_pending(update: Update, context: WorkledgerContext) -> None:
    """/pending: what waits for my decision, a page at a time."""
    message = update.effective_message
    assert message is not None
    text, markup = await _pending_page(context, 0)
    await message.reply_text(text, reply_markup=markup)


async def turn_page(update: Update, context: WorkledgerContext) -> None:
    """« and » under /pending."""
    query = update.callback_query
    assert query is not None
    action = PendingPage.from_press(query.data)
    text, markup = await _pending_page(context, action.page)
    await query.answer()
    # unchanged
    with contextlib.suppress(BadRequest):
        await query.edit_message_text(text, reply_markup=markup)


async def approve_shown(update: Update, context: WorkledgerContext) -> None:
    """``Approve all``: approve what the list showed, still waiting and mine to decide."""
    query = update.callback_query
    member = context.member
    assert query is not None and member is not None
    action = ApproveShown.from_press(query.data)
    async with context.uow() as uow:
        result = await approvals.approve_shown(
            uow,
            member,
            today=today(context),
            first_id=action.first_id,
            last_id=action.last_id,
            seen_at=datetime.fromtimestamp(action.shown_at, UTC),
            author_id=action.author_id or None,
            render=_render(context),
            close=_close(context),
            policy=context.policy,
            now=context.now(),
        )
    _ = context._
    left = (
        context.ngettext(
            "{count} entry was left: its period is under review and can no longer be decided.",
            "{count} entries were left: their period is under review and can no longer be "
            "decided.",
            result.closed,
        ).format(count=result.closed)
        if result.closed
        else ""
    )
    if result.approved == 0:
        await query.answer(left or _("Nothing left to approve here."), show_alert=True)
    else:
        approved = context.ngettext(
            "{count} entry approved.", "{count} entries approved.", result.approved
        ).format(count=result.approved)
        await query.answer(f"{approved} {left}".strip(), show_alert=bool(left))
    if action.author_id == 0 and query.message is not None:
        text, markup = await _pending_page(context, 0)
        with contextlib.suppress(BadRequest):
            await query.edit_message_text(text, reply_markup=markup)


# --------------------------------------------------------------------------- settings


def _settings_text(context: WorkledgerContext, at: str | None) -> tuple[str, InlineKeyboardMarkup]:
    _ = context._
    current = (
        _("Approval requests reach you one by one, as entries come in.")
        if at is None
        else _("Approval requests reach you in one digest a day, at {time}.").format(time=at)
    )
    current += "\n" + _("Choose below, or your own time of day: /settings 16:45")
    rows = [
        [InlineKeyboardButton(_("One by one"), callback_data=DigestTime("now").pack())],
        [
            InlineKeyboardButton(
                _("Daily digest at {time}").format(time=f"{value[:2]}:{value[2:]}"),
                callback_data=DigestTime(value).pack(),
            )
            for value in DigestTime.CHOICES
            if value != "now"
        ],
    ]
    return current, InlineKeyboardMarkup(rows)


def digest_time(text: str) -> str | None:
    """``HH:MM`` (24-hour, local) normalised, or None if ``text`` is not such a time."""
    parsed = parse_time_of_day(text)
    return None if parsed is None else parsed.strftime("%H:%M")


async def show_settings(update: Update, context: WorkledgerContext) -> None:
    """/settings: approval requests one by one, or a daily digest (``/settings 16:45``)."""
    message = update.effective_message
    member = context.member
    assert message is not None and member is not None
    arguments = context.args or []
    if arguments:
        at = digest_time(arguments[0])
        if at is None:
            await message.reply_text(
                context._("Give the digest time as hours and minutes, like /settings 16:45.")
            )
            return
        await _save_digest(context, member.id, at)
    async with context.uow() as uow:
        at = await approvals.digest_at(uow, member.id)
    text, markup = _settings_text(context, at)
    await message.reply_text(text, reply_markup=markup)


async def _save_digest(context: WorkledgerContext, staff_id: int, at: str | None) -> None:
    async with context.uow() as uow:
        await approvals.set_digest(uow, staff_id, at, now=context.now())


async def choose_digest(update: Update, context: WorkledgerContext) -> None:
    """A /settings button."""
    query = update.callback_query
    member = context.member
    assert query is not None and member is not None
    value = DigestTime.from_press(query.data).value
    at = None if value == "now" else f"{value[:2]}:{value[2:]}"
    await _save_digest(context, member.id, at)
    text, markup = _settings_text(context, at)
    await query.answer(context._("Saved."))
    with contextlib.suppress(BadRequest):
        await query.edit_message_text(text, reply_markup=markup)


# --------------------------------------------------------------------------- delegation


async def delegate_command(update: Update, context: WorkledgerContext) -> None:
    """/delegate EMPLOYEE_NO YYYY-MM-DD, /delegate off, or /delegate to see it."""
    message = update.effective_message
    member = context.member
    assert message is not None and member is not None
    arguments = context.args or []
    _ = context._
    day = today(context)
    if not arguments:
        async with context.uow() as uow:
            current = await approvals.delegation_of(uow, member.id, day)
        if current is None:
            await message.reply_text(
                _(
                    "Nobody decides your team's entries for you. To ask someone until a date: "
                    "/delegate EMPLOYEE_NO {example}; to stop: /delegate off"
                ).format(example=day.isoformat())
            )
        else:
            await message.reply_text(delegation_line(context, current))
        return
    if arguments[0].lower() == "off":
        async with context.uow() as uow:
            ended = await approvals.end_delegation(uow, member, now=context.now())
        await message.reply_text(
            _("Delegation ended; your team's entries come to you again.")
            if ended
            else _("There was no delegation to end.")
        )
        return
    until = parse_day(arguments[1] if len(arguments) > 1 else "", day, ahead=True)
    if until is None:
        await message.reply_text(error_text(context, ApprovalError.BAD_DATE))
        return
    async with context.uow() as uow:
        result = await approvals.delegate(
            uow,
            member,
            arguments[0].upper(),
            until,
            today=day,
            render=functools.partial(
                render_delegation, context.settings.language, context.settings.zone
            ),
            now=context.now(),
        )
    if isinstance(result, ApprovalError):
        await message.reply_text(error_text(context, result))
        return
    await message.reply_text(delegation_line(context, result))


def delegation_line(context: WorkledgerContext, delegation: ActiveDelegation) -> str:
    """Who decides the supervisor's team's entries, and until when."""
    return context._("{name} ({employee_no}) decides your team's entries until {until}.").format(
        name=delegation.delegate_name,
        employee_no=delegation.delegate_employee_no,
        until=day_label(context.translator, delegation.until),
    )
