"""What the bot says about approvals on its own, through the outbox, in each reader's language.

Requests with their ``Approve`` / ``Return`` / ``Reject`` buttons (or, when many come
to one approver at once, one message that opens /pending), the line that replaces
them once decided, the author's news of a decision, a delegation, an escalation.
Babel's labels are cached: the same few days and minutes come back press after press.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from babel.dates import format_datetime, format_skeleton

from assessment.approvals import (
    COALESCE_ABOVE,
    WAITING_KIND,
    ActiveDelegation,
    AuthorNotice,
    Closing,
    Contact,
    Decision,
    RequestTarget,
    Waiting,
)
from assessment.outbox import ROUTINE, URGENT, Outgoing
from handlers.callbacks import Decide, PendingPage
from handlers.entry_cards import shortened
from handlers.formatting import listed_at_most
from locales import N_, Translator, resolve_locale, translator
from storage.enums import EntryStatus
from storage.repositories.approvals import Overdue

# A list shows this much of an entry's text.
TEXT_IN_LIST = 120

DECIDED_LINES = {
    EntryStatus.APPROVED: N_("✅ Approved by {name}, {when}"),
    EntryStatus.RETURNED: N_("↩️ Returned by {name}, {when}: {reason}"),
    EntryStatus.REJECTED: N_("❌ Rejected by {name}, {when}: {reason}"),
}
APPROVED_AUTOMATICALLY = N_("✅ Approved automatically, {when}")


def shown_stamp(moment: datetime) -> int:
    """When a list was shown, for its ``Approve all`` (Unix seconds, rounded up)."""
    return int(moment.timestamp()) + 1


def language_of(contact: Contact, default: str) -> Translator:
    """The language to write to ``contact`` in."""
    return translator(resolve_locale(contact.language, contact.telegram_language, default))


def day_label(language: Translator, day: date) -> str:
    """A short date with its weekday, in ``language``."""
    return _day_in(language.locale, day)


@functools.lru_cache(maxsize=4096)
def _day_in(locale: str, day: date) -> str:
    # Babel takes tens of microseconds a call; a press needs the same few days again and again.
    return str(format_skeleton("MMMEd", day, locale=translator(locale).babel))


def moment_label(language: Translator, moment: datetime, zone: Any) -> str:
    """A moment to the minute, in ``zone`` and ``language``."""
    minute = moment.replace(second=0, microsecond=0)
    return _minute_in(language.locale, minute, zone)


@functools.lru_cache(maxsize=4096)
def _minute_in(locale: str, minute: datetime, zone: Any) -> str:
    return str(
        format_datetime(minute, format="short", tzinfo=zone, locale=translator(locale).babel)
    )


def decision_line(language: Translator, zone: Any, closing: Closing) -> str:
    """What a request shows in place of its buttons once decided, in ``language``."""
    when = moment_label(language, closing.at, zone)
    if closing.decided_by is None:
        return language.gettext(APPROVED_AUTOMATICALLY).format(when=when)
    return language.gettext(DECIDED_LINES[closing.decision.status]).format(
        name=closing.decided_by, when=when, reason=closing.reason or ""
    )


def render_closing(default: str, zone: Any, closing: Closing, reader: Contact) -> str:
    """The decision line for a copy of a request, in its reader's language."""
    return decision_line(language_of(reader, default), zone, closing)


def decision_buttons(language: Translator, entry_id: int, version: int) -> list[list[Any]]:
    """``Approve`` / ``Return`` / ``Reject`` for one version of an entry, as Bot API JSON."""
    _ = language.gettext
    return [
        [
            {"text": _("Approve"), "callback_data": Decide(entry_id, version, "a").pack()},
            {"text": _("Return"), "callback_data": Decide(entry_id, version, "r").pack()},
            {"text": _("Reject"), "callback_data": Decide(entry_id, version, "j").pack()},
        ]
    ]


def request_text(language: Translator, name: str, employee_no: str, day: date, text: str) -> str:
    """What an approver reads about one entry."""
    _ = language.gettext
    return "\n".join(
        [
            _("Entry to approve: {name} ({employee_no}), {day}").format(
                name=name, employee_no=employee_no, day=day_label(language, day)
            ),
            shortened(text, 3000),
        ]
    )


def pending_line(
    language: Translator, number: int, name: str, employee_no: str, day: date, text: str
) -> str:
    """One numbered entry of /pending: ``3. Li Lei (E001), Tue, Dec 1: text``."""
    return language.gettext("{number}. {name} ({employee_no}), {day}: {text}").format(
        number=number,
        name=name,
        employee_no=employee_no,
        day=day_label(language, day),
        text=shortened(text, TEXT_IN_LIST),
    )


def digest_line(language: Translator, day: date, text: str) -> str:
    """One entry under its author (a ``person_label``) in a digest: ``• Tue, Dec 1: text``."""
    return language.gettext("• {day}: {text}").format(
        day=day_label(language, day), text=shortened(text, TEXT_IN_LIST)
    )


def render_request(default: str, target: RequestTarget) -> Outgoing | None:
    """An approval request for the outbox, in the approver's language."""
    if target.approver_chat is None:
        return None  # not joined yet: it waits in their /pending
    language = translator(
        resolve_locale(target.approver_language, target.approver_telegram_language, default)
    )
    return Outgoing(
        chat_id=target.approver_chat,
        kind="approval_request",
        text=request_text(
            language, target.author_name, target.employee_no, target.work_date, target.text
        ),
        markup={"inline_keyboard": decision_buttons(language, target.entry_id, target.version)},
        staff_id=target.approver_id,
        dedup_key=f"approval-request/{target.entry_id}/{target.version}/{target.approver_id}",
        priority=ROUTINE,
        request_entry_id=target.entry_id,
    )


def open_list_button(language: Translator) -> list[list[Any]]:
    """The one button of a message standing for many requests: /pending, here, as Bot API
    JSON. Pressed, the message becomes the list, with each entry's buttons."""
    return [[{"text": language.gettext("Open the list"), "callback_data": PendingPage(0).pack()}]]


def render_waiting(default: str, waiting: Waiting) -> Outgoing | None:
    """One message for many requests to one approver: how many entries wait, and /pending."""
    target = waiting.latest
    if target.approver_chat is None:
        return None
    language = translator(
        resolve_locale(target.approver_language, target.approver_telegram_language, default)
    )
    text = "\n".join(
        [
            language.ngettext(
                "{count} entry waits for your decision.",
                "{count} entries wait for your decision.",
                waiting.count,
            ).format(count=waiting.count),
            language.gettext(
                "New ones came in faster than a message each could reach you: "
                "open the list to decide them."
            ),
        ]
    )
    return Outgoing(
        chat_id=target.approver_chat,
        kind=WAITING_KIND,
        text=text,
        markup={"inline_keyboard": open_list_button(language)},
        staff_id=target.approver_id,
        dedup_key=f"approval-waiting/{target.entry_id}/{target.version}/{target.approver_id}",
        priority=ROUTINE,
    )


def render_notice(default: str, notice: AuthorNotice) -> Outgoing | None:
    """The author's news of a decision, in their language."""
    author = notice.author
    if author.chat_id is None:
        return None
    language = language_of(author, default)
    _ = language.gettext
    days = listed_at_most(
        _, language.ngettext, (day_label(language, day) for _id, day, _text in notice.entries)
    )
    count = len(notice.entries)
    if notice.decision is Decision.APPROVE and notice.decided_by is None:
        text = (
            _("Your entry of {days} was approved automatically: nobody decided it in time.")
            if count == 1
            else language.ngettext(
                "{count} of your entries were approved automatically, as nobody decided "
                "them in time: {days}.",
                "{count} of your entries were approved automatically, as nobody decided "
                "them in time: {days}.",
                count,
            )
        ).format(count=count, days=days)
    elif notice.decision is Decision.APPROVE:
        text = (
            _("{name} approved your entry of {days}.")
            if count == 1
            else language.ngettext(
                "{name} approved {count} of your entries: {days}.",
                "{name} approved {count} of your entries: {days}.",
                count,
            )
        ).format(name=notice.decided_by, count=count, days=days)
    elif notice.decision is Decision.RETURN:
        text = _(
            "{name} returned your entry of {days} for changes: {reason}\n"
            "Open it with /today or /month, edit it, and it goes back for approval."
        ).format(name=notice.decided_by, days=days, reason=notice.reason)
    else:
        text = _("{name} rejected your entry of {days}: {reason}").format(
            name=notice.decided_by, days=days, reason=notice.reason
        )
    first = notice.entries[0][0]
    return Outgoing(
        chat_id=author.chat_id,
        kind="approval_decision",
        text=text,
        staff_id=author.staff_id,
        dedup_key=(
            f"approval-decision/{notice.decision.value}/{first}/{count}/"
            f"{notice.decided_by or 'auto'}"
        ),
        priority=URGENT,
    )


def render_delegation(
    default: str, zone: Any, delegation: ActiveDelegation, to: Contact
) -> Outgoing | None:
    """The news of a delegation, for the delegate or a member of the team."""
    if to.chat_id is None:
        return None
    language = language_of(to, default)
    _ = language.gettext
    until = day_label(language, delegation.until)
    if to.staff_id == delegation.delegate_id:
        text = _(
            "{supervisor} asked you to decide their team's entries until {until}. "
            "Requests will come here; /pending lists them."
        ).format(supervisor=delegation.supervisor_name, until=until)
    else:
        text = _("Until {until}, your entries are decided by {delegate} for {supervisor}.").format(
            until=until, delegate=delegation.delegate_name, supervisor=delegation.supervisor_name
        )
    return Outgoing(
        chat_id=to.chat_id,
        kind="delegation",
        text=text,
        staff_id=to.staff_id,
        dedup_key=f"delegation/{delegation.supervisor_id}/{delegation.until}/{to.staff_id}",
    )


def render_escalation(
    default: str,
    entries: Sequence[Overdue],
    higher: Contact | None,
    supervisor: Contact | None,
    hr: Sequence[Contact],
) -> Iterable[Outgoing]:
    """Escalated entries: a request each to the supervisor's supervisor (or word to HR),
    and word to the supervisor."""
    count = len(entries)
    authors = sorted({entry.author_name for entry in entries})
    if higher is not None and higher.chat_id is not None and count > COALESCE_ABOVE:
        # As with new requests: many at once are one message that opens /pending.
        language = language_of(higher, default)
        yield Outgoing(
            chat_id=higher.chat_id,
            kind=WAITING_KIND,
            text=language.ngettext(
                "{count} entry ({names}) was left undecided too long by {supervisor}, "
                "so it comes to you for a decision.",
                "{count} entries ({names}) were left undecided too long by {supervisor}, "
                "so they come to you for a decision.",
                count,
            ).format(
                count=count,
                names=listed_at_most(language.gettext, language.ngettext, authors),
                supervisor=supervisor.name if supervisor else "?",
            ),
            markup={"inline_keyboard": open_list_button(language)},
            staff_id=higher.staff_id,
            dedup_key=f"approval-escalated-waiting/{entries[0].entry_id}/{higher.staff_id}",
        )
    elif higher is not None and higher.chat_id is not None:
        language = language_of(higher, default)
        _ = language.gettext
        for entry in entries:
            yield Outgoing(
                chat_id=higher.chat_id,
                kind="approval_escalated",
                text=_("Undecided for too long by {supervisor}, so it comes to you:").format(
                    supervisor=supervisor.name if supervisor else "?"
                )
                + "\n"
                + request_text(
                    language, entry.author_name, entry.employee_no, entry.work_date, entry.text
                ),
                markup={
                    "inline_keyboard": decision_buttons(language, entry.entry_id, entry.version)
                },
                staff_id=higher.staff_id,
                dedup_key=f"approval-escalated/{entry.entry_id}/{entry.version}",
                request_entry_id=entry.entry_id,
            )
    if higher is None:
        for person in hr:
            if person.chat_id is None:
                continue
            language = language_of(person, default)
            yield Outgoing(
                chat_id=person.chat_id,
                kind="approval_escalated",
                text=language.ngettext(
                    "{count} entry ({names}) was left undecided too long; see /pending.",
                    "{count} entries ({names}) were left undecided too long; see /pending.",
                    count,
                ).format(
                    count=count,
                    names=listed_at_most(language.gettext, language.ngettext, authors),
                ),
                staff_id=person.staff_id,
                dedup_key=f"approval-escalated-hr/{entries[0].entry_id}/{person.staff_id}",
            )
    if supervisor is not None and supervisor.chat_id is not None:
        language = language_of(supervisor, default)
        _ = language.gettext
        target = higher.name if higher is not None else _("HR")
        yield Outgoing(
            chat_id=supervisor.chat_id,
            kind="approval_escalated",
            text=language.ngettext(
                "{count} entry of your team ({names}) waited too long and went to {target}.",
                "{count} entries of your team ({names}) waited too long and went to {target}.",
                count,
            ).format(
                count=count, names=listed_at_most(_, language.ngettext, authors), target=target
            ),
            staff_id=supervisor.staff_id,
            dedup_key=f"approval-escalated-told/{entries[0].entry_id}/{supervisor.staff_id}",
        )
