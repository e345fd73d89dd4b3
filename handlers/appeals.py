"""Review (复核) and appeal (申诉) in the chat: asking, deciding, extending, ``/appeal``.

``assessment.appeals`` decides who may do what and when; this module asks for the
reason (the person's next messages: documents and photos are kept as evidence by their
file ids, the text is the reason and files the request), shows a case to its decider
with the person's breakdown and the supervisor's review, and writes every message in
its reader's language, each naming the days left.
"""

from __future__ import annotations

import html
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop

from assessment import appeals
from assessment.appeal_rules import GradeCheck, days_left
from assessment.appeals import (
    APPEAL,
    REVIEW,
    AppealError,
    CaseRow,
    CaseView,
    Decided,
    Extended,
    Filed,
    Late,
    Window,
)
from assessment.bonus_changes import ChangedResult
from assessment.outbox import ROUTINE, Outgoing
from config.policy import Policy
from handlers.bonus_changes import correction_prompt
from handlers.callbacks import (
    AppealApprove,
    AppealAsk,
    AppealDecide,
    AppealExtend,
    AppealOpen,
    AppealScore,
    parse,
)
from handlers.clocks import date_text as _date
from handlers.clocks import left_text
from handlers.clocks import until_text as _until
from handlers.context import BotData, WorkledgerContext
from handlers.formatting import MAX_TEXT, answer_text, html_length, person_label
from handlers.gate import claim
from handlers.scores import grade_name, number, period_label, result_text
from locales import Translator, resolve_locale, translator
from storage.repositories.calendar import Recipient

__all__ = [
    "ChatNotices",
    "appeal_command",
    "ask",
    "cancel",
    "capture",
    "choose",
    "clock_tick",
    "open_case",
]

REQUEST = "appeal_request"
DECISION = "appeal_decision"
EXTENSION = "appeal_extension"
APPROVAL = "appeal_share"
QUESTIONS = (REQUEST, DECISION, EXTENSION, APPROVAL)
KIND = "appeal"
# "93.5 The uncounted permits": a new score, then the reason.
_SCORE_AND_REASON = re.compile(r"\s*(\d{1,3}(?:[.,]\d{1,2})?)\s+(.+)", re.DOTALL)


# --------------------------------------------------------------------------- texts


def _kind(language: Translator, kind: str) -> str:
    return language.gettext("Review") if kind == REVIEW else language.gettext("Appeal")


def _who(language: Translator, case: CaseRow) -> str:
    return person_label(language.gettext, case.name, case.employee_no)


def _state(language: Translator, policy: Policy, case: CaseRow, today: date) -> str:
    """Open with its last day, or the outcome."""
    _ = language.gettext
    if case.status == "open":
        return _("open, to be decided by {until}").format(
            until=_until(language, case.due_on, today)
        )
    assert case.decided_on is not None
    grade = grade_name(language, policy, (case.after or {}).get("grade"))
    if case.outcome == "changed":
        return _("grade changed to {grade} on {date}").format(
            grade=grade, date=_date(language, case.decided_on)
        )
    return _("result upheld on {date}").format(date=_date(language, case.decided_on))


def late_text(language: Translator, policy: Policy, kind: str, key: str, due: date) -> str:
    """A request refused as late, with the day it was due."""
    period = period_label(language, key, policy)
    if kind == REVIEW:
        text = language.gettext("Too late: a review of {period} could be asked until {date}.")
    else:
        text = language.gettext("Too late: an appeal of {period} could be made until {date}.")
    return text.format(period=period, date=_date(language, due))


def error_text(context: WorkledgerContext, error: AppealError | GradeCheck) -> str:
    """Why a request, decision or extension was refused."""
    _ = context._
    texts = {
        AppealError.NOT_PUBLISHED: _("There is no published result of yours to contest here."),
        AppealError.ALREADY: _("You have asked for this already: see /appeal."),
        AppealError.REVIEW_OPEN: _("Your review is not decided yet: you may appeal once it is."),
        AppealError.REASON_NEEDED: _("Please send the reason as a message, or /cancel."),
        AppealError.REASON_TOO_LONG: _(
            "That reason is too long: at most {count} characters, please."
        ).format(count=appeals.MAX_REASON),
        AppealError.UNKNOWN_CASE: _("That case no longer exists."),
        AppealError.NOT_DECIDER: _("Sorry, you do not have permission to do that."),
        AppealError.OWN_CASE: _("You cannot decide your own case."),
        AppealError.SAME_DECIDER: _(
            "You decided the review of this result: someone else must decide the appeal."
        ),
        AppealError.DECIDED: _("This case was decided or changed meanwhile: see /appeal."),
        AppealError.NOT_AN_APPEAL: _("Only an appeal's decision can be extended."),
        AppealError.EXTENDED: _("This appeal was extended once already."),
        AppealError.PAST_DUE: _(
            "This appeal's last day has passed: it can no longer be extended."
        ),
        AppealError.BAD_SCORE: _(
            "Please send the new score (0 to 100) and then the reason, e.g. "
            "“93.5 The uncounted permits”, or /cancel."
        ),
        AppealError.NOT_ADMIN: _("Sorry, you do not have permission to do that."),
        AppealError.NO_WIDER_SHARE: _("The policy allows no wider top-grade share."),
        AppealError.APPROVED: _("The wider top-grade share is approved already for this scope."),
        GradeCheck.UNKNOWN_GRADE: _("That grade is not in the policy."),
        GradeCheck.DISQUALIFIED: _("A disqualifying fact bars the top grade for this person."),
        GradeCheck.OVER_QUOTA: _(
            "That would give more top grades than the quota allows in this scope."
        ),
        GradeCheck.NEEDS_APPROVAL: _(
            "That needs the wider top-grade share, which an administrator has not approved "
            "for this scope and period: they can approve it on the case (/appeal)."
        ),
    }
    return texts.get(error, _("Sorry, you do not have permission to do that."))


def _open_button(language: Translator, case: CaseRow) -> dict[str, Any]:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    language.gettext("Open the case"), callback_data=AppealOpen(case.id).pack()
                )
            ]
        ]
    ).to_dict()


def _appeal_button(language: Translator, period_id: int) -> dict[str, Any]:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    language.gettext("Appeal"), callback_data=AppealAsk(period_id, APPEAL).pack()
                )
            ]
        ]
    ).to_dict()


class ChatNotices:
    """The use cases' messages, each in its recipient's language (``appeals.Notices``)."""

    def __init__(self, policy: Policy, default_language: str) -> None:
        self.policy = policy
        self.default = default_language

    def _language(self, person: Recipient) -> Translator:
        return translator(resolve_locale(person.language, person.telegram_language, self.default))

    def _message(
        self, person: Recipient, text: str, key: str, markup: dict[str, Any] | None
    ) -> Outgoing:
        return Outgoing(
            chat_id=person.telegram_user_id,
            kind=KIND,
            text=text,
            markup=markup,
            staff_id=person.staff_id,
            dedup_key=f"{key}/staff/{person.staff_id}",
            priority=ROUTINE,
        )

    def new_case(self, recipient: Recipient, case: CaseRow, today: date) -> Outgoing:
        language = self._language(recipient)
        _ = language.gettext
        text = (
            _("New review request from {person} for {period}: to be decided by {until}.")
            if case.kind == REVIEW
            else _("New appeal from {person} for {period}: to be decided by {until}.")
        ).format(
            person=_who(language, case),
            period=period_label(language, case.period_key, self.policy),
            until=_until(language, case.due_on, today),
        )
        return self._message(
            recipient, text, f"appeal/{case.id}/new", _open_button(language, case)
        )

    def outcome(
        self, recipient: Recipient, case: CaseRow, appeal_due_on: date | None, today: date
    ) -> Outgoing:
        language = self._language(recipient)
        _ = language.gettext
        period = period_label(language, case.period_key, self.policy)
        grade = grade_name(language, self.policy, (case.after or {}).get("grade"))
        was = grade_name(language, self.policy, (case.before or {}).get("grade"))
        if case.kind == REVIEW:
            head = (
                _("Your review of {period} is decided: your grade is now {grade} (was {was}).")
                if case.outcome == "changed"
                else _("Your review of {period} is decided: the result stands ({grade}).")
            )
            rescored = _(
                "Your review of {period} is decided: your score is now {score} and your "
                "grade {grade} (was {old_score}, {was})."
            )
        else:
            head = (
                _("Your appeal of {period} is decided: your grade is now {grade} (was {was}).")
                if case.outcome == "changed"
                else _("Your appeal of {period} is decided: the result stands ({grade}).")
            )
            rescored = _(
                "Your appeal of {period} is decided: your score is now {score} and your "
                "grade {grade} (was {old_score}, {was})."
            )
        scores = _scores(language, case)
        if scores is not None:
            head = rescored
        old_score, new_score = scores or ("", "")
        lines = [
            head.format(period=period, grade=grade, was=was, score=new_score, old_score=old_score),
            _("Reason: {reason}").format(reason=case.decision_reason or ""),
        ]
        markup = None
        if appeal_due_on is not None:
            lines.append(
                _("You may appeal until {until}.").format(
                    until=_until(language, appeal_due_on, today)
                )
            )
            markup = _appeal_button(language, case.period_id)
        else:
            lines.append(_("This decision is final in the bot."))
        return self._message(recipient, "\n".join(lines), f"appeal/{case.id}/decided", markup)

    def correction_due(self, recipient: Recipient, change: ChangedResult) -> Outgoing:
        return correction_prompt(self.default, self.policy, recipient, change)

    def extended(self, recipient: Recipient, case: CaseRow, today: date) -> Outgoing:
        language = self._language(recipient)
        _ = language.gettext
        text = "\n".join(
            [
                _(
                    "The decision on your appeal of {period} is put back: it is due by {until}."
                ).format(
                    period=period_label(language, case.period_key, self.policy),
                    until=_until(language, case.due_on, today),
                ),
                _("Reason: {reason}").format(reason=case.extension_reason or ""),
            ]
        )
        return self._message(recipient, text, f"appeal/{case.id}/extended", None)

    def reminder(self, recipient: Recipient, case: CaseRow, today: date) -> Outgoing:
        language = self._language(recipient)
        _ = language.gettext
        text = (
            _("The review requested by {person} for {period} is to be decided by {until}.")
            if case.kind == REVIEW
            else _("The appeal by {person} for {period} is to be decided by {until}.")
        ).format(
            person=_who(language, case),
            period=period_label(language, case.period_key, self.policy),
            until=_until(language, case.due_on, today),
        )
        key = (
            f"appeal/{case.id}/reminder/{case.due_on.isoformat()}/{days_left(case.due_on, today)}"
        )
        return self._message(recipient, text, key, _open_button(language, case))

    def overdue(self, recipient: Recipient, case: CaseRow, today: date) -> Outgoing:
        language = self._language(recipient)
        _ = language.gettext
        text = (
            _("Overdue: the review requested by {person} for {period} was due on {date} ({left}).")
            if case.kind == REVIEW
            else _("Overdue: the appeal by {person} for {period} was due on {date} ({left}).")
        ).format(
            person=_who(language, case),
            period=period_label(language, case.period_key, self.policy),
            date=_date(language, case.due_on),
            left=left_text(language, days_left(case.due_on, today)),
        )
        key = f"appeal/{case.id}/overdue/{case.due_on.isoformat()}"
        return self._message(recipient, text, key, _open_button(language, case))


def _scores(language: Translator, case: CaseRow) -> tuple[str, str] | None:
    """The score before and after a decision that changed it, as people read them."""
    old, new = (case.before or {}).get("score"), (case.after or {}).get("score")
    if old is None or new is None or Decimal(old) == Decimal(new):
        return None
    return number(language, Decimal(old)), number(language, Decimal(new))


def _notices(context: WorkledgerContext) -> ChatNotices:
    return ChatNotices(context.policy, context.settings.language)


# --------------------------------------------------------------------------- asking


def _prompt(context: WorkledgerContext, opened: Window) -> str:
    _ = context._
    language = context.translator
    period = period_label(language, opened.period_key, context.policy)
    head = (
        _("Ask for review of your result for {period}: the last day to ask is {until}.")
        if opened.kind == REVIEW
        else _("Appeal your result for {period}: the last day to appeal is {until}.")
    ).format(period=period, until=_until(language, opened.due_on, context.today()))
    return (
        head
        + "\n"
        + _(
            "Send any documents or photos as evidence first, then your reason as a message: "
            "the reason files the request. /cancel to stop."
        )
    )


async def ask(update: Update, context: WorkledgerContext) -> None:
    """ "Ask for review" or "Appeal" pressed: check the window, then ask for the reason."""
    query = update.callback_query
    member = context.member
    assert query is not None and member is not None
    action = AppealAsk.from_press(query.data)
    async with context.uow() as uow:
        opened = await appeals.window(
            uow,
            member,
            action.period_id,
            action.kind,
            context.policy,
            today=context.today(),
            zone=context.settings.zone,
        )
        if isinstance(opened, Late):
            key = await uow.results.period_key(action.period_id) or ""
    if not isinstance(opened, Window):
        text = (
            late_text(context.translator, context.policy, action.kind, key, opened.due_on)
            if isinstance(opened, Late)
            else error_text(context, opened)
        )
        await claim(context)
        await query.answer(answer_text(text), show_alert=True)
        return
    async with context.uow() as uow:
        await uow.conversations.save(
            member.id,
            REQUEST,
            "reason",
            {"period_id": action.period_id, "kind": action.kind, "evidence": []},
            at=context.now(),
        )
        await uow.commit()
    await query.answer()
    if query.message is not None:
        await context.bot.send_message(query.message.chat.id, _prompt(context, opened))


def _evidence_of(message: Message) -> dict[str, Any] | None:
    if message.document is not None:
        return {
            "kind": "document",
            "file_id": message.document.file_id,
            "name": message.document.file_name or "",
        }
    if message.photo:
        return {"kind": "photo", "file_id": message.photo[-1].file_id, "name": ""}
    return None


async def capture(update: Update, context: WorkledgerContext) -> None:
    """The next messages after a request, a decision or an extension: evidence, reason."""
    message = update.effective_message
    member = context.member
    if message is None or member is None or context.question not in QUESTIONS:
        return
    async with context.uow() as uow:
        stored = await uow.conversations.get(member.id)
    if stored is None or stored.kind not in QUESTIONS:
        return
    data = dict(stored.data)
    evidence = _evidence_of(message)
    if stored.kind == REQUEST and evidence is not None:
        kept = list(data.get("evidence", []))
        if len(kept) < appeals.MAX_EVIDENCE:
            kept.append(evidence)
        data["evidence"] = kept
        async with context.uow() as uow:
            await uow.conversations.save(member.id, REQUEST, "reason", data, at=context.now())
            await uow.commit()
        await message.reply_text(
            context.ngettext(
                "Noted: {count} document as evidence. Now send your reason as a message, "
                "or /cancel.",
                "Noted: {count} documents as evidence. Now send your reason as a message, "
                "or /cancel.",
                len(kept),
            ).format(count=len(kept))
        )
        raise ApplicationHandlerStop
    if stored.kind == REQUEST:
        reply, keep = await _file(context, data, message.text)
    elif stored.kind == DECISION:
        reply, keep = await _decide(context, data, message.text)
    elif stored.kind == APPROVAL:
        reply, keep = await _approve(context, data, message.text)
    else:
        reply, keep = await _extend(context, data, message.text)
    if not keep:
        async with context.uow() as uow:
            await uow.conversations.drop(member.id)
            await uow.commit()
    await message.reply_text(reply)
    raise ApplicationHandlerStop


_KEEP_ASKING = (AppealError.REASON_NEEDED, AppealError.REASON_TOO_LONG)


async def _file(
    context: WorkledgerContext, data: dict[str, Any], text: str | None
) -> tuple[str, bool]:
    member = context.member
    assert member is not None
    period_id, kind = int(data["period_id"]), str(data["kind"])
    async with context.uow() as uow:
        filed = await appeals.file(
            uow,
            member,
            period_id,
            kind,
            text,
            list(data.get("evidence", [])),
            context.policy,
            _notices(context),
            today=context.today(),
            zone=context.settings.zone,
            now=context.now(),
        )
        key = await uow.results.period_key(period_id) or ""
    language = context.translator
    if isinstance(filed, Late):
        return late_text(language, context.policy, kind, key, filed.due_on), False
    if isinstance(filed, AppealError):
        return error_text(context, filed), filed in _KEEP_ASKING
    assert isinstance(filed, Filed)
    _ = context._
    period = period_label(language, key, context.policy)
    until = _until(language, filed.case.due_on, context.today())
    if kind == REVIEW:
        reply = _("Your request for review of {period} is filed: it is to be decided by {until}.")
    else:
        reply = _("Your appeal of {period} is filed: it is to be decided by {until}.")
    return reply.format(period=period, until=until), False


async def cancel(update: Update, context: WorkledgerContext) -> None:
    """/cancel while a reason is asked: nothing is filed or decided."""
    message = update.effective_message
    member = context.member
    if message is None or member is None or context.question not in QUESTIONS:
        return
    async with context.uow() as uow:
        await uow.conversations.drop(member.id)
        await uow.commit()
    await message.reply_text(context._("Cancelled; nothing was filed or decided."))
    raise ApplicationHandlerStop


# --------------------------------------------------------------------------- deciding


def case_text(context: WorkledgerContext, view: CaseView) -> str:
    """A case as its decider sees it, in HTML."""
    _ = context._
    language = context.translator
    case = view.case
    period = period_label(language, case.period_key, context.policy)
    head = (
        _("Review requested by {person} for {period}")
        if case.kind == REVIEW
        else _("Appeal by {person} for {period}")
    ).format(person=_who(language, case), period=period)
    lines = ["<b>" + html.escape(head) + "</b>"]
    lines.append(
        html.escape(
            _("Asked on {date}; to be decided by {until}.").format(
                date=_date(language, case.requested_on),
                until=_until(language, case.due_on, context.today()),
            )
        )
    )
    if case.status != "open":
        lines.append(html.escape(_state(language, context.policy, case, context.today())))
    lines.append(html.escape(_("Reason: {reason}").format(reason=case.reason)))
    if case.evidence:
        lines.append(
            html.escape(
                context.ngettext(
                    "{count} document of evidence follows.",
                    "{count} documents of evidence follow.",
                    len(case.evidence),
                ).format(count=len(case.evidence))
            )
        )
    review = view.review
    if review.signed_off_at is not None:
        lines.append(
            html.escape(
                _("Supervisor's review: signed off by {name} on {date}.").format(
                    name=review.reviewer_name or "",
                    date=_date(
                        language, review.signed_off_at.astimezone(context.settings.zone).date()
                    ),
                )
            )
        )
    else:
        lines.append(html.escape(_("No supervisor's sign-off on record.")))
    if review.self_text:
        lines.append(html.escape(_("Self-assessment: {text}").format(text=review.self_text[:500])))
    text = "\n".join(lines)
    if view.notice is not None:
        room = MAX_TEXT - html_length(text) - 2
        result = result_text(
            language, context.policy, view.notice.result, view.notice.breakdown, room=room
        )
        # Its first line says "Your result": the heading above names the person instead.
        text += "\n\n" + result.split("\n", 1)[-1]
    return text


def case_keyboard(context: WorkledgerContext, view: CaseView) -> InlineKeyboardMarkup | None:
    """Uphold, each grade, and (an appeal, once) the extension, for its decider; the
    wider share's approval for an administrator."""
    case = view.case
    if case.status != "open":
        return None
    _ = context._
    approve = []
    wider = context.policy.quota.with_approval_max_share
    if view.can_approve and wider is not None:
        approve = [
            [
                InlineKeyboardButton(
                    _("Approve the wider share ({share})").format(
                        share=f"{(wider * 100).normalize():f}%"
                    ),
                    callback_data=AppealApprove(case.id).pack(),
                )
            ]
        ]
    if not view.can_decide:
        return InlineKeyboardMarkup(approve) if approve else None
    rows = [
        [
            InlineKeyboardButton(
                _("Uphold the result"),
                callback_data=AppealDecide(case.id, case.version, 0).pack(),
            )
        ]
    ]
    grades = [
        InlineKeyboardButton(
            _("Grade: {grade}").format(grade=grade.names.get(context.locale)),
            callback_data=AppealDecide(case.id, case.version, index + 1).pack(),
        )
        for index, grade in enumerate(context.policy.grades)
    ]
    rows += [grades[i : i + 2] for i in range(0, len(grades), 2)]
    rows.append(
        [
            InlineKeyboardButton(
                _("Change the score"), callback_data=AppealScore(case.id, case.version).pack()
            )
        ]
    )
    if case.kind == APPEAL and case.extended_at is None:
        days = context.policy.appeals.appeal_extension_days
        rows.append(
            [
                InlineKeyboardButton(
                    context.ngettext(
                        "Extend by {count} day", "Extend by {count} days", days
                    ).format(count=days),
                    callback_data=AppealExtend(case.id, case.version).pack(),
                )
            ]
        )
    return InlineKeyboardMarkup(rows + approve)


async def open_case(update: Update, context: WorkledgerContext) -> None:
    """ "Open the case": the case with its evidence, for its decider only."""
    query = update.callback_query
    member = context.member
    assert query is not None and member is not None
    action = AppealOpen.from_press(query.data)
    async with context.uow() as uow:
        view = await appeals.open_case(
            uow, member, action.case_id, context.policy, today=context.today()
        )
    await claim(context)
    if isinstance(view, AppealError):
        await query.answer(answer_text(error_text(context, view)), show_alert=True)
        return
    await query.answer()
    if query.message is None:
        return
    chat_id = query.message.chat.id
    await context.bot.send_message(
        chat_id,
        case_text(context, view),
        parse_mode="HTML",
        reply_markup=case_keyboard(context, view),
    )
    for item in view.case.evidence:
        try:
            if item.get("kind") == "photo":
                await context.bot.send_photo(chat_id, str(item["file_id"]))
            else:
                await context.bot.send_document(chat_id, str(item["file_id"]))
        except TelegramError:
            # a file Telegram no longer has: the case stands without it
            continue


async def choose(update: Update, context: WorkledgerContext) -> None:
    """Uphold, a grade, or the extension pressed: check the case, then ask why."""
    query = update.callback_query
    member = context.member
    assert query is not None and member is not None
    action = parse(query.data)
    assert isinstance(action, AppealDecide | AppealExtend | AppealApprove | AppealScore)
    async with context.uow() as uow:
        view = await appeals.open_case(
            uow, member, action.case_id, context.policy, today=context.today()
        )
    refusal: AppealError | None = None
    if isinstance(view, AppealError):
        refusal = view
    elif isinstance(action, AppealApprove):
        if not view.can_approve:
            refusal = AppealError.APPROVED if view.case.status == "open" else AppealError.DECIDED
    elif not view.can_decide:
        refusal = AppealError.NOT_DECIDER
    elif view.case.status != "open" or view.case.version != action.version:
        refusal = AppealError.DECIDED
    grades = context.policy.grades
    choice = getattr(action, "choice", None)
    if refusal is None and choice is not None and choice > len(grades):
        refusal = AppealError.UNKNOWN_CASE
    if refusal is not None:
        await claim(context)
        await query.answer(answer_text(error_text(context, refusal)), show_alert=True)
        return
    _ = context._
    data: dict[str, Any] = {"case_id": action.case_id, "version": getattr(action, "version", 0)}
    if isinstance(action, AppealApprove):
        kind = APPROVAL
        question = _(
            "Why approve the wider top-grade share for this case's scope and period? "
            "Send the reason, or /cancel."
        )
    elif isinstance(action, AppealScore):
        kind = DECISION
        data["grade_id"] = None
        data["score"] = True
        question = _(
            "Send the new score (0 to 100) and then the reason in one message, e.g. "
            "“93.5 The uncounted permits”, or /cancel. The grade follows the score, within "
            "the quota."
        )
    elif isinstance(action, AppealExtend):
        kind = EXTENSION
        days = context.policy.appeals.appeal_extension_days
        question = context.ngettext(
            "Why put this appeal's decision back by {count} day? Send the reason, or /cancel.",
            "Why put this appeal's decision back by {count} days? Send the reason, or /cancel.",
            days,
        ).format(count=days)
    elif choice == 0:
        kind = DECISION
        data["grade_id"] = None
        question = _("Why uphold the result? Send the reason as a message, or /cancel.")
    else:
        assert choice is not None
        kind = DECISION
        grade = grades[choice - 1]
        data["grade_id"] = grade.id
        question = _("Why give {grade}? Send the reason as a message, or /cancel.").format(
            grade=grade.names.get(context.locale)
        )
    async with context.uow() as uow:
        await uow.conversations.save(member.id, kind, "reason", data, at=context.now())
        await uow.commit()
    await query.answer()
    if query.message is not None:
        await context.bot.send_message(query.message.chat.id, question)


async def _decide(
    context: WorkledgerContext, data: dict[str, Any], text: str | None
) -> tuple[str, bool]:
    member = context.member
    assert member is not None
    grade = data.get("grade_id")
    score = None
    if data.get("score"):
        match = _SCORE_AND_REASON.fullmatch(text or "")
        try:
            score = Decimal(match.group(1).replace(",", ".")) if match else None
        except InvalidOperation:
            score = None
        if match is None or score is None:
            return error_text(context, AppealError.BAD_SCORE), True
        text = match.group(2)
    async with context.uow() as uow:
        decided = await appeals.decide(
            uow,
            member,
            int(data["case_id"]),
            int(data["version"]),
            None if grade is None else str(grade),
            text,
            context.policy,
            _notices(context),
            today=context.today(),
            now=context.now(),
            score=score,
        )
    if not isinstance(decided, Decided):
        keep = decided in (*_KEEP_ASKING, AppealError.BAD_SCORE)
        return error_text(context, decided), keep
    _ = context._
    language = context.translator
    case = decided.case
    period = period_label(language, case.period_key, context.policy)
    scores = _scores(language, case)
    if scores is not None:
        return _(
            "Decided: {person}'s score for {period} is now {score}, grade {grade} "
            "(was {old_score}, {was})."
        ).format(
            person=_who(language, case),
            period=period,
            score=scores[1],
            old_score=scores[0],
            grade=grade_name(language, context.policy, (case.after or {}).get("grade")),
            was=grade_name(language, context.policy, (case.before or {}).get("grade")),
        ), False
    if case.outcome == "changed":
        return _("Decided: {person}'s grade for {period} is now {grade} (was {was}).").format(
            person=_who(language, case),
            period=period,
            grade=grade_name(language, context.policy, (case.after or {}).get("grade")),
            was=grade_name(language, context.policy, (case.before or {}).get("grade")),
        ), False
    return _("Decided: {person}'s result for {period} stands.").format(
        person=_who(language, case), period=period
    ), False


async def _approve(
    context: WorkledgerContext, data: dict[str, Any], text: str | None
) -> tuple[str, bool]:
    member = context.member
    assert member is not None
    async with context.uow() as uow:
        approved = await appeals.approve_share(
            uow, member, int(data["case_id"]), text, context.policy, now=context.now()
        )
    if isinstance(approved, AppealError):
        return error_text(context, approved), approved in _KEEP_ASKING
    return context._(
        "The wider top-grade share is approved for this case's scope: at most {cap} of "
        "{people} may have the top grade. The case's decider may now give it."
    ).format(cap=approved.cap, people=approved.people), False


async def _extend(
    context: WorkledgerContext, data: dict[str, Any], text: str | None
) -> tuple[str, bool]:
    member = context.member
    assert member is not None
    async with context.uow() as uow:
        extended = await appeals.extend(
            uow,
            member,
            int(data["case_id"]),
            int(data["version"]),
            text,
            context.policy,
            _notices(context),
            today=context.today(),
            now=context.now(),
        )
    if not isinstance(extended, Extended):
        return error_text(context, extended), extended in _KEEP_ASKING
    return context._("Extended: the appeal is now to be decided by {until}.").format(
        until=_until(context.translator, extended.case.due_on, context.today())
    ), False


# --------------------------------------------------------------------------- /appeal


async def appeal_command(update: Update, context: WorkledgerContext) -> None:
    """/appeal: my cases and their clocks; my reports' (outcome only); those I decide."""
    message = update.effective_message
    member = context.member
    assert message is not None and member is not None
    today = context.today()
    async with context.uow() as uow:
        mine = await appeals.cases_of(
            uow, member, context.policy, today=today, zone=context.settings.zone
        )
    _ = context._
    language = context.translator
    policy = context.policy
    lines = ["<b>" + html.escape(_("Your reviews and appeals")) + "</b>"]
    if not mine.own:
        lines.append(html.escape(_("None so far.")))
    for case in mine.own:
        lines.append(
            html.escape(
                _("{kind} · {period}: {state}").format(
                    kind=_kind(language, case.kind),
                    period=period_label(language, case.period_key, policy),
                    state=_state(language, policy, case, today),
                )
            )
        )
    buttons: list[list[InlineKeyboardButton]] = []
    for opened in (mine.latest, mine.latest_appeal):
        if opened is None:
            continue
        period = period_label(language, opened.period_key, policy)
        if opened.kind == REVIEW:
            line = _("You may ask for review of {period} until {until}.")
            label = _("Ask for review")
        else:
            line = _("You may appeal {period} until {until}.")
            label = _("Appeal")
        lines.append(
            html.escape(line.format(period=period, until=_until(language, opened.due_on, today)))
        )
        buttons.append(
            [
                InlineKeyboardButton(
                    label, callback_data=AppealAsk(opened.period_id, opened.kind).pack()
                )
            ]
        )
    if mine.reports:
        lines += ["", "<b>" + html.escape(_("Your reports' reviews and appeals")) + "</b>"]
        for case in mine.reports:
            lines.append(
                html.escape(
                    _("{person}: {kind} · {period}: {state}").format(
                        person=_who(language, case),
                        kind=_kind(language, case.kind),
                        period=period_label(language, case.period_key, policy),
                        state=_state(language, policy, case, today),
                    )
                )
            )
    if mine.to_decide:
        lines += ["", "<b>" + html.escape(_("To decide")) + "</b>"]
        for case in mine.to_decide:
            lines.append(
                html.escape(
                    _("{person}: {kind} · {period}: {state}").format(
                        person=_who(language, case),
                        kind=_kind(language, case.kind),
                        period=period_label(language, case.period_key, policy),
                        state=_state(language, policy, case, today),
                    )
                )
            )
            buttons.append(
                [
                    InlineKeyboardButton(
                        _("Open: {person}").format(person=_who(language, case)),
                        callback_data=AppealOpen(case.id).pack(),
                    )
                ]
            )
    text = "\n".join(lines)
    while html_length(text) > MAX_TEXT and len(lines) > 1:
        lines.pop()
        text = "\n".join(lines)
    await message.reply_text(
        text, parse_mode="HTML", reply_markup=InlineKeyboardMarkup(buttons) if buttons else None
    )


# --------------------------------------------------------------------------- the job


async def run_clocks(data: BotData, today: date, now: datetime) -> int:
    """Queue the reminders and escalations due ``today`` (``appeals.run_clocks``)."""
    return await appeals.run_clocks(
        data.database.uow,
        data.policy,
        ChatNotices(data.policy, data.settings.language),
        today=today,
        now=now,
    )


async def clock_tick(context: WorkledgerContext) -> None:
    """Job (every few minutes): cases nearing or past their last day, after the morning's
    reminder time."""
    now = context.now()
    local = now.astimezone(context.settings.zone)
    if local.time() < context.policy.reminders.monthly_check_time:
        return
    await run_clocks(context.bot_data, local.date(), now)
