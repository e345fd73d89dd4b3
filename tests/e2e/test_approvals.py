"""Supervisors decide entries in chat, end to end: one by one, in bulk, delegated, escalated."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from bot.emulator import EmulatedUser, EmulatorDriver
from handlers.approval_jobs import send_digests, send_escalations, send_requests
from handlers.callbacks import Decide
from handlers.context import WorkledgerApplication
from storage.enums import EntryStatus
from storage.models import AuditEvent, Staff, WorkEntry

from .chat import Message, answer_to_press, buttons, current, introduce, press
from .conftest import eventually
from .people import COLLEAGUE, Organisation, seed_with_colleague

pytestmark = pytest.mark.e2e


@pytest.fixture
async def org(bot: WorkledgerApplication, driver: EmulatorDriver) -> Organisation:
    organisation = await seed_with_colleague(bot.bot_data.database)
    # Telegram lets a bot write only to people who talked to it first.
    await introduce(
        driver, organisation.hr, organisation.supervisor, organisation.staff, COLLEAGUE
    )
    return organisation


async def log(driver: EmulatorDriver, user: EmulatedUser, text: str) -> Message:
    await driver.send_text(user, text)
    [card] = await driver.wait_for_message(user.id)
    return card


async def request(
    bot: WorkledgerApplication, driver: EmulatorDriver, approver: EmulatedUser, count: int = 1
) -> list[Message]:
    """Run the request job now; the requests that reach ``approver``."""
    await send_requests(bot.bot_data, datetime.now(UTC))
    return await driver.wait_for_message(approver.id, count=count, timeout=8)


async def entries(bot: WorkledgerApplication) -> list[WorkEntry]:
    async with bot.bot_data.database.uow() as uow:
        return list(await uow.session.scalars(select(WorkEntry).order_by(WorkEntry.id)))


async def actions(bot: WorkledgerApplication, prefix: str) -> list[tuple[str, int | None]]:
    async with bot.bot_data.database.uow() as uow:
        rows = await uow.session.execute(
            select(AuditEvent.action, AuditEvent.actor_staff_id)
            .where(AuditEvent.action.startswith(prefix))
            .order_by(AuditEvent.id)
        )
        return [(action, actor) for action, actor in rows]


async def staff_id(bot: WorkledgerApplication, employee_no: str) -> int:
    async with bot.bot_data.database.uow() as uow:
        return (await uow.staff.by_employee_nos([employee_no]))[0].id


async def test_approve_return_with_reason_resubmit_and_reject(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    await log(driver, org.staff, "Processed 12 permits")
    [ask] = await request(bot, driver, org.supervisor)
    assert ask["text"].startswith("Entry to approve: Su Yi (E011)")
    assert "Processed 12 permits" in ask["text"]
    assert set(buttons(ask)) == {"Approve", "Return", "Reject"}
    done = await press(driver, org.supervisor, ask, "Approve")
    assert "✅ Approved by Sun Li" in done["text"]
    assert buttons(done) == {}
    [told] = await driver.wait_for_message(org.staff.id, timeout=8)
    assert told["text"].startswith("Sun Li approved your entry of")
    [entry] = await entries(bot)
    assert entry.status is EntryStatus.APPROVED
    assert entry.decision_via == "supervisor"

    card = await log(driver, org.staff, "Counter duty")
    [ask] = await request(bot, driver, org.supervisor)
    await driver.press(org.supervisor, ask["message_id"], buttons(ask)["Return"])
    [why] = await driver.wait_for_message(org.supervisor.id)
    assert why["text"].startswith("Why return this entry of Su Yi?")
    await driver.send_text(org.supervisor, "Please add how many visitors")
    [said] = await driver.wait_for_message(org.supervisor.id)
    assert said["text"].startswith("↩️ Returned by Sun Li")
    assert "Please add how many visitors" in said["text"]
    assert buttons(await current(driver, org.supervisor.id, ask["message_id"])) == {}
    [told] = await driver.wait_for_message(org.staff.id, timeout=8)
    assert "returned your entry" in told["text"]
    assert "Please add how many visitors" in told["text"]
    returned = (await entries(bot))[1]
    assert (returned.status, returned.decision_reason) == (
        EntryStatus.RETURNED,
        "Please add how many visitors",
    )

    # The author fixes it: the edit resubmits it, and it comes back for a decision.
    await driver.press(org.staff, card["message_id"], buttons(card)["Edit text"])
    await driver.wait_for_message(org.staff.id)
    await log(driver, org.staff, "Counter duty, 30 visitors")
    resubmitted = (await entries(bot))[1]
    assert resubmitted.status is EntryStatus.SUBMITTED
    [ask] = await request(bot, driver, org.supervisor)
    assert "Counter duty, 30 visitors" in ask["text"]
    await driver.press(org.supervisor, ask["message_id"], buttons(ask)["Reject"])
    [why] = await driver.wait_for_message(org.supervisor.id)
    assert why["text"].startswith("Why reject")
    await driver.send_text(org.supervisor, "   ")
    [again] = await driver.wait_for_message(org.supervisor.id)
    assert again["text"] == "Please send the reason as a text message."
    await driver.send_text(org.supervisor, "Not part of the post's duties")
    [said] = await driver.wait_for_message(org.supervisor.id)
    assert said["text"].startswith("❌ Rejected by Sun Li")
    assert (await entries(bot))[1].status is EntryStatus.REJECTED
    boss = await staff_id(bot, "E010")
    assert await actions(bot, "entry.") == [
        ("entry.logged", await staff_id(bot, "E011")),
        ("entry.approved", boss),
        ("entry.logged", await staff_id(bot, "E011")),
        ("entry.returned", boss),
        ("entry.edited", await staff_id(bot, "E011")),
        ("entry.rejected", boss),
    ]


async def test_a_double_tap_decides_once(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    await log(driver, org.staff, "Archive")
    [ask] = await request(bot, driver, org.supervisor)
    data = buttons(ask)["Approve"]
    first = await answer_to_press(driver, org.supervisor, ask, data)
    second = await answer_to_press(driver, org.supervisor, ask, data)
    assert first.startswith("✅ Approved by Sun Li")
    assert second.startswith("Already approved by Sun Li at")
    assert [a for a, _ in await actions(bot, "entry.approved")] == ["entry.approved"]


async def test_two_deciders_at_once_one_wins(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    until = datetime.now(bot.bot_data.settings.zone).date() + timedelta(days=3)
    await driver.send_text(org.supervisor, f"/delegate E020 {until.isoformat()}")
    await driver.wait_for_message(org.supervisor.id)
    await driver.wait_for_message(COLLEAGUE.id, timeout=8)
    await driver.wait_for_message(org.staff.id, timeout=8)
    await log(driver, org.staff, "Filing")
    [ask] = await request(bot, driver, COLLEAGUE)
    [entry] = await entries(bot)
    approve = Decide(entry.id, entry.version, "a").pack()
    reject = Decide(entry.id, entry.version, "j").pack()
    # The supervisor approves while their delegate (who may decide too) presses as well.
    answers = await asyncio.gather(
        answer_to_press(driver, org.supervisor, ask, approve),
        answer_to_press(driver, COLLEAGUE, ask, approve),
    )
    assert sorted(a.split(" ")[0] for a in answers) == ["Already", "✅"]
    assert [a for a, _ in await actions(bot, "entry.approved")] == ["entry.approved"]
    # A late Reject (its reason not even asked) finds it decided.
    late = await answer_to_press(driver, org.supervisor, ask, reject)
    assert late.startswith("Already approved by")
    [entry] = await entries(bot)
    assert entry.status is EntryStatus.APPROVED


async def test_presses_by_a_colleague_the_author_or_forged_data_change_nothing(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    card = await log(driver, org.staff, "Counter")
    [ask] = await request(bot, driver, org.supervisor)
    data = buttons(ask)["Approve"]
    assert (
        await answer_to_press(driver, COLLEAGUE, ask, data)
        == "Sorry, you may not decide this entry."
    )
    assert await answer_to_press(driver, org.staff, ask, data) == (
        "You cannot decide your own entry."
    )
    [entry] = await entries(bot)
    assert await answer_to_press(driver, org.supervisor, ask, f"ap:{entry.id + 99}:1:a") == (
        "This entry does not exist."
    )
    assert await answer_to_press(driver, org.supervisor, ask, f"ap:{entry.id}:x:a") == (
        "This button is no longer valid."
    )
    assert await answer_to_press(driver, org.left, ask, data) != ""  # refused by the gate
    [entry] = await entries(bot)
    assert entry.status is EntryStatus.SUBMITTED
    refused = await actions(bot, "entry.decision_refused")
    assert [actor for _, actor in refused] == [
        await staff_id(bot, "E020"),
        await staff_id(bot, "E011"),
        await staff_id(bot, "E010"),
    ]
    # An edit since the request: the old buttons say so.
    await driver.press(org.staff, card["message_id"], buttons(card)["Edit text"])
    await driver.wait_for_message(org.staff.id)
    await log(driver, org.staff, "Counter, 40 visitors")
    assert await answer_to_press(driver, org.supervisor, ask, data) == (
        "Its author changed this entry since; look at the new version in /pending."
    )


async def test_a_delegate_decides_during_the_delegation_and_not_after(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    zone = bot.bot_data.settings.zone
    until = datetime.now(zone).date() + timedelta(days=3)
    await driver.send_text(org.supervisor, f"/delegate E020 {until.isoformat()}")
    [said] = await driver.wait_for_message(org.supervisor.id)
    assert said["text"].startswith("Cao Lin (E020) decides your team's entries until")
    [told] = await driver.wait_for_message(COLLEAGUE.id, timeout=8)
    assert told["text"].startswith("Sun Li asked you to decide their team's entries")
    [team] = await driver.wait_for_message(org.staff.id, timeout=8)
    assert "your entries are decided by Cao Lin" in team["text"]

    await driver.send_text(org.supervisor, "/team")
    [team_list] = await driver.wait_for_message(org.supervisor.id)
    assert "Cao Lin (E020) decides your team's entries until" in team_list["text"]

    await log(driver, org.staff, "Visits")
    [ask] = await request(bot, driver, COLLEAGUE)  # the request goes to the delegate
    done = await press(driver, COLLEAGUE, ask, "Approve")
    assert "✅ Approved by Cao Lin" in done["text"]
    assert (await entries(bot))[0].decision_via == "delegate"
    # The author is told (through the outbox): read it now, so that the next reply awaited
    # is the card of the next entry and not this notice arriving late.
    [told] = await driver.wait_for_message(org.staff.id, timeout=8)
    assert told["text"].startswith("Cao Lin approved your entry of")

    # Once the delegation is over, the same person may not decide any more.
    await log(driver, org.staff, "More visits")
    [second] = [e for e in await entries(bot) if e.status is EntryStatus.SUBMITTED]
    async with bot.bot_data.database.uow() as uow:
        from storage.models import Delegation

        await uow.session.execute(
            update(Delegation).values(until=datetime.now(zone).date() - timedelta(days=1))
        )
        await uow.commit()
    data = Decide(second.id, second.version, "a").pack()
    assert await answer_to_press(driver, COLLEAGUE, ask, data) == (
        "Sorry, you may not decide this entry."
    )
    assert await answer_to_press(driver, org.supervisor, ask, data) == (
        "✅ Approved by Sun Li, " + (await answer_time(bot, second.id))
    )


async def answer_time(bot: WorkledgerApplication, entry_id: int) -> str:
    from babel.dates import format_datetime

    async with bot.bot_data.database.uow() as uow:
        entry = await uow.entries.get(entry_id)
    assert entry is not None and entry.decided_at is not None
    return str(
        format_datetime(
            entry.decided_at, format="short", tzinfo=bot.bot_data.settings.zone, locale="en"
        )
    )


async def test_entries_undecided_for_three_workdays_go_higher_up(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    database = bot.bot_data.database
    async with database.uow() as uow:
        # Sun Li now reports to Hu Rong, who gets what Sun Li leaves undecided.
        await uow.session.execute(
            update(Staff)
            .where(Staff.employee_no == "E010")
            .values(supervisor_id=await staff_id(bot, "E001"))
        )
        await uow.commit()
    await log(driver, org.staff, "Old work")
    await log(driver, org.staff, "Fresh work")
    await request(bot, driver, org.supervisor, count=2)
    old, fresh = await entries(bot)
    now = datetime.now(UTC)
    async with database.uow() as uow:
        await uow.session.execute(
            update(WorkEntry)
            .where(WorkEntry.id == old.id)
            .values(submitted_at=now - timedelta(days=10), updated_at=now - timedelta(days=10))
        )
        await uow.commit()
    assert await send_escalations(bot.bot_data, now) == 1
    assert await send_escalations(bot.bot_data, now) == 0, "escalated once"
    [upward] = await driver.wait_for_message(org.hr.id, timeout=8)
    assert upward["text"].startswith("Undecided for too long by Sun Li")
    assert "Su Yi (E011)" in upward["text"] and "Old work" in upward["text"]
    assert set(buttons(upward)) == {"Approve", "Return", "Reject"}
    [word] = await driver.wait_for_message(org.supervisor.id, timeout=8)
    assert "went to Hu Rong" in word["text"]
    done = await press(driver, org.hr, upward, "Approve")
    assert "✅ Approved by Hu Rong" in done["text"]
    old, fresh = await entries(bot)
    assert (old.status, old.decision_via) == (EntryStatus.APPROVED, "higher")
    assert fresh.status is EntryStatus.SUBMITTED and fresh.escalated_at is None


async def test_bulk_approval_from_pending(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    for text in ("One", "Two", "Three"):
        await log(driver, org.staff, text)
    await driver.send_text(org.supervisor, "/pending")
    [listing] = await driver.wait_for_message(org.supervisor.id)
    assert listing["text"].startswith("3 entries wait for your decision (page 1 of 1)")
    assert "1. Su Yi (E011)" in listing["text"]
    after = await press(driver, org.supervisor, listing, "Approve all 3 on this page")
    assert after["text"] == "Nothing is waiting for your decision."
    assert {e.status for e in await entries(bot)} == {EntryStatus.APPROVED}
    [told] = await driver.wait_for_message(org.staff.id, timeout=8)
    assert told["text"].startswith("Sun Li approved 3 of your entries")
    # Nothing is asked twice: the request job finds nothing left to send.
    assert await send_requests(bot.bot_data, datetime.now(UTC)) == 0


async def test_bulk_approval_from_a_daily_digest(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    await driver.send_text(org.supervisor, "/settings")
    [menu] = await driver.wait_for_message(org.supervisor.id)
    chosen = await press(driver, org.supervisor, menu, "Daily digest at 12:00")
    assert chosen["text"].startswith("Approval requests reach you in one digest a day, at 12:00.")
    await driver.send_text(org.supervisor, "/settings 25:61")
    [wrong] = await driver.wait_for_message(org.supervisor.id)
    assert wrong["text"] == "Give the digest time as hours and minutes, like /settings 16:45."
    await driver.send_text(org.supervisor, "/settings 8:30")
    [own] = await driver.wait_for_message(org.supervisor.id)
    assert own["text"].startswith("Approval requests reach you in one digest a day, at 08:30.")
    await log(driver, org.staff, "Morning counter")
    await log(driver, org.staff, "Afternoon archive")
    assert await send_requests(bot.bot_data, datetime.now(UTC)) == 0, "they wait for the digest"
    zone: ZoneInfo = bot.bot_data.settings.zone
    # The last morning whose 09:00 has passed where the office is: a digest queued for a
    # moment still ahead (today's 09:00 before 09:00 there) is not due to be sent yet.
    local = bot.bot_data.clock.now().astimezone(zone)
    day = local.date() if local.hour >= 9 else local.date() - timedelta(days=1)
    morning = datetime.combine(day, datetime.min.time(), tzinfo=zone)
    assert await send_digests(bot.bot_data, (morning + timedelta(hours=8)).astimezone(UTC)) == 0
    nine = (morning + timedelta(hours=9)).astimezone(UTC)
    assert await send_digests(bot.bot_data, nine) == 1
    assert await send_digests(bot.bot_data, nine) == 0, "once a day"
    [digest] = await driver.wait_for_message(org.supervisor.id, timeout=8)
    assert digest["text"].startswith("Your approval digest: 2 entries wait.")
    assert {"Approve all of Su Yi", "Approve all"} == set(buttons(digest))
    await driver.press(org.supervisor, digest["message_id"], buttons(digest)["Approve all"])
    approved = await eventually(lambda: _all_approved(bot), within=5)
    assert approved


async def _all_approved(bot: WorkledgerApplication) -> bool:
    return {e.status for e in await entries(bot)} == {EntryStatus.APPROVED}


async def closed(driver: EmulatorDriver, user: EmulatedUser, request: Message) -> Message:
    """The request once the bot has closed it (edited away its buttons)."""

    async def probe() -> Message | None:
        now = await current(driver, user.id, request["message_id"])
        return now if now.get("edit_count") and not buttons(now) else None

    return await eventually(probe, within=10)


async def test_the_supervisors_copy_shows_the_delegates_decision(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    card = await log(driver, org.staff, "Visits")
    [old] = await request(bot, driver, org.supervisor)  # before the delegation
    until = datetime.now(bot.bot_data.settings.zone).date() + timedelta(days=3)
    await driver.send_text(org.supervisor, f"/delegate E020 {until.isoformat()}")
    await driver.wait_for_message(org.supervisor.id)
    await driver.wait_for_message(COLLEAGUE.id, timeout=8)
    await driver.wait_for_message(org.staff.id, timeout=8)
    # The author adds to the entry: the new version goes to the delegate.
    await driver.press(org.staff, card["message_id"], buttons(card)["Edit text"])
    await driver.wait_for_message(org.staff.id)
    await log(driver, org.staff, "Visits, 12 households")
    [ask] = await request(bot, driver, COLLEAGUE)
    assert "Visits, 12 households" in ask["text"]
    assert set(buttons(old)) == set(buttons(ask)) == {"Approve", "Return", "Reject"}

    done = await press(driver, COLLEAGUE, ask, "Approve")
    [entry] = await entries(bot)
    line = "✅ Approved by Cao Lin, " + await answer_time(bot, entry.id)
    assert done["text"] == f"{ask['text']}\n\n{line}"
    shut = await closed(driver, org.supervisor, old)
    assert shut["text"] == f"{old['text']}\n\n{line}"
    assert buttons(shut) == {}
    # The pressed copy was edited by the press alone.
    assert (await current(driver, COLLEAGUE.id, ask["message_id"]))["edit_count"] == 1


async def test_an_escalated_entry_decided_higher_up_closes_the_supervisors_copy(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    database = bot.bot_data.database
    async with database.uow() as uow:
        await uow.session.execute(
            update(Staff)
            .where(Staff.employee_no == "E010")
            .values(supervisor_id=await staff_id(bot, "E001"))
        )
        await uow.commit()
    await log(driver, org.staff, "Old work")
    [ask] = await request(bot, driver, org.supervisor)
    [entry] = await entries(bot)
    now = datetime.now(UTC)
    async with database.uow() as uow:
        await uow.session.execute(
            update(WorkEntry)
            .where(WorkEntry.id == entry.id)
            .values(submitted_at=now - timedelta(days=10), updated_at=now - timedelta(days=10))
        )
        await uow.commit()
    assert await send_escalations(bot.bot_data, now) == 1
    [upward] = await driver.wait_for_message(org.hr.id, timeout=8)
    await driver.wait_for_message(org.supervisor.id, timeout=8)  # word that it went up
    assert set(buttons(ask)) == {"Approve", "Return", "Reject"}

    await driver.press(org.hr, upward["message_id"], buttons(upward)["Return"])
    await driver.wait_for_message(org.hr.id)
    await driver.send_text(org.hr, "Which file?")
    [said] = await driver.wait_for_message(org.hr.id)
    assert said["text"].startswith("↩️ Returned by Hu Rong")
    shut = await closed(driver, org.supervisor, ask)
    assert shut["text"] == f"{ask['text']}\n\n{said['text']}"
    assert buttons(shut) == {}
    # The pressed copy shows the decision as well, without its buttons.
    upward = await current(driver, org.hr.id, upward["message_id"])
    assert upward["text"].endswith(f"\n\n{said['text']}") and buttons(upward) == {}


async def test_a_bulk_approval_from_pending_closes_the_requests(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    for text in ("One", "Two", "Three"):
        await log(driver, org.staff, text)
    asks = await request(bot, driver, org.supervisor, count=3)
    await driver.send_text(org.supervisor, "/pending")
    [listing] = await driver.wait_for_message(org.supervisor.id)
    after = await press(driver, org.supervisor, listing, "Approve all 3 on this page")
    assert after["text"] == "Nothing is waiting for your decision."
    when = await answer_time(bot, (await entries(bot))[0].id)
    for ask in asks:
        shut = await closed(driver, org.supervisor, ask)
        assert shut["text"] == f"{ask['text']}\n\n✅ Approved by Sun Li, {when}"
