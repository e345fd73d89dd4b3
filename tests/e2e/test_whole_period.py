"""A whole period end to end, November 2026 under the default policy: entries logged and
approved in chat, self-assessments, the supervisor's reviews, HR's publication and the
score notices with their charts, read; for a staff member and a second-line colleague.

The organisation: HR (E001, in Human Resources); in the Enforcement Bureau a supervisor
(E210) with an officer (E211, law enforcement) and a second-line colleague who now holds a
management post (E212, status second_line). Everything is done through the bot: the bot's
clock stands on November workdays for the entries, on 26 November (self-assessment), on
4 December (supervisor review: reviews, and HR leaves out the two nobody reviews) and on
8 December (calibration), where HR publishes. The expected scores are the formula's
(``assessment.scoring.Scorer``) over the facts stated here by hand, and a hand-worked
figure besides.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from sqlalchemy import select

from assessment.scoring import PeriodFacts, PointsFact, QuantityFacts, RatingFacts, Scorer
from bot.emulator import EmulatedUser, EmulatorDriver
from handlers.callbacks import LogAnswer, ReviewOpen
from handlers.context import WorkledgerApplication
from storage.engine import Database
from storage.enums import EntryStatus, Role, StaffStatus
from storage.models import Department, PeriodScore, Post, Staff, WorkEntry

from . import chat
from .chat import Message, buttons, introduce, stop_timed_jobs
from .conftest import eventually

pytestmark = pytest.mark.e2e

ZONE = ZoneInfo("Asia/Shanghai")
SELF_STAGE = datetime(2026, 11, 26, 10, 0, tzinfo=ZONE)
REVIEW_STAGE = datetime(2026, 12, 4, 10, 0, tzinfo=ZONE)
IN_CALIBRATION = datetime(2026, 12, 8, 10, 0, tzinfo=ZONE)
GROUP = -100800
# The longest wait for a reply or a stored state: an upper bound on a slow machine, not a
# pace (every wait ends as soon as what it waits for is there).
WITHIN = 30.0


async def say(driver: EmulatorDriver, user: EmulatedUser, text: str) -> Message:
    return await chat.say(driver, user, text, within=WITHIN)


async def press(
    driver: EmulatorDriver, user: EmulatedUser, message: Message, label: str
) -> Message:
    return await chat.press(driver, user, message, label, within=WITHIN)


async def press_for_edit(
    driver: EmulatorDriver, user: EmulatedUser, message: Message, data: str
) -> tuple[str, Message]:
    return await chat.press_for_edit(driver, user, message, data, within=WITHIN)


@dataclass(frozen=True)
class Bureau:
    hr: EmulatedUser
    supervisor: EmulatedUser
    officer: EmulatedUser
    second_line: EmulatedUser
    ids: dict[str, int]

    def people(self) -> dict[str, EmulatedUser]:
        """Employee number -> the person's Telegram user."""
        return {
            "E001": self.hr,
            "E210": self.supervisor,
            "E211": self.officer,
            "E212": self.second_line,
        }


async def seed_bureau(database: Database) -> Bureau:
    bureau = Bureau(
        hr=EmulatedUser(id=9201, first_name="Hu", language_code="en"),
        supervisor=EmulatedUser(id=9202, first_name="Sun", language_code="en"),
        officer=EmulatedUser(id=9203, first_name="Su", language_code="en"),
        second_line=EmulatedUser(id=9204, first_name="Lao", language_code="en"),
        ids={},
    )
    async with database.uow() as uow:
        hr_office = await uow.departments.add(Department(name="Human Resources"))
        office = await uow.departments.add(Department(name="Enforcement Bureau"))
        officer_post = await uow.posts.add(
            Post(department_id=office.id, name="Officer", post_type="law_enforcement")
        )
        adviser_post = await uow.posts.add(
            Post(department_id=office.id, name="Adviser", post_type="management")
        )

        async def person(
            number: str, name: str, department: int, roles: Role, user: EmulatedUser,
            supervisor: int | None, post: int | None = None,
            status: StaffStatus = StaffStatus.ACTIVE,
        ) -> int:  # fmt: skip
            staff = await uow.staff.add(
                Staff(employee_no=number, name=name, department_id=department, post_id=post,
                      roles=roles, status=status, supervisor_id=supervisor,
                      telegram_user_id=user.id, language="en")
            )  # fmt: skip
            bureau.ids[number] = staff.id
            return staff.id

        await person("E001", "Hu Rong", hr_office.id, Role.STAFF | Role.HR, bureau.hr, None)
        boss = await person(
            "E210", "Sun Li", office.id, Role.STAFF | Role.SUPERVISOR, bureau.supervisor,
            None, officer_post.id,
        )  # fmt: skip
        await person("E211", "Su Yi", office.id, Role.STAFF, bureau.officer, boss,
                     officer_post.id)  # fmt: skip
        await person(
            "E212", "Lao Wang", office.id, Role.STAFF, bureau.second_line, boss,
            adviser_post.id, StaffStatus.SECOND_LINE,
        )  # fmt: skip
        await uow.commit()
    return bureau


@pytest.fixture
async def bureau(bot: WorkledgerApplication, driver: EmulatorDriver) -> Bureau:
    found = await seed_bureau(bot.bot_data.database)
    await introduce(driver, found.hr, found.supervisor, found.officer, found.second_line)
    await driver.create_group(GROUP, "Enforcement Bureau")
    stop_timed_jobs(bot)
    return found


def set_clock(bot: WorkledgerApplication, moment: datetime) -> None:
    bot.bot_data.clock.set(moment, frozen=True)


def rating_data(message: Message, row: int, number: str) -> str:
    """The callback data of button ``number`` in the ``row``-th row of rating buttons."""
    rows = [
        row_buttons
        for row_buttons in (message.get("reply_markup") or {}).get("inline_keyboard", [])
        if all(b["text"].isdigit() for b in row_buttons)
    ]
    return next(b["callback_data"] for b in rows[row] if b["text"] == number)


async def quick_log(
    driver: EmulatorDriver, user: EmulatedUser, text: str, indicator: str, quantity: str
) -> None:
    """A plain message, then its card's + Indicator and + Quantity."""
    card = await say(driver, user, text)
    assert card["text"].startswith("Logged for"), card["text"]
    await driver.press(user, card["message_id"], buttons(card)["+ Indicator"])
    [question] = await driver.wait_for_message(user.id, timeout=WITHIN)
    assert question["text"].startswith("Which indicator"), question["text"]
    chosen = await press(driver, user, question, indicator)
    assert chosen["text"].startswith("Changed."), chosen["text"]
    assert f"Indicator: {indicator}" in chosen["text"]
    await driver.press(user, card["message_id"], buttons(card)["+ Quantity"])
    [question] = await driver.wait_for_message(user.id, timeout=WITHIN)
    assert question["text"].startswith("How many"), question["text"]
    changed = await say(driver, user, quantity)
    assert changed["text"].startswith("Changed."), changed["text"]
    assert f"Quantity: {quantity} " in changed["text"], changed["text"]


async def guided_log(
    driver: EmulatorDriver,
    user: EmulatedUser,
    day: date,
    indicator: str,
    quantity: str,
    text: str,
) -> None:
    """/log: the day, the indicator, the quantity, hours, text, no evidence, Save."""
    question = await say(driver, user, "/log")
    data = LogAnswer("date", day.isoformat()).pack()
    assert data in buttons(question).values()
    label = next(t for t, d in buttons(question).items() if d == data)
    question = await press(driver, user, question, label)
    question = await press(driver, user, question, indicator)
    assert question["text"].startswith("How many"), question["text"]
    question = await say(driver, user, quantity)
    assert question["text"].startswith("How many hours"), question["text"]
    question = await say(driver, user, "2")
    assert question["text"].startswith("Describe the work"), question["text"]
    evidence = await say(driver, user, text)
    summary = await press(driver, user, evidence, "Skip")
    assert summary["text"].startswith("Please check the entry"), summary["text"]
    saved = await press(driver, user, summary, "Save")
    assert saved["text"].startswith("Saved"), saved["text"]


async def submitted(bot: WorkledgerApplication, *authors: int) -> list[WorkEntry]:
    """The authors' entries waiting for a decision, in the store."""
    async with bot.bot_data.database.uow() as uow:
        return list(
            await uow.session.scalars(
                select(WorkEntry).where(
                    WorkEntry.staff_id.in_(authors), WorkEntry.status == EntryStatus.SUBMITTED
                )
            )
        )


async def approve_in_pending(
    bot: WorkledgerApplication, driver: EmulatorDriver, bureau: Bureau, *authors: EmulatedUser
) -> None:
    """The supervisor approves each of the authors' new entries (one an author in
    ``authors``) with its Approve button in /pending; each author is told.

    The entries are waited for in the store, and decided from /pending, which lists what
    waits whatever the request job sent or folded (it is stopped in these tests: see
    ``stop_timed_jobs``); the authors' notices are waited for before they speak again."""
    ids = {user.id: bureau.ids[number] for number, user in bureau.people().items()}
    count = len(authors)

    async def all_submitted() -> list[WorkEntry] | None:
        found = await submitted(bot, *(ids[user.id] for user in authors))
        return found if len(found) == count else None

    await eventually(all_submitted, within=WITHIN)
    told = {
        user.id: max((m["message_id"] for m in await driver.messages(user.id)), default=None)
        for user in authors
    }
    for left in range(count, 0, -1):
        listing = await say(driver, bureau.supervisor, "/pending")
        assert listing["text"].startswith(
            f"{left} entr{'y waits' if left == 1 else 'ies wait'} for your decision"
        ), listing["text"]
        answer, decided = await press_for_edit(
            driver, bureau.supervisor, listing, buttons(listing)["1 Approve"]
        )
        assert "✅ Approved by Sun Li" in decided["text"], (answer, decided["text"])
        assert buttons(decided) == {}
    listing = await say(driver, bureau.supervisor, "/pending")
    assert listing["text"] == "Nothing is waiting for your decision."
    for user_id, since in told.items():
        entries = sum(1 for user in authors if user.id == user_id)
        notices = await driver.wait_for_message(
            user_id, count=entries, since_message_id=since, timeout=WITHIN
        )
        assert all(n["text"].startswith("Sun Li approved your entry of") for n in notices)


async def entries_of(bot: WorkledgerApplication, staff_id: int) -> list[WorkEntry]:
    async with bot.bot_data.database.uow() as uow:
        return list(
            await uow.session.scalars(
                select(WorkEntry).where(WorkEntry.staff_id == staff_id).order_by(WorkEntry.id)
            )
        )


async def self_assess(
    driver: EmulatorDriver, user: EmulatedUser, text: str, ratings: list[str]
) -> Message:
    card = await say(driver, user, "/self")
    assert card["text"].startswith("Self-assessment: November 2026"), card["text"]
    await driver.press(user, card["message_id"], buttons(card)["Write my text"])
    await driver.wait_for_message(user.id, timeout=WITHIN)
    card = await say(driver, user, text)
    assert card["text"].startswith("Saved."), card["text"]
    for row, value in enumerate(ratings):
        answer, card = await press_for_edit(driver, user, card, rating_data(card, row, value))
        assert answer == "Saved."
    return card


async def review(
    driver: EmulatorDriver,
    bureau: Bureau,
    staff_id: int,
    ratings: list[str],
    points: list[tuple[str, str]],
) -> Message:
    """Open a person's card from /review, rate, give points; the card before Sign off."""
    boss = bureau.supervisor
    listing = await say(driver, boss, "/review")
    _, card = await press_for_edit(driver, boss, listing, ReviewOpen("2026-11", staff_id).pack())
    for row, value in enumerate(ratings):
        answer, card = await press_for_edit(driver, boss, card, rating_data(card, row, value))
        assert answer == "Saved."
    for label, answer_text in points:
        await driver.press(boss, card["message_id"], buttons(card)[label])
        await driver.wait_for_message(boss.id, timeout=WITHIN)
        card = await say(driver, boss, answer_text)
        assert card["text"].startswith("Saved:"), card["text"]
    return card


async def sign_off(driver: EmulatorDriver, bureau: Bureau, card: Message) -> None:
    answer, signed = await press_for_edit(
        driver, bureau.supervisor, card, buttons(card)["Sign off"]
    )
    assert answer == "Signed off."
    assert "Signed off on" in signed["text"]


async def exclude(driver: EmulatorDriver, bureau: Bureau, department: str, label: str) -> None:
    """HR leaves an unreviewed person out of the publication, with a reason."""
    overview = await say(driver, bureau.hr, "/results")
    listing = await press(driver, bureau.hr, overview, department)
    card = await press(driver, bureau.hr, listing, label)
    await driver.press(bureau.hr, card["message_id"], buttons(card)["Exclude from publication"])
    await driver.wait_for_message(bureau.hr.id, timeout=WITHIN)
    done = await say(driver, bureau.hr, "Not assessed by this bureau's check")
    assert "is excluded from this period's publication" in done["text"], done["text"]


async def notice_of(driver: EmulatorDriver, user: EmulatedUser) -> Message:
    async def arrived() -> Message | None:
        return next((m for m in await driver.messages(user.id) if m.get("photo")), None)

    return await eventually(arrived, within=WITHIN)


async def stored_score(bot: WorkledgerApplication, staff_id: int) -> PeriodScore:
    async with bot.bot_data.database.uow() as uow:
        found = await uow.session.scalar(
            select(PeriodScore).where(PeriodScore.staff_id == staff_id)
        )
    assert found is not None
    return found


def expected_scores(
    bot: WorkledgerApplication, bureau: Bureau, department: int
) -> dict[str, Decimal]:
    """The formula over the period's facts, stated by hand (what the steps below do)."""
    scorer = Scorer(bot.bot_data.policy)
    officer = PeriodFacts(
        staff_id=bureau.ids["E211"],
        department_id=department,
        post_type="law_enforcement",
        quantities={
            "cases_handled": QuantityFacts(Decimal(40), 2),  # 30 + 10
            "case_closure_rate": QuantityFacts(Decimal(92), 1),
        },
        ratings={
            ("enforcement_compliance", "supervisor"): RatingFacts(4, 1),
            ("enforcement_compliance", "self"): RatingFacts(5, 1),
        },
        points=(PointsFact(Decimal(2), "Led the flood response"),),
    )
    second_line = PeriodFacts(
        staff_id=bureau.ids["E212"],
        department_id=department,
        post_type="management",
        quantities={
            "documents_drafted": QuantityFacts(Decimal(85), 2),  # 50 + 35
            "policy_execution_deviation": QuantityFacts(Decimal(3), 1),
        },
        ratings={
            ("interdepartment_coordination", "supervisor"): RatingFacts(4, 1),
            ("interdepartment_coordination", "self"): RatingFacts(4, 1),
            ("risk_control", "supervisor"): RatingFacts(5, 1),
            ("risk_control", "self"): RatingFacts(3, 1),
        },
        points=(PointsFact(Decimal("-1.5"), "Quarterly report late"),),
    )
    return {
        "E211": scorer.score(officer).value,
        "E212": scorer.score(second_line).value,
    }


async def test_a_whole_period_for_a_staff_member_and_a_second_line_colleague(
    bot: WorkledgerApplication, driver: EmulatorDriver, bureau: Bureau
) -> None:
    officer, second, boss = bureau.officer, bureau.second_line, bureau.supervisor
    officer_id, second_id = bureau.ids["E211"], bureau.ids["E212"]

    # --- November: entries, logged in chat and approved with the Approve buttons ---------
    set_clock(bot, datetime(2026, 11, 16, 10, 0, tzinfo=ZONE))  # a Monday
    await quick_log(driver, officer, "Closed cases at the district office", "Cases handled", "30")
    await quick_log(driver, second, "Drafted the new permit guidance", "Documents drafted", "50")
    await approve_in_pending(bot, driver, bureau, officer, second)

    set_clock(bot, datetime(2026, 11, 18, 15, 0, tzinfo=ZONE))  # a Wednesday
    await guided_log(driver, officer, date(2026, 11, 17), "Case closure rate", "92",
                     "Closure review of the month's cases")  # fmt: skip
    await guided_log(driver, officer, date(2026, 11, 18), "Cases handled", "10",
                     "Market inspections")  # fmt: skip
    await approve_in_pending(bot, driver, bureau, officer, officer)
    await guided_log(driver, second, date(2026, 11, 17), "Policy execution deviation", "3",
                     "Audit of the subsidy policy")  # fmt: skip
    await guided_log(driver, second, date(2026, 11, 18), "Documents drafted", "35",
                     "Circulars to the districts")  # fmt: skip
    await approve_in_pending(bot, driver, bureau, second, second)

    for staff_id in (officer_id, second_id):
        stored = await entries_of(bot, staff_id)
        assert len(stored) == 3
        assert all(e.status is EntryStatus.APPROVED for e in stored)
        assert all(e.decided_by_id == bureau.ids["E210"] for e in stored)
    assert sorted((e.indicator_id, e.quantity) for e in await entries_of(bot, officer_id)) == [
        ("case_closure_rate", Decimal(92)),
        ("cases_handled", Decimal(10)),
        ("cases_handled", Decimal(30)),
    ]

    # --- 26 November: the self-assessments ---------------------------------------------
    set_clock(bot, SELF_STAGE)
    own = await self_assess(driver, officer, "Closed 40 cases; trained a colleague.", ["5"])
    assert "Enforcement compliance: 5" in own["text"]
    own = await self_assess(driver, second, "Drafted 85 documents.", ["4", "3"])
    assert "assessed against the indicators of the role you hold now: Management." in own["text"]

    # --- 4 December: the supervisor's reviews --------------------------------------------
    set_clock(bot, REVIEW_STAGE)
    listing = await say(driver, boss, "/review")
    assert listing["text"].startswith("Your people to review for November 2026: 0 of 2")

    card = await review(
        driver, bureau, officer_id, ["4"], [("+ points", "2 Led the flood response")]
    )
    text = card["text"]
    assert text.startswith("Saved: +2: Led the flood response\n\nReview of Su Yi (E211)")
    assert "Score now: 89.31, grade Good." in text
    assert "Post type: Law enforcement" in text and "Second-line" not in text
    assert "• Cases handled: 40 cases (2 entries)" in text
    assert "• Case closure rate: mean 92 % (1 entry)" in text
    assert "Closed 40 cases; trained a colleague." in text
    await sign_off(driver, bureau, card)

    card = await review(
        driver, bureau, second_id, ["4", "5"], [("- points", "1.5 Quarterly report late")]
    )
    text = card["text"]
    assert text.startswith("Saved: −1.5: Quarterly report late\n\nReview of Lao Wang (E212)")
    assert "Score now: 86.81, grade Good." in text
    assert "Post type: Management" in text
    assert "Second-line staff: reviewed against the indicators of the role they hold now." in text
    assert "• Documents drafted: 85 documents (2 entries)" in text
    assert "Drafted 85 documents." in text
    await sign_off(driver, bureau, card)
    listing = await say(driver, boss, "/review")
    assert "2 of 2 signed off" in listing["text"]

    # --- HR: /results, the others left out, Publish now ----------------------------------
    await exclude(driver, bureau, "Enforcement Bureau", "E210 Sun Li")
    await exclude(driver, bureau, "Human Resources", "E001 Hu Rong")
    overview = await say(driver, bureau.hr, "/results")
    assert overview["text"].startswith("Results of November 2026 · supervisor review")
    assert "not reviewed yet: 0 · excluded: 2" in overview["text"], overview["text"]
    # Publish is offered in calibration, from 8 December (the review was due on the 7th;
    # HR may start it earlier, ``test_calibration_start``).
    set_clock(bot, IN_CALIBRATION)
    overview = await say(driver, bureau.hr, "/results")
    assert overview["text"].startswith("Results of November 2026 · calibration")
    assert "not reviewed yet: 0 · excluded: 2" in overview["text"], overview["text"]
    before = (await driver.messages(bureau.hr.id))[-1]["message_id"]
    await driver.press(bureau.hr, overview["message_id"], buttons(overview)["Publish"])
    replies = await driver.wait_for_message(
        bureau.hr.id, count=2, since_message_id=before, timeout=WITHIN
    )
    assert replies[0]["text"] == "November 2026 is published."
    assert replies[1]["text"] == "Its notices are on their way to 2 people."

    # --- the notices: privately, a chart and the result, "I have read it" ----------------
    async with bot.bot_data.database.uow() as uow:
        department = (await uow.session.get(Staff, officer_id)).department_id  # type: ignore[union-attr]
    expected = expected_scores(bot, bureau, department)
    # By hand, the officer: cases 40 -> min(100, 2 x 40) = 80; closure mean 92 -> 92; no
    # upheld complaint -> 100; compliance (0.6 x 4 + 0.1 x 5) / 0.7 = 4.142857... -> 82.857...;
    # base 0.3 x 92 + 0.25 x 82.857... + 0.15 x 100 + 0.3 x 80 = 87.3142857...; + 2 = 89.31.
    # The second-line colleague: deviation 3 % -> 100 - 2 x 3 = 94; documents 85 -> 85;
    # coordination (0.6 x 4 + 0.1 x 4) / 0.7 = 4 -> 80; risk (0.6 x 5 + 0.1 x 3) / 0.7 =
    # 4.714285... -> 94.2857...; base 28.2 + 21.25 + 20 + 18.857142... = 88.307142...;
    # - 1.5 = 86.81.
    assert expected == {"E211": Decimal("89.31"), "E212": Decimal("86.81")}

    for user, staff_id, number in ((officer, officer_id, "E211"), (second, second_id, "E212")):
        notice = await notice_of(driver, user)
        caption = notice["caption"]
        assert caption.startswith(
            f"Your result for November 2026\nScore: {expected[number]}\nGrade: Good"
        ), caption
        assert len(caption) <= 1024
        assert list(buttons(notice)) == ["I have read it", "Ask for review", "Appeal"]
        png = await driver.file_bytes(notice["photo"][-1]["file_id"])
        with Image.open(io.BytesIO(png)) as image:
            image.load()
            assert image.format == "PNG"
            assert image.size == (800, 450)
        score = await stored_score(bot, staff_id)
        assert (score.score, score.grade_id) == (expected[number], "good")
        assert score.published_at is not None and score.read_at is None
        read = await press(driver, user, notice, "I have read it")
        assert list(buttons(read)) == ["Ask for review", "Appeal"]
        assert (await stored_score(bot, staff_id)).read_at is not None
    # Each received their own notice only.
    assert "Lao Wang" not in (await notice_of(driver, officer))["caption"]
    assert "Su Yi" not in (await notice_of(driver, second))["caption"]

    overview = await say(driver, bureau.hr, "/results")
    department_card = await press(driver, bureau.hr, overview, "Enforcement Bureau")
    assert "Read by 2 of 2." in department_card["text"], department_card["text"]

    # --- nothing about scores in any group chat ------------------------------------------
    await driver.send_text(officer, "/score", chat_id=GROUP)
    [pointer] = await driver.wait_for_message(GROUP, timeout=WITHIN)
    assert pointer["text"].startswith("To keep personal data private")
    groups = [chat["id"] for chat in await driver.chats() if chat["type"] != "private"]
    assert groups == [GROUP]
    for chat_id in groups:
        for message in await driver.messages(chat_id):
            shown = f"{message.get('text') or ''}{message.get('caption') or ''}"
            assert not message.get("photo"), message
            for figure in expected.values():
                assert str(figure) not in shown, message
            assert "Score" not in shown and "Grade" not in shown, message
