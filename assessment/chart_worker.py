"""Charts drawn in worker processes, so that drawing never holds the bot's event loop.

A chart is 5 ms of CPU in matplotlib, 35 ms when its background is new; on the loop,
or in a thread (which takes the interpreter lock), a department's notices would stall
every chat. So charts are
drawn by long-lived worker processes (``workers``, one by default), each started once
with the ``spawn`` method (it leaves the forkserver to the roster readers), warmed up
once (matplotlib imported, fonts found, the figure built), then fed one chart at a time
over a pipe; the PNG comes back as bytes and is the caller's to send and drop. A caller
waits for a free worker, so no more than ``workers`` charts are in flight at once.
A renderer belongs to the event loop it is first used in: the bot makes one at start
(``post_init``) and closes it at shutdown (``post_shutdown``).

A worker that dies (killed, out of memory, a crash in C) or takes longer than
``timeout`` seconds fails that one chart with ``ChartError``; it is killed and a new
one started for the next chart. Typical use, by a job that sends notices::

    charts = ChartRenderer()
    png = await charts.render(points, labels, thresholds=thresholds)
    ...
    charts.close()  # at shutdown: workers stopped, charts in flight fail
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
from collections.abc import Sequence
from decimal import Decimal
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from assessment.chart_data import CJK_FONT_FILES, ChartLabels, HistoryPoint, check_history

# Not ``assessment.charts``: that imports matplotlib, which only the workers need (each
# imports it in ``_serve``); the bot's process stays without it.
from assessment.children import exit_text
from assessment.stats_chart import StatsChart, check_stats_chart

log = logging.getLogger(__name__)

# Far longer than any chart takes on a busy machine (a few ms; a new worker's start, with
# matplotlib's import and the fonts, is timed apart, about a second).
TIMEOUT = 30.0
START_TIMEOUT = 60.0


class ChartError(RuntimeError):
    """A chart could not be drawn: its worker died, hung, or could not start."""


class ChartRenderer:
    """Draws history charts in up to ``workers`` child processes, one chart each at a time."""

    def __init__(self, *, workers: int = 1, timeout: float = TIMEOUT) -> None:
        if workers < 1:
            raise ValueError("at least one worker")
        self.timeout = timeout
        self._size = workers
        self._idle: asyncio.Queue[_Worker | None] | None = None
        self._all: set[_Worker] = set()
        self._closed = False

    async def render(
        self,
        points: Sequence[HistoryPoint],
        labels: ChartLabels,
        *,
        thresholds: Sequence[tuple[Decimal, str]] = (),
    ) -> bytes:
        """``charts.render_history`` in a worker: the PNG's bytes.

        Raises:
            ValueError: the points are not a chart (as ``render_history``).
            ChartError: the worker died, took longer than ``timeout``, or the renderer
                is closed.
        """
        check_history(points)
        return await self._ask((tuple(points), labels, tuple(thresholds)))

    async def render_stats(self, chart: StatsChart) -> bytes:
        """``stats_drawing.render_stats`` in a worker: the PNG's bytes.

        Raises:
            ValueError: the chart cannot be drawn (as ``check_stats_chart``).
            ChartError: as ``render``.
        """
        check_stats_chart(chart)
        return await self._ask(chart)

    async def _ask(self, request: object) -> bytes:
        worker = await self._take()
        try:
            if worker is None:
                worker = await self._spawn()
            kind, value = await asyncio.to_thread(worker.ask, request, self.timeout)
        except BaseException:
            # Dead, hung, or we were cancelled mid-chart: its answer would come to the
            # next caller, so it goes.
            if worker is not None:
                self._discard(worker)
                worker = None
            raise
        finally:
            self._give_back(worker)
        if kind == "png":
            assert isinstance(value, bytes)
            return value
        if kind == "invalid":
            raise ValueError(value)
        raise ChartError(f"the chart worker could not draw it: {value}")

    async def start(self) -> None:
        """Start and warm up the workers now rather than at the first charts."""
        taken: list[_Worker | None] = [await self._take() for _ in range(self._size)]
        try:
            for index, worker in enumerate(taken):
                if worker is None:
                    taken[index] = await self._spawn()
        finally:
            for worker in taken:
                self._give_back(worker)

    @property
    def pids(self) -> list[int]:
        """The worker processes' ids (for tests and diagnostics)."""
        return sorted(worker.pid for worker in self._all)

    def close(self) -> None:
        """Stop every worker; charts still being drawn fail with ``ChartError``."""
        self._closed = True
        for worker in list(self._all):
            worker.kill()
        self._all.clear()

    async def _take(self) -> _Worker | None:
        """An idle worker, or None: a free slot to start one in."""
        if self._closed:
            raise ChartError("the chart renderer is closed")
        if self._idle is None:
            self._idle = asyncio.Queue()
            for _ in range(self._size):
                self._idle.put_nowait(None)
        worker = await self._idle.get()
        if self._closed:
            self._idle.put_nowait(None)
            raise ChartError("the chart renderer is closed")
        return worker

    async def _spawn(self) -> _Worker:
        worker = await asyncio.to_thread(_Worker.start)
        self._all.add(worker)
        if self._closed:
            self._discard(worker)
            raise ChartError("the chart renderer is closed")
        return worker

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        self._all.discard(worker)

    def _give_back(self, worker: _Worker | None) -> None:
        assert self._idle is not None
        if worker is not None and (self._closed or worker not in self._all):
            worker = None
        self._idle.put_nowait(worker)


class _Worker:
    """One child process and our end of its pipe; used by one caller at a time."""

    def __init__(self, process: BaseProcess, connection: Connection) -> None:
        self.process = process
        self.connection = connection
        self.pid = process.pid or 0

    @classmethod
    def start(cls) -> _Worker:
        """Spawn a worker and wait until it has warmed up (blocking: run in a thread)."""
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe(duplex=True)
        process = context.Process(target=_serve, args=(theirs,), name="chart-worker", daemon=True)
        process.start()
        theirs.close()
        worker = cls(process, ours)
        try:
            if not ours.poll(START_TIMEOUT):
                raise ChartError(f"the chart worker did not start in {START_TIMEOUT:g} s")
            _, cjk_file = ours.recv()
        except (EOFError, OSError) as error:
            worker.kill()
            raise ChartError(f"the chart worker exited at start ({process.exitcode})") from error
        except BaseException:
            worker.kill()
            raise
        if cjk_file is None:
            log.warning(
                "no CJK font found (%s): Chinese text in charts shows as boxes; "
                "install fonts-wqy-microhei",
                ", ".join(CJK_FONT_FILES),
            )
        return worker

    def ask(self, request: object, timeout: float) -> tuple[str, object]:
        """Send one chart, wait for its answer (blocking: run in a thread).

        Raises:
            ChartError: the worker died or did not answer within ``timeout`` seconds.
        """
        try:
            self.connection.send(request)
            if not self.connection.poll(timeout):
                raise ChartError(f"the chart worker did not answer in {timeout:g} s")
            kind, value = self.connection.recv()
        except (EOFError, OSError) as error:
            self.process.join(1.0)
            raise ChartError(f"the chart worker exited ({exit_text(self.process)})") from error
        return kind, value

    def kill(self) -> None:
        """Kill the process (if it still runs), reap it and close the pipe."""
        with contextlib.suppress(OSError, ValueError):
            if self.process.is_alive():
                self.process.kill()
            self.process.join(5.0)
        self.connection.close()


def _serve(connection: Connection) -> None:
    """The worker: warm up, say so, then draw each chart asked for until the pipe closes."""
    from assessment.charts import render_history, warm_up

    font = warm_up()
    connection.send(("ready", font.cjk_file))
    while True:
        try:
            request = connection.recv()
        except EOFError:
            return
        answer: tuple[str, object]
        try:
            if isinstance(request, StatsChart):
                from assessment.stats_drawing import render_stats

                answer = ("png", render_stats(request))
            else:
                points, labels, thresholds = request
                answer = ("png", render_history(points, labels, thresholds=thresholds))
        except ValueError as error:
            answer = ("invalid", str(error))
        except Exception as error:
            answer = ("error", f"{type(error).__name__}: {error}")
        connection.send(answer)
        del answer
