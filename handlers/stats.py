"""/stats [YYYY-MM]: statistics as text and as a chart, HR's of the organisation and a
supervisor's of their own people.

Adapters only: ``assessment.stats`` decides who is counted (from the store, on every
request) and the database computes the figures. The chart is drawn by a chart worker
(``ChartRenderer.render_stats``), never on the event loop; the text comes first, so a
chart that cannot be drawn costs only the picture.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from babel.numbers import format_currency, format_decimal, format_percent
from telegram import Update

from assessment import periods
from assessment.chart_worker import ChartError
from assessment.stats import Stats, StatsError, organisation_cap, organisation_stats
from assessment.stats_chart import MAX_DEPARTMENTS, StatsChart
from handlers.context import WorkledgerContext
from handlers.formatting import MAX_TEXT
from handlers.scores import grade_name, period_label
from locales import Translator
from storage.models import BonusRun

log = logging.getLogger(__name__)


def money(language: Translator, run: BonusRun, units: int) -> str:
    """Steps of ``run``'s rounding as money in its currency."""
    amount = Decimal(units) * Decimal(str(run.factors["step"]))
    return str(format_currency(amount, str(run.factors["currency"]), locale=language.babel))


def _percent(language: Translator, share: float | None) -> str:
    if share is None:
        return "–"
    return str(format_percent(share, "#,##0%", locale=language.babel))


def duration_text(language: Translator, seconds: float | None) -> str:
    """``45 min``, ``3.5 h`` or ``2.1 d``: a time to decision, rounded for reading."""
    _ = language.gettext
    if seconds is None:
        return "–"
    if seconds < 3600:
        minutes = format_decimal(round(seconds / 60), locale=language.babel)
        return _("{minutes} min").format(minutes=minutes)
    if seconds < 48 * 3600:
        hours = format_decimal(round(seconds / 3600, 1), locale=language.babel)
        return _("{hours} h").format(hours=hours)
    days = format_decimal(round(seconds / 86400, 1), locale=language.babel)
    return _("{days} d").format(days=days)


def stats_lines(context: WorkledgerContext, stats: Stats) -> list[str]:
    """The statistics as lines of text, in the reader's language."""
    _ = context._
    language = context.translator
    policy = context.policy
    lines = [
        _("Statistics of the whole organisation")
        if stats.whole_organisation
        else _("Statistics of your people")
    ]
    lines += [
        "",
        _("Logging rate (workdays with an entry), {period} and {year}, through {date}:").format(
            period=period_label(language, stats.period.key, policy),
            year=stats.year,
            date=stats.through.isoformat(),
        ),
    ]
    for department in stats.departments:
        lines.append(
            "• "
            + _("{department} ({people}): {period} this period, {year} this year").format(
                department=department.name,
                people=department.people,
                period=_percent(language, department.period_rate),
                year=_percent(language, department.year_rate),
            )
        )
    lines += ["", _("Approvals: waiting now, and median time to decision this period:")]
    for department in stats.departments:
        lines.append(
            "• "
            + _("{department}: {waiting} waiting, median {median} ({decided} decided)").format(
                department=department.name,
                waiting=department.backlog,
                median=duration_text(language, department.median_seconds),
                decided=department.decided,
            )
        )
    lines.append("")
    if stats.results_period_key is None:
        lines.append(_("Grades: no results are published yet."))
    else:
        lines.append(
            _("Grades, {period}:").format(
                period=period_label(language, stats.results_period_key, policy)
            )
        )
        top = policy.grades[0].id
        for department in stats.departments:
            grades = department.grades
            if grades is None:
                continue
            shown = ", ".join(
                f"{grade_name(language, policy, grade.id)} {grades.counts[grade.id]}"
                for grade in policy.grades
                if grades.counts.get(grade.id)
            )
            line = f"{department.name}: {shown}"
            if grades.top_cap is not None:
                line += " " + _("(top grade {given} of at most {cap})").format(
                    given=grades.counts.get(top, 0), cap=grades.top_cap
                )
            lines.append("• " + line)
        whole = organisation_cap(policy, stats)
        if whole is not None:
            lines.append(
                _("Top grade in the organisation: {given} of at most {cap}").format(
                    given=whole[0], cap=whole[1]
                )
            )
    run = stats.bonus_run
    if stats.results_period_key is not None:
        lines.append("")
        if run is None:
            lines.append(_("Bonus: no run of that period is published yet."))
        else:
            total = sum(d.bonus_units or 0 for d in stats.departments)
            lines.append(
                _("Bonus paid for {period} (run {number}): {total}").format(
                    period=period_label(language, stats.results_period_key, policy),
                    number=run.number,
                    total=money(language, run, total),
                )
            )
            for department in stats.departments:
                if department.bonus_units is not None:
                    lines.append(
                        f"• {department.name}: " + money(language, run, department.bonus_units)
                    )
    if stats.appeals and stats.results_period_key is not None:
        lines += ["", _("Reviews and appeals of {period}:").format(
            period=period_label(language, stats.results_period_key, policy)
        )]  # fmt: skip
        kinds = {"review": _("Reviews"), "appeal": _("Appeals")}
        states = {"open": _("awaiting a decision"), "upheld": _("upheld"), "changed": _("changed")}
        for kind in ("review", "appeal"):
            counts = [a for a in stats.appeals if a.kind == kind]
            if counts:
                parts = ", ".join(f"{states.get(a.outcome, a.outcome)} {a.count}" for a in counts)
                lines.append(f"• {kinds[kind]}: {parts}")
    return lines


def stats_chart(context: WorkledgerContext, stats: Stats) -> StatsChart:
    """The chart of the first departments (by name), its texts in the reader's language."""
    _ = context._
    language = context.translator
    policy = context.policy
    shown = stats.departments[:MAX_DEPARTMENTS]
    graded = any(department.grades is not None for department in shown)
    return StatsChart(
        title=_("Statistics of the whole organisation")
        if stats.whole_organisation
        else _("Statistics of your people"),
        rates_title=_("Logging rate"),
        grades_title=(
            _("Grades, {period}").format(
                period=period_label(language, stats.results_period_key, policy)
            )
            if stats.results_period_key
            else _("Grades")
        ),
        period_label=period_label(language, stats.period.key, policy),
        year_label=str(stats.year),
        no_grades=_("No published results"),
        departments=tuple(department.name for department in shown),
        period_rates=tuple(department.period_rate for department in shown),
        year_rates=tuple(department.year_rate for department in shown),
        grade_names=tuple(grade_name(language, policy, grade.id) for grade in policy.grades),
        grade_counts=tuple(
            tuple(
                (department.grades.counts.get(grade.id, 0) if department.grades else 0)
                for grade in policy.grades
            )
            for department in shown
        )
        if graded
        else (),
    )


def _text(lines: list[str], more: str) -> str:
    text = ""
    for line in lines:
        if len(text) + len(line) + len(more) + 2 > MAX_TEXT:
            return f"{text}\n{more}"
        text = f"{text}\n{line}" if text else line
    return text


async def stats_command(update: Update, context: WorkledgerContext) -> None:
    """/stats [YYYY-MM]: the statistics of the current period, or of the one given."""
    message = update.effective_message
    member = context.member
    assert message is not None and member is not None
    _ = context._
    period = None
    if context.args:
        period = periods.parse_key(context.args[0], context.policy)
        if period is None:
            await message.reply_text(
                _("Write the period as YYYY-MM (or YYYY-Q1..Q4 for quarters).")
            )
            return
    async with context.uow() as uow:
        stats = await organisation_stats(
            uow,
            member,
            context.policy,
            today=context.today(),
            zone=context.bot_data.settings.zone,
            period=period,
        )
    if stats is StatsError.NOT_PERMITTED:
        await message.reply_text(_("Sorry, you do not have permission to do that."))
        return
    if stats is StatsError.NOBODY:
        await message.reply_text(_("There is nobody to count yet."))
        return
    assert isinstance(stats, Stats)
    await message.reply_text(_text(stats_lines(context, stats), _("… (more than fits here)")))
    try:
        png = await context.bot_data.charts.render_stats(stats_chart(context, stats))
    except ChartError:
        log.exception("the statistics chart could not be drawn")
        return
    await message.reply_photo(png)
