"""Peer ratings in the chat: a peer's request and its buttons, HR's /peers, the draw job.

``assessment.peers`` decides who may rate whom, when, and keeps the ratings anonymous;
this module renders the request in the rater's language and maps its presses.
"""

from __future__ import annotations

import functools
import html
from datetime import date, datetime
from typing import Any

from babel.dates import format_date, format_skeleton
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest

from assessment import peers
from assessment.peers import Assigned, PeerCard, PeerRefusal, Status
from assessment.periods import Period
from handlers.callbacks import PeerRate, PeerShow
from handlers.context import BotData, WorkledgerContext
from handlers.formatting import answer_text, lines_at_most, person_label
from handlers.gate import claim
from locales import Translator, resolve_locale, translator

__all__ = [
    "peer_draw_tick",
    "peers_command",
    "press_rate",
    "press_show",
    "renderer",
    "request_keyboard",
    "request_text",
]

RATINGS_PER_ROW = 5


def _period(language: Translator, period: Period) -> str:
    if period.quarterly:
        return period.key
    return str(format_skeleton("yMMMM", period.starts_on, locale=language.babel))


def _date(language: Translator, day: date) -> str:
    return str(format_date(day, format="medium", locale=language.babel))


def request_text(language: Translator, card: PeerCard) -> str:
    """A peer's request in HTML: whom to rate, the promise of anonymity, what they gave."""
    _ = language.gettext
    request = card.request
    lines = [
        "<b>"
        + html.escape(
            _("Peer rating of {name} ({department}) for {period}").format(
                name=request.person_name,
                department=request.person_department,
                period=_period(language, card.period),
            )
        )
        + "</b>",
        html.escape(
            _(
                "As a colleague from another department, rate how they worked with you, "
                "from 1 (poor) to {top} (excellent)."
            ).format(top=card.scale[-1])
        ),
        html.escape(
            _(
                "Anonymous: nobody sees who gave which rating. Only the average of at "
                "least {count} peers counts; with fewer it is left out."
            ).format(count=card.min_raters)
        ),
        "",
    ]
    for indicator in card.indicators:
        given = card.given.get(indicator.id)
        lines.append(
            "• "
            + html.escape(
                _("{indicator}: {rating}").format(
                    indicator=indicator.names.get(language.locale),
                    rating=given if given is not None else _("not rated yet"),
                )
            )
        )
    lines.append("")
    if card.open:
        lines.append(
            html.escape(
                _("You can change your ratings until {date}.").format(
                    date=_date(language, card.closes_after)
                )
            )
        )
    else:
        lines.append(html.escape(_("The peer ratings of this period are closed.")))
    return "\n".join(lines)


def request_keyboard(language: Translator, card: PeerCard) -> InlineKeyboardMarkup | None:
    """Per indicator its name, then one button a rating (the one given marked); none once
    the ratings are closed."""
    if not card.open:
        return None
    request_id = card.request.id
    rows: list[list[InlineKeyboardButton]] = []
    for indicator in card.indicators:
        rows.append(
            [
                InlineKeyboardButton(
                    indicator.names.get(language.locale),
                    callback_data=PeerShow(request_id).pack(),
                )
            ]
        )
        given = card.given.get(indicator.id)
        numbers = [
            InlineKeyboardButton(
                f"✓{value}" if value == given else str(value),
                callback_data=PeerRate(request_id, indicator.id, value).pack(),
            )
            for value in card.scale
        ]
        rows.extend(
            numbers[start : start + RATINGS_PER_ROW]
            for start in range(0, len(numbers), RATINGS_PER_ROW)
        )
    return InlineKeyboardMarkup(rows)


def _rendered(default_language: str, card: PeerCard) -> tuple[str, dict[str, Any] | None]:
    request = card.request
    language = translator(
        resolve_locale(request.rater_language, request.rater_telegram_language, default_language)
    )
    keyboard = request_keyboard(language, card)
    return request_text(language, card), None if keyboard is None else keyboard.to_dict()


def renderer(default_language: str) -> peers.Render:
    """A request's message in its rater's language (else ``default_language``)."""
    return functools.partial(_rendered, default_language)


# --- the rater's presses -------------------------------------------------------------------


def refusal_text(context: WorkledgerContext, refusal: PeerRefusal) -> str:
    """Why a peer press or an assignment was refused, in the reader's language."""
    _ = context._
    texts = {
        PeerRefusal.NOT_YOURS: _("This request is not yours, or no longer stands."),
        PeerRefusal.CLOSED: _(
            "The peer ratings of this period are closed: calibration has begun. "
            "Nothing was changed."
        ),
        PeerRefusal.CHAIN: _(
            "Nobody rates themself or anyone in their own supervisor chain. Nothing was saved."
        ),
        PeerRefusal.SAME_DEPARTMENT: _("Peers come from another department."),
        PeerRefusal.NOT_LINKED: _("They have no Telegram account linked yet."),
        PeerRefusal.LEFT: _("They are no longer on staff."),
        PeerRefusal.NOT_FOUND: _("No one on the roster has that employee number."),
        PeerRefusal.NO_INDICATORS: _("Their post type has no indicators that peers rate."),
        PeerRefusal.ALREADY: _("They were asked already."),
    }
    return texts[refusal]


async def _show(update: Update, context: WorkledgerContext, card: PeerCard) -> None:
    query = update.callback_query
    assert query is not None
    language = context.translator
    try:
        await query.edit_message_text(
            request_text(language, card),
            parse_mode="HTML",
            reply_markup=request_keyboard(language, card),
        )
    except BadRequest as error:  # unchanged: the card as it stands is on the screen
        if "not modified" not in str(error).lower():
            raise


async def press_rate(update: Update, context: WorkledgerContext) -> None:
    """A rating button on a peer's request."""
    query = update.callback_query
    member = context.member
    assert query is not None and member is not None
    action = PeerRate.from_press(query.data)
    async with context.uow() as uow:
        outcome = await peers.rate(
            uow,
            member,
            action.request_id,
            action.indicator,
            action.value,
            context.policy,
            today=context.today(),
            zone=context.settings.zone,
            now=context.now(),
        )
        shown = None
        if outcome is PeerRefusal.CLOSED:
            found = await peers.card(
                uow, member, action.request_id, context.policy,
                today=context.today(), zone=context.settings.zone,
            )  # fmt: skip
            shown = found if isinstance(found, PeerCard) else None
    if isinstance(outcome, PeerRefusal):
        await claim(context)
        await query.answer(answer_text(refusal_text(context, outcome)), show_alert=True)
        if shown is not None:
            await _show(update, context, shown)
        return
    await query.answer(context._("Saved."))
    await _show(update, context, outcome)


async def press_show(update: Update, context: WorkledgerContext) -> None:
    """An indicator's name on a peer's request: the request again, as it stands."""
    query = update.callback_query
    member = context.member
    assert query is not None and member is not None
    action = PeerShow.from_press(query.data)
    async with context.uow() as uow:
        found = await peers.card(
            uow, member, action.request_id, context.policy,
            today=context.today(), zone=context.settings.zone,
        )  # fmt: skip
    await claim(context)
    if isinstance(found, PeerRefusal):
        await query.answer(answer_text(refusal_text(context, found)), show_alert=True)
        return
    await query.answer()
    await _show(update, context, found)


# --- HR: /peers ------------------------------------------------------------------------------


def status_text(context: WorkledgerContext, found: Status) -> str:
    """The period peers rate now, and per person how many requests are answered."""
    _ = context._
    n_ = context.ngettext
    language = context.translator
    period = _period(language, found.period)
    if found.open:
        head = _("Peer ratings of {period}: open until {date}.").format(
            period=period, date=_date(language, found.closes_after)
        )
    else:
        head = _("Peer ratings of {period}: closed.").format(period=period)
    lines = [head]
    if found.rows:
        lines.append(_("Requests answered, per person (never by whom, nor what):"))
        rows = [
            "• "
            + _("{person}: {answered} of {assigned} answered").format(
                person=person_label(_, name, employee_no), answered=answered, assigned=assigned
            )
            for name, employee_no, assigned, answered in found.rows
        ]
        lines += lines_at_most(n_, rows)
    else:
        lines.append(_("No peer has been asked yet."))
    lines.append(_("To ask peers to rate someone: /peers EMPLOYEE_NO RATER_NO [RATER_NO ...]"))
    return "\n".join(lines)


def assigned_text(context: WorkledgerContext, found: Assigned) -> str:
    """Each rater HR named, asked now or why not."""
    _ = context._
    lines = [
        _("Peers asked to rate {name} for {period}:").format(
            name=found.person_name, period=_period(context.translator, found.period)
        )
    ]
    for outcome in found.outcomes:
        who = (
            outcome.employee_no
            if outcome.name is None
            else person_label(_, outcome.name, outcome.employee_no)
        )
        why = (
            _("asked; their request is on its way")
            if outcome.refusal is None
            else refusal_text(context, outcome.refusal)
        )
        lines.append("• " + _("{person}: {outcome}").format(person=who, outcome=why))
    return "\n".join(lines)


async def peers_command(update: Update, context: WorkledgerContext) -> None:
    """/peers: the peer requests of the period peers rate now; with employee numbers,
    ask peers to rate someone (HR)."""
    message = update.effective_message
    member = context.member
    assert message is not None and member is not None
    args = context.args or []
    if len(args) == 1:
        await claim(context)
        await message.reply_text(
            context._("To ask peers to rate someone: /peers EMPLOYEE_NO RATER_NO [RATER_NO ...]")
        )
        return
    async with context.uow() as uow:
        if not args:
            found = await peers.status(
                uow, context.policy, today=context.today(), zone=context.settings.zone
            )
            text = status_text(context, found)
        else:
            outcome = await peers.assign(
                uow,
                member,
                args[0],
                args[1:],
                context.policy,
                renderer(context.settings.language),
                today=context.today(),
                zone=context.settings.zone,
                now=context.now(),
            )
            if isinstance(outcome, PeerRefusal):
                text = refusal_text(context, outcome)
            else:
                text = assigned_text(context, outcome)
    await claim(context)
    await message.reply_text(text)


# --- the rule's draw ---------------------------------------------------------------------------


async def draw_peers(data: BotData, now: datetime) -> int | None:
    """Draw the policy's peers for the period whose self-assessment is open, once."""
    return await peers.draw_due(
        data.database.uow,
        data.policy,
        data.settings.zone,
        renderer(data.settings.language),
        now=now,
    )


async def peer_draw_tick(context: WorkledgerContext) -> None:
    """Job (every minute): the policy's draw of peers, once per period."""
    await draw_peers(context.bot_data, context.now())
