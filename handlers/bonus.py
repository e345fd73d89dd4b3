"""HR's /bonus: a published period's bonus run, previewed, published; /allowance; and
each person's bonus notice.

Adapters only: ``assessment.bonus`` checks the caller, the period and that a period is
paid once. ``/bonus [YYYY-MM] [POOL] [REASON]`` computes a run (pool mode takes the
total; once a run is published, the next one is a correction and needs its reason) and
shows its totals by department and grade with the spreadsheet of every line; Publish
(``bnp``) publishes it and queues the notices, Discard (``bnx``) sets it aside.
"""

from __future__ import annotations

import asyncio
import functools
import re
from decimal import Decimal, InvalidOperation

from babel.numbers import format_currency, format_decimal
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update

from assessment import bonus, periods
from assessment.bonus import BonusError, Computed, NoticeRow, PoolError, RunTotal
from assessment.outbox import BULK, Outgoing
from assessment.sheets import Cell, xlsx_bytes
from config.policy import Policy
from handlers.callbacks import BonusDiscard, BonusPublish
from handlers.context import WorkledgerContext
from handlers.formatting import answer_text, lines_at_most
from handlers.gate import claim
from handlers.scores import grade_name, period_label
from locales import Translator, resolve_locale, translator
from storage.models import BonusRun

BONUS_KIND = "bonus"
_AMOUNT = re.compile(r"\d+(\.\d+)?")


def _money(language: Translator, run: BonusRun | dict[str, object], units: int) -> str:
    factors = run.factors if isinstance(run, BonusRun) else run
    amount = Decimal(units) * Decimal(str(factors["step"]))
    return str(format_currency(amount, str(factors["currency"]), locale=language.babel))


def _number(language: Translator, value: Decimal) -> str:
    return str(format_decimal(value, locale=language.babel))


def error_text(context: WorkledgerContext, error: BonusError | PoolError) -> str:
    """Why a run or an allowance was refused, in the caller's language."""
    return refusal(context.translator, error)


def refusal(language: Translator, error: BonusError | PoolError) -> str:
    """Why a run or an allowance was refused, in ``language``."""
    _ = language.gettext
    texts: dict[BonusError | PoolError, str] = {
        BonusError.NOT_HR: _("Only HR can run and publish bonuses."),
        BonusError.UNKNOWN_PERIOD: _("There is no such period."),
        BonusError.NOT_PUBLISHED: _(
            "That period's results are not published yet: bonuses follow published results."
        ),
        BonusError.PUBLISHING: _(
            "That period's results are still being published; try again in a moment."
        ),
        BonusError.POOL_NEEDED: _(
            "The policy shares a pool: give its total, e.g. /bonus 2026-11 150000.00"
        ),
        BonusError.POOL_NOT_USED: _(
            "The policy pays by the formula: there is no pool total to give."
        ),
        BonusError.REASON_NEEDED: _(
            "This period's bonus is paid already. A correction says why: /bonus YYYY-MM REASON"
        ),
        BonusError.REASON_TOO_LONG: _(
            "That reason is too long: at most {limit} characters."
        ).format(limit=bonus.MAX_REASON),
        BonusError.TOO_LARGE: _("Those amounts are too large to compute exactly."),
        BonusError.UNKNOWN_RUN: _("There is no such bonus run."),
        BonusError.PUBLISHED: _("This bonus run is published already; it cannot change."),
        BonusError.DISCARDED: _("This preview was replaced by a newer one."),
        BonusError.STALE: _(
            "Another bonus run of this period was published meanwhile: nothing was paid "
            "twice. Preview again."
        ),
        BonusError.UNKNOWN_KIND: _("The policy has no such allowance."),
        BonusError.UNKNOWN_PERSON: _("Nobody on the roster has that employee number."),
        BonusError.ASSIGNED: _("That person has that allowance for the period already."),
        BonusError.NO_ALLOWANCE: _(
            "That allowance is not in force: it was withdrawn, or never assigned."
        ),
        BonusError.UNKNOWN_CHANGE: _("There is no changed result of that case to correct."),
        BonusError.CORRECTED: _(
            "A correction published since then pays this change already: see /bonus."
        ),
        PoolError.NOT_A_STEP: _("The pool must be a whole number of the currency's steps."),
        PoolError.NEGATIVE: _("The pool cannot be negative."),
        PoolError.ALLOWANCES_EXCEED: _("The allowances alone are more than the pool."),
        PoolError.NOBODY_WEIGHTED: _(
            "Nobody's grade earns a share (every coefficient is 0): the pool cannot be shared."
        ),
    }
    return texts[error]


def _totals_lines(context: WorkledgerContext, run: BonusRun, totals: list[RunTotal]) -> list[str]:
    language = context.translator
    policy = context.policy
    lines: list[str] = []
    department = None
    for total in totals:
        if total.department != department:
            department = total.department
            lines.append(department)
        grade = grade_name(language, policy, total.grade_id) or context._("no longer entitled")
        text = "  " + context._("{grade}: {count} — {amount}").format(
            grade=grade, count=total.people, amount=_money(language, run, total.amount)
        )
        if run.basis:
            text += " " + context._("(this run: {change})").format(
                change=_money(language, run, total.change)
            )
        lines.append(text)
    return lines


def preview_text(
    context: WorkledgerContext, key: str, run: BonusRun, totals: list[RunTotal]
) -> str:
    """What HR reads before publishing: how the run pays, its totals, by department and grade."""
    _ = context._
    language = context.translator
    label = period_label(language, key, context.policy)
    factors = run.factors
    if run.basis:
        heading = _("Bonus correction for {period} (preview): {reason}").format(
            period=label, reason=run.reason
        )
    else:
        heading = _("Bonus run for {period} (preview)").format(period=label)
    if run.mode == "pool" and run.pool_units is not None:
        how = _(
            "A pool of {pool}: allowances first, the rest shared by grade coefficient x "
            "post difficulty."
        ).format(pool=_money(language, run, run.pool_units))
    else:
        base = Decimal(str(factors["base"]))
        how = _("Base {base} x grade coefficient x post difficulty + allowances.").format(
            base=str(format_currency(base, str(factors["currency"]), locale=language.babel))
        )
    summary = context.ngettext(
        "{count} person, {total} in all.", "{count} people, {total} in all.", run.people
    ).format(count=run.people, total=_money(language, run, run.total_units))
    lines = [heading, how, summary]
    if run.basis:
        lines.append(
            _("This run pays or recovers {change} in all.").format(
                change=_money(language, run, run.change_units)
            )
        )
    # 200 departments of five grades would not fit one message: the spreadsheet has all.
    by_group = lines_at_most(context.ngettext, _totals_lines(context, run, totals))
    lines += ["", _("By department and grade:"), *by_group]
    return "\n".join(lines)


def _preview_markup(context: WorkledgerContext, run_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    context._("Publish and notify"), callback_data=BonusPublish(run_id).pack()
                ),
                InlineKeyboardButton(
                    context._("Discard"), callback_data=BonusDiscard(run_id).pack()
                ),
            ]
        ]
    )


def sheet_rows(
    language: Translator, policy: Policy, run: BonusRun, rows: list[bonus.LineRow]
) -> tuple[list[str], list[list[Cell]]]:
    """The spreadsheet of every line and its factors, headed in ``language``."""
    _ = language.gettext
    step = Decimal(str(run.factors["step"]))
    coefficients = run.factors["coefficients"]
    header = [
        _("Employee no."),
        _("Name"),
        _("Department"),
        _("Grade"),
        _("Grade coefficient"),
        _("Post difficulty"),
        _("Bonus before allowances"),
        _("Allowances"),
        _("Bonus"),
        _("Paid before"),
        _("Paid by this run"),
    ]

    def money(units: int) -> Decimal:
        return (Decimal(units) * step).quantize(step)

    table: list[list[Cell]] = [
        [
            row.employee_no,
            row.name,
            row.department,
            grade_name(language, policy, row.grade_id),
            None if row.grade_id is None else Decimal(str(coefficients.get(row.grade_id, 0))),
            row.difficulty,
            money(row.share),
            money(row.allowance),
            money(row.amount),
            money(row.paid),
            money(row.change),
        ]
        for row in rows
    ]
    return header, table


def _parse(context: WorkledgerContext, args: list[str]) -> tuple[str | None, Decimal | None, str]:
    """/bonus's arguments: the period (None: the latest published), the pool, the reason."""
    rest = list(args)
    key = None
    if rest and periods.parse_key(rest[0], context.policy) is not None:
        key = rest.pop(0)
    total = None
    if context.policy.bonus.mode == "pool" and rest and _AMOUNT.fullmatch(rest[0]):
        try:
            total = Decimal(rest.pop(0))
        except InvalidOperation:
            total = None
    return key, total, " ".join(rest)


async def bonus_command(update: Update, context: WorkledgerContext) -> None:
    """/bonus [YYYY-MM] [POOL] [REASON]: compute a run and show its preview."""
    message = update.effective_message
    member = context.member
    assert message is not None and member is not None
    key, total, reason = _parse(context, context.args or [])
    if key is None:
        async with context.uow() as uow:
            latest = await uow.results.published_periods(1)
        if not latest:
            await claim(context)
            await message.reply_text(context._("No period's results are published yet."))
            return
        key = latest[0][1]
    uows = context.bot_data.database.uow
    await _finish_notices(context, key)
    computed = await bonus.compute(
        uows,
        member,
        key,
        context.policy,
        pool_total=total,
        reason=reason or None,
        now=context.now(),
    )
    await claim(context)
    if not isinstance(computed, Computed):
        await message.reply_text(error_text(context, computed))
        return
    await send_preview(context, message.chat_id, computed)


async def send_preview(context: WorkledgerContext, chat_id: int, computed: Computed) -> None:
    """A computed run's preview to ``chat_id``: its totals with Publish and Discard, then the
    spreadsheet of every line."""
    uows = context.bot_data.database.uow
    async with uows() as uow:
        found = await bonus.totals(uow, computed.run_id)
    assert found is not None
    run, totals = found
    await context.bot.send_message(
        chat_id,
        preview_text(context, computed.period_key, run, totals),
        reply_markup=_preview_markup(context, run.id),
    )
    header, rows = sheet_rows(
        context.translator, context.policy, run, await bonus.lines(uows, run.id)
    )
    # Built in a worker thread: 100,000 lines must not stall the bot. Text that begins
    # like a formula stays text, as in every export (``assessment.sheets``).
    content = await asyncio.to_thread(xlsx_bytes, header, rows, title=computed.period_key)
    await context.bot.send_document(
        chat_id,
        InputFile(content, filename=f"bonus-{computed.period_key}-run-{run.id}.xlsx"),
        caption=context._("Every line of the preview and the factors that produced it."),
    )


async def press_publish(update: Update, context: WorkledgerContext) -> None:
    """Publish the previewed run, then queue everyone's notice."""
    query = update.callback_query
    member = context.member
    assert query is not None and member is not None
    action = BonusPublish.from_press(query.data)
    outcome = await bonus.publish(context.uow, member, action.run_id, now=context.now())
    if not isinstance(outcome, bonus.Published):
        await claim(context)
        await query.answer(answer_text(error_text(context, outcome)), show_alert=True)
        return
    await query.answer()
    label = period_label(context.translator, outcome.period_key, context.policy)
    await query.edit_message_reply_markup(reply_markup=None)
    queued = await bonus.queue_notices(
        context.bot_data.database.uow,
        outcome.run_id,
        functools.partial(bonus_notice, context.settings.language, context.policy),
        now=context.now(),
    )
    await context.bot.send_message(
        query.from_user.id,
        context._("The bonus of {period} is published (run {number}).").format(
            period=label, number=outcome.number
        )
        + "\n"
        + context.ngettext(
            "Its notice is on its way to {count} person.",
            "Its notices are on their way to {count} people.",
            queued or 0,
        ).format(count=queued or 0),
    )


async def press_discard(update: Update, context: WorkledgerContext) -> None:
    """Set the previewed run aside."""
    query = update.callback_query
    member = context.member
    assert query is not None and member is not None
    action = BonusDiscard.from_press(query.data)
    async with context.uow() as uow:
        done = await bonus.discard(uow, member, action.run_id, now=context.now())
    if isinstance(done, BonusError):
        await claim(context)
        await query.answer(answer_text(error_text(context, done)), show_alert=True)
        return
    await query.answer()
    await query.edit_message_reply_markup(reply_markup=None)
    await context.bot.send_message(
        query.from_user.id, context._("The preview is discarded; nothing was paid.")
    )


async def _finish_notices(context: WorkledgerContext, key: str) -> None:
    """Queue the rest of any published run's notices (the bot stopped half-way)."""
    async with context.bot_data.database.uow() as uow:
        period = await uow.periods.by_key(key)
        unfinished = [] if period is None else await bonus.unfinished_notices(uow, period.id)
    for run_id in unfinished:
        await bonus.queue_notices(
            context.bot_data.database.uow,
            run_id,
            functools.partial(bonus_notice, context.settings.language, context.policy),
            now=context.now(),
        )


def bonus_notice(
    default_language: str, policy: Policy, run: BonusRun, period_key: str, row: NoticeRow
) -> Outgoing:
    """A person's bonus notice, in their language, with the factors that produced it."""
    language = translator(resolve_locale(row.language, row.telegram_language, default_language))
    _ = language.gettext
    label = period_label(language, period_key, policy)
    factors = run.factors
    lines: list[str] = []
    if run.basis:
        lines.append(
            _("A correction of your bonus for {period}: {reason}").format(
                period=label, reason=run.reason
            )
        )
        lines.append(
            _("You are now entitled to {amount}; paid before: {paid}.").format(
                amount=_money(language, run, row.amount), paid=_money(language, run, row.paid)
            )
        )
        if row.change > 0:
            lines.append(
                _("This correction pays you {change}.").format(
                    change=_money(language, run, row.change)
                )
            )
        else:
            lines.append(
                _("This correction recovers {change}.").format(
                    change=_money(language, run, -row.change)
                )
            )
    else:
        lines.append(
            _("Your bonus for {period}: {amount}.").format(
                period=label, amount=_money(language, run, row.amount)
            )
        )
    if row.grade_id is not None:
        grade = grade_name(language, policy, row.grade_id)
        coefficient = _number(language, Decimal(str(factors["coefficients"][row.grade_id])))
        difficulty = _number(language, Decimal(row.difficulty))
        if run.mode == "pool" and run.pool_units is not None:
            lines.append(
                _(
                    "Your share of the pool of {pool}: {share}, in proportion to your grade's "
                    "coefficient ({grade}: {coefficient}) x your post's difficulty "
                    "({difficulty})."
                ).format(
                    pool=_money(language, run, run.pool_units),
                    share=_money(language, run, row.share),
                    grade=grade,
                    coefficient=coefficient,
                    difficulty=difficulty,
                )
            )
        else:
            base = Decimal(str(factors["base"]))
            lines.append(
                _(
                    "Base {base} x {grade} coefficient {coefficient} x post difficulty "
                    "{difficulty} = {share}."
                ).format(
                    base=str(
                        format_currency(base, str(factors["currency"]), locale=language.babel)
                    ),
                    grade=grade,
                    coefficient=coefficient,
                    difficulty=difficulty,
                    share=_money(language, run, row.share),
                )
            )
        if row.allowance:
            lines.append(
                _("Allowances: {allowances}.").format(
                    allowances=_money(language, run, row.allowance)
                )
            )
    else:
        lines.append(_("Your published result of the period no longer stands."))
    return Outgoing(
        chat_id=row.chat_id,
        kind=BONUS_KIND,
        text="\n".join(lines),
        staff_id=row.staff_id,
        dedup_key=f"bonus/{run.id}/{row.staff_id}",
        priority=BULK,
    )


async def allowance_command(update: Update, context: WorkledgerContext) -> None:
    """/allowance YYYY-MM EMPLOYEE_NO KIND REASON: assign a person an allowance."""
    message = update.effective_message
    member = context.member
    assert message is not None and member is not None
    args = context.args or []
    kinds = ", ".join(context.policy.bonus.allowances) or "-"
    if len(args) < 3 or periods.parse_key(args[0], context.policy) is None:
        await claim(context)
        await message.reply_text(
            context._(
                "To assign an allowance: /allowance YYYY-MM EMPLOYEE_NO KIND REASON "
                "(kinds: {kinds})."
            ).format(kinds=kinds)
            + "\n"
            + context._("To see or withdraw a person's allowances: /allowance YYYY-MM EMPLOYEE_NO")
        )
        return
    key, number, kind = args[0], args[1], args[2]
    async with context.uow() as uow:
        done = await bonus.assign_allowance(
            uow, member, key, number, kind, " ".join(args[3:]), context.policy, now=context.now()
        )
    if isinstance(done, BonusError):
        await claim(context)
        text = error_text(context, done)
        if done is BonusError.REASON_NEEDED:
            text = context._("Please give the reason after the kind.")
        await message.reply_text(text)
        return
    allowance = context.policy.bonus.allowances[kind]
    label = period_label(context.translator, key, context.policy)
    text = context._("{person}: {allowance} ({amount}) for {period}.").format(
        person=number,
        allowance=allowance.names.get(context.translator.locale),
        amount=str(
            format_currency(
                done.amount, context.policy.bonus.currency, locale=context.translator.babel
            )
        ),
        period=label,
    )
    if done.paid_by is not None:
        text += "\n" + context._(
            "The bonus of {period} is published already: only a correction pays it "
            "(/bonus {key} REASON)."
        ).format(period=label, key=key)
    await message.reply_text(text)
