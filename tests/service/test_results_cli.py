"""``workledger results YYYY-MM``: what an administrator or a script reads, and exit statuses."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.cli import main
from storage.engine import Database
from storage.enums import RaterKind
from storage.models import PeriodReview, PeriodScore
from tests.service.test_period_scoring import NOW, POLICY, entry, org, person, rating

ROOT = Path(__file__).resolve().parents[2]
CLOCK = "2026-12-10T10:00:00+08:00"  # November in calibration


@pytest.fixture
def environment(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    for key in list(os.environ):
        if key.startswith("WORKLEDGER_") and key != "WORKLEDGER_TEST_POSTGRES_URL":
            monkeypatch.delenv(key)
    monkeypatch.setenv("WORKLEDGER_DATABASE_URL", database_url)
    monkeypatch.setenv("WORKLEDGER_LANGUAGE", "en")
    monkeypatch.setenv("WORKLEDGER_CLOCK_START", CLOCK)
    return database_url


def _seed(url: str) -> dict[str, int]:
    async def seed() -> dict[str, int]:
        database = Database(url)
        try:
            async with database.uow() as uow:
                o = await org(uow)
                people = {f"A{n}": await person(uow, o, f"A{n}") for n in range(6)}
                people["X1"] = await person(uow, o, "X1")
                for n, no in enumerate(sorted(people)):
                    uow.session.add_all(
                        [
                            entry(people[no], date(2026, 11, 2), "cases_handled", str(50 - n)),
                            entry(people[no], date(2026, 11, 3), "case_closure_rate", "100"),
                            rating(o, people[no], "enforcement_compliance",
                                   RaterKind.SUPERVISOR, "b", 5),
                        ]
                    )  # fmt: skip
                await uow.session.execute(
                    update(PeriodReview)
                    .where(PeriodReview.staff_id == people["A0"])
                    .values(signed_off_at=NOW, signed_off_by_id=o.boss)
                )
                await uow.session.execute(
                    update(PeriodReview)
                    .where(PeriodReview.staff_id == people["X1"])
                    .values(excluded_at=NOW, excluded_reason="Long leave")
                )
                await uow.commit()
                return people
        finally:
            await database.dispose()

    return asyncio.run(seed())


def _calibrate(url: str, staff_id: int, grade_id: str) -> None:
    async def calibrate() -> None:
        database = Database(url)
        try:
            async with database.uow() as uow:
                await uow.session.execute(
                    update(PeriodScore)
                    .where(PeriodScore.staff_id == staff_id)
                    .values(calibrated_grade_id=grade_id, calibration_reason="Flood response")
                )
                await uow.commit()
        finally:
            await database.dispose()

    asyncio.run(calibrate())


def test_results_print_each_persons_stage_score_and_grade(
    environment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    people = _seed(environment)
    assert main(["results", "2026-11"]) == 0
    before = capsys.readouterr().out.splitlines()
    assert before[0] == "Results of 2026-11 (2026-11-01 to 2026-11-30): period in calibration"
    assert before[1] == "employee no\tname\tdepartment\tstage\tscore\tgrade"
    rows = {line.split("\t")[0]: line.split("\t") for line in before[2:9]}
    assert rows["A0"][3:] == ["signed off", "-", "-"]  # nothing computed yet
    assert rows["A1"][3] == "not started"
    assert rows["X1"][3] == "excluded by HR"
    assert before[9] == "1 person has no review for this period and is not scored."

    assert main(["results", "2026-11", "--compute"]) == 0
    computed = capsys.readouterr().out.splitlines()
    assert computed[1] == "6 scores computed and stored."
    rows = {line.split("\t")[0]: line.split("\t") for line in computed[3:10]}
    assert rows["X1"][4:] == ["-", "-"]  # excluded: not scored
    assert all(rows[f"A{n}"][4] != "-" for n in range(6))

    assert main(["results", "2026-11", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["period"], document["stage"], document["published"]) == (
        "2026-11",
        "calibration",
        False,
    )
    assert document["without_review"] == 1
    by_no = {p["employee_no"]: p for p in document["people"]}
    assert by_no["A0"]["stage"] == "signed_off"
    top = POLICY.top_grade.id
    # Six people in the department: one top-grade place at most (20%, rounded down).
    assert sum(p["grade"] == top for p in document["people"]) <= 1
    capped = next(p for p in document["people"] if p["grade_by_score"] == top != p["grade"])
    _calibrate(environment, people[capped["employee_no"]], top)

    assert main(["results", "2026-11", "--json"]) == 0
    again = {p["employee_no"]: p for p in json.loads(capsys.readouterr().out)["people"]}
    assert again[capped["employee_no"]]["grade"] == top
    assert again[capped["employee_no"]]["calibrated_grade"] == top
    assert again[capped["employee_no"]]["computed_grade"] == capped["grade"]
    assert main(["results", "2026-11"]) == 0
    text = capsys.readouterr().out
    assert "Excellent (calibrated; computed: Good)" in text


def test_a_bad_period_key_is_refused(environment: str, capsys: pytest.CaptureFixture[str]) -> None:
    for key in ("2026-13", "November", "2026-Q4"):  # months only in the default policy
        assert main(["results", key]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"workledger: {key} is not a period: give a month as YYYY-MM")


def test_a_missing_or_out_of_date_store_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WORKLEDGER_LANGUAGE", "en")
    missing = tmp_path / "nowhere.db"
    monkeypatch.setenv("WORKLEDGER_DATABASE_URL", f"sqlite+aiosqlite:///{missing}")
    assert main(["results", "2026-11"]) == 2
    assert f"there is no store at {missing}" in capsys.readouterr().err
    assert not missing.exists()
    stale = tmp_path / "stale.db"
    sqlite3.connect(stale).close()
    monkeypatch.setenv("WORKLEDGER_DATABASE_URL", f"sqlite+aiosqlite:///{stale}")
    assert main(["results", "2026-11", "--compute"]) == 2
    assert "run `workledger db upgrade` first" in capsys.readouterr().err


def test_results_as_a_real_process(environment: str) -> None:
    _seed(environment)
    env = {k: v for k, v in os.environ.items() if k != "WORKLEDGER_TEST_POSTGRES_URL"}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "results", "2026-11", "--json", "--compute"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["computed"] == {"scored": 6, "published": False, "unscorable": 0, "removed": 0}
    assert sorted(p["employee_no"] for p in document["people"]) == [
        "A0", "A1", "A2", "A3", "A4", "A5", "X1",
    ]  # fmt: skip
