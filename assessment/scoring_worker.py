"""A whole period's batches scored in a worker process, so that scoring never holds the
bot's event loop.

Scoring a period is seconds of CPU in ``Decimal`` (100,000 people); in a thread it takes
the interpreter lock from the event loop (and from aiosqlite's thread), which makes the
scoring thread the run's critical path and stalls the loop. So the bot scores in one
long-lived child process (``ScoringWorker``), started with the ``spawn`` method (the
forkserver is the roster readers') when first needed and kept until the bot stops. It
runs ``children.NICENESS`` steps below the bot's CPU priority, as the export workers do:
on a busy machine the bot answers people first and the scoring takes the time left.

Each policy is sent to it once (the worker keeps the few it was given, by fingerprint,
each with its ``period_scoring.batch_job``); each batch goes as plain tuples
(``period_scoring.pack_rows``) and comes back scored as plain tuples
(``period_scoring.BatchScores``: rows ready to store), computed by
``period_scoring.score_batch``, the same function a run without a worker calls in a
thread. One batch is in the worker at a time; two runs at once take turns by batch.

A worker that dies (killed, out of memory, a crash in C), does not answer within
``timeout`` seconds, or fails on a batch fails that run with ``ScoringError``; a dead or
hung one is killed and the next batch starts a new one. Typical use, by the bot::

    worker = ScoringWorker()
    run = await score_period(database, policy, period, now=now, worker=worker)
    ...
    worker.close()  # at shutdown: the process stopped, a batch in flight fails
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing
import pickle
import threading
import time
import traceback
from collections.abc import Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from assessment.children import exit_text, lower_priority
from assessment.period_scoring import (
    BatchJob,
    BatchScores,
    PackedRows,
    batch_job,
    pack_rows,
    policy_fingerprint,
    score_batch,
    unpack_rows,
)
from config.policy import Policy, pickled
from storage.repositories.facts import FactRows

__all__ = ["START_TIMEOUT", "TIMEOUT", "ScoringError", "ScoringWorker"]

# Far longer than a batch takes on a busy machine (2,000 people: tens of ms of CPU).
TIMEOUT = 120.0
# A new worker's start: the interpreter and the scoring's imports, about a second.
START_TIMEOUT = 60.0
# Policies a worker keeps (each with its scorer), the least recently given dropped.
POLICIES_KEPT = 4


class ScoringError(RuntimeError):
    """A batch could not be scored: the worker died, hung, failed or is closed."""


class ScoringWorker:
    """Scores whole-period batches in one child process, started when first needed."""

    def __init__(self, *, timeout: float = TIMEOUT) -> None:
        self.timeout = timeout
        self._process: _Process | None = None
        # One request in the pipe at a time; held by the thread waiting for its answer.
        self._lock = threading.Lock()
        self._closed = False

    async def prepare(self, policy: Policy) -> str:
        """Start the worker if need be and give it ``policy`` (once); its key for ``score``.

        Raises:
            ScoringError: The worker could not start, died, or is closed.
        """
        return await asyncio.to_thread(self._prepare, policy)

    async def score(self, key: str, ids: Sequence[int], rows: FactRows) -> BatchScores:
        """``period_scoring.score_batch`` of one batch in the worker, under the policy
        ``prepare`` gave ``key``.

        Raises:
            ScoringError: The worker died, took longer than ``timeout``, failed on the
                batch (its traceback in the message), or is closed.
        """
        request = ("score", key, list(ids), pack_rows(rows))
        kind, value = await asyncio.to_thread(self._ask, request, key)
        if kind != "scored":
            raise ScoringError(f"the scoring worker failed on a batch:\n{value}")
        ready, waiting, unscorable = value
        return BatchScores(ready, waiting, unscorable)

    @property
    def pid(self) -> int | None:
        """The worker process's id, if one runs (for tests and diagnostics)."""
        process = self._process
        return None if process is None else process.process.pid

    @property
    def cpu_seconds(self) -> float:
        """The CPU time the current worker process had used at its last answer."""
        process = self._process
        return 0.0 if process is None else process.cpu_seconds

    def close(self) -> None:
        """Stop the worker; a batch still being scored fails with ``ScoringError``."""
        self._closed = True
        process, self._process = self._process, None
        if process is not None:
            process.kill()

    # In threads of the loop's executor: they only wait on the child's pipe.

    def _prepare(self, policy: Policy) -> str:
        key = policy_fingerprint(policy)
        with self._lock:
            process = self._running()
            if key not in process.policies:
                request = ("policy", key, pickled(policy))
                kind, value = process.ask(request, self.timeout, self)
                if kind != "ready":
                    raise ScoringError(f"the scoring worker could not take the policy:\n{value}")
                process.policies[key] = policy
                while len(process.policies) > POLICIES_KEPT:  # as the worker drops them
                    del process.policies[next(iter(process.policies))]
        return key

    def _ask(self, request: tuple[Any, ...], key: str) -> tuple[str, Any]:
        with self._lock:
            process = self._running()
            if key not in process.policies:
                # A new worker since ``prepare``: it has not been given the policy.
                raise ScoringError("the scoring worker was restarted during the run")
            return process.ask(request, self.timeout, self)

    def _running(self) -> _Process:
        if self._closed:
            raise ScoringError("the scoring worker is closed")
        if self._process is None:
            self._process = _Process.start()
        return self._process

    def _discard(self, process: _Process) -> None:
        process.kill()
        if self._process is process:
            self._process = None


class _Process:
    """One child process and our end of its pipe; used under its owner's lock."""

    def __init__(self, process: BaseProcess, connection: Connection) -> None:
        self.process = process
        self.connection = connection
        self.policies: dict[str, Policy] = {}
        self.cpu_seconds = 0.0

    @classmethod
    def start(cls) -> _Process:
        """Spawn a worker and wait until it is ready (blocking)."""
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe(duplex=True)
        process = context.Process(
            target=_serve, args=(theirs,), name="scoring-worker", daemon=True
        )
        process.start()
        theirs.close()
        worker = cls(process, ours)
        # A whole period's scoring waits while the bot answers people.
        if process.pid is not None:
            lower_priority(process.pid)
        try:
            if not ours.poll(START_TIMEOUT):
                raise ScoringError(f"the scoring worker did not start in {START_TIMEOUT:g} s")
            ours.recv()
        except (EOFError, OSError) as error:
            worker.kill()
            raise ScoringError(
                f"the scoring worker exited at start ({exit_text(worker.process)})"
            ) from error
        except BaseException:
            worker.kill()
            raise
        return worker

    def ask(
        self, request: tuple[Any, ...], timeout: float, owner: ScoringWorker
    ) -> tuple[str, Any]:
        """Send one request and wait for its answer (blocking).

        A worker that dies or does not answer is discarded (its answer, if late, would
        go to the next request).
        """
        try:
            self.connection.send(request)
            if not self.connection.poll(timeout):
                owner._discard(self)
                raise ScoringError(f"the scoring worker did not answer in {timeout:g} s")
            kind, value, self.cpu_seconds = self.connection.recv()
        except (EOFError, OSError) as error:
            self.process.join(1.0)
            text = exit_text(self.process)
            owner._discard(self)
            raise ScoringError(f"the scoring worker exited ({text})") from error
        return kind, value

    def kill(self) -> None:
        """Kill the process (if it still runs), reap it and close the pipe."""
        with contextlib.suppress(OSError, ValueError):
            if self.process.is_alive():
                self.process.kill()
            self.process.join(5.0)
        self.connection.close()


def _serve(connection: Connection) -> None:
    """The worker: say it is ready, then answer each request until the pipe closes."""
    jobs: dict[str, BatchJob] = {}
    # What start-up made lives as long as the worker: kept out of the collector's passes.
    gc.collect()
    gc.freeze()
    connection.send(("ready", None, time.process_time()))
    while True:
        try:
            request = connection.recv()
        except EOFError:
            return
        answer: tuple[str, Any]
        # A batch makes no cycles: no collector passes while it is scored (they would
        # walk its 100,000 new objects again and again); one young pass after it.
        gc.disable()
        try:
            answer = _answer(jobs, request)
        except Exception:
            answer = ("error", traceback.format_exc())
        finally:
            gc.enable()
        connection.send((*answer, time.process_time()))
        del answer, request
        gc.collect(0)


def _answer(jobs: dict[str, BatchJob], request: tuple[Any, ...]) -> tuple[str, Any]:
    if request[0] == "policy":
        _, key, blob = request
        # From the bot's own process, never from outside.
        policy = pickle.loads(blob)  # noqa: S301
        jobs.pop(key, None)
        jobs[key] = batch_job(policy)
        while len(jobs) > POLICIES_KEPT:
            del jobs[next(iter(jobs))]
        return "ready", None
    _, key, ids, packed = request
    rows: PackedRows = packed
    batch = score_batch(jobs[key], ids, unpack_rows(rows))
    return "scored", tuple(batch)
