"""Calibration and publication end to end: /results, the score notice with its chart,
"I have read it" and /score.

The bot's clock stands on 9 December 2026, in November's calibration (the default
policy: supervisor review due on the 7th). ``store_facts`` below writes each person's
review and approved entries straight into the store; /results and Publish score the
period from them (``assessment.period_scoring.score_period``).
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from sqlalchemy import func, select, update

from assessment import results
from assessment.people import StaffMember
from assessment.period_scoring import score_period
from assessment.periods import ensure_period, parse_key
from bot.emulator import EmulatedUser, EmulatorDriver
from handlers.callbacks import ResultsGrade
from handlers.context import WorkledgerApplication
from handlers.results import publish_scheduled
from storage.enums import EntryStatus
from storage.models import (
    AssessmentPeriod,
    AuditEvent,
    OutboxMessage,
    PeriodReview,
    PeriodScore,
    ScorePoint,
    Staff,
    WorkEntry,
)

from .chat import Message, answer_to_press, buttons, current, introduce, press
from .conftest import eventually
from .people import Organisation, seed

pytestmark = pytest.mark.e2e

ZONE = ZoneInfo("Asia/Shanghai")
IN_CALIBRATION = datetime(2026, 12, 9, 10, 0, tzinfo=ZONE)
NOT_PERMITTED = "Sorry, you do not have permission to do that."


@dataclass(frozen=True)
class Given:
    """One person's period: reviewed (signed off) or not, and approved entries on which
    every counted indicator of a clerk scores ``level``, with an optional bonus."""

    employee_no: str
    level: int
    signed_off: bool = True
    bonus: Decimal | None = None


def _entries(staff_id: int, day: date, level: int) -> list[WorkEntry]:
    quantities = {
        "on_time_completion": Decimal(level),
        "service_innovations": Decimal(level) / 5,
        "permits_processed": Decimal(level) * 2,
    }
    return [
        WorkEntry(
            staff_id=staff_id,
            work_date=day,
            text=f"{indicator} for the month",
            indicator_id=indicator,
            quantity=quantity,
            status=EntryStatus.APPROVED,
        )
        for indicator, quantity in quantities.items()
    ]


async def store_facts(
    bot: WorkledgerApplication, key: str, people: list[Given], *, published: bool = False
) -> None:
    """Reviews, approved entries and points of ``people`` for period ``key``: the facts
    the period's scoring reads. ``published``: that period is scored and published, as if
    long ago."""
    data = bot.bot_data
    period = parse_key(key, data.policy)
    assert period is not None
    now = data.clock.now()
    async with data.database.uow() as uow:
        period_id = await ensure_period(uow, period, now=now)
        found = {
            s.employee_no: s
            for s in await uow.staff.by_employee_nos([g.employee_no for g in people])
        }
        for given in people:
            staff = found[given.employee_no]
            uow.session.add(
                PeriodReview(
                    period_id=period_id,
                    staff_id=staff.id,
                    post_type="service",
                    department_id=staff.department_id,
                    reviewer_id=staff.supervisor_id,
                    signed_off_at=now if given.signed_off else None,
                    signed_off_by_id=staff.supervisor_id if given.signed_off else None,
                )
            )
            uow.session.add_all(
                _entries(staff.id, period.starts_on + timedelta(days=9), given.level)
            )
            if given.bonus:
                uow.session.add(
                    ScorePoint(
                        period_id=period_id,
                        staff_id=staff.id,
                        author_id=staff.supervisor_id or staff.id,
                        amount=given.bonus,
                        reason="Covered the counter during the flu weeks",
                    )
                )
        await uow.commit()
    if published:
        await score_period(data.database, data.policy, period, now=now)
        async with data.database.uow() as uow:
            await uow.session.execute(
                update(AssessmentPeriod)
                .where(AssessmentPeriod.id == period_id)
                .values(published_at=now)
            )
            await uow.session.execute(
                update(PeriodScore)
                .where(PeriodScore.period_id == period_id)
                .values(published_at=now)
            )
            await uow.commit()


@pytest.fixture
async def org(bot: WorkledgerApplication, driver: EmulatorDriver) -> Organisation:
    organisation = await seed(bot.bot_data.database)
    await introduce(driver, organisation.hr, organisation.supervisor, organisation.staff)
    bot.bot_data.clock.set(IN_CALIBRATION, frozen=True)
    return organisation


async def say(
    driver: EmulatorDriver, user: EmulatedUser, text: str, *, within: float = 5.0
) -> Message:
    await driver.send_text(user, text)
    [reply] = await driver.wait_for_message(user.id, timeout=within)
    return reply


async def _results(driver: EmulatorDriver, org: Organisation) -> Message:
    return await say(driver, org.hr, "/results")


async def _person_card(
    driver: EmulatorDriver, org: Organisation, overview: Message, label: str
) -> Message:
    department = await press(driver, org.hr, overview, "Permits Office")
    return await press(driver, org.hr, department, label)


async def _answer(driver: EmulatorDriver, user: EmulatedUser, message: Message, label: str) -> str:
    """Press a button whose press is answered with an alert; the alert's text."""
    data = next(d for text, d in buttons(message).items() if text.startswith(label))
    update = await driver.press(user, message["message_id"], data)
    [reply] = await eventually(lambda: driver.callback_answers(update["callback_query"]["id"]))
    return str(reply.get("text"))


async def _audit(bot: WorkledgerApplication, action: str) -> list[AuditEvent]:
    async with bot.bot_data.database.uow() as uow:
        return list(
            await uow.session.scalars(select(AuditEvent).where(AuditEvent.action == action))
        )


async def _score_of(bot: WorkledgerApplication, employee_no: str) -> PeriodScore:
    async with bot.bot_data.database.uow() as uow:
        found = await uow.session.scalar(
            select(PeriodScore)
            .join(Staff, Staff.id == PeriodScore.staff_id)
            .where(Staff.employee_no == employee_no)
            .order_by(PeriodScore.period_id.desc())
        )
    assert found is not None
    return found


NOVEMBER = [
    Given("E001", 78),
    Given("E010", 88),
    Given("E011", 85, bonus=Decimal(2)),
    Given("E101", 72),
    # Ma Qing (E100): nobody has started her check, so she has no review and no score.
]


async def test_publication_waits_for_reviews_or_exclusions_and_grades_stay_in_the_quota(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    await store_facts(bot, "2026-11", NOVEMBER)
    overview = await _results(driver, org)
    text = overview["text"]
    assert text.startswith("Results of November 2026 · calibration")
    assert "5 people assessed · not reviewed yet: 1 · excluded: 0" in text
    # Permits Office: Sun Li 88, Su Yi 87 (85 + 2), Tang Wen 72, Ma Qing without a score.
    assert "Permits Office: 4 people · mean 82.33 · Good 2 · Competent 1" in text
    assert "  Sun Li: 2 · mean 87 (+4.67) · Good 1" in text, "Su Yi, and Ma Qing unscored"
    assert "  no supervisor: 2 · mean 80 (−2.33) · Good 1 · Competent 1" in text

    # Publish refused while Ma Qing is neither reviewed nor excluded, naming her.
    refusal = await _answer(driver, org.hr, overview, "Publish")
    assert refusal.startswith("Not published: 1 person is not reviewed yet")
    [told] = await driver.wait_for_message(org.hr.id)
    assert "Ma Qing (E100)" in told["text"]

    # Calibration beyond the quota: 20% of four, rounded down, leaves no top grade.
    card = await _person_card(driver, org, overview, "E011 Su Yi · 87 · Good")
    assert "Grade by score: Good; given under the quota: Good" in card["text"]
    await driver.press(org.hr, card["message_id"], buttons(card)["Excellent"])
    [question] = await driver.wait_for_message(org.hr.id)
    assert question["text"].startswith("Why give Su Yi (E011) the grade Excellent?")
    refused = await say(driver, org.hr, "Outstanding month at the counter")
    assert refused["text"].startswith("Refused: that grade would break the quota.")
    assert "At most 0 of these people may have Excellent; that would make 1." in refused["text"]
    assert (await _score_of(bot, "E011")).calibrated_grade_id is None

    # Within the quota: both grades kept, the change audited.
    card = await current(driver, org.hr.id, card["message_id"])
    await driver.press(org.hr, card["message_id"], buttons(card)["Competent"])
    await driver.wait_for_message(org.hr.id)
    done = await say(driver, org.hr, "Two returned entries were later found wrong")
    assert done["text"] == (
        "Su Yi (E011)'s grade is now Competent (given under the quota: Good; both are kept)."
    )
    stored = await _score_of(bot, "E011")
    assert (stored.grade_id, stored.calibrated_grade_id) == ("good", "competent")
    assert stored.calibration_reason == "Two returned entries were later found wrong"
    [event] = await _audit(bot, "score.calibrated")
    assert event.details["employee_no"] == "E011"
    assert event.details["grade_id"] == "good"
    assert event.details["calibrated_grade_id"] == "competent"
    # The card's buttons carried the score's old version: pressed again, refused as stale.
    stale = await _answer(driver, org.hr, card, "✓ Good")
    assert stale.startswith("These results changed since they were shown.")

    # Ma Qing excluded with a reason; then Publish goes through.
    card = await _person_card(driver, org, await _results(driver, org), "E100 Ma Qing")
    await driver.press(org.hr, card["message_id"], buttons(card)["Exclude from publication"])
    await driver.wait_for_message(org.hr.id)
    excluded = await say(driver, org.hr, "On long leave since October")
    assert excluded["text"].startswith("Ma Qing (E100) is excluded from this period's publication")
    [event] = await _audit(bot, "period.excluded")
    assert event.details["reason"] == "On long leave since October"

    overview = await _results(driver, org)
    assert "not reviewed yet: 0 · excluded: 1" in overview["text"]
    before = (await driver.messages(org.hr.id))[-1]["message_id"]
    await driver.press(org.hr, overview["message_id"], buttons(overview)["Publish"])
    replies = await driver.wait_for_message(org.hr.id, count=2, since_message_id=before)
    assert replies[0]["text"] == "November 2026 is published."
    # HR, Sun Li and Su Yi are linked; Tang Wen is not, Ma Qing is excluded.
    assert replies[1]["text"] == "Its notices are on their way to 3 people."
    assert len(await _audit(bot, "period.published")) == 1

    # Published: calibration is refused, on the old card and on a fresh one.
    card = await _person_card(driver, org, await _results(driver, org), "E011 Su Yi")
    assert "Excellent" not in buttons(card), "no grade buttons once published"
    stored = await _score_of(bot, "E011")
    forged = ResultsGrade(stored.period_id, stored.staff_id, stored.version, 0).pack()
    answer = await answer_to_press(driver, org.hr, card, forged)
    assert answer.startswith("That period's results are published")
    assert (await _score_of(bot, "E011")).calibrated_grade_id == "competent"


async def _notice(driver: EmulatorDriver, user: EmulatedUser) -> Message:
    async def arrived() -> Message | None:
        return next((m for m in await driver.messages(user.id) if m.get("photo")), None)

    return await eventually(arrived, within=20)


async def test_the_notice_arrives_privately_with_its_chart_and_is_read(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    async with bot.bot_data.database.uow() as uow:
        await uow.session.execute(
            update(Staff).where(Staff.employee_no == "E010").values(language="zh_Hant")
        )
        await uow.commit()
    await store_facts(bot, "2026-10", [Given("E011", 80)], published=True)
    await store_facts(bot, "2026-11", NOVEMBER)
    card = await _person_card(driver, org, await _results(driver, org), "E100 Ma Qing")
    await driver.press(org.hr, card["message_id"], buttons(card)["Exclude from publication"])
    await driver.wait_for_message(org.hr.id)
    await say(driver, org.hr, "Newly joined")
    overview = await _results(driver, org)
    await driver.press(org.hr, overview["message_id"], buttons(overview)["Publish"])

    notice = await _notice(driver, org.staff)
    caption = notice["caption"]
    assert caption.startswith("Your result for November 2026\nScore: 87\nGrade: Good")
    # Citizen satisfaction is rated (by citizens among others) and nobody rated it: its
    # weight went to the counted indicators.
    assert "• On-time completion: 85 × 42.86% (mean of 1 entry: 85 %)" in caption
    assert "\n+2 points\n  +2: Covered the counter during the flu weeks" in caption
    assert len(caption) <= 1024
    assert "Sun Li" not in caption and "88" not in caption, "nothing about colleagues"
    assert list(buttons(notice)) == ["I have read it", "Ask for review", "Appeal"]
    # Each in their own language: Sun Li reads Traditional Chinese.
    chinese = await _notice(driver, org.supervisor)
    assert chinese["caption"].startswith("您2026年11月的考核結果\n評分：88\n等次：良好")
    assert list(buttons(chinese)) == ["我已閱讀", "申請複核", "申訴"]
    png = await driver.file_bytes(notice["photo"][-1]["file_id"])
    assert png.startswith(b"\x89PNG")
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        assert image.size == (800, 450)

    # Only the person: HR pressing Su Yi's button (forged) records nothing for her.
    hr_copy = next(m for m in await driver.messages(org.hr.id) if m.get("photo"))
    answer = await answer_to_press(driver, org.hr, hr_copy, buttons(notice)["I have read it"])
    assert answer == "Thank you: your reading is recorded.", "HR's own result"
    assert (await _score_of(bot, "E011")).read_at is None, "not Su Yi's"

    read = await press(driver, org.staff, notice, "I have read it")
    assert list(buttons(read)) == ["Ask for review", "Appeal"], "the button goes once pressed"
    assert (await _score_of(bot, "E011")).read_at is not None

    department = await press(driver, org.hr, await _results(driver, org), "Permits Office")
    assert "Read by 1 of 3." in department["text"]
    # Tang Wen has not joined: no notice reached him, so he has not read it either.
    assert "Not read yet (2): Sun Li (E010), Tang Wen (E101)" in department["text"]

    # /score: the latest result and the history, with the chart.
    before = (await driver.messages(org.staff.id))[-1]["message_id"]
    await driver.send_text(org.staff, "/score")
    text, chart = await driver.wait_for_message(org.staff.id, count=2, since_message_id=before)
    assert text["text"].startswith("Your result for November 2026")
    assert "Published results:\nNovember 2026: 87 · Good\nOctober 2026: 80 · Good" in text["text"]
    assert chart.get("photo")

    # Nothing of scores in a group chat: a pointer only.
    await driver.create_group(-100700, "Permits Office")
    await driver.send_text(org.staff, "/score", chat_id=-100700)
    [pointer] = await driver.wait_for_message(-100700)
    assert pointer["text"].startswith("To keep personal data private")
    assert all(not m.get("photo") for m in await driver.messages(-100700))

    # /results is HR's alone.
    assert (await say(driver, org.staff, "/results"))["text"] == NOT_PERMITTED
    refused = await say(driver, org.supervisor, "/results")
    assert refused["text"] == "抱歉，您沒有執行此操作的權限。", "in Sun Li's language"


async def test_a_scheduled_publication_happens_once_at_its_time(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    await store_facts(bot, "2026-11", NOVEMBER)
    card = await _person_card(driver, org, await _results(driver, org), "E100 Ma Qing")
    await driver.press(org.hr, card["message_id"], buttons(card)["Exclude from publication"])
    await driver.wait_for_message(org.hr.id)
    await say(driver, org.hr, "Newly joined")
    overview = await _results(driver, org)
    await driver.press(org.hr, overview["message_id"], buttons(overview)["Publish at a time…"])
    [question] = await driver.wait_for_message(org.hr.id)
    assert question["text"].startswith("When should the results be published?")
    assert (await say(driver, org.hr, "2026-12-09 09:00"))["text"].startswith(
        "That time has passed."
    )
    scheduled = await say(driver, org.hr, "2026-12-09 12:00")
    assert scheduled["text"].startswith("November 2026 will be published at")
    assert "Publication scheduled for" in (await _results(driver, org))["text"]

    data = bot.bot_data
    noon = datetime(2026, 12, 9, 12, 0, tzinfo=ZONE).astimezone(UTC)
    assert await publish_scheduled(data, noon - timedelta(minutes=1)) == []
    assert await _score_of(bot, "E011") and (await _score_of(bot, "E011")).published_at is None
    # Two ticks at once (two processes): published once. (The bot's clock at noon too, so
    # that its sender sends what the ticks queue.)
    data.clock.set(noon, frozen=True)
    first, second = await asyncio.gather(
        publish_scheduled(data, noon), publish_scheduled(data, noon)
    )
    assert sorted([*first, *second]) == ["2026-11"]
    assert await publish_scheduled(data, noon + timedelta(minutes=1)) == []
    assert len(await _audit(bot, "period.published")) == 1
    async with data.database.uow() as uow:
        queued = await uow.session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "score")
        )
    assert queued == 3
    await _notice(driver, org.staff)
    assert (await _score_of(bot, "E011")).published_at is not None


async def test_notices_are_queued_in_batches_once_whoever_queues_them(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    """Batches of two staff ids, two runs at once (two processes), then the job's tick:
    each linked person's notice is queued once, and every published score with it."""
    data = bot.bot_data
    await store_facts(bot, "2026-11", [*NOVEMBER, Given("E100", 70)])
    period = parse_key("2026-11", data.policy)
    assert period is not None
    now = data.clock.now()
    async with data.database.uow() as uow:
        [hr] = await uow.staff.by_employee_nos(["E001"])
    await results.refresh(data.database, period, data.policy, now=now)
    async with data.database.uow() as uow:
        opened = await results.open_period(
            uow, period, data.policy, today=data.clock.today(ZONE), zone=ZONE, now=now
        )
    async with data.database.uow() as uow:
        outcome = await results.publish(
            uow, StaffMember.of(hr), opened.period_id, opened.version, data.policy,
            at=None, today=data.clock.today(ZONE), zone=ZONE, now=now,
        )  # fmt: skip
    assert isinstance(outcome, results.Published)

    runs = await asyncio.gather(
        *(
            results.queue_notices(data.database.uow, opened.period_id, "2026-11", now=now, size=2)
            for _ in range(2)
        )
    )
    assert sum(run or 0 for run in runs) == 3, "HR, Sun Li and Su Yi: the linked ones"
    assert await publish_scheduled(data, now) == []
    async with data.database.uow() as uow:
        keys = list(
            await uow.session.scalars(
                select(OutboxMessage.dedup_key).where(OutboxMessage.kind == "score")
            )
        )
        published = await uow.session.scalar(
            select(func.count())
            .select_from(PeriodScore)
            .where(
                PeriodScore.period_id == opened.period_id, PeriodScore.published_at.is_not(None)
            )
        )
    assert len(keys) == len(set(keys)) == 3
    assert published == 5, "Tang Wen and Ma Qing have not joined: published all the same"


async def test_publication_refused_when_fresh_scores_and_a_calibration_overfill_the_quota(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    """Five people in the Permits Office: one top-grade place, which HR gives Su Yi. Cao
    Lin's period then changes (reopened, an entry approved) and scores 95: the period's
    scoring gives the place to her too, and Publish refuses the two."""
    async with bot.bot_data.database.uow() as uow:
        [boss] = await uow.staff.by_employee_nos(["E010"])
        uow.session.add(
            Staff(employee_no="E020", name="Cao Lin", department_id=boss.department_id,
                  supervisor_id=boss.id)
        )  # fmt: skip
        await uow.commit()
    await store_facts(bot, "2026-11", [*NOVEMBER, Given("E100", 70), Given("E020", 80)])
    card = await _person_card(driver, org, await _results(driver, org), "E011 Su Yi · 87")
    await driver.press(org.hr, card["message_id"], buttons(card)["Excellent"])
    await driver.wait_for_message(org.hr.id)
    done = await say(driver, org.hr, "Ran the counter alone for two weeks")
    assert done["text"].startswith("Su Yi (E011)'s grade is now Excellent")

    async with bot.bot_data.database.uow() as uow:
        [cao] = await uow.staff.by_employee_nos(["E020"])
        uow.session.add_all(_entries(cao.id, date(2026, 11, 20), 110))
        await uow.commit()
    overview = await _results(driver, org)  # scored afresh: Cao Lin reaches Excellent
    refusal = await _answer(driver, org.hr, overview, "Publish")
    assert refusal.startswith("Not published: the grades to publish break the quota.")
    [told] = await driver.wait_for_message(org.hr.id)
    assert "At most 1 of these people may have Excellent; that would make 2." in told["text"]
    assert await _audit(bot, "period.published") == []


async def test_a_scheduled_publication_waits_for_a_review_reopened_meanwhile(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    await store_facts(bot, "2026-11", [*NOVEMBER, Given("E100", 70)])
    overview = await _results(driver, org)
    await driver.press(org.hr, overview["message_id"], buttons(overview)["Publish at a time…"])
    await driver.wait_for_message(org.hr.id)
    assert (await say(driver, org.hr, "2026-12-09 12:00"))["text"].startswith(
        "November 2026 will be published at"
    )
    reopened = await say(driver, org.hr, "/reopen E011 2026-11 Two entries were misdated")
    assert reopened["text"].startswith("November 2026 is reopened for Su Yi (E011)")

    data = bot.bot_data
    noon = datetime(2026, 12, 9, 12, 0, tzinfo=ZONE).astimezone(UTC)
    data.clock.set(noon, frozen=True)
    assert await publish_scheduled(data, noon) == []
    [told] = await driver.wait_for_message(org.hr.id, timeout=10)
    assert told["text"].startswith(
        "The publication of November 2026 scheduled for now did not happen.\n"
        "Not published: 1 person is not reviewed yet and not excluded: Su Yi (E011)."
    )
    assert "Publication scheduled" not in (await _results(driver, org))["text"]
    assert await publish_scheduled(data, noon + timedelta(minutes=1)) == []
    assert await _audit(bot, "period.published") == []
    [refused] = await _audit(bot, "period.publication_refused")
    assert refused.details == {"period": "2026-11", "unreviewed": 1}
