"""Every press is answered, whatever its data: the whole callback grammar through the real bot.

Hypothesis draws presses of every kind (each registered prefix) with fields that are
huge, negative, zero, malformed, or other people's real ids, from HR, a supervisor, a
member, a leaver and a stranger. Each press must get an answer and nothing may be
logged at error level: a refusal, never the apology.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import date

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.emulator import EmulatedUser, EmulatorDriver
from handlers.callbacks import CallbackData
from handlers.context import WorkledgerApplication

from .chat import Message
from .conftest import eventually
from .people import Organisation, seed

pytestmark = pytest.mark.e2e

STRANGER = EmulatedUser(id=9099, first_name="Zed", language_code="en")

# What a field may hold: the bot's own forms and everything a forger might try.
INTEGERS = st.one_of(
    st.integers(min_value=0, max_value=8),  # zero and the seeded people's, entries' ids
    st.sampled_from([-1, 2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64, 10_000, 10_001]),
    st.integers(min_value=2**31, max_value=2**80),
    st.integers(min_value=-(2**70), max_value=2**70),
)
WORDS = st.sampled_from(
    ["a", "r", "j", "apply", "cancel", "left", "send", "csv", "xlsx", "done", "ack", "en",
     "zh_Hant", "now", "1700", "log", "snooze", "leave", "date", "text", "delete",
     "delete_yes", "everyone", "a", "r", "j", "service", "skip", "save"]
)  # fmt: skip
EDGES = st.sampled_from(["0001-01-01", "1999-12-31", "2000-01-01", "2100-12-31", "9999-12-31"])
DAYS = st.one_of(
    st.dates().map(date.isoformat),
    st.dates(date(1990, 1, 1), date(2110, 12, 31)).map(date.isoformat),
    EDGES,
    st.sampled_from(["2026-02-30", "20261123", "2026-W47-1"]),
)
MONTHS = st.one_of(
    st.dates().map(lambda day: day.strftime("%Y-%m")),
    st.dates(date(1990, 1, 1), date(2110, 12, 31)).map(lambda day: day.strftime("%Y-%m")),
    EDGES.map(lambda day: day[:7]),
    st.sampled_from(["2026-13", "2026-00", "2026-1"]),
)
FIELD = st.one_of(
    INTEGERS.map(str),
    WORDS,
    DAYS,
    MONTHS,
    st.text(max_size=12),
    st.sampled_from(["", "+1", " 1", "01", "1_0", "١", "1e3", "0x10", "nan"]),
)
# A text field's own kind of value, by its name; any other is a word.
SHAPES = {"day": DAYS, "month": MONTHS}


def _fields_of(kind: type[CallbackData]) -> st.SearchStrategy[list[str]]:
    """Fields shaped like ``kind``'s own, mostly: integers where it has ids, words elsewhere."""
    shaped = st.tuples(
        *(
            INTEGERS.map(str)
            if field.type in ("int", int)
            else st.one_of(SHAPES.get(field.name, WORDS), FIELD)
            for field in dataclasses.fields(kind)
        )
    ).map(list)
    # Mostly the kind's own shape (four in five), sometimes any number of anything.
    anything = st.lists(FIELD, max_size=6)
    return st.integers(min_value=0, max_value=4).flatmap(lambda n: shaped if n else anything)


PRESS = st.tuples(
    st.sampled_from(sorted(CallbackData.registry)).flatmap(
        lambda prefix: _fields_of(CallbackData.registry[prefix]).map(
            lambda fields: ":".join([prefix, *fields])
        )
    ),
    st.integers(min_value=0, max_value=4),  # who presses: HR, supervisor, member, leaver, stranger
)


@pytest.fixture
async def chats(
    bot: WorkledgerApplication, driver: EmulatorDriver
) -> list[tuple[EmulatedUser, Message]]:
    org: Organisation = await seed(bot.bot_data.database)
    # A real entry of the member's, so small ids name something that exists.
    await driver.send_text(org.staff, "Counter duty, morning")
    await driver.wait_for_message(org.staff.id)
    # And the member's review of a period (id 1), so that review presses name one.
    await driver.send_text(org.staff, "/self")
    await driver.wait_for_message(org.staff.id)
    found = []
    for user in (org.hr, org.supervisor, org.staff, org.left, STRANGER):
        await driver.send_text(user, "/help")
        messages = await driver.wait_for_message(user.id)
        found.append((user, messages[-1]))
    return found


@settings(
    max_examples=60,
    deadline=None,
    # One bot serves every example, as one bot serves every press.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(press=PRESS)
# The presses that crashed handlers before their values were bounded in the parser.
@example(press=(f"ap:{2**63}:1:r", 1))
@example(press=(f"eo:{2**63}", 2))
@example(press=(f"pp:{2**63}", 1))
@example(press=(f"ack:{2**63}", 2))
@example(press=(f"as:1:{2**63}:1800000000:0", 1))
@example(press=(f"as:1:2:{2**63}:0", 1))
@example(press=("mp:0001-01:0", 2))
@example(press=(f"mp:2026-11:{2**63}", 2))
@example(press=(f"dp:2026-11-23:{2**63}", 2))
@example(press=(f"ap:{2**63}:1:r", 4))
# The self-assessment's and the review's presses, on reviews that exist and that do not.
@example(press=("rvo:2026-11:3", 1))
@example(press=("rvo:2026-Q4:3", 1))
@example(press=("rvl:2026-11:0", 1))
@example(press=("rvr:1:1:enforcement_compliance:5", 1))
@example(press=("rvp:1:1:q", 1))
@example(press=("rvs:1:1", 1))
@example(press=("sft:1", 2))
@example(press=("sfo:1", 2))
@example(press=("sfr:1:1:enforcement_compliance:1", 2))
async def test_every_press_is_answered_and_nothing_is_logged_as_an_error(
    driver: EmulatorDriver,
    chats: list[tuple[EmulatedUser, Message]],
    caplog: pytest.LogCaptureFixture,
    press: tuple[str, int],
) -> None:
    data, who = press
    user, message = chats[who]
    caplog.set_level(logging.ERROR)
    late = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert late == [], "a press before this one logged an error after it was answered"
    caplog.clear()
    update = await driver.press(user, message["message_id"], data, forge=True)
    query_id = update["callback_query"]["id"]

    async def answered() -> list[dict[str, object]]:
        return await driver.callback_answers(query_id)

    answers = await eventually(answered)
    # The error handler logs before it apologises: once answered, any error is in the log.
    errors = [
        f"{record.getMessage()}: {record.exc_text or record.exc_info}"
        for record in caplog.records
        if record.levelno >= logging.ERROR
    ]
    assert errors == [], f"press {data!r} by {user.first_name} logged errors"
    assert not any("went wrong" in str(answer.get("text")) for answer in answers), data


@pytest.mark.parametrize("data", ["dp:2000-01-01:1"])
async def test_the_same_page_pressed_twice_is_answered_twice_with_no_error(
    driver: EmulatorDriver,
    chats: list[tuple[EmulatedUser, Message]],
    caplog: pytest.LogCaptureFixture,
    data: str,
) -> None:
    """The second press asks for the page already shown: Telegram refuses the edit as
    changing nothing, which is no failure (the hypothesis run above found it)."""
    user, message = chats[2]
    caplog.set_level(logging.ERROR)
    for _ in range(2):
        update = await driver.press(user, message["message_id"], data, forge=True)
        query_id = update["callback_query"]["id"]

        async def answered(query_id: str = query_id) -> list[dict[str, object]]:
            return await driver.callback_answers(query_id)

        await eventually(answered)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
