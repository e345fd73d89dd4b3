"""/today and /month (my entries, workdays left empty, leave) and the buttons of an entry.

Long records are paged: a page stays well inside Telegram's 4,096 characters and
carries one button per entry on it, which opens that entry with its own buttons.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from assessment import entries, entry_views, log_flow
from assessment.entries import EntryError, EntryView
from assessment.entry_views import DayRecord, MonthRecord
from assessment.log_flow import Step
from handlers.callbacks import MAX_PAGE, DayPage, EntryAction, EntryOpen, MonthPage
from handlers.context import WorkledgerContext
from handlers.entry_cards import (
    amount,
    card,
    card_keyboard,
    day_label,
    error_text,
    month_label,
    quantity_text,
    rules,
    shortened,
    status_name,
    today,
)
from handlers.log import question

# A page's text stays this short, and its entry buttons this few (Telegram: 4,096, 100).
PAGE_CHARACTERS = 3500
PAGE_ENTRIES = 20
BUTTONS_PER_ROW = 5
LINE_TEXT = 60


@dataclass(frozen=True, slots=True)
class _Line:
    """One line of a record: a day's heading or note, or an entry (numbered per page)."""

    text: str
    entry: EntryView | None = None


def _entry_line(context: WorkledgerContext, entry: EntryView) -> str:
    parts = [
        context._("{status}: {text}").format(
            status=status_name(context, entry.status), text=shortened(entry.text, LINE_TEXT)
        )
    ]
    quantity = quantity_text(context, entry)
    if quantity is not None:
        parts.append(quantity)
    if entry.hours is not None:
        parts.append(context._("{hours} h").format(hours=amount(context, entry.hours)))
    if entry.attachments:
        parts.append(f"📎{entry.attachments}")
    return " · ".join(parts)


def _day_lines(context: WorkledgerContext, record: DayRecord) -> list[_Line]:
    _ = context._
    label = day_label(context, record.day)
    if record.on_leave and not record.entries:
        return [_Line("🌴 " + _("{day}: on leave").format(day=label))]
    if record.missing:
        return [_Line("⚠️ " + _("{day}: no entry").format(day=label))]
    heading = _("{day} (on leave)").format(day=label) if record.on_leave else label
    return [_Line(heading)] + [
        _Line(_entry_line(context, entry), entry) for entry in record.entries
    ]


def _pages(lines: list[_Line], room: int) -> list[list[_Line]]:
    pages: list[list[_Line]] = [[]]
    used = entries_on_page = 0
    for line in lines:
        # The number put before an entry ("12. ") is counted with it.
        size = len(line.text) + 5
        full = used + size > room or (line.entry is not None and entries_on_page >= PAGE_ENTRIES)
        if full and pages[-1]:
            pages.append([])
            used = entries_on_page = 0
        pages[-1].append(line)
        used += size
        entries_on_page += line.entry is not None
    return pages


def _page(
    context: WorkledgerContext,
    header: str,
    lines: list[_Line],
    page: int,
    turn: type[MonthPage | DayPage],
    key: str,
) -> tuple[str, list[list[InlineKeyboardButton]]]:
    """One page's text and its entry and page buttons (``page`` is clamped to the last)."""
    pages = _pages(lines, PAGE_CHARACTERS - len(header))
    page = min(page, len(pages) - 1)
    texts = [header, ""] if pages[page] else [header]
    opened: list[InlineKeyboardButton] = []
    for line in pages[page]:
        if line.entry is None:
            texts.append(line.text)
            continue
        number = len(opened) + 1
        texts.append(f"{number}. {line.text}")
        opened.append(
            InlineKeyboardButton(f"✎ {number}", callback_data=EntryOpen(line.entry.id).pack())
        )
    rows = [opened[i : i + BUTTONS_PER_ROW] for i in range(0, len(opened), BUTTONS_PER_ROW)]
    if len(pages) > 1:
        texts += [
            "",
            context._("Page {page} of {pages}").format(page=page + 1, pages=len(pages)),
        ]
        turns = []
        if page > 0:
            turns.append(InlineKeyboardButton("◀", callback_data=turn(key, page - 1).pack()))
        if page < len(pages) - 1 and page < MAX_PAGE:  # the parser takes up to MAX_PAGE
            turns.append(InlineKeyboardButton("▶", callback_data=turn(key, page + 1).pack()))
        rows.append(turns)
    return "\n".join(texts), rows


def _month_page(
    context: WorkledgerContext, record: MonthRecord, page: int
) -> tuple[str, InlineKeyboardMarkup]:
    _ = context._
    count, missing, leave = len(record.entries), len(record.missing), len(record.leave)
    header = "\n".join(
        [
            month_label(context, record.month),
            " · ".join(
                [
                    context.ngettext("{count} entry", "{count} entries", count).format(
                        count=count
                    ),
                    context.ngettext(
                        "{count} workday without an entry",
                        "{count} workdays without an entry",
                        missing,
                    ).format(count=missing),
                    context.ngettext(
                        "{count} day of leave", "{count} days of leave", leave
                    ).format(count=leave),
                ]
            ),
        ]
    )
    lines = [line for day in record.days for line in _day_lines(context, day)]
    key = record.month.strftime("%Y-%m")
    text, rows = _page(context, header, lines, page, MonthPage, key)
    months = [
        InlineKeyboardButton(
            "‹ " + month_label(context, record.previous),
            callback_data=MonthPage(record.previous.strftime("%Y-%m"), 0).pack(),
        )
    ]
    if record.next is not None:
        months.append(
            InlineKeyboardButton(
                month_label(context, record.next) + " ›",
                callback_data=MonthPage(record.next.strftime("%Y-%m"), 0).pack(),
            )
        )
    return text, InlineKeyboardMarkup([*rows, months])


def _day_page(
    context: WorkledgerContext, record: DayRecord, page: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    _ = context._
    header = _("Today, {day}").format(day=day_label(context, record.day))
    if record.on_leave:
        header += "\n" + _("You are on leave today.")
    if not record.entries:
        if record.workday and not record.on_leave:
            header += "\n" + _(
                "Nothing logged yet. Send me a message to log your work, or use /log."
            )
        elif not record.workday:
            header += "\n" + _("Not a workday.")
        return header, None
    lines = [_Line(_entry_line(context, entry), entry) for entry in record.entries]
    text, rows = _page(context, header, lines, page, DayPage, record.day.isoformat())
    return text, InlineKeyboardMarkup(rows)


async def show_today(update: Update, context: WorkledgerContext) -> None:
    """/today: my entries of today with their status, or that I still owe one."""
    message = update.effective_message
    member = context.member
    assert message is not None and member is not None
    current = rules(context)
    async with context.uow() as uow:
        record = await entry_views.day_record(
            uow, member.id, current.today, calendar=current.calendar
        )
    text, markup = _day_page(context, record, 0)
    await message.reply_text(text, reply_markup=markup)


async def _month(context: WorkledgerContext, month: date) -> MonthRecord:
    member = context.member
    assert member is not None
    current = rules(context)
    async with context.uow() as uow:
        return await entry_views.month_record(
            uow, member.id, month, today=current.today, calendar=current.calendar
        )


async def show_month(update: Update, context: WorkledgerContext) -> None:
    """/month: this month's record, with buttons to other months and pages."""
    message = update.effective_message
    assert message is not None
    record = await _month(context, entry_views.month_of(today(context)))
    text, markup = _month_page(context, record, 0)
    await message.reply_text(text, reply_markup=markup)


async def turn_month(update: Update, context: WorkledgerContext) -> None:
    """Another month or page of the record."""
    query = update.callback_query
    assert query is not None
    action = MonthPage.from_press(query.data)
    month = date.fromisoformat(action.month + "-01")
    if month > today(context):
        await query.answer(context._("That month has not begun yet."), show_alert=True)
        return
    text, markup = _month_page(context, await _month(context, month), action.page)
    await query.answer()
    await query.edit_message_text(text, reply_markup=markup)


async def turn_day(update: Update, context: WorkledgerContext) -> None:
    """Another page of a day's record."""
    query = update.callback_query
    member = context.member
    assert query is not None and member is not None
    action = DayPage.from_press(query.data)
    current = rules(context)
    async with context.uow() as uow:
        record = await entry_views.day_record(
            uow, member.id, date.fromisoformat(action.day), calendar=current.calendar
        )
    text, markup = _day_page(context, record, action.page)
    await query.answer()
    await query.edit_message_text(text, reply_markup=markup)


async def open_entry(update: Update, context: WorkledgerContext) -> None:
    """Show one of my entries with its buttons, below the list."""
    query = update.callback_query
    member = context.member
    assert query is not None and member is not None
    action = EntryOpen.from_press(query.data)
    async with context.uow() as uow:
        entry = await entries.own_entry(uow, action.entry_id, member.id)
    if isinstance(entry, EntryError):
        await query.answer(error_text(context, entry), show_alert=True)
        return
    await query.answer()
    await context.bot.send_message(
        query.from_user.id, card(context, entry), reply_markup=card_keyboard(context, entry)
    )


def _delete_keyboard(context: WorkledgerContext, entry_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    context._("Yes, delete it"),
                    callback_data=EntryAction(entry_id, "delete_yes").pack(),
                ),
                InlineKeyboardButton(
                    context._("Keep it"), callback_data=EntryAction(entry_id, "delete_no").pack()
                ),
            ]
        ]
    )


async def act(update: Update, context: WorkledgerContext) -> None:
    """An entry's button: ask one question to change it, or delete it after a confirmation."""
    query = update.callback_query
    member = context.member
    assert query is not None and member is not None
    action = EntryAction.from_press(query.data)
    day = today(context)
    now = context.now()
    async with context.uow() as uow:
        if action.action == "delete_yes":
            result: EntryView | EntryError | log_flow.LogDraft = await entries.delete_entry(
                uow, action.entry_id, member.id, today=day, policy=context.policy, now=now
            )
        elif action.action in ("delete", "delete_no"):
            result = await entries.open_entry(uow, action.entry_id, member.id, day, context.policy)
        else:
            result = await log_flow.start_edit(
                uow, member.id, action.entry_id, Step(action.action), rules(context), now=now
            )
    if isinstance(result, EntryError):
        await query.answer(error_text(context, result), show_alert=True)
        return
    await query.answer()
    if isinstance(result, log_flow.LogDraft):
        text, markup = question(context, result)
        await context.bot.send_message(query.from_user.id, text, reply_markup=markup)
    elif action.action == "delete":
        await query.edit_message_reply_markup(_delete_keyboard(context, result.id))
    elif action.action == "delete_no":
        await query.edit_message_reply_markup(card_keyboard(context, result))
    else:
        await query.edit_message_text(card(context, result, context._("Deleted.")))
