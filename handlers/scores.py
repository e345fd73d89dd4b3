"""A person's own results: the score notice with its chart, /score, and "I have read it".

Rendered from the stored breakdown (``Breakdown.from_json``) in the reader's language.
Nothing here ranks a person against colleagues, and nothing is ever sent to a group
chat: the notice goes to the person's private chat (the outbox row's chat is theirs),
and the gate answers commands in groups only with a pointer to a private chat.

The notice is one photo, the chart of the last twelve periods, with the result as its
caption (Telegram allows 1,024 characters): the score, the grade and the breakdown, each
part shortened if it must be, and a pointer to /score, which shows the whole breakdown
as a message of its own (up to 4,096) beside the same chart.
"""

from __future__ import annotations

import contextlib
import html
from collections.abc import Sequence
from decimal import Decimal

from babel.dates import format_skeleton
from babel.numbers import format_decimal
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest

from assessment import appeals, results
from assessment.chart_data import ChartLabels, HistoryPoint
from assessment.chart_worker import ChartRenderer
from assessment.periods import parse_key
from assessment.results import PublishedScore, ResultsError, ScoreNotice
from assessment.scoring import Breakdown, IndicatorPart
from config.policy import Policy
from handlers.callbacks import AppealAsk, ScoreRead
from handlers.clocks import until_text
from handlers.context import WorkledgerContext
from handlers.formatting import MAX_CAPTION, MAX_TEXT, answer_text, html_length, listed
from handlers.gate import claim
from locales import N_, Translator, resolve_locale, translator

RATER_NAMES = {
    "supervisor": N_("supervisor"),
    "self": N_("self"),
    "peer": N_("peers"),
    "service_recipient": N_("service recipients"),
    "third_party": N_("third parties"),
}
# A point's reason in the notice's caption, at most (the whole reason is in /score).
SHORT_REASON = 60


def language_of(notice: ScoreNotice, default: str) -> Translator:
    """The recipient's language: their choice, then their Telegram app's, then the default."""
    person = notice.recipient
    return translator(resolve_locale(person.language, person.telegram_language, default))


def number(language: Translator, value: Decimal) -> str:
    """A score or a weight as people read it: at most two decimals, no trailing zeros."""
    rounded = value.quantize(Decimal("0.01"))
    return str(format_decimal(rounded, format="#,##0.##", locale=language.babel))


def period_label(language: Translator, key: str, policy: Policy) -> str:
    """``November 2026`` (``2026年11月``), or the key of a quarter (``2026-Q4``)."""
    period = parse_key(key, policy)
    if period is None or period.quarterly:
        return key
    return str(format_skeleton("yMMMM", period.starts_on, locale=language.babel))


def grade_name(language: Translator, policy: Policy, grade_id: str | None) -> str:
    """A grade's name in the reader's language (its id if the policy no longer has it)."""
    if grade_id is None:
        return ""
    try:
        return policy.grade(grade_id).names.get(language.locale)
    except KeyError:
        return grade_id


def _indicator_name(language: Translator, policy: Policy, indicator_id: str) -> str:
    try:
        return policy.indicator(indicator_id).names.get(language.locale)
    except KeyError:
        return indicator_id


def _unit(language: Translator, policy: Policy, indicator_id: str) -> str:
    try:
        unit = policy.indicator(indicator_id).unit
    except KeyError:
        return ""
    return "" if unit is None else unit.get(language.locale)


def _indicator_line(language: Translator, policy: Policy, part: IndicatorPart) -> str:
    _ = language.gettext
    name = html.escape(_indicator_name(language, policy, part.indicator_id))
    assert part.score is not None and part.effective_weight is not None
    line = _("{indicator}: {score} × {weight}%").format(
        indicator=name,
        score=number(language, part.score),
        weight=number(language, part.effective_weight * 100),
    )
    if part.kind == "qualitative":
        rated = [
            _("{rater} {rating}").format(
                rater=_(RATER_NAMES.get(rater.rater, rater.rater)),
                rating=number(language, rater.mean),
            )
            for rater in part.raters
            if rater.mean is not None
        ]
        missing = [_(RATER_NAMES.get(r.rater, r.rater)) for r in part.raters if r.mean is None]
        detail = _("ratings: {ratings}").format(ratings=listed(_, rated))
        if missing:
            detail = _("{ratings}; {missing}").format(
                ratings=detail,
                missing=_("no rating yet from {raters}, weight spread over the rest").format(
                    raters=listed(_, missing)
                ),
            )
    elif part.aggregate == "mean":
        detail = language.ngettext(
            "mean of {count} entry: {value} {unit}",
            "mean of {count} entries: {value} {unit}",
            part.sample_size,
        ).format(
            count=part.sample_size,
            value=number(language, part.raw or Decimal(0)),
            unit=html.escape(_unit(language, policy, part.indicator_id)),
        )
    else:
        detail = _("{value} {unit}").format(
            value=number(language, part.raw or Decimal(0)),
            unit=html.escape(_unit(language, policy, part.indicator_id)),
        )
    return "• " + _("{line} ({detail})").format(line=line, detail=detail.strip())


def _points_lines(
    language: Translator, breakdown: Breakdown, *, short: bool
) -> tuple[list[str], bool]:
    """The points: a line per kind (bonus, deduction) with what counts, then a line per
    point with its reason (cut to ``SHORT_REASON`` when ``short``); and whether any was."""
    _ = language.gettext
    lines = []
    cut = False
    tally = breakdown.tally
    bonuses = [fact for fact in breakdown.points if fact.amount > 0]
    deductions = [fact for fact in breakdown.points if fact.amount < 0]
    for sign, given, counted, limit, facts in (
        ("+", tally.bonus, tally.counted_bonus, tally.bonus_limit, bonuses),
        ("−", tally.deduction, tally.counted_deduction, tally.deduction_limit, deductions),
    ):
        if not facts:
            continue
        if given > limit:
            head = _("{sign}{given} points, of which {counted} count (at most {limit})").format(
                sign=sign,
                given=number(language, given),
                counted=number(language, counted),
                limit=number(language, limit),
            )
        else:
            head = _("{sign}{given} points").format(sign=sign, given=number(language, given))
        lines.append(head)
        for fact in facts:
            reason = fact.reason
            if short and len(reason) > SHORT_REASON:
                reason = reason[: SHORT_REASON - 1].rstrip() + "…"
                cut = True
            lines.append(
                "  "
                + _("{amount}: {reason}").format(
                    amount=sign + number(language, abs(fact.amount)), reason=html.escape(reason)
                )
            )
    return lines, cut


def result_text(
    language: Translator,
    policy: Policy,
    result: PublishedScore,
    breakdown: Breakdown | None,
    *,
    room: int = MAX_TEXT,
) -> str:
    """A published result in HTML: the period, score, grade and the breakdown, within
    ``room`` characters as Telegram counts them (the breakdown's lines shortened or left
    out, with a pointer to /score, if they do not fit)."""
    _ = language.gettext
    short = room < MAX_TEXT
    head = [
        "<b>"
        + html.escape(
            _("Your result for {period}").format(
                period=period_label(language, result.period_key, policy)
            )
        )
        + "</b>",
        _("Score: <b>{score}</b>").format(score=number(language, result.score)),
        _("Grade: <b>{grade}</b>").format(
            grade=html.escape(grade_name(language, policy, result.grade_id))
        ),
    ]
    computed = result.breakdown.get("score")
    if isinstance(computed, str) and Decimal(computed) != result.score:
        # Changed on review or appeal: the breakdown explains the score as computed.
        head.append(
            html.escape(
                _("Changed on review or appeal; computed from the records: {score}").format(
                    score=number(language, Decimal(computed))
                )
            )
        )
    lines: list[str] = []
    cut = False
    if breakdown is not None:
        lines.append(_("How it is made up:"))
        lines += [
            _indicator_line(language, policy, part)
            for part in breakdown.indicators
            if part.present
        ]
        missing = [
            html.escape(_indicator_name(language, policy, indicator))
            for indicator in breakdown.missing_indicators
        ]
        if missing:
            lines.append(
                _("Nothing to go on for {indicators}: their weight went to the rest.").format(
                    indicators=listed(_, missing)
                )
            )
        lines.append(
            _("Indicators together: {base}").format(base=number(language, breakdown.base))
        )
        points, cut = _points_lines(language, breakdown, short=short)
        lines += points
    text = "\n".join(head)
    # Short (a caption): what does not fit, or was cut, is in /score. Whole (/score):
    # what does not fit in one message is counted.
    more = "\n" + _("The whole breakdown: /score")
    for index, line in enumerate(lines):
        last = index == len(lines) - 1
        tail = more if short else "\n" + _rest_line(language, len(lines))
        reserve = tail if not last or (short and cut) else ""
        if html_length(text + "\n" + line + reserve) > room:
            rest = len(lines) - index
            return text + (more if short else "\n" + _rest_line(language, rest))
        text += "\n" + line
    return text + (more if short and cut else "")


def _rest_line(language: Translator, count: int) -> str:
    return language.ngettext(
        "...and {count} more line.", "...and {count} more lines.", count
    ).format(count=count)


def chart_request(
    language: Translator, policy: Policy, notice: ScoreNotice
) -> tuple[list[HistoryPoint], ChartLabels, list[tuple[Decimal, str]]]:
    """What the chart of a notice is drawn from: its twelve periods, texts and thresholds."""
    _ = language.gettext
    points = [
        HistoryPoint(key, score, grade_name(language, policy, grade) if grade else None)
        for key, score, grade in notice.history
    ]
    labels = ChartLabels(
        title=_("Your score, last {count} periods").format(count=len(points)),
        y_axis=_("Score"),
        no_scores=_("No scores yet"),
    )
    thresholds = [
        (Decimal(grade.min_score), grade.names.get(language.locale))
        for grade in policy.grades
        if grade.min_score > 0
    ]
    return points, labels, thresholds


def read_keyboard(
    language: Translator, period_id: int, *, read: bool = False
) -> InlineKeyboardMarkup:
    """The notice's buttons: "I have read it" (until pressed), "Ask for review", "Appeal"
    (the press checks the windows)."""
    _ = language.gettext
    rows = [
        [
            InlineKeyboardButton(
                _("Ask for review"), callback_data=AppealAsk(period_id, "review").pack()
            ),
            InlineKeyboardButton(_("Appeal"), callback_data=AppealAsk(period_id, "appeal").pack()),
        ]
    ]
    if not read:
        rows.insert(
            0,
            [InlineKeyboardButton(_("I have read it"), callback_data=ScoreRead(period_id).pack())],
        )
    return InlineKeyboardMarkup(rows)


async def send_notice(
    bot: Bot, charts: ChartRenderer, policy: Policy, notice: ScoreNotice, default_language: str
) -> Message:
    """Send a score notice to its person's private chat: the chart, the result as caption.

    The chart is drawn now, in the renderer's worker, and dropped once sent.

    Raises:
        BadRequest: the person has no chat.
        ChartError, TelegramError: left to the caller (the outbox sender retries).
    """
    chat_id = notice.recipient.chat_id
    if chat_id is None:
        raise BadRequest("The person has no Telegram account linked")
    language = language_of(notice, default_language)
    points, labels, thresholds = chart_request(language, policy, notice)
    png = await charts.render(points, labels, thresholds=thresholds)
    markup = read_keyboard(
        language, notice.result.period_id, read=notice.result.read_at is not None
    )
    return await bot.send_photo(
        chat_id,
        png,
        caption=result_text(language, policy, notice.result, notice.breakdown, room=MAX_CAPTION),
        parse_mode="HTML",
        reply_markup=markup,
    )


def _history_lines(
    language: Translator, policy: Policy, everything: Sequence[PublishedScore]
) -> list[str]:
    _ = language.gettext
    return [
        _("{period}: {score} · {grade}").format(
            period=html.escape(period_label(language, item.period_key, policy)),
            score=number(language, item.score),
            grade=html.escape(grade_name(language, policy, item.grade_id)),
        )
        for item in everything
    ]


async def score_command(update: Update, context: WorkledgerContext) -> None:
    """/score: my latest published result with its chart, and every published period."""
    message = update.effective_message
    member = context.member
    assert message is not None and member is not None
    async with context.uow() as uow:
        latest, everything = await results.my_results(uow, member.id, context.policy)
        opened = [
            await appeals.window(
                uow,
                member,
                latest.result.period_id,
                kind,
                context.policy,
                today=context.today(),
                zone=context.settings.zone,
            )
            for kind in appeals.KINDS
            if latest is not None
        ]
    _ = context._
    windows = [
        (
            _("You may ask for review of {period} until {until}.")
            if window.kind == appeals.REVIEW
            else _("You may appeal {period} until {until}.")
        ).format(
            period=period_label(context.translator, window.period_key, context.policy),
            until=until_text(context.translator, window.due_on, context.today()),
        )
        for window in opened
        if isinstance(window, appeals.Window)
    ]
    if latest is None:
        await message.reply_text(
            _("No results of yours are published yet. You will get a notice when they are.")
        )
        return
    language = context.translator
    policy = context.policy
    text = result_text(language, policy, latest.result, latest.breakdown, room=MAX_TEXT - 600)
    history = _history_lines(language, policy, everything)
    listed = []
    used = html_length(text)
    for line in history:
        used += html_length(line) + 1
        if used > MAX_TEXT - 100:
            break
        listed.append(line)
    text += "".join("\n" + html.escape(line) for line in windows)
    text += "\n\n<b>" + html.escape(_("Published results:")) + "</b>\n" + "\n".join(listed)
    markup = read_keyboard(
        language, latest.result.period_id, read=latest.result.read_at is not None
    )
    await message.reply_text(text, parse_mode="HTML", reply_markup=markup)
    points, labels, thresholds = chart_request(language, policy, latest)
    png = await context.bot_data.charts.render(points, labels, thresholds=thresholds)
    await message.reply_photo(png)


async def read_it(update: Update, context: WorkledgerContext) -> None:
    """ "I have read it": recorded once, for whoever presses, on their own result."""
    query = update.callback_query
    member = context.member
    assert query is not None and member is not None
    action = ScoreRead.from_press(query.data)
    async with context.uow() as uow:
        outcome = await results.mark_read(uow, member, action.period_id, now=context.now())
    _ = context._
    if isinstance(outcome, ResultsError):
        await claim(context)
        await query.answer(
            _("There is no published result of yours to confirm here."), show_alert=True
        )
        return
    if not outcome[1]:
        await claim(context)
    await query.answer(answer_text(_("Thank you: your reading is recorded.")))
    if query.message is not None:
        # too old, or already without its button: the reading stands
        with contextlib.suppress(BadRequest):
            await query.edit_message_reply_markup(
                reply_markup=read_keyboard(context.translator, action.period_id, read=True)
            )
