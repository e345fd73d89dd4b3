"""Every message that lists people or items fits one Telegram message, at any count.

Each render is fed 100,000 items with the longest values the store allows (names of
200 characters, employee numbers of 40), written in characters Telegram counts twice
(UTF-16 surrogate pairs), and measured as Telegram measures: UTF-16 code units of the
text after HTML parsing, by the Bot API emulator's own parser.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from telegram import InlineKeyboardMarkup

from assessment.approvals import ActiveDelegation, AuthorNotice, Decision
from assessment.entries import EntryView
from assessment.entry_views import DayRecord, MonthRecord
from assessment.notices import Audience, Draft, Progress, Review
from assessment.people import StaffStatus, TeamRow
from assessment.reminders import DayState, TeamSummary
from bot.app import build_application
from bot.emulator.html import parse_html, utf16_len
from config.policy import load_policy
from config.settings import Settings
from handlers import approval_messages, broadcast, entries, notices, people, reminders
from handlers.approval_jobs import DIGEST_LINES, render_digest
from handlers.context import WorkledgerContext
from handlers.formatting import MAX_TEXT, answer_text, listed_at_most
from locales import translator
from storage.enums import DeliveryStatus, EntryStatus
from storage.repositories.approvals import Contact, Overdue, PendingRow
from storage.repositories.calendar import AbsentReport, Recipient
from storage.repositories.notices import Person

MANY = 100_000
LOCALES = ("en", "zh_Hans", "zh_Hant")
# 200 characters (the roster's longest name), 300 UTF-16 code units.
NAME = "😀" * 100 + "李" * 100
NUMBER = "E" + "9" * 39  # 40 characters, the longest employee number
DAY = date(2026, 12, 1)


def sent_length(text: str, *, parse_mode: str | None = None) -> int:
    """The length Telegram checks against its limits."""
    plain = parse_html(text)[0] if parse_mode == "HTML" else text
    return utf16_len(plain.strip())


def fits(text: str | None, *, parse_mode: str | None = None) -> bool:
    return text is not None and 0 < sent_length(text, parse_mode=parse_mode) <= MAX_TEXT


def buttons_in(markup: InlineKeyboardMarkup | None) -> int:
    return 0 if markup is None else sum(len(row) for row in markup.inline_keyboard)


@pytest.fixture(scope="module")
def application() -> Any:
    settings = Settings(
        _env_file=None,
        token="1:unused",
        database_url="sqlite+aiosqlite:///unused.db",
        language="en",
    )
    return build_application(settings, load_policy())


@pytest.fixture(params=LOCALES)
def context(application: Any, request: pytest.FixtureRequest) -> WorkledgerContext:
    found = WorkledgerContext(application)
    found.translator = translator(request.param)
    return found


def _gettexts(locale: str) -> tuple[Any, Any]:
    words = translator(locale)
    return words.gettext, words.ngettext


@pytest.mark.parametrize("locale", LOCALES)
def test_a_listing_of_any_count_of_the_longest_names_stays_within_its_room(locale: str) -> None:
    _, ngettext = _gettexts(locale)
    text = listed_at_most(_, ngettext, [NAME] * MANY)
    assert sent_length(text) <= 1000 + 40
    assert f"{MANY - 3:,}".replace(",", "") in text.replace(",", "")  # 3 of 300 units fit
    assert listed_at_most(_, ngettext, ["E1", "E2"]) == _("{items}, {item}").format(
        items="E1", item="E2"
    )


def test_team(context: WorkledgerContext) -> None:
    members = [TeamRow(NUMBER, NAME, StaffStatus.SECOND_LINE, False) for _ in range(MANY)]
    states = {NUMBER: DayState.ON_LEAVE}
    delegation = ActiveDelegation(
        supervisor_id=1,
        supervisor_name=NAME,
        delegate_id=2,
        delegate_name=NAME,
        delegate_employee_no=NUMBER,
        until=DAY,
    )
    text = people.team_text(context, members, DAY, True, states, delegation)
    assert fits(text)
    assert text.count(NAME) > 5
    shown = sum(line.startswith(f"{NUMBER} {NAME}") for line in text.splitlines())
    more = context.ngettext("...and {count} more", "...and {count} more", MANY - shown)
    assert text.splitlines()[-3] == more.format(count=MANY - shown)


@pytest.mark.parametrize("locale", LOCALES)
def test_team_summary(locale: str) -> None:
    boss = Recipient(1, 10, NAME, locale, None)
    report = AbsentReport(boss, NUMBER, NAME, False, True)
    summary = TeamSummary(boss, DAY, (report,) * MANY, (report,) * MANY)
    assert fits(reminders.team_summary("en", summary).text)


@pytest.mark.parametrize("locale", LOCALES)
def test_escalations_to_hr_and_to_the_supervisor(locale: str) -> None:
    overdue = [
        Overdue(i, 1, i, f"{NAME[:190]}{i:010d}", 2, None, NUMBER, DAY, "x" * 2000)
        for i in range(MANY)
    ]
    contact = Contact(1, NAME, 10, locale, None)
    sent = list(approval_messages.render_escalation("en", overdue, None, contact, [contact]))
    assert len(sent) == 2
    assert all(fits(outgoing.text) for outgoing in sent)


@pytest.mark.parametrize("decided_by", [NAME, None])
@pytest.mark.parametrize("locale", LOCALES)
def test_a_decision_on_many_entries_of_one_author(locale: str, decided_by: str | None) -> None:
    author = Contact(1, NAME, 10, locale, None)
    notice = AuthorNotice(
        author, Decision.APPROVE, decided_by, tuple((i, DAY, "x") for i in range(MANY)), None
    )
    outgoing = approval_messages.render_notice("en", notice)
    assert outgoing is not None and fits(outgoing.text)


def test_the_answer_to_an_approve_press_names_the_longest_decider(
    context: WorkledgerContext,
) -> None:
    line = approval_messages.decision_line(
        context.translator,
        context.settings.zone,
        approval_messages.Closing(Decision.APPROVE, NAME, datetime.now(UTC), None),
    )
    assert len(line) > 200
    assert len(answer_text(line)) <= 200


async def test_a_broadcast_preview_of_the_longest_notice(context: WorkledgerContext) -> None:
    text = "<b>" + "通知&amp;" * 3 + "通" * 3772 + "</b>"  # as long as a notice may be
    draft = Draft(
        1,
        text,
        None,
        None,
        Audience("roles", ("staff", "supervisor", "hr", "admin")),
        True,
        datetime(2026, 12, 2, 1, tzinfo=UTC),
        recipients=MANY,
        not_linked=(NUMBER,) * MANY,
    )
    preview, _ = await broadcast._preview(context, draft)
    assert fits(preview, parse_mode="HTML")
    short = Draft(1, "Hello", None, None, Audience(), False, None, MANY, (NUMBER,) * MANY)
    preview, _ = await broadcast._preview(context, short)
    assert fits(preview, parse_mode="HTML")
    assert "Hello" in preview


def test_broadcast_progress(context: WorkledgerContext) -> None:
    figures = Progress(
        1, MANY, {DeliveryStatus.SENT: MANY}, not_linked=(NUMBER,) * MANY, all_queued=True
    )
    assert fits(broadcast.progress_text(context, figures, 30.0))


async def test_notice_details_with_everyone_unread(context: WorkledgerContext) -> None:
    draft = Draft(1, "x" * 3800, None, None, Audience(), True, None, MANY, (NUMBER,) * MANY)
    review = Review(draft, Progress(1, MANY, not_linked=(NUMBER,) * MANY), NAME, None)
    unread = [Person(i, NUMBER, NAME, i, None) for i in range(MANY)]
    text, _ = await notices._details(context, review, unread)
    assert fits(text)


def test_today_and_month_pages(application: Any) -> None:
    # Pages are cut by length whatever the language; one language keeps this quick.
    context = WorkledgerContext(application)
    many = tuple(
        EntryView(
            i, 1, DAY, "😀" * 2000, EntryStatus.SUBMITTED, 1, None, Decimal(9), Decimal(8), 9
        )
        for i in range(MANY)
    )
    record = DayRecord(DAY, True, False, many)
    text, markup = entries._day_page(context, record, 10**6)  # past the last: the last
    assert fits(text)
    assert buttons_in(markup) <= 100
    month = MonthRecord(DAY.replace(day=1), DAY, (record,))
    text, markup = entries._month_page(context, month, 0)
    assert fits(text)
    assert buttons_in(markup) <= 100


@pytest.mark.parametrize("locale", LOCALES)
def test_an_approval_digest_of_many_authors_with_the_longest_names(locale: str) -> None:
    moment = datetime(2026, 12, 1, 9, tzinfo=UTC)
    rows = [
        PendingRow(
            entry_id=index + 1,
            version=1,
            author_id=index + 1,
            author_name=NAME,
            employee_no=NUMBER,
            work_date=DAY,
            text=NAME * 20,
            indicator_id=None,
            quantity=None,
            hours=None,
            updated_at=moment,
        )
        for index in range(DIGEST_LINES)
    ]
    digest = render_digest(translator(locale), 7, 7007, rows, MANY, DAY)
    assert fits(digest.text)
    keyboard = (digest.markup or {})["inline_keyboard"]
    shown = len(keyboard) - 1  # one "Approve all of" per author shown, then "Approve all"
    assert 0 < shown < DIGEST_LINES  # the longest names do not leave room for all 30
    assert f"{MANY - shown:,}".replace(",", "") in digest.text.replace(",", "")
