"""The export worker against a real store: its file is the one the pipeline writes in the
calling process, byte for byte; its page size is the caller's; its failures are errors
that say why, with nothing of theirs left behind."""

from __future__ import annotations

import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from assessment import exports
from assessment.export_worker import ExportError, ExportWorkers
from assessment.exports import ExportRequest, export
from assessment.periods import parse_key
from config.policy import load_policy
from handlers.export_labels import sheet_words
from locales import translator
from storage.engine import Database

from .export_seed import PERIOD, seed_exports
from .record_seed import seed_paid

POLICY = load_policy()
ZONE = ZoneInfo("Asia/Shanghai")


def _request(kind: str, fmt: str) -> ExportRequest:
    period = parse_key(PERIOD, POLICY)
    assert period is not None
    return ExportRequest(kind, period, ZONE, fmt=fmt)


async def _both(db: Database, kind: str, fmt: str, folder: Path) -> tuple[Path, Path]:
    """The export built in the worker, and in this process."""
    words = sheet_words(kind, translator("zh_Hans"), POLICY, ZONE.key)
    in_worker, here = _paths(folder, fmt)
    built = await ExportWorkers().export(db, POLICY, _request(kind, fmt), words, in_worker)
    done = await export(db.uow, POLICY, _request(kind, fmt), words, here)
    assert built.rows == done.rows
    assert built.peak_bytes and built.cpu_seconds, "the worker reports its figures"
    return in_worker, here


def _paths(folder: Path, fmt: str) -> tuple[Path, Path]:
    folder.mkdir(exist_ok=True)
    return folder / f"worker.{fmt}", folder / f"here.{fmt}"


def _cells(path: Path) -> list[tuple[object, ...]]:
    return list(openpyxl.load_workbook(path).active.iter_rows(values_only=True))


@pytest.mark.parametrize("kind", ["ledger", "scores", "deliveries", "audit"])
async def test_the_worker_writes_what_the_pipeline_writes(
    db: Database, tmp_path: Path, kind: str
) -> None:
    await seed_exports(db, POLICY, entries=7)
    worker_csv, here_csv = await _both(db, kind, "csv", tmp_path)
    assert worker_csv.read_bytes() == here_csv.read_bytes()
    worker_xlsx, here_xlsx = await _both(db, kind, "xlsx", tmp_path)
    assert _cells(worker_xlsx) == _cells(here_xlsx)
    assert len(_cells(worker_xlsx)) > 1


async def test_bonus_lines_and_records_with_money_in_the_requesters_words(
    db: Database, tmp_path: Path
) -> None:
    await seed_paid(db, POLICY)
    for kind in ("bonus", "record"):
        worker_csv, here_csv = await _both(db, kind, "csv", tmp_path / kind)
        assert worker_csv.read_bytes() == here_csv.read_bytes()
        assert len(worker_csv.read_text("utf-8-sig").splitlines()) > 1
    # Babel's money in the allowances' text: the requester's translator went to the worker.
    assert "¥" in (tmp_path / "bonus" / "worker.csv").read_text("utf-8-sig")


async def test_the_callers_page_size_and_progress(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed_exports(db, POLICY, entries=7)
    monkeypatch.setattr(exports, "BATCH_SIZE", 2)
    seen: list[tuple[int, int]] = []

    async def progress(done: int, total: int) -> None:
        seen.append((done, total))

    words = sheet_words("ledger", translator("en"), POLICY, ZONE.key)
    path = tmp_path / "ledger.csv"
    result = await ExportWorkers().export(
        db, POLICY, _request("ledger", "csv"), words, path, progress=progress
    )
    assert result.rows == 7
    assert seen == [(2, 7), (4, 7), (6, 7), (7, 7)]


async def test_a_failing_export_says_why_and_leaves_nothing_of_the_worker(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed_exports(db, POLICY, entries=1)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    words = sheet_words("ledger", translator("en"), POLICY, ZONE.key)
    workers = ExportWorkers()
    nowhere = tmp_path / "no such folder" / "ledger.xlsx"
    with pytest.raises(ExportError, match="FileNotFoundError"):
        await workers.export(db, POLICY, _request("ledger", "xlsx"), words, nowhere)
    assert list(scratch.iterdir()) == [] and workers.pids == []
    with pytest.raises(ValueError, match="labels for"):
        await workers.export(db, POLICY, _request("audit", "xlsx"), words, tmp_path / "audit.xlsx")
    workers.close()
    with pytest.raises(ExportError, match="closed"):
        await workers.export(db, POLICY, _request("ledger", "xlsx"), words, tmp_path / "x.xlsx")
    assert list(scratch.iterdir()) == []
