"""The batch forms of the monthly check's review (``review.self_assess``, ``rate_many``)
on a real store: the same rules as the single forms, one change of the review each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from assessment import review
from assessment.people import StaffMember, member
from config.policy import Policy, load_policy
from storage.engine import Database
from storage.enums import RaterKind, Role, StaffStatus
from storage.models import AuditEvent, Department, PeriodReview, Post, Rating, Staff

ZONE = ZoneInfo("Asia/Shanghai")
SELF_STAGE = datetime(2026, 11, 26, 10, 0, tzinfo=ZONE)
REVIEW_STAGE = datetime(2026, 12, 4, 10, 0, tzinfo=ZONE)


@dataclass(frozen=True)
class Team:
    boss: StaffMember
    adviser: StaffMember  # a management post: two qualitative indicators
    officer: StaffMember  # law enforcement: one


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


@pytest.fixture
async def team(db: Database) -> Team:
    async with db.uow() as uow:
        office = await uow.departments.add(Department(name="Bureau"))
        posts = {
            kind: await uow.posts.add(Post(department_id=office.id, name=kind, post_type=kind))
            for kind in ("law_enforcement", "management")
        }

        async def person(no: str, post: str, supervisor: int | None, roles: Role) -> int:
            staff = await uow.staff.add(
                Staff(employee_no=no, name=no, department_id=office.id, post_id=posts[post].id,
                      roles=roles, status=StaffStatus.ACTIVE, supervisor_id=supervisor,
                      telegram_user_id=9300 + int(no[1:]), language="en")
            )  # fmt: skip
            return staff.id

        boss = await person("E1", "law_enforcement", None, Role.STAFF | Role.SUPERVISOR)
        adviser = await person("E2", "management", boss, Role.STAFF)
        officer = await person("E3", "law_enforcement", boss, Role.STAFF)
        await uow.commit()
        found = [await member(uow, staff_id) for staff_id in (boss, adviser, officer)]
    assert all(found)
    return Team(*found)  # type: ignore[arg-type]


def _day(moment: datetime) -> date:
    return moment.date()


async def _self_card(db: Database, who: StaffMember, policy: Policy) -> review.SelfCard:
    async with db.uow() as uow:
        card = await review.self_card(
            uow, who, policy, today=_day(SELF_STAGE), zone=ZONE, now=SELF_STAGE
        )
    assert isinstance(card, review.SelfCard)
    return card


async def _audited(db: Database) -> list[str]:
    async with db.uow() as uow:
        return list(await uow.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


async def test_a_self_assessment_in_one_change(db: Database, policy: Policy, team: Team) -> None:
    card = await _self_card(db, team.adviser, policy)
    ids = [indicator.id for indicator in card.indicators]
    assert len(ids) == 2
    day = _day(SELF_STAGE)
    # A rating of what the person does not rate refuses the whole: nothing is saved.
    async with db.uow() as uow:
        refused = await review.self_assess(
            uow, team.adviser, card.review.id, "Done", {ids[0]: 4, "documents_drafted": 3},
            policy, today=day, zone=ZONE, now=SELF_STAGE,
        )  # fmt: skip
    assert refused is review.Refusal.NOT_RATED
    async with db.uow() as uow:
        refused = await review.self_assess(
            uow, team.officer, card.review.id, "Mine", {}, policy, today=day, zone=ZONE,
            now=SELF_STAGE,
        )  # fmt: skip
    assert refused is review.Refusal.NOT_YOURS
    assert await _audited(db) == []

    async with db.uow() as uow:
        version = await review.self_assess(
            uow, team.adviser, card.review.id, "  Done as planned ", {ids[0]: 4, ids[1]: 5},
            policy, today=day, zone=ZONE, now=SELF_STAGE,
        )  # fmt: skip
    assert version == card.review.version + 1
    async with db.uow() as uow:
        stored = await uow.session.get(PeriodReview, card.review.id)
        assert stored is not None
        assert (stored.self_text, stored.version) == ("Done as planned", version)
        ratings = await uow.reviews.ratings(
            stored.period_id, team.adviser.id, RaterKind.SELF, str(team.adviser.id)
        )
    assert ratings == {ids[0]: 4, ids[1]: 5}
    assert await _audited(db) == ["review.self_text", "review.rated", "review.rated"]
    # The single forms: the same change, one rating or the text alone.
    async with db.uow() as uow:
        assert (
            await review.rate(
                uow,
                team.adviser,
                card.review.id,
                version,
                ids[0],
                3,
                "self",
                policy,
                today=day,
                zone=ZONE,
                now=SELF_STAGE,
            )
            is None
        )
        again = await review.save_self_text(
            uow, team.adviser, card.review.id, "Changed", policy, today=day, zone=ZONE,
            now=SELF_STAGE,
        )  # fmt: skip
    assert isinstance(again, review.SelfCard)
    assert again.ratings == {ids[0]: 3, ids[1]: 5}
    assert again.review.version == version + 2


async def test_a_supervisor_rates_many_on_the_version_shown(
    db: Database, policy: Policy, team: Team
) -> None:
    card = await _self_card(db, team.adviser, policy)
    ids = [indicator.id for indicator in review.rated_indicators(policy, "management",
                                                                  "supervisor")]  # fmt: skip
    day = _day(REVIEW_STAGE)

    async def rate(who: StaffMember, version: int) -> int | review.Refusal:
        async with db.uow() as uow:
            return await review.rate_many(
                uow, who, card.review.id, version, dict.fromkeys(ids, 4), "supervisor",
                policy, today=day, zone=ZONE, now=REVIEW_STAGE,
            )  # fmt: skip

    assert await rate(team.officer, card.review.version) is review.Refusal.NOT_YOURS
    assert await rate(team.boss, card.review.version + 1) is review.Refusal.STALE
    assert await rate(team.boss, card.review.version) == card.review.version + 1
    # The version it returns is the one the next step is shown.
    async with db.uow() as uow:
        assert (
            await review.sign_off(
                uow,
                team.boss,
                card.review.id,
                card.review.version + 1,
                policy,
                today=day,
                zone=ZONE,
                now=REVIEW_STAGE,
            )
            is None
        )
        given = list(
            await uow.session.scalars(
                select(Rating.value).where(Rating.rater_kind == RaterKind.SUPERVISOR)
            )
        )
    assert given == [4, 4]
    assert await rate(team.boss, card.review.version + 2) is review.Refusal.SIGNED_OFF
