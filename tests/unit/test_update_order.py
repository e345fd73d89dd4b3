"""Updates of different chats run side by side; each chat's run in the order they came."""

from __future__ import annotations

import asyncio

from telegram import Update

from bot.updates import PerChatUpdates


def _update(update_id: int, chat: int) -> Update:
    return Update.de_json(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": 0,
                "chat": {"id": chat, "type": "private"},
                "from": {"id": chat, "is_bot": False, "first_name": "U"},
                "text": "work",
            },
        },
        None,
    )


async def test_a_slow_update_holds_up_its_own_chat_only() -> None:
    processor = PerChatUpdates(concurrent=8)
    release = asyncio.Event()
    done: list[int] = []

    async def handle(update_id: int, *, wait: bool = False) -> None:
        if wait:
            await release.wait()
        done.append(update_id)

    tasks = [
        asyncio.create_task(processor.process_update(_update(1, 100), handle(1, wait=True))),
        asyncio.create_task(processor.process_update(_update(2, 100), handle(2))),
        asyncio.create_task(processor.process_update(_update(3, 200), handle(3))),
    ]
    for _ in range(20):
        await asyncio.sleep(0)
    # Chat 200 was answered while chat 100's first update still waits; its second waits too.
    assert done == [3]
    release.set()
    await asyncio.gather(*tasks)
    assert done == [3, 1, 2]


async def test_a_chats_updates_keep_their_order_under_load() -> None:
    processor = PerChatUpdates(concurrent=3)
    seen: dict[int, list[int]] = {}

    async def handle(chat: int, update_id: int) -> None:
        await asyncio.sleep(0.001 * (update_id % 3))
        seen.setdefault(chat, []).append(update_id)

    tasks = [
        asyncio.create_task(
            processor.process_update(_update(n, 100 + n % 4), handle(100 + n % 4, n))
        )
        for n in range(60)
    ]
    await asyncio.gather(*tasks)
    for chat, order in seen.items():
        assert order == sorted(order), chat
    assert sum(len(order) for order in seen.values()) == 60


async def test_a_chat_tapping_fast_behind_a_slow_update_holds_up_nobody_else() -> None:
    processor = PerChatUpdates(concurrent=4)
    release = asyncio.Event()
    done: list[int] = []

    async def handle(update_id: int, *, wait: bool = False) -> None:
        if wait:
            await release.wait()
        done.append(update_id)

    busy = [
        asyncio.create_task(processor.process_update(_update(n, 100), handle(n, wait=n == 1)))
        for n in range(1, 7)
    ]
    other = asyncio.create_task(processor.process_update(_update(50, 200), handle(50)))
    for _ in range(20):
        await asyncio.sleep(0)
    assert done == [50], "the other chat was answered while chat 100 waits"
    release.set()
    await asyncio.gather(*busy, other)
    assert done == [50, 1, 2, 3, 4, 5, 6]


async def test_draining_finishes_what_runs_and_starts_nothing_more() -> None:
    processor = PerChatUpdates(concurrent=8)
    finished: list[int] = []
    processor.on_finished = lambda update: finished.append(update.update_id)  # type: ignore[attr-defined]
    release = asyncio.Event()
    done: list[int] = []

    async def handle(update_id: int, *, wait: bool = False) -> None:
        if wait:
            await release.wait()
        done.append(update_id)

    tasks = [
        asyncio.create_task(processor.process_update(_update(1, 100), handle(1, wait=True))),
        asyncio.create_task(processor.process_update(_update(2, 100), handle(2))),
        asyncio.create_task(processor.process_update(_update(3, 200), handle(3))),
    ]
    for _ in range(20):
        await asyncio.sleep(0)
    processor.drain()
    tasks.append(asyncio.create_task(processor.process_update(_update(4, 300), handle(4))))
    release.set()
    await asyncio.gather(*tasks)
    # 1 was running and finished; 2 (behind it) and 4 (after the drain) never started.
    assert done == [3, 1]
    assert finished == [3, 1]
