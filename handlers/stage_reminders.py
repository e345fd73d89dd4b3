"""The monthly check's reminders in each recipient's language, and the job that sends them.

``assessment.stage_reminders`` decides which are due and makes sure each goes once;
this module writes their texts (within Telegram's limits, however long the lists)
and wraps the job, which takes the moment as an argument so tests can run it at any
time of any day.
"""

from __future__ import annotations

import functools
from datetime import date, datetime

from babel.dates import format_date, format_skeleton

from assessment import stage_reminders
from assessment.calendar import WorkCalendar
from assessment.periods import Period
from assessment.stage_reminders import CloseNotice, OverdueReviews, Reminder, TeamReviews
from handlers.context import BotData, WorkledgerContext
from handlers.formatting import lines_at_most, listed_at_most, person_label
from locales import Translator, resolve_locale, translator
from storage.repositories.calendar import Recipient

__all__ = [
    "close_text",
    "overdue_text",
    "renderers",
    "send_stage_reminders",
    "stage_reminder_tick",
    "team_text",
]


def _language(person: Recipient, default: str) -> Translator:
    return translator(resolve_locale(person.language, person.telegram_language, default))


# Cached: a batch writes hundreds of reminders that name the same few days (Babel takes
# tens of microseconds a date), and the loop must not wait for them.
@functools.cache
def _period(language: Translator, period: Period) -> str:
    # As /reopen names it: "November 2026", or the key of a quarter ("2026-Q4").
    if period.quarterly:
        return period.key
    return str(format_skeleton("yMMMM", period.starts_on, locale=language.babel))


@functools.cache
def _date(language: Translator, day: date) -> str:
    return str(format_date(day, format="medium", locale=language.babel))


@functools.cache
def _short_date(language: Translator, day: date) -> str:
    return str(format_skeleton("MMMd", day, locale=language.babel))


def close_text(default_language: str, notice: CloseNotice) -> str:
    """A person's "close your period", in their language."""
    language = _language(notice.state.recipient, default_language)
    _ = language.gettext
    n_ = language.ngettext
    state = notice.state
    values = {"period": _period(language, notice.period), "date": _date(language, notice.due)}
    if notice.reminder is Reminder.SELF_OPEN:
        heading = _("The self-assessment of {period} is open until {date}. Close your period:")
    else:
        heading = _("Your self-assessment of {period} is due on {date}. Close your period:")
    lines = [heading.format(**values)]
    if state.missing:
        # At most 30 days by date, then how many more: a quarter has some 65 workdays.
        days = listed_at_most(_, n_, (_short_date(language, day) for day in state.missing))
        lines.append(
            n_(
                "• {count} workday with no entry: {days}. Log it with /log.",
                "• {count} workdays with no entry: {days}. Log them with /log.",
                len(state.missing),
            ).format(count=len(state.missing), days=days)
        )
    if state.returned:
        lines.append(
            n_(
                "• {count} entry was returned to you for changes: see /month.",
                "• {count} entries were returned to you for changes: see /month.",
                state.returned,
            ).format(count=state.returned)
        )
    if state.pending:
        lines.append(
            n_(
                "• {count} entry is still waiting for approval.",
                "• {count} entries are still waiting for approval.",
                state.pending,
            ).format(count=state.pending)
        )
    if not state.self_submitted:
        lines.append(_("• Your self-assessment is still missing: send /self."))
    return "\n".join(lines)


def team_text(default_language: str, notice: TeamReviews) -> str:
    """A reviewer's reminder of their team's reviews not yet signed off, in their language."""
    language = _language(notice.reviewer, default_language)
    _ = language.gettext
    n_ = language.ngettext
    count = len(notice.people)
    names = listed_at_most(
        _, n_, (person_label(_, person.name, person.employee_no) for person in notice.people)
    )
    return "\n".join(
        [
            _("Your team's reviews of {period} are due on {date}.").format(
                period=_period(language, notice.period), date=_date(language, notice.due)
            ),
            n_(
                "{count} review is not signed off yet: {names}",
                "{count} reviews are not signed off yet: {names}",
                count,
            ).format(count=count, names=names),
            _("Open /review to review them."),
        ]
    )


def overdue_text(default_language: str, notice: OverdueReviews) -> str:
    """HR's notice of the period's reviews still missing, per reviewer, in their language."""
    language = _language(notice.hr, default_language)
    _ = language.gettext
    n_ = language.ngettext
    rows = []
    for row in notice.by_reviewer:
        if row.reviewer_id is None or row.name is None or row.employee_no is None:
            who = _("No reviewer")
        else:
            who = person_label(_, row.name, row.employee_no)
        rows.append(_("• {reviewer}: {count}").format(reviewer=who, count=row.count))
    lines = [
        _("Reviews of {period} are overdue: they were due on {date}.").format(
            period=_period(language, notice.period), date=_date(language, notice.due)
        ),
        n_(
            "{count} review is not signed off yet. By reviewer:",
            "{count} reviews are not signed off yet. By reviewer:",
            notice.total,
        ).format(count=notice.total),
    ]
    # Most missing first; within one message, then how many reviewers more.
    return "\n".join(lines + lines_at_most(n_, rows))


def renderers(default_language: str) -> stage_reminders.Renderers:
    """The reminders' texts, each in its recipient's language (else ``default_language``)."""
    return stage_reminders.Renderers(
        close=functools.partial(close_text, default_language),
        team=functools.partial(team_text, default_language),
        overdue=functools.partial(overdue_text, default_language),
    )


async def send_stage_reminders(data: BotData, now: datetime) -> dict[str, int | None]:
    """Queue the monthly check's reminders due at ``now`` (see ``stage_reminders.run``)."""
    return await stage_reminders.run(
        data.database.uow,
        data.policy,
        WorkCalendar(data.policy),
        data.settings.zone,
        renderers(data.settings.language),
        now=now,
    )


async def stage_reminder_tick(context: WorkledgerContext) -> None:
    """Job (every minute): the monthly check's reminders on their days, each once."""
    await send_stage_reminders(context.bot_data, context.now())
