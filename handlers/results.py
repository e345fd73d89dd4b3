"""HR's /results: a period's figures, calibration, exclusions and publication.

Adapters only: ``assessment.results`` checks, on every press and every answer, that
the caller is HR, the period's stage and the versions shown, and the quota.
A reason (calibration, exclusion) or a publication time is the caller's next message.
Scores and grades are shown only here, in HR's private chat.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Sequence
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import ApplicationHandlerStop

from assessment import access, periods, quota, results
from assessment.grading import ORGANISATION, CalibrationProblem, ScopeKey
from assessment.outbox import ROUTINE, Outgoing
from assessment.periods import Stage
from assessment.results import (
    Blocked,
    Calibrated,
    DepartmentFigures,
    Excluded,
    Opened,
    Published,
    Recipient,
    ResultsError,
    Scheduled,
    ScopePerson,
    Tally,
)
from config.policy import Policy
from handlers.callbacks import (
    ResultsCalibrate,
    ResultsDepartment,
    ResultsExclude,
    ResultsGrade,
    ResultsOverview,
    ResultsPerson,
    ResultsPublish,
    ResultsQuota,
)
from handlers.context import BotData, WorkledgerContext
from handlers.formatting import (
    LINES_ROOM,
    answer_text,
    button_page,
    lines_at_most,
    listed_at_most,
    person_label,
    when,
)
from handlers.gate import claim
from handlers.scores import grade_name, number, period_label
from locales import N_, Translator, resolve_locale, translator

CALIBRATION = "calibration"
EXCLUSION = "exclusion"
PUBLICATION = "publication"
QUOTA = "quota"
QUESTIONS = (CALIBRATION, EXCLUSION, PUBLICATION, QUOTA)

STAGE_NAMES = {
    Stage.OPEN: N_("open"),
    Stage.SELF_ASSESSMENT: N_("self-assessment"),
    Stage.SUPERVISOR_REVIEW: N_("supervisor review"),
    Stage.CALIBRATION: N_("calibration"),
    Stage.PUBLISHED: N_("published"),
}
_MOMENT = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})[ T]+(\d{1,2}):(\d{2})")


# --------------------------------------------------------------------------- texts


def error_text(context: WorkledgerContext, error: ResultsError) -> str:
    """Why a change of results was refused, in the caller's language."""
    _ = context._
    texts = {
        ResultsError.NOT_HR: _("Only HR can calibrate and publish results."),
        ResultsError.UNKNOWN_PERIOD: _("There is no such period."),
        ResultsError.NOT_YET: _(
            "That period is not in calibration yet: grades can be changed and results "
            "published once the supervisor review is over."
        ),
        ResultsError.TOO_EARLY: _("That period is not under review yet."),
        ResultsError.PUBLISHED: _(
            "That period's results are published: they change only through an appeal."
        ),
        ResultsError.STALE: _(
            "These results changed since they were shown. Open /results again to see them "
            "as they are now."
        ),
        ResultsError.NOT_IN_SCOPE: _("That person is not assessed in this period."),
        ResultsError.NO_SCORE: _("That person has no score yet."),
        ResultsError.EXCLUDED: _("That person is excluded from this period's publication."),
        ResultsError.SIGNED_OFF: _(
            "That person's review is signed off: only an unreviewed person can be excluded."
        ),
        ResultsError.UNKNOWN_GRADE: _("There is no such grade."),
        ResultsError.REASON_NEEDED: _("Please send the reason as a message (or /cancel)."),
        ResultsError.REASON_TOO_LONG: _(
            "That reason is too long: at most {limit} characters."
        ).format(limit=results.MAX_REASON),
        ResultsError.IN_THE_PAST: _(
            "That time has passed. Send a later date and time, e.g. 2026-12-10 09:00 (or /cancel)."
        ),
        ResultsError.NOT_PUBLISHED: _("That period's results are not published."),
        ResultsError.CALIBRATING: _("That period's calibration has started already."),
    }
    return texts[error]


def _share(share: Decimal) -> str:
    return f"{(share * 100).normalize():f}%"


def quota_error_text(context: WorkledgerContext, error: quota.QuotaError) -> str:
    """Why the wider share was not approved or withdrawn, in the caller's language."""
    _ = context._
    texts = {
        quota.QuotaError.NOT_ADMIN: _(
            "Only an administrator can approve or withdraw the wider top-grade share."
        ),
        quota.QuotaError.NO_WIDER_SHARE: _("The policy allows no wider top-grade share."),
        quota.QuotaError.UNKNOWN_PERIOD: _("There is no such period."),
        quota.QuotaError.UNKNOWN_SCOPE: _("The quota is not counted there."),
        quota.QuotaError.PUBLISHED: _(
            "That period's results are published: they change only through an appeal."
        ),
        quota.QuotaError.APPROVED: _("The wider top-grade share is approved there already."),
        quota.QuotaError.NOT_APPROVED: _("No wider top-grade share is approved there."),
        quota.QuotaError.REASON_NEEDED: _("Please send the reason as a message (or /cancel)."),
        quota.QuotaError.REASON_TOO_LONG: _(
            "That reason is too long: at most {limit} characters."
        ).format(limit=quota.MAX_REASON),
    }
    return texts[error]


def _quota_lines(context: WorkledgerContext, view: results.QuotaView) -> list[str]:
    _ = context._
    policy = context.policy
    share = policy.quota.top_grade_max_share
    if view.approval is not None and policy.quota.with_approval_max_share is not None:
        share = policy.quota.with_approval_max_share
    lines = [
        _("Top grade ({grade}): {top} given, at most {cap} of {people} ({share}).").format(
            grade=grade_name(context.translator, policy, policy.top_grade.id),
            top=view.top,
            cap=view.cap,
            people=view.people,
            share=_share(share),
        )
    ]
    if view.approval is not None:
        lines.append(
            _("Wider share approved by {name} on {day}: {reason}").format(
                name=view.approval.approved_by,
                day=view.approval.approved_at.astimezone(context.settings.zone).date().isoformat(),
                reason=view.approval.reason,
            )
        )
    return lines


def _quota_buttons(
    context: WorkledgerContext, opened: Opened, view: results.QuotaView
) -> list[list[InlineKeyboardButton]]:
    """An administrator's Approve or Withdraw of the wider share, before publication."""
    wider = context.policy.quota.with_approval_max_share
    member = context.member
    if (
        wider is None
        or opened.stage is Stage.PUBLISHED
        or member is None
        or access.check(member, access.QUOTA_APPROVERS) is not None
    ):
        return []
    department = 0 if view.scope == ORGANISATION else int(view.scope)
    _ = context._
    if view.approval is None:
        label = _("Approve the wider share ({share})").format(share=_share(wider))
    else:
        label = _("Withdraw the wider share")
    approve = int(view.approval is None)
    return [
        [
            InlineKeyboardButton(
                label, callback_data=ResultsQuota(opened.period_id, department, approve).pack()
            )
        ]
    ]


def _distribution(language: Translator, policy: Policy, tally: Tally) -> str:
    _ = language.gettext
    parts = [
        _("{grade} {count}").format(
            grade=grade.names.get(language.locale), count=tally.grades[grade.id]
        )
        for grade in policy.grades
        if tally.grades.get(grade.id)
    ]
    return " · ".join(parts) if parts else _("no scores yet")


def _mean(language: Translator, value: Decimal | None) -> str:
    return "–" if value is None else number(language, value)


def _offset(language: Translator, value: Decimal | None) -> str:
    if value is None:
        return "–"
    sign = "+" if value >= 0 else "−"
    return sign + number(language, abs(value))


def _figure_lines(
    context: WorkledgerContext, figures: DepartmentFigures, *, with_name: bool
) -> list[str]:
    _ = context._
    language = context.translator
    policy = context.policy
    tally = figures.tally
    head = _("{people} people · mean {mean} · {grades}").format(
        people=tally.people,
        mean=_mean(language, tally.mean),
        grades=_distribution(language, policy, tally),
    )
    lines = [f"{figures.name}: {head}" if with_name else head]
    for reviewer in figures.reviewers:
        lines.append(
            "  "
            + _("{supervisor}: {people} · mean {mean} ({offset}) · {grades}").format(
                supervisor=reviewer.name or _("no supervisor"),
                people=reviewer.tally.people,
                mean=_mean(language, reviewer.tally.mean),
                offset=_offset(language, reviewer.offset),
                grades=_distribution(language, policy, reviewer.tally),
            )
        )
    return lines


def _heading(context: WorkledgerContext, opened: Opened) -> str:
    _ = context._
    text = _("Results of {period} · {stage}").format(
        period=period_label(context.translator, opened.period.key, context.policy),
        stage=_(STAGE_NAMES[opened.stage]),
    )
    if opened.publish_at is not None and opened.stage is not Stage.PUBLISHED:
        text += "\n" + _("Publication scheduled for {moment}.").format(
            moment=when(context, opened.publish_at)
        )
    return text


def _names(context: WorkledgerContext, people: Sequence[ScopePerson]) -> str:
    return listed_at_most(
        context._,
        context.ngettext,
        (person_label(context._, p.name, p.employee_no) for p in people),
    )


def _overview_text(context: WorkledgerContext, overview: results.Overview) -> str:
    _ = context._
    lines = [
        _heading(context, overview.opened),
        _(
            "{people} people assessed · not reviewed yet: {unreviewed} · excluded: {excluded}"
        ).format(
            people=overview.people, unreviewed=overview.unreviewed, excluded=overview.excluded
        ),
    ]
    if overview.opened.stage is Stage.PUBLISHED:
        lines.append(
            _("Read by {read} of {people}.").format(read=overview.read, people=overview.people)
        )
    lines.append(
        _("Mean of each supervisor's people, and (in brackets) how far from the department's.")
    )
    if overview.quota is not None:
        lines += _quota_lines(context, overview.quota)
    details: list[str] = []
    for figures in overview.departments:
        details += _figure_lines(context, figures, with_name=True)
    return "\n".join(lines + lines_at_most(context.ngettext, details, room=LINES_ROOM - 300))


def _overview_markup(
    context: WorkledgerContext, overview: results.Overview, page: int
) -> InlineKeyboardMarkup:
    _ = context._
    opened = overview.opened
    buttons = [
        InlineKeyboardButton(
            f"{figures.name} ({figures.tally.people})",
            callback_data=ResultsDepartment(opened.period_id, figures.department_id, 0).pack(),
        )
        for figures in overview.departments
    ]
    rows = button_page(buttons, page, lambda turn: ResultsOverview(opened.period_id, turn).pack())
    if overview.quota is not None:
        rows += _quota_buttons(context, opened, overview.quota)
    if opened.stage is Stage.SUPERVISOR_REVIEW:
        rows.append(
            [
                InlineKeyboardButton(
                    _("Start calibration now"),
                    callback_data=ResultsCalibrate(opened.period_id, opened.version, 0).pack(),
                )
            ]
        )
    if opened.stage is Stage.CALIBRATION:
        rows.append(
            [
                InlineKeyboardButton(
                    _("Publish"),
                    callback_data=ResultsPublish(opened.period_id, opened.version, "now").pack(),
                ),
                InlineKeyboardButton(
                    _("Publish at a time…"),
                    callback_data=ResultsPublish(opened.period_id, opened.version, "later").pack(),
                ),
            ]
        )
    return InlineKeyboardMarkup(rows)


def _person_button(context: WorkledgerContext, person: ScopePerson, opened: Opened) -> str:
    _ = context._
    who = f"{person.employee_no} {person.name}"
    if person.excluded_reason is not None:
        return _("{person} · excluded").format(person=who)
    if not person.signed_off:
        return _("{person} · not reviewed yet").format(person=who)
    if person.score is None:
        return _("{person} · no score yet").format(person=who)
    grade = grade_name(context.translator, context.policy, person.final_grade_id)
    return f"{who} · {number(context.translator, person.score)} · {grade}"


def _department_text(context: WorkledgerContext, view: results.DepartmentView) -> str:
    _ = context._
    opened = view.opened
    lines = [
        _heading(context, opened),
        view.figures.name,
        *_figure_lines(context, view.figures, with_name=False),
        *([] if view.quota is None else _quota_lines(context, view.quota)),
    ]
    if view.unreviewed:
        lines.append(
            _("Not reviewed yet ({count}): {names}").format(
                count=len(view.unreviewed), names=_names(context, view.unreviewed)
            )
        )
    if view.figures.excluded:
        lines.append(_("Excluded: {count}").format(count=view.figures.excluded))
    if opened.stage is Stage.PUBLISHED:
        lines.append(
            _("Read by {read} of {people}.").format(
                read=view.figures.read, people=view.figures.tally.people
            )
        )
        if view.unread:
            lines.append(
                _("Not read yet ({count}): {names}").format(
                    count=len(view.unread), names=_names(context, view.unread)
                )
            )
    return "\n".join(lines)


def _department_markup(
    context: WorkledgerContext, view: results.DepartmentView, page: int
) -> InlineKeyboardMarkup:
    opened = view.opened
    buttons = [
        InlineKeyboardButton(
            _person_button(context, person, opened),
            callback_data=ResultsPerson(opened.period_id, person.staff_id).pack(),
        )
        for person in view.people
    ]
    department_id = view.figures.department_id
    rows = button_page(
        buttons,
        page,
        lambda turn: ResultsDepartment(opened.period_id, department_id, turn).pack(),
    )
    if view.quota is not None:
        rows += _quota_buttons(context, opened, view.quota)
    rows.append(
        [
            InlineKeyboardButton(
                context._("Back"), callback_data=ResultsOverview(opened.period_id, 0).pack()
            )
        ]
    )
    return InlineKeyboardMarkup(rows)


def _person_text(context: WorkledgerContext, opened: Opened, person: ScopePerson) -> str:
    _ = context._
    language = context.translator
    policy = context.policy
    lines = [
        _heading(context, opened),
        person_label(_, person.name, person.employee_no),
    ]
    if person.excluded_reason is not None:
        lines.append(
            _("Excluded from publication: {reason}").format(reason=person.excluded_reason)
        )
    elif person.signed_off:
        lines.append(_("Review signed off."))
    else:
        lines.append(_("Not reviewed yet."))
    if person.score is None:
        lines.append(_("No score yet."))
    else:
        lines.append(_("Score: {score}").format(score=number(language, person.score)))
        lines.append(
            _("Grade by score: {by_score}; given under the quota: {grade}").format(
                by_score=grade_name(language, policy, person.by_score_grade_id),
                grade=grade_name(language, policy, person.grade_id),
            )
        )
        if person.calibrated_grade_id is not None:
            lines.append(
                _("Calibrated by HR: {grade} ({reason})").format(
                    grade=grade_name(language, policy, person.calibrated_grade_id),
                    reason=person.calibration_reason or "",
                )
            )
        if person.disqualified:
            lines.append(_("A fact of this period bars the top grade."))
    if person.published_at is not None:
        lines.append(
            _("Read: {moment}").format(moment=when(context, person.read_at))
            if person.read_at is not None
            else _("Not read yet.")
        )
    return "\n".join(lines)


def _person_markup(
    context: WorkledgerContext, opened: Opened, person: ScopePerson
) -> InlineKeyboardMarkup:
    _ = context._
    rows: list[list[InlineKeyboardButton]] = []
    if (
        opened.stage is Stage.CALIBRATION
        and person.score is not None
        and person.version is not None
        and person.excluded_reason is None
    ):
        for index, grade in enumerate(context.policy.grades):
            name = grade.names.get(context.locale)
            mark = "✓ " if grade.id == person.final_grade_id else ""
            rows.append(
                [
                    InlineKeyboardButton(
                        mark + name,
                        callback_data=ResultsGrade(
                            opened.period_id, person.staff_id, person.version, index
                        ).pack(),
                    )
                ]
            )
    if (
        opened.stage in (Stage.SUPERVISOR_REVIEW, Stage.CALIBRATION)
        and not person.signed_off
        and person.excluded_reason is None
    ):
        rows.append(
            [
                InlineKeyboardButton(
                    _("Exclude from publication"),
                    callback_data=ResultsExclude(opened.period_id, person.staff_id).pack(),
                )
            ]
        )
    rows.append(
        [
            InlineKeyboardButton(
                _("Back"),
                callback_data=ResultsDepartment(opened.period_id, person.department_id, 0).pack(),
            )
        ]
    )
    return InlineKeyboardMarkup(rows)


def problems_text(
    context: WorkledgerContext, problems: Sequence[CalibrationProblem], grade_id: str
) -> str:
    """Why the quota refuses a calibrated grade."""
    _ = context._
    lines = [_("Refused: that grade would break the quota.")]
    top = grade_name(context.translator, context.policy, context.policy.top_grade.id)
    for problem in problems:
        if problem.kind == "over_quota":
            lines.append(
                _(
                    "At most {cap} of these people may have {grade}; that would make {count}."
                ).format(cap=problem.cap, grade=top, count=len(problem.staff_ids))
            )
        elif problem.kind == "disqualified":
            lines.append(
                _("A disqualifying fact of this period bars {grade} for this person.").format(
                    grade=top
                )
            )
        else:
            lines.append(_("The grades of this scope do not add up; open /results again."))
    return "\n".join(lines)


def blocked_text(language: Translator, blocked: Blocked) -> str:
    """Why publication was refused: who is unreviewed (or unscored), the first by name."""
    _ = language.gettext
    if blocked.over_quota:
        return _("Not published: the grades to publish break the quota. Open /results.")
    names = listed_at_most(
        _, language.ngettext, (person_label(_, p.name, p.employee_no) for p in blocked.people)
    )
    if len(blocked.people) < blocked.count:
        names = _("{names} (and {count} more)").format(
            names=listed_at_most(
                _,
                language.ngettext,
                (person_label(_, p.name, p.employee_no) for p in blocked.people),
            ),
            count=blocked.count - len(blocked.people),
        )
    if blocked.unscored:
        return language.ngettext(
            "Not published: {count} person is signed off but has no score yet: {names}.",
            "Not published: {count} people are signed off but have no score yet: {names}.",
            blocked.count,
        ).format(count=blocked.count, names=names)
    return language.ngettext(
        "Not published: {count} person is not reviewed yet and not excluded: {names}. "
        "Their supervisor must sign the review off, or you can exclude them with a reason.",
        "Not published: {count} people are not reviewed yet and not excluded: {names}. "
        "Their supervisors must sign the reviews off, or you can exclude them with a reason.",
        blocked.count,
    ).format(count=blocked.count, names=names)


# --------------------------------------------------------------------------- views


async def _opened(context: WorkledgerContext, period_id: int) -> Opened | None:
    async with context.uow() as uow:
        key = await uow.results.period_key(period_id)
    if key is None:
        return None
    period = periods.parse_key(key, context.policy)
    if period is None:
        return None
    async with context.uow() as uow:
        return await results.open_period(
            uow,
            period,
            context.policy,
            today=context.today(),
            zone=context.settings.zone,
            now=context.now(),
        )


async def _pressed_person(
    context: WorkledgerContext, period_id: int, staff_id: int
) -> tuple[Opened | None, ScopePerson | None]:
    """The period a press names, opened, and the person it names in its scope."""
    opened = await _opened(context, period_id)
    if opened is None:
        return None, None
    async with context.uow() as uow:
        return opened, await results.person(uow, opened, staff_id)


async def results_command(update: Update, context: WorkledgerContext) -> None:
    """/results [YYYY-MM]: a period's results (by default the latest under review)."""
    message = update.effective_message
    assert message is not None
    period = None
    if context.args:
        period = periods.parse_key(context.args[0], context.policy)
        if period is None:
            await message.reply_text(
                context._("To see a period's results: /results [YYYY-MM]. Without it, the "
                          "latest period under review.")
            )  # fmt: skip
            return
    async with context.uow() as uow:
        opened = await results.open_period(
            uow,
            period,
            context.policy,
            today=context.today(),
            zone=context.settings.zone,
            now=context.now(),
        )
    if opened.stage in (Stage.SUPERVISOR_REVIEW, Stage.CALIBRATION):
        # Fresh scores and grades from the stored facts (the supervisors may have signed
        # off since); calibrated grades are kept.
        await results.refresh(
            context.bot_data.database,
            opened.period,
            context.policy,
            now=context.now(),
            worker=context.bot_data.scoring,
            zone=context.settings.zone,
        )
    async with context.uow() as uow:
        overview = await results.overview(uow, opened, context.policy)
    await message.reply_text(
        _overview_text(context, overview), reply_markup=_overview_markup(context, overview, 0)
    )


async def _show(update: Update, text: str, markup: InlineKeyboardMarkup) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer()
    await query.edit_message_text(text, reply_markup=markup)


async def show_overview(update: Update, context: WorkledgerContext) -> None:
    """The overview again (Back), or another page of its departments."""
    query = update.callback_query
    assert query is not None
    action = ResultsOverview.from_press(query.data)
    opened = await _opened(context, action.period_id)
    if opened is None:
        await _refused(update, context, ResultsError.UNKNOWN_PERIOD)
        return
    async with context.uow() as uow:
        overview = await results.overview(uow, opened, context.policy)
    await _show(
        update,
        _overview_text(context, overview),
        _overview_markup(context, overview, action.page),
    )


async def show_department(update: Update, context: WorkledgerContext) -> None:
    """One department's figures, who blocks publication, who has not read, its people."""
    query = update.callback_query
    assert query is not None
    action = ResultsDepartment.from_press(query.data)
    opened = await _opened(context, action.period_id)
    if opened is None:
        await _refused(update, context, ResultsError.UNKNOWN_PERIOD)
        return
    async with context.uow() as uow:
        view = await results.department(uow, opened, action.department_id, context.policy)
    await _show(
        update, _department_text(context, view), _department_markup(context, view, action.page)
    )


async def show_person(update: Update, context: WorkledgerContext) -> None:
    """One person's result, with the grade and exclusion buttons."""
    query = update.callback_query
    assert query is not None
    action = ResultsPerson.from_press(query.data)
    opened, found = await _pressed_person(context, action.period_id, action.staff_id)
    if opened is None or found is None:
        await claim(context)
        await query.answer(error_text(context, ResultsError.NOT_IN_SCOPE), show_alert=True)
        return
    await _show(
        update, _person_text(context, opened, found), _person_markup(context, opened, found)
    )


# --------------------------------------------------------------------------- changes


async def _ask(
    update: Update, context: WorkledgerContext, kind: str, data: dict[str, object], question: str
) -> None:
    member = context.member
    query = update.callback_query
    assert member is not None and query is not None
    async with context.uow() as uow:
        await uow.conversations.save(member.id, kind, kind, data, at=context.now())
        await uow.commit()
    await query.answer()
    await context.bot.send_message(query.from_user.id, question)


async def choose_grade(update: Update, context: WorkledgerContext) -> None:
    """A grade pressed on a person's card: checked now, then the reason is asked."""
    query = update.callback_query
    assert query is not None
    action = ResultsGrade.from_press(query.data)
    grades = context.policy.grades
    opened, found = await _pressed_person(context, action.period_id, action.staff_id)
    error: ResultsError | None = None
    if opened is None or found is None:
        error = ResultsError.NOT_IN_SCOPE
    elif action.grade >= len(grades):
        error = ResultsError.UNKNOWN_GRADE
    elif opened.stage is Stage.PUBLISHED:
        error = ResultsError.PUBLISHED
    elif opened.stage is not Stage.CALIBRATION:
        error = ResultsError.NOT_YET
    elif found.version != action.version:
        error = ResultsError.STALE
    if error is not None or found is None:
        await claim(context)
        await query.answer(
            answer_text(error_text(context, error or ResultsError.NOT_IN_SCOPE)), show_alert=True
        )
        return
    grade = grades[action.grade]
    await _ask(
        update,
        context,
        CALIBRATION,
        {
            "period_id": action.period_id,
            "staff_id": action.staff_id,
            "version": action.version,
            "grade_id": grade.id,
        },
        context._("Why give {name} the grade {grade}? Send the reason (or /cancel).").format(
            name=person_label(context._, found.name, found.employee_no),
            grade=grade.names.get(context.locale),
        ),
    )


async def ask_exclusion(update: Update, context: WorkledgerContext) -> None:
    """Exclude pressed: the reason is asked (the checks are made when it comes)."""
    query = update.callback_query
    assert query is not None
    action = ResultsExclude.from_press(query.data)
    opened, found = await _pressed_person(context, action.period_id, action.staff_id)
    if opened is None or found is None:
        await claim(context)
        await query.answer(error_text(context, ResultsError.NOT_IN_SCOPE), show_alert=True)
        return
    await _ask(
        update,
        context,
        EXCLUSION,
        {"period_id": action.period_id, "staff_id": action.staff_id},
        context._(
            "Why leave {name} out of this period's publication (long leave, newly joined)? "
            "Send the reason (or /cancel)."
        ).format(name=person_label(context._, found.name, found.employee_no)),
    )


async def press_publish(update: Update, context: WorkledgerContext) -> None:
    """Publish now, or ask when."""
    query = update.callback_query
    member = context.member
    assert query is not None and member is not None
    action = ResultsPublish.from_press(query.data)
    if action.when == "later":
        await _ask(
            update,
            context,
            PUBLICATION,
            {"period_id": action.period_id, "version": action.version},
            context._(
                "When should the results be published? Send the date and time, e.g. "
                "2026-12-10 09:00 ({zone}), or /cancel."
            ).format(zone=context.settings.timezone),
        )
        return
    opened = await _opened(context, action.period_id)
    if opened is not None and opened.stage is Stage.CALIBRATION:
        # What is published is scored from the facts as they are now.
        await results.refresh(
            context.bot_data.database,
            opened.period,
            context.policy,
            now=context.now(),
            worker=context.bot_data.scoring,
            zone=context.settings.zone,
        )
    outcome = await _publish(context, action.period_id, action.version, None)
    if not isinstance(outcome, Published):
        await claim(context)
        await query.answer(answer_text(_outcome_text(context, outcome)), show_alert=True)
        if isinstance(outcome, Blocked | tuple):
            await context.bot.send_message(query.from_user.id, _outcome_text(context, outcome))
        return
    await query.answer()
    await _after_publishing(context, query.from_user.id, outcome)


async def _refused(update: Update, context: WorkledgerContext, error: ResultsError) -> None:
    query = update.callback_query
    assert query is not None
    await claim(context)
    await query.answer(answer_text(error_text(context, error)), show_alert=True)


async def press_start_calibration(update: Update, context: WorkledgerContext) -> None:
    """Start calibration now: asked once (it ends the supervisor review for the whole
    period, and says how many are still unreviewed), then started; the overview again."""
    query = update.callback_query
    member = context.member
    assert query is not None and member is not None
    action = ResultsCalibrate.from_press(query.data)
    opened = await _opened(context, action.period_id)
    if opened is None:
        await _refused(update, context, ResultsError.UNKNOWN_PERIOD)
        return
    _ = context._
    label = period_label(context.translator, opened.period.key, context.policy)
    if not action.confirmed:
        error = {
            Stage.PUBLISHED: ResultsError.PUBLISHED,
            Stage.CALIBRATION: ResultsError.CALIBRATING,
            Stage.SUPERVISOR_REVIEW: None,
        }.get(opened.stage, ResultsError.TOO_EARLY)
        if access_error := results.access_error(member):
            error = access_error
        if error is not None:
            await _refused(update, context, error)
            return
        async with context.uow() as uow:
            left = await results.unreviewed(uow, action.period_id)
        day = periods.milestones(opened.period, context.policy).calibration_starts
        text = "\n\n".join(
            [
                _(
                    "Start the calibration of {period} now, before its day ({day})? It ends "
                    "the supervisor review for the whole period."
                ).format(period=label, day=day.isoformat()),
                context.ngettext(
                    "{count} person is not reviewed yet: their reviewer may still sign off, "
                    "and Publish waits for them or for their exclusion.",
                    "{count} people are not reviewed yet: their reviewers may still sign off, "
                    "and Publish waits for them or for their exclusion.",
                    left,
                ).format(count=left),
            ]
        )
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("Yes, start calibration now"),
                        callback_data=ResultsCalibrate(action.period_id, action.version, 1).pack(),
                    )
                ],
                [
                    InlineKeyboardButton(
                        _("Back"), callback_data=ResultsOverview(action.period_id, 0).pack()
                    )
                ],
            ]
        )
        await _show(update, text, markup)
        return
    async with context.uow() as uow:
        started = await results.start_calibration(
            uow,
            member,
            action.period_id,
            action.version,
            context.policy,
            today=context.today(),
            zone=context.settings.zone,
            now=context.now(),
        )
    if isinstance(started, ResultsError):
        await _refused(update, context, started)
        return
    await results.refresh(
        context.bot_data.database,
        started.period,
        context.policy,
        now=context.now(),
        worker=context.bot_data.scoring,
        zone=context.settings.zone,
    )
    opened = await _opened(context, action.period_id)
    assert opened is not None
    async with context.uow() as uow:
        overview = await results.overview(uow, opened, context.policy)
    await query.answer(_("Calibration of {period} has started.").format(period=label))
    # unchanged or too old to edit: calibration has started anyway
    with contextlib.suppress(BadRequest):
        await query.edit_message_text(
            _overview_text(context, overview), reply_markup=_overview_markup(context, overview, 0)
        )


def _scope_name(context: WorkledgerContext, scope: ScopeKey, names: dict[int, str]) -> str:
    if scope == ORGANISATION:
        return context._("the whole organisation")
    return names.get(int(scope), "?")


async def press_quota(update: Update, context: WorkledgerContext) -> None:
    """Approve or withdraw the wider share pressed: the reason is asked (the checks are
    made again when it comes)."""
    query = update.callback_query
    member = context.member
    assert query is not None and member is not None
    action = ResultsQuota.from_press(query.data)
    opened = await _opened(context, action.period_id)
    wider = context.policy.quota.with_approval_max_share
    error: quota.QuotaError | None = None
    if opened is None:
        error = quota.QuotaError.UNKNOWN_PERIOD
    elif opened.stage is Stage.PUBLISHED:
        error = quota.QuotaError.PUBLISHED
    elif wider is None:
        error = quota.QuotaError.NO_WIDER_SHARE
    elif (action.department_id == 0) != (context.policy.quota.scope == "organisation"):
        error = quota.QuotaError.UNKNOWN_SCOPE
    if error is not None or opened is None or wider is None:
        await claim(context)
        await query.answer(
            answer_text(quota_error_text(context, error or quota.QuotaError.UNKNOWN_PERIOD)),
            show_alert=True,
        )
        return
    scope: ScopeKey = action.department_id or ORGANISATION
    async with context.uow() as uow:
        names = await uow.results.department_names([action.department_id])
    where = _scope_name(context, scope, names)
    label = period_label(context.translator, opened.period.key, context.policy)
    _ = context._
    question = (
        _(
            "Why widen the top-grade share of {scope} to {share} for {period}? Send the "
            "reason (or /cancel)."
        ).format(scope=where, share=_share(wider), period=label)
        if action.approve
        else _(
            "Why withdraw the wider top-grade share of {scope} for {period}? Send the "
            "reason (or /cancel)."
        ).format(scope=where, period=label)
    )
    await _ask(
        update,
        context,
        QUOTA,
        {
            "period_id": action.period_id,
            "department_id": action.department_id,
            "approve": action.approve,
            "scope_name": where,
        },
        question,
    )


async def _change_quota(
    context: WorkledgerContext, data: dict[str, Any], reason: str | None
) -> tuple[str, bool]:
    """The wider share approved or withdrawn with ``reason``: the reply, and whether the
    question stays open (the reason was missing or too long)."""
    member = context.member
    assert member is not None
    period_id = int(data["period_id"])
    scope: ScopeKey = int(data["department_id"]) or ORGANISATION
    change = quota.approve if int(data["approve"]) else quota.withdraw
    async with context.uow() as uow:
        done = await change(
            uow,
            member,
            period_id,
            scope,
            reason,
            context.policy,
            today=context.today(),
            zone=context.settings.zone,
            now=context.now(),
        )
    _ = context._
    where = str(data.get("scope_name", ""))
    top = grade_name(context.translator, context.policy, context.policy.top_grade.id)
    if isinstance(done, quota.QuotaError):
        keep = done in (quota.QuotaError.REASON_NEEDED, quota.QuotaError.REASON_TOO_LONG)
        return quota_error_text(context, done), keep
    if isinstance(done, tuple):
        cap = next((p.cap for p in done if p.cap is not None), 0)
        return (
            _(
                "Not withdrawn: HR's calibrated grades in {scope} need the wider share. "
                "Under the ordinary share at most {cap} may have {grade}; HR would have to "
                "calibrate first."
            ).format(scope=where, cap=cap, grade=top),
            False,
        )
    # The grades of the period under the quota as it is now.
    await results.refresh(
        context.bot_data.database,
        done.period,
        context.policy,
        now=context.now(),
        worker=context.bot_data.scoring,
        zone=context.settings.zone,
    )
    label = period_label(context.translator, done.period.key, context.policy)
    if done.approved:
        text = _(
            "The wider top-grade share is approved for {scope} in {period}: at most {cap} of "
            "{people} may have {grade}."
        )
    else:
        text = _(
            "The wider top-grade share of {scope} in {period} is withdrawn: at most {cap} of "
            "{people} may have {grade}, and the grades are given afresh."
        )
    return (
        text.format(scope=where, period=label, cap=done.cap, people=done.people, grade=top),
        False,
    )


Outcome = Published | Scheduled | Blocked | ResultsError | tuple[CalibrationProblem, ...]


async def _publish(
    context: WorkledgerContext, period_id: int, version: int, at: datetime | None
) -> Outcome:
    member = context.member
    assert member is not None
    async with context.uow() as uow:
        return await results.publish(
            uow,
            member,
            period_id,
            version,
            context.policy,
            at=at,
            today=context.today(),
            zone=context.settings.zone,
            now=context.now(),
        )


def _outcome_text(context: WorkledgerContext, outcome: Outcome) -> str:
    _ = context._
    if isinstance(outcome, tuple):
        return (
            _("Not published: the grades to publish break the quota.")
            + "\n"
            + problems_text(context, outcome, "").split("\n", 1)[-1]
        )
    if isinstance(outcome, Blocked):
        return blocked_text(context.translator, outcome)
    if isinstance(outcome, ResultsError):
        return error_text(context, outcome)
    label = period_label(context.translator, outcome.period.key, context.policy)
    if isinstance(outcome, Scheduled):
        return _("{period} will be published at {moment}.").format(
            period=label, moment=when(context, outcome.at)
        )
    return _("{period} is published.").format(period=label)


async def _after_publishing(context: WorkledgerContext, chat_id: int, done: Published) -> None:
    await context.bot.send_message(chat_id, _outcome_text(context, done))
    queued = await results.queue_notices(
        context.bot_data.database.uow, done.period_id, done.period.key, now=context.now()
    )
    await context.bot.send_message(
        chat_id,
        context.ngettext(
            "Its notice is on its way to {count} person.",
            "Its notices are on their way to {count} people.",
            queued or 0,
        ).format(count=queued or 0),
    )


def parse_moment(text: str, zone: tzinfo) -> datetime | None:
    """``2026-12-10 09:00`` in the organisation's zone, as an aware moment; None if not one."""
    match = _MOMENT.fullmatch(text.strip())
    if match is None:
        return None
    try:
        year, month, day, hour, minute = (int(part) for part in match.groups())
        return datetime(year, month, day, hour, minute, tzinfo=zone)
    except ValueError:
        return None


async def capture(update: Update, context: WorkledgerContext) -> None:
    """HR's next message after a grade, Exclude or Publish at a time: the reason or time."""
    message = update.effective_message
    member = context.member
    if message is None or member is None or context.question not in QUESTIONS:
        return
    async with context.uow() as uow:
        stored = await uow.conversations.get(member.id)
    if stored is None or stored.kind not in QUESTIONS:
        return
    data = stored.data
    period_id = int(data["period_id"])
    keep = False
    reply: str
    if stored.kind == QUOTA:
        reply, keep = await _change_quota(context, data, message.text)
    elif stored.kind == PUBLICATION:
        moment = parse_moment(message.text or "", context.settings.zone)
        if moment is None:
            reply = context._(
                "Please send the date and time as 2026-12-10 09:00 ({zone}), or /cancel."
            ).format(zone=context.settings.timezone)
            keep = True
        elif moment <= context.now():
            reply = error_text(context, ResultsError.IN_THE_PAST)
            keep = True
        else:
            outcome = await _publish(context, period_id, int(data["version"]), moment)
            reply = _outcome_text(context, outcome)
    else:
        async with context.uow() as uow:
            changed: Calibrated | Excluded | ResultsError | tuple[CalibrationProblem, ...]
            if stored.kind == CALIBRATION:
                changed = await results.calibrate(
                    uow,
                    member,
                    period_id,
                    int(data["staff_id"]),
                    int(data["version"]),
                    str(data["grade_id"]),
                    message.text,
                    context.policy,
                    today=context.today(),
                    zone=context.settings.zone,
                    now=context.now(),
                )
            else:
                changed = await results.exclude(
                    uow,
                    member,
                    period_id,
                    int(data["staff_id"]),
                    message.text,
                    context.policy,
                    today=context.today(),
                    zone=context.settings.zone,
                    now=context.now(),
                )
        keep = changed in (ResultsError.REASON_NEEDED, ResultsError.REASON_TOO_LONG)
        reply = _changed_text(context, changed, str(data.get("grade_id", "")))
    if not keep:
        async with context.uow() as uow:
            await uow.conversations.drop(member.id)
            await uow.commit()
    await message.reply_text(reply)
    raise ApplicationHandlerStop


def _changed_text(
    context: WorkledgerContext,
    changed: Calibrated | Excluded | ResultsError | tuple[CalibrationProblem, ...],
    grade_id: str,
) -> str:
    _ = context._
    if isinstance(changed, ResultsError):
        return error_text(context, changed)
    if isinstance(changed, tuple):
        return problems_text(context, changed, grade_id)
    who = person_label(_, changed.person.name, changed.person.employee_no)
    if isinstance(changed, Excluded):
        return _("{person} is excluded from this period's publication: {reason}").format(
            person=who, reason=changed.reason
        )
    language = context.translator
    return _(
        "{person}'s grade is now {grade} (given under the quota: {assigned}; both are kept)."
    ).format(
        person=who,
        grade=grade_name(language, context.policy, changed.grade_id),
        assigned=grade_name(language, context.policy, changed.person.grade_id),
    )


async def cancel(update: Update, context: WorkledgerContext) -> None:
    """/cancel while a reason or a time is asked: nothing changes."""
    message = update.effective_message
    member = context.member
    if message is None or member is None or context.question not in QUESTIONS:
        return
    async with context.uow() as uow:
        await uow.conversations.drop(member.id)
        await uow.commit()
    await message.reply_text(context._("Cancelled; the results are unchanged."))
    raise ApplicationHandlerStop


# --------------------------------------------------------------------------- the job


def refused_notice(
    default_language: str, policy: Policy, recipient: Recipient, key: str, blocked: Blocked
) -> Outgoing:
    """What the HR who scheduled a publication is told when it could not happen."""
    language = translator(
        resolve_locale(recipient.language, recipient.telegram_language, default_language)
    )
    text = (
        language.gettext("The publication of {period} scheduled for now did not happen.").format(
            period=period_label(language, key, policy)
        )
        + "\n"
        + blocked_text(language, blocked)
    )
    assert recipient.chat_id is not None
    return Outgoing(
        chat_id=recipient.chat_id,
        kind="publication_refused",
        text=text,
        staff_id=recipient.staff_id,
        priority=ROUTINE,
    )


async def publish_scheduled(data: BotData, now: datetime) -> list[str]:
    """Publish what is due at ``now``, once (scored afresh first), and finish queueing any
    publication's notices."""

    async def rescore(key: str) -> None:
        period = periods.parse_key(key, data.policy)
        if period is not None:
            await results.refresh(
                data.database, period, data.policy, now=now, worker=data.scoring,
                zone=data.settings.zone,
            )  # fmt: skip

    return await results.publish_due(
        data.database.uow,
        functools.partial(refused_notice, data.settings.language, data.policy),
        data.policy,
        now=now,
        rescore=rescore,
    )


async def publication_tick(context: WorkledgerContext) -> None:
    """Job (every minute): scheduled publications whose time has come."""
    await publish_scheduled(context.bot_data, context.now())
