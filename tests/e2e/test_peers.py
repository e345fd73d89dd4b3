"""Peer ratings end to end: HR asks peers with /peers, each peer gets a private request
and rates with its buttons; the peer part enters the supervisor's "Score now" only once
the third peer has rated; a rater in the person's supervisor chain is refused; another
peer's request and presses after the ratings close are refused.

The organisation: HR (E001); the Coordination Office, where a manager (E100, management
post) is supervised by E101, whom the director (E300, Directorate) supervises; the Legal
Office with three peers (E201-E203). The clock stands on 26 November 2026 (November's
self-assessment), then 4 December (supervisor review), then 8 December (calibration).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.emulator import EmulatedUser, EmulatorDriver
from handlers.callbacks import PeerRate, ReviewOpen
from handlers.context import WorkledgerApplication
from storage.engine import Database
from storage.enums import RaterKind, Role
from storage.models import AuditEvent, Department, PeerRequest, Post, Rating, Staff

from .chat import (
    Message,
    answer_to_press,
    buttons,
    introduce,
    press_for_edit,
    say,
    stop_timed_jobs,
)

pytestmark = pytest.mark.e2e

ZONE = ZoneInfo("Asia/Shanghai")
SELF_STAGE = datetime(2026, 11, 26, 10, 0, tzinfo=ZONE)
REVIEW_STAGE = datetime(2026, 12, 4, 10, 0, tzinfo=ZONE)
CALIBRATION = datetime(2026, 12, 8, 10, 0, tzinfo=ZONE)
INDICATORS = ("interdepartment_coordination", "risk_control")


@dataclass(frozen=True)
class Offices:
    hr: EmulatedUser
    supervisor: EmulatedUser
    director: EmulatedUser
    peers: tuple[EmulatedUser, ...]
    ids: dict[str, int]


async def seed(database: Database) -> Offices:
    offices = Offices(
        hr=EmulatedUser(id=9301, first_name="Hu", language_code="en"),
        supervisor=EmulatedUser(id=9302, first_name="Sun", language_code="en"),
        director=EmulatedUser(id=9303, first_name="Da", language_code="en"),
        peers=tuple(
            EmulatedUser(id=9311 + n, first_name=f"Peer{n}", language_code="en") for n in range(3)
        ),
        ids={},
    )
    async with database.uow() as uow:
        coordination = await uow.departments.add(Department(name="Coordination Office"))
        legal = await uow.departments.add(Department(name="Legal Office"))
        directorate = await uow.departments.add(Department(name="Directorate"))
        post = await uow.posts.add(
            Post(department_id=coordination.id, name="Coordinator", post_type="management")
        )

        async def person(
            number: str, department: int, roles: Role, user: EmulatedUser | None,
            supervisor: int | None = None,
        ) -> int:  # fmt: skip
            staff = await uow.staff.add(
                Staff(employee_no=number, name=f"Person {number}", department_id=department,
                      post_id=post.id if number == "E100" else None, roles=roles,
                      supervisor_id=supervisor, language="en",
                      telegram_user_id=None if user is None else user.id)
            )  # fmt: skip
            offices.ids[number] = staff.id
            return staff.id

        await person("E001", directorate.id, Role.STAFF | Role.HR, offices.hr)
        director = await person("E300", directorate.id, Role.SUPERVISOR, offices.director)
        boss = await person("E101", coordination.id, Role.SUPERVISOR, offices.supervisor, director)
        await person("E100", coordination.id, Role.STAFF, None, boss)
        for n, user in enumerate(offices.peers):
            await person(f"E20{n + 1}", legal.id, Role.STAFF, user)
        await uow.commit()
    return offices


@pytest.fixture
async def offices(bot: WorkledgerApplication, driver: EmulatorDriver) -> Offices:
    found = await seed(bot.bot_data.database)
    await introduce(driver, found.hr, found.supervisor, found.director, *found.peers)
    set_clock(bot, SELF_STAGE)
    stop_timed_jobs(bot)
    return found


def set_clock(bot: WorkledgerApplication, moment: datetime) -> None:
    bot.bot_data.clock.set(moment, frozen=True)


def every_press(message: Message) -> list[str]:
    """Every button's data (``buttons`` keeps one per text; the rating rows repeat them)."""
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [button["callback_data"] for row in rows for button in row]


def rate_data(message: Message, indicator: str, value: int) -> str:
    [found] = [
        d
        for d in every_press(message)
        if d.startswith("prr:") and d.endswith(f":{indicator}:{value}")
    ]
    return found


def score_now(card: Message) -> Decimal:
    found = re.search(r"Score now: ([\d.,]+)", card["text"])
    assert found is not None, card["text"]
    return Decimal(found.group(1).replace(",", ""))


async def supervisor_card(driver: EmulatorDriver, offices: Offices) -> Message:
    listing = await say(driver, offices.supervisor, "/review")
    data = ReviewOpen("2026-11", offices.ids["E100"]).pack()
    _, card = await press_for_edit(driver, offices.supervisor, listing, data)
    return card


async def test_peers_count_once_the_third_has_rated_and_the_chain_is_refused(
    bot: WorkledgerApplication, driver: EmulatorDriver, offices: Offices
) -> None:
    database = bot.bot_data.database
    # HR asks the three Legal peers, the person's own supervisor's supervisor (another
    # department, but in the chain) and someone unknown.
    reply = await say(driver, offices.hr, "/peers E100 E201 E202 E203 E300 E999")
    text = reply["text"]
    assert text.startswith("Peers asked to rate Person E100 for November 2026:")
    for number in ("E201", "E202", "E203"):
        assert f"Person {number} ({number}): asked; their request is on its way" in text
    assert (
        "Person E300 (E300): Nobody rates themself or anyone in their own supervisor chain."
        in text
    )
    assert "E999: No one on the roster has that employee number." in text
    # The supervisor is in the chain too (and in the person's own department).
    again = await say(driver, offices.hr, "/peers E100 E101 E201")
    assert "supervisor chain" in again["text"] and "They were asked already." in again["text"]

    requests = []
    for user in offices.peers:
        [request] = await driver.wait_for_message(user.id)
        assert request["text"].startswith(
            "Peer rating of Person E100 (Coordination Office) for November 2026"
        )
        assert "Anonymous: nobody sees who gave which rating." in request["text"]
        assert "Inter-department coordination: not rated yet" in request["text"]
        requests.append(request)
    async with database.uow() as uow:
        asked = list(await uow.session.scalars(select(PeerRequest)))
    assert sorted(r.rater_id for r in asked) == sorted(
        offices.ids[n] for n in ("E201", "E202", "E203")
    )
    assert (await say(driver, offices.director, "/help"))["text"], "E300 got no request"

    # A peer cannot press on another peer's request (forged from their own chat).
    forged = PeerRate(asked[0].id, "risk_control", 1).pack()
    other = offices.peers[1] if asked[0].rater_id == offices.ids["E201"] else offices.peers[0]
    refused = await answer_to_press(driver, other, requests[1], forged)
    assert refused == "This request is not yours, or no longer stands."

    # The supervisor's review: their ratings make the score before any peer has rated.
    set_clock(bot, REVIEW_STAGE)
    card = await _rate_as_supervisor(driver, offices, await supervisor_card(driver, offices))
    before = score_now(card)

    # Two peers rate both indicators 5: below min_raters, the score does not move.
    for user, request in zip(offices.peers[:2], requests[:2], strict=True):
        message = request
        for indicator in INDICATORS:
            answer, message = await press_for_edit(
                driver, user, message, rate_data(message, indicator, 5)
            )
            assert answer == "Saved."
        assert "Inter-department coordination: 5" in message["text"]
        assert "✓5" in buttons(message)
    after_two = score_now(await supervisor_card(driver, offices))
    assert after_two == before
    status = await say(driver, offices.hr, "/peers")
    assert "Person E100 (E100): 2 of 3 answered" in status["text"]

    # The third peer rates: the peer part enters the score (supervisor 4 and peers 5).
    message = requests[2]
    for indicator in INDICATORS:
        _, message = await press_for_edit(
            driver, offices.peers[2], message, rate_data(message, indicator, 5)
        )
    card = await supervisor_card(driver, offices)
    after_three = score_now(card)
    assert after_three > before
    # management: coordination 0.25 and risk 0.2 rated (0.6 x 4 + 0.3 x 5) / 0.9 of 5,
    # documents drafted 0.25 at 0: (0.45 x 86.67) / 0.7 = 55.71; before, 80 x 0.45 / 0.7.
    assert (before, after_three) == (Decimal("51.43"), Decimal("55.71"))
    assert "peer" not in card["text"].lower(), "the supervisor sees no peer count or name"
    status = await say(driver, offices.hr, "/peers")
    assert "Person E100 (E100): 3 of 3 answered" in status["text"]
    assert "Person E20" not in status["text"], "HR sees no rater"

    # Calibration: the ratings are closed; a press is refused and changes nothing.
    set_clock(bot, CALIBRATION)
    refused = await answer_to_press(
        driver, offices.peers[0], requests[0], rate_data(requests[0], "risk_control", 1)
    )
    assert refused.startswith("The peer ratings of this period are closed")
    async with database.uow() as uow:
        ratings = list(
            await uow.session.scalars(select(Rating).where(Rating.rater_kind == RaterKind.PEER))
        )
        actions = list(await uow.session.scalars(select(AuditEvent.action)))
    assert sorted(r.value for r in ratings) == [5] * 6
    assert all(r.rater_id is None for r in ratings), "the ratings do not name their rater"
    assert actions.count("peer.assigned") == 3 and actions.count("peer.answered") == 3
    assert not any(
        "value" in (event.details or {}) for event in await _events(database, "peer.rated")
    ), "the audit log names no peer's answer"


async def _events(database: Database, action: str) -> list[AuditEvent]:
    async with database.uow() as uow:
        return list(
            await uow.session.scalars(select(AuditEvent).where(AuditEvent.action == action))
        )


async def _rate_as_supervisor(driver: EmulatorDriver, offices: Offices, card: Message) -> Message:
    for indicator in INDICATORS:
        data = next(
            d
            for d in every_press(card)
            if d.startswith("rvr:") and d.split(":")[3] == indicator and d.endswith(":4")
        )
        answer, card = await press_for_edit(driver, offices.supervisor, card, data)
        assert answer == "Saved."
    return card
