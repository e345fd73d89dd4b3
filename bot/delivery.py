"""The outbox sender: drains queued messages under Telegram's limits, and survives failures.

Limits: a global rate (shared evenly by the senders alive: the process's send budget,
``bot.budget``, is its share, and in the bot's process the sender takes only what
interactive replies leave of it; a sender joining live ones sends only after
``JOIN_WAIT``, when each has beaten and taken its smaller share), one message a second
per private chat and twenty a minute per group.
A 429 pauses only the chat it names; 5xx and network errors are retried with backoff;
a 403 settles the recipient as unreachable; other 400s fail the message with
Telegram's reason.

A ``menu`` row (``assessment.menus``) is not a message: it republishes the
command menu of the person whose chat it names, built from the store when the
row is sent, under the same claims, limits and retries. A ``score`` row
(``assessment.results``) names a person and a published period: its text is
built from the store and its chart drawn (one at a time, in the one
``ChartRenderer``) when it is sent, and dropped once Telegram has it.

Crash safety: a message is claimed under a lease before it is sent and settled
after Telegram answers; settlements are written in small batches. After a crash,
messages whose lease runs out are sent again, so the only ones that can arrive
twice are those Telegram accepted but whose settlement was not yet written: at
most ``concurrency`` in flight plus one unflushed batch (``FLUSH_EVERY``).

Recovery: every sender writes a heartbeat about every second (``HEARTBEAT``), by the
store's clock, which every process sharing the store reads alike, unlike the bot's
(the sandbox moves that one; a process may start at another time). A sender whose
heartbeat is ``DEAD_AFTER`` old is dead: the first live sender to see it forgets it and
ends its leases at once (``OutboxRepository.take_over``), so its messages are sent again
within seconds, not after the 60 s lease. That resends only what a lease running out
would, so the bound above holds, provided a sender thought dead sends nothing more of
what it held. It does not: it sends only within ``TRUST`` of its last heartbeat (less than
``DEAD_AFTER``, so nobody can have found it dead yet); after a longer stall (a frozen
loop, an unreachable store) it beats first, and if it was found dead meanwhile, hands
back what it held and starts over. Its late settlements touch only messages still
leased to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import random
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from telegram import Bot, InlineKeyboardMarkup, Message
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from assessment import results
from assessment.chart_worker import ChartError, ChartRenderer
from assessment.menus import MENU_KIND, chat_owner
from bot.budget import SendBudget
from bot.http import AiohttpRequest
from bot.metrics import Metrics
from config.clock import Clock
from config.policy import Policy
from config.settings import DEFAULT_LANGUAGE, Settings
from handlers.errors import unchanged_edit
from handlers.menus import show_chat_menu
from handlers.scores import send_notice
from storage.engine import Database, StoreBusy
from storage.enums import DeliveryStatus
from storage.models import OutboxMessage

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
LEASE = timedelta(seconds=60)
# A chat that cannot take a message within this long is handed back to the outbox.
HOLD_LIMIT = 5.0
# At a stop, sends in flight get this long to be answered; the rest are cut off and handed
# back with what was not sent (they may have reached Telegram: they count as in flight).
SEND_GRACE = 5.0
FLUSH_EVERY = 0.05
FLUSH_SIZE = 100
# A sender beats this often; one not seen for ``DEAD_AFTER`` is dead (by the store's clock).
HEARTBEAT = 1.0
DEAD_AFTER = timedelta(seconds=4)
# A sender sends only this soon after the start of its last heartbeat.
TRUST = 3.0
# A sender joining others waits this long before its first send: each of them beats in
# that time and takes its smaller share, so the rate is never exceeded while they learn.
JOIN_WAIT = HEARTBEAT + 0.5
IDLE_POLL = 0.2
CLAIM_AHEAD = 0.5


@dataclass(frozen=True)
class DeliveryLimits:
    """Telegram's limits as the policy sets them."""

    messages_per_second: float
    private_chat_interval: float = 1.0
    group_interval: float = 3.0

    @classmethod
    def from_policy(cls, policy: Policy) -> DeliveryLimits:
        """The limits of ``policy.broadcast``."""
        limits = policy.broadcast
        return cls(
            messages_per_second=float(limits.messages_per_second),
            private_chat_interval=1.0 / float(limits.per_chat_per_second),
            group_interval=60.0 / float(limits.per_group_per_minute),
        )


class ChatClock:
    """When each chat may receive its next message."""

    def __init__(self, limits: DeliveryLimits) -> None:
        self._limits = limits
        self._next: dict[int, float] = {}

    def ready_at(self, chat_id: int) -> float:
        """The earliest moment (monotonic) the chat takes another message."""
        return self._next.get(chat_id, 0.0)

    def consume(self, chat_id: int, now: float) -> None:
        """A message goes to the chat now."""
        gap = self._limits.group_interval if chat_id < 0 else self._limits.private_chat_interval
        self._next[chat_id] = max(now, self.ready_at(chat_id)) + gap

    def settled(self, chat_id: int, now: float) -> None:
        """A message to the chat got its answer now: the chat's next waits a whole gap from
        here too. Counted from the send alone, a message held up on its way (a busy event
        loop, a connection to wait for) reached Telegram less than a gap before the next
        (0.78 s apart, once, in a test on a loaded machine); counted from the answer, the
        next is sent only after this one arrived."""
        gap = self._limits.group_interval if chat_id < 0 else self._limits.private_chat_interval
        self._next[chat_id] = max(self.ready_at(chat_id), now + gap)

    def pause(self, chat_id: int, seconds: float) -> None:
        """Telegram asked us to leave this chat alone for a while."""
        self._next[chat_id] = max(self.ready_at(chat_id), time.monotonic() + seconds)


@dataclass
class SenderStats:
    """What this sender did, for logs, tests and benchmarks."""

    sent: int = 0
    failed: int = 0
    unreachable: int = 0
    retried: int = 0
    throttled: int = 0
    by_chat: dict[int, int] = field(default_factory=dict)


class Sender:
    """Drains the outbox through ``bot`` until told to stop.

    ``budget`` is the process's send budget, shared with interactive replies (which go
    first); without one, the sender has a budget of its own at the global rate.
    """

    def __init__(
        self,
        database: Database,
        bot: Bot,
        limits: DeliveryLimits,
        *,
        clock: Clock,
        budget: SendBudget | None = None,
        concurrency: int = 8,
        batch: int = 200,
        worker_id: str | None = None,
        language: str = DEFAULT_LANGUAGE,
        policy: Policy | None = None,
        charts: ChartRenderer | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.database = database
        # The bot's metrics (``bot.metrics``): sends by result and 429s, if given.
        self.metrics = metrics
        # What score notices need: the policy (grades, indicators) and the chart renderer.
        self.policy = policy
        self.charts = charts
        self.bot = bot
        self.limits = limits
        self.clock = clock
        self.budget = budget if budget is not None else SendBudget(limits.messages_per_second)
        # The organisation's language, for the menus of people who chose none.
        self.language = language
        self.worker_id = worker_id or f"sender-{uuid.uuid4().hex[:12]}"
        self.stats = SenderStats()
        self._batch = batch
        self._slots = asyncio.Semaphore(concurrency)
        self._chats = ChatClock(limits)
        self._ready: deque[OutboxMessage] = deque()
        self._waiting: list[tuple[float, int, OutboxMessage]] = []
        self._sequence = itertools.count()
        self._outcomes: list[dict[str, Any]] = []
        self._unreachable: list[tuple[int, str]] = []
        self._in_flight: dict[asyncio.Task[None], int] = {}
        self._cut_off: list[int] = []
        self._last_beat = -HEARTBEAT
        # Until the first heartbeat, nothing is sent.
        self._trusted_until = 0.0
        self._sending_from = 0.0
        self._registered = False
        self._share = 1
        # Messages taken over from dead senders (for logs, tests and benchmarks).
        self.taken_over = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Send until ``stop`` is set, then settle what is in flight and hand back the rest."""
        if self.metrics is not None:
            self.metrics.sender_start()
        flusher = asyncio.create_task(self._flush_periodically(stop))
        try:
            while not stop.is_set():
                try:
                    await self._step(stop)
                except StoreBusy as error:
                    # Another program holds SQLite's write lock: one line, no traceback.
                    log.warning("the outbox sender waited %gs for the store", error.waited)
                    await asyncio.sleep(1.0)
                except SQLAlchemyError:
                    # The store is briefly unavailable: what is claimed stays leased.
                    log.exception("the outbox sender could not reach the store; retrying")
                    await asyncio.sleep(1.0)
        finally:
            if self._in_flight:
                _, late = await asyncio.wait(self._in_flight, timeout=SEND_GRACE)
                self._cut_off = [self._in_flight[task] for task in late]
                for task in late:
                    task.cancel()
                await asyncio.gather(*late, return_exceptions=True)
            stop.set()
            await flusher
            await self._flush()
            await self._hand_back()

    async def _step(self, stop: asyncio.Event) -> None:
        await self._beat()
        wait = self._sending_from - time.monotonic()
        if wait > 0:
            # Joined senders still sending at their old share (``JOIN_WAIT``).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), min(wait, IDLE_POLL))
            return
        row = await self._next_row(stop)
        if row is None:
            return
        await self.budget.bulk()
        await self._slots.acquire()
        if time.monotonic() >= self._trusted_until:
            # The waits above outlasted the heartbeat: another sender may have found this
            # one dead and taken the row over. The next step beats (and learns) first.
            self._slots.release()
            self._ready.appendleft(row)
            return
        # The chat's second starts when the message goes, after every wait above: set
        # before the wait for a free slot, a message that waited for one would be
        # followed by the chat's next less than a second later.
        self._chats.consume(row.chat_id, time.monotonic())
        task = asyncio.create_task(self._send(row))
        self._in_flight[task] = row.id
        task.add_done_callback(self._done)

    async def _beat(self) -> None:
        started = time.monotonic()
        if started - self._last_beat < HEARTBEAT:
            return
        self._last_beat = started
        held: list[int] | None = None
        taken = (0, 0)
        async with self.database.uow() as uow:
            beat = await uow.outbox.heartbeat(self.worker_id, DEAD_AFTER)
            if not beat.registered:
                if self._registered:
                    # Found dead (a stall longer than ``DEAD_AFTER``): what it holds may be
                    # another sender's now. Hand back what is still its own, start over.
                    held = self._held()
                    await uow.outbox.release(held, self.worker_id)
                await uow.outbox.register(self.worker_id)
                if beat.alive > 1:
                    self._sending_from = started + JOIN_WAIT
            if beat.dead:
                taken = await uow.outbox.take_over(DEAD_AFTER, self.clock.now())
            await uow.commit()
        if held is not None:
            log.warning(
                "this sender was found dead (no heartbeat for %ss): handed back %d messages",
                DEAD_AFTER.total_seconds(),
                len(held),
            )
            self._ready.clear()
            self._waiting.clear()
        self._registered = True
        self._trusted_until = started + TRUST
        if self.metrics is not None:
            self.metrics.sender_beat()
        senders, messages = taken
        if messages:
            self.taken_over += messages
            log.warning(
                "took over %d messages of %d senders not seen for %ss",
                messages,
                senders,
                DEAD_AFTER.total_seconds(),
            )
        if beat.alive != self._share:
            self._share = beat.alive
            await self.budget.shared_by(beat.alive)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.pop(task, None)

    def _held(self) -> list[int]:
        """The messages this sender claimed and has not sent."""
        return [row.id for row in self._ready] + [row.id for _, _, row in self._waiting]

    async def _next_row(self, stop: asyncio.Event) -> OutboxMessage | None:
        now = time.monotonic()
        while self._waiting and self._waiting[0][0] <= now:
            self._ready.appendleft(heapq.heappop(self._waiting)[2])
        if len(self._ready) < self._batch // 2:
            await self._claim()
        if not self._ready:
            pause = IDLE_POLL
            if self._waiting:
                pause = min(pause, max(0.0, self._waiting[0][0] - now))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
            return None
        row = self._ready.popleft()
        ready_at = self._chats.ready_at(row.chat_id)
        if ready_at <= now:
            return row
        if ready_at - now > HOLD_LIMIT:
            self._retry(row, ready_at - now, counts=False)
        else:
            heapq.heappush(self._waiting, (ready_at, next(self._sequence), row))
        return None

    async def _claim(self) -> None:
        # About half a second's worth at this sender's share of the rate: enough to
        # keep the pipe full, little enough that other senders get their share.
        horizon = max(10, int(self.limits.messages_per_second / self._share * CLAIM_AHEAD))
        wanted = min(self._batch, horizon) - len(self._ready) - len(self._waiting)
        if wanted <= 0:
            return
        async with self.database.uow() as uow:
            rows = await uow.outbox.claim(self.worker_id, wanted, self.clock.now(), LEASE)
            await uow.commit()
        self._ready.extend(rows)

    async def _send(self, row: OutboxMessage) -> None:
        try:
            await self._send_now(row)
        finally:
            self._chats.settled(row.chat_id, time.monotonic())

    async def _send_now(self, row: OutboxMessage) -> None:
        try:
            if row.kind == MENU_KIND:
                await self._publish_menu(row.chat_id)
                message_id = None
            elif row.kind == results.SCORE_KIND:
                message_id = (await self._send_score(row)).message_id
            else:
                message_id = (await self._deliver(row)).message_id
        except SQLAlchemyError as error:
            # Only a menu reads the store here: whose chat it is. Try again shortly.
            if isinstance(error, StoreBusy):
                log.warning("outbox message %s: the store is busy; retrying", row.id)
            else:
                log.exception("outbox message %s: the store could not be read", row.id)
            self.stats.retried += 1
            self._count("retried")
            self._retry(row, 1.0, counts=True)
        except RetryAfter as error:
            self.stats.throttled += 1
            self._count("throttled")
            if self.metrics is not None:
                self.metrics.throttled.labels(source="sender").inc()
            # A timedelta with PTB_TIMEDELTA set (as the entry points do), else seconds.
            seconds = error.retry_after
            delay = seconds.total_seconds() if isinstance(seconds, timedelta) else float(seconds)
            self._chats.pause(row.chat_id, delay)
            self._retry(row, delay, counts=False)
        except Forbidden as error:
            self.stats.unreachable += 1
            self._count("unreachable")
            self._settle(row, DeliveryStatus.UNREACHABLE, error=error.message)
            self._unreachable.append((row.chat_id, error.message))
        except BadRequest as error:
            if row.edits_id is not None and unchanged_edit(error):
                # The message already reads what the edit would make it say (an earlier
                # attempt's edit went through, or two edits agreed): delivered, not failed.
                self.stats.sent += 1
                self._count("sent")
                log.info("outbox message %s: the message already read so", row.id)
                self._settle(row, DeliveryStatus.SENT, message_id=row.telegram_message_id)
            else:
                self.stats.failed += 1
                self._count("failed")
                log.warning("outbox message %s failed: %s", row.id, error.message)
                self._settle(row, DeliveryStatus.FAILED, error=error.message)
        except (NetworkError, TelegramError) as error:
            if row.attempts >= MAX_ATTEMPTS:
                self.stats.failed += 1
                self._count("failed")
                log.warning(
                    "outbox message %s failed after %d attempts: %s", row.id, row.attempts, error
                )
                self._settle(row, DeliveryStatus.FAILED, error=str(error))
            else:
                self.stats.retried += 1
                self._count("retried")
                log.info(
                    "outbox message %s: attempt %d failed (%s); retrying",
                    row.id,
                    row.attempts,
                    error,
                )
                backoff = min(60.0, 2.0 ** (row.attempts - 1)) * random.uniform(0.8, 1.2)  # noqa: S311
                self._retry(row, backoff, counts=True)
        else:
            self.stats.sent += 1
            self._count("sent")
            self.stats.by_chat[row.chat_id] = self.stats.by_chat.get(row.chat_id, 0) + 1
            self._settle(row, DeliveryStatus.SENT, message_id=message_id)
        finally:
            self._slots.release()
        if len(self._outcomes) >= FLUSH_SIZE:
            await self._flush()

    def _count(self, result: str) -> None:
        if self.metrics is not None:
            self.metrics.sends.labels(result=result).inc()

    async def _deliver(self, row: OutboxMessage) -> Message:
        markup = (
            InlineKeyboardMarkup.de_json(row.reply_markup, self.bot) if row.reply_markup else None
        )
        if row.edits_id is not None:
            # An edit of a message sent before; the claim gave it that message's id. A 400
            # (deleted, too old) settles it as failed, without retries; "not modified" as sent.
            if row.telegram_message_id is None:
                raise BadRequest("Message to edit not found: it was never sent")
            edited = await self.bot.edit_message_text(
                row.text or "",
                chat_id=row.chat_id,
                message_id=row.telegram_message_id,
                parse_mode=row.parse_mode,
                reply_markup=markup,
            )
            if not isinstance(edited, Message):  # only inline messages answer True
                raise BadRequest("Message to edit is not a chat message")
            return edited
        if row.attachment_kind == "document" and row.attachment_file_id:
            return await self.bot.send_document(
                row.chat_id,
                row.attachment_file_id,
                caption=row.text,
                parse_mode=row.parse_mode,
                reply_markup=markup,
            )
        if row.attachment_kind == "photo" and row.attachment_file_id:
            return await self.bot.send_photo(
                row.chat_id,
                row.attachment_file_id,
                caption=row.text,
                parse_mode=row.parse_mode,
                reply_markup=markup,
            )
        return await self.bot.send_message(
            row.chat_id, row.text or "", parse_mode=row.parse_mode, reply_markup=markup
        )

    async def _send_score(self, row: OutboxMessage) -> Message:
        # The person's published result of the period the row names, as stored now, and
        # its chart, drawn now; a chart that could not be drawn is retried like a network
        # error (the renderer starts a new worker).
        if self.policy is None or self.charts is None or row.staff_id is None:
            raise BadRequest("This sender cannot send score notices")
        async with self.database.uow() as uow:
            notice = await results.notice_of(
                uow, row.staff_id, row.attachment_file_id or "", self.policy
            )
        if notice is None:
            raise BadRequest("No published result to tell")
        try:
            return await send_notice(self.bot, self.charts, self.policy, notice, self.language)
        except ChartError as error:
            raise NetworkError(f"the chart could not be drawn: {error}") from error

    async def _publish_menu(self, chat_id: int) -> None:
        # The menu of whoever the chat belongs to, built from the store as it is now:
        # a row that waited (the bot was down), or an older row sent after a newer
        # one, still shows the current menu.
        async with self.database.uow() as uow:
            owner = await chat_owner(uow, chat_id)
        await show_chat_menu(self.bot, chat_id, owner, self.language)

    def _settle(
        self,
        row: OutboxMessage,
        status: DeliveryStatus,
        *,
        message_id: int | None = None,
        error: str | None = None,
    ) -> None:
        self._outcomes.append(
            {
                "id": row.id,
                "status": status,
                "telegram_message_id": message_id,
                "error": error,
                "finished_at": self.clock.now(),
                "lease_owner": None,
                "lease_until": None,
            }
        )

    def _retry(self, row: OutboxMessage, delay: float, *, counts: bool) -> None:
        self._outcomes.append(
            {
                "id": row.id,
                "status": DeliveryStatus.PENDING,
                "next_attempt_at": self.clock.now() + timedelta(seconds=delay),
                "attempts": row.attempts if counts else row.attempts - 1,
                "lease_owner": None,
                "lease_until": None,
            }
        )

    async def _flush_periodically(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), FLUSH_EVERY)
            try:
                await self._flush()
            except SQLAlchemyError as error:
                # The outcomes went back on the list; the next turn writes them.
                if isinstance(error, StoreBusy):
                    log.warning("the store is busy: delivery outcomes are written next turn")
                else:
                    log.exception("could not record delivery outcomes; retrying")
                await asyncio.sleep(FLUSH_EVERY)

    async def _flush(self) -> None:
        if not self._outcomes and not self._unreachable:
            return
        outcomes, self._outcomes = self._outcomes, []
        unreachable, self._unreachable = self._unreachable, []
        now = self.clock.now()
        try:
            async with self.database.uow() as uow:
                await uow.outbox.settle(outcomes, self.worker_id)
                for chat_id, reason in unreachable:
                    await uow.outbox.mark_chat_unreachable(chat_id, reason, now)
                await uow.commit()
        except BaseException:
            # Not written: keep them, or their messages would be sent again after the lease.
            self._outcomes[:0] = outcomes
            self._unreachable[:0] = unreachable
            raise

    async def _hand_back(self) -> None:
        ids = self._held() + self._cut_off
        self._ready.clear()
        self._waiting.clear()
        async with self.database.uow() as uow:
            if ids:
                await uow.outbox.release(ids, self.worker_id)
            await uow.outbox.retire(self.worker_id)
            await uow.commit()


def delivery_bot(token: str, api_url: str | None, file_url: str | None, concurrency: int) -> Bot:
    """A Bot of the sender's own, so broadcasts never queue for the connections replies use."""
    return Bot(
        token,
        base_url=api_url or "https://api.telegram.org/bot",
        base_file_url=file_url or "https://api.telegram.org/file/bot",
        request=AiohttpRequest(connections=concurrency + 2),
        # Never used (the sender does not poll), but PTB would make an httpx client for it.
        get_updates_request=AiohttpRequest(connections=1),
    )


async def serve(
    settings: Settings,
    policy: Policy,
    database: Database,
    stop: asyncio.Event,
    *,
    clock: Clock,
    budget: SendBudget | None = None,
    concurrency: int = 8,
    charts: ChartRenderer | None = None,
    metrics: Metrics | None = None,
) -> SenderStats:
    """Run one sender until ``stop`` is set: inside the bot process, or on its own.

    In the bot's process, ``budget`` is the one its replies take from and ``charts`` the
    bot's chart renderer; on its own, the sender makes a renderer and closes it at the end.
    """
    if settings.token is None:
        raise ValueError("WORKLEDGER_TOKEN is not set")
    bot = delivery_bot(
        settings.token.get_secret_value(), settings.api_url, settings.file_url, concurrency
    )
    own_charts = charts is None
    renderer = ChartRenderer() if charts is None else charts
    await bot.initialize()
    try:
        sender = Sender(
            database,
            bot,
            DeliveryLimits.from_policy(policy),
            clock=clock,
            budget=budget,
            concurrency=concurrency,
            language=settings.language,
            policy=policy,
            charts=renderer,
            metrics=metrics,
        )
        await sender.run(stop)
        return sender.stats
    finally:
        await bot.shutdown()
        if own_charts:
            renderer.close()
