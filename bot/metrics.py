"""What the bot counts, for ``GET /metrics`` (``bot.monitoring``), in its own registry.

Each ``Application`` has one ``Metrics`` with a ``CollectorRegistry`` of its own (tests
and the sandbox run several bots in one process; the library's global default registry
would mix them up, and refuses a second set of the same names).

Where each count is taken:

- updates by handler and outcome, and the handler latency: around each update the
  bot's update processor runs (``InstrumentedUpdates``), with the handler that took the
  update noted by a wrapper of every registered handler's callback (``instrument``);
- update claims taken and lost: at the end of each update, from its ``PendingClaim``
  (settled: taken) or the ``UpdateAlreadyHandled`` that stopped it (lost); job claims
  as ``JobClaims.claim`` makes them (the store's ``Database.on_job_claim``);
- sends by result and 429s: the outbox sender (``bot.delivery.Sender``) and the
  replies' rate limiter (``bot.budget.BudgetedRateLimiter``);
- outbox depth by state: one grouped count when scraped (``bot.monitoring``);
- event-loop lag: a probe that sleeps and measures how late it wakes (``LoopLagProbe``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from telegram import Update
from telegram.ext import (
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
)

from bot.updates import PerChatUpdates
from storage.enums import DeliveryStatus
from storage.uow import PendingClaim, UpdateAlreadyHandled

log = logging.getLogger("workledger.updates")

# The gate's group, and the groups whose handlers may pass an update on (``handlers``).
GATE_GROUP = -2
PASS_ON_GROUPS = frozenset({-2, -1})
SETTLE_GROUP = 99

# Outcomes of an update.
OK = "ok"
ERROR = "error"
REFUSED = "refused"  # stopped at the gate: not linked, no permission, a group chat, ...
DUPLICATE = "duplicate"  # a redelivery of an update handled before
LOST = "lost"  # another delivery claimed the update first
UNHANDLED = "none"  # no handler took it

# Latency buckets (seconds): a reply within 100 ms is the aim, a few seconds the worst.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
LAG_EVERY = 0.5


@dataclass(slots=True)
class UpdateRecord:
    """What is known about the update being handled, for metrics and log lines."""

    update_id: int | None
    user_id: int | None
    text: str | None
    handler: str = UNHANDLED
    outcome: str = OK
    claim: PendingClaim | None = None


# The update the current task is handling (read by ``bot.logs`` for its fields).
CURRENT: contextvars.ContextVar[UpdateRecord | None] = contextvars.ContextVar(
    "workledger_update", default=None
)


_of: weakref.WeakKeyDictionary[Any, Metrics] = weakref.WeakKeyDictionary()


def metrics_of(application: Any) -> Metrics:
    """The metrics of ``application`` (made by ``bot.app.build_application``)."""
    return _of[application]


def attach(application: Any, metrics: Metrics) -> None:
    """Make ``metrics`` the metrics of ``application``."""
    _of[application] = metrics


class Metrics:
    """The bot's counters, histograms and gauges, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.updates = Counter(
            "workledger_updates",
            "Updates handled, by the handler that took them and how it ended.",
            ["handler", "outcome"],
            registry=registry,
        )
        self.latency = Histogram(
            "workledger_handler_seconds",
            "Time from an update's start to its end, by the handler that took it.",
            ["handler"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.claims = Counter(
            "workledger_update_claims",
            "Update claims: taken (this delivery recorded the update as handled) or lost "
            "(another delivery had claimed it first).",
            ["result"],
            registry=registry,
        )
        self.job_claims = Counter(
            "workledger_job_claims",
            "Claims of scheduled work by job (the key's first part): taken by this process, "
            "or lost (done already, by this process or another).",
            ["job", "result"],
            registry=registry,
        )
        self.sends = Counter(
            "workledger_outbox_sends",
            "Outbox messages the sender tried, by result.",
            ["result"],
            registry=registry,
        )
        self.throttled = Counter(
            "workledger_telegram_429",
            "429 Too Many Requests answers from Telegram, by who got them.",
            ["source"],
            registry=registry,
        )
        self.outbox = Gauge(
            "workledger_outbox_messages",
            "Outbox messages by state, counted when scraped.",
            ["state"],
            registry=registry,
        )
        self.loop_lag = Histogram(
            "workledger_event_loop_lag_seconds",
            "How late the event loop ran a timer: time it could run nothing else.",
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self.loop_lag_last = Gauge(
            "workledger_event_loop_lag_last_seconds",
            "The event loop's lag at the last probe.",
            registry=registry,
        )
        self.sender_heartbeat = Gauge(
            "workledger_sender_heartbeat_timestamp_seconds",
            "When this process's outbox sender last recorded its heartbeat in the store "
            "(Unix time; 0 before its first).",
            registry=registry,
        )
        # The same moment on this process's monotonic clock, for /healthz.
        self.sender_beat_at: float | None = None
        # Known labels appear from the start, at zero.
        for result in ("taken", "lost"):
            self.claims.labels(result=result)
        for result in ("sent", "failed", "unreachable", "retried", "throttled"):
            self.sends.labels(result=result)
        for source in ("sender", "replies"):
            self.throttled.labels(source=source)

    def set_outbox(self, counts: Mapping[DeliveryStatus, int]) -> None:
        """The outbox depth as just counted, by state."""
        for state, count in counts.items():
            self.outbox.labels(state=state.value).set(count)

    def sender_beat(self) -> None:
        """The outbox sender's heartbeat was just recorded in the store."""
        self.sender_heartbeat.set_to_current_time()
        self.sender_beat_at = time.monotonic()

    def sender_start(self) -> None:
        """The outbox sender started: its first heartbeat is due now."""
        self.sender_beat_at = time.monotonic()

    def sender_beat_age(self) -> float | None:
        """Seconds since the sender's last recorded heartbeat (or its start, before the
        first); None if it never started."""
        return None if self.sender_beat_at is None else time.monotonic() - self.sender_beat_at

    def job_claim(self, key: str, taken: bool) -> None:
        """A job claimed ``key`` (``daily-reminder/2026-11-20``): taken, or not."""
        job = key.split("/", 1)[0]
        self.job_claims.labels(job=job, result="taken" if taken else "lost").inc()

    def finish(self, record: UpdateRecord, seconds: float) -> None:
        """Count an update that just ended."""
        if record.outcome == LOST:
            self.claims.labels(result="lost").inc()
        elif record.claim is not None and record.claim.settled:
            self.claims.labels(result="taken").inc()
        self.updates.labels(handler=record.handler, outcome=record.outcome).inc()
        self.latency.labels(handler=record.handler).observe(seconds)


def handler_name(handler: BaseHandler[Any, Any, Any], group: int) -> str:
    """A short, stable label for ``handler``: a command, a button kind, or its callback."""
    if group == GATE_GROUP:
        return "gate"
    if isinstance(handler, CommandHandler):
        return "/" + min(handler.commands)
    if isinstance(handler, CallbackQueryHandler) and isinstance(handler.pattern, type):
        return "button:" + handler.pattern.__name__
    if group in PASS_ON_GROUPS:
        return "reply"  # an answer to a question asked, or a notice being composed
    callback = handler.callback
    module = getattr(callback, "__module__", "") or ""
    name = getattr(callback, "__qualname__", type(callback).__name__)
    return f"{module.removeprefix('handlers.')}.{name}"


def _wrap(
    callback: Callable[[Any, Any], Coroutine[Any, Any, Any]], name: str, group: int
) -> Callable[[Any, Any], Coroutine[Any, Any, Any]]:
    async def noted(update: Any, context: Any) -> Any:
        record = CURRENT.get()
        try:
            return await callback(update, context)
        except ApplicationHandlerStop as stop:
            # The update ends here: this handler took it (or the gate turned it away).
            if record is not None:
                record.claim = getattr(context, "claim", None)
                record.handler = name
                if isinstance(stop.__cause__, UpdateAlreadyHandled):
                    record.outcome = LOST
                elif stop.__cause__ is not None:
                    record.outcome = ERROR  # the gate failed, and reported it
                elif group == GATE_GROUP:
                    record.outcome = DUPLICATE if record.claim is None else REFUSED
            raise
        except UpdateAlreadyHandled:
            if record is not None:
                record.handler, record.outcome = name, LOST
            raise
        except Exception:
            if record is not None:
                record.handler, record.outcome = name, ERROR
            raise
        finally:
            if record is not None:
                record.claim = getattr(context, "claim", None)
                if (
                    group not in PASS_ON_GROUPS
                    and group != SETTLE_GROUP
                    and (record.handler == UNHANDLED)
                ):
                    record.handler = name

    return noted


def instrument(application: Any) -> None:
    """Wrap every registered handler's callback so the update's record names its handler.

    ``BaseHandler.callback`` is public; the wrapper passes everything through unchanged.
    """
    for group, group_handlers in application.handlers.items():
        for handler in group_handlers:
            handler.callback = _wrap(handler.callback, handler_name(handler, group), group)


def _record_of(update: object) -> UpdateRecord:
    if not isinstance(update, Update):
        return UpdateRecord(None, None, None)
    user = update.effective_user
    message = update.effective_message
    text = message.text if message is not None else None
    if update.callback_query is not None:
        text = update.callback_query.data
    return UpdateRecord(update.update_id, user.id if user else None, text)


class InstrumentedUpdates(PerChatUpdates):
    """The bot's update processor, timing and counting each update it runs."""

    def __init__(self, metrics: Metrics, concurrent: int | None = None) -> None:
        if concurrent is None:
            super().__init__()
        else:
            super().__init__(concurrent)
        self.metrics = metrics

    async def observed(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Run the update as ``PerChatUpdates`` does, timed from when it starts."""
        record = _record_of(update)
        token = CURRENT.set(record)
        started = time.monotonic()
        try:
            await coroutine
        finally:
            seconds = time.monotonic() - started
            self.metrics.finish(record, seconds)
            extra: dict[str, Any] = {"latency_ms": round(seconds * 1000, 1)}
            if log.isEnabledFor(logging.DEBUG) and record.text is not None:
                extra["text"] = record.text
            log.info(
                "update %s: %s (%s) in %.1f ms",
                record.update_id,
                record.handler,
                record.outcome,
                seconds * 1000,
                extra=extra,
            )
            CURRENT.reset(token)


class LoopLagProbe:
    """Sleeps ``every`` seconds at a time and records how late each wake-up was."""

    def __init__(self, metrics: Metrics, every: float = LAG_EVERY) -> None:
        self._metrics = metrics
        self._every = every
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start probing (once)."""
        if self._task is None:
            self._task = asyncio.create_task(self._probe(), name="event-loop-lag")

    async def stop(self) -> None:
        """Stop probing."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _probe(self) -> None:
        while True:
            asked = time.monotonic()
            await asyncio.sleep(self._every)
            lag = max(0.0, time.monotonic() - asked - self._every)
            self._metrics.loop_lag.observe(lag)
            self._metrics.loop_lag_last.set(lag)
