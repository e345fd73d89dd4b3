"""Third-party evaluators: HR's /thirdparty (invite, completion, revoke) and the
evaluator's own screens (opened from their link; the people to rate; a rating card).

The evaluator is a stranger to the roster: the gate lets their ``tp`` presses through
as anyone's, and every handler here checks the press against the evaluator's binding
to the very account pressing (``third_parties.evaluation_for``), on every press.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import date, timedelta

from babel.dates import format_date
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.error import BadRequest

from assessment import periods, review, third_parties
from assessment.scoring import rating_scale
from assessment.third_parties import (
    Evaluation,
    EvaluatorStatus,
    InviteError,
    OpenOutcome,
    Refusal,
    State,
    ToRate,
)
from config.policy import Indicator
from handlers.callbacks import (
    ThirdPartyDepartment,
    ThirdPartyDepartments,
    ThirdPartyIssue,
    ThirdPartyList,
    ThirdPartyOpen,
    ThirdPartyRate,
    ThirdPartyRevoke,
)
from handlers.context import WorkledgerContext
from handlers.formatting import answer_text, button_page, listed, when
from handlers.gate import claim
from handlers.invitation_cards import qr_png
from handlers.periods import period_label

RATINGS_PER_ROW = 5
# Telegram's most buttons on one message, and the card's buttons besides the ratings.
MAX_BUTTONS = 100
OTHER_BUTTONS = 1
INVALID = "This button is no longer valid."


# --- HR ----------------------------------------------------------------------------------


def _usage(context: WorkledgerContext) -> str:
    return context._(
        "Third-party evaluators rate the people of some departments for one period, and "
        "see nothing else.\n"
        "To invite one: /thirdparty invite YYYY-MM NAME / ORGANISATION, then choose the "
        "departments and create the one-time link.\n"
        "/thirdparty [YYYY-MM] lists a period's evaluators (without it, the current one)."
    )


def _invite_error(context: WorkledgerContext, error: InviteError) -> str:
    _ = context._
    if error is InviteError.BAD_PERIOD:
        return _("Write the period as YYYY-MM (or YYYY-Q1..Q4 for quarters).")
    if error is InviteError.PUBLISHED:
        return _("This period's results are published: it takes no more ratings.")
    if error is InviteError.BAD_NAME:
        return _(
            "Write the evaluator as NAME / ORGANISATION, each at most 200 characters; "
            "the name must not be empty."
        )
    if error is InviteError.ISSUED:
        return _("The link of this evaluator is issued already; its departments are fixed.")
    if error is InviteError.REVOKED:
        return _("This evaluator has been revoked.")
    if error is InviteError.NO_DEPARTMENTS:
        return _("Choose at least one department first.")
    return _(INVALID)


def _state_text(context: WorkledgerContext, state: State) -> str:
    _ = context._
    return {
        State.DRAFT: _("draft, no link yet"),
        State.INVITED: _("link not opened yet"),
        State.EXPIRED: _("link expired unopened"),
        State.BOUND: _("evaluating"),
        State.REVOKED: _("revoked"),
    }[state]


def _who(context: WorkledgerContext, name: str, organisation: str) -> str:
    if not organisation:
        return name
    return context._("{name} ({organisation})").format(name=name, organisation=organisation)


def _overview(
    context: WorkledgerContext, period: periods.Period, found: Sequence[EvaluatorStatus]
) -> tuple[str, InlineKeyboardMarkup | None]:
    _ = context._
    label = period_label(context, period)
    if not found:
        return _("No third-party evaluators for {period}.").format(period=label) + "\n\n" + _usage(
            context
        ), None
    lines = [_("Third-party evaluators for {period}:").format(period=label)]
    rows = []
    for status in found:
        lines.append(
            "• "
            + _("{who}: {departments}; {state}; rated {rated} of {people}").format(
                who=_who(context, status.name, status.organisation),
                departments=listed(_, status.departments) or "-",
                state=_state_text(context, status.state),
                rated=status.rated,
                people=status.people,
            )
        )
        if status.state is not State.REVOKED:
            rows.append(
                [
                    InlineKeyboardButton(
                        _("Revoke {name}").format(name=status.name),
                        callback_data=ThirdPartyRevoke(status.evaluator_id, 0).pack(),
                    )
                ]
            )
    return "\n".join(lines), InlineKeyboardMarkup(rows[:MAX_BUTTONS]) if rows else None


async def third_party_command(update: Update, context: WorkledgerContext) -> None:
    """/thirdparty [YYYY-MM] and /thirdparty invite YYYY-MM NAME / ORGANISATION (HR)."""
    message = update.effective_message
    member = context.member
    assert message is not None and member is not None  # the gate let only HR through
    args = list(context.args or [])
    if args and args[0].lower() == "invite":
        await _invite(update, context, args[1:])
        return
    if len(args) > 1:
        await message.reply_text(_usage(context))
        return
    period = (
        periods.parse_key(args[0], context.policy)
        if args
        else review.self_period(context.today(), context.policy)
    )
    if period is None:
        await message.reply_text(_usage(context))
        return
    async with context.uow() as uow:
        found = await third_parties.overview(uow, period, context.policy, now=context.now())
    text, markup = _overview(context, period, found)
    await message.reply_text(text, reply_markup=markup)


async def _invite(update: Update, context: WorkledgerContext, args: list[str]) -> None:
    message = update.effective_message
    member = context.member
    assert message is not None and member is not None
    if len(args) < 2:
        await message.reply_text(_usage(context))
        return
    period = periods.parse_key(args[0], context.policy)
    if period is None:
        await message.reply_text(_invite_error(context, InviteError.BAD_PERIOD))
        return
    async with context.uow() as uow:
        drafted = await third_parties.draft(
            uow,
            period,
            " ".join(args[1:]),
            actor_staff_id=member.id,
            now=context.now(),
            today=context.today(),
            policy=context.policy,
            zone=context.settings.zone,
        )
    if isinstance(drafted, InviteError):
        await message.reply_text(_invite_error(context, drafted))
        return
    text, markup = await _draft_card(context, drafted.id, [], 0)
    await message.reply_text(text, reply_markup=markup)


async def _draft_card(
    context: WorkledgerContext, evaluator_id: int, scope: Sequence[int], page: int
) -> tuple[str, InlineKeyboardMarkup]:
    _ = context._
    async with context.uow() as uow:
        evaluator = await uow.third_parties.get(evaluator_id)
        departments = await uow.directory.departments()
        stored = None if evaluator is None else await uow.periods.by_id(evaluator.period_id)
    assert evaluator is not None and stored is not None
    period = periods.parse_key(stored.key, context.policy)
    chosen = set(scope)
    buttons = [
        InlineKeyboardButton(
            ("✓ " if department_id in chosen else "") + name,
            callback_data=ThirdPartyDepartment(evaluator_id, department_id, page).pack(),
        )
        for department_id, name in departments
    ]
    rows = button_page(buttons, page, lambda to: ThirdPartyDepartments(evaluator_id, to).pack())
    rows.append(
        [
            InlineKeyboardButton(
                _("Create the link"), callback_data=ThirdPartyIssue(evaluator_id).pack()
            )
        ]
    )
    names = [name for department_id, name in departments if department_id in chosen]
    text = _(
        "Third-party evaluator {who} for {period}.\n"
        "Departments: {departments}\n"
        "Choose the departments whose people they rate, then create the link."
    ).format(
        who=_who(context, evaluator.name, evaluator.organisation),
        period=stored.key if period is None else period_label(context, period),
        departments=listed(_, names) or _("none yet"),
    )
    return text, InlineKeyboardMarkup(rows)


async def choose_department(update: Update, context: WorkledgerContext) -> None:
    """A department button under a drafted evaluator (HR)."""
    query = update.callback_query
    assert query is not None
    action = ThirdPartyDepartment.from_press(query.data)
    async with context.uow() as uow:
        scope = await third_parties.toggle_department(
            uow, action.evaluator_id, action.department_id
        )
    if isinstance(scope, InviteError):
        await claim(context)
        await query.answer(answer_text(_invite_error(context, scope)), show_alert=True)
        return
    await query.answer()
    text, markup = await _draft_card(context, action.evaluator_id, scope, action.page)
    with contextlib.suppress(BadRequest):  # unchanged
        await query.edit_message_text(text, reply_markup=markup)


async def turn_departments(update: Update, context: WorkledgerContext) -> None:
    """« and » under a drafted evaluator's departments (HR)."""
    query = update.callback_query
    assert query is not None
    action = ThirdPartyDepartments.from_press(query.data)
    async with context.uow() as uow:
        evaluator = await uow.third_parties.get(action.evaluator_id)
        scope = await uow.third_parties.department_ids(action.evaluator_id)
    await claim(context)
    if evaluator is None or evaluator.code_hash is not None or evaluator.revoked_at is not None:
        await query.answer(context._(INVALID), show_alert=True)
        return
    await query.answer()
    text, markup = await _draft_card(context, action.evaluator_id, scope, action.page)
    with contextlib.suppress(BadRequest):  # unchanged
        await query.edit_message_text(text, reply_markup=markup)


async def create_link(update: Update, context: WorkledgerContext) -> None:
    """Create the drafted evaluator's one-time link and hand it to HR (HR)."""
    query = update.callback_query
    member = context.member
    assert query is not None and member is not None
    action = ThirdPartyIssue.from_press(query.data)
    async with context.uow() as uow:
        issued = await third_parties.issue(
            uow,
            action.evaluator_id,
            actor_staff_id=member.id,
            ttl=timedelta(days=context.policy.invites.ttl_days),
            now=context.now(),
        )
    if isinstance(issued, InviteError):
        await claim(context)
        await query.answer(answer_text(_invite_error(context, issued)), show_alert=True)
        return
    await query.answer()
    _ = context._
    link = third_parties.link(context.bot.username, issued.code)
    with contextlib.suppress(BadRequest):
        await query.edit_message_reply_markup(None)
    chat_id = query.message.chat.id if query.message else member.telegram_user_id or 0
    await context.bot.send_photo(
        chat_id,
        InputFile(qr_png(link), filename=f"evaluator-{issued.evaluator_id}.png"),
        caption=_(
            "Link for the third-party evaluator {who}:\n{link}\n"
            "The first Telegram account to open it is bound to it, and no other ever can "
            "be; it expires {expires} unless opened. Give it only to this evaluator."
        ).format(
            who=_who(context, issued.name, issued.organisation),
            link=link,
            expires=when(context, issued.expires_at),
        ),
    )


async def press_revoke(update: Update, context: WorkledgerContext) -> None:
    """Revoke under HR's list: asks first, then revokes (HR)."""
    query = update.callback_query
    member = context.member
    assert query is not None and member is not None
    action = ThirdPartyRevoke.from_press(query.data)
    _ = context._
    if not action.confirmed:
        async with context.uow() as uow:
            evaluator = await uow.third_parties.get(action.evaluator_id)
        await claim(context)
        if evaluator is None or evaluator.revoked_at is not None:
            await query.answer(context._(INVALID), show_alert=True)
            return
        await query.answer()
        await query.edit_message_text(
            _(
                "Revoke {who}? They can no longer rate, and before publication their "
                "ratings of the period are withdrawn."
            ).format(who=_who(context, evaluator.name, evaluator.organisation)),
            reply_markup=InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(
                            _("Revoke"),
                            callback_data=ThirdPartyRevoke(action.evaluator_id, 1).pack(),
                        )
                    ]
                ]
            ),
        )
        return
    async with context.uow() as uow:
        revoked = await third_parties.revoke(
            uow,
            action.evaluator_id,
            actor_staff_id=member.id,
            now=context.now(),
            today=context.today(),
            policy=context.policy,
            zone=context.settings.zone,
        )
    if isinstance(revoked, InviteError):
        await claim(context)
        await query.answer(answer_text(_invite_error(context, revoked)), show_alert=True)
        return
    await query.answer()
    await query.edit_message_text(
        context.ngettext(
            "Revoked. {count} rating was withdrawn.",
            "Revoked. {count} ratings were withdrawn.",
            revoked,
        ).format(count=revoked)
    )


# --- the evaluator -----------------------------------------------------------------------


async def open_link(update: Update, context: WorkledgerContext, payload: str) -> None:
    """``/start t_<code>``: bind the account to the evaluator, or let it back in; then
    the people to rate."""
    message = update.effective_message
    user = update.effective_user
    assert message is not None and user is not None
    async with context.uow() as uow:
        result = await third_parties.open_link(
            uow,
            payload[len(third_parties.PAYLOAD_PREFIX) :],
            user.id,
            now=context.now(),
            today=context.today(),
            policy=context.policy,
            zone=context.settings.zone,
        )
    _ = context._
    if result.evaluation is not None:
        text, markup = await _people(context, result.evaluation, 0)
        if result.outcome is OpenOutcome.BOUND:
            text = (
                _(
                    "Welcome, {who}. This chat is now bound to your evaluation; to come back "
                    "to this list later, open your link again."
                ).format(who=_who(context, result.evaluation.name, result.evaluation.organisation))
                + "\n\n"
                + text
            )
        await message.reply_text(text, reply_markup=markup)
        return
    await claim(context)
    if result.outcome is OpenOutcome.TOO_MANY_ATTEMPTS and result.retry_at is not None:
        text = _(
            "Too many invitation codes from this account were wrong. "
            "For security, please try again after {time}."
        ).format(time=when(context, result.retry_at))
    elif result.outcome is OpenOutcome.TAKEN:
        text = _(
            "This evaluation link is already bound to another Telegram account. "
            "Only the account that opened it first can use it."
        )
    elif result.outcome is OpenOutcome.EXPIRED:
        text = _("This evaluation link has expired. Please ask the HR office for a new one.")
    elif result.outcome is OpenOutcome.REVOKED:
        text = _("This evaluation has been withdrawn by the HR office.")
    elif result.outcome is OpenOutcome.CLOSED:
        text = _("This evaluation is closed: the period's results are published.")
    elif result.outcome is OpenOutcome.STAFF_ACCOUNT:
        text = _(
            "This link is for an external evaluator. Your Telegram account belongs to a "
            "member of staff, so it cannot be used for a third-party evaluation."
        )
    else:
        text = _(
            "This evaluation link is not valid. Make sure you opened the whole link, "
            "or ask the HR office for a new one."
        )
    await message.reply_text(text)


def _window_line(context: WorkledgerContext, evaluation: Evaluation) -> str | None:
    refusal = third_parties.ratings_window(evaluation.stage)
    if refusal is Refusal.NOT_YET:
        opens = periods.milestones(evaluation.period, context.policy).self_opens
        return context._("Ratings open on {day}.").format(day=_day(context, opens))
    if refusal is Refusal.CLOSED:
        return context._("Ratings are closed.")
    return None


def _day(context: WorkledgerContext, value: date) -> str:
    return str(format_date(value, format="medium", locale=context.translator.babel))


async def _people(
    context: WorkledgerContext, evaluation: Evaluation, page: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    _ = context._
    async with context.uow() as uow:
        items = await third_parties.people_to_rate(uow, evaluation, context.policy)
    done = sum(1 for item in items if item.done)
    lines = [
        _("Third-party evaluation for {period}: {who}.").format(
            period=period_label(context, evaluation.period),
            who=_who(context, evaluation.name, evaluation.organisation),
        ),
        context.ngettext(
            "{done} of {count} person rated in full. Choose a person to rate.",
            "{done} of {count} people rated in full. Choose a person to rate.",
            len(items),
        ).format(done=done, count=len(items)),
    ]
    window = _window_line(context, evaluation)
    if window is not None:
        lines.append(window)
    if not items:
        lines = [lines[0], _("There is nobody for you to rate.")]
        return "\n".join(lines), None
    buttons = [
        InlineKeyboardButton(
            ("✓ " if item.done else "")
            + _("{name}, {post}").format(name=item.person.name, post=item.person.post),
            callback_data=ThirdPartyOpen(evaluation.evaluator_id, item.person.staff_id).pack(),
        )
        for item in items
    ]
    rows = button_page(
        buttons, page, lambda to: ThirdPartyList(evaluation.evaluator_id, to).pack()
    )
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def _indicator_name(context: WorkledgerContext, indicator: Indicator) -> str:
    return indicator.names.get(context.locale)


def _card(
    context: WorkledgerContext, evaluation: Evaluation, item: ToRate
) -> tuple[str, InlineKeyboardMarkup]:
    _ = context._
    person = item.person
    lines = [
        _("{name}, {post} ({department})").format(
            name=person.name, post=person.post, department=person.department
        ),
        _("Rate each indicator from 1 to {top}.").format(
            top=context.policy.monthly_check.rating_max
        ),
    ]
    window = _window_line(context, evaluation)
    if window is not None:
        lines.append(window)
    lines += [
        "• "
        + _("{indicator}: {rating}").format(
            indicator=_indicator_name(context, indicator),
            rating=item.ratings.get(indicator.id, _("not rated yet")),
        )
        for indicator in item.indicators
    ]
    back = ThirdPartyList(evaluation.evaluator_id, 0).pack()
    rows: list[list[InlineKeyboardButton]] = []
    scale = rating_scale(context.policy)
    used = OTHER_BUTTONS
    for indicator in item.indicators:
        used += 1 + len(scale)
        if used > MAX_BUTTONS:
            break
        rows.append(
            [
                InlineKeyboardButton(
                    _indicator_name(context, indicator),
                    callback_data=ThirdPartyOpen(evaluation.evaluator_id, person.staff_id).pack(),
                )
            ]
        )
        numbers = [
            InlineKeyboardButton(
                ("•" if item.ratings.get(indicator.id) == value else "") + str(value),
                callback_data=ThirdPartyRate(
                    evaluation.evaluator_id, person.staff_id, indicator.id, value
                ).pack(),
            )
            for value in scale
        ]
        rows.extend(
            numbers[start : start + RATINGS_PER_ROW]
            for start in range(0, len(numbers), RATINGS_PER_ROW)
        )
    rows.append([InlineKeyboardButton(_("« All people"), callback_data=back)])
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def _refusal_text(context: WorkledgerContext, refusal: Refusal) -> str:
    _ = context._
    if refusal is Refusal.REVOKED:
        return _("This evaluation has been withdrawn by the HR office.")
    if refusal is Refusal.NOT_YET:
        return _("Ratings for this period are not open yet.")
    if refusal is Refusal.CLOSED:
        return _("Ratings for this period are closed.")
    return _(INVALID)


async def _evaluation(
    update: Update, context: WorkledgerContext, evaluator_id: int
) -> Evaluation | None:
    """The evaluator behind the press, re-checked; None once the refusal is answered."""
    query = update.callback_query
    user = update.effective_user
    assert query is not None
    found: Evaluation | Refusal = Refusal.NOT_YOURS
    if user is not None and context.member is None:
        async with context.uow() as uow:
            found = await third_parties.evaluation_for(
                uow,
                evaluator_id,
                user.id,
                today=context.today(),
                policy=context.policy,
                zone=context.settings.zone,
            )
    if isinstance(found, Refusal):
        await claim(context)
        await query.answer(answer_text(_refusal_text(context, found)), show_alert=True)
        return None
    return found


async def show_people(update: Update, context: WorkledgerContext) -> None:
    """A page of the people to rate (the evaluator)."""
    query = update.callback_query
    assert query is not None
    action = ThirdPartyList.from_press(query.data)
    evaluation = await _evaluation(update, context, action.evaluator_id)
    if evaluation is None:
        return
    await claim(context)
    await query.answer()
    text, markup = await _people(context, evaluation, action.page)
    with contextlib.suppress(BadRequest):  # unchanged
        await query.edit_message_text(text, reply_markup=markup)


async def show_person(update: Update, context: WorkledgerContext) -> None:
    """One person's rating card (the evaluator)."""
    query = update.callback_query
    assert query is not None
    action = ThirdPartyOpen.from_press(query.data)
    evaluation = await _evaluation(update, context, action.evaluator_id)
    if evaluation is None:
        return
    async with context.uow() as uow:
        item = await third_parties.one_to_rate(uow, evaluation, context.policy, action.staff_id)
    await claim(context)
    if isinstance(item, Refusal):
        await query.answer(context._(INVALID), show_alert=True)
        return
    await query.answer()
    text, markup = _card(context, evaluation, item)
    with contextlib.suppress(BadRequest):  # unchanged
        await query.edit_message_text(text, reply_markup=markup)


async def press_rating(update: Update, context: WorkledgerContext) -> None:
    """A rating button on a person's card (the evaluator)."""
    query = update.callback_query
    user = update.effective_user
    assert query is not None
    action = ThirdPartyRate.from_press(query.data)
    result: tuple[Evaluation, ToRate] | Refusal = Refusal.NOT_YOURS
    if user is not None and context.member is None:
        async with context.uow() as uow:
            result = await third_parties.rate(
                uow,
                action.evaluator_id,
                user.id,
                action.staff_id,
                action.indicator_id,
                action.value,
                now=context.now(),
                today=context.today(),
                policy=context.policy,
                zone=context.settings.zone,
            )
    if isinstance(result, Refusal):
        await claim(context)
        await query.answer(answer_text(_refusal_text(context, result)), show_alert=True)
        return
    evaluation, item = result
    await query.answer(context._("Saved."))
    text, markup = _card(context, evaluation, item)
    with contextlib.suppress(BadRequest):  # unchanged
        await query.edit_message_text(text, reply_markup=markup)


__all__ = [
    "choose_department",
    "create_link",
    "open_link",
    "press_rating",
    "press_revoke",
    "show_people",
    "show_person",
    "third_party_command",
    "turn_departments",
]
