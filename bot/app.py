"""Build the Telegram ``Application``: handlers, typed context, the store's lifetime."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import signal
import weakref
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any, cast

from telegram import BotCommand, BotCommandScopeAllPrivateChats
from telegram.ext import ApplicationBuilder, ContextTypes
from telegram.request import BaseRequest

import handlers
from assessment.chart_worker import ChartRenderer
from assessment.export_worker import ExportWorkers
from assessment.scoring_worker import ScoringWorker
from bot import delivery
from bot.budget import BudgetedRateLimiter, SendBudget
from bot.http import httpx_request
from bot.inbox import Intake
from bot.metrics import InstrumentedUpdates, Metrics, attach, instrument, metrics_of
from bot.polling import LONG_POLL, Poller
from bot.updates import PerChatUpdates
from bot.webhook import WebhookOptions, WebhookReceiver
from config.policy import Policy
from config.settings import Settings
from handlers.appeals import clock_tick
from handlers.approval_jobs import digest_tick, escalation_tick, requests_tick
from handlers.broadcast import report_progress
from handlers.commands import MENU
from handlers.context import BotData, WorkledgerApplication, WorkledgerContext
from handlers.peers import peer_draw_tick
from handlers.reminders import daily_reminder_tick, team_summary_tick
from handlers.results import publication_tick
from handlers.roster import stopped_applies_tick
from handlers.stage_reminders import stage_reminder_tick
from locales import translator
from storage import migrate
from storage.engine import Database

log = logging.getLogger(__name__)

# What the bot asks Telegram for; other kinds of update are never sent to it.
UPDATES = ["message", "callback_query"]

PROGRESS_EVERY = timedelta(seconds=2)
# Reminder jobs look every minute whether their time has come; the store makes them run once.
REMINDER_TICK = timedelta(minutes=1)
# New entries reach their approvers within seconds; escalation is checked four times an hour.
REQUESTS_TICK = timedelta(seconds=3)
ESCALATION_TICK = timedelta(minutes=15)

# Telegram redelivers a webhook update for at most a day; keep a week to be safe. The
# inbox keeps what it received as long.
PROCESSED_UPDATES_KEPT = timedelta(days=7)
# At shutdown, updates being handled get this long, from the stop, to finish; those not
# started yet wait in the inbox for the next start. With the sender's ``SEND_GRACE`` beside
# it, the process is gone within 10 s of SIGTERM.
STOP_GRACE = 8.0

# The inbox intake of each running application (``intake_of``).
_intakes: weakref.WeakKeyDictionary[WorkledgerApplication, Intake] = weakref.WeakKeyDictionary()
# What receives updates for each running application (``receiver_of``).
_receivers: weakref.WeakKeyDictionary[WorkledgerApplication, Poller | WebhookReceiver] = (
    weakref.WeakKeyDictionary()
)
# The running applications that froze the heap at start (``_freeze_start_up``), and unfreeze
# it at shutdown.
_froze: weakref.WeakSet[WorkledgerApplication] = weakref.WeakSet()


class SchemaOutOfDateError(RuntimeError):
    """The database is behind the code and the bot may not migrate it itself."""


async def open_store(settings: Settings) -> Database:
    """Open the store; migrate SQLite, and refuse a stale PostgreSQL schema.

    Several bot processes may share one PostgreSQL database, so migrating it is
    an operator's explicit step (``workledger db upgrade``), never a side effect.
    """
    database = Database(settings.database_url)
    try:
        if settings.is_sqlite:
            # Alembic loads its environment and every migration file even to find nothing
            # to do: asked only when the file is behind.
            if await migrate.current_revision(database.engine) != migrate.head_revision():
                await migrate.upgrade(database.engine)
        else:
            current = await migrate.current_revision(database.engine)
            if current != migrate.head_revision():
                raise SchemaOutOfDateError(
                    f"the database schema is at {current or 'nothing'}, this version needs "
                    f"{migrate.head_revision()}: run `workledger db upgrade` first"
                )
    except BaseException:
        await database.dispose()
        raise
    return database


async def _publish_menus(application: WorkledgerApplication) -> None:
    # The default menu for private chats, per language; per-person menus by
    # role replace it once a person is linked. Telegram keys menus by two-letter
    # code, so "zh" gets the organisation's Chinese (Simplified unless it is Hant).
    default = application.bot_data.settings.language
    chinese = default if default.startswith("zh") else "zh_Hans"
    scope = BotCommandScopeAllPrivateChats()
    for language_code, locale in ((None, default), ("en", "en"), ("zh", chinese)):
        _ = translator(locale).gettext
        commands = [BotCommand(command, _(description)) for command, description in MENU]
        await application.bot.set_my_commands(commands, scope=scope, language_code=language_code)


async def _forget_old_updates(context: WorkledgerContext) -> None:
    before = context.now() - PROCESSED_UPDATES_KEPT
    async with context.uow() as uow:
        removed = await uow.updates.forget_before(before)
        received = await uow.inbox.forget_before(before)
        await uow.commit()
    log.debug("forgot %d processed update ids and %d stored updates", removed, received)


async def _post_init(application: WorkledgerApplication, budget: SendBudget) -> None:
    data = application.bot_data
    # A store opened before the start (the sandbox's, with its demo built) is used as it
    # is, not opened and its migrations checked a second time.
    opened = data.detach()
    data.attach(opened if opened is not None else await open_store(data.settings))
    # Scheduled work's claims, taken and lost, counted in the bot's metrics.
    data.database.on_job_claim = metrics_of(application).job_claim
    await _publish_menus(application)
    # One chart renderer for the bot: /score and the sender's score notices draw in its
    # worker, one chart at a time.
    charts = ChartRenderer()
    data.attach_charts(charts)
    # A fresh scoring worker (none runs until a period is scored): the last stop closed it.
    data.scoring = ScoringWorker()
    data.exports = ExportWorkers()
    data.stop_background.clear()
    data.background.append(
        asyncio.create_task(
            delivery.serve(
                data.settings,
                data.policy,
                data.database,
                data.stop_background,
                clock=data.clock,
                budget=budget,
                charts=charts,
                metrics=metrics_of(application),
            ),
            name="outbox-sender",
        )
    )
    if application.job_queue is not None:
        application.job_queue.run_repeating(
            _forget_old_updates, interval=timedelta(hours=6), first=60, name="forget-old-updates"
        )
        # Telegram allows editing a message about once a second; every two is plenty.
        application.job_queue.run_repeating(
            report_progress, interval=PROGRESS_EVERY, first=PROGRESS_EVERY, name="notice-progress"
        )
        application.job_queue.run_repeating(
            daily_reminder_tick, interval=REMINDER_TICK, first=REMINDER_TICK, name="daily-reminder"
        )
        application.job_queue.run_repeating(
            team_summary_tick, interval=REMINDER_TICK, first=REMINDER_TICK, name="team-summary"
        )
        application.job_queue.run_repeating(
            stage_reminder_tick, interval=REMINDER_TICK, first=REMINDER_TICK, name="monthly-check"
        )
        application.job_queue.run_repeating(
            requests_tick, interval=REQUESTS_TICK, first=REQUESTS_TICK, name="approval-requests"
        )
        application.job_queue.run_repeating(
            digest_tick, interval=REMINDER_TICK, first=REMINDER_TICK, name="approval-digest"
        )
        application.job_queue.run_repeating(
            escalation_tick, interval=ESCALATION_TICK, first=60, name="approval-escalation"
        )
        application.job_queue.run_repeating(
            publication_tick, interval=REMINDER_TICK, first=REMINDER_TICK, name="publication"
        )
        application.job_queue.run_repeating(
            peer_draw_tick, interval=REMINDER_TICK, first=REMINDER_TICK, name="peer-draw"
        )
        application.job_queue.run_repeating(
            clock_tick, interval=REMINDER_TICK, first=REMINDER_TICK, name="appeal-clocks"
        )
        application.job_queue.run_repeating(
            stopped_applies_tick, interval=REMINDER_TICK, first=5, name="stopped-roster-applies"
        )
    _freeze_start_up(application)


def _freeze_start_up(application: WorkledgerApplication) -> None:
    # What start-up built (libraries, the policy, compiled statements) lives as long as the
    # bot: kept out of the collector's full passes, which otherwise stall the loop for
    # 100 ms and more once it holds a few hundred thousand objects. Garbage goes first.
    # A process whose heap was frozen already (by a host that manages the collector itself,
    # such as the test session, which starts hundreds of bots) is left as it is: a full
    # pass would walk all it holds again for every bot, and the unfreeze at shutdown would
    # undo the host's freeze.
    if gc.get_freeze_count():
        return
    gc.collect()
    gc.freeze()
    _froze.add(application)


async def _post_shutdown(application: WorkledgerApplication) -> None:
    data = application.bot_data
    if application in _froze:
        _froze.discard(application)
        gc.unfreeze()
    data.roster_files.close()
    data.scoring.close()
    data.exports.close()
    # The sender settles what it has in flight, then stops, before the store closes.
    data.stop_background.set()
    await asyncio.gather(*data.background, return_exceptions=True)
    data.background.clear()
    charts = data.attach_charts(None)
    if charts is not None:
        charts.close()
    database = data.detach()
    if database is not None:
        await database.dispose()


def build_application(
    settings: Settings, policy: Policy, *, request: BaseRequest | None = None
) -> WorkledgerApplication:
    """The bot, ready for ``running`` or ``run_until_signalled``.

    Without PTB's updater: updates come in through the inbox (``bot.inbox``), fed by
    the project's own polling loop (``bot.polling``). ``request``, if given, carries
    every Bot API call instead of HTTP (the benchmarks answer them in-process).
    """
    if settings.token is None:
        raise ValueError("WORKLEDGER_TOKEN is not set")
    context_types = ContextTypes(context=WorkledgerContext, bot_data=BotData)
    # Replies and the outbox sender share Telegram's one global limit, replies first.
    budget = SendBudget(float(policy.broadcast.messages_per_second))
    # One registry per application (``bot.metrics``), never the library's global one.
    metrics = Metrics()
    limiter = BudgetedRateLimiter(budget, max_retries=3)
    limiter.on_throttled = metrics.throttled.labels(source="replies").inc
    builder: Any = (
        ApplicationBuilder()
        .token(settings.token.get_secret_value())
        .context_types(context_types)
        .rate_limiter(limiter)
        # PTB's own defaults (256 connections for calls, one for getUpdates), on one TLS
        # context per process rather than one per client.
        .request(request or httpx_request(connection_pool_size=256))
        .get_updates_request(request or httpx_request(connection_pool_size=1))
        .post_init(functools.partial(_post_init, budget=budget))
        .post_shutdown(_post_shutdown)
        .concurrent_updates(InstrumentedUpdates(metrics))
        .updater(None)
    )
    if settings.api_url:
        builder = builder.base_url(settings.api_url).base_file_url(settings.file_url)
    application = cast(WorkledgerApplication, builder.build())
    application.bot_data.configure(settings, policy)
    handlers.register(application)
    instrument(application)
    attach(application, metrics)
    return application


def intake_of(application: WorkledgerApplication) -> Intake:
    """The inbox intake of a running ``application`` (a webhook or a benchmark feeds it)."""
    return _intakes[application]


def receiver_of(application: WorkledgerApplication) -> Poller | WebhookReceiver:
    """What receives updates for a running ``application`` (a test reads a webhook's port)."""
    return _receivers[application]


@contextlib.asynccontextmanager
async def running(
    application: WorkledgerApplication,
    *,
    poll_timeout: float = 1.0,
    webhook: WebhookOptions | None = None,
) -> AsyncIterator[WorkledgerApplication]:
    """Run ``application`` with long polling (or ``webhook``) inside a running event loop.

    ``post_init``, then the inbox's unfinished updates replayed, then polling (or the
    webhook's server, and ``setWebhook``: ``bot.webhook``); on the way out receiving
    stops, the updates being handled finish (within ``STOP_GRACE``;
    those not started stay in the inbox), then ``post_shutdown`` stops the outbox
    sender and closes the store. For the sandbox, benchmarks and tests, which own
    their loop, and ``run_until_signalled``.
    """
    await application.initialize()
    try:
        if application.post_init is not None:
            await application.post_init(application)
        intake = Intake(application)
        processor = application.update_processor
        if isinstance(processor, PerChatUpdates):
            processor.on_finished = intake.finished
        poller: Poller | WebhookReceiver = (
            Poller(application.bot, intake, UPDATES, timeout=poll_timeout)
            if webhook is None
            else WebhookReceiver(application, intake, UPDATES, webhook)
        )
        _receivers[application] = poller
        await application.start()
        _intakes[application] = intake
        marked = asyncio.Event()
        marking = asyncio.create_task(intake.keep_marking(marked), name="inbox-marks")
        polling = asyncio.create_task(poller.run(), name="polling")
        try:
            if isinstance(poller, WebhookReceiver):
                # Not yielded before it listens: a port in use or a refused setWebhook is
                # the start's failure, not a bot that runs and hears nothing.
                ready = asyncio.create_task(poller.ready.wait())
                await asyncio.wait((polling, ready), return_when=asyncio.FIRST_COMPLETED)
                ready.cancel()
                if polling.done():
                    polling.result()  # raises what stopped it
            yield application
        finally:
            stop_by = asyncio.get_running_loop().time() + STOP_GRACE
            poller.stop()
            # The outbox sender stops at once too: it settles what it is sending and hands
            # back what it claimed (``_post_shutdown`` waits for it before the store closes).
            application.bot_data.stop_background.set()
            try:
                await polling
            except Exception:
                log.exception("receiving updates failed")
            if isinstance(processor, PerChatUpdates):
                processor.drain()
            try:
                async with asyncio.timeout_at(stop_by):
                    await application.stop()
            except TimeoutError:
                log.warning(
                    "updates still being handled after %.0f s were cut off; "
                    "they are replayed at the next start",
                    STOP_GRACE,
                )
            marked.set()
            await marking
            _intakes.pop(application, None)
            _receivers.pop(application, None)
    finally:
        await application.shutdown()
        if application.post_shutdown is not None:
            await application.post_shutdown(application)


async def run_until_signalled(
    application: WorkledgerApplication, webhook: WebhookOptions | None = None
) -> None:
    """Run the bot until SIGTERM or SIGINT, then stop as ``running`` does (``workledger run``).

    Nothing is lost by stopping: updates not yet handled are in the inbox, and the
    outbox sender hands back the messages it had claimed before the store closes.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGTERM, signal.SIGINT)
    for number in signals:
        loop.add_signal_handler(number, stop.set)
    try:
        async with running(application, poll_timeout=LONG_POLL, webhook=webhook):
            await stop.wait()
            log.info("stopping: finishing the updates in progress")
    finally:
        for number in signals:
            loop.remove_signal_handler(number)
    log.info("stopped")
