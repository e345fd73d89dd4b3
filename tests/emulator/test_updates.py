"""getUpdates: offsets, long polling, duplicates, and the webhook conflict."""

from __future__ import annotations

import asyncio
import time

from bot.emulator import EmulatedUser, EmulatorDriver
from tests.emulator.conftest import RawApi


async def test_offset_confirms_earlier_updates(
    api: RawApi, driver: EmulatorDriver, ann: EmulatedUser
) -> None:
    for text in ("one", "two", "three"):
        await driver.send_text(ann, text)

    first = await api.ok("getUpdates")
    assert [u["message"]["text"] for u in first] == ["one", "two", "three"]
    assert [u["update_id"] for u in first] == [1, 2, 3]

    # Without a new offset the same updates come back; an offset confirms them.
    assert len(await api.ok("getUpdates", offset=1)) == 3
    assert [u["update_id"] for u in await api.ok("getUpdates", offset=3)] == [3]
    assert await api.ok("getUpdates", offset=4) == []


async def test_limit_and_negative_offset(
    api: RawApi, driver: EmulatorDriver, ann: EmulatedUser
) -> None:
    for n in range(5):
        await driver.send_text(ann, f"m{n}")
    assert [u["update_id"] for u in await api.ok("getUpdates", limit=2)] == [1, 2]
    # A negative offset keeps only the last -offset updates, forgetting the rest.
    assert [u["update_id"] for u in await api.ok("getUpdates", offset=-2)] == [4, 5]
    assert [u["update_id"] for u in await api.ok("getUpdates", offset=0)] == [4, 5]


async def test_long_poll_returns_as_soon_as_an_update_arrives(
    api: RawApi, driver: EmulatorDriver, ann: EmulatedUser
) -> None:
    async def send_later() -> None:
        await asyncio.sleep(0.2)
        await driver.send_text(ann, "wake up")

    started = time.monotonic()
    sender = asyncio.create_task(send_later())
    updates = await api.ok("getUpdates", timeout=30)
    elapsed = time.monotonic() - started
    await sender
    assert [u["message"]["text"] for u in updates] == ["wake up"]
    assert 0.15 < elapsed < 0.9


async def test_long_poll_is_capped(api: RawApi) -> None:
    started = time.monotonic()
    assert await api.ok("getUpdates", timeout=50) == []
    # The fixture caps long polls at 1 s so that polling bots stop fast in tests.
    assert 0.9 < time.monotonic() - started < 3


async def test_second_poller_terminates_the_first(api: RawApi) -> None:
    first = asyncio.create_task(api("getUpdates", timeout=5))
    await asyncio.sleep(0.1)
    assert await api.ok("getUpdates") == []
    status, body = await first
    assert status == 409
    assert body["description"].startswith("Conflict: terminated by other getUpdates request")


async def test_replayed_update_id_is_delivered_again(
    api: RawApi, driver: EmulatorDriver, ann: EmulatedUser
) -> None:
    update = await driver.send_text(ann, "hello")
    assert [u["update_id"] for u in await api.ok("getUpdates")] == [1]
    await driver.send_text(ann, "next")
    assert [u["update_id"] for u in await api.ok("getUpdates", offset=2)] == [2]

    # The same update again (Telegram resending after a crash): the bot must see it,
    # in a batch of its own, even though offset 3 already "confirmed" id 1.
    await driver.send_raw_update(update)
    await driver.send_text(ann, "after")
    replay = await api.ok("getUpdates", offset=3)
    assert replay == [update]
    # python-telegram-bot then asks for offset = 1 + 1; the queue moves on.
    assert [u["message"]["text"] for u in await api.ok("getUpdates", offset=2)] == ["after"]
    assert [u["update_id"] for u in await api.ok("getUpdates", offset=2)] == [3]


async def test_raw_update_without_id_is_numbered(api: RawApi, driver: EmulatorDriver) -> None:
    update = await driver.send_raw_update({"message": {"message_id": 9, "date": 0, "chat": {}}})
    assert update["update_id"] == 1
    assert (await api.ok("getUpdates"))[0]["update_id"] == 1


async def test_get_updates_conflicts_with_webhook(api: RawApi) -> None:
    assert await api.ok("setWebhook", url="http://127.0.0.1:9/hook") is True
    description = await api.fails("getUpdates", 409)
    assert "webhook is active" in description
    assert await api.ok("deleteWebhook") is True
    assert await api.ok("getUpdates") == []
