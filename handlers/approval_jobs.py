"""The approval jobs: new requests, daily digests, escalation and auto-approval."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date, datetime, time

from assessment import approvals, people
from assessment.approvals import PendingRow
from assessment.calendar import WorkCalendar
from assessment.outbox import Outgoing, enqueue
from handlers.approval_messages import (
    digest_line,
    render_closing,
    render_escalation,
    render_notice,
    render_request,
    render_waiting,
    shown_stamp,
)
from handlers.callbacks import ApproveShown
from handlers.context import BotData, WorkledgerContext
from handlers.formatting import MAX_TEXT, person_label, telegram_length
from locales import Translator, resolve_locale, translator
from storage.uow import UnitOfWork

# In a digest, the entries listed; the rest are counted and left to /pending.
DIGEST_LINES = 30
# Left in a digest for the line counting the rest and the blank line before it.
DIGEST_TAIL_ROOM = 100


async def send_requests(data: BotData, now: datetime) -> int:
    """Put new entries before their approvers (at once, for those not on a digest): a card
    each, or one message for many to one approver (``approvals.queue_requests``)."""
    day = now.astimezone(data.settings.zone).date()
    total = 0
    while True:
        async with data.database.uow() as uow:
            sent = await approvals.queue_requests(
                uow,
                today=day,
                render=functools.partial(render_request, data.settings.language),
                waiting=functools.partial(render_waiting, data.settings.language),
                policy=data.policy,
                now=now,
            )
        total += sent
        if sent < approvals.REQUEST_BATCH:
            return total


async def requests_tick(context: WorkledgerContext) -> None:
    """Job (every few seconds): new approval requests."""
    await send_requests(context.bot_data, context.now())


async def send_escalations(data: BotData, now: datetime) -> int:
    """Escalate entries left undecided too long, and auto-approve if the policy says so."""
    calendar = WorkCalendar(data.policy)
    default = data.settings.language
    async with data.database.uow() as uow:
        escalated = await approvals.escalate(
            uow,
            data.policy,
            calendar,
            data.settings.zone,
            render=functools.partial(render_escalation, default),
            now=now,
        )
    async with data.database.uow() as uow:
        await approvals.auto_approve(
            uow,
            data.policy,
            calendar,
            data.settings.zone,
            render=functools.partial(render_notice, default),
            close=functools.partial(render_closing, default, data.settings.zone),
            now=now,
        )
    return escalated


async def escalation_tick(context: WorkledgerContext) -> None:
    """Job (every quarter hour): escalation and auto-approval."""
    await send_escalations(context.bot_data, context.now())


async def send_digests(data: BotData, now: datetime) -> int:
    """Each digest-minded approver's daily digest, once, after their chosen time."""
    zone = data.settings.zone
    local = now.astimezone(zone)
    sent = 0
    prefix = f"approval-digest/{local.date()}/staff/"
    async with data.database.uow() as uow:
        people = await approvals.digest_people(uow)
        # Today's digests sent already, by this process or another: one read a tick, not
        # an attempted claim per approver every minute for the rest of the day.
        done = await uow.claims.taken(prefix) if people else set()
    for staff_id, at in people:
        hour, minute = (int(part) for part in at.split(":"))
        if local.time() < time(hour, minute) or f"{prefix}{staff_id}" in done:
            continue
        async with data.database.uow() as uow:
            if not await uow.claims.claim(f"{prefix}{staff_id}", now):
                continue
            message = await _digest(uow, data, staff_id, local.date(), now)
            if message is not None:
                await enqueue(uow, [message], now=now)
                sent += 1
            await uow.commit()
    return sent


async def _digest(
    uow: UnitOfWork, data: BotData, staff_id: int, day: date, now: datetime
) -> Outgoing | None:
    member = await people.member(uow, staff_id)
    if member is None or member.telegram_user_id is None:
        return None
    rows, total = await approvals.pending(
        uow, member, today=day, page=0, per_page=DIGEST_LINES, policy=data.policy
    )
    if not rows:
        return None
    language = translator(
        resolve_locale(member.language, member.telegram_language, data.settings.language)
    )
    return render_digest(language, member.id, member.telegram_user_id, rows, total, day)


def render_digest(
    language: Translator,
    staff_id: int,
    chat_id: int,
    rows: Sequence[PendingRow],
    total: int,
    day: date,
) -> Outgoing:
    """An approver's digest of ``rows`` (the first of ``total`` waiting, in id order):
    whole rows under their authors while they fit one message, then how many more."""
    _ = language.gettext
    lines = [
        language.ngettext(
            "Your approval digest: {count} entry waits.",
            "Your approval digest: {count} entries wait.",
            total,
        ).format(count=total)
    ]
    # Whole rows under their authors' names while they fit one message (names of up to
    # 200 characters could take 30 rows past Telegram's 4,096); the rest are counted.
    by_author: dict[int, list[PendingRow]] = {}
    used = telegram_length(lines[0]) + DIGEST_TAIL_ROOM
    for row in rows:
        added = telegram_length(digest_line(language, row.work_date, row.text)) + 1
        if row.author_id not in by_author:
            added += telegram_length(person_label(_, row.author_name, row.employee_no)) + 2
        if used + added > MAX_TEXT:
            break
        used += added
        by_author.setdefault(row.author_id, []).append(row)
    shown = [row for author_rows in by_author.values() for row in author_rows]
    shown_at = shown_stamp(max(row.updated_at for row in shown))
    first, last = min(r.entry_id for r in shown), max(r.entry_id for r in shown)
    keyboard: list[list[dict[str, str]]] = []
    for author_rows in by_author.values():
        head = author_rows[0]
        lines.append("")
        lines.append(person_label(_, head.author_name, head.employee_no))
        for row in author_rows:
            lines.append(digest_line(language, row.work_date, row.text))
        keyboard.append(
            [
                {
                    "text": _("Approve all of {name}").format(name=head.author_name),
                    "callback_data": ApproveShown(first, last, shown_at, head.author_id).pack(),
                }
            ]
        )
    if total > len(shown):
        lines.append("")
        lines.append(_("…and {count} more in /pending.").format(count=total - len(shown)))
    keyboard.append(
        [
            {
                "text": _("Approve all"),
                "callback_data": ApproveShown(first, last, shown_at, 0).pack(),
            }
        ]
    )
    return Outgoing(
        chat_id=chat_id,
        kind="approval_digest",
        text="\n".join(lines),
        markup={"inline_keyboard": keyboard},
        staff_id=staff_id,
        dedup_key=f"approval-digest/{day}/{staff_id}",
    )


async def digest_tick(context: WorkledgerContext) -> None:
    """Job (every minute): approval digests that are due."""
    await send_digests(context.bot_data, context.now())
