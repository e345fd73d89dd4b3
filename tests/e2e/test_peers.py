"""Peer ratings end to end: HR asks peers with /peers, each peer gets a private request
and rates with its buttons; no score moves while peers may rate; when the ratings close
(calibration) the peer part enters the score of the person three peers rated and not of
the one only two rated; a rater in the person's supervisor chain is refused, as are
another peer's request and presses after the close.

The organisation: HR (E001); the Coordination Office, where two managers (E100, E102)
are supervised by E101, whom the director (E300, Directorate) supervises; the Legal
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
from storage.models import (
    AuditEvent,
    Department,
    PeerRequest,
    PeriodScore,
    Post,
    Rating,
    Staff,
)

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
                      post_id=post.id if number in ("E100", "E102") else None, roles=roles,
                      supervisor_id=supervisor, language="en",
                      telegram_user_id=None if user is None else user.id)
            )  # fmt: skip
            offices.ids[number] = staff.id
            return staff.id

        await person("E001", directorate.id, Role.STAFF | Role.HR, offices.hr)
        director = await person("E300", directorate.id, Role.SUPERVISOR, offices.director)
        boss = await person("E101", coordination.id, Role.SUPERVISOR, offices.supervisor, director)
        await person("E100", coordination.id, Role.STAFF, None, boss)
        await person("E102", coordination.id, Role.STAFF, None, boss)
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


async def supervisor_card(driver: EmulatorDriver, offices: Offices, number: str) -> Message:
    listing = await say(driver, offices.supervisor, "/review")
    data = ReviewOpen("2026-11", offices.ids[number]).pack()
    _, card = await press_for_edit(driver, offices.supervisor, listing, data)
    return card


async def rate_all(driver: EmulatorDriver, user: EmulatedUser, request: Message) -> Message:
    message = request
    for indicator in INDICATORS:
        answer, message = await press_for_edit(
            driver, user, message, rate_data(message, indicator, 5)
        )
        assert answer == "Saved."
    return message


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
    # The supervisor is in the chain too; a peer asked twice is asked once.
    again = await say(driver, offices.hr, "/peers E100 E101 E201")
    assert "supervisor chain" in again["text"] and "They were asked already." in again["text"]
    # The same three peers for a colleague, E102, of whom only two will answer.
    assert (
        "E203 (E203): asked"
        in (await say(driver, offices.hr, "/peers E102 E201 E202 E203"))["text"]
    )

    requests: dict[str, list[Message]] = {"E100": [], "E102": []}
    for user in offices.peers:
        received = await driver.wait_for_message(user.id, count=2)
        for request in received:
            assert "Anonymous: nobody sees who gave which rating." in request["text"]
            assert "Inter-department coordination: not rated yet" in request["text"]
            number = "E100" if "Person E100 (Coordination Office)" in request["text"] else "E102"
            assert request["text"].startswith(
                f"Peer rating of Person {number} (Coordination Office) for November 2026"
            )
            requests[number].append(request)
    assert [len(requests["E100"]), len(requests["E102"])] == [3, 3]
    async with database.uow() as uow:
        asked = list(await uow.session.scalars(select(PeerRequest).order_by(PeerRequest.id)))
    assert offices.ids["E300"] not in {r.rater_id for r in asked}
    assert len(await driver.messages(offices.director.id)) == 1, "E300 had only /help's reply"

    # A peer cannot press on another peer's request (forged from their own chat).
    forged = PeerRate(asked[0].id, "risk_control", 1).pack()
    other = offices.peers[1] if asked[0].rater_id == offices.ids["E201"] else offices.peers[0]
    refused = await answer_to_press(driver, other, requests["E100"][1], forged)
    assert refused == "This request is not yours, or no longer stands."

    # The supervisor's review: their ratings (4 on both) make the score of each.
    set_clock(bot, REVIEW_STAGE)
    before = {}
    for number in ("E100", "E102"):
        card = await _rate_as_supervisor(
            driver, offices, await supervisor_card(driver, offices, number)
        )
        before[number] = score_now(card)
    # management: coordination 0.25 and risk 0.2 rated 4 of 5 (80), documents drafted
    # 0.25 at 0: 80 x 0.45 / 0.7.
    assert before == {"E100": Decimal("51.43"), "E102": Decimal("51.43")}

    # All three peers rate E100 5 on both, two of them E102. While peers may still rate,
    # no score moves, whoever rates: nothing shown follows one peer.
    for n, (user, request) in enumerate(zip(offices.peers, requests["E100"], strict=True)):
        rated = await rate_all(driver, user, request)
        assert "Inter-department coordination: 5" in rated["text"] and "✓5" in buttons(rated)
        assert score_now(await supervisor_card(driver, offices, "E100")) == before["E100"]
        status = await say(driver, offices.hr, "/peers")
        assert f"Person E100 (E100): {n + 1} of 3 answered" in status["text"]
    for user, request in zip(offices.peers[:2], requests["E102"][:2], strict=True):
        await rate_all(driver, user, request)
    assert score_now(await supervisor_card(driver, offices, "E102")) == before["E102"]
    status = await say(driver, offices.hr, "/peers")
    assert "Person E102 (E102): 2 of 3 answered" in status["text"]
    assert "Person E20" not in status["text"], "HR sees no rater"

    # Calibration: the ratings close and count at once, where at least three peers rated.
    # E100: (0.6 x 4 + 0.3 x 5) / 0.9 of 5 on both, (0.45 x 86.67) / 0.7 = 55.71; E102,
    # with two peers, as before.
    set_clock(bot, CALIBRATION)
    card = await supervisor_card(driver, offices, "E100")
    assert score_now(card) == Decimal("55.71")
    assert "peer" not in card["text"].lower(), "the supervisor sees no peer count or name"
    assert score_now(await supervisor_card(driver, offices, "E102")) == before["E102"]
    overview = await say(driver, offices.hr, "/results")
    assert overview["text"], "HR's figures are computed with the peers now"
    async with database.uow() as uow:
        stored = {
            staff_id: score
            for staff_id, score in await uow.session.execute(
                select(PeriodScore.staff_id, PeriodScore.score)
            )
        }
    assert stored[offices.ids["E100"]] == Decimal("55.71")
    assert stored[offices.ids["E102"]] == Decimal("51.43")

    # A press after the close is refused and changes nothing.
    request = requests["E102"][2]
    refused = await answer_to_press(
        driver, offices.peers[2], request, rate_data(request, "risk_control", 1)
    )
    assert refused.startswith("The peer ratings of this period are closed")
    async with database.uow() as uow:
        ratings = list(
            await uow.session.scalars(select(Rating).where(Rating.rater_kind == RaterKind.PEER))
        )
        actions = list(await uow.session.scalars(select(AuditEvent.action)))
    assert sorted(r.value for r in ratings) == [5] * 10
    assert all(r.rater_id is None for r in ratings), "the ratings do not name their rater"
    assert actions.count("peer.assigned") == 6 and actions.count("peer.answered") == 5
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
