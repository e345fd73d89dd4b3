"""The bot scores a whole period (HR's /results) in its scoring worker process once the
period is big enough to be worth one (a small office's in a thread), and the process
stops with the bot."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest

from assessment import period_scoring
from bot.app import running
from bot.emulator import EmulatorDriver
from handlers.context import WorkledgerApplication

from .chat import introduce
from .people import seed
from .test_results import IN_CALIBRATION, NOVEMBER, _score_of, say, store_facts


async def test_results_are_scored_in_the_bots_worker_which_stops_with_the_bot(
    application: WorkledgerApplication, driver: EmulatorDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running(application) as bot:
        data = bot.bot_data
        assert data.scoring.pid is None  # started when first needed
        organisation = await seed(data.database)
        await introduce(driver, organisation.hr, organisation.supervisor, organisation.staff)
        data.clock.set(IN_CALIBRATION, frozen=True)
        await store_facts(bot, "2026-11", NOVEMBER)
        overview = await say(driver, organisation.hr, "/results")
        assert "5 people assessed" in overview["text"]
        assert data.scoring.pid is None  # five people: scored in a thread, no process
        # A period as big as a batch: the same press scores it again, in the worker.
        monkeypatch.setattr(period_scoring, "WORKER_FROM", 1)
        # The worker process starts first: seconds on a loaded machine.
        overview = await say(driver, organisation.hr, "/results", within=60)
        assert "5 people assessed" in overview["text"]
        pid = data.scoring.pid
        assert pid is not None and pid != os.getpid()
        assert (await _score_of(bot, "E011")).score == Decimal(87)  # 85 + 2
    assert data.scoring.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
