"""HR's annual roll-up (/annual YYYY [wider]), honours (/honour) and trainings (/training).

The report of the flags (merit, dismissal review, promotion eligibility, training needs)
is rendered here for each HR person in their own language and queued by
``assessment.annual_run`` in the transaction that switches the roll-up in: it reaches
HR's private chats only. The person who ran the roll-up is answered with the counts
alone, so nothing of it shows in a chat where someone may look over their shoulder but
HR's own.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from telegram import Update

from assessment import annual_run, career
from assessment.annual import Flag
from assessment.annual_run import AnnualError, RollUp
from assessment.career import Awarded, RecordError
from assessment.outbox import ROUTINE, Outgoing
from assessment.people import StaffMember
from config.policy import Policy
from handlers.context import WorkledgerContext
from handlers.formatting import MAX_TEXT, listed
from locales import Translator, resolve_locale, translator

KIND = "annual_flags"
# Room left in a message for the line that says the flags are HR's only.
_ROOM = MAX_TEXT - 200


def usage(language: Translator) -> str:
    """How to run the roll-up."""
    return language.gettext(
        "To roll a year's routine results up into annual grades: /annual YYYY. "
        "An administrator may add 'wider' to use the approved wider top-grade share."
    )


def error_text(language: Translator, error: AnnualError | RecordError) -> str:
    """Why a roll-up or an award did not happen, in the reader's language."""
    _ = language.gettext
    texts = {
        AnnualError.NO_ANNUAL_RULE: _("The policy has no annual assessment ([annual] section)."),
        AnnualError.NOT_HR: _("Only HR can roll up a year."),
        AnnualError.NOT_ADMIN: _("Only an administrator can use the wider top-grade share."),
        AnnualError.BAD_YEAR: usage(language),
        AnnualError.NOTHING_PUBLISHED: _("No routine results of that year are published yet."),
        AnnualError.RUNNING: _(
            "A roll-up of that year is running already; its result replaces the year's when "
            "it is done."
        ),
        RecordError.NOT_PERMITTED: _("Only HR can do that."),
        RecordError.UNKNOWN_PERSON: _("Nobody on staff has that employee number."),
        RecordError.NO_HONOURS: _("The policy lists no honours ([[annual.honours]])."),
        RecordError.UNKNOWN_HONOUR: _("The policy has no such honour."),
        RecordError.UNKNOWN_TRAINING: _("The training catalogue has no such training."),
        RecordError.CITATION_NEEDED: _("Please give the citation after the honour."),
        RecordError.CITATION_TOO_LONG: _(
            "That citation is too long: at most {limit} characters."
        ).format(limit=career.MAX_CITATION),
    }
    return texts[error]


def annual_grade_name(language: Translator, policy: Policy, grade_id: str | None) -> str:
    """An annual grade's name in the reader's language (its id if the policy lost it)."""
    if grade_id is None or policy.annual is None:
        return grade_id or ""
    try:
        return policy.annual.grade(grade_id).names.get(language.locale)
    except KeyError:
        return grade_id


def training_names(language: Translator, policy: Policy, ids: Iterable[str]) -> str:
    """The trainings' names, joined, in the reader's language."""
    names = []
    for training_id in ids:
        try:
            if policy.annual is None:
                raise KeyError(training_id)
            names.append(policy.annual.training(training_id).names.get(language.locale))
        except KeyError:
            names.append(training_id)
    return listed(language.gettext, names)


def flag_headings(language: Translator, policy: Policy) -> dict[Flag, str]:
    """What each flag means, as a heading of HR's report."""
    _ = language.gettext
    assert policy.annual is not None
    rule = policy.annual
    top = rule.top_grade.names.get(language.locale)
    bottom = rule.bottom_grade.names.get(language.locale)
    return {
        Flag.MERIT: _("Merit ({count} consecutive years {grade}):").format(
            count=rule.merit_streak, grade=top
        ),
        Flag.DISMISSAL_REVIEW: _("Dismissal review ({count} consecutive years {grade}):").format(
            count=rule.dismissal_streak, grade=bottom
        ),
        Flag.PROMOTION: _("Eligible for rank promotion:"),
        Flag.TRAINING: _("Training needs:"),
    }


def report_texts(language: Translator, policy: Policy, result: RollUp) -> list[str]:
    """HR's report of a roll-up, in messages that each fit Telegram's limit."""
    _ = language.gettext
    share = (
        _("with the approved wider top-grade share")
        if result.with_approval
        else _("with the ordinary top-grade share")
    )
    head = _("Annual roll-up {year}: {people} people, {graded} graded ({share}).").format(
        year=result.year, people=result.people, graded=result.graded, share=share
    )
    lines = [head]
    headings = flag_headings(language, policy)
    if not result.flagged:
        lines.append(_("Nobody is flagged."))
    for flag in Flag:
        people = [row for row in result.flagged if str(flag) in row.flags]
        if not people:
            continue
        lines.append("")
        lines.append(headings[flag])
        for row in people:
            who = _("{employee_no} {name}, {department}").format(
                employee_no=row.employee_no, name=row.name, department=row.department
            )
            if flag is Flag.TRAINING:
                who = _("{person}: {trainings}").format(
                    person=who, trainings=training_names(language, policy, row.trainings)
                )
            lines.append("• " + who)
    footer = _("These flags are for HR only: do not forward them.")
    messages: list[str] = []
    current = ""
    for line in lines:
        if current and len(current) + len(line) + 1 > _ROOM:
            messages.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    messages.append(f"{current}\n\n{footer}")
    return messages


def reporter(policy: Policy, default_language: str, now: datetime) -> annual_run.Report:
    """Renders HR's report for each HR person, in their language, for the outbox."""

    def report(member: StaffMember, result: RollUp) -> list[Outgoing]:
        assert member.telegram_user_id is not None
        language = translator(
            resolve_locale(member.language, member.telegram_language, default_language)
        )
        stamp = now.strftime("%Y%m%dT%H%M%S%f")
        return [
            Outgoing(
                chat_id=member.telegram_user_id,
                kind=KIND,
                text=text,
                staff_id=member.id,
                dedup_key=f"annual-flags/{result.year}/{stamp}/{member.id}/{part}",
                priority=ROUTINE,
            )
            for part, text in enumerate(report_texts(language, policy, result))
        ]

    return report


async def annual_command(update: Update, context: WorkledgerContext) -> None:
    """/annual YYYY [wider]: roll the year up; the flags go to HR privately (HR)."""
    message = update.effective_message
    member = context.member
    assert message is not None and member is not None
    language = context.translator
    arguments = [argument.lower() for argument in context.args or []]
    if not arguments or not arguments[0].isdigit() or arguments[1:] not in ([], ["wider"]):
        await message.reply_text(usage(language))
        return
    year = int(arguments[0])
    wider = arguments[1:] == ["wider"]
    if refused := annual_run.refusal(member, context.policy, year, wider=wider):
        await message.reply_text(error_text(language, refused))
        return
    now = context.now()
    # A batch per transaction; the switch in the handler's own, which records the update.
    result = await annual_run.roll_up(
        context.bot_data.database.uow,
        context.policy,
        year,
        actor=member,
        now=now,
        wider=wider,
        report=reporter(context.policy, context.settings.language, now),
        last=context.uow,
    )
    if isinstance(result, AnnualError):
        await message.reply_text(error_text(language, result))
        return
    await message.reply_text(
        context._(
            "The annual roll-up of {year} is done: {people} people, {graded} graded, "
            "{flagged} flagged. HR receives the flags privately."
        ).format(
            year=year, people=result.people, graded=result.graded, flagged=len(result.flagged)
        )
    )


def _honour_usage(context: WorkledgerContext) -> str:
    policy = context.policy
    honours = () if policy.annual is None else policy.annual.honours
    names = listed(
        context._, (f"{honour.id} ({honour.names.get(context.locale)})" for honour in honours)
    )
    return context._(
        "To award an honour: /honour EMPLOYEE_NO HONOUR CITATION. Honours: {honours}."
    ).format(honours=names or "-")


def awarded_text(context: WorkledgerContext, policy: Policy, done: Awarded) -> str:
    """What HR is told once an honour is awarded."""
    assert policy.annual is not None
    honour = policy.annual.honour(done.item_id).names.get(context.locale)
    return context._(
        "{honour} is awarded to {name} ({employee_no}) and is in their record."
    ).format(honour=honour, name=done.person.name, employee_no=done.person.employee_no)


async def honour_command(update: Update, context: WorkledgerContext) -> None:
    """/honour EMPLOYEE_NO HONOUR CITATION: award an honour of the policy's list (HR)."""
    message = update.effective_message
    member = context.member
    assert message is not None and member is not None
    arguments = list(context.args or [])
    if len(arguments) < 2:
        await message.reply_text(_honour_usage(context))
        return
    employee_no, honour_id = arguments[0].upper(), arguments[1].lower()
    async with context.uow() as uow:
        result = await career.award_honour(
            uow,
            context.policy,
            member,
            employee_no,
            honour_id,
            " ".join(arguments[2:]),
            now=context.now(),
            today=context.today(),
        )
        if isinstance(result, RecordError):
            await message.reply_text(error_text(context.translator, result))
            return
        await uow.commit()
    await message.reply_text(awarded_text(context, context.policy, result))


def _training_usage(context: WorkledgerContext) -> str:
    policy = context.policy
    trainings = () if policy.annual is None else policy.annual.trainings
    names = listed(context._, (f"{t.id} ({t.names.get(context.locale)})" for t in trainings))
    return context._(
        "To record a training someone completed: /training EMPLOYEE_NO TRAINING NOTE. "
        "Trainings: {trainings}."
    ).format(trainings=names or "-")


async def training_command(update: Update, context: WorkledgerContext) -> None:
    """/training EMPLOYEE_NO TRAINING NOTE: record a completed training (HR)."""
    message = update.effective_message
    member = context.member
    assert message is not None and member is not None
    arguments = list(context.args or [])
    if len(arguments) < 2:
        await message.reply_text(_training_usage(context))
        return
    async with context.uow() as uow:
        result = await career.record_training(
            uow,
            context.policy,
            member,
            arguments[0].upper(),
            arguments[1].lower(),
            " ".join(arguments[2:]),
            now=context.now(),
            today=context.today(),
        )
        if isinstance(result, RecordError):
            await message.reply_text(error_text(context.translator, result))
            return
        await uow.commit()
    assert context.policy.annual is not None
    training = context.policy.annual.training(result.item_id).names.get(context.locale)
    await message.reply_text(
        context._("{training} is recorded for {name} ({employee_no}) in their record.").format(
            training=training, name=result.person.name, employee_no=result.person.employee_no
        )
    )
