"""The durable inbox at run time: updates are stored before Telegram hears they arrived.

``Intake.accept`` writes a batch of updates to the store in one transaction and only
then hands the new ones to the handlers. Whoever receives updates confirms them to
Telegram after it returns: the poller by asking for the next batch (``bot.polling``),
a webhook by answering 200. A crash at any moment therefore loses nothing: an update
is either still Telegram's to send again, or stored.

On start, ``Intake.replay`` hands the handlers, in ``update_id`` order, every stored
update they never finished. The claim (``processed_updates``, taken by an update's
first commit) keeps each update's effect single, so a replay never writes twice.

What "finished" means: the handlers returned (handled it, refused it, or failed and
apologised). Those are marked in batches, a write every ``MARK_EVERY``, never one per
update. An update whose claim is recorded counts as finished too, marked or not.
An update that was given to the handlers ``MAX_ATTEMPTS`` times without finishing
(one that takes the process down) is given up with a warning, not replayed forever.

Several processes behind one webhook share the inbox (``bot.webhook``). There an update
is held by the process that stored it, for ``HOLD``, renewed every ``RENEW_EVERY`` while
its handlers have it (``keep_holding``); instead of replaying everything at start,
each process takes over, every ``RENEW_EVERY``, the unfinished updates nobody holds: a
killed process's are handled by another within ``HOLD`` and a few seconds, and one
restarted finds its own the same way. A holder too busy to renew in time can have an
update taken from it; the claim keeps its effect single, as for a replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from telegram import Update

from bot.updates import chat_of
from handlers.context import WorkledgerApplication
from storage.repositories.inbox import Received, Unfinished

log = logging.getLogger(__name__)

# Times an update is given to the handlers before a replay gives it up.
MAX_ATTEMPTS = 3
# Stored updates read at a time by a replay.
REPLAY_BATCH = 200
# Updates given to the handlers and not finished, at most: the poller waits for room
# (Telegram keeps the rest), so a backlog never sits in memory. PTB accepts 1,024.
OUTSTANDING = 1000
# How often finished updates are marked (one UPDATE for all of them).
MARK_EVERY = 0.5
# How long a stored update stays its process's without a renewal, and how often the
# process renews its holds and takes over updates nobody holds (``keep_holding``).
HOLD = timedelta(seconds=6)
RENEW_EVERY = 2.0


def brief(error: SQLAlchemyError) -> str:
    """A store failure in a few words: the driver's message, never the statement's
    parameters (they would put people's messages in the log)."""
    if isinstance(error, DBAPIError) and error.orig is not None:
        return f"{type(error).__name__}: {error.orig}"
    return type(error).__name__


class Intake:
    """The one way updates reach the handlers: stored first, then processed from the store."""

    def __init__(self, application: WorkledgerApplication) -> None:
        self._application = application
        self._outstanding: set[int] = set()
        self._finished: list[int] = []
        self._room = asyncio.Event()
        self._room.set()
        self._stop = asyncio.Event()
        self.accepted = 0
        self.replayed = 0
        self.given_up = 0

    @property
    def outstanding(self) -> int:
        """Updates given to the handlers that they have not finished yet."""
        return len(self._outstanding)

    async def accept(self, updates: Sequence[Update]) -> int:
        """Store ``updates`` in one transaction, then hand the new ones to the handlers.

        Once this returns they are safe: confirm them to Telegram. An update stored
        before (Telegram sent it again) is not handed over twice. Returns how many
        were new.
        """
        if not updates:
            return 0
        data = self._application.bot_data
        received = [Received(u.update_id, chat_of(u), u.to_dict()) for u in updates]
        async with data.database.uow() as uow:
            new = await uow.inbox.accept(received, at=data.clock.now(), hold=HOLD)
            await uow.commit()
        for update in updates:
            if update.update_id in new:
                await self._give(update)
        self.accepted += len(new)
        return len(new)

    async def replay(self) -> int:
        """Hand the handlers every stored update they never finished, oldest first.

        In batches of ``REPLAY_BATCH``, waiting for room between them. Returns how
        many were handed over again.
        """
        data = self._application.bot_data
        after: int | None = None
        while not self._stop.is_set():
            async with data.database.uow() as uow:
                rows = await uow.inbox.unfinished(after=after, limit=REPLAY_BATCH)
                if not rows:
                    break
                again = [row for row in rows if row.attempts < MAX_ATTEMPTS]
                spent = [row for row in rows if row.attempts >= MAX_ATTEMPTS]
                await uow.inbox.attempt([row.update_id for row in again])
                await uow.inbox.finish([row.update_id for row in spent], at=data.clock.now())
                await uow.commit()
            for row in spent:
                log.warning(
                    "update %d was given to the handlers %d times and never finished: "
                    "giving it up",
                    row.update_id,
                    row.attempts,
                )
            self.given_up += len(spent)
            await self._give_again(again)
            after = rows[-1].update_id
            await self.room()
        if self.replayed or self.given_up:
            log.info(
                "replayed %d unfinished updates from the inbox (%d given up)",
                self.replayed,
                self.given_up,
            )
        return self.replayed

    async def _give_again(self, rows: Sequence[Unfinished]) -> None:
        unreadable: list[int] = []
        for row in rows:
            if row.update_id in self._outstanding:
                continue  # handed over already, by a replay that failed half-way or here
            try:
                update = Update.de_json(row.payload, self._application.bot)
            except Exception:
                log.exception("stored update %d cannot be read: giving it up", row.update_id)
                unreadable.append(row.update_id)
                continue
            await self._give(update)
            self.replayed += 1
        if unreadable:
            self._finished.extend(unreadable)
            self.given_up += len(unreadable)

    async def take_over(self) -> int:
        """Take the unfinished updates nobody holds, and hand them to the handlers.

        Those given to the handlers ``MAX_ATTEMPTS`` times already are given up. In
        batches of ``REPLAY_BATCH``, waiting for room between them; returns how many
        were handed over.
        """
        data = self._application.bot_data
        handed = self.replayed
        while not self._stop.is_set():
            now = data.clock.now()
            async with data.database.uow() as uow:
                rows = await uow.inbox.take_unheld(now=now, until=now + HOLD, limit=REPLAY_BATCH)
                spent = [row for row in rows if row.attempts >= MAX_ATTEMPTS]
                await uow.inbox.finish([row.update_id for row in spent], at=now)
                await uow.commit()
            for row in spent:
                log.warning(
                    "update %d was given to the handlers %d times and never finished: "
                    "giving it up",
                    row.update_id,
                    row.attempts,
                )
            self.given_up += len(spent)
            await self._give_again([row for row in rows if row.attempts < MAX_ATTEMPTS])
            await self.room()
            if len(rows) < REPLAY_BATCH:
                break
        if self.replayed > handed:
            log.info("took over %d unfinished updates nobody held", self.replayed - handed)
        return self.replayed - handed

    async def renew(self) -> None:
        """Keep holding the updates the handlers have here."""
        if not self._outstanding:
            return
        data = self._application.bot_data
        async with data.database.uow() as uow:
            await uow.inbox.hold(sorted(self._outstanding), until=data.clock.now() + HOLD)
            await uow.commit()

    async def keep_holding(self, stop: asyncio.Event) -> None:
        """Until ``stop``: every ``RENEW_EVERY``, renew this process's holds and take over
        the updates nobody holds (at once on start: a restart's own, a dead process's)."""
        failing = False
        while not stop.is_set():
            try:
                await self.renew()
                await self.take_over()
            except SQLAlchemyError as error:
                if not failing:
                    log.warning("could not renew or take over inbox holds (%s); retrying",
                                brief(error))  # fmt: skip
                failing = True
            else:
                if failing:
                    log.info("inbox holds renewed again")
                failing = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RENEW_EVERY)

    async def room(self) -> None:
        """Wait until fewer than ``OUTSTANDING`` updates are with the handlers."""
        await self._room.wait()

    def finished(self, update: object) -> None:
        """The handlers are done with ``update`` (``PerChatUpdates.on_finished``)."""
        if not isinstance(update, Update) or update.update_id not in self._outstanding:
            return  # not one of ours (a benchmark putting updates on the queue itself)
        self._outstanding.discard(update.update_id)
        self._finished.append(update.update_id)
        if len(self._outstanding) < OUTSTANDING:
            self._room.set()

    async def _give(self, update: Update) -> None:
        self._outstanding.add(update.update_id)
        if len(self._outstanding) >= OUTSTANDING:
            self._room.clear()
        await self._application.update_queue.put(update)

    async def keep_marking(self, stop: asyncio.Event) -> None:
        """Mark finished updates every ``MARK_EVERY`` until ``stop``; then the rest."""
        failing = False
        while True:
            stopping = stop.is_set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), MARK_EVERY)
            try:
                await self.mark()
            except SQLAlchemyError as error:
                if not failing:
                    log.warning("could not mark finished updates (%s); retrying", brief(error))
                failing = True
                if stopping:
                    return  # not marked: replayed, and dropped by their claims or handled
            else:
                failing = False
                if stopping:
                    return

    async def mark(self) -> None:
        """Write down the updates finished since the last time."""
        if not self._finished:
            return
        done, self._finished = self._finished, []
        data = self._application.bot_data
        try:
            async with data.database.uow() as uow:
                await uow.inbox.finish(done, at=data.clock.now())
                await uow.commit()
        except BaseException:
            self._finished[:0] = done
            raise

    def close(self) -> None:
        """Stop replaying, and stop making anyone wait for room."""
        self._stop.set()
        self._room.set()
