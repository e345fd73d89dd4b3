"""The gate every update passes first: the one way in.

It drops duplicates, finds the caller, notes their Telegram language, reads what
their next message answers (if anything), keeps personal data out of group
chats, and checks the caller's role for the command or button, in one place,
before any handler runs. ``settle`` runs last and records an update that wrote
nothing as handled; ``claim`` does so at once, before an answer that writes
nothing, so that a delivery of the same update running elsewhere cannot answer
it a second time.

An update the gate fails on (the store busy, an answer that cannot be sent) goes
to the error handler and no further: no handler runs for a caller the gate did
not let in.
"""

from __future__ import annotations

from telegram import CallbackQuery, Chat, Message, MessageEntity, Update
from telegram.ext import ApplicationHandlerStop

from assessment import access
from assessment.access import Refusal
from assessment.people import StaffMember, identify
from handlers import callbacks, citizens
from handlers.context import WorkledgerContext
from locales import resolve_locale, translator
from storage.uow import PendingClaim


def command_of(message: Message | None) -> str | None:
    """The command a message starts with (``/Invite@bot x`` -> ``invite``), if any."""
    if message is None or not message.text or not message.entities:
        return None
    first = message.entities[0]
    if first.type != MessageEntity.BOT_COMMAND or first.offset != 0:
        return None
    return message.text[1 : first.length].split("@", 1)[0].lower()


def refusal_text(context: WorkledgerContext, refusal: Refusal) -> str:
    """Why the caller was refused, in their language."""
    _ = context._
    if refusal is Refusal.NOT_LINKED:
        return _(
            "Your Telegram account is not linked to a staff record yet. "
            "Ask your HR office for a personal invitation link and open it here."
        )
    if refusal is Refusal.LEFT:
        return _(
            "Your staff record is marked as having left, so this bot is closed to you. "
            "If that is wrong, please contact your HR office."
        )
    return _("Sorry, you do not have permission to do that.")


async def admit(update: Update, context: WorkledgerContext) -> None:
    """Identify the caller once per update, then let the update through or stop it here."""
    try:
        await _admit(update, context)
    except ApplicationHandlerStop:
        raise
    except Exception as error:
        # Left to PTB, the later groups would still run, for a caller nobody checked.
        await context.application.process_error(update, error)
        raise ApplicationHandlerStop from error


async def _admit(update: Update, context: WorkledgerContext) -> None:
    user = update.effective_user
    # Not under the update's claim: noting who asks is not handling what they ask.
    async with context.bot_data.database.uow() as uow:
        caller = await identify(
            uow,
            update.update_id,
            user.id if user else None,
            user.language_code if user else None,
        )
    if caller.duplicate:
        raise ApplicationHandlerStop
    context.claim = PendingClaim(update.update_id, at=context.now())
    context.question = caller.question
    let_in(context, caller.member, user.language_code if user else None)
    chat = update.effective_chat
    if chat is not None and chat.type != Chat.PRIVATE:
        await _point_to_private_chat(update, context)
        raise ApplicationHandlerStop
    if update.callback_query is not None:
        await _check_button(update.callback_query, context)
        return
    refusal = _check_message(update, context)
    # The one stranger's message let in: a citizen's comment on the rating just given.
    if refusal is Refusal.NOT_LINKED and await citizens.expects_comment(update, context):
        return
    if refusal is not None:
        await claim(context)
        if update.effective_message is not None:
            await update.effective_message.reply_text(refusal_text(context, refusal))
        raise ApplicationHandlerStop


def let_in(
    context: WorkledgerContext, member: StaffMember | None, language_code: str | None
) -> None:
    """Note who is asking, and answer them in their language from here on."""
    context.member = member
    context.translator = translator(
        resolve_locale(
            member.language if member else None, language_code, context.settings.language
        )
    )


async def settle(update: Update, context: WorkledgerContext) -> None:
    """Last: record an update that wrote nothing as handled, so a redelivery is dropped."""
    await claim(context)


async def claim(context: WorkledgerContext) -> None:
    """Record the update as handled now, unless something it wrote already did.

    Called before answering with something that writes nothing (a refusal, "already
    decided"): a delivery of the same update that got past the gate meanwhile, in
    this process or another, then finds it claimed and answers nothing.

    Raises:
        UpdateAlreadyHandled: another delivery claimed it first; this one must stay silent.
    """
    pending = context.claim
    if pending is None or pending.settled:
        return
    async with context.uow() as uow:
        await uow.commit()  # a unit of work's first commit records its update


def _check_message(update: Update, context: WorkledgerContext) -> Refusal | None:
    command = command_of(update.effective_message)
    if command is not None:
        return access.check_command(context.member, command)
    return access.check(context.member, access.MEMBERS)


async def _check_button(query: CallbackQuery, context: WorkledgerContext) -> None:
    action = callbacks.parse(query.data)
    if action is None:
        await claim(context)
        await query.answer(context._("This button is no longer valid."), show_alert=True)
        raise ApplicationHandlerStop
    refusal = access.check(context.member, action.requires)
    if refusal is not None:
        await claim(context)
        await query.answer(refusal_text(context, refusal), show_alert=True)
        raise ApplicationHandlerStop


async def _point_to_private_chat(update: Update, context: WorkledgerContext) -> None:
    # Personal data never goes to a group; commands there get a pointer, chatter nothing.
    await claim(context)
    if update.callback_query is not None:
        await update.callback_query.answer()
        return
    message = update.effective_message
    if message is None or command_of(message) is None:
        return
    await message.reply_text(
        context._(
            "To keep personal data private I only work in a private chat. "
            "Open one with me here: {link}"
        ).format(link=f"https://t.me/{context.bot.username}")
    )
