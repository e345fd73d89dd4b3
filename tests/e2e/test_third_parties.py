"""Third-party evaluators end to end (SQLite and PostgreSQL): HR invites an external
evaluator for November and one department; the evaluator, a stranger to the roster, opens
the link, sees the people of that department and rates them; the rating enters the
score; a second account opening the same link is refused; the evaluator reaches nothing
else; HR sees completion and revokes, and the evaluator is refused from then on.

The bot's clock stands on 26 November 2026, in November's self-assessment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from assessment.period_scoring import score_one
from assessment.periods import period_of
from bot.emulator import EmulatedUser, EmulatorDriver
from handlers.callbacks import ResultsOverview, ReviewOpen, ThirdPartyOpen, ThirdPartyRate
from handlers.context import WorkledgerApplication
from storage.engine import Database
from storage.enums import RaterKind, Role
from storage.models import AuditEvent, Department, Post, Rating, Staff

from .chat import (
    Message,
    answer_to_press,
    buttons,
    introduce,
    press_for_edit,
    say,
    stop_timed_jobs,
)
from .conftest import eventually

pytestmark = pytest.mark.e2e

ZONE = ZoneInfo("Asia/Shanghai")
SELF_STAGE = datetime(2026, 11, 26, 10, 0, tzinfo=ZONE)
INVALID = "This button is no longer valid."
NOT_LINKED = "Your Telegram account is not linked to a staff record yet."
EVALUATOR = EmulatedUser(id=9601, first_name="Zhang", language_code="en")
# A stranger too, whose Telegram speaks Simplified Chinese.
INTRUDER = EmulatedUser(id=9602, first_name="Eve", language_code="zh-hans")


@dataclass(frozen=True)
class Bureau:
    hr: EmulatedUser
    officer: EmulatedUser
    ids: dict[str, int]
    enforcement: int
    licensing: int


async def seed_bureau(database: Database) -> Bureau:
    hr = EmulatedUser(id=9611, first_name="Hu", language_code="en")
    officer = EmulatedUser(id=9612, first_name="Su", language_code="en")
    ids: dict[str, int] = {}
    async with database.uow() as uow:
        enforcement = await uow.departments.add(Department(name="Enforcement Bureau"))
        licensing = await uow.departments.add(Department(name="Licensing"))
        officer_post = await uow.posts.add(
            Post(department_id=enforcement.id, name="Officer", post_type="law_enforcement")
        )
        inspector_post = await uow.posts.add(
            Post(department_id=licensing.id, name="Inspector", post_type="law_enforcement")
        )
        for number, name, department, post, roles, user in (
            ("E001", "Hu Rong", enforcement.id, None, Role.STAFF | Role.HR, hr),
            ("E211", "Su Yi", enforcement.id, officer_post.id, Role.STAFF, officer),
            ("E300", "Bai Lu", licensing.id, inspector_post.id, Role.STAFF, None),
        ):
            staff = await uow.staff.add(
                Staff(employee_no=number, name=name, department_id=department, post_id=post,
                      roles=roles, telegram_user_id=None if user is None else user.id,
                      language="en")
            )  # fmt: skip
            ids[number] = staff.id
        await uow.commit()
    return Bureau(hr, officer, ids, enforcement.id, licensing.id)


@pytest.fixture
async def bureau(bot: WorkledgerApplication, driver: EmulatorDriver) -> Bureau:
    found = await seed_bureau(bot.bot_data.database)
    await introduce(driver, found.hr, found.officer)
    bot.bot_data.clock.set(SELF_STAGE, frozen=True)
    stop_timed_jobs(bot)
    return found


async def _invite(driver: EmulatorDriver, bureau: Bureau) -> str:
    """HR invites Zhang San of City Law Firm for November and the Enforcement Bureau; the
    link's /start payload."""
    draft = await say(driver, bureau.hr, "/thirdparty invite 2026-11 Zhang San / City Law Firm")
    assert draft["text"].startswith(
        "Third-party evaluator Zhang San (City Law Firm) for November 2026."
    )
    assert "Departments: none yet" in draft["text"]
    # No departments yet: no link.
    refused = await answer_to_press(driver, bureau.hr, draft, buttons(draft)["Create the link"])
    assert refused == "Choose at least one department first."
    _, chosen = await press_for_edit(
        driver, bureau.hr, draft, buttons(draft)["Enforcement Bureau"]
    )
    assert "Departments: Enforcement Bureau" in chosen["text"]
    assert "✓ Enforcement Bureau" in buttons(chosen)
    await driver.press(bureau.hr, chosen["message_id"], buttons(chosen)["Create the link"])

    async def the_link() -> Message | None:
        for message in await driver.messages(bureau.hr.id):
            if "photo" in message and "start=t_" in (message.get("caption") or ""):
                return message
        return None

    photo = await eventually(the_link)
    caption = photo["caption"]
    assert caption.startswith("Link for the third-party evaluator Zhang San (City Law Firm):")
    found = re.search(r"\?start=(t_[A-Za-z0-9_-]+)", caption)
    assert found is not None
    return found.group(1)


async def test_an_evaluator_is_invited_rates_and_the_rating_counts(
    bot: WorkledgerApplication, driver: EmulatorDriver, bureau: Bureau
) -> None:
    payload = await _invite(driver, bureau)
    assert len(payload) == 42
    # A staff member cannot be a third party (and opening it binds nothing).
    staff = await say(driver, bureau.officer, f"/start {payload}")
    assert staff["text"].startswith("This link is for an external evaluator.")

    listing = await say(driver, EVALUATOR, f"/start {payload}")
    assert listing["text"].startswith("Welcome, Zhang San (City Law Firm).")
    assert (
        "Third-party evaluation for November 2026: Zhang San (City Law Firm)." in (listing["text"])
    )
    assert "0 of 1 person rated in full." in listing["text"]
    # Only the Enforcement Bureau's officer, by name and post.
    assert list(buttons(listing)) == ["Su Yi, Officer"]

    _, card = await press_for_edit(driver, EVALUATOR, listing, buttons(listing)["Su Yi, Officer"])
    assert card["text"].startswith("Su Yi, Officer (Enforcement Bureau)")
    assert "Enforcement compliance: not rated yet" in card["text"]
    four = ThirdPartyRate(
        int(buttons(listing)["Su Yi, Officer"].split(":")[1]),
        bureau.ids["E211"],
        "enforcement_compliance",
        4,
    ).pack()
    answer, rated = await press_for_edit(driver, EVALUATOR, card, four)
    assert answer == "Saved."
    assert "Enforcement compliance: 4" in rated["text"]

    database = bot.bot_data.database
    async with database.uow() as uow:
        [rating] = list(await uow.session.scalars(select(Rating)))
        assert (rating.rater_kind, rating.staff_id, rating.value, rating.rater_id) == (
            RaterKind.THIRD_PARTY,
            bureau.ids["E211"],
            4,
            None,
        )
        policy = bot.bot_data.policy
        found = await score_one(
            uow, policy, period_of(date(2026, 11, 1), policy), bureau.ids["E211"]
        )
    assert found is not None
    [compliance] = [
        part
        for part in found[0].breakdown.indicators
        if part.indicator_id == "enforcement_compliance"
    ]
    assert {r.rater: r.mean for r in compliance.raters}["third_party"] == 4
    assert compliance.score == 80

    # Opening the link again comes back to the list, rated now.
    again = await say(driver, EVALUATOR, f"/start {payload}")
    assert "1 of 1 person rated in full." in again["text"]
    assert list(buttons(again)) == ["✓ Su Yi, Officer"]

    # A second account opening the same link is refused (in its language), binds nothing.
    refused = await say(driver, INTRUDER, f"/start {payload}")
    assert refused["text"].startswith("此评估链接已与另一个 Telegram 账号绑定")
    assert buttons(refused) == {}
    # Nor may it press the evaluator's buttons.
    assert await answer_to_press(driver, INTRUDER, refused, four) == "此按钮已失效。"


async def test_the_evaluator_reaches_nothing_else(
    bot: WorkledgerApplication, driver: EmulatorDriver, bureau: Bureau
) -> None:
    payload = await _invite(driver, bureau)
    listing = await say(driver, EVALUATOR, f"/start {payload}")
    evaluator_id = int(buttons(listing)["Su Yi, Officer"].split(":")[1])
    for command in ("/score", "/results", "/thirdparty", "/review", "/me", "/self"):
        assert (await say(driver, EVALUATOR, command))["text"].startswith(NOT_LINKED)
    assert (await say(driver, EVALUATOR, "Closed 3 cases today"))["text"].startswith(NOT_LINKED)
    help_text = (await say(driver, EVALUATOR, "/help"))["text"]
    assert "/start" in help_text and "/score" not in help_text and "/thirdparty" not in help_text
    # Other kinds of button are refused as they are for any stranger.
    for forged in (ResultsOverview(1, 0).pack(), ReviewOpen("2026-11", bureau.ids["E211"]).pack()):
        assert (await answer_to_press(driver, EVALUATOR, listing, forged)).startswith(NOT_LINKED)
    # Their own kind, forged outside their part: a person of another department, an
    # indicator third parties do not rate, a rating off the scale, another evaluator.
    for forged in (
        ThirdPartyOpen(evaluator_id, bureau.ids["E300"]).pack(),
        ThirdPartyRate(evaluator_id, bureau.ids["E300"], "enforcement_compliance", 5).pack(),
        ThirdPartyRate(evaluator_id, bureau.ids["E211"], "cases_handled", 5).pack(),
        ThirdPartyRate(evaluator_id, bureau.ids["E211"], "enforcement_compliance", 6).pack(),
        ThirdPartyRate(evaluator_id + 1, bureau.ids["E211"], "enforcement_compliance", 5).pack(),
    ):
        assert await answer_to_press(driver, EVALUATOR, listing, forged) == INVALID
    async with bot.bot_data.database.uow() as uow:
        assert list(await uow.session.scalars(select(Rating))) == []

    # HR sees completion, not answers, and revokes; the evaluator is refused from then on.
    rate = ThirdPartyRate(evaluator_id, bureau.ids["E211"], "enforcement_compliance", 3).pack()
    assert await answer_to_press(driver, EVALUATOR, listing, rate) == "Saved."
    overview = await say(driver, bureau.hr, "/thirdparty 2026-11")
    assert (
        "Zhang San (City Law Firm): Enforcement Bureau; evaluating; rated 1 of 1"
        in (overview["text"])
    )
    _, confirm = await press_for_edit(
        driver, bureau.hr, overview, buttons(overview)["Revoke Zhang San"]
    )
    assert confirm["text"].startswith("Revoke Zhang San (City Law Firm)?")
    _, done = await press_for_edit(driver, bureau.hr, confirm, buttons(confirm)["Revoke"])
    assert done["text"] == "Revoked. 1 rating was withdrawn."
    refused = await answer_to_press(driver, EVALUATOR, listing, rate)
    assert refused == "This evaluation has been withdrawn by the HR office."
    gone = await say(driver, EVALUATOR, f"/start {payload}")
    assert gone["text"] == "This evaluation has been withdrawn by the HR office."
    async with bot.bot_data.database.uow() as uow:
        assert list(await uow.session.scalars(select(Rating))) == []
        actions = list(
            await uow.session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.action.like("third_party.%"))
                .order_by(AuditEvent.id)
            )
        )
    assert actions == [
        "third_party.drafted",
        "third_party.invited",
        "third_party.bound",
        "third_party.rated",
        "third_party.revoked",
    ]
