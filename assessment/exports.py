"""Ledgers and exports: a period's work ledger, scores and grades, delivery lists, and the
audit log of a date range, as XLSX or CSV, whatever their size.

The rows are read in bounded batches (keyset pages, ``storage.repositories.exports``),
each in a short unit of work of its own, on the event loop; the file is built in a
thread from a small bounded queue of batches, so memory stays flat however many rows
there are and the loop only ever waits for the store. The cells are shaped in that
thread too (labels, local times, the stored breakdown of a score).

Every kind of export is an ``ExportSource`` in ``SOURCES``: its columns, how to count
and page its rows, and how to turn a stored row into cells. A new kind (the bonus run's
lines, the career record) registers a source of its own with ``register``; the command
line, ``/export`` and their labels then offer it by its kind.

The words that go into cells (column headers, statuses, grade and indicator names) come
from the caller in the requester's language as ``SheetWords``: this layer speaks no
language of its own.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Protocol
from zoneinfo import ZoneInfo

from assessment.period_scoring import StalePolicyError, breakdown_of
from assessment.periods import Period
from assessment.sheets import Cell, CsvSheet, SheetWriter, XlsxSheet
from config.policy import Policy
from storage.repositories.exports import Row
from storage.uow import UnitOfWork

# Rows per page read from the store (and per batch handed to the file's thread).
BATCH_SIZE = 5000
# Batches read ahead of the file: enough to keep the thread busy, little memory.
QUEUE_DEPTH = 2
FORMATS = ("xlsx", "csv")
# How long a waiting hand-over looks up to see whether the other side gave up.
_POLL_SECONDS = 0.5


@dataclass(frozen=True)
class ExportRequest:
    """What to export: a kind, its period, a department or everyone, a format.

    ``since``/``until`` bound the audit log's days (both included); by default the
    period's. ``zone`` is the organisation's: times in cells are its wall-clock time.
    """

    kind: str
    period: Period
    zone: ZoneInfo
    fmt: str = "xlsx"
    department_id: int | None = None
    since: date | None = None
    until: date | None = None

    @property
    def first_day(self) -> date:
        return self.since or self.period.starts_on

    @property
    def last_day(self) -> date:
        return self.until or self.period.ends_on

    def moments(self) -> tuple[datetime, datetime]:
        """The UTC bounds [start, end) of the request's days in the organisation's zone."""
        start = datetime.combine(self.first_day, time(), self.zone)
        end = datetime.combine(self.last_day + timedelta(days=1), time(), self.zone)
        return start, end


@dataclass(frozen=True)
class SheetWords:
    """The requester's language for one sheet: its title, its header (one label per
    column of the source) and the words for stored values (``words[key]``, keys such as
    ``entry:approved``, ``grade:excellent``; an unknown key is shown as stored)."""

    title: str
    header: Sequence[str]
    words: Mapping[str, str] = field(default_factory=dict)

    def word(self, kind: str, value: object) -> str | None:
        """The word for a stored value, or the value itself; None for None."""
        if value is None:
            return None
        return self.words.get(f"{kind}:{value}", str(value))


@dataclass(frozen=True)
class Shaping:
    """What turning stored rows into cells needs, handed to the file's thread."""

    words: SheetWords
    zone: ZoneInfo
    policy: Policy

    def local(self, moment: datetime | None) -> datetime | None:
        """An aware moment as the organisation's wall-clock time, to the second."""
        if moment is None:
            return None
        return moment.astimezone(self.zone).replace(tzinfo=None, microsecond=0)


class ExportSource(Protocol):
    """One kind of export: its columns, its rows page by page, and their cells."""

    columns: tuple[str, ...]
    # Width hints per column (characters), for the XLSX sheet.
    widths: tuple[int, ...]

    async def count(self, uow: UnitOfWork, request: ExportRequest) -> int:
        """How many rows the export will have (for progress)."""

    async def page(self, uow: UnitOfWork, request: ExportRequest, after: int) -> list[Row]:
        """Up to ``BATCH_SIZE`` stored rows after key ``after``, their key first."""

    def shape(self, rows: Sequence[Row], shaping: Shaping) -> list[list[Cell]]:
        """The cells of a page of stored rows (runs in the file's thread)."""


SOURCES: dict[str, ExportSource] = {}


def register(kind: str, source: ExportSource) -> None:
    """Offer a kind of export (``ledger``, ``scores``...); each kind once."""
    if kind in SOURCES:
        raise ValueError(f"export kind {kind!r} registered twice")
    SOURCES[kind] = source


class UnknownDepartmentError(LookupError):
    """No department of that name."""


async def department_id(uow: UnitOfWork, name: str) -> int:
    """The id of the department called ``name``."""
    department = await uow.departments.get_by_name(name)
    if department is None:
        raise UnknownDepartmentError(name)
    return department.id


# --- the work ledger ----------------------------------------------------------------------


def _moment_text(shaping: Shaping, moment: datetime) -> str:
    local = shaping.local(moment)
    assert local is not None
    return local.strftime("%Y-%m-%d %H:%M")


def _person(employee_no: str | None, name: str | None) -> str | None:
    return None if employee_no is None else f"{employee_no} {name}"


class LedgerSource:
    """Every entry of the period with its approval trail and its evidence's names."""

    columns: tuple[str, ...] = (
        "entry",
        "employee_no",
        "name",
        "department",
        "work_date",
        "indicator",
        "text",
        "quantity",
        "hours",
        "status",
        "misconduct",
        "written_at",
        "submitted_at",
        "requested_from",
        "escalated_at",
        "decided_by",
        "decided_as",
        "decided_at",
        "decision_reason",
        "evidence",
    )
    widths: tuple[int, ...] = (
        8,
        12,
        14,
        16,
        12,
        16,
        50,
        10,
        8,
        10,
        8,
        20,
        20,
        40,
        20,
        20,
        10,
        20,
        30,
        30,
    )

    async def count(self, uow: UnitOfWork, request: ExportRequest) -> int:
        """Entries dated in the period (of the department)."""
        return await uow.exports.ledger_count(
            request.first_day, request.last_day, request.department_id
        )

    async def page(self, uow: UnitOfWork, request: ExportRequest, after: int) -> list[Row]:
        """Entries with their approval requests and attachments appended to each row."""
        entries = await uow.exports.ledger_page(
            request.first_day, request.last_day, request.department_id, after, BATCH_SIZE
        )
        ids = [row[0] for row in entries]
        requests: dict[int, list[Row]] = defaultdict(list)
        for entry_id, *rest in await uow.exports.approval_requests(ids):
            requests[entry_id].append(tuple(rest))
        evidence: dict[int, list[Row]] = defaultdict(list)
        for entry_id, *rest in await uow.exports.evidence(ids):
            evidence[entry_id].append(tuple(rest))
        return [
            (*row, tuple(requests.get(row[0], ())), tuple(evidence.get(row[0], ())))
            for row in entries
        ]

    def shape(self, rows: Sequence[Row], shaping: Shaping) -> list[list[Cell]]:
        """One row per entry; the trail and the evidence as text lists."""
        word = shaping.words.word
        local = shaping.local
        yes = shaping.words.words.get("yes", "yes")
        out: list[list[Cell]] = []
        for (
            entry_id,
            employee_no,
            name,
            department,
            work_date,
            indicator_id,
            text,
            quantity,
            hours,
            status,
            misconduct,
            created_at,
            submitted_at,
            escalated_at,
            decider_no,
            decider_name,
            via,
            decided_at,
            reason,
            requests,
            evidence,
        ) in rows:
            trail = "; ".join(
                f"{number} {who} ({word('request', why)}, {_moment_text(shaping, at)})"
                for number, who, why, at in requests
            )
            files = "; ".join(
                file_name or str(word("evidence", kind)) for kind, file_name in evidence
            )
            out.append(
                [
                    entry_id,
                    employee_no,
                    name,
                    department,
                    work_date,
                    word("indicator", indicator_id),
                    text,
                    quantity,
                    hours,
                    word("entry", status),
                    yes if misconduct else None,
                    local(created_at),
                    local(submitted_at),
                    trail or None,
                    local(escalated_at),
                    _person(decider_no, decider_name),
                    word("via", via),
                    local(decided_at),
                    reason,
                    files or None,
                ]
            )
        return out


# --- scores and grades --------------------------------------------------------------------


class ScoresSource:
    """Each person's stored score of the period with its breakdown, the grade the score
    earns, the grade under the quota, HR's calibrated grade and the final one."""

    columns: tuple[str, ...] = (
        "employee_no",
        "name",
        "department",
        "post_type",
        "score",
        "base",
        "bonus_points",
        "deduction_points",
        "indicators",
        "grade_by_score",
        "grade_under_quota",
        "calibrated_grade",
        "calibration_reason",
        "calibrated_by",
        "calibrated_at",
        "final_grade",
        "top_grade_barred",
        "computed_at",
        "published_at",
        "read_at",
    )
    widths: tuple[int, ...] = (
        12,
        14,
        16,
        14,
        8,
        8,
        8,
        8,
        50,
        12,
        12,
        12,
        30,
        20,
        20,
        12,
        8,
        20,
        20,
        20,
    )

    async def count(self, uow: UnitOfWork, request: ExportRequest) -> int:
        """People with a stored score."""
        period = await uow.periods.by_key(request.period.key)
        if period is None:
            return 0
        return await uow.exports.scores_count(period.id, request.department_id)

    async def page(self, uow: UnitOfWork, request: ExportRequest, after: int) -> list[Row]:
        """Stored scores after ``after``."""
        period = await uow.periods.by_key(request.period.key)
        if period is None:
            return []
        return await uow.exports.scores_page(period.id, request.department_id, after, BATCH_SIZE)

    def shape(self, rows: Sequence[Row], shaping: Shaping) -> list[list[Cell]]:
        """One row per person; the indicators as ``name score (weight)`` text."""
        word = shaping.words.word
        local = shaping.local
        yes = shaping.words.words.get("yes", "yes")
        out: list[list[Cell]] = []
        for (
            _id,
            staff_id,
            department_id,
            employee_no,
            name,
            department,
            post_type,
            score,
            by_score,
            grade,
            calibrated,
            reason,
            calibrator_no,
            calibrator_name,
            calibrated_at,
            disqualified,
            computed_at,
            published_at,
            read_at,
            stored,
        ) in rows:
            base = bonus = deduction = None
            indicators = None
            try:
                breakdown = breakdown_of(shaping.policy, staff_id, department_id, stored or {})
            except (StalePolicyError, ValueError, KeyError):
                breakdown = None  # computed under another policy: the figures stand alone
            if breakdown is not None:
                post_type = breakdown.post_type
                base = breakdown.base
                bonus = breakdown.tally.counted_bonus
                deduction = breakdown.tally.counted_deduction
                indicators = "; ".join(
                    f"{word('indicator', part.indicator_id)} {part.score} ({part.weight})"
                    for part in breakdown.indicators
                    if part.present
                )
            out.append(
                [
                    employee_no,
                    name,
                    department,
                    word("post_type", post_type),
                    score,
                    base,
                    bonus,
                    deduction,
                    indicators or None,
                    word("grade", by_score),
                    word("grade", grade),
                    word("grade", calibrated),
                    reason,
                    _person(calibrator_no, calibrator_name),
                    local(calibrated_at),
                    word("grade", calibrated or grade),
                    yes if disqualified else None,
                    local(computed_at),
                    local(published_at),
                    local(read_at),
                ]
            )
        return out


# --- broadcast delivery lists -------------------------------------------------------------


class DeliveriesSource:
    """Every copy of every notice queued in the period: to whom, delivered, read."""

    columns: tuple[str, ...] = (
        "notice",
        "queued_at",
        "notice_text",
        "employee_no",
        "name",
        "department",
        "delivery_status",
        "delivered_at",
        "error",
        "read_at",
    )
    widths: tuple[int, ...] = (8, 20, 40, 12, 14, 16, 12, 20, 30, 20)
    excerpt = 200

    async def count(self, uow: UnitOfWork, request: ExportRequest) -> int:
        """Copies of the period's notices."""
        return await uow.exports.deliveries_count(*request.moments(), request.department_id)

    async def page(self, uow: UnitOfWork, request: ExportRequest, after: int) -> list[Row]:
        """Copies after outbox row ``after``."""
        return await uow.exports.deliveries_page(
            *request.moments(), request.department_id, after, BATCH_SIZE
        )

    def shape(self, rows: Sequence[Row], shaping: Shaping) -> list[list[Cell]]:
        """One row per copy."""
        word = shaping.words.word
        local = shaping.local
        out: list[list[Cell]] = []
        for (
            _id,
            notice_id,
            queued_at,
            text,
            employee_no,
            name,
            department,
            status,
            finished_at,
            error,
            acked_at,
        ) in rows:
            sent = status == "sent"
            out.append(
                [
                    notice_id,
                    local(queued_at),
                    (text or "")[: self.excerpt] or None,
                    employee_no,
                    name,
                    department,
                    word("delivery", status),
                    local(finished_at) if sent else None,
                    error,
                    local(acked_at),
                ]
            )
        return out


# --- the audit log ------------------------------------------------------------------------


class AuditSource:
    """The audit log's events of the request's days (the whole organisation's)."""

    columns: tuple[str, ...] = (
        "event",
        "at",
        "actor_no",
        "actor",
        "actor_telegram_id",
        "action",
        "subject_type",
        "subject_id",
        "details",
    )
    widths: tuple[int, ...] = (8, 20, 12, 14, 14, 24, 14, 12, 60)

    async def count(self, uow: UnitOfWork, request: ExportRequest) -> int:
        """Events of the days."""
        return await uow.exports.audit_count(*request.moments())

    async def page(self, uow: UnitOfWork, request: ExportRequest, after: int) -> list[Row]:
        """Events after event ``after``."""
        return await uow.exports.audit_page(*request.moments(), after, BATCH_SIZE)

    def shape(self, rows: Sequence[Row], shaping: Shaping) -> list[list[Cell]]:
        """One row per event; its details as compact JSON."""
        local = shaping.local
        return [
            [
                event_id,
                local(at),
                actor_no,
                actor,
                telegram_id,
                action,
                subject_type,
                subject_id,
                json.dumps(details, ensure_ascii=False, sort_keys=True) if details else None,
            ]
            for (
                event_id,
                at,
                actor_no,
                actor,
                telegram_id,
                action,
                subject_type,
                subject_id,
                details,
            ) in rows
        ]


register("ledger", LedgerSource())
register("scores", ScoresSource())
register("deliveries", DeliveriesSource())
register("audit", AuditSource())


# --- the pipeline -------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportResult:
    """What was written: how many rows (the header not counted)."""

    rows: int


Progress = Callable[[int, int], Awaitable[None]]
_END = None


def _open_sheet(
    request: ExportRequest, source: ExportSource, words: SheetWords, target: Path | IO[bytes]
) -> SheetWriter:
    if request.fmt == "csv":
        return CsvSheet(target, words.header)
    return XlsxSheet(target, words.header, title=words.title, widths=source.widths)


def _build(
    batches: queue.Queue[Sequence[Row] | None],
    stop: threading.Event,
    source: ExportSource,
    shaping: Shaping,
    open_sheet: Callable[[], SheetWriter],
) -> None:
    """The file's thread: take batches until the end mark, shape them, write them."""
    try:
        sheet = open_sheet()
        while True:
            batch = batches.get()
            if batch is _END:
                break
            sheet.write(source.shape(batch, shaping))
        sheet.close()
    finally:
        stop.set()  # the reader stops handing over if this thread ended early


def _hand_over(
    batches: queue.Queue[Sequence[Row] | None], batch: Sequence[Row] | None, stop: threading.Event
) -> None:
    while not stop.is_set():
        try:
            batches.put(batch, timeout=_POLL_SECONDS)
            return
        except queue.Full:
            continue


async def export(
    uows: Callable[[], UnitOfWork],
    policy: Policy,
    request: ExportRequest,
    words: SheetWords,
    target: Path | IO[bytes],
    *,
    progress: Progress | None = None,
) -> ExportResult:
    """Write the requested export to ``target``; ``progress(done, total)`` after each batch.

    Raises:
        KeyError: No source of ``request.kind``.
        ValueError: The header does not fit the source's columns, or an unknown format.
    """
    source = SOURCES[request.kind]
    if len(words.header) != len(source.columns):
        raise ValueError(f"{len(words.header)} labels for {len(source.columns)} columns")
    if request.fmt not in FORMATS:
        raise ValueError(f"unknown format {request.fmt!r}")
    async with uows() as uow:
        total = await source.count(uow, request)
    shaping = Shaping(words, request.zone, policy)
    batches: queue.Queue[Sequence[Row] | None] = queue.Queue(maxsize=QUEUE_DEPTH)
    stop = threading.Event()
    builder = asyncio.get_running_loop().run_in_executor(
        None,
        _build,
        batches,
        stop,
        source,
        shaping,
        lambda: _open_sheet(request, source, words, target),
    )
    done = after = 0
    try:
        while not stop.is_set():
            async with uows() as uow:
                rows = await source.page(uow, request, after)
            if not rows:
                break
            await asyncio.to_thread(_hand_over, batches, rows, stop)
            done += len(rows)
            after = rows[-1][0]
            if progress is not None:
                await progress(done, max(total, done))
    finally:
        # The end mark, or (reading failed) a stop: the thread then finishes or ends.
        await asyncio.to_thread(_hand_over, batches, _END, stop)
        await builder
    return ExportResult(done)


def header_of(kind: str, labels: Mapping[str, str]) -> list[str]:
    """The header of a kind's sheet from labels by column key (unlabelled keys as keys)."""
    return [labels.get(column, column) for column in SOURCES[kind].columns]


def kinds() -> Iterable[str]:
    """The kinds of export offered, in the order registered."""
    return tuple(SOURCES)
