"""/broadcast (HR): compose a notice, choose who gets it, preview, confirm, watch it go out.

The draft lives in the store, so a restart loses nothing. Confirming marks the
notice queued and starts writing every recipient's copy to the outbox, a batch at
a time, beside the handlers; the sender delivers them under Telegram's limits, and a
job edits the author's progress message every two seconds (and queues what is left
of the copies, should the bot have stopped half-way).
"""

from __future__ import annotations

import contextlib
import functools
import html
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

from babel.dates import format_timedelta
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import ApplicationHandlerStop

from assessment import access, notices
from assessment.notices import (
    ROLE_VALUES,
    STATUS_VALUES,
    Audience,
    Draft,
    NoticeError,
    Progress,
)
from assessment.outbox import Circular, Languages
from handlers.callbacks import (
    Acknowledge,
    NoticeAudience,
    NoticeChoices,
    NoticeDecision,
    NoticeOption,
    NoticeToggle,
)
from handlers.context import BotData, WorkledgerContext
from handlers.formatting import (
    BUTTONS_PER_PAGE,
    button_page,
    html_length,
    listed_at_most,
    shortened_html,
    telegram_length,
    when,
)
from handlers.labels import ROLE_NAMES, STATUS_NAMES
from locales import N_, resolve_locale, translator
from storage.enums import Role, StaffStatus

log = logging.getLogger(__name__)

# Room for the header line inside Telegram's 4,096 (text) and 1,024 (caption) characters.
MAX_TEXT = 3800
# What the preview's lists may take, and the preview itself (Telegram: 4,096 after parsing).
AUDIENCE_ROOM = 400
NUMBERS_ROOM = 600
MAX_PREVIEW = 4096
MAX_CAPTION = 900
PROGRESS_BAR = 10

KIND_NAMES = {
    "everyone": N_("Everyone"),
    "departments": N_("By department"),
    "roles": N_("By role"),
    "post_types": N_("By post type"),
    "statuses": N_("By status"),
}


def _error_text(context: WorkledgerContext, error: NoticeError) -> str:
    _ = context._
    texts = {
        NoticeError.UNKNOWN: _("This notice no longer exists."),
        NoticeError.NOT_YOURS: _("Only the author of this notice can change it."),
        NoticeError.ALREADY_QUEUED: _("This notice was already sent or cancelled."),
        NoticeError.NO_CONTENT: _("The notice has no text yet."),
        NoticeError.NO_AUDIENCE: _("Choose at least one group of recipients first."),
        NoticeError.NO_RECIPIENTS: _("Nobody in this audience has joined yet."),
        NoticeError.NOT_RECIPIENT: _("This notice was not sent to you."),
    }
    return texts[error]


async def begin(update: Update, context: WorkledgerContext) -> None:
    """Start a new draft and ask for its content."""
    message = update.effective_message
    member = context.member
    assert message is not None
    assert member is not None
    async with context.uow() as uow:
        await notices.start(uow, member.id)
    await message.reply_text(
        context._(
            "Send me the notice: a text (formatting is kept), or a document or photo with a "
            "caption. /cancel stops."
        )
    )


async def capture(update: Update, context: WorkledgerContext) -> None:
    """Take the next message of an HR author with an empty draft as the notice's content."""
    message = update.effective_message
    member = context.member
    if message is None or member is None or context.question != notices.NOTICE_CONTENT:
        return  # nothing asked (the gate read what the member's next message answers)
    if access.check(member, access.HR) is not None:
        return
    async with context.uow() as uow:
        draft = await notices.draft_of(uow, member.id)
    if draft is None or draft.text or draft.attachment_file_id:
        return
    _ = context._
    kind, file_id, text = None, None, message.text_html if message.text else None
    if message.document is not None:
        kind, file_id, text = "document", message.document.file_id, message.caption_html
    elif message.photo:
        kind, file_id, text = "photo", message.photo[-1].file_id, message.caption_html
    limit = MAX_CAPTION if kind else MAX_TEXT
    if text is not None and len(text) > limit:
        await message.reply_text(
            _("That is too long for one notice: at most {limit} characters.").format(limit=limit)
        )
        raise ApplicationHandlerStop
    if text is None and file_id is None:
        await message.reply_text(_("Send a text, a document or a photo, or /cancel."))
        raise ApplicationHandlerStop
    async with context.uow() as uow:
        result = await notices.set_content(
            uow, draft.id, member.id, text=text, attachment_kind=kind, attachment_file_id=file_id
        )
    if isinstance(result, NoticeError):
        await message.reply_text(_error_text(context, result))
    else:
        await message.reply_text(
            _("Who should receive it?"), reply_markup=_kinds_keyboard(context, result.id)
        )
    raise ApplicationHandlerStop


async def cancel_command(update: Update, context: WorkledgerContext) -> None:
    """Drop the draft in progress, if any."""
    message = update.effective_message
    member = context.member
    assert message is not None
    assert member is not None
    async with context.uow() as uow:
        draft = await notices.draft_of(uow, member.id)
        if draft is not None:
            await notices.cancel(uow, draft.id, member.id)
    await message.reply_text(
        context._("Cancelled; nothing was sent.") if draft else context._("Nothing to cancel.")
    )


def _kinds_keyboard(context: WorkledgerContext, notice_id: int) -> InlineKeyboardMarkup:
    _ = context._
    kinds = list(KIND_NAMES)
    rows = [
        [
            InlineKeyboardButton(
                _(KIND_NAMES[kind]), callback_data=NoticeAudience(notice_id, kind).pack()
            )
            for kind in kinds[i : i + 2]
        ]
        for i in range(0, len(kinds), 2)
    ]
    rows.append(
        [
            InlineKeyboardButton(
                _("Cancel"), callback_data=NoticeDecision(notice_id, "cancel").pack()
            )
        ]
    )
    return InlineKeyboardMarkup(rows)


async def _choices(context: WorkledgerContext, kind: str) -> list[tuple[str, str]]:
    _ = context._
    if kind == "departments":
        async with context.uow() as uow:
            return [(str(i), name) for i, name in await uow.directory.departments()]
    if kind == "roles":
        return [(value, _(ROLE_NAMES[Role[value.upper()]])) for value in ROLE_VALUES]
    if kind == "post_types":
        return [
            (post_type, names.names.get(context.locale))
            for post_type, names in context.policy.post_types.items()
        ]
    return [(value, _(STATUS_NAMES[StaffStatus(value)])) for value in STATUS_VALUES]


async def _toggles(
    context: WorkledgerContext, draft: Draft, page: int = 0, shown: str | None = None
) -> InlineKeyboardMarkup:
    """The choices of the draft's audience kind, a page at a time: ``page``, or the page of
    the choice ``shown``."""
    _ = context._
    choices = await _choices(context, draft.audience.kind)
    if shown is not None:
        values = [value for value, _label in choices]
        page = values.index(shown) // BUTTONS_PER_PAGE if shown in values else 0
    buttons = [
        InlineKeyboardButton(
            ("✓ " if value in draft.audience.values else "") + label,
            callback_data=NoticeToggle(draft.id, value).pack(),
        )
        for value, label in choices
    ]
    rows = button_page(buttons, page, lambda to: NoticeChoices(draft.id, to).pack())
    rows.append(
        [
            InlineKeyboardButton(_("Back"), callback_data=NoticeOption(draft.id, "back").pack()),
            InlineKeyboardButton(_("Done"), callback_data=NoticeOption(draft.id, "done").pack()),
        ]
    )
    return InlineKeyboardMarkup(rows)


async def audience_text(context: WorkledgerContext, audience: Audience) -> str:
    """Who an audience is, in words the caller reads (shared with /notices)."""
    if audience.kind == "everyone":
        return context._("everyone")
    labels = dict(await _choices(context, audience.kind))
    return listed_at_most(
        context._,
        context.ngettext,
        (labels.get(value, value) for value in audience.values),
        room=AUDIENCE_ROOM,
    )


async def _preview(context: WorkledgerContext, draft: Draft) -> tuple[str, InlineKeyboardMarkup]:
    _ = context._
    lines = []
    if draft.attachment_kind == "document":
        lines.append(_("With a document."))
    elif draft.attachment_kind == "photo":
        lines.append(_("With a photo."))
    audience = html.escape(await audience_text(context, draft.audience))
    lines.append(_("Audience: {audience}").format(audience=audience))
    lines.append(
        context.ngettext(
            "Recipients: {count} person", "Recipients: {count} people", draft.recipients
        ).format(count=draft.recipients)
    )
    if draft.not_linked:
        lines.append(
            _("Not joined yet, so they will not get it: {numbers}").format(
                numbers=html.escape(
                    listed_at_most(_, context.ngettext, draft.not_linked, room=NUMBERS_ROOM)
                )
            )
        )
    lines.append(
        _("Read confirmation: asked") if draft.requires_ack else _("Read confirmation: not asked")
    )
    lines.append(
        _("Sending: at {time}").format(time=when(context, draft.send_at))
        if draft.send_at
        else _("Sending: right away")
    )
    heading = _("Preview of the notice:")
    about = "\n".join(lines)
    body = draft.text or ""
    # A notice may be as long as one message itself: then the preview shows it shortened.
    room = MAX_PREVIEW - html_length(f"{heading}\n\n\n\n{about}")
    if html_length(body) > room:
        note = _("(Shortened in this preview; the notice is sent whole.)")
        body = html.escape(shortened_html(body, room - telegram_length(note) - 1)) + "\n" + note
    text = f"{heading}\n\n{body}\n\n{about}"
    ack = (
        _("Ask to confirm reading: on") if draft.requires_ack else _("Ask to confirm reading: off")
    )
    buttons = [
        [InlineKeyboardButton(ack, callback_data=NoticeOption(draft.id, "ack").pack())],
        [
            InlineKeyboardButton(
                _("Change when"), callback_data=NoticeOption(draft.id, "when").pack()
            )
        ],
        [InlineKeyboardButton(_("Back"), callback_data=NoticeOption(draft.id, "back").pack())],
        [
            InlineKeyboardButton(
                context.ngettext(
                    "Send to {count} person", "Send to {count} people", draft.recipients
                ).format(count=draft.recipients),
                callback_data=NoticeDecision(draft.id, "send").pack(),
            ),
            InlineKeyboardButton(
                _("Cancel"), callback_data=NoticeDecision(draft.id, "cancel").pack()
            ),
        ],
    ]
    return text, InlineKeyboardMarkup(buttons)


def _next_time(context: WorkledgerContext, current: datetime | None) -> datetime | None:
    # Right away -> in an hour -> tomorrow 09:00 (organisation time) -> right away.
    now = context.now()
    tomorrow = (now.astimezone(context.settings.zone) + timedelta(days=1)).date()
    nine = datetime.combine(tomorrow, time(9), tzinfo=context.settings.zone).astimezone(UTC)
    if current is None:
        return (now + timedelta(hours=1)).replace(second=0, microsecond=0)
    if current < nine - timedelta(minutes=1):
        return nine
    return None


async def _show(
    context: WorkledgerContext,
    update: Update,
    draft: Draft,
    stage: str,
    *,
    page: int = 0,
    shown: str | None = None,
) -> None:
    query = update.callback_query
    assert query is not None
    if stage == "kinds":
        await query.edit_message_text(
            context._("Who should receive it?"), reply_markup=_kinds_keyboard(context, draft.id)
        )
    elif stage == "toggles":
        await query.edit_message_text(
            context._("Choose one or more, then Done:"),
            reply_markup=await _toggles(context, draft, page, shown),
        )
    else:
        text, markup = await _preview(context, draft)
        await query.edit_message_text(text, parse_mode="HTML", reply_markup=markup)


async def _change(
    update: Update, context: WorkledgerContext, notice_id: int, edit: Callable[[Draft], Draft]
) -> Draft | None:
    query = update.callback_query
    member = context.member
    assert query is not None
    assert member is not None
    async with context.uow() as uow:
        result = await notices.change(uow, notice_id, member.id, edit)
    if isinstance(result, NoticeError):
        await query.answer(_error_text(context, result), show_alert=True)
        return None
    await query.answer()
    return result


async def choose_kind(update: Update, context: WorkledgerContext) -> None:
    """Everyone goes straight to the preview; other kinds list their choices."""
    query = update.callback_query
    assert query is not None
    action = NoticeAudience.from_press(query.data)
    draft = await _change(
        update,
        context,
        action.notice_id,
        lambda draft: replace(draft, audience=Audience(action.kind)),
    )
    if draft is not None:
        await _show(context, update, draft, "preview" if action.kind == "everyone" else "toggles")


async def toggle(update: Update, context: WorkledgerContext) -> None:
    """Add or remove one choice."""
    query = update.callback_query
    assert query is not None
    action = NoticeToggle.from_press(query.data)
    draft = await _change(
        update,
        context,
        action.notice_id,
        lambda draft: replace(draft, audience=draft.audience.toggled(action.value)),
    )
    if draft is not None:
        await _show(context, update, draft, "toggles", shown=action.value)


async def turn_choices(update: Update, context: WorkledgerContext) -> None:
    """« and » under a long list of choices (departments)."""
    query = update.callback_query
    member = context.member
    assert query is not None and member is not None
    action = NoticeChoices.from_press(query.data)
    async with context.uow() as uow:
        draft = await notices.draft_of(uow, member.id)
    if draft is None or draft.id != action.notice_id:
        await query.answer(_error_text(context, NoticeError.UNKNOWN), show_alert=True)
        return
    await query.answer()
    await _show(context, update, draft, "toggles", page=action.page)


async def option(update: Update, context: WorkledgerContext) -> None:
    """Finish the audience, switch the read confirmation, change the time, or go back."""
    query = update.callback_query
    assert query is not None
    action = NoticeOption.from_press(query.data)

    def edit(draft: Draft) -> Draft:
        if action.option == "ack":
            return replace(draft, requires_ack=not draft.requires_ack)
        if action.option == "when":
            return replace(draft, send_at=_next_time(context, draft.send_at))
        if action.option == "back":
            return replace(draft, audience=Audience())
        return draft

    draft = await _change(update, context, action.notice_id, edit)
    if draft is None:
        return
    if action.option == "back":
        await _show(context, update, draft, "kinds")
    elif not draft.audience.complete:
        await _show(context, update, draft, "toggles")
    else:
        await _show(context, update, draft, "preview")


def _copy(default_language: str, draft: Draft, author: str, readers: Languages) -> Circular:
    locale = resolve_locale(readers.language, readers.telegram_language, default_language)
    _ = translator(locale).gettext
    header = "<b>" + html.escape(_("Notice from {name}").format(name=author)) + "</b>"
    text = header + ("\n\n" + draft.text if draft.text else "")
    markup = None
    if draft.requires_ack:
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("I have read this"), callback_data=Acknowledge(draft.id).pack()
                    )
                ]
            ]
        ).to_dict()
    return notices.copy_for(draft, text=text, markup=markup)


async def queue_copies(data: BotData, notice_id: int) -> int | None:
    """Queue the copies of a queued notice not queued yet, each in its reader's language."""
    return await notices.queue_copies(
        data.database.uow,
        notice_id,
        functools.partial(_copy, data.settings.language),
        now=data.clock.now(),
    )


async def decide(update: Update, context: WorkledgerContext) -> None:
    """Send the notice to everyone in its audience, or drop it."""
    query = update.callback_query
    member = context.member
    assert query is not None
    assert member is not None
    action = NoticeDecision.from_press(query.data)
    _ = context._
    if action.action == "cancel":
        async with context.uow() as uow:
            error = await notices.cancel(uow, action.notice_id, member.id)
        if error is not None:
            await query.answer(_error_text(context, error), show_alert=True)
            return
        await query.answer()
        await query.edit_message_text(_("Cancelled; nothing was sent."))
        return
    async with context.uow() as uow:
        draft = await notices.draft_of(uow, member.id)
    if draft is None or draft.id != action.notice_id:
        await query.answer(_error_text(context, NoticeError.ALREADY_QUEUED), show_alert=True)
        return
    # From the queueing to the record of this message, the progress job waits (see
    # ``BotData.progress_messages``).
    async with context.bot_data.progress_messages:
        async with context.uow() as uow:
            queued = await notices.queue(
                uow,
                draft.id,
                member.id,
                now=context.now(),
                progress_chat_id=query.message.chat.id
                if query.message
                else member.telegram_user_id or 0,
                progress_message_id=query.message.message_id if query.message else None,
            )
        if isinstance(queued, NoticeError):
            await query.answer(_error_text(context, queued), show_alert=True)
            return
        # Beside the handlers: thousands of copies take a while, the next update need not
        # wait.
        context.application.create_task(
            queue_copies(context.bot_data, queued.notice_id),
            update=update,
            name=f"notice-{queued.notice_id}-copies",
        )
        await query.answer()
        # The first step, as the progress job takes each: claimed, shown in the
        # confirmation (its id recorded with the queueing), recorded. Another bot
        # process's job that took it first showed it in that same message.
        await _take_step(context, queued, progress_text(context, queued, 0.0), finished=False)


def progress_text(context: WorkledgerContext, figures: Progress, rate: float) -> str:
    """The author's progress message: counts, a bar, the time left; or the final report."""
    gettext = context.translator.gettext
    settled = figures.sent + figures.failed + figures.unreachable
    share = settled / figures.recipients if figures.recipients else 1.0
    now = context.now()
    if figures.finished and (figures.send_at is None or figures.send_at <= now):
        lines = [
            gettext("Notice #{id}: delivery finished.").format(id=figures.notice_id),
            gettext("Sent {sent} of {total}; failed {failed}; unreachable {unreachable}.").format(
                sent=figures.sent,
                total=figures.recipients,
                failed=figures.failed,
                unreachable=figures.unreachable,
            ),
        ]
    elif figures.send_at is not None and figures.send_at > now and settled == 0:
        lines = [
            gettext("Notice #{id}: scheduled for {time}.").format(
                id=figures.notice_id, time=when(context, figures.send_at)
            ),
            context.ngettext(
                "{count} recipient.", "{count} recipients.", figures.recipients
            ).format(count=figures.recipients),
        ]
    else:
        filled = round(share * PROGRESS_BAR)
        bar = "▓" * filled + "░" * (PROGRESS_BAR - filled)
        lines = [
            gettext("Notice #{id}: sending.").format(id=figures.notice_id),
            f"{bar} {share:.0%}",
            gettext(
                "Sent {sent}; failed {failed}; unreachable {unreachable}; waiting {waiting}."
            ).format(
                sent=figures.sent,
                failed=figures.failed,
                unreachable=figures.unreachable,
                waiting=figures.waiting,
            ),
        ]
        if rate > 0 and figures.waiting:
            left = format_timedelta(
                timedelta(seconds=max(1.0, figures.waiting / rate)),
                locale=context.translator.babel,
            )
            lines.append(gettext("About {time} left.").format(time=left))
    if figures.not_linked:
        lines.append(
            gettext("Not joined yet, so not sent: {numbers}").format(
                numbers=listed_at_most(gettext, context.ngettext, figures.not_linked)
            )
        )
    if figures.finished:
        lines.append(gettext("/notices shows who has read it."))
    return "\n".join(lines)


async def report_progress(context: WorkledgerContext) -> None:
    """Job: refresh each author's progress message (at most every two seconds)."""
    rate = float(context.policy.broadcast.messages_per_second)
    async with context.uow() as uow:
        running = await notices.in_progress(uow)
    for figures in running:
        if not figures.all_queued:
            # Normally under way already; after a restart, this finishes it.
            await queue_copies(context.bot_data, figures.notice_id)
    if not running:
        return
    # The figures again, read once a Send press being handled has recorded its message
    # (``BotData.progress_messages``): before, this notice would have none yet.
    async with context.bot_data.progress_messages:
        await _refresh_progress(context, rate)


async def _refresh_progress(context: WorkledgerContext, rate: float) -> None:
    async with context.uow() as uow:
        running = await notices.in_progress(uow)
    for figures in running:
        if figures.progress_chat_id is None:
            continue
        context.translator = translator(
            resolve_locale(
                figures.author_language,
                figures.author_telegram_language,
                context.settings.language,
            )
        )
        text = progress_text(context, figures, rate)
        finished = figures.finished and (
            figures.send_at is None or figures.send_at <= context.now()
        )
        await _take_step(context, figures, text, finished=finished)


async def _take_step(
    context: WorkledgerContext, figures: Progress, text: str, *, finished: bool
) -> None:
    """Show ``text`` in place of the progress the author was last shown, once across bot
    processes: the step claimed (compare-and-set of the text), shown, then recorded, with
    the notice closed if ``finished``; a step that could not be shown is handed back for
    the next tick (of any process), so a finished notice stays open until it is shown."""
    message_id, shown = figures.progress_message_id, True
    if text != figures.progress_text:
        async with context.uow() as uow:
            if not await notices.take_progress(
                uow, figures.notice_id, figures.progress_text, text
            ):
                return
        message_id, shown = await _show_progress(context, figures, text)
    if not shown:
        async with context.uow() as uow:
            await notices.take_progress(uow, figures.notice_id, text, figures.progress_text)
        return
    if text != figures.progress_text or finished:
        async with context.uow() as uow:
            await notices.record_progress_message(
                uow,
                figures.notice_id,
                message_id,
                text,
                finished_at=context.now() if finished else None,
            )


async def _show_progress(
    context: WorkledgerContext, figures: Progress, text: str
) -> tuple[int | None, bool]:
    """Put ``text`` in front of the author: the message it is in, and whether it is there.

    A deleted progress message is replaced by a fresh one; an author who blocked the
    bot is past showing anything to; any other failure is left for the next tick.
    """
    assert figures.progress_chat_id is not None
    try:
        if figures.progress_message_id is not None:
            await context.bot.edit_message_text(
                text, chat_id=figures.progress_chat_id, message_id=figures.progress_message_id
            )
            return figures.progress_message_id, True
    except BadRequest as error:
        if "not modified" in error.message.lower():
            return figures.progress_message_id, True  # another bot process showed it already
        # Otherwise the author deleted it: post a fresh one below.
    except Forbidden:
        return figures.progress_message_id, True
    except TelegramError as error:
        log.info("notice %s: progress not shown yet (%s)", figures.notice_id, error)
        return figures.progress_message_id, False
    try:
        sent = await context.bot.send_message(figures.progress_chat_id, text)
    except Forbidden:
        return figures.progress_message_id, True
    except TelegramError as error:
        log.info("notice %s: progress not shown yet (%s)", figures.notice_id, error)
        return figures.progress_message_id, False
    return sent.message_id, True


async def acknowledge(update: Update, context: WorkledgerContext) -> None:
    """Record "I have read this" once, for a recipient only."""
    query = update.callback_query
    member = context.member
    assert query is not None
    assert member is not None
    action = Acknowledge.from_press(query.data)
    now = context.now()
    async with context.uow() as uow:
        result = await notices.acknowledge(uow, action.notice_id, member.id, now=now)
    if isinstance(result, NoticeError):
        await query.answer(_error_text(context, result), show_alert=True)
        return
    first, new = result
    if not new:
        await query.answer(
            context._("You already confirmed reading this on {time}.").format(
                time=when(context, first)
            )
        )
        return
    await query.answer(context._("Thank you: your reading is recorded."))
    # If the button cannot be removed it stays; pressing it again changes nothing.
    with contextlib.suppress(TelegramError):
        await query.edit_message_reply_markup(None)
