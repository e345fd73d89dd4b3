"""/self and /review: a person's self-assessment and their supervisor's review card.

Adapters only: ``assessment.review`` decides, on every command, press and answer, who
may act, in which stage, on which version.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from babel.dates import format_skeleton
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest
from telegram.ext import ApplicationHandlerStop

from assessment import review
from assessment.calendar import WorkCalendar
from assessment.people import StaffMember
from assessment.periods import Period, Stage, milestones
from assessment.review import Card, PointsError, PointsKind, Refusal, SelfCard
from config.policy import Indicator
from handlers.callbacks import (
    ReviewList,
    ReviewOpen,
    ReviewPoints,
    ReviewRate,
    ReviewSignOff,
    SelfOpen,
    SelfRate,
    SelfText,
)
from handlers.context import WorkledgerContext
from handlers.entry_cards import amount, day_label
from handlers.formatting import (
    MAX_TEXT,
    answer_text,
    button_page,
    day,
    lines_at_most,
    listed_at_most,
    person_label,
    telegram_length,
)
from handlers.gate import claim
from handlers.periods import period_label

SELF_CONVERSATION = review.SELF_QUESTION
POINTS_CONVERSATION = review.POINTS_QUESTION
# Rating buttons in one row (rating_max is at most 10: two rows at most).
RATINGS_PER_ROW = 5
INVALID = "This button is no longer valid."
# Telegram's most buttons on one message, and the card's buttons besides the ratings.
MAX_BUTTONS = 100
OTHER_BUTTONS = 5


def _indicator_name(context: WorkledgerContext, indicator: Indicator) -> str:
    return indicator.names.get(context.locale)


def _post_type_name(context: WorkledgerContext, post_type: str | None) -> str | None:
    if post_type is None or post_type not in context.policy.post_types:
        return None
    return context.policy.post_types[post_type].names.get(context.locale)


def _rating_rows(
    context: WorkledgerContext,
    indicators: Sequence[Indicator],
    scale: range,
    label: Any,
    press: Any,
) -> list[list[InlineKeyboardButton]]:
    # Each indicator: its name (pressing it shows the card again), then one button a number;
    # as many indicators as fit in Telegram's 100 buttons beside the card's other buttons.
    rows: list[list[InlineKeyboardButton]] = []
    used = OTHER_BUTTONS
    for indicator in indicators:
        used += 1 + len(scale)
        if used > MAX_BUTTONS:
            break
        rows.append(
            [InlineKeyboardButton(_indicator_name(context, indicator), callback_data=label)]
        )
        numbers = [
            InlineKeyboardButton(str(value), callback_data=press(indicator.id, value))
            for value in scale
        ]
        rows.extend(
            numbers[start : start + RATINGS_PER_ROW]
            for start in range(0, len(numbers), RATINGS_PER_ROW)
        )
    return rows


def _ratings_lines(
    context: WorkledgerContext, indicators: Sequence[Indicator], ratings: dict[str, int]
) -> list[str]:
    _ = context._
    return [
        "• "
        + _("{indicator}: {rating}").format(
            indicator=_indicator_name(context, indicator),
            rating=ratings[indicator.id] if indicator.id in ratings else _("not rated yet"),
        )
        for indicator in indicators
    ]


def _moment(context: WorkledgerContext, moment: datetime | None) -> str:
    return "?" if moment is None else day(context, moment)


# --------------------------------------------------------------------------- /self


def refusal_text(context: WorkledgerContext, refusal: Refusal, *, own: bool = False) -> str:
    """Why a self-assessment or review action was refused, in the caller's language."""
    _ = context._
    if refusal is Refusal.SIGNED_OFF:
        if own:
            return _(
                "Your supervisor has signed off your review: your self-assessment can no "
                "longer change."
            )
        return _("Already signed off.")
    if refusal is Refusal.PUBLISHED:
        return _("This period's results are published: its review can no longer change.")
    if refusal is Refusal.NO_POINTS_LEFT:
        return _("No more points of that kind count this period: the limit is reached.")
    if refusal is Refusal.TEXT_EMPTY:
        return _("That message has no visible text. Send your self-assessment as text.")
    if refusal is Refusal.TEXT_TOO_LONG:
        return _("That is too long: at most {limit} characters. Nothing was saved.").format(
            limit=review.MAX_SELF_TEXT
        )
    return _(INVALID)


def self_text(context: WorkledgerContext, card: SelfCard) -> str:
    """The person's self-assessment as it is saved."""
    _ = context._
    lines = [_("Self-assessment: {period}").format(period=period_label(context, card.period))]
    if card.second_line:
        lines.append(
            _("You are assessed against the indicators of the role you hold now: {post_type}.")
            .format(post_type=_post_type_name(context, card.review.post_type) or "-")
        )  # fmt: skip
    lines.append("")
    if card.review.self_text:
        lines += [_("Your text:"), card.review.self_text]
    else:
        lines.append(_("You have not written your text yet."))
    if card.indicators:
        lines += [
            "",
            _("Your ratings (1 to {top}):").format(top=card.scale[-1]),
            *_ratings_lines(context, card.indicators, card.ratings),
        ]
    lines.append("")
    if card.closed is Refusal.SIGNED_OFF:
        lines.append(
            _("Locked: your supervisor signed off your review on {day}.").format(
                day=_moment(context, card.review.signed_off_at)
            )
        )
    elif card.closed is Refusal.PUBLISHED:
        lines.append(_("Locked: this period's results are published."))
    else:
        lines.append(_("You can change it until your supervisor signs off your review."))
    following = card.period.next()
    opens = milestones(following, context.policy).self_opens
    if card.closed is not None and context.today() < opens:
        lines.append(
            _("The self-assessment of {period} opens on {day}.").format(
                period=period_label(context, following), day=day_label(context, opens)
            )
        )
    return "\n".join(lines)


def self_keyboard(context: WorkledgerContext, card: SelfCard) -> InlineKeyboardMarkup | None:
    """Write the text, and rate each indicator; none once it is locked."""
    if card.closed is not None:
        return None
    _ = context._
    review_id, version = card.review.id, card.review.version
    label = _("Change my text") if card.review.self_text else _("Write my text")
    rows = [[InlineKeyboardButton(label, callback_data=SelfText(review_id).pack())]]
    rows += _rating_rows(
        context,
        card.indicators,
        card.scale,
        SelfOpen(review_id).pack(),
        lambda indicator, value: SelfRate(review_id, version, indicator, value).pack(),
    )
    return InlineKeyboardMarkup(rows)


async def self_command(update: Update, context: WorkledgerContext) -> None:
    """/self: my self-assessment of the period, created if missing."""
    message = update.effective_message
    member = context.member
    assert message is not None and member is not None
    async with context.uow() as uow:
        card = await review.self_card(
            uow,
            member,
            context.policy,
            today=context.today(),
            zone=context.settings.zone,
            now=context.now(),
        )
    if isinstance(card, Refusal):
        await message.reply_text(_published_self(context))
        return
    await message.reply_text(self_text(context, card), reply_markup=self_keyboard(context, card))


def _published_self(context: WorkledgerContext) -> str:
    _ = context._
    period = review.self_period(context.today(), context.policy).next()
    opens = milestones(period, context.policy).self_opens
    return _(
        "This period's results are published, so its self-assessment is closed. The "
        "self-assessment of {period} opens on {day}."
    ).format(period=period_label(context, period), day=day_label(context, opens))


async def _edit(message: Any, text: str, markup: InlineKeyboardMarkup | None) -> None:
    # The pressed card shows what is saved now (unchanged, deleted or too old: no matter).
    if not isinstance(message, Message):
        return
    with contextlib.suppress(BadRequest):
        await message.edit_text(text, reply_markup=markup)


async def _show_self(update: Update, context: WorkledgerContext, review_id: int) -> None:
    query = update.callback_query
    member = context.member
    assert query is not None and member is not None
    async with context.uow() as uow:
        card = await review.self_card(
            uow,
            member,
            context.policy,
            today=context.today(),
            zone=context.settings.zone,
            now=context.now(),
            review_id=review_id,
        )
    if isinstance(card, SelfCard):
        await _edit(query.message, self_text(context, card), self_keyboard(context, card))


async def self_open(update: Update, context: WorkledgerContext) -> None:
    """An indicator's name on the self card: show the card as it is saved now."""
    query = update.callback_query
    member = context.member
    assert query is not None and member is not None
    action = SelfOpen.from_press(query.data)
    async with context.uow() as uow:
        card = await review.self_card(
            uow,
            member,
            context.policy,
            today=context.today(),
            zone=context.settings.zone,
            now=context.now(),
            review_id=action.review_id,
        )
    await claim(context)
    if isinstance(card, Refusal):
        await query.answer(refusal_text(context, card, own=True), show_alert=True)
        return
    await query.answer(context._("Choose a number in the row below the indicator."))
    await _edit(query.message, self_text(context, card), self_keyboard(context, card))


async def _save_rating(
    context: WorkledgerContext,
    member: StaffMember,
    action: SelfRate | ReviewRate,
    kind: Literal["self", "supervisor"],
) -> Refusal | None:
    """A rating button's rating saved, by the person themself or by the reviewer."""
    async with context.uow() as uow:
        return await review.rate(
            uow,
            member,
            action.review_id,
            action.version,
            action.indicator,
            action.value,
            kind,
            context.policy,
            today=context.today(),
            zone=context.settings.zone,
            now=context.now(),
        )


async def self_rate(update: Update, context: WorkledgerContext) -> None:
    """A self-rating button."""
    query = update.callback_query
    member = context.member
    assert query is not None and member is not None
    action = SelfRate.from_press(query.data)
    refused = await _save_rating(context, member, action, "self")
    if refused is not None:
        await claim(context)
        await query.answer(refusal_text(context, refused, own=True), show_alert=True)
    else:
        await query.answer(context._("Saved."))
    if refused is None or refused in (Refusal.STALE, Refusal.SIGNED_OFF, Refusal.PUBLISHED):
        await _show_self(update, context, action.review_id)


async def self_ask_text(update: Update, context: WorkledgerContext) -> None:
    """Write my text: the next message is the self-assessment."""
    query = update.callback_query
    member = context.member
    assert query is not None and member is not None
    action = SelfText.from_press(query.data)
    async with context.uow() as uow:
        card = await review.self_card(
            uow,
            member,
            context.policy,
            today=context.today(),
            zone=context.settings.zone,
            now=context.now(),
            review_id=action.review_id,
        )
        if isinstance(card, SelfCard) and card.closed is None:
            await uow.conversations.save(
                member.id,
                SELF_CONVERSATION,
                "text",
                {"review_id": action.review_id},
                at=context.now(),
            )
            await uow.commit()
    if isinstance(card, Refusal) or card.closed is not None:
        await claim(context)
        refusal = card if isinstance(card, Refusal) else card.closed
        assert refusal is not None
        await query.answer(refusal_text(context, refusal, own=True), show_alert=True)
        return
    await query.answer()
    await context.bot.send_message(
        query.from_user.id,
        context._(
            "Send your self-assessment as one message, at most {limit} characters (or /cancel)."
        ).format(limit=review.MAX_SELF_TEXT),
    )


# --------------------------------------------------------------------------- /review


def _published_review(context: WorkledgerContext, period: Period) -> str:
    _ = context._
    following = period.next()
    return _(
        "The results of {period} are published. The review of {next} starts on {day}."
    ).format(
        period=period_label(context, period),
        next=period_label(context, following),
        day=day_label(context, milestones(following, context.policy).review_starts),
    )


async def review_command(update: Update, context: WorkledgerContext) -> None:
    """/review: my people for the period under review, each a button."""
    message = update.effective_message
    assert message is not None
    page = await _team_page(context, review.review_period(context.today(), context.policy), 0)
    assert page is not None  # the period under review is always someone's to review
    await message.reply_text(page[0], reply_markup=page[1])


async def _team_page(
    context: WorkledgerContext, period: Period, page: int
) -> tuple[str, InlineKeyboardMarkup | None] | None:
    """The text and buttons of a page of my people; None for a period nobody reviews."""
    member = context.member
    assert member is not None
    _ = context._
    async with context.uow() as uow:
        stage = await review.stage_of(
            uow, period, context.today(), context.policy, context.settings.zone
        )
        people = await review.team(
            uow, member, period, today=context.today(), policy=context.policy
        )
    if people is None:
        return None
    if stage is Stage.PUBLISHED:
        return _published_review(context, period), None
    if not people:
        return _("Nobody reports to you on the roster: there is nobody for you to review."), None
    done = sum(1 for person in people if person.signed_off_at is not None)
    text = _(
        "Your people to review for {period}: {done} of {count} signed off.\n"
        "✓ signed off, ✎ self-assessment written. Choose a person."
    ).format(period=period_label(context, period), done=done, count=len(people))
    buttons = [
        InlineKeyboardButton(
            person_label(_, person.name, person.employee_no)
            + (" ✓" if person.signed_off_at else "")
            + (" ✎" if person.self_submitted_at else ""),
            callback_data=ReviewOpen(period.key, person.staff_id).pack(),
        )
        for person in people
    ]
    rows = button_page(buttons, page, lambda n: ReviewList(period.key, n).pack())
    return text, InlineKeyboardMarkup(rows)


async def turn_team(update: Update, context: WorkledgerContext) -> None:
    """A page of my people."""
    query = update.callback_query
    assert query is not None
    action = ReviewList.from_press(query.data)
    period = review.parse_period(action.period, context.policy)
    page = None if period is None else await _team_page(context, period, action.page)
    await claim(context)
    if page is None:
        await query.answer(context._(INVALID), show_alert=True)
        return
    await query.answer()
    await _edit(query.message, page[0], page[1])


def card_text(context: WorkledgerContext, card: Card) -> str:
    """A person's review card: everything on one screen, within Telegram's limit."""
    _ = context._
    head = [
        _("Review of {person}, {period}").format(
            person=person_label(_, card.person.name, card.person.employee_no),
            period=period_label(context, card.period),
        ),
        _("Post type: {post_type}").format(
            post_type=_post_type_name(context, card.post_type) or _("none")
        ),
    ]
    if card.second_line:
        head.append(
            _("Second-line staff: reviewed against the indicators of the role they hold now.")
        )
    head += ["", _("Approved entries:")]
    for line in card.lines:
        unit = line.indicator.unit.get(context.locale) if line.indicator.unit else ""
        if line.mean is not None:
            figure = _("mean {value} {unit}").format(
                value=amount(context, _round(line.mean)), unit=unit
            )
        else:
            figure = f"{amount(context, line.total)} {unit}"
        head.append(
            "• "
            + context.ngettext(
                "{indicator}: {figure} ({count} entry)",
                "{indicator}: {figure} ({count} entries)",
                line.entries,
            ).format(
                indicator=_indicator_name(context, line.indicator),
                figure=figure.strip(),
                count=line.entries,
            )
        )
    if card.other_entries:
        head.append("• " + _("Other approved entries: {count}").format(count=card.other_entries))
    covered = card.workdays - len(card.missing)
    workdays = _("Workdays: {covered} of {count} covered.").format(
        covered=covered, count=card.workdays
    )
    if card.missing:
        workdays += " " + _("Missing: {days}").format(
            days=listed_at_most(
                _, context.ngettext, [_short_day(context, missing) for missing in card.missing],
                room=300,
            )
        )  # fmt: skip
    head += [workdays, _("Still pending: {pending}; returned: {returned}.").format(
        pending=card.pending, returned=card.returned)]  # fmt: skip
    head += ["", _("Self-assessment:"), card.review.self_text or _("not written yet")]
    if card.self_ratings:
        rated_by_self = review.rated_indicators(context.policy, card.post_type, "self")
        head += [_("Self-ratings:"), *_ratings_lines(context, rated_by_self, card.self_ratings)]
    if card.rated:
        head += ["", _("Your ratings (1 to {top}):").format(top=card.scale[-1])]
        head += _ratings_lines(context, card.rated, card.ratings)
    tail = [
        "",
        _("Points left this period: bonus {bonus}, deduction {deduction}.").format(
            bonus=amount(context, card.left.bonus), deduction=amount(context, card.left.deduction)
        ),
    ]
    tail.append(_estimate_line(context, card))
    if card.closed is Refusal.SIGNED_OFF:
        tail.append(
            _("Signed off on {day}.").format(day=_moment(context, card.review.signed_off_at))
        )
    elif card.closed is Refusal.PUBLISHED:
        tail.append(_("This period's results are published."))
    else:
        tail.append(_("Not signed off yet."))
    points = [
        _point_line(context, point.amount, point.reason, point.disqualifying)
        for point in card.points
    ]
    text = "\n".join(head)
    room = MAX_TEXT - telegram_length(text) - telegram_length("\n".join(tail)) - 40
    if points:
        shown = lines_at_most(context.ngettext, points, room=max(room, 200))
        text += "\n\n" + _("Points:") + "\n" + "\n".join(shown)
    text += "\n" + "\n".join(tail)
    while telegram_length(text) > MAX_TEXT:  # not reached: the parts are bounded above
        text = text[: len(text) - (telegram_length(text) - MAX_TEXT) - 1] + "…"
    return text


def _estimate_line(context: WorkledgerContext, card: Card) -> str:
    _ = context._
    if card.estimate is None:
        return _("Score now: none (no post type with indicators).")
    score, preview = card.estimate
    grade = context.policy.grade(preview.grade_id).names.get(context.locale)
    line = _("Score now: {score}, grade {grade}.").format(
        score=amount(context, score.value), grade=grade
    )
    top = context.policy.top_grade.names.get(context.locale)
    if preview.assignment.barred:
        line += " " + _("A disqualifying fact bars {top}.").format(top=top)
    elif preview.assignment.capped:
        line += " " + _("{top} by score, but the quota is full.").format(top=top)
    return (
        line
        + "\n"
        + _("{top} places left in {department}: {count}.").format(
            top=top, department=card.department, count=max(preview.places_left, 0)
        )
    )


def _short_day(context: WorkledgerContext, day: date) -> str:
    # A missing workday in a list: "Nov 9", "11月9日".
    return str(format_skeleton("MMMd", day, locale=context.translator.babel))


def _round(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01")).normalize()


def _point_line(
    context: WorkledgerContext, value: Decimal, reason: str, disqualifying: bool
) -> str:
    _ = context._
    sign = "+" if value > 0 else "−"
    line = f"• {sign}{amount(context, abs(value))}: {reason}"
    if disqualifying:
        line += " " + _("(bars the top grade)")
    return line


def card_keyboard(context: WorkledgerContext, card: Card) -> InlineKeyboardMarkup:
    """Ratings, points, Sign off (while it may change), and back to my people."""
    _ = context._
    back = [
        InlineKeyboardButton(_("« My people"), callback_data=ReviewList(card.period.key, 0).pack())
    ]
    if card.closed is not None:
        return InlineKeyboardMarkup([back])
    review_id, version = card.review.id, card.review.version
    rows = _rating_rows(
        context,
        card.rated,
        card.scale,
        ReviewOpen(card.period.key, card.person.id).pack(),
        lambda indicator, value: ReviewRate(review_id, version, indicator, value).pack(),
    )
    rows.append(
        [
            InlineKeyboardButton(
                _("+ points"), callback_data=ReviewPoints(review_id, version, "b").pack()
            ),
            InlineKeyboardButton(
                _("- points"), callback_data=ReviewPoints(review_id, version, "d").pack()
            ),
        ]
    )
    rows.append(
        [
            InlineKeyboardButton(
                _("Deduction that bars the top grade"),
                callback_data=ReviewPoints(review_id, version, "q").pack(),
            )
        ]
    )
    rows.append(
        [
            InlineKeyboardButton(
                _("Sign off"), callback_data=ReviewSignOff(review_id, version).pack()
            )
        ]
    )
    rows.append(back)
    return InlineKeyboardMarkup(rows)


async def _card(
    context: WorkledgerContext, *, review_id: int | None = None,
    period: Period | None = None, staff_id: int | None = None,
) -> Card | Refusal:  # fmt: skip
    member = context.member
    assert member is not None
    async with context.uow() as uow:
        return await review.review_card(
            uow,
            member,
            context.policy,
            WorkCalendar(context.policy),
            today=context.today(),
            zone=context.settings.zone,
            now=context.now(),
            review_id=review_id,
            period=period,
            staff_id=staff_id,
        )


async def open_card(update: Update, context: WorkledgerContext) -> None:
    """A person from my list (or an indicator's name on their card): their card."""
    query = update.callback_query
    assert query is not None
    action = ReviewOpen.from_press(query.data)
    period = review.parse_period(action.period, context.policy)
    card: Card | Refusal = Refusal.NOT_YOURS
    if period is not None:
        card = await _card(context, period=period, staff_id=action.staff_id)
    await claim(context)
    if isinstance(card, Refusal):
        await query.answer(refusal_text(context, card), show_alert=True)
        return
    await query.answer()
    await _edit(query.message, card_text(context, card), card_keyboard(context, card))


async def _refresh(update: Update, context: WorkledgerContext, review_id: int) -> None:
    query = update.callback_query
    assert query is not None
    card = await _card(context, review_id=review_id)
    if isinstance(card, Card):
        await _edit(query.message, card_text(context, card), card_keyboard(context, card))


async def _refused(
    update: Update, context: WorkledgerContext, refusal: Refusal, review_id: int
) -> None:
    query = update.callback_query
    assert query is not None
    await claim(context)
    await query.answer(refusal_text(context, refusal), show_alert=True)
    if refusal in (Refusal.STALE, Refusal.SIGNED_OFF, Refusal.PUBLISHED, Refusal.NO_POINTS_LEFT):
        # Only the person's reviewer gets the card back (``_card`` checks it again).
        await _refresh(update, context, review_id)


async def rate(update: Update, context: WorkledgerContext) -> None:
    """A rating button on a person's card."""
    query = update.callback_query
    member = context.member
    assert query is not None and member is not None
    action = ReviewRate.from_press(query.data)
    refused = await _save_rating(context, member, action, "supervisor")
    if refused is not None:
        await _refused(update, context, refused, action.review_id)
        return
    await query.answer(context._("Saved."))
    await _refresh(update, context, action.review_id)


async def ask_points(update: Update, context: WorkledgerContext) -> None:
    """+ points, - points: the next message is the number and the reason."""
    query = update.callback_query
    member = context.member
    assert query is not None and member is not None
    action = ReviewPoints.from_press(query.data)
    kind = _points_kind(ReviewPoints.KINDS[action.kind])
    async with context.uow() as uow:
        found = await review.points_room(
            uow,
            member,
            action.review_id,
            action.version,
            kind,
            context.policy,
            today=context.today(),
            zone=context.settings.zone,
        )
        if not isinstance(found, Refusal):
            await uow.conversations.save(
                member.id,
                POINTS_CONVERSATION,
                kind,
                {"review_id": action.review_id},
                at=context.now(),
            )
            await uow.commit()
    if isinstance(found, Refusal):
        await _refused(update, context, found, action.review_id)
        return
    opened, left = found
    await query.answer()
    _ = context._
    name = person_label(_, opened.person.name, opened.person.employee_no)
    if kind == "bonus":
        question = _(
            "Bonus points for {name}: send the number and the reason in one message, "
            "like \u201c2 Led the flood response\u201d. At most {left} more count this period. "
            "(Or /cancel.)"
        ).format(name=name, left=amount(context, left.bonus))
    else:
        question = _(
            "Deduction points for {name}: send the number and the reason in one message, "
            "like \u201c2 Missed the inspection\u201d. At most {left} more count this period. "
            "(Or /cancel.)"
        ).format(name=name, left=amount(context, left.deduction))
        if kind == "disqualifying":
            question += "\n" + _("This deduction bars the top grade for the period.")
    await context.bot.send_message(query.from_user.id, question)


def _points_kind(name: str) -> PointsKind:
    for kind in review.POINTS_KINDS:
        if kind == name:
            return kind
    raise ValueError(name)


def points_error_text(context: WorkledgerContext, error: PointsError, kind: str) -> str:
    """Why a points message was refused (nothing was saved)."""
    _ = context._
    places = review.point_decimals(context.policy)
    texts = {
        PointsError.BAD_NUMBER: _(
            "Start with the number of points, like 2 or 1.5, then the reason. Nothing was saved."
        ),
        PointsError.WRONG_SIGN: _(
            "Give the number without a sign: the button chose bonus or deduction. "
            "Nothing was saved."
        ),
        PointsError.ZERO: _("Give more than 0 points. Nothing was saved."),
        PointsError.TOO_PRECISE: context.ngettext(
            "At most {count} decimal place, please. Nothing was saved.",
            "At most {count} decimal places, please. Nothing was saved.",
            places,
        ).format(count=places),
        PointsError.OVER_LIMIT: _(
            "That is more than the points that still count this period. Nothing was saved."
        ),
        PointsError.REASON_NEEDED: _(
            "Add the reason after the number, like \u201c2 Led the flood response\u201d. "
            "Nothing was saved."
        ),
        PointsError.REASON_TOO_LONG: _(
            "That reason is too long: at most {limit} characters. Nothing was saved."
        ).format(limit=review.MAX_REASON),
    }
    if error is PointsError.TOO_PRECISE and places == 0:
        return _("Give a whole number of points. Nothing was saved.")
    return texts[error]


async def capture(update: Update, context: WorkledgerContext) -> None:
    """The next message of someone asked for their self-assessment, or for points."""
    message = update.effective_message
    member = context.member
    if message is None or member is None:
        return
    if context.question not in (SELF_CONVERSATION, POINTS_CONVERSATION):
        return
    async with context.uow() as uow:
        stored = await review.open_question(uow, member.id, now=context.now())
        if stored is None:
            return  # nothing asked, or left for a day: the message goes on (a quick log)
        review_id = int(stored.data["review_id"])
        common: dict[str, Any] = {
            "today": context.today(),
            "zone": context.settings.zone,
            "now": context.now(),
        }
        if stored.kind == SELF_CONVERSATION:
            saved = await review.save_self_text(
                uow, member, review_id, message.text, context.policy, **common
            )
            if isinstance(saved, Refusal) and saved not in (
                Refusal.TEXT_EMPTY,
                Refusal.TEXT_TOO_LONG,
            ):
                await uow.conversations.drop(member.id)
                await uow.commit()
        else:
            kind = _points_kind(stored.step)
            given = await review.add_points(
                uow, member, review_id, kind, message.text, context.policy, **common
            )
            if isinstance(given, Refusal):
                await uow.conversations.drop(member.id)
                await uow.commit()
    if stored.kind == SELF_CONVERSATION:
        if isinstance(saved, Refusal):
            await message.reply_text(refusal_text(context, saved, own=True))
        else:
            await message.reply_text(
                context._("Saved.") + "\n\n" + self_text(context, saved),
                reply_markup=self_keyboard(context, saved),
            )
        raise ApplicationHandlerStop
    if isinstance(given, PointsError):
        await message.reply_text(points_error_text(context, given, stored.step))
    elif isinstance(given, Refusal):
        await message.reply_text(refusal_text(context, given))
    else:
        card = await _card(context, review_id=review_id)
        line = context._("Saved: {points}").format(
            points=_point_line(context, given[0], given[1], stored.step == "disqualifying")[2:]
        )
        if isinstance(card, Card):
            await message.reply_text(
                line + "\n\n" + card_text(context, card), reply_markup=card_keyboard(context, card)
            )
        else:
            await message.reply_text(line)
    raise ApplicationHandlerStop


async def cancel(update: Update, context: WorkledgerContext) -> None:
    """/cancel while a self-assessment text or points are asked: nothing is saved."""
    message = update.effective_message
    member = context.member
    if message is None or member is None:
        return
    if context.question not in (SELF_CONVERSATION, POINTS_CONVERSATION):
        return
    async with context.uow() as uow:
        await uow.conversations.drop(member.id)
        await uow.commit()
    await message.reply_text(context._("Cancelled; nothing was saved."))
    raise ApplicationHandlerStop


async def sign_off(update: Update, context: WorkledgerContext) -> None:
    """Sign off the version of the card shown."""
    query = update.callback_query
    member = context.member
    assert query is not None and member is not None
    action = ReviewSignOff.from_press(query.data)
    async with context.uow() as uow:
        refused = await review.sign_off(
            uow,
            member,
            action.review_id,
            action.version,
            context.policy,
            today=context.today(),
            zone=context.settings.zone,
            now=context.now(),
        )
    if refused is not None:
        await _refused(update, context, refused, action.review_id)
        return
    await query.answer(answer_text(context._("Signed off.")))
    await _refresh(update, context, action.review_id)
