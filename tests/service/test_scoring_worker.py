"""The whole period scored in the worker process stores what it stores scored in a thread;
a worker that dies or is closed fails the run clearly, and the next run starts a new one."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import delete, func, select

from assessment import period_scoring
from assessment.children import NICENESS
from assessment.period_scoring import batch_job, score_batch, score_period
from assessment.scoring_worker import ScoringError, ScoringWorker
from storage.engine import Database
from storage.enums import EntryStatus, RaterKind
from storage.models import PeriodScore
from storage.repositories.facts import FactRows, Subject
from tests.service.test_period_scoring import (
    NOVEMBER,
    NOW,
    POLICY,
    _stored,
    entry,
    org,
    person,
    points,
    rating,
)


@pytest.fixture(autouse=True)
def every_period_to_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """These small periods go to the worker as a period of a batch or more would."""
    monkeypatch.setattr(period_scoring, "WORKER_FROM", 1)


@pytest.fixture
def worker() -> Iterator[ScoringWorker]:
    scoring = ScoringWorker(timeout=60.0)
    yield scoring
    scoring.close()


async def _period(db: Database) -> list[int]:
    # Two departments; quantities, ratings of two kinds, points (one reason not ASCII,
    # one disqualifying), misconduct, a service post, and someone the policy cannot score.
    async with db.uow() as uow:
        o = await org(uow, departments=2)
        people = [
            await person(uow, o, f"P{n}", department=o.departments[n % 2]) for n in range(17)
        ]
        clerk = await person(uow, o, "C1", post=o.service_post, review_post_type="service")
        unknown = await person(uow, o, "U1", review_post_type="astronaut")
        for n, staff_id in enumerate(people):
            uow.session.add_all(
                [
                    entry(staff_id, date(2026, 11, 2), "cases_handled", str(10 + 7 * n)),
                    entry(staff_id, date(2026, 11, 3), "case_closure_rate", f"{60 + 3 * n}.25"),
                    rating(o, staff_id, "enforcement_compliance", RaterKind.SUPERVISOR, "b",
                           1 + n % 5),
                    rating(o, staff_id, "enforcement_compliance", RaterKind.SELF, "s",
                           1 + (n * 3) % 5),
                ]
            )  # fmt: skip
        uow.session.add_all(
            [
                points(o, people[1], "3", "帮助同事 \"quoted\""),
                points(o, people[2], "-2", "late, twice"),
                points(o, people[3], "-1", "falsified", disqualifying=True),
                entry(people[4], date(2026, 11, 4), None, None, EntryStatus.REJECTED,
                      misconduct=True),
            ]
        )  # fmt: skip
        await uow.commit()
    return [*people, clerk, unknown]


def _computed(rows: dict[int, PeriodScore]) -> dict[int, tuple[object, ...]]:
    return {
        staff_id: (row.score, row.grade_id, row.by_score_grade_id, row.disqualified,
                   row.breakdown, row.department_id)
        for staff_id, row in rows.items()
    }  # fmt: skip


async def test_the_worker_process_stores_exactly_what_the_thread_stores(
    db: Database, worker: ScoringWorker
) -> None:
    everyone = await _period(db)
    in_thread = await score_period(db, POLICY, NOVEMBER, now=NOW, batch_size=4)
    by_thread = _computed(await _stored(db))
    async with db.uow() as uow:
        await uow.session.execute(delete(PeriodScore))
        await uow.commit()
    in_worker = await score_period(db, POLICY, NOVEMBER, now=NOW, batch_size=4, worker=worker)
    assert worker.pid is not None and worker.pid != os.getpid()
    assert _computed(await _stored(db)) == by_thread
    assert (in_worker.scored, in_worker.grades, in_worker.unscorable) == (
        in_thread.scored,
        in_thread.grades,
        in_thread.unscorable,
    )
    assert in_worker.scored == len(everyone) - 1 and in_worker.unscorable == [everyone[-1]]
    # Both kinds were there: grades settled by the score, the top grade under the quota,
    # and the top grade barred.
    assert any(by == POLICY.top_grade.id for _, _, by, *_ in by_thread.values())
    assert any(disqualified for _, _, _, disqualified, *_ in by_thread.values())
    assert len({grade for _, grade, *_ in by_thread.values()}) >= 3
    # A second run reuses the worker (and the policy it was given).
    pid = worker.pid
    await score_period(db, POLICY, NOVEMBER, now=NOW, batch_size=7, worker=worker)
    assert worker.pid == pid
    assert _computed(await _stored(db)) == by_thread


async def test_a_worker_that_dies_fails_the_run_and_the_next_run_starts_a_new_one(
    db: Database, worker: ScoringWorker
) -> None:
    await _period(db)
    await worker.prepare(POLICY)
    dead = worker.pid
    assert dead is not None
    os.kill(dead, signal.SIGKILL)
    with pytest.raises(ScoringError, match="the scoring worker exited"):
        await score_period(db, POLICY, NOVEMBER, now=NOW, batch_size=4, worker=worker)
    async with db.uow() as uow:
        # It failed on the first batch: nothing was written.
        assert await uow.session.scalar(select(func.count()).select_from(PeriodScore)) == 0
    run = await score_period(db, POLICY, NOVEMBER, now=NOW, batch_size=4, worker=worker)
    assert worker.pid not in (None, dead)
    assert run.scored == 18 and len(await _stored(db)) == 18


async def test_a_closed_worker_refuses_and_its_process_is_gone(
    db: Database, worker: ScoringWorker
) -> None:
    await _period(db)
    await worker.prepare(POLICY)
    pid = worker.pid
    assert pid is not None
    worker.close()
    assert worker.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(ScoringError, match="closed"):
        await score_period(db, POLICY, NOVEMBER, now=NOW, worker=worker)


async def test_a_batch_the_worker_fails_on_fails_the_run_with_its_traceback(
    worker: ScoringWorker,
) -> None:
    key = await worker.prepare(POLICY)
    pid = worker.pid
    subject = Subject(staff_id=7, post_type="law_enforcement", department_id=1, from_review=True)
    good = FactRows([subject], [(7, "cases_handled", "12.5", 2, 0)], [], [], 1)
    bad = FactRows([subject], [(7, "cases_handled", "twelve", 2, 0)], [], [], 1)
    with pytest.raises(ScoringError, match=r"(?s)failed on a batch.*InvalidOperation"):
        await worker.score(key, [7], bad)
    # The worker goes on: the next batch is scored, as in a thread.
    scored = await worker.score(key, [7], good)
    assert worker.pid == pid
    assert scored == score_batch(batch_job(POLICY), [7], good)
    assert len(scored.ready) + len(scored.waiting) == 1


async def test_the_worker_runs_below_the_bots_priority(worker: ScoringWorker) -> None:
    # A whole period's scoring takes the CPU the bot leaves: people are answered first.
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    await worker.prepare(POLICY)
    assert worker.pid is not None
    assert os.getpriority(os.PRIO_PROCESS, worker.pid) == min(19, ours + NICENESS)
    assert os.getpriority(os.PRIO_PROCESS, 0) == ours, "the bot's own priority untouched"
