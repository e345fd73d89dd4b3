"""/start (with or without an invitation code) and /help."""

from __future__ import annotations

from telegram import Update

from assessment import access
from assessment.citizens import PREFIX
from assessment.invitations import LinkOutcome, redeem
from assessment.third_parties import is_payload
from handlers import citizens, third_parties
from handlers.commands import DESCRIPTIONS
from handlers.context import WorkledgerContext
from handlers.formatting import when
from handlers.menus import publish_menu
from locales import resolve_locale, translator


async def start(update: Update, context: WorkledgerContext) -> None:
    """Link the account when a code is given; otherwise greet, or say how to join."""
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None:
        return
    if context.args and is_payload(context.args[0]):
        # A third-party evaluator's link (``t_`` and 42 characters, never an invitation).
        await third_parties.open_link(update, context, context.args[0])
        return
    if context.args:
        # A citizen's rating code (``c_``, never an invitation's 32 characters); anything
        # else, or a code that is not genuine, is read as an invitation.
        if context.args[0].startswith(PREFIX) and await citizens.open_link(
            update, context, context.args[0]
        ):
            return
        await _link(update, context, context.args[0])
        return
    _ = context._
    member = context.member
    if member is None:
        await message.reply_text(
            _(
                "Welcome to workledger, {name}.\n"
                "This bot keeps your daily work record and your monthly assessment.\n"
                "To join, ask your HR office for a personal invitation link and open it here."
            ).format(name=user.first_name)
        )
        return
    await message.reply_text(
        _("Welcome back, {name}. /help shows what you can do here.").format(name=member.name)
    )


async def _link(update: Update, context: WorkledgerContext, code: str) -> None:
    message = update.effective_message
    user = update.effective_user
    assert message is not None and user is not None
    async with context.uow() as uow:
        result = await redeem(
            uow,
            code,
            user.id,
            now=context.now(),
            max_failures=context.policy.invites.max_failed_attempts_per_hour,
        )
    _ = context._
    if result.outcome is LinkOutcome.LINKED:
        member = result.member
        assert member is not None
        context.member = member
        context.translator = translator(
            resolve_locale(member.language, user.language_code, context.settings.language)
        )
        await publish_menu(context.bot, member, context.locale)
        await message.reply_text(
            context._(
                "Welcome, {name}. Your Telegram account is now linked to your staff record "
                "({employee_no}).\n/help shows what you can do here."
            ).format(name=member.name, employee_no=member.employee_no)
        )
        return
    if result.outcome is LinkOutcome.ACCOUNT_TAKEN and result.member is not None:
        text = _("Your Telegram account is already linked to {name} ({employee_no}).").format(
            name=result.member.name, employee_no=result.member.employee_no
        )
    elif result.outcome is LinkOutcome.TOO_MANY_ATTEMPTS and result.retry_at is not None:
        text = _(
            "Too many invitation codes from this account were wrong. "
            "For security, please try again after {time}."
        ).format(time=when(context, result.retry_at))
    elif result.outcome is LinkOutcome.USED:
        text = _(
            "This invitation has already been used. If you need a new one, ask your HR office."
        )
    elif result.outcome is LinkOutcome.EXPIRED:
        text = _("This invitation has expired. Please ask your HR office for a new one.")
    elif result.outcome is LinkOutcome.RECORD_TAKEN:
        text = _(
            "The staff record this invitation belongs to is already linked to another "
            "Telegram account. If you changed phones, ask your HR office to unlink the old one."
        )
    else:
        text = _(
            "This invitation code is not valid. Make sure you opened the whole link, "
            "or ask your HR office for a new one."
        )
    await message.reply_text(text)


async def help_command(update: Update, context: WorkledgerContext) -> None:
    """List the commands this person may use."""
    message = update.effective_message
    if message is None:
        return
    _ = context._
    member = context.member
    if member is None or not member.is_active:
        commands = ["start", "help"]
        footer = _("To join, open the personal invitation link your HR office gives you.")
    else:
        commands = access.menu(member)
        footer = ""
    lines = [_("workledger: one record a day, one check a month."), ""]
    lines += [f"/{name} - {_(DESCRIPTIONS[name])}" for name in commands]
    if footer:
        lines += ["", footer]
    await message.reply_text("\n".join(lines))


async def unknown(update: Update, context: WorkledgerContext) -> None:
    """Anything no other handler understood."""
    if update.effective_message is not None:
        await update.effective_message.reply_text(
            context._("Sorry, I did not understand that. /help lists what I can do.")
        )
