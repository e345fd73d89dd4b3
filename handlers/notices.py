"""/notices (HR): the latest notices, who has not read one, reminders, the delivery list.

Only queued or finished notices are ever shown; a draft, a cancelled notice and
an id that never existed all get the same answer. Text is sent without a parse
mode, so names and excerpts need no escaping; reminders are HTML like the notice.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from datetime import datetime

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.error import BadRequest

from assessment.notices import (
    Person,
    Review,
    delivery_list,
    not_acknowledged,
    remind,
    reminder_for,
    review,
    reviews,
)
from assessment.outbox import Outgoing
from handlers.broadcast import audience_text
from handlers.callbacks import (
    Acknowledge,
    CallbackData,
    NoticeDetails,
    NoticeExport,
    NoticeList,
    NoticeRemind,
    parse,
)
from handlers.context import WorkledgerContext
from handlers.formatting import MAX_TEXT as MAX_TEXT  # handlers.roster reads it from here
from handlers.formatting import fit, listed, when
from handlers.notice_exports import as_csv, as_xlsx, delivery_table
from locales import resolve_locale, translator

LATEST = 10
EXCERPT = 40
LONG_EXCERPT = 200
BUTTON_EXCERPT = 24
MAX_NUMBERS = 30
_TAG = re.compile(r"<[^>]*>")


def cut(text: str, length: int) -> str:
    """``text`` whole if it is at most ``length`` characters, else shortened with an ellipsis."""
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


def excerpt(text: str | None, length: int) -> str:
    """The notice's text as plain words (tags dropped, entities decoded), cut to ``length``."""
    return cut(" ".join(html.unescape(_TAG.sub("", text or "")).split()), length)


def _more(context: WorkledgerContext) -> Callable[[int], str]:
    return lambda count: context.ngettext(
        "...and {count} more", "...and {count} more", count
    ).format(count=count)


def _content(context: WorkledgerContext, item: Review, length: int) -> str:
    notice = item.notice
    if notice.text:
        return excerpt(notice.text, length)
    if notice.attachment_kind == "photo":
        return context._("With a photo.")
    return context._("With a document.")


def _figures(context: WorkledgerContext, item: Review) -> str:
    _ = context._
    figures = item.figures
    parts = [
        context.ngettext("{count} recipient", "{count} recipients", figures.recipients).format(
            count=figures.recipients
        ),
        _("delivered {count}").format(count=figures.sent),
        _("failed {count}").format(count=figures.failed),
        _("unreachable {count}").format(count=figures.unreachable),
    ]
    if figures.waiting:
        parts.append(_("waiting {count}").format(count=figures.waiting))
    if item.notice.requires_ack:
        parts.append(_("read {count}").format(count=figures.acknowledged))
    return " · ".join(parts)


def _listing(
    context: WorkledgerContext, items: Sequence[Review]
) -> tuple[str, InlineKeyboardMarkup | None]:
    _ = context._
    if not items:
        return _("No notices have been sent yet. /broadcast sends one."), None
    lines = [_("Latest notices, newest first:")]
    for item in items:
        queued = when(context, item.queued_at) if item.queued_at else ""
        lines += [
            "",
            f"#{item.notice.id} · {queued} · {_content(context, item, EXCERPT)}",
            _figures(context, item),
        ]
    buttons = [
        [
            InlineKeyboardButton(
                f"#{item.notice.id} {_content(context, item, BUTTON_EXCERPT)}",
                callback_data=NoticeDetails(item.notice.id).pack(),
            )
        ]
        for item in items
    ]
    return "\n".join(lines), InlineKeyboardMarkup(buttons)


async def _details(
    context: WorkledgerContext, item: Review, unread: Sequence[Person]
) -> tuple[str, InlineKeyboardMarkup]:
    _ = context._
    notice, figures = item.notice, item.figures
    lines = [_("Notice #{id} from {name}").format(id=notice.id, name=item.author)]
    if item.queued_at:
        lines.append(_("Queued: {time}").format(time=when(context, item.queued_at)))
    if notice.send_at and notice.send_at > context.now():
        lines.append(_("Scheduled for: {time}").format(time=when(context, notice.send_at)))
    audience = cut(await audience_text(context, notice.audience), LONG_EXCERPT)
    lines += [
        _content(context, item, LONG_EXCERPT),
        _("Audience: {audience}").format(audience=audience),
        _figures(context, item),
    ]
    if figures.not_linked:
        hidden = len(figures.not_linked) - MAX_NUMBERS
        more = [_more(context)(hidden)] if hidden > 0 else []
        numbers = listed(_, [*figures.not_linked[:MAX_NUMBERS], *more])
        lines.append(_("Not joined at the time, so not sent: {numbers}").format(numbers=numbers))
    if not notice.requires_ack:
        lines.append(_("Read confirmation: not asked"))
    elif not unread:
        lines.append(_("Everyone who received it has confirmed reading it."))
    else:
        lines.append(
            context.ngettext(
                "Not read yet: {count} person", "Not read yet: {count} people", len(unread)
            ).format(count=len(unread))
        )
    text = fit("\n".join(lines), [f"{p.employee_no} {p.name}" for p in unread], _more(context))
    rows = []
    if notice.requires_ack and unread:
        rows.append(
            [InlineKeyboardButton(_("Remind them"), callback_data=NoticeRemind(notice.id).pack())]
        )
    rows += [
        [
            InlineKeyboardButton(
                _("Export CSV"), callback_data=NoticeExport(notice.id, "csv").pack()
            ),
            InlineKeyboardButton(
                _("Export XLSX"), callback_data=NoticeExport(notice.id, "xlsx").pack()
            ),
        ],
        [InlineKeyboardButton(_("Back"), callback_data=NoticeList().pack())],
    ]
    return text, InlineKeyboardMarkup(rows)


def _reminder(context: WorkledgerContext, item: Review, person: Person, now: datetime) -> Outgoing:
    locale = resolve_locale(person.language, person.telegram_language, context.settings.language)
    _ = translator(locale).gettext
    button = _("I have read this")
    text = html.escape(
        _("Reminder: please read the notice from {name} and press “{button}”.").format(
            name=item.author, button=button
        )
    )
    quoted = excerpt(item.notice.text, LONG_EXCERPT)
    if quoted:
        text += "\n\n<i>" + html.escape(quoted) + "</i>"
    markup = InlineKeyboardMarkup(
        [[InlineKeyboardButton(button, callback_data=Acknowledge(item.notice.id).pack())]]
    ).to_dict()
    return reminder_for(item.notice.id, person, text=text, markup=markup, now=now)


def _action(update: Update) -> tuple[CallbackQuery, CallbackData]:
    query = update.callback_query
    assert query is not None
    action = parse(query.data)
    assert action is not None, "the gate lets only valid callback data through"
    return query, action


async def _unknown(context: WorkledgerContext, query: CallbackQuery) -> None:
    await query.answer(context._("There is no sent notice with this number."), show_alert=True)


async def _replace(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None) -> None:
    try:
        await query.edit_message_text(text, reply_markup=markup)
    except BadRequest as error:
        if "not modified" in str(error).lower():
            return
        if query.message is None:
            raise
        # The message can no longer be edited: say it afresh instead.
        await query.get_bot().send_message(query.message.chat.id, text, reply_markup=markup)


async def list_notices(update: Update, context: WorkledgerContext) -> None:
    """List the latest notices with their delivery and reading figures."""
    message = update.effective_message
    assert message is not None
    async with context.uow() as uow:
        items = await reviews(uow, LATEST)
    text, markup = _listing(context, items)
    await message.reply_text(text, reply_markup=markup)


async def back_to_list(update: Update, context: WorkledgerContext) -> None:
    """Turn a notice's details back into the list."""
    query, _ = _action(update)
    async with context.uow() as uow:
        items = await reviews(uow, LATEST)
    await query.answer()
    await _replace(query, *_listing(context, items))


async def show_details(update: Update, context: WorkledgerContext) -> None:
    """Show one notice: figures, audience, who has not read it, and what HR can do next."""
    query, action = _action(update)
    assert isinstance(action, NoticeDetails)
    async with context.uow() as uow:
        item = await review(uow, action.notice_id)
        unread = await not_acknowledged(uow, action.notice_id) if item else []
    if item is None:
        await _unknown(context, query)
        return
    await query.answer()
    await _replace(query, *await _details(context, item, unread))


async def remind_unread(update: Update, context: WorkledgerContext) -> None:
    """Queue a reminder, with the read button, to each recipient who has not read the notice."""
    query, action = _action(update)
    assert isinstance(action, NoticeRemind)
    _ = context._
    now = context.now()
    unread: list[Person] = []
    queued = 0
    async with context.uow() as uow:
        item = await review(uow, action.notice_id)
        if item is not None and item.notice.requires_ack:
            unread = [p for p in await not_acknowledged(uow, item.notice.id) if p.telegram_user_id]
        if item is not None and unread:
            queued = await remind(
                uow, item.notice.id, lambda person: _reminder(context, item, person, now), now=now
            )
    if item is None:
        await _unknown(context, query)
    elif not item.notice.requires_ack:
        await query.answer(_("This notice did not ask to confirm reading."), show_alert=True)
    elif not unread:
        await query.answer(_("There is nobody left to remind."))
    elif queued == 0:
        await query.answer(_("They were already reminded this hour; nothing new was sent."))
    else:
        await query.answer(
            context.ngettext(
                "Reminder queued for {count} person.",
                "Reminders queued for {count} people.",
                queued,
            ).format(count=queued)
        )


async def export(update: Update, context: WorkledgerContext) -> None:
    """Send a notice's delivery list as a CSV or XLSX document."""
    query, action = _action(update)
    assert isinstance(action, NoticeExport)
    chat = update.effective_chat
    assert chat is not None
    async with context.uow() as uow:
        item = await review(uow, action.notice_id)
        lines = await delivery_list(uow, action.notice_id) if item else []
    if item is None:
        await _unknown(context, query)
        return
    await query.answer()
    header, rows = delivery_table(context, lines)
    content = (
        as_csv(header, rows)
        if action.fmt == "csv"
        else as_xlsx(header, rows, title=context._("Delivery list"))
    )
    await context.bot.send_document(
        chat.id,
        InputFile(content, filename=f"notice-{action.notice_id}-delivery.{action.fmt}"),
        caption=context._("Notice #{id}: delivery list").format(id=action.notice_id),
    )
