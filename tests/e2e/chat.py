"""Small helpers for end-to-end tests that read and press a chat's inline buttons."""

from __future__ import annotations

from typing import Any

from bot.app import WorkledgerApplication
from bot.emulator import EmulatedUser, EmulatorDriver

from .conftest import eventually

Message = dict[str, Any]

# The jobs that send on their own, by the clock. A test that waits for the bot's reply to
# a step of its own stops them, so that a reminder or a request card arriving at some
# moment in between never stands where the reply is awaited (the test sends what it needs).
TIMED_JOBS = (
    "approval-requests",
    "approval-digest",
    "approval-escalation",
    "daily-reminder",
    "team-summary",
    "monthly-check",
    "peer-draw",
    "appeal-clocks",
)


def stop_timed_jobs(bot: WorkledgerApplication) -> None:
    """Switch off the bot's ``TIMED_JOBS`` (``Job.enabled``, PTB's public switch)."""
    assert bot.job_queue is not None
    for name in TIMED_JOBS:
        [job] = bot.job_queue.get_jobs_by_name(name)
        job.enabled = False


def buttons(message: Message) -> dict[str, str]:
    """The message's inline buttons: visible text -> callback data."""
    return {
        button["text"]: button["callback_data"]
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
        for button in row
    }


async def current(driver: EmulatorDriver, chat_id: int, message_id: int) -> Message:
    """The message as it stands now (after any edits)."""
    return next(m for m in await driver.messages(chat_id) if m["message_id"] == message_id)


async def press(
    driver: EmulatorDriver,
    user: EmulatedUser,
    message: Message,
    label: str,
    *,
    within: float = 5.0,
) -> Message:
    """Press the button whose text starts with ``label``; return the message once it changed
    (waiting at most ``within`` seconds)."""
    data = next(d for text, d in buttons(message).items() if text.startswith(label))
    before = (message.get("text"), message.get("edit_count"))
    await driver.press(user, message["message_id"], data)

    async def changed() -> Message | None:
        now = await current(driver, user.id, message["message_id"])
        return now if (now.get("text"), now.get("edit_count")) != before else None

    return await eventually(changed, within=within)


async def answer_to_press(
    driver: EmulatorDriver, user: EmulatedUser, message: Message, data: str
) -> str:
    """Press (or forge) a button and return the bot's answer to the press."""
    update = await driver.press(user, message["message_id"], data, forge=True)
    query_id = update["callback_query"]["id"]
    [reply] = await eventually(lambda: driver.callback_answers(query_id))
    return str(reply.get("text"))


async def introduce(driver: EmulatorDriver, *users: EmulatedUser) -> None:
    """Have each user talk to the bot once, as real recipients have before any notice."""
    for user in users:
        await driver.send_text(user, "/help")
        # The bot's first answers after its start; a loaded machine may take a while.
        await driver.wait_for_message(user.id, timeout=15)


async def say(
    driver: EmulatorDriver, user: EmulatedUser, text: str, *, within: float = 5.0
) -> Message:
    """Send ``text`` as ``user``; the bot's one reply (waited for at most ``within`` s)."""
    await driver.send_text(user, text)
    [reply] = await driver.wait_for_message(user.id, timeout=within)
    return reply


async def press_for_edit(
    driver: EmulatorDriver,
    user: EmulatedUser,
    message: Message,
    data: str,
    *,
    within: float = 5.0,
) -> tuple[str, Message]:
    """Press a button; the press's answer and the message once it was edited (each waited
    for at most ``within`` seconds)."""
    before = await current(driver, user.id, message["message_id"])
    update = await driver.press(user, message["message_id"], data)
    query_id = update["callback_query"]["id"]
    [reply] = await eventually(lambda: driver.callback_answers(query_id), within=within)

    async def edited() -> Message | None:
        now = await current(driver, user.id, message["message_id"])
        return now if now.get("edit_count") != before.get("edit_count") else None

    return str(reply.get("text")), await eventually(edited, within=within)
