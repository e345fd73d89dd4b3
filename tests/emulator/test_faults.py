"""Injected faults: 429 with retry_after, 403, 5xx, by count and by probability."""

from __future__ import annotations

import pytest

from bot.emulator import DriverError, EmulatedUser, EmulatorDriver
from tests.emulator.conftest import RawApi


@pytest.fixture
async def chat(driver: EmulatorDriver, ann: EmulatedUser) -> int:
    await driver.add_user(ann)
    return ann.id


async def test_429_with_retry_after_then_success(
    api: RawApi, driver: EmulatorDriver, chat: int
) -> None:
    await driver.inject_fault(429, retry_after=7, times=2)
    for _ in range(2):
        status, body = await api("sendMessage", chat_id=chat, text="hi")
        assert status == 429
        assert body == {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 7",
            "parameters": {"retry_after": 7},
        }
    assert await api.ok("sendMessage", chat_id=chat, text="hi")
    # Faulted calls are logged but store nothing.
    assert [c["status"] for c in await driver.calls("sendMessage")] == [429, 429, 200]
    assert len(await driver.messages(chat)) == 1


async def test_403_and_500_for_one_chat_and_method(
    api: RawApi, driver: EmulatorDriver, ann: EmulatedUser, bo: EmulatedUser
) -> None:
    await driver.add_user(ann)
    await driver.add_user(bo)
    await driver.inject_fault(403, chat_id=bo.id)
    await driver.inject_fault(500, method="sendDocument")
    assert await api.ok("sendMessage", chat_id=ann.id, text="fine")
    assert await api.fails("sendMessage", 403, chat_id=bo.id, text="x") == (
        "Forbidden: bot was blocked by the user"
    )
    assert await api.fails("sendDocument", 500, chat_id=ann.id, document="x") == (
        "Internal Server Error"
    )
    # Both rules were used up.
    assert await api.ok("sendMessage", chat_id=bo.id, text="x")


async def test_default_rules_skip_non_sending_methods(
    api: RawApi, driver: EmulatorDriver, chat: int
) -> None:
    await driver.inject_fault(502)
    assert await api.ok("getMe")
    assert await api.ok("getUpdates") == []
    assert await api.fails("sendMessage", 502, chat_id=chat, text="x") == "Bad Gateway"


async def test_star_rule_applies_to_every_method(api: RawApi, driver: EmulatorDriver) -> None:
    await driver.inject_fault(500, method="*", description="Internal Server Error: boom")
    assert await api.fails("getUpdates", 500) == "Internal Server Error: boom"


async def test_probability_is_reproducible_and_lasts_until_cleared(
    api: RawApi, driver: EmulatorDriver, chat: int
) -> None:
    async def outcomes() -> list[int]:
        statuses = []
        for _ in range(40):
            statuses.append((await api("sendMessage", chat_id=chat, text="x"))[0])
        return statuses

    await driver.inject_fault(500, probability=0.5, seed=42)
    first = await outcomes()
    await driver.clear_faults()
    await driver.inject_fault(500, probability=0.5, seed=42)
    second = await outcomes()
    assert first == second
    assert 5 < first.count(500) < 35
    assert set(first) == {200, 500}
    await driver.clear_faults()
    assert set(await outcomes()) == {200}


async def test_invalid_rules_are_refused(driver: EmulatorDriver) -> None:
    with pytest.raises(DriverError, match="unsupported fault status"):
        await driver.inject_fault(302)
    with pytest.raises(DriverError, match="probability"):
        await driver.inject_fault(500, probability=2)
