"""/start and /help: the first words a person gets from the bot."""

from __future__ import annotations

from telegram import Update

from handlers.context import WorkledgerContext


async def start(update: Update, context: WorkledgerContext) -> None:
    """Greet the caller: by name if they are on the roster, otherwise say how to join."""
    message = update.effective_message
    if message is None:
        return
    _ = context._
    if context.member is None:
        user = update.effective_user
        name = user.first_name if user else ""
        await message.reply_text(
            _(
                "Welcome to workledger, {name}.\n"
                "This bot keeps your daily work record and your monthly assessment.\n"
                "To join, ask your HR office for a personal invitation link and open it here."
            ).format(name=name)
        )
        return
    await message.reply_text(
        _("Welcome back, {name}. Send me what you did today, or /help for more.").format(
            name=context.member.name
        )
    )


async def help_command(update: Update, context: WorkledgerContext) -> None:
    """List what the bot can do."""
    message = update.effective_message
    if message is None:
        return
    _ = context._
    await message.reply_text(
        "\n".join(
            [
                _("workledger: one record a day, one check a month."),
                "",
                _("/start - begin, or link your account with an invitation"),
                _("/help - this list"),
                "",
                _("Any plain message you send me is logged as today's work."),
            ]
        )
    )
