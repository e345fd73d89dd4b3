"""``workledger staff import`` against a real store: what the operator reads, and exit statuses."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from assessment.roster import COLUMNS
from bench.roster_files import csv_file, styled_empty_rows, valid_rows
from bot.roster_cli import EXIT_OK, EXIT_REJECTED, EXIT_STOPPED, EXIT_UNREADABLE, staff_import
from config.policy import Policy, load_policy
from config.settings import Settings
from storage.engine import Database
from storage.enums import StaffStatus
from storage.models import Staff
from storage.repositories.roster import RosterRepository
from tests.faults import fail_once

SAMPLE = Path(__file__).parents[1] / "fixtures" / "roster" / "sample.csv"


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, language="en")


def _people(settings: Settings) -> dict[str, Staff]:
    async def read() -> dict[str, Staff]:
        database = Database(settings.database_url)
        try:
            async with database.uow() as uow:
                return {staff.employee_no: staff for staff in await uow.staff.all()}
        finally:
            await database.dispose()

    return asyncio.run(read())


def _run(
    settings: Settings,
    policy: Policy,
    path: Path,
    *,
    mark_missing_left: bool = False,
    dry_run: bool = False,
) -> int:
    return staff_import(
        settings, policy, path, mark_missing_left=mark_missing_left, dry_run=dry_run
    )


def test_import_prints_a_summary(
    settings: Settings, policy: Policy, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(settings, policy, SAMPLE) == EXIT_OK
    out = capsys.readouterr().out.splitlines()
    assert out[:3] == ["5 people added", "0 people updated", "0 people unchanged"]
    assert "2 departments created: 行政审批科, 綜合執法大隊" in out
    assert "4 posts created" in out
    assert len(_people(settings)) == 5


def test_dry_run_says_nothing_was_written(
    settings: Settings, policy: Policy, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(settings, policy, SAMPLE, dry_run=True) == EXIT_OK
    out = capsys.readouterr().out
    assert out.startswith("Dry run: nothing was written.")
    assert "5 people added" in out
    assert _people(settings) == {}


def test_missing_people_are_listed_and_marked_left_on_request(
    settings: Settings, policy: Policy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(settings, policy, SAMPLE) == EXIT_OK
    smaller = tmp_path / "smaller.csv"
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    smaller.write_text("\n".join(lines[:4]) + "\n", encoding="utf-8")
    capsys.readouterr()

    assert _run(settings, policy, smaller) == EXIT_OK
    out = capsys.readouterr().out
    assert "2 people on the roster are not in the file: E004, E005" in out
    assert "--mark-missing-left" in out
    assert _people(settings)["E004"].status is StaffStatus.SECOND_LINE

    assert _run(settings, policy, smaller, mark_missing_left=True) == EXIT_OK
    out = capsys.readouterr().out
    assert "1 person marked as having left" in out
    # E005 is the only administrator: the command line keeps them too.
    assert "Not marked as having left: Alex Chen (E005), the last administrator on staff." in out
    assert _people(settings)["E004"].status is StaffStatus.LEFT
    assert _people(settings)["E005"].status is not StaffStatus.LEFT


def test_every_problem_is_printed_one_per_line(
    settings: Settings, policy: Policy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        ",".join(COLUMNS) + "\nE1,Li,Permits,Clerk,service,9,,boss,,\nE1,Wang,P,C,service,1,,,,\n",
        encoding="utf-8",
    )
    assert _run(settings, policy, bad) == EXIT_REJECTED
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "The roster was not imported: 3 problems.",
        "row 2, column difficulty: not a valid difficulty coefficient (9); "
        "use a number from 0.5–2.0 with at most three decimals",
        "row 2, column roles: unknown role (boss); "
        "use staff, supervisor, hr, admin, separated by ;",
        "row 3, column employee_no: this employee number is already used in row 2 (E1)",
    ]
    assert _people(settings) == {}


def test_a_supervisor_missing_from_the_store_is_a_problem(
    settings: Settings, policy: Policy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(",".join(COLUMNS) + "\nE1,Li,Permits,Clerk,service,1,E9,,,\n")
    assert _run(settings, policy, roster) == EXIT_REJECTED
    assert capsys.readouterr().err.splitlines()[1] == (
        "row 2, column supervisor_no: "
        "no one has this employee number, in the file or on the roster (E9)"
    )


def test_an_unreadable_path(
    settings: Settings, policy: Policy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(settings, policy, tmp_path / "nowhere.csv") == EXIT_UNREADABLE
    assert _run(settings, policy, tmp_path) == EXIT_UNREADABLE
    err = capsys.readouterr().err
    assert "nowhere.csv" in err
    assert "Traceback" not in err


def test_the_command_line_keeps_to_the_same_limits(
    settings: Settings, policy: Policy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = valid_rows(200)
    rows[150] = (rows[150][0], "Li\x00Wei", *rows[150][2:])
    deep = tmp_path / "deep.csv"
    deep.write_bytes(csv_file(rows))
    assert _run(settings, policy, deep) == EXIT_REJECTED
    assert "row 151, column name: the cell holds an invisible control character" in (
        capsys.readouterr().err
    )
    formatted = tmp_path / "formatted.xlsx"
    formatted.write_bytes(styled_empty_rows())
    assert _run(settings, policy, formatted) == EXIT_REJECTED
    assert "the file has more than 100000 rows; blank rows count too" in capsys.readouterr().err
    assert _people(settings) == {}


def test_an_import_stopped_part_way_says_so_and_the_same_import_finishes_it(
    settings: Settings,
    policy: Policy,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fail_once(monkeypatch, RosterRepository, "add_supervisor_role", RuntimeError("disk I/O error"))
    assert _run(settings, policy, SAMPLE) == EXIT_STOPPED
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "workledger: RuntimeError('disk I/O error')",
        "workledger: the import stopped part-way: part of it is written; run it again to "
        "finish it",
    ]
    assert len(_people(settings)) == 5, "the people were written before it stopped"
    assert _run(settings, policy, SAMPLE) == EXIT_OK
    assert capsys.readouterr().out.splitlines()[:3] == [
        "0 people added",
        "0 people updated",
        "5 people unchanged",
    ]
