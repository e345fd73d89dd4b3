"""Workday reminders: the jobs that queue them in each recipient's language, and their buttons.

The jobs tick every minute; ``assessment.reminders`` decides whether anything is due
and makes sure it is done once. The functions the jobs wrap take the moment as an
argument, so tests can run them at any time of any day.
"""

from __future__ import annotations

import contextlib
import functools
from datetime import date, datetime

from babel.dates import format_date, format_time
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError

from assessment import calendar, log_flow, reminders
from assessment.calendar import WorkCalendar
from assessment.outbox import Circular, Outgoing
from assessment.reminders import DayState, Languages, Recipient, SnoozeOutcome, TeamSummary
from handlers import log
from handlers.callbacks import ReminderAction
from handlers.context import BotData, WorkledgerContext
from handlers.formatting import lines_at_most, listed_at_most, person_label
from locales import Translator, resolve_locale, translator


def _day_text(day: date, language: Translator) -> str:
    return str(format_date(day, format="medium", locale=language.babel))


def _reminder_text(language: Translator, day: date) -> str:
    return language.gettext(
        "You have not logged any work for {date} yet.\n"
        "Send me what you did in one message, or tap Log now."
    ).format(date=_day_text(day, language))


def _keyboard(language: Translator, day: date, *, snooze: bool = True) -> InlineKeyboardMarkup:
    _ = language.gettext
    rows = [
        [InlineKeyboardButton(_("Log now"), callback_data=ReminderAction.of(day, "log").pack())]
    ]
    if snooze:
        rows.append(
            [
                InlineKeyboardButton(
                    _("Remind me in an hour"),
                    callback_data=ReminderAction.of(day, "snooze").pack(),
                )
            ]
        )
    rows.append(
        [
            InlineKeyboardButton(
                _("On leave today"), callback_data=ReminderAction.of(day, "leave").pack()
            )
        ]
    )
    return InlineKeyboardMarkup(rows)


def _recipient_language(person: Recipient | Languages, default: str) -> Translator:
    return translator(resolve_locale(person.language, person.telegram_language, default))


def _daily(default_language: str, readers: Languages, day: date) -> Circular:
    language = _recipient_language(readers, default_language)
    return reminders.daily_reminder(
        day, text=_reminder_text(language, day), markup=_keyboard(language, day).to_dict()
    )


def team_summary(default_language: str, summary: TeamSummary) -> Outgoing:
    """A supervisor's evening summary of who has not logged, in their language."""
    language = _recipient_language(summary.supervisor, default_language)
    _ = language.gettext
    count = len(summary.missing)
    lines = [
        _("Team log for {date}").format(date=_day_text(summary.day, language)),
        language.ngettext(
            "{count} person has not logged any work yet:",
            "{count} people have not logged any work yet:",
            count,
        ).format(count=count),
    ]
    missing = []
    for report in summary.missing:
        who = person_label(_, report.name, report.employee_no)
        missing.append(
            "• " + (who if report.linked else _("{person}, not joined yet").format(person=who))
        )
    # Both lists within one message (4,096): the missing first, then who is on leave.
    lines += lines_at_most(language.ngettext, missing, room=3300)
    if summary.on_leave:
        names = listed_at_most(
            _,
            language.ngettext,
            (person_label(_, r.name, r.employee_no) for r in summary.on_leave),
            room=400,
        )
        lines.append(_("On leave: {names}").format(names=names))
    return reminders.team_summary_message(summary, text="\n".join(lines))


async def send_daily_reminders(data: BotData, now: datetime) -> int | None:
    """Queue today's reminders if they are due at ``now``; how many, or None if not due."""
    return await reminders.run_daily(
        data.database.uow,
        WorkCalendar(data.policy),
        data.policy.reminders.daily_time,
        data.settings.zone,
        functools.partial(_daily, data.settings.language),
        now=now,
    )


async def send_team_summaries(data: BotData, now: datetime) -> int | None:
    """Queue today's team summaries if they are due at ``now``; how many, or None if not due."""
    return await reminders.run_team_summary(
        data.database.uow,
        WorkCalendar(data.policy),
        data.policy.reminders.team_summary_time,
        data.settings.zone,
        functools.partial(team_summary, data.settings.language),
        now=now,
    )


async def daily_reminder_tick(context: WorkledgerContext) -> None:
    """Job (every minute): remind whoever has not logged today, once, after the policy's time."""
    await send_daily_reminders(context.bot_data, context.now())


async def team_summary_tick(context: WorkledgerContext) -> None:
    """Job (every minute): tell supervisors who of their team has not logged today, once."""
    await send_team_summaries(context.bot_data, context.now())


async def answer_reminder(update: Update, context: WorkledgerContext) -> None:
    """Log now (start /log), remind me in an hour, or record today as leave."""
    query = update.callback_query
    member = context.member
    assert query is not None
    assert member is not None
    action = ReminderAction.from_press(query.data)
    _ = context._
    now = context.now()
    if action.action == "log":
        # The same guided entry as /log, asked in a new message below the reminder.
        await query.answer()
        async with context.uow() as uow:
            draft = await log_flow.start_log(uow, member.id, now=now)
        text, markup = log.question(context, draft)
        await context.bot.send_message(query.from_user.id, text, reply_markup=markup)
        return
    day = reminders.local_day(now, context.settings.zone)
    if action.work_date != day:
        await query.answer(_("This reminder is about an earlier day."), show_alert=True)
        return
    if action.action == "leave":
        async with context.uow() as uow:
            await calendar.set_leave(uow, member.id, day, by=member.id, now=now)
        noted = _("Noted: you are on leave today, {date}. No more reminders today.").format(
            date=_day_text(day, context.translator)
        )
        await query.answer(noted)
        # The reminder becomes the record of it; should that fail, the answer above said it.
        with contextlib.suppress(TelegramError):
            await query.edit_message_text(noted)
        return
    async with context.uow() as uow:
        outcome, due = await reminders.snooze(
            uow,
            member.id,
            query.from_user.id,
            day,
            text=_reminder_text(context.translator, day),
            markup=_keyboard(context.translator, day, snooze=False).to_dict(),
            now=now,
            zone=context.settings.zone,
        )
    texts = {
        SnoozeOutcome.QUEUED: _("I will remind you again at {time}."),
        SnoozeOutcome.ALREADY_QUEUED: _("I will already remind you again later today."),
        SnoozeOutcome.NOT_NEEDED: _("No need: today's work is logged, or you are on leave."),
        SnoozeOutcome.TOO_LATE: _("It is too late today for another reminder."),
    }
    time_text = format_time(
        due, format="short", tzinfo=context.settings.zone, locale=context.translator.babel
    )
    await query.answer(texts[outcome].format(time=time_text))
    if outcome is SnoozeOutcome.QUEUED:
        # The button did its work; if it cannot be removed, pressing it again is harmless.
        with contextlib.suppress(TelegramError):
            await query.edit_message_reply_markup(_keyboard(context.translator, day, snooze=False))


async def team_today(
    context: WorkledgerContext, supervisor_id: int
) -> tuple[date, bool, dict[str, DayState]]:
    """Today's date, whether it is a workday, and each direct report's state, for /team."""
    day = context.today()
    async with context.uow() as uow:
        states = await reminders.team_today(uow, supervisor_id, day)
    return day, WorkCalendar(context.policy).is_workday(day), states
