"""The bonus lines and the career records as exports, against a real store: every stored
line and item once, whatever the page size, with real cells and localized headers."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import select

from assessment import career, exports
from assessment.exports import ExportRequest, export
from assessment.periods import parse_key
from config.policy import load_policy
from handlers.export_labels import sheet_words
from locales import translator
from storage.engine import Database
from storage.models import BonusLine, BonusRun, Staff

from .export_seed import FORMULA_NAME, PERIOD
from .record_seed import HARDSHIP, KEY_TASK, Paid, seed_paid

POLICY = load_policy()
ZONE = ZoneInfo("Asia/Shanghai")
STEP = POLICY.bonus.rounding


@pytest.fixture
async def paid(db: Database) -> Paid:
    return await seed_paid(db, POLICY)


def _request(kind: str, fmt: str = "xlsx", key: str = PERIOD, **options: Any) -> ExportRequest:
    period = parse_key(key, POLICY)
    assert period is not None
    return ExportRequest(kind, period, ZONE, fmt=fmt, **options)


async def _xlsx(
    db: Database, kind: str, tmp_path: Path, **options: Any
) -> tuple[list[str], list[dict[str, Any]], int]:
    """The sheet's header, its rows as cells by label, and the rows the export counted."""
    path = tmp_path / f"{kind}.xlsx"
    seen: list[tuple[int, int]] = []

    async def progress(done: int, total: int) -> None:
        seen.append((done, total))

    words = sheet_words(kind, translator("en"), POLICY, ZONE.key)
    result = await export(db.uow, POLICY, _request(kind, **options), words, path,
                          progress=progress)  # fmt: skip
    sheet = openpyxl.load_workbook(path).active
    assert sheet.freeze_panes == "A2" and sheet["A1"].font.bold
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    header = [cell.value for cell in sheet[1]]
    rows = [dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=2)]
    assert result.rows == len(rows)
    if rows:
        assert seen[-1] == (len(rows), len(rows)), "the count is what was written"
    return header, rows, result.rows


def _money(units: int) -> Decimal:
    return (Decimal(units) * STEP).quantize(STEP)


@pytest.mark.parametrize("batch", [1, 5000])
async def test_bonus_lines_are_every_published_runs_stored_lines(
    db: Database, paid: Paid, tmp_path: Path, batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exports, "BATCH_SIZE", batch)
    header, rows, _ = await _xlsx(db, "bonus", tmp_path)
    assert header[:5] == ["Run no.", "Run", "Correction reason", "Published at (Asia/Shanghai)",
                          "Employee no."]  # fmt: skip
    assert "Bonus (CNY)" in header and "Paid or recovered by this run (CNY)" in header
    async with db.uow() as uow:
        stored = list(
            await uow.session.execute(
                select(BonusLine, BonusRun.number, Staff.employee_no)
                .join(BonusRun, BonusRun.id == BonusLine.run_id)
                .join(Staff, Staff.id == BonusLine.staff_id)
                .where(BonusRun.id.in_(paid.runs))
            )
        )
    # Run 1 then the correction, each by person; the later draft is not in it.
    assert [(row["Run no."].value, row["Employee no."].value) for row in rows] == sorted(
        (number, employee_no) for _, number, employee_no in stored
    )
    by_key = {(row["Run no."].value, row["Employee no."].value): row for row in rows}
    for line, number, employee_no in stored:
        row = by_key[number, employee_no]
        assert Decimal(str(row["Bonus (CNY)"].value)) == _money(line.amount)
        assert Decimal(str(row["Allowances (CNY)"].value)) == _money(line.allowance)
        assert Decimal(str(row["Paid before (CNY)"].value)) == _money(line.paid)
        assert Decimal(str(row["Paid or recovered by this run (CNY)"].value)) == _money(
            line.change
        )
        assert Decimal(str(row["Post difficulty"].value)) == line.difficulty
        # Money is a number, shown as Babel writes money in the requester's language.
        assert row["Bonus (CNY)"].data_type == "n"
        assert row["Bonus (CNY)"].number_format == '"CN¥"#,##0.00;"-CN¥"#,##0.00'
    first = by_key[1, "E011"]
    assert first["Run"].value == "payment" and first["Correction reason"].value is None
    assert first["Name"].value == FORMULA_NAME and first["Name"].quotePrefix
    assert first["Grade"].value == "Excellent" and first["Grade coefficient"].value == 1.2
    assert first["Base (CNY)"].value == 1000 and first["Pool (CNY)"].value is None
    assert first["Published at (Asia/Shanghai)"].value == datetime(2026, 12, 2, 9, 0)
    # 1000 x 1.2 x 1.15 + the urgent task's 200.00, with its reason.
    assert Decimal(str(first["Bonus (CNY)"].value)) == Decimal("1580.00")
    reasons = first["Allowances and their reasons"]
    assert reasons.value == f"Urgent task CN¥200.00: {KEY_TASK}"
    correction = by_key[2, "E012"]
    assert correction["Run"].value == "correction"
    assert correction["Correction reason"].value == "+Appeal upheld"
    assert correction["Correction reason"].quotePrefix
    assert correction["Grade"].value == "Good"
    assert correction["Allowances and their reasons"].value == (
        f"Hardship post CN¥300.00: {HARDSHIP}"
    )
    # Competent (1.0) paid before, good (1.1) now: 115.00 more.
    assert Decimal(str(correction["Paid or recovered by this run (CNY)"].value)) == Decimal(
        "115.00"
    )
    assert by_key[2, "E011"]["Paid or recovered by this run (CNY)"].value == 0


async def test_bonus_lines_as_csv_in_chinese(db: Database, paid: Paid, tmp_path: Path) -> None:
    path = tmp_path / "bonus.csv"
    words = sheet_words("bonus", translator("zh_Hans"), POLICY, ZONE.key)
    await export(db.uow, POLICY, _request("bonus", "csv"), words, path)
    header, *rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))
    assert header[:2] == ["发放批次号", "发放类型"] and "奖金（CNY）" in header
    by_key = {(row[0], row[4]): dict(zip(header, row, strict=True)) for row in rows}
    assert set(by_key) == {("1", "E011"), ("1", "E012"), ("2", "E011"), ("2", "E012")}
    first = by_key["1", "E011"]
    assert first["发放类型"] == "发放" and first["姓名"] == "'" + FORMULA_NAME
    assert first["奖金（CNY）"] == "1580.00"  # a plain number, the step's places
    assert first["津贴及其事由"] == f"急难任务津贴 ¥200.00：{KEY_TASK}"
    assert by_key["2", "E012"]["更正原因"] == "'+Appeal upheld"


async def test_no_bonus_lines_where_nothing_was_paid(
    db: Database, paid: Paid, tmp_path: Path
) -> None:
    # HR's own department had no line; October has no run; neither is an error.
    _, rows, count = await _xlsx(db, "bonus", tmp_path, department_id=paid.seeded.hr_office)
    assert rows == [] and count == 0
    _, rows, count = await _xlsx(db, "bonus", tmp_path, key="2026-10")
    assert rows == [] and count == 0
    _, rows, _ = await _xlsx(db, "bonus", tmp_path, department_id=paid.seeded.office)
    assert len(rows) == 4


def _parts(rows: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter((row["Employee no."].value, row["Part of the record"].value) for row in rows)


@pytest.mark.parametrize("batch", [1, 5000])
async def test_career_records_hold_what_each_persons_record_holds(
    db: Database, paid: Paid, tmp_path: Path, batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A batch of 1: a page per person, the two with nothing recorded skipped between.
    monkeypatch.setattr(exports, "BATCH_SIZE", batch)
    header, rows, _ = await _xlsx(db, "record", tmp_path)
    assert header[:4] == ["Employee no.", "Name", "Department", "Part of the record"]
    expected: Counter[tuple[str, str]] = Counter()
    async with db.uow() as uow:
        for number in ("E001", "E010", "E011", "E012"):
            record = await career.record_of(uow, paid.hr, number, policy=POLICY)
            assert isinstance(record, career.CareerRecord)
            for part, items in (
                ("annual result", record.years),
                ("routine result", record.periods),
                ("points", record.points),
                ("key task", record.key_tasks),
                ("training completed", record.trainings),
                ("honour", record.honours),
            ):
                expected[number, part] += len(items)
    assert _parts(rows) == +expected
    # Each person's rows together, in staff order, in the order /record shows the parts.
    assert [row["Employee no."].value for row in rows] == sorted(
        (row["Employee no."].value for row in rows), key=["E011", "E012"].index
    )
    su_yi = {row["Part of the record"].value: row for row in rows[:5]}
    year = su_yi["annual result"]
    assert (year["Period"].value, year["What"].value, year["Score"].value) == (
        "2026",
        "Excellent",
        91.5,
    )
    assert year["Details"].value == "routine results: 11; Training need: Service skills"
    assert year["HR flags"].value == "merit; training need"
    routine = su_yi["routine result"]
    assert (routine["Period"].value, routine["What"].value) == (PERIOD, "Excellent")
    assert routine["Original grade"].value == "Good" and routine["Score"].data_type == "n"
    points = su_yi["points"]
    assert points["Points"].value == 2 and points["Details"].value == "-Night shifts covered"
    assert points["Details"].quotePrefix
    task = su_yi["key task"]
    assert (task["Period"].value, task["What"].value) == (PERIOD, "Urgent task")
    assert task["Details"].value == KEY_TASK and task["Details"].quotePrefix
    assert task["Day"].value.date() == date(2026, 12, 2)  # 01:00 UTC is 09:00 in Shanghai
    honour = su_yi["honour"]
    assert honour["What"].value == "Service Star" and honour["Day"].is_date
    assert honour["Details"].value == "@Kind to every citizen" and honour["Details"].quotePrefix
    # The hardship post is an allowance, not a task; a withdrawn point is not in it.
    assert not any(row["Details"].value in (HARDSHIP, "withdrawn") for row in rows)


async def test_one_persons_record_and_a_department_with_nothing_recorded(
    db: Database, paid: Paid, tmp_path: Path
) -> None:
    _, rows, _ = await _xlsx(db, "record", tmp_path, staff_id=paid.staff["E012"])
    assert _parts(rows) == Counter({("E012", "routine result"): 1,
                                    ("E012", "training completed"): 1})  # fmt: skip
    _, rows, count = await _xlsx(db, "record", tmp_path, department_id=paid.seeded.hr_office)
    assert rows == [] and count == 0
    # CSV in Traditional Chinese: the parts named, the task's reason quoted.
    path = tmp_path / "record.csv"
    words = sheet_words("record", translator("zh_Hant"), POLICY, ZONE.key)
    await export(db.uow, POLICY, _request("record", "csv"), words, path)
    header, *lines = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))
    assert header[3] == "檔案類別"
    task = next(line for line in lines if line[3] == "重點任務")
    assert task[6] == "急難任務津貼" and task[10] == "'" + KEY_TASK and task[5] == "2026-12-02"
