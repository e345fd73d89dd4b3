"""/record: the career record (职业成就档案), one's own, or anyone's for HR, and its XLSX.

Commands in group chats are answered by the gate with a pointer to the private chat, so
a record is only ever shown in the private chat of the person asking. The HR-only flags
of each year (merit, dismissal review, promotion) are shown to HR alone; the person sees
their grades, points, key tasks (the urgent or dangerous tasks HR assigned with a reason:
``assessment.career``), honours and training needs.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from babel.numbers import format_decimal
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update

from assessment import career
from assessment.annual import Flag
from assessment.career import CareerRecord, RecordError
from handlers.annual import annual_grade_name, error_text, training_names
from handlers.callbacks import RecordExport
from handlers.context import WorkledgerContext
from handlers.formatting import MAX_TEXT, listed
from handlers.record_export import Sheet, record_xlsx
from handlers.scores import grade_name, period_label
from locales import N_, Translator

FLAG_NAMES = {
    Flag.MERIT: N_("merit"),
    Flag.DISMISSAL_REVIEW: N_("dismissal review"),
    Flag.PROMOTION: N_("eligible for promotion"),
    Flag.TRAINING: N_("training need"),
}
# Flags only HR reads; a training need is the person's too.
HR_FLAGS = frozenset({Flag.MERIT, Flag.DISMISSAL_REVIEW, Flag.PROMOTION})


def _number(language: Translator, value: Decimal) -> str:
    return str(format_decimal(value.quantize(Decimal("0.01")), "#,##0.##", locale=language.babel))


def _points(language: Translator, value: Decimal) -> str:
    sign = "+" if value > 0 else ""
    return sign + _number(language, value)


def record_lines(context: WorkledgerContext, record: CareerRecord) -> list[str]:
    """The record as lines of text, in the reader's language (before any is cut)."""
    _ = context._
    language = context.translator
    policy = context.policy
    person = record.person
    lines = [
        _("Career record: {name} ({employee_no}), {department}").format(
            name=person.name, employee_no=person.employee_no, department=record.department
        )
    ]
    lines += ["", _("Annual results:")]
    if not record.years:
        lines.append(_("nothing yet"))
    for year in record.years:
        if year.grade_id is None:
            line = _("{year}: not graded ({count} routine results)").format(
                year=year.year, count=year.periods
            )
        else:
            assert year.score is not None
            line = _("{year}: {grade} (score {score}, {count} routine results)").format(
                year=year.year,
                grade=annual_grade_name(language, policy, year.grade_id),
                score=_number(language, year.score),
                count=year.periods,
            )
        lines.append("• " + line)
        if year.trainings:
            lines.append(
                "  "
                + _("Training need: {trainings}").format(
                    trainings=training_names(language, policy, year.trainings)
                )
            )
        hr_flags = [_(FLAG_NAMES[Flag(f)]) for f in year.flags if Flag(f) in HR_FLAGS]
        if record.for_hr and hr_flags:
            lines.append("  " + _("HR flags: {flags}").format(flags=listed(_, hr_flags)))
    lines += ["", _("Routine results:")]
    if not record.periods:
        lines.append(_("nothing yet"))
    for period in record.periods:
        grade = grade_name(language, policy, period.calibrated_grade_id or period.grade_id)
        lines.append(
            "• "
            + _("{period}: {grade} ({score})").format(
                period=period_label(language, period.period_key, policy),
                grade=grade,
                score=_number(language, period.score),
            )
        )
    lines += ["", _("Points:")]
    if not record.points:
        lines.append(_("nothing yet"))
    for point in record.points:
        lines.append(
            "• "
            + _("{period}: {points} {reason}").format(
                period=period_label(language, point.period_key, policy),
                points=_points(language, point.amount),
                reason=point.reason,
            )
        )
    lines += ["", _("Key tasks:")]
    if not record.key_tasks:
        lines.append(_("nothing yet"))
    for task in record.key_tasks:
        lines.append(
            "• "
            + _("{period}: {task}: {reason}").format(
                period=period_label(language, task.period_key, policy),
                task=_allowance_name(context, task.kind),
                reason=task.reason,
            )
        )
    lines += ["", _("Trainings completed:")]
    if not record.trainings:
        lines.append(_("nothing yet"))
    for done in record.trainings:
        lines.append(
            "• "
            + _("{training}, {date}: {note}").format(
                training=training_names(language, policy, [done.training_id]),
                date=done.completed_on.isoformat(),
                note=done.note,
            )
        )
    lines += ["", _("Honours:")]
    if not record.honours:
        lines.append(_("nothing yet"))
    for honour in record.honours:
        lines.append(
            "• "
            + _("{honour}, {date}: {citation}").format(
                honour=_honour_name(context, honour.honour_id),
                date=honour.awarded_on.isoformat(),
                citation=honour.citation,
            )
        )
    return lines


def _allowance_name(context: WorkledgerContext, kind: str) -> str:
    allowance = context.policy.bonus.allowances.get(kind)
    return kind if allowance is None else allowance.names.get(context.locale)


def _honour_name(context: WorkledgerContext, honour_id: str) -> str:
    annual = context.policy.annual
    if annual is None:
        return honour_id
    try:
        return annual.honour(honour_id).names.get(context.locale)
    except KeyError:
        return honour_id


def record_text(context: WorkledgerContext, record: CareerRecord) -> str:
    """The record as one message; the oldest lines of a long one are left to the XLSX."""
    lines = record_lines(context, record)
    more = context._("… (more in the XLSX export)")
    text = ""
    for line in lines:
        if len(text) + len(line) + len(more) + 2 > MAX_TEXT:
            return f"{text}\n{more}"
        text = f"{text}\n{line}" if text else line
    return text


async def record_command(update: Update, context: WorkledgerContext) -> None:
    """/record [EMPLOYEE_NO]: my career record, or (HR) anyone's."""
    message = update.effective_message
    member = context.member
    assert message is not None and member is not None
    arguments = list(context.args or [])
    employee_no = arguments[0].upper() if arguments else None
    async with context.uow() as uow:
        record = await career.record_of(uow, member, employee_no, policy=context.policy)
    if isinstance(record, RecordError):
        text = (
            context._("You can see only your own record.")
            if record is RecordError.NOT_PERMITTED
            else error_text(context.translator, record)
        )
        await message.reply_text(text)
        return
    markup = None
    if record.for_hr:
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        context._("Export as XLSX"),
                        callback_data=RecordExport(record.person.id).pack(),
                    )
                ]
            ]
        )
    await message.reply_text(record_text(context, record), reply_markup=markup)


def record_sheets(context: WorkledgerContext, record: CareerRecord) -> list[Sheet]:
    """The record's sheets with headers in the reader's language."""
    _ = context._
    language = context.translator
    policy = context.policy
    years = Sheet(
        _("Annual results"),
        [_("Year"), _("Annual grade"), _("Score"), _("Routine results"), _("Training need"),
         _("HR flags")],
        [
            [
                year.year,
                annual_grade_name(language, policy, year.grade_id) or None,
                year.score,
                year.periods,
                training_names(language, policy, year.trainings) or None,
                listed(_, (_(FLAG_NAMES[Flag(f)]) for f in year.flags)) or None,
            ]
            for year in record.years
        ],
    )  # fmt: skip
    periods = Sheet(
        _("Routine results"),
        [_("Period"), _("Grade"), _("Original grade"), _("Score")],
        [
            [
                period.period_key,
                grade_name(language, policy, period.calibrated_grade_id or period.grade_id),
                grade_name(language, policy, period.grade_id),
                period.score,
            ]
            for period in record.periods
        ],
    )
    points = Sheet(
        _("Points"),
        [_("Period"), _("Points"), _("Reason")],
        [[point.period_key, point.amount, point.reason] for point in record.points],
    )
    honours = Sheet(
        _("Honours"),
        [_("Honour"), _("Awarded on"), _("Citation")],
        [
            [_honour_name(context, honour.honour_id), honour.awarded_on, honour.citation]
            for honour in record.honours
        ],
    )
    zone = context.settings.zone
    key_tasks = Sheet(
        _("Key tasks"),
        [_("Period"), _("Key task"), _("Reason"), _("Assigned on")],
        [
            [
                task.period_key,
                _allowance_name(context, task.kind),
                task.reason,
                task.assigned_at.astimezone(zone).date(),
            ]
            for task in record.key_tasks
        ],
    )
    trainings = Sheet(
        _("Trainings"),
        [_("Training"), _("Completed on"), _("Note")],
        [
            [training_names(language, policy, [done.training_id]), done.completed_on, done.note]
            for done in record.trainings
        ],
    )
    person = Sheet(
        _("Person"),
        [_("Employee no."), _("Name"), _("Department")],
        [[record.person.employee_no, record.person.name, record.department]],
    )
    return [person, years, periods, points, key_tasks, trainings, honours]


async def export_record(update: Update, context: WorkledgerContext) -> None:
    """The XLSX of a person's record, for HR, built off the event loop."""
    query = update.callback_query
    member = context.member
    assert query is not None and member is not None
    action = RecordExport.from_press(query.data)
    async with context.uow() as uow:
        person = await uow.staff.get(action.staff_id)
        record = (
            RecordError.UNKNOWN_PERSON
            if person is None
            else await career.record_of(uow, member, person.employee_no, policy=context.policy)
        )
    if isinstance(record, RecordError) or not record.for_hr:
        await query.answer(context._("Only HR can do that."), show_alert=True)
        return
    await query.answer()
    content = await asyncio.to_thread(record_xlsx, record_sheets(context, record))
    assert query.message is not None
    await context.bot.send_document(
        query.message.chat.id,
        InputFile(content, filename=f"record-{record.person.employee_no}.xlsx"),
    )
