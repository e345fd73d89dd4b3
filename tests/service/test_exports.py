"""The exports against a real store: every row once, in batches, with real cells."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from assessment import exports
from assessment.exports import ExportRequest, SheetWords, export
from assessment.periods import parse_key
from config.policy import load_policy
from handlers.export_labels import sheet_words
from locales import translator
from storage.engine import Database

from .export_seed import FORMULA_NAME, PERIOD, Seeded, seed_exports

POLICY = load_policy()
ZONE = ZoneInfo("Asia/Shanghai")


def _request(kind: str, fmt: str = "xlsx", **options: object) -> ExportRequest:
    period = parse_key(PERIOD, POLICY)
    assert period is not None
    return ExportRequest(kind, period, ZONE, fmt=fmt, **options)  # type: ignore[arg-type]


def _words(kind: str, locale: str = "en") -> SheetWords:
    return sheet_words(kind, translator(locale), POLICY, ZONE.key)


async def _sheet(db: Database, kind: str, tmp_path: Path, **options: object) -> list[list[object]]:
    path = tmp_path / f"{kind}.xlsx"
    await export(db.uow, POLICY, _request(kind, **options), _words(kind), path)
    sheet = openpyxl.load_workbook(path).active
    assert sheet.freeze_panes == "A2"
    assert sheet["A1"].font.bold
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


@pytest.fixture
async def seeded(db: Database) -> Seeded:
    return await seed_exports(db, POLICY, entries=7)


@pytest.mark.parametrize("batch", [2, 5000])
async def test_the_ledger_has_every_entry_of_the_period_once_with_its_trail(
    db: Database, seeded: Seeded, tmp_path: Path, batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exports, "BATCH_SIZE", batch)
    seen: list[tuple[int, int]] = []

    async def progress(done: int, total: int) -> None:
        seen.append((done, total))

    path = tmp_path / "ledger.xlsx"
    result = await export(
        db.uow, POLICY, _request("ledger"), _words("ledger"), path, progress=progress
    )
    assert result.rows == 7
    assert seen[-1] == (7, 7) and len(seen) == (4 if batch == 2 else 1)
    book = openpyxl.load_workbook(path)
    sheet = book.active
    header = [cell.value for cell in sheet[1]]
    assert header[:4] == ["Entry no.", "Employee no.", "Name", "Department"]
    assert "Written at (Asia/Shanghai)" in header
    rows = {
        row[0].value: dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=2)
    }
    assert sorted(rows) == list(seeded.entries_in_period)  # December's entry is not in it
    first = rows[seeded.entries_in_period[0]]
    assert first["Name"].value == FORMULA_NAME
    assert first["Name"].data_type == "s" and first["Name"].quotePrefix
    assert first["Work done"].value == "-0 complaints left open" and first["Work done"].quotePrefix
    assert first["Work date"].value == datetime(2026, 11, 2) and first["Work date"].is_date
    assert first["Quantity"].value == 12.5 and first["Quantity"].data_type == "n"
    assert first["Hours"].value == 7.5 and first["Hours"].data_type == "n"
    assert first["Status"].value == "approved"
    assert first["Indicator"].value == POLICY.indicator("cases_handled").names.get("en")
    # Stored in UTC, shown in the organisation's time: 01:00Z is 09:00 in Shanghai.
    assert first["Written at (Asia/Shanghai)"].value == datetime(2026, 11, 2, 9, 0)
    assert first["Sent for approval to"].value == "E010 Sun Li (submitted, 2026-11-02 10:00)"
    assert first["Decided by"].value == "E010 Sun Li"
    assert first["Decided as"].value == "supervisor"
    assert first["Evidence"].value == "=permit.pdf; photo" and first["Evidence"].quotePrefix
    escalated = rows[seeded.entries_in_period[2]]
    assert escalated["Status"].value == "submitted" and escalated["Decided by"].value is None
    trail = escalated["Sent for approval to"].value
    assert trail.endswith("; E001 Hu Rong (escalated, 2026-11-04 13:00)")
    assert rows[seeded.entries_in_period[1]]["Decision reason"].value == "@ok"
    # Nothing in the file is a formula.
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


async def test_a_department_keeps_its_own_people(
    db: Database, seeded: Seeded, tmp_path: Path
) -> None:
    assert len(await _sheet(db, "ledger", tmp_path, department_id=seeded.office)) == 8
    assert len(await _sheet(db, "ledger", tmp_path, department_id=seeded.hr_office)) == 1


async def test_scores_have_the_breakdown_and_both_grades(
    db: Database, seeded: Seeded, tmp_path: Path
) -> None:
    header, *rows = await _sheet(db, "scores", tmp_path)
    by_no = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    assert set(by_no) == {"E011", "E012"}
    names = {grade.id: grade.names.get("en") for grade in POLICY.grades}
    formula = by_no["E011"]
    assert formula["Name"] == FORMULA_NAME
    assert formula["Grade by score"] == names["excellent"]
    assert formula["Grade under the quota"] == names["good"]
    assert formula["Calibrated grade"] == names["excellent"]
    assert formula["Final grade"] == names["excellent"]
    assert formula["Calibration reason"] == "=SUM(A1:A9)"
    assert formula["Calibrated by"] == "E001 Hu Rong"
    assert isinstance(formula["Score"], float | int)
    assert isinstance(formula["Indicator score"], float | int)
    assert formula["Bonus points counted"] == 0
    indicator = POLICY.indicator("cases_handled").names.get("en")
    assert indicator in formula["Indicators: score (weight)"]
    assert formula["Post type"] == POLICY.post_types["law_enforcement"].names.get("en")
    plain = by_no["E012"]
    assert plain["Score"] == 71.25
    assert plain["Final grade"] == names["competent"] and plain["Calibrated grade"] is None
    assert plain["Top grade barred"] == "yes"
    # No stored facts to explain it: the figures stand alone.
    assert plain["Indicator score"] is None and plain["Indicators: score (weight)"] is None


async def test_deliveries_and_the_audit_log(db: Database, seeded: Seeded, tmp_path: Path) -> None:
    header, *rows = await _sheet(db, "deliveries", tmp_path)
    lines = {row[3]: dict(zip(header, row, strict=True)) for row in rows}
    assert set(lines) == {"E010", "E011"}
    assert lines["E011"]["Delivery status"] == "delivered"
    assert lines["E011"]["Read at (Asia/Shanghai)"] == datetime(2026, 11, 11, 9, 0)
    assert lines["E010"]["Error"] == "=Bad Request"
    assert lines["E010"]["Delivered at (Asia/Shanghai)"] is None
    assert lines["E011"]["Notice"] == "-Fire drill"

    header, *events = await _sheet(db, "audit", tmp_path)
    assert [row[5] for row in events] == ["entry.approved", "link.failed"]  # not December's
    assert events[0][2:4] == ["E010", "Sun Li"] and events[0][8] == '{"reason": "+1"}'
    assert events[1][4] == 42 and events[1][2] is None
    header, *events = await _sheet(
        db, "audit", tmp_path, since=date(2026, 11, 12), until=date(2026, 12, 31)
    )
    assert [row[5] for row in events] == ["link.failed", "period.published"]


async def test_csv_neutralises_formulas_and_keeps_plain_numbers(
    db: Database, seeded: Seeded, tmp_path: Path
) -> None:
    path = tmp_path / "ledger.csv"
    await export(db.uow, POLICY, _request("ledger", "csv"), _words("ledger", "zh_Hans"), path)
    content = path.read_bytes()
    assert content.startswith(b"\xef\xbb\xbf")
    header, *rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert header[1] == "工号"
    first = rows[0]
    assert first[2] == "'" + FORMULA_NAME
    assert first[6] == "'-0 complaints left open"
    # Plain numbers (the store's own scale), never quoted.
    assert first[4] == "2026-11-02"
    assert (Decimal(first[7]), Decimal(first[8])) == (Decimal("12.5"), Decimal("7.5"))


async def test_a_failing_file_stops_the_export_and_says_why(
    db: Database, seeded: Seeded, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError):
        await export(
            db.uow, POLICY, _request("ledger"), _words("ledger"), tmp_path / "no" / "x.xlsx"
        )


async def test_a_header_that_does_not_fit_is_refused(db: Database, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="labels"):
        await export(db.uow, POLICY, _request("audit"), SheetWords("t", ["one"]), tmp_path / "x")
