"""/me (my own record) and /team (my direct reports)."""

from __future__ import annotations

from telegram import Update

from assessment.people import StaffStatus, profile, team
from handlers.context import WorkledgerContext
from handlers.formatting import day, number
from handlers.labels import role_names, status_name


async def me(update: Update, context: WorkledgerContext) -> None:
    """Show the caller their own staff record."""
    message = update.effective_message
    member = context.member
    assert message is not None and member is not None  # the gate let only members through
    async with context.uow() as uow:
        record = await profile(uow, member.id)
    _ = context._
    post = record.post or "-"
    if record.post_type and record.post_type in context.policy.post_types:
        kind = context.policy.post_types[record.post_type].names.get(context.locale)
        post = f"{post} ({kind})"
    lines = [
        f"{record.name} ({record.employee_no})",
        _("Department: {department}").format(department=record.department),
        _("Post: {post}").format(post=post),
    ]
    if record.difficulty is not None:
        lines.append(
            _("Post difficulty: {difficulty}").format(
                difficulty=number(context, record.difficulty)
            )
        )
    lines += [
        _("Supervisor: {supervisor}").format(supervisor=record.supervisor or "-"),
        _("Roles: {roles}").format(roles=", ".join(role_names(context, record.roles))),
        _("Status: {status}").format(status=status_name(context, record.status)),
    ]
    if record.linked_at is not None:
        lines.append(_("Linked since: {date}").format(date=day(context, record.linked_at)))
    await message.reply_text("\n".join(lines))


async def my_team(update: Update, context: WorkledgerContext) -> None:
    """List the caller's direct reports and whether each has joined."""
    message = update.effective_message
    member = context.member
    assert message is not None and member is not None
    async with context.uow() as uow:
        people = await team(uow, member.id)
    _ = context._
    if not people:
        await message.reply_text(_("Nobody reports to you directly."))
        return
    joined = sum(person.linked for person in people)
    lines = [
        context.ngettext(
            "{count} person reports to you; {joined} joined.",
            "{count} people report to you; {joined} joined.",
            len(people),
        ).format(count=len(people), joined=joined),
        "",
    ]
    for person in people:
        state = _("joined") if person.linked else _("not joined yet")
        extra = (
            f", {status_name(context, person.status)}"
            if person.status is not StaffStatus.ACTIVE
            else ""
        )
        lines.append(f"{person.employee_no} {person.name}: {state}{extra}")
    await message.reply_text("\n".join(lines))
