"""HR changing a period's bonus after setting it: an allowance withdrawn; a correction
prompted by a result changed on review or appeal.

Adapters only: ``assessment.bonus_changes`` checks the caller, the allowance and the
period on every press and again when the reason comes.

- ``/allowance YYYY-MM EMPLOYEE_NO`` lists the person's allowances in force for the
  period, each with a Withdraw button (``bnw``); the reason is asked next, then the
  allowance is withdrawn. Once a run of the period is published the list says so, and
  the reply to a withdrawal the run paid says the next correction recovers it (how much).
- A changed grade of a paid period comes to each HR member as a message with a button
  (``bnc``) that computes the correction and shows its preview, as ``/bonus`` does.
"""

from __future__ import annotations

from typing import Any

from babel.numbers import format_currency
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ApplicationHandlerStop

from assessment import bonus, bonus_changes, periods
from assessment.appeals import REVIEW
from assessment.bonus import BonusError, Computed
from assessment.bonus_changes import AllowanceRow, ChangedResult, Person
from assessment.outbox import ROUTINE, Outgoing
from config.policy import Policy
from handlers.bonus import allowance_command as allowance_assignment
from handlers.bonus import error_text, send_preview
from handlers.callbacks import BonusCorrect, BonusWithdraw
from handlers.context import WorkledgerContext
from handlers.formatting import answer_text, person_label
from handlers.gate import claim
from handlers.scores import grade_name, period_label
from locales import Translator, resolve_locale, translator
from storage.repositories.calendar import Recipient

# The question a Withdraw press opens: the next message is its reason.
WITHDRAWAL = "allowance_withdrawal"
PROMPT_KIND = "bonus_correction"


def _allowance_name(language: Translator, policy: Policy, kind: str) -> str:
    found = policy.bonus.allowances.get(kind)
    return kind if found is None else found.names.get(language.locale)


def _amount(language: Translator, policy: Policy, kind: str) -> str:
    found = policy.bonus.allowances.get(kind)
    if found is None:
        return "-"
    return str(format_currency(found.amount, policy.bonus.currency, locale=language.babel))


def _who(language: Translator, person: Person) -> str:
    return person_label(language.gettext, person.name, person.employee_no)


async def allowance_command(update: Update, context: WorkledgerContext) -> None:
    """/allowance YYYY-MM EMPLOYEE_NO: the person's allowances, each with Withdraw; with a
    kind and a reason, an allowance assigned (``handlers.bonus``)."""
    args = context.args or []
    if len(args) == 2 and periods.parse_key(args[0], context.policy) is not None:
        await show_allowances(update, context, args[0], args[1])
        return
    await allowance_assignment(update, context)


async def show_allowances(
    update: Update, context: WorkledgerContext, period_key: str, employee_no: str
) -> None:
    """The person's allowances in force for the period, each with Withdraw."""
    message = update.effective_message
    member = context.member
    assert message is not None and member is not None
    _ = context._
    language = context.translator
    async with context.uow() as uow:
        found = await bonus_changes.person_allowances(uow, member, period_key, employee_no)
    await claim(context)
    if isinstance(found, BonusError):
        await message.reply_text(error_text(context, found))
        return
    who = _who(language, found.person)
    label = period_label(language, period_key, context.policy)
    if not found.rows:
        await message.reply_text(
            _("{person} has no allowance for {period}.").format(person=who, period=label)
        )
        return
    lines = [_("{person}'s allowances for {period}:").format(person=who, period=label)]
    for row in found.rows:
        lines.append(
            "• "
            + _("{allowance} ({amount}): {reason}").format(
                allowance=_allowance_name(language, context.policy, row.kind),
                amount=_amount(language, context.policy, row.kind),
                reason=row.reason,
            )
        )
    if found.paid_by is not None:
        lines += [
            "",
            _(
                "Bonus run {number} of {period} is published: an allowance it paid and "
                "withdrawn now is recovered by the next correction (/bonus {key} REASON)."
            ).format(number=found.paid_by, period=label, key=period_key),
        ]
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    _("Withdraw: {allowance}").format(
                        allowance=_allowance_name(language, context.policy, row.kind)
                    ),
                    callback_data=BonusWithdraw(row.id).pack(),
                )
            ]
            for row in found.rows
        ]
    )
    await message.reply_text("\n".join(lines), reply_markup=markup)


async def press_withdraw(update: Update, context: WorkledgerContext) -> None:
    """Withdraw pressed: checked now, then the reason is asked."""
    query = update.callback_query
    member = context.member
    assert query is not None and member is not None
    action = BonusWithdraw.from_press(query.data)
    async with context.uow() as uow:
        found = await bonus_changes.withdrawable(uow, member, action.allowance_id)
        if not isinstance(found, BonusError):
            await uow.conversations.save(
                member.id,
                WITHDRAWAL,
                "reason",
                {"allowance_id": action.allowance_id},
                at=context.now(),
            )
            await uow.commit()
    if isinstance(found, BonusError):
        await claim(context)
        await query.answer(answer_text(error_text(context, found)), show_alert=True)
        return
    allowance, person = found
    await query.answer()
    await context.bot.send_message(
        query.from_user.id,
        context._(
            "Why withdraw {person}'s {allowance} for {period}? Send the reason (or /cancel)."
        ).format(
            person=_who(context.translator, person),
            allowance=_allowance_name(context.translator, context.policy, allowance.kind),
            period=period_label(context.translator, allowance.period_key, context.policy),
        ),
    )


def withdrawn_text(language: Translator, policy: Policy, done: bonus_changes.Withdrawn) -> str:
    """The reply to a withdrawal, in ``language``: what was withdrawn, and what pays
    without it (the next preview; once a published run paid it, the next correction,
    which recovers it)."""
    _ = language.gettext
    allowance: AllowanceRow = done.allowance
    period = period_label(language, allowance.period_key, policy)
    amount = _amount(language, policy, allowance.kind)
    who = _who(language, done.person)
    withdrawn = _("Withdrawn: {person}'s {allowance} ({amount}) for {period}. Reason: {reason}")
    lines = [
        withdrawn.format(
            person=who,
            allowance=_allowance_name(language, policy, allowance.kind),
            amount=amount,
            period=period,
            reason=done.reason,
        )
    ]
    if done.paid_by is None:
        lines.append(
            _("The period's next preview (/bonus {key}) pays without it.").format(
                key=allowance.period_key
            )
        )
    elif done.pool is None:
        lines.append(
            _(
                "Bonus run {number} of {period} paid it: the next correction "
                "(/bonus {key} REASON) recovers {amount} from {person}."
            ).format(
                number=done.paid_by,
                period=period,
                key=allowance.period_key,
                amount=amount,
                person=who,
            )
        )
    else:
        lines.append(
            _(
                "Bonus run {number} of {period} paid it from a pool of {pool}: the next "
                "correction, with the same pool (/bonus {key} {total} REASON), recovers "
                "{amount} from {person} and shares it again with the rest of the pool, by "
                "grade coefficient x post difficulty (their share of it included)."
            ).format(
                number=done.paid_by,
                period=period,
                pool=str(format_currency(done.pool, policy.bonus.currency, locale=language.babel)),
                key=allowance.period_key,
                total=done.pool,
                amount=amount,
                person=who,
            )
        )
    return "\n".join(lines)


async def capture(update: Update, context: WorkledgerContext) -> None:
    """HR's next message after Withdraw: the reason; then the allowance is withdrawn."""
    message = update.effective_message
    member = context.member
    if message is None or member is None or context.question != WITHDRAWAL:
        return
    async with context.uow() as uow:
        stored = await uow.conversations.get(member.id)
    if stored is None or stored.kind != WITHDRAWAL:
        return
    allowance_id = int(stored.data["allowance_id"])
    async with context.uow() as uow:
        done = await bonus_changes.withdraw_allowance(
            uow, member, allowance_id, message.text, context.policy, now=context.now()
        )
    keep = done in (BonusError.REASON_NEEDED, BonusError.REASON_TOO_LONG)
    if isinstance(done, BonusError):
        reply = error_text(context, done)
        if done is BonusError.REASON_NEEDED:
            reply = context._("Please send the reason as a text message.")
    else:
        reply = withdrawn_text(context.translator, context.policy, done)
    if not keep:
        async with context.uow() as uow:
            await uow.conversations.drop(member.id)
            await uow.commit()
    await claim(context)
    await message.reply_text(reply)
    raise ApplicationHandlerStop


async def cancel(update: Update, context: WorkledgerContext) -> None:
    """/cancel while a withdrawal's reason is asked: the allowance stands."""
    message = update.effective_message
    member = context.member
    if message is None or member is None or context.question != WITHDRAWAL:
        return
    async with context.uow() as uow:
        await uow.conversations.drop(member.id)
        await uow.commit()
    await message.reply_text(context._("Cancelled; the allowance stands."))
    raise ApplicationHandlerStop


def correction_prompt(
    default_language: str, policy: Policy, recipient: Recipient, change: ChangedResult
) -> Outgoing:
    """An HR member's message that a result a published run paid has changed, with the
    button that previews its correction; in their language; no money in it."""
    language = translator(
        resolve_locale(recipient.language, recipient.telegram_language, default_language)
    )
    _ = language.gettext
    text = (
        _(
            "{person}'s grade for {period} was changed on review: {before} → {after}. "
            "Bonus run {number} paid the grade before: a correction pays or recovers the "
            "difference."
        )
        if change.kind == REVIEW
        else _(
            "{person}'s grade for {period} was changed on appeal: {before} → {after}. "
            "Bonus run {number} paid the grade before: a correction pays or recovers the "
            "difference."
        )
    ).format(
        person=person_label(_, change.name, change.employee_no),
        period=period_label(language, change.period_key, policy),
        before=grade_name(language, policy, change.grade_before),
        after=grade_name(language, policy, change.grade_after),
        number=change.paid_by,
    )
    markup: dict[str, Any] = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    _("Preview the correction"),
                    callback_data=BonusCorrect(change.case_id, change.paid_by).pack(),
                )
            ]
        ]
    ).to_dict()
    return Outgoing(
        chat_id=recipient.telegram_user_id,
        kind=PROMPT_KIND,
        text=text,
        markup=markup,
        staff_id=recipient.staff_id,
        dedup_key=bonus_changes.correction_key(change.case_id, recipient.staff_id),
        priority=ROUTINE,
    )


async def press_correct(update: Update, context: WorkledgerContext) -> None:
    """Preview the correction pressed: computed as ``/bonus YYYY-MM REASON`` computes it."""
    query = update.callback_query
    member = context.member
    assert query is not None and member is not None
    action = BonusCorrect.from_press(query.data)
    async with context.uow() as uow:
        found = await bonus_changes.correction_of(uow, member, action.case_id, action.paid_by)
    if isinstance(found, BonusError):
        await claim(context)
        await query.answer(answer_text(error_text(context, found)), show_alert=True)
        return
    await query.answer()
    # The reason every notice of the correction gives, in the organisation's language;
    # it names nobody (in pool mode the correction changes colleagues' shares too).
    organisation = translator(context.settings.language)
    computed = await bonus.compute(
        context.bot_data.database.uow,
        member,
        found.period_key,
        context.policy,
        pool_total=found.pool_total,
        reason=organisation.gettext("A published result was changed on review or appeal."),
        now=context.now(),
    )
    await claim(context)
    if not isinstance(computed, Computed):
        await context.bot.send_message(query.from_user.id, error_text(context, computed))
        return
    await send_preview(context, query.from_user.id, computed)
