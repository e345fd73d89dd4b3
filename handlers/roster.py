"""Roster import in chat (HR): send the file, see what would change, then apply or cancel."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from assessment import access
from assessment.outbox import URGENT, Outgoing
from assessment.roster import ImportStopped, RosterRejected
from assessment.roster_uploads import (
    DecisionRefused,
    StoppedApply,
    Upload,
    cancel,
    find,
    hand_back_stopped,
    mark_missing_left,
    missing_leaving,
)
from handlers.approval_messages import language_of
from handlers.callbacks import RosterDecision
from handlers.context import WorkledgerContext
from handlers.formatting import person_label
from handlers.gate import refusal_text
from handlers.notices import MAX_TEXT, fit
from handlers.roster_text import describe_kept, describe_rejection, describe_summary
from locales import N_
from storage.enums import UploadStatus

log = logging.getLogger(__name__)

# What HR is told when an Apply stopped part-way (and a Cancel of it is refused).
PART_WRITTEN = N_("The import stopped part-way: part of it is written. Press Apply to finish it.")
# The Bot API lets a bot download files of up to 20 MB.
MAX_ROSTER_BYTES = 20 * 1024 * 1024
# Telegram messages hold 4,096 characters; a long list of problems is cut well before.
MAX_REPLY_CHARS = 3500


def _fit(text: str, context: WorkledgerContext) -> str:
    if len(text) <= MAX_REPLY_CHARS:
        return text
    kept = text[:MAX_REPLY_CHARS].rsplit("\n", 1)[0]
    hidden = text[len(kept) :].count("\n")
    more = context.ngettext("...and {count} more line.", "...and {count} more lines.", hidden)
    return kept + "\n" + more.format(count=hidden)


async def explain(update: Update, context: WorkledgerContext) -> None:
    """Say how to import: send the file."""
    if update.effective_message is not None:
        await update.effective_message.reply_text(
            context._(
                "Send me the roster as a file: CSV (UTF-8) or Excel (XLSX), with the columns "
                "employee_no, name, department, post, post_type, difficulty, supervisor_no, "
                "roles, language, status. I will show you what would change before anything "
                "is written."
            )
        )


async def _download(context: WorkledgerContext, file_id: str) -> bytes:
    telegram_file = await context.bot.get_file(file_id)
    return bytes(await telegram_file.download_as_bytearray())


async def receive(update: Update, context: WorkledgerContext) -> None:
    """Check a roster file HR sent and preview the import; nothing is written yet."""
    message = update.effective_message
    assert message is not None
    refusal = access.check(context.member, access.HR)
    if refusal is not None or context.member is None:
        await message.reply_text(refusal_text(context, refusal or access.Refusal.NOT_LINKED))
        return
    document = message.document
    assert document is not None
    _ = context._
    if document.file_size and document.file_size > MAX_ROSTER_BYTES:
        await message.reply_text(_("This file is too large; a roster file may be up to 20 MB."))
        return
    files = context.bot_data.roster_files
    try:
        data = await _download(context, document.file_id)
        # Read in a worker process: other people's updates go on meanwhile.
        checked = await files.check(data, document.file_name or "roster", context.policy)
        del data
        async with context.uow() as uow:
            upload_id, summary = await files.preview(
                uow,
                checked,
                uploader_id=context.member.id,
                file_id=document.file_id,
                now=context.now(),
            )
    except RosterRejected as rejection:
        text = describe_rejection(rejection.problems, _, context.ngettext)
        await message.reply_text(_fit(text, context))
        return
    buttons = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    _("Apply"), callback_data=RosterDecision(upload_id, "apply").pack()
                ),
                InlineKeyboardButton(
                    _("Cancel"), callback_data=RosterDecision(upload_id, "cancel").pack()
                ),
            ]
        ]
    )
    text = describe_summary(summary, _, context.ngettext)
    await message.reply_text(_fit(text, context), reply_markup=buttons)


def _refused(context: WorkledgerContext, reason: DecisionRefused) -> str:
    _ = context._
    if reason is DecisionRefused.NOT_YOURS:
        return _("Only the person who sent this roster file can decide on it.")
    if reason is DecisionRefused.ALREADY_DECIDED:
        return _("This roster file was already dealt with.")
    if reason is DecisionRefused.PART_WRITTEN:
        return _(PART_WRITTEN)
    if reason is DecisionRefused.BEING_APPLIED:
        return _(
            "This roster file is being imported. If the import stops, you will be told, "
            "and can press Apply again."
        )
    return _("This roster file is no longer known.")


async def decide(update: Update, context: WorkledgerContext) -> None:
    """Apply or cancel a previewed roster, or mark the people it lacked as having left."""
    query = update.callback_query
    member = context.member
    assert query is not None
    assert member is not None
    action = RosterDecision.from_press(query.data)
    _ = context._
    now = context.now()
    async with context.uow() as uow:
        upload = await find(uow, action.upload_id, member.id)
    if isinstance(upload, DecisionRefused):
        await query.answer(_refused(context, upload), show_alert=True)
        return
    if action.action == "cancel":
        async with context.uow() as uow:
            refused = await cancel(uow, upload, now=now)
        if refused is not None:
            await query.answer(_refused(context, refused), show_alert=True)
            return
        context.bot_data.roster_files.checked.forget(upload.id)
        await query.answer()
        await query.edit_message_text(_("Import cancelled; nothing was written."))
        return
    if action.action in ("left", "leftyes", "leftno"):
        await _missing_left(update, context, upload, action.action, now)
        return
    await _apply(update, context, upload, now)


async def _apply(
    update: Update, context: WorkledgerContext, upload: Upload, now: datetime
) -> None:
    query = update.callback_query
    member = context.member
    assert query is not None
    assert member is not None
    _ = context._
    files = context.bot_data.roster_files
    if upload.status is not UploadStatus.PREVIEWED:
        await query.answer(_refused(context, DecisionRefused.ALREADY_DECIDED), show_alert=True)
        return
    if upload.applying:
        # Refused at once: the file is not read nor the plan worked out again for nothing.
        await query.answer(_refused(context, DecisionRefused.BEING_APPLIED), show_alert=True)
        return
    try:
        # The roster read at preview; read again (in a worker) only by another process.
        async with context.uow() as uow:
            result = await files.apply(
                uow,
                upload,
                context.policy,
                lambda: _download(context, upload.file_id),
                actor_staff_id=member.id,
                now=now,
            )
    except ImportStopped:
        # Part of it is written and the upload handed back: Apply again finishes it.
        log.exception("a roster import stopped part-way (upload %d)", upload.id)
        await query.answer(_(PART_WRITTEN), show_alert=True)
        return
    except RosterRejected as rejection:
        # The store changed since the preview (say, a supervisor left): nothing was written.
        await query.answer()
        text = describe_rejection(rejection.problems, _, context.ngettext)
        await query.edit_message_text(_fit(text, context))
        return
    if isinstance(result, DecisionRefused):
        await query.answer(_refused(context, result), show_alert=True)
        return
    await query.answer()
    markup = _mark_missing_button(context, upload.id, len(result.missing))
    text = describe_summary(result, _, context.ngettext)
    # The menus of people whose roles changed were queued with the import; the sender shows them.
    await query.edit_message_text(_fit(text, context), reply_markup=markup)


def _mark_missing_button(
    context: WorkledgerContext, upload_id: int, count: int
) -> InlineKeyboardMarkup | None:
    """The button that asks to mark the people a roster lacked as left (it only asks)."""
    if not count:
        return None
    label = context.ngettext(
        "Mark {count} missing person as left", "Mark {count} missing people as left", count
    ).format(count=count)
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=RosterDecision(upload_id, "left").pack())]]
    )


async def _missing_left(
    update: Update, context: WorkledgerContext, upload: Upload, action: str, now: datetime
) -> None:
    """Marking the missing as left: ask with the names first, then mark or go back."""
    query = update.callback_query
    member = context.member
    assert query is not None
    assert member is not None
    _ = context._
    if action == "leftno":
        if upload.status is not UploadStatus.APPLIED:
            # A stale Cancel after the marking: no button to ask again.
            await query.answer(_refused(context, DecisionRefused.ALREADY_DECIDED), show_alert=True)
            return
        await query.answer()
        await query.edit_message_text(
            _("Nobody was marked as having left."),
            reply_markup=_mark_missing_button(context, upload.id, len(upload.missing)),
        )
        return
    if action == "leftyes":
        async with context.uow() as uow:
            marked = await mark_missing_left(uow, upload, actor_staff_id=member.id, now=now)
        if isinstance(marked, DecisionRefused):
            await query.answer(_refused(context, marked), show_alert=True)
            return
        await query.answer()
        count = len(marked.marked)
        lines = [
            context.ngettext(
                "{count} person marked as having left.",
                "{count} people marked as having left.",
                count,
            ).format(count=count),
            *describe_kept(marked.kept, _),
        ]
        await query.edit_message_text("\n".join(lines))
        return
    async with context.uow() as uow:
        plan = await missing_leaving(uow, upload, actor_staff_id=member.id)
    if isinstance(plan, DecisionRefused):
        await query.answer(_refused(context, plan), show_alert=True)
        return
    await query.answer()
    leave, kept = plan
    kept_text = "\n".join(describe_kept(kept, _))
    if not leave:
        await query.edit_message_text(
            "\n".join([_("Nobody would be marked as having left."), kept_text])
        )
        return
    heading = context.ngettext(
        "Mark {count} person as having left?", "Mark {count} people as having left?", len(leave)
    ).format(count=len(leave))
    names = [person_label(_, person.name, person.employee_no) for person in leave]
    # The people kept come after the names, so the names get what room is left.
    room = MAX_TEXT - (len(kept_text.encode("utf-16-le")) // 2 + 1 if kept_text else 0)
    text = fit(heading, names, _more(context), limit=room)
    if kept_text:
        text += "\n" + kept_text
    buttons = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    _("Confirm"), callback_data=RosterDecision(upload.id, "leftyes").pack()
                ),
                InlineKeyboardButton(
                    _("Cancel"), callback_data=RosterDecision(upload.id, "leftno").pack()
                ),
            ]
        ]
    )
    await query.edit_message_text(text, reply_markup=buttons)


def _more(context: WorkledgerContext) -> Callable[[int], str]:
    return lambda count: context.ngettext(
        "...and {count} more", "...and {count} more", count
    ).format(count=count)


async def stopped_applies_tick(context: WorkledgerContext) -> None:
    """Job (every minute): uploads whose Apply stopped with its process go back to the HR
    who sent them, with a button to finish the import."""
    render = functools.partial(_stopped_message, context.bot_data.settings.language)
    async with context.bot_data.database.uow() as uow:
        await hand_back_stopped(uow, render=render, now=context.now())


def _stopped_message(default: str, stopped: StoppedApply) -> Outgoing | None:
    uploader = stopped.uploader
    if uploader.chat_id is None:
        return None
    _ = language_of(uploader, default).gettext
    text = _(
        "The import of {file} stopped part-way when the bot stopped: part of it is "
        "written. Press Apply to finish it."
    ).format(file=stopped.file_name)
    apply = RosterDecision(stopped.upload_id, "apply").pack()
    return Outgoing(
        chat_id=uploader.chat_id,
        kind="roster_stopped",
        text=text,
        markup={"inline_keyboard": [[{"text": _("Apply"), "callback_data": apply}]]},
        staff_id=uploader.staff_id,
        dedup_key=None,
        priority=URGENT,
    )
