"""The annual roll-up (/annual) and the career record (/record), end to end.

The bot's clock stands on 11 January 2027. The year 2026 has twelve published months.
Under the default policy (annual 优秀 for at most 20% of those graded, counted down; six
published months needed; Incompetent in a month bars the annual top grade):

- Su Yi (E011) scores 95 every month, and was Excellent in 2024 and 2025: Excellent
  again, her third in a row (merit) and her second (promotion);
- Sun Li (E010) scores 96, but HR calibrated his March to Incompetent: barred from
  the top grade, so Competent;
- Ma Qing (E100) scores 50 with citizen satisfaction at 40 every month, and was
  Incompetent in 2025: Incompetent again (dismissal review) and a training need;
- Tang Wen (E101) 80 and Hu Rong (E001, HR) 75: Competent; Lou Gone (E900) has only
  three months: not graded.

Five graded: one may be Excellent. The flags reach HR, privately, and nobody else.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from assessment.scoring import Breakdown, IndicatorPart, PointsTally
from bot.emulator import EmulatorDriver
from handlers.context import WorkledgerApplication
from storage.models import (
    AnnualResult,
    AnnualRun,
    AssessmentPeriod,
    AuditEvent,
    HonourAward,
    PeriodScore,
    ScorePoint,
    Staff,
)

from .chat import answer_to_press, buttons, introduce, say, stop_timed_jobs
from .conftest import eventually
from .people import Organisation, seed

pytestmark = pytest.mark.e2e

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2027, 1, 11, 10, 0, tzinfo=ZONE)
NOT_PERMITTED = "Sorry, you do not have permission to do that."
FORMULA_REASON = '=HYPERLINK("http://x")'


def _breakdown(score: Decimal, satisfaction: Decimal | None) -> dict[str, object]:
    part = IndicatorPart(
        indicator_id="citizen_satisfaction",
        kind="quantitative",
        common=False,
        aggregate="mean",
        points=Decimal(1),
        sample_size=1,
        raw=satisfaction,
        score=satisfaction,
        weight=Decimal("0.3"),
        effective_weight=Decimal(1),
    )
    zero = Decimal(0)
    return Breakdown(
        post_type="service",
        indicators=(part,),
        base=score,
        points=(),
        tally=PointsTally(zero, zero, Decimal(10), Decimal(20)),
        total=score,
        value=score,
        rounding=(Decimal("0.01"), "half_up"),
        misconduct=False,
    ).to_json()


async def _seed_year(bot: WorkledgerApplication) -> None:
    """Twelve published months of 2026, and the stored annual results of 2024 and 2025."""
    database = bot.bot_data.database
    async with database.uow() as uow:
        people = {s.employee_no: s for s in await uow.staff.all()}
        published = datetime(2026, 12, 31, tzinfo=UTC)
        for number in range(1, 13):
            starts = date(2026, number, 1)
            ends = date(2027, 1, 1) if number == 12 else date(2026, number + 1, 1)
            period = AssessmentPeriod(
                key=f"2026-{number:02d}",
                starts_on=starts,
                ends_on=date.fromordinal(ends.toordinal() - 1),
                published_at=published,
            )
            uow.session.add(period)
            await uow.session.flush()
            months: dict[str, tuple[int, str, str | None, Decimal | None]] = {
                "E011": (95, "excellent", None, Decimal(90)),
                "E010": (96, "excellent", "incompetent" if number == 3 else None, None),
                "E100": (50, "incompetent", None, Decimal(40)),
                "E101": (80, "good", None, None),
                "E001": (75, "competent", None, None),
            }
            if number <= 3:
                months["E900"] = (99, "excellent", None, None)
            for employee_no, (score, grade, calibrated, satisfaction) in months.items():
                staff = people[employee_no]
                uow.session.add(
                    PeriodScore(
                        period_id=period.id,
                        staff_id=staff.id,
                        department_id=staff.department_id,
                        score=Decimal(score),
                        grade_id=grade,
                        by_score_grade_id=grade,
                        calibrated_grade_id=calibrated,
                        calibration_reason="Serious error in March" if calibrated else None,
                        breakdown=_breakdown(Decimal(score), satisfaction),
                        published_at=published,
                    )
                )
            if number == 11:
                su = people["E011"]
                uow.session.add_all(
                    [
                        ScorePoint(period_id=period.id, staff_id=su.id, author_id=su.id,
                                   amount=Decimal(2), reason="Covered the counter"),
                        ScorePoint(period_id=period.id, staff_id=su.id, author_id=su.id,
                                   amount=Decimal(-1), reason=FORMULA_REASON),
                    ]
                )  # fmt: skip
        runs = {year: AnnualRun(year=year, state="current") for year in (2024, 2025)}
        uow.session.add_all(runs.values())
        await uow.session.flush()
        for year, employee_no, grade in [
            (2024, "E011", "excellent"),
            (2025, "E011", "excellent"),
            (2025, "E100", "incompetent"),
        ]:
            staff = people[employee_no]
            uow.session.add(
                AnnualResult(run_id=runs[year].id, year=year, staff_id=staff.id,
                             department_id=staff.department_id,
                             periods=12, score=Decimal(90), by_score_grade_id=grade,
                             grade_id=grade, computed_at=published)
            )  # fmt: skip
        await uow.commit()


@pytest.fixture
async def org(bot: WorkledgerApplication, driver: EmulatorDriver) -> Organisation:
    organisation = await seed(bot.bot_data.database)
    stop_timed_jobs(bot)
    bot.bot_data.clock.set(NOW, frozen=True)
    await introduce(driver, organisation.hr, organisation.supervisor, organisation.staff)
    await _seed_year(bot)
    return organisation


async def _annual_grades(bot: WorkledgerApplication, year: int) -> dict[str, AnnualResult]:
    async with bot.bot_data.database.uow() as uow:
        rows = await uow.session.execute(
            select(Staff.employee_no, AnnualResult)
            .join(Staff, Staff.id == AnnualResult.staff_id)
            .where(AnnualResult.year == year)
        )
        return {number: result for number, result in rows}


async def test_the_roll_up_grades_the_year_and_tells_hr_alone_its_flags(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    # Not for staff, and the wider share is not HR's to use.
    assert (await say(driver, org.staff, "/annual 2026"))["text"] == NOT_PERMITTED
    assert (await say(driver, org.supervisor, "/annual 2026"))["text"] == NOT_PERMITTED
    wider = await say(driver, org.hr, "/annual 2026 wider")
    assert wider["text"] == "Only an administrator can use the wider top-grade share."
    assert (await say(driver, org.hr, "/annual 2031"))["text"] == (
        "No routine results of that year are published yet."
    )
    staff_before = len(await driver.messages(org.staff.id))
    supervisor_before = len(await driver.messages(org.supervisor.id))

    # The reply, and HR's report through the outbox: in either order.
    before = (await driver.messages(org.hr.id))[-1]["message_id"]
    await driver.send_text(org.hr, "/annual 2026")
    both = await driver.wait_for_message(org.hr.id, count=2, since_message_id=before, timeout=30)
    [reply] = [m for m in both if m["text"].startswith("The annual roll-up of")]
    [report] = [m for m in both if m is not reply]
    assert reply["text"] == (
        "The annual roll-up of 2026 is done: 6 people, 5 graded, 2 flagged. "
        "HR receives the flags privately."
    )
    assert report["text"] == (
        "Annual roll-up 2026: 6 people, 5 graded (with the ordinary top-grade share).\n"
        "\n"
        "Merit (3 consecutive years Excellent):\n"
        "• E011 Su Yi, Permits Office\n"
        "\n"
        "Dismissal review (2 consecutive years Incompetent):\n"
        "• E100 Ma Qing, Permits Office\n"
        "\n"
        "Eligible for rank promotion:\n"
        "• E011 Su Yi, Permits Office\n"
        "\n"
        "Training needs:\n"
        "• E100 Ma Qing, Permits Office: Service skills\n"
        "\n"
        "These flags are for HR only: do not forward them."
    )

    grades = await _annual_grades(bot, 2026)
    assert {number: result.grade_id for number, result in grades.items()} == {
        "E011": "excellent",
        "E010": "competent",  # 96, but barred by the calibrated March
        "E100": "incompetent",
        "E101": "competent",
        "E001": "competent",
        "E900": None,  # three months only
    }
    assert grades["E010"].by_score_grade_id == "excellent"
    assert grades["E010"].barred_by == ["2026-03"]
    assert grades["E011"].flags == ["merit", "promotion"]
    assert grades["E100"].flags == ["dismissal_review", "training"]
    assert grades["E100"].trainings == ["service_skills"]
    assert grades["E900"].periods == 3

    # Nothing reached the people flagged, their colleagues or their supervisor.
    assert len(await driver.messages(org.staff.id)) == staff_before
    assert len(await driver.messages(org.supervisor.id)) == supervisor_before
    async with bot.bot_data.database.uow() as uow:
        [event] = await uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "annual.rolled_up")
        )
        assert event.details == {"people": 6, "graded": 5, "flagged": 2, "wider": False}

    # Run again: recomputed from the same facts, the year's rows replaced, not added.
    again = await say(driver, org.hr, "/annual 2026")
    assert again["text"].startswith("The annual roll-up of 2026 is done: 6 people")
    async with bot.bot_data.database.uow() as uow:
        count = await uow.session.scalar(
            select(func.count()).select_from(AnnualResult).where(AnnualResult.year == 2026)
        )
    assert count == 6
    assert (await _annual_grades(bot, 2026))["E011"].flags == ["merit", "promotion"]

    # While another roll-up of the year runs (its claim stands), HR is told so, and the
    # year's result stays as it was.
    async with bot.bot_data.database.uow() as uow:
        uow.session.add(AnnualRun(year=2026, state="running", started_at=NOW))
        await uow.commit()
    refused = await say(driver, org.hr, "/annual 2026")
    assert refused["text"] == (
        "A roll-up of that year is running already; its result replaces the year's when "
        "it is done."
    )
    assert (await _annual_grades(bot, 2026))["E011"].flags == ["merit", "promotion"]


async def test_the_record_shows_ones_own_and_hr_sees_and_exports_anyones(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    await say(driver, org.hr, "/annual 2026")
    await driver.wait_for_message(org.hr.id)  # the report
    awarded = await say(driver, org.hr, "/honour E011 service_star Kind to every citizen")
    assert awarded["text"] == "Service Star is awarded to Su Yi (E011) and is in their record."
    assert (await say(driver, org.staff, "/honour E011 service_star Me"))["text"] == NOT_PERMITTED
    bad = await say(driver, org.hr, "/honour E011 gold_medal For everything")
    assert bad["text"] == "The policy has no such honour."
    trained = await say(driver, org.hr, "/training E100 service_skills Two-day window course")
    assert trained["text"] == "Service skills is recorded for Ma Qing (E100) in their record."
    assert (await say(driver, org.hr, "/training E100 juggling Fun"))["text"] == (
        "The training catalogue has no such training."
    )
    assert (await say(driver, org.staff, "/training E011 service_skills Me"))["text"] == (
        NOT_PERMITTED
    )

    own_message = await say(driver, org.staff, "/record")
    own = own_message["text"]
    assert own.startswith("Career record: Su Yi (E011), Permits Office\n\nAnnual results:\n")
    assert "• 2026: Excellent (score 95, 12 routine results)" in own
    assert "• 2025: Excellent (score 90, 12 routine results)" in own
    assert "• December 2026: Excellent (95)" in own
    assert "• November 2026: +2 Covered the counter" in own
    assert f"• November 2026: -1 {FORMULA_REASON}" in own
    assert "• Service Star, 2027-01-11: Kind to every citizen" in own
    assert "HR flags" not in own, "merit and promotion are HR's to know"
    assert "Sun Li" not in own and "Ma Qing" not in own

    # Someone else's record: refused, even to their supervisor.
    assert (await say(driver, org.staff, "/record E010"))["text"] == (
        "You can see only your own record."
    )
    assert (await say(driver, org.supervisor, "/record E011"))["text"] == (
        "You can see only your own record."
    )
    ma = (await say(driver, org.supervisor, "/record"))["text"]
    assert ma.startswith("Career record: Sun Li (E010)")
    assert "• 2026: Competent (score 96, 12 routine results)" in ma
    assert "• March 2026: Incompetent (96)" in ma, "the calibrated grade stands"

    # In a group: a pointer to the private chat, nothing of the record.
    await driver.create_group(-100800, "Permits Office")
    await driver.send_text(org.staff, "/record", chat_id=-100800)
    [pointer] = await driver.wait_for_message(-100800)
    assert pointer["text"].startswith("To keep personal data private")

    # HR: anyone's record, with the HR flags, and its XLSX.
    card = await say(driver, org.hr, "/record E011")
    assert "HR flags: merit, eligible for promotion" in card["text"]
    assert list(buttons(card)) == ["Export as XLSX"]
    assert (await say(driver, org.hr, "/record E999"))["text"] == (
        "Nobody on staff has that employee number."
    )
    ma_qing = (await say(driver, org.hr, "/record E100"))["text"]
    assert "Training need: Service skills" in ma_qing
    assert "HR flags: dismissal review" in ma_qing
    assert "Trainings completed:\n• Service skills, 2027-01-11: Two-day window course" in ma_qing
    assert "Trainings completed:\nnothing yet" in card["text"]

    await driver.press(org.hr, card["message_id"], buttons(card)["Export as XLSX"])

    async def document() -> dict[str, object] | None:
        return next((m for m in await driver.messages(org.hr.id) if m.get("document")), None)

    sent = await eventually(document, within=10)
    file_id = sent["document"]["file_id"]  # type: ignore[index]
    book = load_workbook(io.BytesIO(await driver.file_bytes(file_id)))
    assert book.sheetnames == [
        "Person", "Annual results", "Routine results", "Points", "Key tasks", "Trainings",
        "Honours",
    ]  # fmt: skip
    years = list(book["Annual results"].iter_rows(values_only=True))
    assert years[0] == (
        "Year", "Annual grade", "Score", "Routine results", "Training need", "HR flags"
    )  # fmt: skip
    assert years[1] == (2026, "Excellent", 95, 12, None, "merit, eligible for promotion")
    assert book["Annual results"].freeze_panes == "A2"
    points = book["Points"]
    rows = list(points.iter_rows(values_only=True))
    assert ("2026-11", 2, "Covered the counter") in rows
    formula = next(cell for row in points.iter_rows(min_row=2) for cell in row
                   if isinstance(cell.value, str) and "HYPERLINK" in cell.value)  # fmt: skip
    assert formula.data_type == "s" and formula.value == FORMULA_REASON and formula.quotePrefix
    assert ("2026-11", -1, FORMULA_REASON) in rows, "a number stays a number"
    honours = list(book["Honours"].iter_rows(values_only=True))
    assert honours[1][0] == "Service Star" and honours[1][2] == "Kind to every citizen"
    assert honours[1][1] == datetime(2027, 1, 11)

    # The export pressed by someone not HR (forged): refused, nothing sent.
    export = buttons(card)["Export as XLSX"]
    assert await answer_to_press(driver, org.staff, own_message, export) == NOT_PERMITTED
    assert not any(m.get("document") for m in await driver.messages(org.staff.id))
    async with bot.bot_data.database.uow() as uow:
        [award] = await uow.session.scalars(select(HonourAward))
        [event] = await uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "honour.awarded")
        )
        [training] = await uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "training.recorded")
        )
    assert award.citation == "Kind to every citizen"
    assert event.details["honour"] == "service_star"
    assert training.details["training"] == "service_skills"
