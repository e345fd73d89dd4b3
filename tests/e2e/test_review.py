"""/self and /review end to end: a self-assessment written, rated, edited and locked; a
supervisor's people, a person's card, ratings, points with every kind of bad input,
sign-off; presses by anyone else refused.

The organisation: HR; a chief (E200) who supervises a supervisor (E210); E210 supervises
an officer (E211, law enforcement), a second-line colleague who now holds a management
post (E212) and an officer not linked yet (E213). The bot's clock stands on 26 November
2026 (November's self-assessment) and then on 4 December (its supervisor review).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from assessment.calendar import WorkCalendar
from bot.emulator import EmulatedUser, EmulatorDriver
from handlers.callbacks import ReviewOpen, ReviewRate, ReviewSignOff, SelfRate
from handlers.context import WorkledgerApplication
from storage.engine import Database
from storage.enums import EntryStatus, RaterKind, Role, StaffStatus
from storage.models import (
    AuditEvent,
    Department,
    PeriodReview,
    Post,
    Rating,
    ScorePoint,
    Staff,
    WorkEntry,
)

from .chat import (
    Message,
    answer_to_press,
    buttons,
    introduce,
    press_for_edit,
    say,
    stop_timed_jobs,
)

pytestmark = pytest.mark.e2e

ZONE = ZoneInfo("Asia/Shanghai")
SELF_STAGE = datetime(2026, 11, 26, 10, 0, tzinfo=ZONE)
REVIEW_STAGE = datetime(2026, 12, 4, 10, 0, tzinfo=ZONE)
INVALID = "This button is no longer valid."


@dataclass(frozen=True)
class Bureau:
    hr: EmulatedUser
    chief: EmulatedUser
    supervisor: EmulatedUser
    officer: EmulatedUser
    second_line: EmulatedUser
    ids: dict[str, int]


async def seed_bureau(database: Database) -> Bureau:
    bureau = Bureau(
        hr=EmulatedUser(id=9101, first_name="Hu", language_code="en"),
        chief=EmulatedUser(id=9102, first_name="Chen", language_code="en"),
        supervisor=EmulatedUser(id=9103, first_name="Sun", language_code="en"),
        officer=EmulatedUser(id=9104, first_name="Su", language_code="en"),
        second_line=EmulatedUser(id=9105, first_name="Lao", language_code="en"),
        ids={},
    )
    async with database.uow() as uow:
        bureau_dept = await uow.departments.add(Department(name="Enforcement Bureau"))
        officer_post = await uow.posts.add(
            Post(department_id=bureau_dept.id, name="Officer", post_type="law_enforcement")
        )
        adviser_post = await uow.posts.add(
            Post(department_id=bureau_dept.id, name="Adviser", post_type="management")
        )

        async def person(
            number: str, name: str, roles: Role, user: EmulatedUser | None,
            supervisor: int | None, post: int | None = None,
            status: StaffStatus = StaffStatus.ACTIVE,
        ) -> int:  # fmt: skip
            staff = await uow.staff.add(
                Staff(employee_no=number, name=name, department_id=bureau_dept.id,
                      post_id=post, roles=roles, status=status, supervisor_id=supervisor,
                      telegram_user_id=None if user is None else user.id, language="en")
            )  # fmt: skip
            bureau.ids[number] = staff.id
            return staff.id

        await person("E001", "Hu Rong", Role.STAFF | Role.HR, bureau.hr, None)
        chief = await person("E200", "Chen Da", Role.STAFF | Role.SUPERVISOR, bureau.chief, None)
        boss = await person(
            "E210", "Sun Li", Role.STAFF | Role.SUPERVISOR, bureau.supervisor, chief,
            officer_post.id,
        )  # fmt: skip
        await person("E211", "Su Yi", Role.STAFF, bureau.officer, boss, officer_post.id)
        await person(
            "E212", "Lao Wang", Role.STAFF, bureau.second_line, boss, adviser_post.id,
            StaffStatus.SECOND_LINE,
        )  # fmt: skip
        await person("E213", "Ma Qing", Role.STAFF, None, boss, officer_post.id)
        await uow.commit()
    return bureau


@pytest.fixture
async def bureau(bot: WorkledgerApplication, driver: EmulatorDriver) -> Bureau:
    found = await seed_bureau(bot.bot_data.database)
    await introduce(
        driver, found.hr, found.chief, found.supervisor, found.officer, found.second_line
    )
    set_clock(bot, SELF_STAGE)
    # Its seeded entries wait for a decision: no request card may stand where a review
    # step's reply is awaited.
    stop_timed_jobs(bot)
    return found


def set_clock(bot: WorkledgerApplication, moment: datetime) -> None:
    bot.bot_data.clock.set(moment, frozen=True)


def rating_buttons(message: Message) -> list[list[str]]:
    """The rows of number buttons, in order."""
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [[b["text"] for b in row] for row in rows if all(b["text"].isdigit() for b in row)]


def press_data(message: Message, row: int, number: str) -> str:
    rows = [
        row_buttons
        for row_buttons in (message.get("reply_markup") or {}).get("inline_keyboard", [])
        if all(b["text"].isdigit() for b in row_buttons)
    ]
    return next(b["callback_data"] for b in rows[row] if b["text"] == number)


async def review_of(bot: WorkledgerApplication, employee_no: str) -> PeriodReview | None:
    async with bot.bot_data.database.uow() as uow:
        staff = (await uow.staff.by_employee_nos([employee_no]))[0]
        return await uow.session.scalar(
            select(PeriodReview).where(PeriodReview.staff_id == staff.id)
        )


async def test_a_self_assessment_is_written_rated_edited_and_locked_at_sign_off(
    bot: WorkledgerApplication, driver: EmulatorDriver, bureau: Bureau
) -> None:
    user = bureau.officer
    card = await say(driver, user, "/self")
    assert card["text"].startswith("Self-assessment: November 2026")
    assert "You have not written your text yet." in card["text"]
    assert "Enforcement compliance: not rated yet" in card["text"]
    assert rating_buttons(card) == [["1", "2", "3", "4", "5"]]
    review = await review_of(bot, "E211")
    assert review is not None and review.post_type == "law_enforcement"

    await driver.press(user, card["message_id"], buttons(card)["Write my text"])
    [question] = await driver.wait_for_message(user.id)
    assert question["text"].startswith("Send your self-assessment as one message")
    for bad, answer in (
        (" \u200b\u200b ", "That message has no visible text."),
        ("x" * 1001, "That is too long: at most 1000 characters."),
    ):
        assert (await say(driver, user, bad))["text"].startswith(answer)
    saved = await say(driver, user, "Closed 12 cases; trained two new colleagues.")
    assert saved["text"].startswith("Saved.")
    assert "Closed 12 cases; trained two new colleagues." in saved["text"]

    answer, rated = await press_for_edit(driver, user, saved, press_data(saved, 0, "4"))
    assert answer == "Saved."
    assert "Enforcement compliance: 4" in rated["text"]
    # The card pressed before that rating is out of date: refused, nothing changes.
    assert await answer_to_press(driver, user, saved, press_data(saved, 0, "2")) == INVALID
    changed = await press_for_edit(driver, user, rated, press_data(rated, 0, "5"))
    assert "Enforcement compliance: 5" in changed[1]["text"]

    again = await say(driver, user, "/self")
    assert "Closed 12 cases" in again["text"] and "Change my text" in buttons(again)
    await driver.press(user, again["message_id"], buttons(again)["Change my text"])
    await driver.wait_for_message(user.id)
    edited = await say(driver, user, "Closed 14 cases.")
    assert "Closed 14 cases." in edited["text"]

    # The supervisor signs off on 4 December: the self-assessment is locked.
    set_clock(bot, REVIEW_STAGE)
    await _sign_off(driver, bureau, bureau.ids["E211"])
    locked = await say(driver, user, "/self")
    assert "Locked: your supervisor signed off your review on" in locked["text"]
    assert "The self-assessment of December 2026 opens on" in locked["text"]
    assert buttons(locked) == {}
    refused = await answer_to_press(driver, user, edited, press_data(edited, 0, "1"))
    assert refused.startswith("Your supervisor has signed off your review")
    refused = await answer_to_press(driver, user, edited, buttons(edited)["Change my text"])
    assert refused.startswith("Your supervisor has signed off your review")
    stored = await review_of(bot, "E211")
    assert stored is not None and stored.self_text == "Closed 14 cases."
    async with bot.bot_data.database.uow() as uow:
        ratings = list(await uow.session.scalars(select(Rating)))
    assert [(r.rater_kind, r.indicator_id, r.value) for r in ratings] == [
        (RaterKind.SELF, "enforcement_compliance", 5)
    ]


async def _sign_off(driver: EmulatorDriver, bureau: Bureau, staff_id: int) -> Message:
    listing = await say(driver, bureau.supervisor, "/review")
    card = await _open(driver, bureau.supervisor, listing, staff_id)
    answer, signed = await press_for_edit(
        driver, bureau.supervisor, card, buttons(card)["Sign off"]
    )
    assert answer == "Signed off."
    return signed


async def _open(
    driver: EmulatorDriver, user: EmulatedUser, listing: Message, staff_id: int
) -> Message:
    data = ReviewOpen("2026-11", staff_id).pack()
    assert data in buttons(listing).values()
    _, card = await press_for_edit(driver, user, listing, data)
    return card


async def _entries(bot: WorkledgerApplication, staff_id: int, decider: int) -> None:
    async with bot.bot_data.database.uow() as uow:

        def entry(
            day: int, status: EntryStatus, indicator: str | None, quantity: str | None
        ) -> WorkEntry:
            return WorkEntry(staff_id=staff_id, work_date=date(2026, 11, day), text=f"Work {day}",
                             indicator_id=indicator,
                             quantity=None if quantity is None else Decimal(quantity),
                             status=status, decided_by_id=decider)  # fmt: skip

        uow.session.add_all(
            [
                entry(2, EntryStatus.APPROVED, "cases_handled", "20"),
                entry(3, EntryStatus.APPROVED, "cases_handled", "26"),
                entry(3, EntryStatus.APPROVED, "case_closure_rate", "90"),
                entry(4, EntryStatus.APPROVED, "case_closure_rate", "96"),
                entry(4, EntryStatus.APPROVED, None, None),
                entry(5, EntryStatus.SUBMITTED, "cases_handled", "3"),
                entry(6, EntryStatus.RETURNED, "cases_handled", "1"),
                entry(9, EntryStatus.REJECTED, "cases_handled", "9"),
            ]
        )
        await uow.commit()


async def test_the_review_card_ratings_points_and_sign_off(
    bot: WorkledgerApplication, driver: EmulatorDriver, bureau: Bureau
) -> None:
    officer = bureau.ids["E211"]
    await _entries(bot, officer, bureau.ids["E210"])
    await say(driver, bureau.officer, "/self")
    set_clock(bot, REVIEW_STAGE)
    boss = bureau.supervisor

    listing = await say(driver, boss, "/review")
    assert listing["text"].startswith(
        "Your people to review for November 2026: 0 of 3 signed off."
    )
    assert list(buttons(listing)) == ["Lao Wang (E212)", "Ma Qing (E213)", "Su Yi (E211)"]
    # A supervisor never sees their own review among their team's; their chief does.
    chief_list = await say(driver, bureau.chief, "/review")
    assert list(buttons(chief_list)) == ["Sun Li (E210)"]

    card = await _open(driver, boss, listing, officer)
    text = card["text"]
    assert text.startswith("Review of Su Yi (E211), November 2026")
    assert "Post type: Law enforcement" in text
    assert "Second-line" not in text
    assert "• Cases handled: 46 cases (2 entries)" in text
    assert "• Case closure rate: mean 93 % (2 entries)" in text
    assert "• Upheld complaints: 0 complaints (0 entries)" in text
    assert "• Other approved entries: 1" in text
    workdays = WorkCalendar(bot.bot_data.policy).workdays(date(2026, 11, 1), date(2026, 11, 30))
    assert f"Workdays: 5 of {len(workdays)} covered." in text
    assert "Missing: Nov 9, Nov 10, Nov 11" in text
    assert "Still pending: 1; returned: 1." in text
    assert "Self-assessment:\nnot written yet" in text
    assert "Points left this period: bonus 10, deduction 20." in text
    assert "Not signed off yet." in text
    # Alone in the department's quota so far (a cap of 0): Excellent by score, but not given.
    assert (
        "Score now: 94, grade Good. Excellent by score, but the quota is full.\n"
        "Excellent places left in Enforcement Bureau: 0." in text
    )
    assert rating_buttons(card) == [["1", "2", "3", "4", "5"]]
    for label in ("+ points", "- points", "Sign off", "Enforcement compliance"):
        assert label in buttons(card)

    answer, card = await press_for_edit(driver, boss, card, press_data(card, 0, "4"))
    assert answer == "Saved."
    assert "Your ratings (1 to 5):\n• Enforcement compliance: 4" in card["text"]

    # + points, with every kind of bad input first: each answered, nothing saved.
    await driver.press(boss, card["message_id"], buttons(card)["+ points"])
    [question] = await driver.wait_for_message(boss.id)
    assert question["text"].startswith("Bonus points for Su Yi (E211)")
    assert "At most 10 more count this period." in question["text"]
    for bad, answer in (
        ("many thanks", "Start with the number of points"),
        ("0 Nothing", "Give more than 0 points."),
        ("1.234 Precise", "At most 2 decimal places"),
        ("11 Too generous", "That is more than the points that still count"),
        ("2", "Add the reason after the number"),
        ("2 \u200b", "Add the reason after the number"),
        ("-2 Signed", "Give the number without a sign"),
        ("2 " + "r" * 301, "That reason is too long: at most 300 characters."),
    ):
        reply = await say(driver, boss, bad)
        assert reply["text"].startswith(answer), bad
        assert reply["text"].endswith("Nothing was saved."), bad
    saved = await say(driver, boss, "2.5 Led the flood response")
    assert saved["text"].startswith("Saved: +2.5: Led the flood response")
    assert "Points left this period: bonus 7.5, deduction 20." in saved["text"]
    card = saved

    await driver.press(boss, card["message_id"], buttons(card)["- points"])
    [question] = await driver.wait_for_message(boss.id)
    assert "At most 20 more count this period." in question["text"]
    card = await say(driver, boss, "3 Missed the inspection")
    await driver.press(
        boss, card["message_id"], buttons(card)["Deduction that bars the top grade"]
    )
    [question] = await driver.wait_for_message(boss.id)
    assert "This deduction bars the top grade" in question["text"]
    card = await say(driver, boss, "1 Falsified a record")
    assert "• −3: Missed the inspection" in card["text"]
    assert "• −1: Falsified a record (bars the top grade)" in card["text"]
    assert "deduction 16." in card["text"]
    # 90.5 from the indicators (the rating counted), + 2.5 - 3 - 1.
    assert "Score now: 89, grade Good." in card["text"]
    # /cancel ends a question without saving anything.
    await driver.press(boss, card["message_id"], buttons(card)["+ points"])
    await driver.wait_for_message(boss.id)
    assert (await say(driver, boss, "/cancel"))["text"] == "Cancelled; nothing was saved."

    async with bot.bot_data.database.uow() as uow:
        points = list(await uow.session.scalars(select(ScorePoint).order_by(ScorePoint.id)))
    assert [(p.amount, p.reason, p.disqualifying) for p in points] == [
        (Decimal("2.5"), "Led the flood response", False),
        (Decimal("-3"), "Missed the inspection", False),
        (Decimal("-1"), "Falsified a record", True),
    ]

    # A card shown before the last change is out of date: its buttons are refused.
    old_sign_off = buttons(saved)["Sign off"]
    assert await answer_to_press(driver, boss, saved, old_sign_off) == INVALID
    answer, signed = await press_for_edit(driver, boss, card, buttons(card)["Sign off"])
    assert answer == "Signed off."
    assert "Signed off on" in signed["text"]
    assert list(buttons(signed)) == ["« My people"]
    # A second press of Sign off, and any other button of the card, is "already signed off".
    assert await answer_to_press(driver, boss, card, buttons(card)["Sign off"]) == (
        "Already signed off."
    )
    assert await answer_to_press(driver, boss, card, press_data(card, 0, "2")) == (
        "Already signed off."
    )
    stored = await review_of(bot, "E211")
    assert stored is not None and stored.signed_off_at is not None
    assert stored.signed_off_by_id == bureau.ids["E210"]
    async with bot.bot_data.database.uow() as uow:
        actions = list(
            await uow.session.scalars(
                select(AuditEvent.action).where(AuditEvent.action.like("review.%"))
            )
        )
    assert actions.count("review.signed_off") == 1
    assert actions.count("review.points") == 3
    listing = await say(driver, boss, "/review")
    assert "1 of 3 signed off" in listing["text"]
    assert "Su Yi (E211) ✓" in buttons(listing)

    # HR reopens the person's period: the review, and the self-assessment, open again.
    reopened = await say(driver, bureau.hr, "/reopen E211 2026-11 Two entries were missing")
    assert "is reopened for Su Yi (E211)" in reopened["text"]
    card = await _open(driver, boss, await say(driver, boss, "/review"), officer)
    assert "Not signed off yet." in card["text"] and "Sign off" in buttons(card)
    assert "Write my text" in buttons(await say(driver, bureau.officer, "/self"))
    answer, signed = await press_for_edit(driver, boss, card, buttons(card)["Sign off"])
    assert answer == "Signed off."


async def test_presses_of_anyone_but_the_reviewer_are_refused(
    bot: WorkledgerApplication, driver: EmulatorDriver, bureau: Bureau
) -> None:
    set_clock(bot, REVIEW_STAGE)
    officer = bureau.ids["E211"]
    listing = await say(driver, bureau.supervisor, "/review")
    card = await _open(driver, bureau.supervisor, listing, officer)
    review = await review_of(bot, "E211")
    assert review is not None
    presses = [
        ReviewOpen("2026-11", officer).pack(),
        ReviewRate(review.id, review.version, "enforcement_compliance", 5).pack(),
        buttons(card)["+ points"],
        ReviewSignOff(review.id, review.version).pack(),
    ]
    chief_help = await say(driver, bureau.chief, "/help")
    for data in presses:
        # Another supervisor (the reviewer's own chief): as any forged press.
        assert await answer_to_press(driver, bureau.chief, chief_help, data) == INVALID, data
    # Someone without the supervisor role is stopped at the gate.
    officer_help = await say(driver, bureau.officer, "/help")
    for data in presses:
        refused = await answer_to_press(driver, bureau.officer, officer_help, data)
        assert refused == "Sorry, you do not have permission to do that."
    # Nor may anyone rate themself on someone else's self-assessment.
    second_help = await say(driver, bureau.second_line, "/help")
    forged = SelfRate(review.id, review.version, "enforcement_compliance", 5).pack()
    assert await answer_to_press(driver, bureau.second_line, second_help, forged) == INVALID
    # The supervisor cannot open their own review, whoever's list they forge it from.
    own = ReviewOpen("2026-11", bureau.ids["E210"]).pack()
    assert await answer_to_press(driver, bureau.supervisor, card, own) == INVALID
    async with bot.bot_data.database.uow() as uow:
        assert list(await uow.session.scalars(select(Rating))) == []
    stored = await review_of(bot, "E211")
    assert stored is not None and stored.signed_off_at is None
    assert stored.version == review.version


async def test_a_second_line_persons_card_says_whose_indicators(
    bot: WorkledgerApplication, driver: EmulatorDriver, bureau: Bureau
) -> None:
    own = await say(driver, bureau.second_line, "/self")
    assert "assessed against the indicators of the role you hold now: Management." in own["text"]
    assert rating_buttons(own) == [["1", "2", "3", "4", "5"]] * 2
    set_clock(bot, REVIEW_STAGE)
    listing = await say(driver, bureau.supervisor, "/review")
    card = await _open(driver, bureau.supervisor, listing, bureau.ids["E212"])
    assert "Post type: Management" in card["text"]
    assert (
        "Second-line staff: reviewed against the indicators of the role they hold now."
        in card["text"]
    )
    assert "• Inter-department coordination: not rated yet" in card["text"]
    assert "• Risk control: not rated yet" in card["text"]
    assert rating_buttons(card) == [["1", "2", "3", "4", "5"]] * 2
    _, rated = await press_for_edit(driver, bureau.supervisor, card, press_data(card, 1, "3"))
    assert "• Risk control: 3" in rated["text"]


async def test_review_before_its_stage_and_in_a_group(
    bot: WorkledgerApplication, driver: EmulatorDriver, bureau: Bureau
) -> None:
    # On 26 November October's review is the latest; nothing of it was stored, so the
    # supervisor's people are listed for October (its calibration).
    listing = await say(driver, bureau.supervisor, "/review")
    assert listing["text"].startswith("Your people to review for October 2026")
    await driver.create_group(-100700, "Bureau")
    await driver.send_text(bureau.officer, "/self", chat_id=-100700)
    [pointer] = await driver.wait_for_message(-100700)
    assert "only work in a private chat" in pointer["text"]


async def test_a_long_card_and_a_long_team_stay_within_telegrams_limits(
    bot: WorkledgerApplication, driver: EmulatorDriver, bureau: Bureau
) -> None:
    officer, boss = bureau.ids["E211"], bureau.ids["E210"]
    # The longest self-assessment, and 400 small points with the longest reasons.
    await say(driver, bureau.officer, "/self")
    async with bot.bot_data.database.uow() as uow:
        review = await uow.session.scalar(
            select(PeriodReview).where(PeriodReview.staff_id == officer)
        )
        assert review is not None
        review.self_text = "自" * 1000
        department = (await uow.session.get(Staff, officer)).department_id  # type: ignore[union-attr]
        uow.session.add_all(
            ScorePoint(period_id=review.period_id, staff_id=officer, author_id=boss,
                       amount=Decimal("0.01"), reason="理" * 300, disqualifying=False)
            for _ in range(400)
        )  # fmt: skip
        uow.session.add_all(
            Staff(employee_no=f"T{n:03d}", name=f"Team {n:03d}", department_id=department,
                  roles=Role.STAFF, supervisor_id=boss)
            for n in range(45)
        )  # fmt: skip
        await uow.commit()
    set_clock(bot, REVIEW_STAGE)
    listing = await say(driver, bureau.supervisor, "/review")
    assert "0 of 48 signed off" in listing["text"]
    assert len(buttons(listing)) == 40 + 1  # a page of people, and »
    _, second = await press_for_edit(driver, bureau.supervisor, listing, buttons(listing)["»"])
    assert len(buttons(second)) == 8 + 1  # the rest, and «
    assert "Team 044 (T044)" in buttons(second)

    card = await _open(
        driver, bureau.supervisor, await say(driver, bureau.supervisor, "/review"), officer
    )
    assert len(card["text"].encode("utf-16-le")) // 2 <= 4096
    assert "自" * 1000 in card["text"]
    assert "more" in card["text"]  # "...and N more" points
    assert "Points left this period: bonus 6, deduction 20." in card["text"]
    assert "Not signed off yet." in card["text"]


async def test_a_question_left_for_a_day_is_forgotten(
    bot: WorkledgerApplication, driver: EmulatorDriver, bureau: Bureau
) -> None:
    set_clock(bot, REVIEW_STAGE)
    boss = bureau.supervisor
    listing = await say(driver, boss, "/review")
    card = await _open(driver, boss, listing, bureau.ids["E211"])
    await driver.press(boss, card["message_id"], buttons(card)["+ points"])
    await driver.wait_for_message(boss.id)
    # Within the day, a plain message answers the question...
    assert (await say(driver, boss, "Patrol duty"))["text"].startswith("Start with the number")
    # ...a day later it is a quick log entry again, and nothing was given.
    set_clock(bot, datetime(2026, 12, 5, 11, 0, tzinfo=ZONE))
    assert (await say(driver, boss, "Patrol duty"))["text"].startswith("Logged for")
    async with bot.bot_data.database.uow() as uow:
        assert list(await uow.session.scalars(select(ScorePoint))) == []


async def test_no_review_is_begun_for_a_period_of_the_past(
    bot: WorkledgerApplication, driver: EmulatorDriver, bureau: Bureau
) -> None:
    set_clock(bot, REVIEW_STAGE)
    boss = bureau.supervisor
    listing = await say(driver, boss, "/review")
    for data in (ReviewOpen("2025-03", bureau.ids["E211"]).pack(), "rvl:2025-03:0"):
        assert await answer_to_press(driver, boss, listing, data) == INVALID, data
    async with bot.bot_data.database.uow() as uow:
        assert list(await uow.session.scalars(select(PeriodReview))) == []
