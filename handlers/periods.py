"""HR's side of the closed-period rule: /reopen one person's period under review."""

from __future__ import annotations

from telegram import Update

from assessment import periods
from assessment.periods import Period, Reopened, ReopenError
from handlers.context import WorkledgerContext
from handlers.entry_cards import month_label


def period_label(context: WorkledgerContext, period: Period) -> str:
    """A period as people read it: ``November 2026``, or its key for a quarter (``2026-Q4``)."""
    return period.key if period.quarterly else month_label(context, period.starts_on)


def _usage(context: WorkledgerContext) -> str:
    return context._(
        "To reopen one person's period under review, so that their entries of it can "
        "change again: /reopen EMPLOYEE_NO [YYYY-MM] REASON. Without YYYY-MM, the latest "
        "period under review."
    )


def error_text(context: WorkledgerContext, error: ReopenError) -> str:
    """Why a period was not reopened, in the caller's language."""
    _ = context._
    texts = {
        ReopenError.NOT_HR: _("Only HR can reopen a period."),
        ReopenError.UNKNOWN_PERSON: _("Nobody on staff has that employee number."),
        ReopenError.BAD_PERIOD: _usage(context),
        ReopenError.NOT_CLOSED: _(
            "That period is not under review yet: its entries can still change."
        ),
        ReopenError.PUBLISHED: _(
            "That period's results are published: they change only through an appeal."
        ),
        ReopenError.REASON_NEEDED: _("Please give the reason after the employee number."),
        ReopenError.REASON_TOO_LONG: _(
            "That reason is too long: at most {limit} characters."
        ).format(limit=periods.MAX_REASON),
        ReopenError.ALREADY_REOPENED: _(
            "That period is reopened for this person already, and not signed off since."
        ),
    }
    return texts[error]


def reopened_text(context: WorkledgerContext, done: Reopened) -> str:
    """What HR is told once a period is reopened."""
    _ = context._
    text = _(
        "{period} is reopened for {name} ({employee_no}): their entries of it can be added, "
        "changed and decided again until their supervisor signs their review off again."
    ).format(
        period=period_label(context, done.period), name=done.name, employee_no=done.employee_no
    )
    if done.was_signed_off:
        text += "\n" + _("Their review's sign-off was withdrawn, and its score with it.")
    return text


async def reopen_command(update: Update, context: WorkledgerContext) -> None:
    """/reopen EMPLOYEE_NO [YYYY-MM | YYYY-Qn] REASON (HR)."""
    message = update.effective_message
    member = context.member
    assert message is not None and member is not None
    arguments = list(context.args or [])
    if not arguments:
        await message.reply_text(_usage(context))
        return
    employee_no = arguments.pop(0).upper()
    period: Period | None = None
    if arguments and (period := periods.parse_key(arguments[0], context.policy)) is not None:
        arguments.pop(0)
    elif arguments and _looks_like_a_period(arguments[0]):
        await message.reply_text(error_text(context, ReopenError.BAD_PERIOD))
        return
    async with context.uow() as uow:
        result = await periods.reopen(
            uow,
            member,
            employee_no,
            period,
            " ".join(arguments),
            context.policy,
            today=context.today(),
            now=context.now(),
        )
    if isinstance(result, ReopenError):
        await message.reply_text(error_text(context, result))
        return
    await message.reply_text(reopened_text(context, result))


def _looks_like_a_period(text: str) -> bool:
    # "2026-13", "2026-Q5": meant as a period, but none; a reason rarely starts so.
    head = text[:5]
    return len(text) <= 8 and head[:4].isdigit() and head[4:5] == "-"
