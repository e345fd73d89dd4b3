"""Citizens' ratings: /rate's QR codes, a citizen's stars and comment, HR's flags.

Citizens are strangers to the bot: they come in through ``/start c_...`` (``start``
hands such payloads here), press star buttons anyone may press (each press carries
a signature for the account that opened the code, and the code's state is read
again), and their next message is taken as a comment when one is awaited (the
gate's one seam for strangers, ``expects_comment``).
"""

from __future__ import annotations

import asyncio
import functools
import io

import segno
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.ext import ApplicationHandlerStop

from assessment import citizens
from assessment.citizens import MATTER, WINDOW, CitizenKeys, Flag, Outcome
from assessment.invitations import deep_link
from handlers.callbacks import CitizenDecide, CitizenStars, CitizenWindow
from handlers.context import WorkledgerContext
from handlers.formatting import when
from locales import resolve_locale, translator
from storage.enums import Role

# What a stranger's next message answers when they have just rated.
CITIZEN_COMMENT = "citizen_comment"
# Flagged ratings shown to HR per /rate, oldest first.
FLAGS_SHOWN = 10


def keys(context: WorkledgerContext) -> CitizenKeys | None:
    """The keys of ``WORKLEDGER_SECRET_KEY``, or None when it is not set."""
    secret = context.settings.secret_key
    return None if secret is None else _keys_of(secret.get_secret_value())


@functools.lru_cache(maxsize=2)
def _keys_of(secret: str) -> CitizenKeys:
    # Derived once, not on each citizen's /start, press and comment.
    return CitizenKeys.of(secret)


def _qr(link: str, kind: str) -> bytes:
    buffer = io.BytesIO()
    if kind == "pdf":
        segno.make(link, error="m").save(buffer, kind="pdf", scale=12, border=4)
    else:
        segno.make(link, error="m").save(buffer, kind="png", scale=8, border=3)
    return buffer.getvalue()


async def rate_command(update: Update, context: WorkledgerContext) -> None:
    """A QR code for the matter just served; HR also gets the flagged ratings."""
    message = update.effective_message
    member = context.member
    if message is None or member is None:
        return
    _ = context._
    if member.has(Role.HR | Role.ADMIN):
        await _show_flags(update, context)
    found = keys(context)
    if found is None:
        await message.reply_text(
            _("Citizens' ratings are not set up here: the administrator has to set a secret key.")
        )
        return
    async with context.uow() as uow:
        issued = await citizens.issue(uow, member, MATTER, context.policy, now=context.now())
    if isinstance(issued, Outcome):
        if not member.has(Role.HR | Role.ADMIN):
            await message.reply_text(_("Citizens do not rate your post, so there is no code."))
        return
    link = deep_link(context.bot.username, citizens.payload(issued.code_id, found))
    png = await asyncio.to_thread(_qr, link, "png")
    assert issued.expires_at is not None
    await message.reply_photo(
        InputFile(png, filename="rate.png"),
        caption=_(
            "Show this to the citizen you have just served: they scan it and rate this "
            "matter, once. It expires {expires}.\n{link}"
        ).format(expires=when(context, issued.expires_at), link=link),
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("Printable window code"),
                        callback_data=CitizenWindow(member.id).pack(),
                    )
                ]
            ]
        ),
    )
    await _show_summary(update, context)


async def _show_summary(update: Update, context: WorkledgerContext) -> None:
    message = update.effective_message
    member = context.member
    assert message is not None and member is not None
    async with context.uow() as uow:
        found, comments = await citizens.summary(
            uow, member, context.policy, zone=context.settings.zone, now=context.now()
        )
    _ = context._
    if not found.count:
        text = _("No citizen has rated you this period yet.")
    else:
        text = context.ngettext(
            "Citizens' ratings this period: {mean} of {top} on average, from {n} rating.",
            "Citizens' ratings this period: {mean} of {top} on average, from {n} ratings.",
            found.count,
        ).format(
            mean=f"{found.total / found.count:.1f}",
            top=context.policy.monthly_check.rating_max,
            n=found.count,
        )
    if found.waiting:
        text += "\n" + context.ngettext(
            "{n} more waits for HR's check.", "{n} more wait for HR's check.", found.waiting
        ).format(n=found.waiting)
    if comments:
        text += "\n" + _("Latest comments:") + "".join(f"\n• {c}" for c in comments)
    await message.reply_text(text)


async def window_code(update: Update, context: WorkledgerContext) -> None:
    """A new printable code for the person's window (it replaces the previous one)."""
    query = update.callback_query
    member = context.member
    assert query is not None and member is not None
    action = CitizenWindow.from_press(query.data)
    _ = context._
    found = keys(context)
    if action.staff_id != member.id or found is None:
        await query.answer(_("Sorry, you do not have permission to do that."), show_alert=True)
        return
    async with context.uow() as uow:
        issued = await citizens.issue(uow, member, WINDOW, context.policy, now=context.now())
    if isinstance(issued, Outcome):
        await query.answer(_("Citizens do not rate your post, so there is no code."))
        return
    await query.answer()
    link = deep_link(context.bot.username, citizens.payload(issued.code_id, found))
    pdf = await asyncio.to_thread(_qr, link, "pdf")
    limit = context.policy.citizens.window_code_daily_limit
    await context.bot.send_document(
        member.telegram_user_id or query.from_user.id,
        InputFile(pdf, filename=f"window-{member.employee_no}.pdf"),
        caption=context.ngettext(
            "The printable code of your window, for {name}: print it and put it where "
            "citizens can scan it. Each citizen account may rate you through it {n} time "
            "a day. It replaces your earlier window code.",
            "The printable code of your window, for {name}: print it and put it where "
            "citizens can scan it. Each citizen account may rate you through it {n} times "
            "a day. It replaces your earlier window code.",
            limit,
        ).format(name=member.name, n=limit),
    )


def _stars(context: WorkledgerContext, code_id: int, user_id: int) -> InlineKeyboardMarkup:
    found = keys(context)
    assert found is not None
    mac = found.press_mac(code_id, user_id)
    top = context.policy.monthly_check.rating_max
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    "★" * stars, callback_data=CitizenStars(code_id, stars, mac).pack()
                )
            ]
            for stars in range(top, 0, -1)
        ]
    )


def _refusal(context: WorkledgerContext, outcome: Outcome) -> str:
    _ = context._
    if outcome is Outcome.USED:
        return _("This code has already been used for a rating. Thank you all the same.")
    if outcome is Outcome.EXPIRED:
        return _("This code has expired. Ask at the window for a new one.")
    if outcome is Outcome.LIMIT:
        return _("You have already rated this person today through this code. Thank you.")
    return _("This rating code is not valid. Ask at the window for a new one.")


async def open_link(update: Update, context: WorkledgerContext, text: str) -> bool:
    """A citizen opened a rating link: the star buttons, or why not. False when ``text``
    is not a genuine rating code (the caller then treats it as an invitation)."""
    message = update.effective_message
    user = update.effective_user
    found = keys(context)
    if message is None or user is None or found is None:
        return False
    code_id = citizens.code_of(text, found)
    if code_id is None:
        return False
    async with context.uow() as uow:
        opened = await citizens.open_code(uow, code_id, context.policy, now=context.now())
    if isinstance(opened, Outcome):
        await message.reply_text(_refusal(context, opened))
        return True
    await message.reply_text(
        context._("How was the service of {name}? Choose the stars.").format(
            name=opened.staff_name
        ),
        reply_markup=_stars(context, code_id, user.id),
    )
    return True


async def press_stars(update: Update, context: WorkledgerContext) -> None:
    """A citizen's stars: stored (counted or kept for HR), then a thank-you."""
    query = update.callback_query
    assert query is not None
    action = CitizenStars.from_press(query.data)
    found = keys(context)
    _ = context._
    user_id = query.from_user.id
    if found is None or action.mac != found.press_mac(action.code_id, user_id):
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    async with context.uow() as uow:
        rated = await citizens.rate(
            uow,
            action.code_id,
            action.stars,
            user_id,
            found,
            context.policy,
            zone=context.settings.zone,
            now=context.now(),
            tell_hr=lambda chosen, telegram: _flags_waiting(context, chosen, telegram),
        )
    if isinstance(rated, Outcome):
        await query.answer(_refusal(context, rated), show_alert=True)
        return
    await query.answer()
    await query.edit_message_text(
        _(
            "Thank you for your rating: {stars}.\n"
            "If you like, send a comment as your next message (who you are is never shown)."
        ).format(stars="★" * action.stars)
    )


async def expects_comment(update: Update, context: WorkledgerContext) -> bool:
    """Whether a stranger's message is the comment on the rating they just gave (the
    gate lets only that through); notes it as the message's question."""
    message = update.effective_message
    user = update.effective_user
    found = keys(context)
    if message is None or not message.text or user is None or found is None:
        return False
    async with context.bot_data.database.uow() as uow:
        waiting = await citizens.awaiting_comment(
            uow, user.id, found, context.policy, now=context.now()
        )
    if waiting is None:
        return False
    context.question = CITIZEN_COMMENT
    return True


async def capture(update: Update, context: WorkledgerContext) -> None:
    """A citizen's comment on the rating they just gave."""
    message = update.effective_message
    user = update.effective_user
    found = keys(context)
    if context.question != CITIZEN_COMMENT or context.member is not None:
        return
    if message is None or not message.text or user is None or found is None:
        return
    async with context.uow() as uow:
        kept = await citizens.comment(
            uow, user.id, message.text, found, context.policy, now=context.now()
        )
    if kept:
        await message.reply_text(context._("Thank you: your comment has been passed on."))
    raise ApplicationHandlerStop


def _flags_waiting(context: WorkledgerContext, chosen: str | None, telegram: str | None) -> str:
    _ = translator(resolve_locale(chosen, telegram, context.settings.language)).gettext
    return _(
        "Some citizens' ratings look suspicious and wait for your check before they count. "
        "/rate shows them, with Confirm and Discard."
    )


def _flag_names(context: WorkledgerContext, flags: str) -> str:
    _ = context._
    names = {
        Flag.BURST: _("many ratings for this person in a short time"),
        Flag.REPEAT: _("the same account rated this person before"),
        Flag.STAFF_ACCOUNT: _("the account belongs to a staff member"),
        Flag.FAR_FROM_ISSUE: _("the code was used long after it was shown"),
    }
    return "; ".join(names[Flag(flag)] for flag in flags.split(",") if flag)


async def _show_flags(update: Update, context: WorkledgerContext) -> None:
    message = update.effective_message
    assert message is not None
    async with context.uow() as uow:
        rows, waiting = await citizens.flagged(uow, FLAGS_SHOWN)
        names = {row.staff_id: await uow.staff.get(row.staff_id) for row in rows}
    _ = context._
    if not rows:
        await message.reply_text(_("No citizen's rating waits for your check."))
        return
    await message.reply_text(
        context.ngettext(
            "{n} citizen's rating waits for your check (oldest first):",
            "{n} citizens' ratings wait for your check (oldest first):",
            waiting,
        ).format(n=waiting)
    )
    for row in rows:
        staff = names[row.staff_id]
        await message.reply_text(
            _("{stars} for {name} ({employee_no}), {at}\nWhy it waits: {why}").format(
                stars="★" * row.stars,
                name=staff.name if staff else "?",
                employee_no=staff.employee_no if staff else "?",
                at=when(context, row.created_at),
                why=_flag_names(context, row.flags),
            )
            + (("\n" + _("Comment: {text}").format(text=row.comment)) if row.comment else ""),
            reply_markup=InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(
                            _("Confirm"), callback_data=CitizenDecide(row.id, 1).pack()
                        ),
                        InlineKeyboardButton(
                            _("Discard"), callback_data=CitizenDecide(row.id, 0).pack()
                        ),
                    ]
                ]
            ),
        )


async def decide(update: Update, context: WorkledgerContext) -> None:
    """HR confirms (it counts) or discards a flagged rating."""
    query = update.callback_query
    member = context.member
    assert query is not None and member is not None
    action = CitizenDecide.from_press(query.data)
    async with context.uow() as uow:
        decided = await citizens.decide(
            uow, member, action.rating_id, bool(action.confirm), context.policy, now=context.now()
        )
    _ = context._
    if decided is None:
        await query.answer(_("This rating has already been decided."), show_alert=True)
        return
    await query.answer()
    await query.edit_message_text(
        _("Confirmed: the rating counts.") if action.confirm else _("Discarded: it never counts.")
    )
