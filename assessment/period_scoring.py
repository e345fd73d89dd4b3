"""From a period's stored facts to scores and grades: one person's, and the whole period's.

- ``facts_of(uow, period, staff_ids)`` reads the facts (``PeriodFacts``) of a batch of
  people through the one facts reader (``storage.repositories.facts``), aggregated in SQL.
- ``score_one(uow, policy, period, staff_id)`` is the supervisor's card: the person's
  score now, and the grade it would give now under the quota with the top-grade places
  left in their department.
- ``score_period(store, policy, period, now=...)`` scores everyone reviewable in the
  period, grades them all under the quota (``grading.assign_grades``, the one place the
  quota is applied) and stores the results (``period_scores``), in bounded batches.

**Who is scored.** Everyone with a review row for the period (``period_reviews``) that
HR has not excluded, reviewed as the row says (post type and department fixed when it
was created; a second-line person is reviewed against the post type they hold now).
People without a review row are not scored by the whole-period run (nobody has started
their check: they are counted as ``without_review`` in its summary); ``facts_of`` and
``score_one`` still read them, as their current post and department say. A person whose
post type is not known (no post, or a post type the policy does not have) is not scored
and is counted as ``unscorable``.

**The stored breakdown.** A score's breakdown is stored as the facts it was computed
from (``breakdown_facts``: compact JSON of the quantities, ratings, points and
misconduct, the score, and the fingerprint of the policy), not as the full explanation:
the full breakdown follows from them deterministically, ``breakdown_of(policy, stored)``
rebuilding it with ``Scorer.explain`` (the same code that computed the score). Building
the full explanation for 100,000 people costs 40-70 us each, several times the scoring
itself; storing the facts keeps a whole run near the cost of the aggregation. The
fingerprint says whether the policy is still the one the score was computed under
(``breakdown_of`` refuses a different one).
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from assessment.collector import full_passes_held
from assessment.grading import (
    Approval,
    GradeAssignment,
    QuotaStatus,
    ScopeKey,
    Scored,
    assign_grades,
    quota_status,
    scope_of,
    settled_grades,
)
from assessment.peers import peers_counted
from assessment.periods import Period, Stage, current_stage, stored_stage
from assessment.quota import approvals
from assessment.scoring import (
    Breakdown,
    PeriodFacts,
    PointsFact,
    QuantityFacts,
    RatingFacts,
    Score,
    Scorer,
)
from config.policy import RATERS, Policy, Rater
from storage.engine import Database
from storage.repositories.facts import FactRows, Subject
from storage.repositories.scores import ComputedScore, ResultRow
from storage.uow import UnitOfWork

if TYPE_CHECKING:
    from assessment.scoring_worker import ScoringWorker

__all__ = [
    "BATCH_SIZE",
    "FACTS_FORMAT",
    "WRITE_BATCH_SIZE",
    "BatchJob",
    "BatchScores",
    "GradePreview",
    "PeriodResults",
    "PeriodRun",
    "PersonStage",
    "StalePolicyError",
    "batch_job",
    "breakdown_facts",
    "breakdown_facts_json",
    "breakdown_of",
    "facts_from_breakdown",
    "facts_from_rows",
    "facts_of",
    "pack_rows",
    "period_results",
    "person_stage",
    "policy_fingerprint",
    "score_batch",
    "score_one",
    "score_period",
    "unpack_rows",
    "without_peers",
]

# People per batch: one set of facts queries and one scoring hand-off to a thread.
BATCH_SIZE = 2000
# Scores per write: one short transaction (on SQLite, a short hold of its write lock).
WRITE_BATCH_SIZE = 500
# A period whose first batch has at least this many people is scored in the worker
# process; a smaller one (every office of a few hundred) in a thread, for a few
# milliseconds, rather than waiting a second for a process to start.
WORKER_FROM = BATCH_SIZE
# People the scoring thread scores before it lets the event loop's thread have the GIL.
_YIELD_EVERY = 64
FACTS_FORMAT = "facts/1"
_KNOWN_RATERS: frozenset[str] = frozenset(RATERS)


# --- reading facts --------------------------------------------------------------------


async def _period_id(uow: UnitOfWork, period: Period) -> int | None:
    stored = await uow.periods.by_key(period.key)
    return None if stored is None else stored.id


def facts_from_rows(rows: FactRows) -> dict[int, PeriodFacts]:
    """Read a batch's aggregated rows (``FactsRepository.rows``) into ``PeriodFacts``;
    people without a post type are left out. Pure: a whole run does this in a thread."""
    # A whole run reads 350,000 entry groups here: each person's dict is made once.
    scale = rows.total_scale
    divisor = Decimal(scale)
    quantities: dict[int, dict[str, QuantityFacts]] = {}
    misconduct: set[int] = set()
    for staff_id, indicator_id, total, count, caught in rows.entries:
        if caught:
            misconduct.add(staff_id)
        if count and indicator_id is not None:
            exact = Decimal(total) if scale == 1 else Decimal(total) / divisor
            theirs = quantities.get(staff_id)
            if theirs is None:
                theirs = quantities[staff_id] = {}
            theirs[indicator_id] = QuantityFacts(exact, count)
    ratings: dict[int, dict[tuple[str, Rater], RatingFacts]] = {}
    for staff_id, indicator_id, kind, total, count in rows.ratings:
        if kind in _KNOWN_RATERS:
            rated = ratings.get(staff_id)
            if rated is None:
                rated = ratings[staff_id] = {}
            rated[(indicator_id, kind)] = RatingFacts(int(total), int(count))  # type: ignore[index]
    points: dict[int, list[PointsFact]] = {}
    for staff_id, amount, reason, disqualifying in rows.points:
        points.setdefault(staff_id, []).append(
            PointsFact(Decimal(amount), reason, bool(disqualifying))
        )
    result: dict[int, PeriodFacts] = {}
    for subject in rows.subjects:
        post_type = subject.post_type
        if post_type is None:
            continue
        staff_id = subject.staff_id
        given = points.get(staff_id)
        result[staff_id] = PeriodFacts(
            staff_id,
            subject.department_id,
            post_type,
            quantities.get(staff_id) or {},
            ratings.get(staff_id) or {},
            () if given is None else tuple(given),
            staff_id in misconduct,
        )
    return result


def without_peers(rows: FactRows) -> FactRows:
    """``rows`` without the peers' ratings: a period's peer ratings count once they are
    closed (``peers.peers_counted``), so no score moves as one peer rates."""
    return FactRows(
        rows.subjects,
        rows.entries,
        [row for row in rows.ratings if row[2] != "peer"],
        rows.points,
        rows.total_scale,
    )


async def _rows(uow: UnitOfWork, period: Period, staff_ids: Sequence[int]) -> FactRows:
    return await uow.facts.rows(
        await _period_id(uow, period), staff_ids, period.starts_on, period.ends_on
    )


async def facts_of(
    uow: UnitOfWork, period: Period, staff_ids: Sequence[int], *, with_peers: bool = True
) -> dict[int, PeriodFacts]:
    """The scoring facts of ``staff_ids`` for ``period``, aggregated in the database.

    Per person and indicator: the total and count of their APPROVED entries dated in the
    period that carry a quantity (the scorer takes the mean where the indicator says
    ``aggregate = "mean"``); per (indicator, rater kind): the ratings' sum and count; the
    points not withdrawn, in the order given; ``misconduct`` when an entry dated in the
    period was rejected for misconduct. Each is reviewed as their review row says (post
    type and department), else, with no row yet (or a row without a post type), as
    their current post says.

    People without a post type (no review row naming one and no post) are left out of
    the result, as are unknown staff ids. Call with at most a few thousand ids at a time
    (``BATCH_SIZE``). ``with_peers`` False leaves the peers' ratings out (``without_peers``).
    """
    if not staff_ids:
        return {}
    rows = await _rows(uow, period, staff_ids)
    return facts_from_rows(rows if with_peers else without_peers(rows))


# --- the stored breakdown -------------------------------------------------------------


def policy_fingerprint(policy: Policy) -> str:
    """A short digest of the whole policy, stored with each computed score."""
    return hashlib.sha256(policy.model_dump_json().encode()).hexdigest()[:16]


def breakdown_facts(facts: PeriodFacts, value: Decimal, fingerprint: str) -> dict[str, Any]:
    """What is stored as a score's breakdown: the facts it was computed from, compactly.

    ``breakdown_of`` rebuilds the full breakdown from it. Decimals are strings.
    """
    return {
        "format": FACTS_FORMAT,
        "policy": fingerprint,
        "post_type": facts.post_type,
        "score": str(value),
        "q": {key: [str(q.total), q.count] for key, q in facts.quantities.items()},
        "r": [[key[0], key[1], r.sum, r.count] for key, r in facts.ratings.items()],
        "p": [[str(p.amount), p.reason, p.disqualifying] for p in facts.points],
        "m": facts.misconduct,
    }


def breakdown_facts_json(
    facts: PeriodFacts, value: Decimal, fingerprint: str, indicator_ids: frozenset[str]
) -> str:
    """``breakdown_facts`` as JSON text, written directly (a whole run writes 100,000).

    Only the facts of ``indicator_ids`` (the policy's: identifiers, so they need no
    escaping) are kept; no score reads any other. The post type is the policy's too;
    the points' reasons are escaped as JSON.
    """
    quantities = ",".join(
        f'"{key}":["{q.total}",{q.count}]'
        for key, q in facts.quantities.items()
        if key in indicator_ids
    )
    ratings = ",".join(
        f'["{key[0]}","{key[1]}",{r.sum},{r.count}]'
        for key, r in facts.ratings.items()
        if key[0] in indicator_ids
    )
    points = ",".join(
        f'["{p.amount}",{json.dumps(p.reason, ensure_ascii=False)},'
        f"{'true' if p.disqualifying else 'false'}]"
        for p in facts.points
    )
    return (
        f'{{"format":"{FACTS_FORMAT}","policy":"{fingerprint}","post_type":"{facts.post_type}",'
        f'"score":"{value}","q":{{{quantities}}},"r":[{ratings}],"p":[{points}],'
        f'"m":{"true" if facts.misconduct else "false"}}}'
    )


class StalePolicyError(Exception):
    """A stored breakdown was computed under another policy than the one given."""


def facts_from_breakdown(
    staff_id: int, department_id: int, stored: Mapping[str, Any]
) -> PeriodFacts:
    """The facts a stored breakdown (``breakdown_facts``) was computed from.

    Raises:
        ValueError: If it is not in the facts format.
    """
    if stored.get("format") != FACTS_FORMAT:
        raise ValueError(f"unknown stored breakdown format {stored.get('format')!r}")
    return PeriodFacts(
        staff_id=staff_id,
        department_id=department_id,
        post_type=stored["post_type"],
        quantities={key: QuantityFacts(Decimal(t), c) for key, (t, c) in stored["q"].items()},
        ratings={(i, r): RatingFacts(s, c) for i, r, s, c in stored["r"]},
        points=tuple(PointsFact(Decimal(a), reason, d) for a, reason, d in stored["p"]),
        misconduct=stored["m"],
    )


def breakdown_of(
    policy: Policy, staff_id: int, department_id: int, stored: Mapping[str, Any]
) -> Breakdown:
    """The full breakdown of a stored score, rebuilt from its stored facts.

    Raises:
        StalePolicyError: If the score was computed under another policy (recompute it).
        ValueError: If the stored breakdown is not in the facts format.
    """
    facts = facts_from_breakdown(staff_id, department_id, stored)
    if stored.get("policy") != policy_fingerprint(policy):
        raise StalePolicyError(f"staff {staff_id}: computed under another policy")
    return Scorer(policy).explain(facts)


# --- one person: the supervisor's card -------------------------------------------------


class GradePreview(NamedTuple):
    """The grade a person's score would give now, under the quota of their scope.

    Attributes:
        assignment: As ``assign_grades`` gives it with everyone in the scope as they
            stand now (``capped``/``barred`` say why the top grade is withheld).
        quota: The scope's top-grade quota: its people, cap, places taken and ``left``.
    """

    assignment: GradeAssignment
    quota: QuotaStatus

    @property
    def grade_id(self) -> str:
        return self.assignment.grade_id

    @property
    def places_left(self) -> int:
        """Top-grade places still free in the scope (the person's own counted)."""
        return self.quota.left


def _scored(score: Score) -> Scored:
    return Scored(score.staff_id, score.department_id, score.value, score.disqualified)


def _known(policy: Policy, facts: Iterable[PeriodFacts]) -> list[PeriodFacts]:
    return [item for item in facts if item.post_type in policy.post_types]


async def _fresh_scores(
    uow: UnitOfWork, scorer: Scorer, policy: Policy, period: Period, staff_ids: Sequence[int],
    with_peers: bool,
) -> list[Scored]:  # fmt: skip
    scored: list[Scored] = []
    for start in range(0, len(staff_ids), BATCH_SIZE):
        chunk = staff_ids[start : start + BATCH_SIZE]
        facts = await facts_of(uow, period, chunk, with_peers=with_peers)
        scored.extend(_scored(scorer.score(item)) for item in _known(policy, facts.values()))
    return scored


async def score_one(
    uow: UnitOfWork, policy: Policy, period: Period, staff_id: int, *, with_peers: bool = True
) -> tuple[Score, GradePreview] | None:
    """A person's score for ``period`` now, and the grade it would give now.

    The grade comes from ``assign_grades`` over everyone in the person's quota scope
    as they stand now: with the quota per department, everyone counted in the
    department (review rows not excluded, and the person), scored afresh from their
    facts; with one quota for the whole organisation, the others' stored scores (the
    latest whole-period run) and the person's fresh one. Reads only; writes nothing.
    ``with_peers`` False: everyone as if no peer had rated (their ratings still open).

    Returns:
        The score (``Score.breakdown`` explains it) and the grade preview with the
        top-grade places left in the scope; None if the person cannot be scored (no
        post type, or one the policy does not know).
    """
    own = (await facts_of(uow, period, [staff_id], with_peers=with_peers)).get(staff_id)
    if own is None or own.post_type not in policy.post_types:
        return None
    scorer = Scorer(policy)
    score = scorer.score(own)
    me = _scored(score)
    period_id = await _period_id(uow, period)
    scope = scope_of(policy, own.department_id)
    others: list[Scored] = []
    if period_id is not None:
        if policy.quota.scope == "department":
            members = await uow.facts.scope_members(period_id, own.department_id)
            others_ids = [member for member in members if member != staff_id]
            others = await _fresh_scores(uow, scorer, policy, period, others_ids, with_peers)
            # A colleague counted in this department by their review row is in its scope.
            others = [Scored(o.staff_id, own.department_id, o.score, o.disqualified)
                      for o in others]  # fmt: skip
        else:
            others = [
                Scored(row.staff_id, row.department_id, row.score, row.disqualified)
                for row in await uow.scores.of_period(period_id)
                if row.staff_id != staff_id
            ]
    people = [me, *others]
    approved = period_id is not None and (await approvals(uow, period_id)).get(scope, False)
    assignment = assign_grades(policy, people, with_approval={scope: approved})[staff_id]
    status = quota_status(policy, people, with_approval=approved)
    return score, GradePreview(assignment, QuotaStatus(scope, status.people, status.cap,
                                                       status.taken))  # fmt: skip


# --- the whole period ------------------------------------------------------------------


@dataclass(slots=True)
class PeriodRun:
    """What a whole-period computation did.

    Attributes:
        period: The period's key.
        published: The period is published: nothing was computed or changed.
        scored: People scored, graded and stored.
        without_review: People not left (active or second line) with no review row for
            the period: not scored.
        unscorable: Staff ids with a review row but no post type the policy knows.
        grades: How many received each grade (under the quota).
        removed: Stored scores removed because their person is no longer reviewable
            (excluded by HR).
    """

    period: str
    published: bool = False
    scored: int = 0
    without_review: int = 0
    unscorable: list[int] = field(default_factory=list)
    grades: Counter[str] = field(default_factory=Counter)
    removed: int = 0


# One scored person of a run whose grade waits for everyone in their scope (the breakdown
# as JSON text); a settled one is kept as its ``ComputedScore``.
class _Result(NamedTuple):
    staff_id: int
    department_id: int
    score: Decimal
    disqualified: bool
    breakdown: str


# A settled person as a batch's scoring gives them: ``ComputedScore``'s fields, in order.
ReadyRow = tuple[int, int, Decimal, str, str, bool, str]
# A person whose grade waits: ``_Result``'s fields, in order.
WaitingRow = tuple[int, int, Decimal, bool, str]


class BatchScores(NamedTuple):
    """One batch scored (``score_batch``), as plain tuples (they cross a process's pipe).

    Attributes:
        ready: The settled people, graded, ready to store (``ReadyRow``).
        waiting: Those whose grade waits for everyone in their scope (``WaitingRow``).
        unscorable: Staff ids with no post type the policy knows.
    """

    ready: list[ReadyRow]
    waiting: list[WaitingRow]
    unscorable: list[int]


class BatchJob(NamedTuple):
    """What scoring a batch needs from the policy, made once (``batch_job``)."""

    scorer: Scorer
    post_types: Mapping[str, Any]
    settled: Callable[[Scored], GradeAssignment | None]
    fingerprint: str
    indicator_ids: frozenset[str]


def batch_job(policy: Policy) -> BatchJob:
    """The scorer, the settled grades and the fingerprint of ``policy``, for ``score_batch``."""
    return BatchJob(
        Scorer(policy),
        policy.post_types,
        settled_grades(policy),
        policy_fingerprint(policy),
        frozenset(
            indicator.id for indicators in policy.indicators.values() for indicator in indicators
        ),
    )


# A batch's facts as they cross a process's pipe: ``FactRows``' fields as plain tuples
# (the subjects as (staff id, post type, department id, from review)).
PackedRows = tuple[
    list[tuple[int, str | None, int, bool]],
    list[tuple[Any, ...]],
    list[tuple[Any, ...]],
    list[tuple[Any, ...]],
    int,
]


def pack_rows(rows: FactRows) -> PackedRows:
    """``rows`` as plain tuples (the drivers' rows are not all tuples, nor picklable).

    Exact decimal totals (PostgreSQL's) go as their text, which pickles several times
    faster than a ``Decimal`` and which ``facts_from_rows`` reads to the same ``Decimal``.
    """
    entries: list[tuple[Any, ...]]
    if rows.total_scale == 1:
        entries = [
            (staff_id, indicator_id, None if total is None else str(total), count, caught)
            for staff_id, indicator_id, total, count, caught in rows.entries
        ]
    else:
        entries = [tuple(row) for row in rows.entries]
    return (
        [(s.staff_id, s.post_type, s.department_id, s.from_review) for s in rows.subjects],
        entries,
        [tuple(row) for row in rows.ratings],
        [tuple(row) for row in rows.points],
        rows.total_scale,
    )


def unpack_rows(packed: PackedRows) -> FactRows:
    """The ``FactRows`` that ``pack_rows`` packed."""
    subjects, entries, ratings, points, scale = packed
    return FactRows(
        [Subject(*subject) for subject in subjects],
        cast(list[tuple[int, str | None, Any, int, int]], entries),
        cast(list[tuple[int, str, str, int, int]], ratings),
        cast(list[tuple[int, Decimal, str, bool]], points),
        scale,
    )


def score_batch(
    job: BatchJob, ids: Sequence[int], rows: FactRows, *, pause: bool = False
) -> BatchScores:
    """Score one batch of a whole-period run: the one definition of that work, done in
    the scoring worker process (``assessment.scoring_worker``) or in a thread.

    Everyone of ``ids`` is scored from ``rows`` (their breakdown made JSON text); those
    whose grade their score settles (``grading.settled_grades``) are graded and ready to
    store; the others wait. Pure. ``pause``: in a thread of the bot's process, let the
    event loop's thread have the interpreter lock every few people.
    """
    facts = facts_from_rows(rows)
    batch = BatchScores([], [], [])
    scorer, post_types, settled, fingerprint, indicator_ids = job
    for count, staff_id in enumerate(ids, start=1):
        if pause and not count % _YIELD_EVERY:
            # A thread holding the GIL keeps the event loop waiting for it up to the
            # switch interval (5 ms) at each of its wake-ups; sleeping releases it now.
            time.sleep(0)
        item = facts.get(staff_id)
        if item is None or item.post_type not in post_types:
            batch.unscorable.append(staff_id)
            continue
        score = scorer.score(item)
        value = score.value
        disqualified = score.disqualified
        department_id = item.department_id
        breakdown = breakdown_facts_json(item, value, fingerprint, indicator_ids)
        grade = settled(Scored(staff_id, department_id, value, disqualified))
        if grade is None:
            batch.waiting.append((staff_id, department_id, value, disqualified, breakdown))
        else:
            batch.ready.append(
                (
                    staff_id,
                    department_id,
                    value,
                    grade.grade_id,
                    grade.by_score_grade_id,
                    disqualified,
                    breakdown,
                )
            )
    return batch


def _computed(result: _Result, grade: GradeAssignment) -> ComputedScore:
    return ComputedScore(
        result.staff_id,
        result.department_id,
        result.score,
        grade.grade_id,
        grade.by_score_grade_id,
        result.disqualified,
        result.breakdown,
    )


def _grade_all(
    policy: Policy,
    waiting: Sequence[_Result],
    approved: Approval,
    settled: Mapping[ScopeKey, int],
) -> tuple[dict[int, GradeAssignment], list[ComputedScore]]:
    # Those whose grade waited graded under the quota (its wider share where approved),
    # the people whose grade their score settled counted in their scopes, and their
    # results, to store.
    grades = assign_grades(
        policy,
        [Scored(r.staff_id, r.department_id, r.score, r.disqualified) for r in waiting],
        with_approval=approved,
        also_counted=settled,
    )
    return grades, [_computed(r, grades[r.staff_id]) for r in waiting]


class _Store:
    """Short units of work on a database (a background job's: on SQLite, people's writes
    go before its writes), or the caller's one unit of work."""

    def __init__(self, store: Database | UnitOfWork) -> None:
        self._database = store if isinstance(store, Database) else None
        self._uow = store if isinstance(store, UnitOfWork) else None

    async def run(self, work: Any, *, write: bool = False) -> Any:
        if self._uow is not None:
            return await work(self._uow)
        assert self._database is not None
        async with self._database.uow(background=True) as uow:
            result = await work(uow)
            if write:
                await uow.commit()
            return result


async def score_period(
    store: Database | UnitOfWork,
    policy: Policy,
    period: Period,
    *,
    now: datetime,
    batch_size: int = BATCH_SIZE,
    worker: ScoringWorker | None = None,
    zone: tzinfo = UTC,
) -> PeriodRun:
    """Score, grade and store everyone reviewable in ``period``; safe to run at any time.

    The peers' ratings count once they are closed (``peers.peers_counted``: from
    calibration, on the organisation's day in ``zone``); before, everyone is scored as if
    no peer had rated, so no stored score moves as one peer rates.

    Given a ``Database``, every batch reads and writes in a short transaction of its own
    (committed); given a ``UnitOfWork``, everything runs in it and the caller commits.
    Recomputing is idempotent: each person's row is replaced (upsert), except what HR
    and the person did with it (a calibrated grade is kept beside the new computed one;
    publication; reading). A published period is not recomputed. Scores of people no
    longer reviewable (excluded) are removed unless published.

    Batch by batch, one step at a time (so that on a small machine the bot keeps a core
    for people): the database aggregates a batch, it is scored, and its settled results
    are written (people whose score does not reach the top grade:
    ``grading.settled_grades``, about 95% of them); the others are written once everyone
    is graded. A run that fails part-way has replaced some people's rows and not others
    (as a failed write always could); running it again puts everything right.

    The event loop keeps its turns: facts are aggregated by the database a batch at a
    time, each batch is scored (``score_batch``) in ``worker``'s process (the bot's: it
    then takes none of the loop's interpreter lock) when the first batch holds at least
    ``WORKER_FROM`` people, otherwise (or without a worker) in a thread, the
    grading runs in a thread, and full garbage-collector passes are held off for the run.

    Raises:
        ScoringError: The worker process died, hung or failed on a batch (from
            ``assessment.scoring_worker``); what was written before stays written.
    """
    run = PeriodRun(period.key)
    runner = _Store(store)

    async def begin(uow: UnitOfWork) -> tuple[int | None, bool, int, bool]:
        stored = await uow.periods.by_key(period.key)
        if stored is None:
            return None, False, await uow.facts.without_review(None), False
        today = now.astimezone(zone).date()
        return (
            stored.id,
            stored.published_at is not None,
            await uow.facts.without_review(stored.id),
            peers_counted(stored_stage(period, stored, today, policy, zone)),
        )

    period_id, published, run.without_review, with_peers = await runner.run(begin)
    if published:
        run.published = True
        return run
    if period_id is None:
        return run
    job = batch_job(policy)
    # The worker, started and given the policy once the first batch shows it is worth it.
    prepared: asyncio.Future[Any] | None = None
    # Everyone stored as scored, counted by quota scope and by grade, and how many scored.
    settled: Counter[ScopeKey] = Counter()
    given: Counter[str] = Counter()
    scored_count = 0

    async def read(after: int) -> tuple[list[int], FactRows | None]:
        async def work(uow: UnitOfWork) -> tuple[list[int], FactRows | None]:
            subjects = await uow.facts.reviewable_subjects(
                period_id, after=after, limit=batch_size
            )
            ids = [subject.staff_id for subject in subjects]
            if not ids:
                return ids, None
            rows = await uow.facts.rows(
                period_id, ids, period.starts_on, period.ends_on, subjects=subjects
            )
            return ids, rows if with_peers else without_peers(rows)

        return cast(tuple[list[int], "FactRows | None"], await runner.run(work))

    # Written in smaller batches than read: each holds SQLite's one write lock.
    write_size = max(1, min(batch_size, WRITE_BATCH_SIZE))

    async def save(computed: Sequence[ComputedScore]) -> None:
        for start in range(0, len(computed), write_size):
            chunk = list(computed[start : start + write_size])

            async def write(uow: UnitOfWork, chunk: list[ComputedScore] = chunk) -> None:
                await uow.scores.store(period_id, chunk, now=now)

            await runner.run(write, write=True)
            await asyncio.sleep(0)

    async def scored(ids: list[int], rows: FactRows) -> BatchScores:
        if worker is None or prepared is None:
            return await asyncio.to_thread(score_batch, job, ids, rows, pause=True)
        return await worker.score(await prepared, ids, rows)

    # Scored people whose grade waits for everyone in their scope (their score reaches
    # the top grade, which the quota caps); the others are stored as they are scored.
    waiting: list[_Result] = []
    with full_passes_held():
        try:
            ids, rows = await read(0)
            if worker is not None and len(ids) >= WORKER_FROM:
                prepared = asyncio.ensure_future(worker.prepare(policy))
            while rows is not None:
                # One step at a time: the database aggregates a batch, the worker scores
                # it, its settled results are written, and only then is the next batch
                # read. Overlapping the three (a pipeline) finished 30-45% sooner on a
                # quiet machine, but took both of its cores from the bot while people
                # wrote: run (e)'s p99 on PostgreSQL 126-497 ms against 58-94 ms, on
                # SQLite 109 against 45-55 ms.
                batch = await scored(ids, rows)
                ready = [ComputedScore(*row) for row in batch.ready]
                held = [_Result(*row) for row in batch.waiting]
                for result in ready:
                    settled[scope_of(policy, result.department_id)] += 1
                    given[result.grade_id] += 1
                scored_count += len(ready) + len(held)
                waiting.extend(held)
                run.unscorable.extend(batch.unscorable)
                await save(ready)
                ids, rows = await read(ids[-1])
        finally:
            # On an error: nothing left running (each write is its own transaction).
            if prepared is not None and not prepared.done():
                prepared.cancel()
                await asyncio.gather(prepared, return_exceptions=True)
        # The scopes with the wider share approved (``assessment.quota``).
        approved = await runner.run(lambda uow: approvals(uow, period_id))
        grades, graded = await asyncio.to_thread(_grade_all, policy, waiting, approved, settled)
        await save(graded)

        async def tidy(uow: UnitOfWork) -> int:
            # Every person scored has a row now: more rows, and some are stale.
            if await uow.scores.count(period_id) <= scored_count:
                return 0
            return await uow.scores.remove_unreviewable(period_id)

        run.removed = await runner.run(tidy, write=True)
    run.scored = scored_count
    given.update(assignment.grade_id for assignment in grades.values())
    run.grades = given
    return run


# --- what a period's results look like now (``workledger results``) --------------------


class PersonStage(enum.StrEnum):
    """Where one person's check for a period stands."""

    OPEN = "open"  # nothing done yet
    SELF_ASSESSED = "self_assessed"
    SIGNED_OFF = "signed_off"
    REOPENED = "reopened"  # HR reopened it; not signed off again yet
    EXCLUDED = "excluded"  # HR left them out, with a reason
    PUBLISHED = "published"
    READ = "read"  # published, and they pressed "I have read it"


def person_stage(row: ResultRow, *, period_published: bool) -> PersonStage:
    """The stage of one person's check, from their review and score rows."""
    if row.excluded_at is not None:
        return PersonStage.EXCLUDED
    if row.read_at is not None:
        return PersonStage.READ
    if row.published_at is not None or period_published:
        return PersonStage.PUBLISHED
    if row.reopened_at is not None and row.signed_off_at is None:
        return PersonStage.REOPENED
    if row.signed_off_at is not None:
        return PersonStage.SIGNED_OFF
    if row.self_submitted_at is not None:
        return PersonStage.SELF_ASSESSED
    return PersonStage.OPEN


@dataclass(frozen=True, slots=True)
class PeriodResults:
    """A period's results as stored now: its stage and everyone with a review row."""

    period: Period
    stage: Stage
    stored: bool
    published: bool
    people: list[tuple[ResultRow, PersonStage]]
    without_review: int


async def period_results(
    uow: UnitOfWork, policy: Policy, period: Period, *, today: date, zone: tzinfo
) -> PeriodResults:
    """Everyone reviewed in ``period`` with their stage and stored score and grade (what
    the last whole-period run computed, and HR's calibrated grade); reads only."""
    stage = await current_stage(uow, period, today, policy, zone)
    stored = await uow.periods.by_key(period.key)
    if stored is None:
        return PeriodResults(period, stage, False, False, [], await uow.facts.without_review(None))
    published = stored.published_at is not None
    rows = await uow.scores.results(stored.id)
    return PeriodResults(
        period,
        stage,
        True,
        published,
        [(row, person_stage(row, period_published=published)) for row in rows],
        await uow.facts.without_review(stored.id),
    )
