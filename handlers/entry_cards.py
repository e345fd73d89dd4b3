"""How a work entry looks in chat: its card, its buttons, and why a change was refused."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from types import MappingProxyType

from babel.dates import format_skeleton
from babel.numbers import format_decimal
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from assessment.calendar import WorkCalendar
from assessment.entries import EntryView, Rules
from assessment.entry_rules import EntryError
from assessment.log_flow import Step
from handlers.callbacks import EntryAction
from handlers.context import WorkledgerContext
from locales import N_
from storage.enums import EntryStatus

# Why an entry of a period under review cannot be added, changed or decided (within
# the 200 characters of a button's alert); the approvals say it too.
CLOSED_PERIOD_TEXT = N_(
    "That day's assessment period is under review: its entries can no longer be added, "
    "changed or decided. If something must change, HR can reopen it."
)
# Room for the card's other lines inside Telegram's 4,096 characters.
CARD_TEXT = 3000

STATUS_NAMES: Mapping[EntryStatus, str] = MappingProxyType(
    {
        EntryStatus.SUBMITTED: N_("submitted"),
        EntryStatus.APPROVED: N_("approved"),
        EntryStatus.RETURNED: N_("returned"),
        EntryStatus.REJECTED: N_("rejected"),
        EntryStatus.DELETED: N_("deleted"),
    }
)
STATUS_MARKS: Mapping[EntryStatus, str] = MappingProxyType(
    {
        EntryStatus.SUBMITTED: "⏳",
        EntryStatus.APPROVED: "✅",
        EntryStatus.RETURNED: "↩️",
        EntryStatus.REJECTED: "❌",
        EntryStatus.DELETED: "🗑",
    }
)


def today(context: WorkledgerContext) -> date:
    """The organisation-local date now."""
    return context.today()


def rules(context: WorkledgerContext) -> Rules:
    """What entries are checked against now: the policy, the work calendar, today (and
    the time zone it is a day of)."""
    return Rules(
        context.policy,
        WorkCalendar(context.policy),
        today(context),
        context.bot_data.settings.zone,
    )


def day_label(context: WorkledgerContext, day: date) -> str:
    """A short date with its weekday, e.g. ``Mon, Nov 23`` or ``11月23日周一``."""
    return str(format_skeleton("MMMEd", day, locale=context.translator.babel))


def month_label(context: WorkledgerContext, month: date) -> str:
    """A month and year, e.g. ``November 2026`` or ``2026年11月``."""
    return str(format_skeleton("yMMMM", month, locale=context.translator.babel))


def amount(context: WorkledgerContext, value: Decimal) -> str:
    """A number with the locale's separators."""
    return str(format_decimal(value, locale=context.translator.babel))


def status_name(context: WorkledgerContext, status: EntryStatus) -> str:
    """The caller-language name of an entry's status, with its mark."""
    return f"{STATUS_MARKS[status]} {context._(STATUS_NAMES[status])}"


def indicator_name(context: WorkledgerContext, indicator_id: str) -> str:
    """An indicator's name in the caller's language (its id if the policy no longer has it)."""
    try:
        return context.policy.indicator(indicator_id).names.get(context.locale)
    except KeyError:
        return indicator_id


def unit_of(context: WorkledgerContext, indicator_id: str | None) -> str | None:
    """The unit an indicator is counted in, in the caller's language, if it has one."""
    if indicator_id is None:
        return None
    try:
        unit = context.policy.indicator(indicator_id).unit
    except KeyError:
        return None
    return None if unit is None else unit.get(context.locale)


def shortened(text: str, limit: int) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def quantity_text(context: WorkledgerContext, entry: EntryView) -> str | None:
    """``12 permits``, or None without a quantity."""
    if entry.quantity is None:
        return None
    unit = unit_of(context, entry.indicator_id)
    figure = amount(context, entry.quantity)
    return f"{figure} {unit}" if unit else figure


def card(
    context: WorkledgerContext,
    entry: EntryView,
    heading: str | None = None,
    *,
    with_status: bool = True,
) -> str:
    """An entry as its author reads it: date, status, text, and whatever else it has."""
    _ = context._
    lines = [heading] if heading else []
    day = day_label(context, entry.work_date)
    lines.append(f"{day} · {status_name(context, entry.status)}" if with_status else day)
    text = entry.text if len(entry.text) <= CARD_TEXT else entry.text[: CARD_TEXT - 1] + "…"
    lines.append(text)
    if entry.indicator_id is not None:
        lines.append(
            _("Indicator: {name}").format(name=indicator_name(context, entry.indicator_id))
        )
    quantity = quantity_text(context, entry)
    if quantity is not None:
        lines.append(_("Quantity: {quantity}").format(quantity=quantity))
    if entry.hours is not None:
        lines.append(_("Hours: {hours}").format(hours=amount(context, entry.hours)))
    if entry.attachments:
        lines.append(
            context.ngettext(
                "Evidence: {count} file", "Evidence: {count} files", entry.attachments
            ).format(count=entry.attachments)
        )
    if entry.status is EntryStatus.RETURNED and entry.decision_reason:
        lines.append(_("Returned: {reason}").format(reason=entry.decision_reason))
    return "\n".join(lines)


def card_buttons(context: WorkledgerContext, entry: EntryView) -> list[list[tuple[str, str]]]:
    """(label, callback data) rows to complete, change or delete an entry; none once decided."""
    if not entry.editable:
        return []
    _ = context._

    def button(label: str, action: str) -> tuple[str, str]:
        return label, EntryAction(entry.id, action).pack()

    evidence = [button(_("+ Evidence"), Step.EVIDENCE)]
    if context.policy.entries.max_attachments == 0:
        evidence = []  # the policy takes no attachments at all
    return [
        [
            button(_("+ Indicator"), Step.INDICATOR),
            button(_("+ Quantity"), Step.QUANTITY),
            button(_("+ Hours"), Step.HOURS),
        ],
        [
            *evidence,
            button(_("Change date"), Step.DATE),
            button(_("Edit text"), Step.TEXT),
        ],
        [button(_("Delete"), "delete")],
    ]


def card_keyboard(context: WorkledgerContext, entry: EntryView) -> InlineKeyboardMarkup | None:
    """The buttons to complete, change or delete an entry; none once it is decided."""
    rows = card_buttons(context, entry)
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


def error_text(context: WorkledgerContext, error: EntryError) -> str:
    """Why an entry, a change or an answer was refused, in the caller's language."""
    _ = context._
    limits = context.policy.entries
    texts = {
        EntryError.EMPTY_TEXT: _("There is no text to log: the message was empty."),
        EntryError.TEXT_TOO_LONG: _(
            "That is too long for one entry: at most {limit} characters. "
            "Nothing was saved; please shorten it or split it into two messages."
        ).format(limit=limits.max_text_length),
        EntryError.NOT_A_DATE: _("That is not a date I understand. Try 2026-11-20 or 11-20."),
        EntryError.FUTURE_DATE: _("Work cannot be logged for a day that has not come yet."),
        EntryError.TOO_FAR_BACK: context.ngettext(
            "That day is too far back: entries may be dated at most {count} workday ago.",
            "That day is too far back: entries may be dated at most {count} workdays ago.",
            limits.backdate_workdays,
        ).format(count=limits.backdate_workdays),
        EntryError.CLOSED_PERIOD: _(CLOSED_PERIOD_TEXT),
        EntryError.NOT_A_NUMBER: _("Please type a number, such as 2 or 1.5."),
        EntryError.HOURS_OUT_OF_RANGE: _(
            "Hours must be from {low} to {high}, with at most two decimals."
        ).format(low=amount(context, limits.min_hours), high=amount(context, limits.max_hours)),
        EntryError.QUANTITY_OUT_OF_RANGE: _(
            "The quantity must be zero or more, with at most three decimals."
        ),
        EntryError.UNKNOWN_INDICATOR: _("That indicator is not one of your post's."),
        EntryError.TOO_MANY_ATTACHMENTS: context.ngettext(
            "An entry can have at most {count} attachment.",
            "An entry can have at most {count} attachments.",
            limits.max_attachments,
        ).format(count=limits.max_attachments),
        EntryError.ATTACHMENT_TOO_LARGE: _(
            "That file is too large: at most {size} MB. It was not added."
        ).format(size=amount(context, limits.max_attachment_mb)),
        EntryError.UNKNOWN_ENTRY: _("This entry does not exist."),
        EntryError.NOT_YOURS: _("Only the author of an entry can change it."),
        EntryError.DELETED: _("This entry was deleted."),
        EntryError.DECIDED: _("This entry was already decided by your supervisor."),
        EntryError.CHANGED: _(
            "This entry was changed meanwhile (perhaps decided); nothing was saved."
        ),
        EntryError.NOTHING_IN_PROGRESS: _("Nothing is in progress. /log starts a new entry."),
        EntryError.STEP_OVER: _("That question was already answered."),
        EntryError.WRONG_ANSWER: _("Please answer with the buttons above, or /cancel."),
        EntryError.NO_TEXT_YET: _("The entry has no text yet."),
        EntryError.NO_EVIDENCE: _("No file was added; the entry is unchanged."),
        EntryError.NO_INDICATORS: _("Your post has no indicators to choose from."),
    }
    return texts[error]
