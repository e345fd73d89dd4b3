"""Third-party evaluators on a real store (SQLite and PostgreSQL): the link drafted, scoped,
issued and bound once; whom an evaluator sees and may rate, and when; ratings stored as
the third party's, counted in the score, and withdrawn with a revocation."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from assessment import third_parties
from assessment.period_scoring import score_one
from assessment.periods import period_of
from assessment.third_parties import (
    PAYLOAD_LENGTH,
    Evaluation,
    InviteError,
    IssuedLink,
    OpenOutcome,
    OpenResult,
    Refusal,
    State,
)
from config.policy import load_policy
from storage.engine import Database
from storage.enums import RaterKind, Role, StaffStatus
from storage.models import AssessmentPeriod, AuditEvent, Department, Post, Rating, Staff

POLICY = load_policy()
ZONE = ZoneInfo("Asia/Shanghai")
NOVEMBER = period_of(date(2026, 11, 1), POLICY)
OPEN_DAY = date(2026, 11, 20)  # November still open: ratings not yet
SELF_DAY = date(2026, 11, 26)  # November's self-assessment: ratings open
AFTER = date(2026, 12, 9)  # calibration: once published, the period is closed
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=ZONE)
TTL = timedelta(days=7)
EVALUATOR = 7001
SECOND = 7002


@dataclass
class Org:
    hr: int
    hr_telegram: int
    enforcement: int
    licensing: int
    officer: int
    other_officer: int
    adviser: int
    leaver: int
    stranger_in_b: int


async def seed(db: Database) -> Org:
    async with db.uow() as uow:
        a = await uow.departments.add(Department(name="Enforcement"))
        b = await uow.departments.add(Department(name="Licensing"))
        officer_a = await uow.posts.add(
            Post(department_id=a.id, name="Officer", post_type="law_enforcement")
        )
        adviser_a = await uow.posts.add(
            Post(department_id=a.id, name="Adviser", post_type="management")
        )
        officer_b = await uow.posts.add(
            Post(department_id=b.id, name="Inspector", post_type="law_enforcement")
        )

        async def person(
            no: str, name: str, department: int, post: int | None, *,
            roles: Role = Role.STAFF, telegram: int | None = None,
            status: StaffStatus = StaffStatus.ACTIVE,
        ) -> int:  # fmt: skip
            staff = await uow.staff.add(
                Staff(employee_no=no, name=name, department_id=department, post_id=post,
                      roles=roles, telegram_user_id=telegram, status=status)
            )  # fmt: skip
            return staff.id

        hr = await person("H1", "Hu Rong", a.id, None, roles=Role.STAFF | Role.HR, telegram=8001)
        org = Org(
            hr=hr,
            hr_telegram=8001,
            enforcement=a.id,
            licensing=b.id,
            officer=await person("E1", "Su Yi", a.id, officer_a.id),
            other_officer=await person("E2", "An Bo", a.id, officer_a.id),
            adviser=await person("E3", "Lao Wang", a.id, adviser_a.id),
            leaver=await person("E4", "Lou Gone", a.id, officer_a.id, status=StaffStatus.LEFT),
            stranger_in_b=await person("E5", "Bai Lu", b.id, officer_b.id),
        )
        await uow.commit()
    return org


async def invite(db: Database, org: Org, *departments: int) -> IssuedLink:
    async with db.uow() as uow:
        drafted = await third_parties.draft(
            uow, NOVEMBER, "Zhang San / City Law Firm", actor_staff_id=org.hr, now=NOW,
            today=SELF_DAY, policy=POLICY, zone=ZONE,
        )  # fmt: skip
    assert not isinstance(drafted, InviteError)
    assert (drafted.name, drafted.organisation) == ("Zhang San", "City Law Firm")
    for department in departments or (org.enforcement,):
        async with db.uow() as uow:
            assert not isinstance(
                await third_parties.toggle_department(uow, drafted.id, department), InviteError
            )
    async with db.uow() as uow:
        issued = await third_parties.issue(
            uow, drafted.id, actor_staff_id=org.hr, ttl=TTL, now=NOW
        )
    assert isinstance(issued, IssuedLink)
    return issued


async def open_as(
    db: Database, code: str, user: int, *, now: datetime = NOW, today: date = SELF_DAY
) -> OpenResult:
    async with db.uow() as uow:
        return await third_parties.open_link(
            uow, code, user, now=now, today=today, policy=POLICY, zone=ZONE
        )


async def rate(
    db: Database, evaluator_id: int, staff_id: int, value: int = 4, *,
    indicator: str = "enforcement_compliance", user: int = EVALUATOR, today: date = SELF_DAY,
) -> tuple[Evaluation, third_parties.ToRate] | Refusal:  # fmt: skip
    async with db.uow() as uow:
        return await third_parties.rate(
            uow, evaluator_id, user, staff_id, indicator, value, now=NOW, today=today,
            policy=POLICY, zone=ZONE,
        )  # fmt: skip


async def test_a_link_binds_the_first_account_and_no_other(db: Database) -> None:
    org = await seed(db)
    issued = await invite(db, org)
    payload = third_parties.PAYLOAD_PREFIX + issued.code
    assert len(payload) == PAYLOAD_LENGTH != 32  # never an invitation's length
    assert third_parties.is_payload(payload)
    assert third_parties.link("wlbot", issued.code) == f"https://t.me/wlbot?start={payload}"

    first = await open_as(db, issued.code, EVALUATOR)
    assert first.outcome is OpenOutcome.BOUND
    assert first.evaluation is not None
    assert first.evaluation.scope == (org.enforcement,)
    # The same account comes back in; a second account is refused, and that counts.
    assert (await open_as(db, issued.code, EVALUATOR)).outcome is OpenOutcome.AGAIN
    assert (await open_as(db, issued.code, SECOND)).outcome is OpenOutcome.TAKEN
    async with db.uow() as uow:
        assert await uow.invitations.failures_since(SECOND, NOW - timedelta(hours=1)) == 1
        evaluator = await uow.third_parties.get(issued.evaluator_id)
        assert evaluator is not None
        assert evaluator.telegram_user_id == EVALUATOR
        assert evaluator.code_hash == third_parties.hash_code(issued.code)
        actions = list(
            await uow.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id))
        )
    assert actions == [
        "third_party.drafted",
        "third_party.invited",
        "third_party.bound",
        "third_party.open_failed",
    ]


async def test_links_refused_for_staff_late_wrong_or_guessed(db: Database) -> None:
    org = await seed(db)
    issued = await invite(db, org)
    # A staff member's account is no third party (and binds nothing).
    assert (await open_as(db, issued.code, org.hr_telegram)).outcome is OpenOutcome.STAFF_ACCOUNT
    late = NOW + TTL
    assert (await open_as(db, issued.code, EVALUATOR, now=late)).outcome is OpenOutcome.EXPIRED
    wrong = issued.code[:-1] + ("A" if issued.code[-1] != "A" else "B")
    assert (await open_as(db, wrong, EVALUATOR)).outcome is OpenOutcome.INVALID
    for _ in range(POLICY.invites.max_failed_attempts_per_hour - 1):
        assert (await open_as(db, wrong, EVALUATOR)).outcome is OpenOutcome.INVALID
    # Locked out: even the right code is not looked at for an hour.
    locked = await open_as(db, issued.code, EVALUATOR)
    assert locked.outcome is OpenOutcome.TOO_MANY_ATTEMPTS
    assert locked.retry_at is not None
    async with db.uow() as uow:
        evaluator = await uow.third_parties.get(issued.evaluator_id)
    assert evaluator is not None and evaluator.telegram_user_id is None


async def test_hr_steps_are_refused_out_of_turn(db: Database) -> None:
    org = await seed(db)
    async with db.uow() as uow:
        assert (
            await third_parties.draft(
                uow,
                NOVEMBER,
                "  / Firm",
                actor_staff_id=org.hr,
                now=NOW,
                today=SELF_DAY,
                policy=POLICY,
                zone=ZONE,
            )
        ) is InviteError.BAD_NAME
        drafted = await third_parties.draft(
            uow, NOVEMBER, "Zhang San", actor_staff_id=org.hr, now=NOW, today=SELF_DAY,
            policy=POLICY, zone=ZONE,
        )  # fmt: skip
    assert not isinstance(drafted, InviteError)
    assert drafted.organisation == ""
    async with db.uow() as uow:
        assert (
            await third_parties.issue(uow, drafted.id, actor_staff_id=org.hr, ttl=TTL, now=NOW)
        ) is InviteError.NO_DEPARTMENTS
        assert await third_parties.toggle_department(uow, drafted.id, 999) is InviteError.UNKNOWN
    async with db.uow() as uow:
        assert await third_parties.toggle_department(uow, drafted.id, org.licensing) == [
            org.licensing
        ]
    async with db.uow() as uow:
        assert await third_parties.toggle_department(uow, drafted.id, org.licensing) == []
    async with db.uow() as uow:
        await third_parties.toggle_department(uow, drafted.id, org.enforcement)
    async with db.uow() as uow:
        assert isinstance(
            await third_parties.issue(uow, drafted.id, actor_staff_id=org.hr, ttl=TTL, now=NOW),
            IssuedLink,
        )
    async with db.uow() as uow:
        # Issued: the scope is fixed, and there is one link only.
        assert (
            await third_parties.toggle_department(uow, drafted.id, org.licensing)
        ) is InviteError.ISSUED
        assert (
            await third_parties.issue(uow, drafted.id, actor_staff_id=org.hr, ttl=TTL, now=NOW)
        ) is InviteError.ISSUED
    async with db.uow() as uow:
        await uow.session.execute(
            update(AssessmentPeriod).values(published_at=NOW).where(
                AssessmentPeriod.key == NOVEMBER.key
            )
        )  # fmt: skip
        await uow.commit()
    async with db.uow() as uow:
        assert (
            await third_parties.draft(
                uow,
                NOVEMBER,
                "Li Si",
                actor_staff_id=org.hr,
                now=NOW,
                today=AFTER,
                policy=POLICY,
                zone=ZONE,
            )
        ) is InviteError.PUBLISHED


async def test_an_evaluator_sees_and_rates_only_their_part(db: Database) -> None:
    org = await seed(db)
    issued = await invite(db, org)
    opened = await open_as(db, issued.code, EVALUATOR)
    assert opened.evaluation is not None
    async with db.uow() as uow:
        items = await third_parties.people_to_rate(uow, opened.evaluation, POLICY)
    # Their department's officers only: not the adviser (no indicator for third parties),
    # not the leaver, not the other department; names and posts, nothing else.
    assert [(item.person.name, item.person.post) for item in items] == [
        ("An Bo", "Officer"),
        ("Su Yi", "Officer"),
    ]
    assert [indicator.id for indicator in items[0].indicators] == ["enforcement_compliance"]

    rated = await rate(db, issued.evaluator_id, org.officer, 4)
    assert not isinstance(rated, Refusal)
    assert rated[1].ratings == {"enforcement_compliance": 4}
    # Every part of a forged press is checked.
    assert await rate(db, issued.evaluator_id, org.stranger_in_b) is Refusal.NOT_RATED
    assert await rate(db, issued.evaluator_id, org.adviser, indicator="risk_control") is (
        Refusal.NOT_RATED
    )
    assert await rate(db, issued.evaluator_id, org.leaver) is Refusal.NOT_RATED
    assert await rate(db, issued.evaluator_id, org.officer, indicator="cases_handled") is (
        Refusal.NOT_RATED
    )
    assert await rate(db, issued.evaluator_id, org.officer, 6) is Refusal.NOT_RATED
    assert await rate(db, issued.evaluator_id, org.officer, user=SECOND) is Refusal.NOT_YOURS
    assert await rate(db, issued.evaluator_id + 1, org.officer) is Refusal.NOT_YOURS
    assert await rate(db, issued.evaluator_id, org.officer, today=OPEN_DAY) is Refusal.NOT_YET

    async with db.uow() as uow:
        [stored] = list(await uow.session.scalars(select(Rating)))
        assert (stored.staff_id, stored.indicator_id, stored.value) == (
            org.officer,
            "enforcement_compliance",
            4,
        )
        assert stored.rater_kind is RaterKind.THIRD_PARTY
        assert (stored.rater_key, stored.rater_id) == (f"tp:{issued.evaluator_id}", None)
        # The score counts it, as the third party's.
        found = await score_one(uow, POLICY, NOVEMBER, org.officer)
    assert found is not None
    [compliance] = [
        part
        for part in found[0].breakdown.indicators
        if part.indicator_id == "enforcement_compliance"
    ]
    assert {r.rater: r.mean for r in compliance.raters}["third_party"] == 4
    assert compliance.score == 80  # the only rating: 100 x 4 / 5


async def test_hr_sees_completion_and_a_revocation_withdraws_the_ratings(db: Database) -> None:
    org = await seed(db)
    issued = await invite(db, org, org.enforcement, org.licensing)
    await open_as(db, issued.code, EVALUATOR)
    assert not isinstance(await rate(db, issued.evaluator_id, org.officer, 5), Refusal)
    assert not isinstance(await rate(db, issued.evaluator_id, org.stranger_in_b, 2), Refusal)
    async with db.uow() as uow:
        [status] = await third_parties.overview(uow, NOVEMBER, POLICY, now=NOW)
    assert (status.state, status.rated, status.people) == (State.BOUND, 2, 3)
    assert status.departments == ("Enforcement", "Licensing")

    async with db.uow() as uow:
        withdrawn = await third_parties.revoke(
            uow, issued.evaluator_id, actor_staff_id=org.hr, now=NOW, today=SELF_DAY,
            policy=POLICY, zone=ZONE,
        )  # fmt: skip
    assert withdrawn == 2
    assert await rate(db, issued.evaluator_id, org.officer) is Refusal.REVOKED
    assert (await open_as(db, issued.code, EVALUATOR)).outcome is OpenOutcome.REVOKED
    async with db.uow() as uow:
        assert list(await uow.session.scalars(select(Rating))) == []
        [status] = await third_parties.overview(uow, NOVEMBER, POLICY, now=NOW)
        assert status.state is State.REVOKED
        assert (
            await third_parties.revoke(
                uow,
                issued.evaluator_id,
                actor_staff_id=org.hr,
                now=NOW,
                today=SELF_DAY,
                policy=POLICY,
                zone=ZONE,
            )
        ) is InviteError.REVOKED
        [event] = list(
            await uow.session.scalars(
                select(AuditEvent).where(AuditEvent.action == "third_party.revoked")
            )
        )
    assert event.details["ratings_withdrawn"] == 2


async def test_published_period_closes_ratings_and_keeps_them(db: Database) -> None:
    org = await seed(db)
    issued = await invite(db, org)
    await open_as(db, issued.code, EVALUATOR)
    assert not isinstance(await rate(db, issued.evaluator_id, org.officer, 3), Refusal)
    async with db.uow() as uow:
        await uow.session.execute(
            update(AssessmentPeriod).values(published_at=NOW).where(
                AssessmentPeriod.key == NOVEMBER.key
            )
        )  # fmt: skip
        await uow.commit()
    # Published (results go out in calibration, after the supervisor review): refused.
    assert await rate(db, issued.evaluator_id, org.officer, 5, today=AFTER) is Refusal.CLOSED
    assert (await open_as(db, issued.code, EVALUATOR, today=AFTER)).outcome is OpenOutcome.CLOSED
    async with db.uow() as uow:
        assert (
            await third_parties.revoke(
                uow,
                issued.evaluator_id,
                actor_staff_id=org.hr,
                now=NOW,
                today=AFTER,
                policy=POLICY,
                zone=ZONE,
            )
        ) == 0
        [stored] = list(await uow.session.scalars(select(Rating)))
    assert stored.value == 3


async def test_an_evaluator_who_joins_the_staff_can_rate_no_more(db: Database) -> None:
    org = await seed(db)
    issued = await invite(db, org)
    await open_as(db, issued.code, EVALUATOR)
    assert not isinstance(await rate(db, issued.evaluator_id, org.officer, 4), Refusal)
    # HR hires the evaluator and links the same account to a staff record: a colleague
    # is no third party, whatever the binding says.
    async with db.uow() as uow:
        await uow.session.execute(
            update(Staff).where(Staff.id == org.other_officer).values(telegram_user_id=EVALUATOR)
        )
        await uow.commit()
    assert await rate(db, issued.evaluator_id, org.officer, 2) is Refusal.NOT_YOURS
    assert (await open_as(db, issued.code, EVALUATOR)).outcome is OpenOutcome.STAFF_ACCOUNT


async def test_two_accounts_opening_the_link_at_once_bind_one(db: Database) -> None:
    org = await seed(db)
    issued = await invite(db, org)
    results = await asyncio.gather(
        open_as(db, issued.code, EVALUATOR), open_as(db, issued.code, SECOND)
    )
    assert sorted(result.outcome for result in results) == sorted(
        [OpenOutcome.BOUND, OpenOutcome.TAKEN]
    )
    [bound] = [result for result in results if result.outcome is OpenOutcome.BOUND]
    async with db.uow() as uow:
        evaluator = await uow.third_parties.get(issued.evaluator_id)
    assert evaluator is not None
    winner = EVALUATOR if results[0] is bound else SECOND
    assert evaluator.telegram_user_id == winner
