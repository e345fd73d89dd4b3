"""/invite and /unlink (HR): one-time links to join, and detaching a lost account."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.error import BadRequest

from assessment.invitations import (
    InvitationError,
    deep_link,
    invite,
    invite_department,
    unlink,
)
from handlers.callbacks import InviteDepartment, InvitePage
from handlers.context import WorkledgerContext
from handlers.formatting import button_page, when
from handlers.invitation_cards import qr_png, sheet
from handlers.menus import withdraw_menu

MAX_PER_COMMAND = 20


def _error_text(context: WorkledgerContext, error: InvitationError) -> str:
    _ = context._
    if error.code == "unknown":
        text = _("There is no staff member with employee number {employee_no}.")
    elif error.code == "left":
        text = _("{employee_no} has left; invitations are only for current staff.")
    elif error.code == "linked":
        text = _(
            "{employee_no} has already joined. If they lost their phone, "
            "send /unlink {employee_no} first."
        )
    else:
        text = _("{employee_no} has no linked Telegram account.")
    return text.format(employee_no=error.employee_no)


def _ttl(context: WorkledgerContext) -> timedelta:
    return timedelta(days=context.policy.invites.ttl_days)


async def invite_people(update: Update, context: WorkledgerContext) -> None:
    """Invite the people named, or offer the departments when nobody is named."""
    message = update.effective_message
    member = context.member
    assert message is not None and member is not None  # the gate let only HR through
    _ = context._
    numbers = list(dict.fromkeys(context.args or []))
    if not numbers:
        await message.reply_text(
            _(
                "Send /invite EMPLOYEE_NO... to invite people, or choose a department "
                "to invite everyone there who has not joined yet."
            ),
            reply_markup=await _departments(context, 0),
        )
        return
    if len(numbers) > MAX_PER_COMMAND:
        await message.reply_text(
            _("At most {limit} people at a time; choose a department for more.").format(
                limit=MAX_PER_COMMAND
            )
        )
        return
    try:
        async with context.uow() as uow:
            issued = await invite(
                uow, numbers, actor_staff_id=member.id, ttl=_ttl(context), now=context.now()
            )
    except InvitationError as error:
        await message.reply_text(
            _error_text(context, error) + "\n" + _("Nobody was invited; please correct this.")
        )
        return
    for invitation in issued:
        link = deep_link(context.bot.username, invitation.code)
        await message.reply_photo(
            InputFile(qr_png(link), filename=f"invite-{invitation.employee_no}.png"),
            caption=_(
                "Invitation for {name} ({employee_no}):\n{link}\n"
                "It works once and expires {expires}. Give it only to this person."
            ).format(
                name=invitation.name,
                employee_no=invitation.employee_no,
                link=link,
                expires=when(context, invitation.expires_at),
            ),
        )


async def _departments(context: WorkledgerContext, page: int) -> InlineKeyboardMarkup | None:
    # A page of departments at a time: Telegram takes at most 100 buttons a message.
    async with context.uow() as uow:
        departments = await uow.directory.departments()
    buttons = [
        InlineKeyboardButton(name, callback_data=InviteDepartment(department_id).pack())
        for department_id, name in departments
    ]
    if not buttons:
        return None
    return InlineKeyboardMarkup(button_page(buttons, page, lambda to: InvitePage(to).pack()))


async def turn_departments(update: Update, context: WorkledgerContext) -> None:
    """« and » under the departments /invite offers."""
    query = update.callback_query
    assert query is not None
    markup = await _departments(context, InvitePage.from_press(query.data).page)
    await query.answer()
    with contextlib.suppress(BadRequest):  # unchanged
        await query.edit_message_reply_markup(markup)


async def invite_whole_department(update: Update, context: WorkledgerContext) -> None:
    """Send HR a printable sheet of invitations for one department."""
    query = update.callback_query
    member = context.member
    assert query is not None and member is not None
    action = InviteDepartment.from_press(query.data)
    _ = context._
    async with context.uow() as uow:
        names = dict(await uow.directory.departments())
        if action.department_id not in names:
            await query.answer(_("This department no longer exists."), show_alert=True)
            return
        issued = await invite_department(
            uow,
            action.department_id,
            actor_staff_id=member.id,
            ttl=_ttl(context),
            now=context.now(),
        )
    await query.answer()
    department = names[action.department_id]
    if not issued:
        await query.edit_message_text(
            _("Everyone in {department} has already joined.").format(department=department)
        )
        return
    page = sheet(
        _("Invitations: {department}").format(department=department),
        issued,
        context.bot.username,
        valid_until=lambda moment: _("Valid until {time}").format(time=when(context, moment)),
        instructions=_(
            "Scan the code with the phone's camera, or open the link, then press Start. "
            "Each code works once."
        ),
    )
    await query.edit_message_text(
        context.ngettext(
            "{count} invitation for {department}.",
            "{count} invitations for {department}.",
            len(issued),
        ).format(count=len(issued), department=department)
    )
    await context.bot.send_document(
        query.message.chat.id if query.message else member.telegram_user_id or 0,
        InputFile(page, filename=f"invitations-{action.department_id}.html"),
    )


async def unlink_account(update: Update, context: WorkledgerContext) -> None:
    """Detach a person's Telegram account so they can be invited again."""
    message = update.effective_message
    member = context.member
    assert message is not None and member is not None
    _ = context._
    if not context.args or len(context.args) != 1:
        await message.reply_text(_("Send /unlink EMPLOYEE_NO."))
        return
    employee_no = context.args[0]
    try:
        async with context.uow() as uow:
            previous = await unlink(uow, employee_no, actor_staff_id=member.id, now=context.now())
    except InvitationError as error:
        await message.reply_text(_error_text(context, error))
        return
    if previous is not None:
        await withdraw_menu(context.bot, previous)
    await message.reply_text(
        _(
            "{employee_no} is unlinked: the old account can no longer use the bot. "
            "Send /invite {employee_no} to invite them again."
        ).format(employee_no=employee_no)
    )
