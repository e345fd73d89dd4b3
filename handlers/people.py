"""/me (my own record) and /team (my direct reports)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from types import MappingProxyType

from babel.dates import format_date
from telegram import Update

from assessment import approvals as approval_rules
from assessment.approvals import ActiveDelegation
from assessment.people import StaffStatus, TeamRow, profile, team
from assessment.reminders import DayState
from handlers import approvals, reminders
from handlers.context import WorkledgerContext
from handlers.formatting import day, lines_at_most, listed, number, person_label
from handlers.labels import role_names, status_name
from locales import N_

# The room of /team's list of people: its heading and a delegation line (two names of at
# most 200 characters, a date) come on top, within Telegram's 4,096.
TEAM_ROOM = 3300

TODAY_LABELS: Mapping[DayState, str] = MappingProxyType(
    {
        DayState.LOGGED: N_("logged today"),
        DayState.NOT_YET: N_("not logged yet"),
        DayState.ON_LEAVE: N_("on leave today"),
    }
)


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
        post = _("{post} ({post_type})").format(post=post, post_type=kind)
    lines = [
        person_label(_, record.name, record.employee_no),
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
        _("Roles: {roles}").format(roles=listed(_, role_names(context, record.roles))),
        _("Status: {status}").format(status=status_name(context, record.status)),
    ]
    if record.linked_at is not None:
        lines.append(_("Linked since: {date}").format(date=day(context, record.linked_at)))
    await message.reply_text("\n".join(lines))


async def my_team(update: Update, context: WorkledgerContext) -> None:
    """List the caller's direct reports: whether each has joined, and today's log."""
    message = update.effective_message
    member = context.member
    assert message is not None and member is not None
    async with context.uow() as uow:
        people = await team(uow, member.id)
    if not people:
        await message.reply_text(context._("Nobody reports to you directly."))
        return
    today, workday, states = await reminders.team_today(context, member.id)
    async with context.uow() as uow:
        delegation = await approval_rules.delegation_of(uow, member.id, today)
    await message.reply_text(team_text(context, people, today, workday, states, delegation))


def team_text(
    context: WorkledgerContext,
    people: Sequence[TeamRow],
    today: date,
    workday: bool,
    states: Mapping[str, DayState],
    delegation: ActiveDelegation | None,
) -> str:
    """/team's answer: one line a person, as many as fit one message, then how many more."""
    _ = context._
    joined = sum(person.linked for person in people)
    date_text = format_date(today, format="medium", locale=context.translator.babel)
    lines = [
        context.ngettext(
            "{count} person reports to you; {joined} joined.",
            "{count} people report to you; {joined} joined.",
            len(people),
        ).format(count=len(people), joined=joined),
        _("Today, {date}:").format(date=date_text)
        if workday
        else _("Today, {date}, is not a workday.").format(date=date_text),
        "",
    ]
    listed_people = []
    for person in people:
        state = _("joined") if person.linked else _("not joined yet")
        if person.status is not StaffStatus.ACTIVE:
            state = _("{state}, {status}").format(
                state=state, status=status_name(context, person.status)
            )
        today_state = states.get(person.employee_no)
        # On a day off nobody owes an entry: only say who logged or is on leave anyway.
        if today_state is not None and (workday or today_state is not DayState.NOT_YET):
            state = _("{state}; {today}").format(state=state, today=_(TODAY_LABELS[today_state]))
        listed_people.append(
            _("{employee_no} {name}: {state}").format(
                employee_no=person.employee_no, name=person.name, state=state
            )
        )
    lines += lines_at_most(context.ngettext, listed_people, room=TEAM_ROOM)
    if delegation is not None:
        lines += ["", approvals.delegation_line(context, delegation)]
    return "\n".join(lines)
