"""Ledgers and exports: a period's work ledger, scores and grades, delivery lists, and the
audit log of a date range, as XLSX or CSV, whatever their size.

The rows are read in bounded batches (keyset pages, ``storage.repositories.exports``),
each in a short unit of work of its own; the file is built in a thread from a small
bounded queue of batches, so memory stays flat however many rows there are. The cells
are shaped in that thread too (labels, local times, the stored breakdown of a score).
All of that is ``export``, which runs in the process that calls it: the bot and the
benchmarks call it in a worker process of its own (``assessment.export_worker``) with
its own engine, as shaping and writing 2 million rows in a thread would take the
interpreter lock from the bot's event loop for minutes.

Every kind of export is an ``ExportSource`` in ``SOURCES``: its columns, how to count
and page its rows, and how to turn a stored row into cells. A new kind registers a
source of its own with ``register``; the command line, ``/export`` and their labels then
offer it by its kind. Besides the ledger, scores, delivery lists and the audit log:
``bonus`` (the lines of the period's published bonus runs, each with its factors and
allowances) and ``record`` (career records, one row per item, whatever the period).

The words that go into cells (column headers, statuses, grade and indicator names) come
from the caller in the requester's language as ``SheetWords``: this layer speaks no
language of its own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import queue
import threading
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Protocol
from zoneinfo import ZoneInfo

from assessment.career import key_task_kinds
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
    ``staff_id`` keeps one person (the career record). ``key_task_kinds`` is filled by
    ``export`` from its policy (the allowances the career record lists as key tasks).
    ``batch_size`` is the rows per page; by default ``BATCH_SIZE`` as the process that
    asks for the export has it (``rows_per_page``).
    """

    kind: str
    period: Period
    zone: ZoneInfo
    fmt: str = "xlsx"
    department_id: int | None = None
    since: date | None = None
    until: date | None = None
    staff_id: int | None = None
    key_task_kinds: tuple[str, ...] = ()
    batch_size: int | None = None

    @property
    def rows_per_page(self) -> int:
        """Rows per page read from the store."""
        return self.batch_size or BATCH_SIZE

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


def plain_money(amount: Decimal, currency: str) -> str:
    """Money as the amount and the currency's code, for words that give no way of their own."""
    return f"{amount} {currency}"


@dataclass(frozen=True)
class SheetWords:
    """The requester's language for one sheet: its title, its header (one label per
    column of the source) and the words for stored values (``words[key]``, keys such as
    ``entry:approved``, ``grade:excellent``; an unknown key is shown as stored)."""

    title: str
    header: Sequence[str]
    words: Mapping[str, str] = field(default_factory=dict)
    # Money as text in the requester's way (amount, ISO currency); XLSX number formats of
    # columns by key (money shown as money, still a number). Both go to the export's
    # worker process pickled: ``money`` is a function or method, never a closure.
    money: Callable[[Decimal, str], str] = plain_money
    formats: Mapping[str, str] = field(default_factory=dict)

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
        """Up to ``request.rows_per_page`` stored rows after key ``after``, their key first."""

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
            request.first_day,
            request.last_day,
            request.department_id,
            after,
            request.rows_per_page,
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
        return await uow.exports.scores_page(
            period.id, request.department_id, after, request.rows_per_page
        )

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
            *request.moments(), request.department_id, after, request.rows_per_page
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
        return await uow.exports.audit_page(*request.moments(), after, request.rows_per_page)

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


# --- bonus lines --------------------------------------------------------------------------


def _money(units: int | None, step: Decimal) -> Decimal | None:
    return None if units is None else (Decimal(units) * step).quantize(step)


@dataclass(frozen=True, slots=True)
class _RunFacts:
    """What a page's lines need of their run: its number, reason, factors, moments."""

    number: int
    reason: str | None
    published_at: datetime | None
    computed_at: datetime | None
    factors: Mapping[str, object]


def _standing(allowance: Row, run: _RunFacts) -> bool:
    """Whether an allowance (staff, kind, reason, assigned_at, withdrawn_at) was in force
    when the run was computed, so the run paid it."""
    _staff, _kind, _reason, assigned_at, withdrawn_at = allowance
    if run.computed_at is None:
        return withdrawn_at is None
    return bool(
        assigned_at <= run.computed_at and (withdrawn_at is None or withdrawn_at > run.computed_at)
    )


class BonusSource:
    """Every line of the period's published bonus runs, run 1 (the payment) first, then
    each correction: the person, the grade and coefficients that produced the line, the
    allowances paid with their reasons, the amount, what was paid before and the
    difference the run paid or recovered. Money in the run's own currency steps."""

    columns: tuple[str, ...] = (
        "run",
        "run_kind",
        "run_reason",
        "run_published_at",
        "employee_no",
        "name",
        "department",
        "post_type",
        "grade",
        "grade_coefficient",
        "post_difficulty",
        "bonus_base",
        "pool",
        "bonus_before_allowances",
        "allowances",
        "allowance_reasons",
        "amount",
        "paid_before",
        "difference",
    )
    widths: tuple[int, ...] = (
        6, 12, 30, 20, 12, 14, 16, 14, 12, 10, 10, 12, 14, 14, 12, 50, 14, 14, 14
    )  # fmt: skip

    async def _runs(
        self, uow: UnitOfWork, request: ExportRequest
    ) -> tuple[int | None, dict[int, _RunFacts]]:
        """The period's id and its published runs by id (none if there is no such period)."""
        period = await uow.periods.by_key(request.period.key)
        if period is None:
            return None, {}
        return period.id, {
            run.id: _RunFacts(run.number or 0, run.reason, run.published_at, run.computed_at,
                              dict(run.factors))
            for run in await uow.exports.published_runs(period.id)
        }  # fmt: skip

    async def count(self, uow: UnitOfWork, request: ExportRequest) -> int:
        """Lines of the period's published runs (of the department they were paid in)."""
        _, runs = await self._runs(uow, request)
        return await uow.exports.bonus_count(list(runs), request.department_id)

    async def page(self, uow: UnitOfWork, request: ExportRequest, after: int) -> list[Row]:
        """Lines after key ``after``, each with its run's facts and the allowances it paid."""
        period_id, runs = await self._runs(uow, request)
        lines = await uow.exports.bonus_page(
            list(runs), request.department_id, after, request.rows_per_page
        )
        if period_id is None or not lines:
            return []
        allowances: dict[int, list[Row]] = defaultdict(list)
        for row in await uow.exports.allowances(period_id, [line[2] for line in lines]):
            allowances[row[0]].append(row)
        out: list[Row] = []
        for line in lines:
            run = runs[line[1]]
            paid = tuple(a for a in allowances.get(line[2], ()) if _standing(a, run))
            out.append((*line, run, paid))
        return out

    def shape(self, rows: Sequence[Row], shaping: Shaping) -> list[list[Cell]]:
        """One row per line; the allowances as ``name amount: reason`` text."""
        words = shaping.words
        word = words.word
        local = shaping.local
        template = words.words.get("template:allowance", "{allowance} {amount}: {reason}")
        out: list[list[Cell]] = []
        for (
            _key,
            _run_id,
            _staff_id,
            employee_no,
            name,
            department,
            post_type,
            grade_id,
            difficulty,
            share,
            allowance,
            amount,
            paid,
            change,
            run,
            standing,
        ) in rows:
            factors = run.factors
            step = Decimal(str(factors.get("step", "0.01")))
            currency = str(factors.get("currency", ""))
            coefficients = factors.get("coefficients") or {}
            assert isinstance(coefficients, Mapping)
            coefficient = coefficients.get(grade_id) if grade_id is not None else None
            amounts = factors.get("allowances") or {}
            assert isinstance(amounts, Mapping)
            pool_mode = factors.get("mode") == "pool"
            reasons = "; ".join(
                template.format(
                    allowance=word("allowance", kind),
                    amount=words.money(Decimal(str(amounts[kind])), currency)
                    if kind in amounts else "",
                    reason=reason,
                )
                for _staff, kind, reason, _at, _withdrawn in standing
            ) if allowance else ""  # fmt: skip
            out.append(
                [
                    run.number,
                    word("run", "correction" if run.number > 1 else "payment"),
                    run.reason,
                    local(run.published_at),
                    employee_no,
                    name,
                    department,
                    word("post_type", post_type),
                    word("grade", grade_id),
                    None if coefficient is None else Decimal(str(coefficient)),
                    difficulty,
                    None if pool_mode else Decimal(str(factors.get("base"))),
                    Decimal(str(factors["pool"])) if pool_mode and factors.get("pool") else None,
                    _money(share, step),
                    _money(allowance, step),
                    reasons or None,
                    _money(amount, step),
                    _money(paid, step),
                    _money(change, step),
                ]
            )
        return out


# --- career records -----------------------------------------------------------------------

# The parts of a career record in the order each person's rows come (as /record shows them).
RECORD_PARTS = ("year", "period", "points", "key_task", "training", "honour")
# Items a person's record is expected to hold at most, give or take: people per page are
# ``BATCH_SIZE`` over it, so a page stays about a batch of rows.
_ITEMS_PER_PERSON = 25


def _people_per_page(request: ExportRequest) -> int:
    return max(1, request.rows_per_page // _ITEMS_PER_PERSON)


class RecordSource:
    """Career records (职业成就档案) of everyone, a department or one person, whatever
    the period: one row per item (an annual result, a routine result, points, a key task,
    a training completed, an honour), each person's in the order /record shows them.

    A page is the records of the next people by staff id (their key: a page ends with a
    whole person), people with nothing recorded skipped."""

    columns: tuple[str, ...] = (
        "employee_no",
        "name",
        "department",
        "part",
        "period",
        "day",
        "item",
        "score",
        "points",
        "original_grade",
        "details",
        "hr_flags",
    )
    widths: tuple[int, ...] = (12, 14, 16, 14, 10, 12, 20, 8, 8, 14, 50, 24)

    async def count(self, uow: UnitOfWork, request: ExportRequest) -> int:
        """Items of every part of these people's records."""
        return await uow.exports.record_count(
            request.department_id, request.staff_id, request.key_task_kinds
        )

    async def page(self, uow: UnitOfWork, request: ExportRequest, after: int) -> list[Row]:
        """The items of the next people after staff id ``after`` who have any."""
        while True:
            people = await uow.exports.record_people(
                request.department_id, request.staff_id, after, _people_per_page(request)
            )
            if not people:
                return []
            items = await uow.exports.record_items(
                [person[0] for person in people], request.key_task_kinds
            )
            by_person: dict[int, list[Row]] = defaultdict(list)
            for part in RECORD_PARTS:
                for staff_id, *rest in items.get(part, ()):
                    by_person[staff_id].append((part, *rest))
            rows = [
                (staff_id, employee_no, name, department, item)
                for staff_id, employee_no, name, department in people
                for item in by_person.get(staff_id, ())
            ]
            if rows:
                return rows
            after = people[-1][0]

    def shape(self, rows: Sequence[Row], shaping: Shaping) -> list[list[Cell]]:
        """One row per item, its part named; the HR-only flags of each year too."""
        word = shaping.words.word
        words = shaping.words.words
        out: list[list[Cell]] = []
        for _staff_id, employee_no, name, department, (part, *item) in rows:
            period: str | None = None
            day: date | None = None
            label: str | None = None
            score = points = None
            original = details = flags = None
            if part == "year":
                year, count, score, grade_id, trainings, stored_flags = item
                period = str(year)
                label = (
                    word("annual_grade", grade_id)
                    if grade_id is not None
                    else words.get("not_graded", "not graded")
                )
                details = words.get("template:routine_results", "{count}").format(count=count)
                if trainings:
                    need = "; ".join(str(word("training", t)) for t in trainings)
                    details += "; " + words.get("template:training_need", "{trainings}").format(
                        trainings=need
                    )
                flags = "; ".join(str(word("flag", f)) for f in stored_flags or ()) or None
            elif part == "period":
                period, score, grade_id, calibrated = item
                label = word("grade", calibrated or grade_id)
                original = word("grade", grade_id) if calibrated else None
            elif part == "points":
                period, points, details, indicator_id = item
                label = word("indicator", indicator_id)
            elif part == "key_task":
                period, kind, details, assigned_at = item
                label = word("allowance", kind)
                local = shaping.local(assigned_at)
                day = None if local is None else local.date()
            elif part == "training":
                training_id, day, details = item
                label = word("training", training_id)
            else:
                honour_id, day, details = item
                label = word("honour", honour_id)
            out.append(
                [
                    employee_no,
                    name,
                    department,
                    word("part", part),
                    period,
                    day,
                    label,
                    score,
                    points,
                    original,
                    details,
                    flags,
                ]
            )
        return out


register("ledger", LedgerSource())
register("scores", ScoresSource())
register("deliveries", DeliveriesSource())
register("audit", AuditSource())
register("bonus", BonusSource())
register("record", RecordSource())
# Kinds whose rows do not depend on the request's period (its file is not named by it).
UNDATED = frozenset({"record"})


# --- the pipeline -------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportResult:
    """What was written: how many rows (the header not counted); from a worker process,
    its peak resident memory in bytes and the CPU seconds it used (for benchmarks)."""

    rows: int
    peak_bytes: int | None = None
    cpu_seconds: float | None = None


Progress = Callable[[int, int], Awaitable[None]]
_END = None


def _open_sheet(
    request: ExportRequest, source: ExportSource, words: SheetWords, target: Path | IO[bytes]
) -> SheetWriter:
    if request.fmt == "csv":
        return CsvSheet(target, words.header)
    formats = [words.formats.get(column) for column in source.columns]
    return XlsxSheet(
        target, words.header, title=words.title, widths=source.widths, formats=formats
    )


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

    All of it in the calling process: the body of the export's worker process
    (``assessment.export_worker``, which the bot uses so that its event loop never
    builds a file), and of the tests of the pipeline itself.

    Raises:
        KeyError: No source of ``request.kind``.
        ValueError: The header does not fit the source's columns, or an unknown format.
    """
    source = SOURCES[request.kind]
    if len(words.header) != len(source.columns):
        raise ValueError(f"{len(words.header)} labels for {len(source.columns)} columns")
    if request.fmt not in FORMATS:
        raise ValueError(f"unknown format {request.fmt!r}")
    request = dataclasses.replace(
        request, key_task_kinds=key_task_kinds(policy), batch_size=request.rows_per_page
    )
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
