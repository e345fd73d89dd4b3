"""The statistics' aggregates on hand-made data (see ``stats_data``), on both engines."""

from __future__ import annotations

import dataclasses

import pytest

from assessment.people import StaffMember
from assessment.stats import AppealCount, Stats, StatsError, organisation_stats
from config.policy import load_policy
from storage.engine import Database
from storage.enums import Role
from tests.e2e.people import seed

from .stats_data import TODAY, ZONE, seed_stats

POLICY = load_policy()


async def _stats_of(db: Database, employee_no: str) -> Stats | StatsError:
    async with db.uow() as uow:
        [staff] = await uow.staff.by_employee_nos([employee_no])
        member = StaffMember.of(staff)
        return await organisation_stats(uow, member, POLICY, today=TODAY, zone=ZONE)


@pytest.fixture
async def seeded(db: Database) -> Database:
    await seed(db)
    await seed_stats(db)
    return db


async def test_hr_sees_every_department_with_its_figures(seeded: Database) -> None:
    stats = await _stats_of(seeded, "E001")
    assert isinstance(stats, Stats)
    assert stats.whole_organisation
    assert stats.period.key == "2026-11"
    assert stats.results_period_key == "2026-10"
    hr, office = stats.departments
    assert (hr.name, hr.people, office.name, office.people) == (
        "Human Resources", 1, "Permits Office", 4,
    )  # fmt: skip
    assert office.period_rate == pytest.approx(5 / 20)
    assert hr.period_rate == pytest.approx(1 / 5)
    # The year so far has 209 workdays; the office logged only in November.
    assert office.year_rate == pytest.approx(5 / (4 * 209))
    assert (office.backlog, office.decided) == (2, 5)
    # Su Yi 1, 1, 2, 4 h and Ma Qing 3 h: the middle one.
    assert office.median_seconds == pytest.approx(2 * 3600)
    assert (hr.backlog, hr.decided, hr.median_seconds) == (0, 1, pytest.approx(1800))
    assert office.grades is not None and hr.grades is not None
    assert office.grades.counts == {"excellent": 1, "good": 3, "competent": 1}
    assert (office.grades.people, office.grades.top_cap) == (5, 1)
    assert hr.grades.counts == {"excellent": 1} and hr.grades.top_cap == 0
    assert (office.bonus_units, hr.bonus_units) == (280, 100)
    assert stats.appeals == [
        AppealCount("appeal", "open", 1),
        AppealCount("review", "changed", 1),
        AppealCount("review", "upheld", 1),
    ]


async def test_a_supervisor_sees_only_their_reports(seeded: Database) -> None:
    stats = await _stats_of(seeded, "E010")
    assert isinstance(stats, Stats)
    assert not stats.whole_organisation
    [office] = stats.departments
    assert (office.name, office.people) == ("Permits Office", 2)
    assert office.period_rate == pytest.approx(4 / 10)
    assert (office.backlog, office.decided) == (1, 5)
    # Su Yi 1, 2, 1, 4 h and Ma Qing 3 h.
    assert office.median_seconds == pytest.approx(2 * 3600)
    assert office.grades is not None
    assert office.grades.counts == {"excellent": 1, "good": 1}
    assert office.grades.top_cap is None, "the quota is the department's, not theirs"
    assert office.bonus_units == 150
    assert stats.appeals == [
        AppealCount("appeal", "open", 1),
        AppealCount("review", "changed", 1),
    ], "HR's own review is not one of theirs"


async def test_an_even_count_takes_the_mean_of_the_middle_two(seeded: Database) -> None:
    async with seeded.uow() as uow:
        [ma] = await uow.staff.by_employee_nos(["E100"])
        ma.supervisor_id = None  # moved to another team: no longer counted
        await uow.commit()
    stats = await _stats_of(seeded, "E010")
    assert isinstance(stats, Stats)
    [office] = stats.departments
    # Su Yi alone: 1, 1, 2, 4 h.
    assert office.decided == 4
    assert office.median_seconds == pytest.approx(1.5 * 3600)


async def test_staff_are_refused_and_a_supervisor_without_people_sees_nothing(
    seeded: Database,
) -> None:
    assert await _stats_of(seeded, "E011") is StatsError.NOT_PERMITTED
    async with seeded.uow() as uow:
        [su] = await uow.staff.by_employee_nos(["E011"])
        member = dataclasses.replace(StaffMember.of(su), roles=su.roles | Role.SUPERVISOR)
        found = await organisation_stats(uow, member, POLICY, today=TODAY, zone=ZONE)
    assert found is StatsError.NOBODY
