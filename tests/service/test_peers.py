"""The rule's draw of peers on a real database: when the self-assessment opens, once per
period whatever runs again, never from the person's department or supervisor chain, each
request queued once to its rater."""

from __future__ import annotations

import asyncio
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from assessment import peers
from assessment.peers import PeerCard
from assessment.people import StaffMember
from assessment.period_scoring import score_period
from assessment.periods import ensure_period, parse_key
from config.policy import DEFAULT_POLICY_PATH, Policy, load_policy
from storage.engine import Database
from storage.enums import RaterKind, Role, StaffStatus
from storage.models import (
    AuditEvent,
    Department,
    OutboxMessage,
    PeerRequest,
    PeriodScore,
    Post,
    Staff,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
OPEN = datetime(2026, 11, 25, 9, 0, tzinfo=SHANGHAI)  # November's self-assessment opens
BEFORE = datetime(2026, 11, 24, 9, 0, tzinfo=SHANGHAI)


def _drawing(tmp_path: Path, count: int) -> Policy:
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    path = tmp_path / "policy.toml"
    path.write_text(text.replace("drawn_raters = 0", f"drawn_raters = {count}"), encoding="utf-8")
    return load_policy(path)


def _render(card: PeerCard) -> tuple[str, dict[str, Any] | None]:
    return f"rate {card.request.person_name}", None


async def _seed(db: Database) -> dict[str, int]:
    ids: dict[str, int] = {}
    async with db.uow() as uow:
        departments = [await uow.departments.add(Department(name=f"Office {n}")) for n in range(4)]
        post = await uow.posts.add(
            Post(department_id=departments[0].id, name="Manager", post_type="management")
        )

        async def person(
            number: str, department: int, supervisor: str | None = None, *,
            post_id: int | None = None, linked: bool = True,
            status: StaffStatus = StaffStatus.ACTIVE,
        ) -> None:  # fmt: skip
            staff = await uow.staff.add(
                Staff(employee_no=number, name=number, department_id=departments[department].id,
                      post_id=post_id, roles=Role.STAFF, status=status,
                      supervisor_id=None if supervisor is None else ids[supervisor],
                      telegram_user_id=(7000 + len(ids)) if linked else None)
            )  # fmt: skip
            ids[number] = staff.id

        await person("D1", 1)  # the director, in office 1: the manager's chain, elsewhere
        await person("S1", 0, "D1")
        await person("M1", 0, "S1", post_id=post.id)  # rated by peers
        await person("W1", 0, "S1")  # no post yet: peers rate nothing
        await person("R1", 0, "M1")  # the manager's own report, same office
        await person("R2", 2, "M1")  # the manager's own report, elsewhere: in the chain
        for n in range(3):
            await person(f"P2{n}", 2)
            await person(f"P3{n}", 3)
        await person("U1", 3, linked=False)
        await person("L1", 3, status=StaffStatus.LEFT)
        await uow.commit()
    return ids


async def test_the_draw_happens_once_and_keeps_to_the_rule(db: Database, tmp_path: Path) -> None:
    policy = _drawing(tmp_path, 3)
    ids = await _seed(db)
    assert await peers.draw_due(db.uow, policy, SHANGHAI, _render, now=BEFORE) is None

    queued = await peers.draw_due(db.uow, policy, SHANGHAI, _render, now=OPEN, batch_size=4)
    # Everyone whose post type peers rate: only M1 holds a post; the others have none.
    assert queued == 3
    again = await asyncio.gather(
        *(peers.draw_due(db.uow, policy, SHANGHAI, _render, now=OPEN) for _ in range(3))
    )
    assert again == [None, None, None]
    async with db.uow() as uow:
        requests = list(await uow.session.scalars(select(PeerRequest)))
        messages = list(await uow.session.scalars(select(OutboxMessage)))
        drawn = list(
            await uow.session.scalars(select(AuditEvent).where(AuditEvent.action == "peer.drawn"))
        )
    assert {r.staff_id for r in requests} == {ids["M1"]}
    raters = {r.rater_id for r in requests}
    by_id = {staff_id: number for number, staff_id in ids.items()}
    names = sorted(by_id[rater] for rater in raters)
    assert len(names) == 3
    assert not {"D1", "S1", "M1", "R1", "R2", "U1", "L1", "W1"} & set(names)
    assert {name[:2] for name in names} == {"P2", "P3"}, "from both other offices"
    assert all(r.assigned_by_id is None for r in requests)
    assert sorted(m.staff_id for m in messages) == sorted(raters)
    assert all(m.kind == peers.KIND and m.text == "rate M1" for m in messages)
    assert len(drawn) == 3


async def test_without_the_rule_nothing_is_drawn(db: Database) -> None:
    await _seed(db)
    assert await peers.draw_due(db.uow, load_policy(), SHANGHAI, _render, now=OPEN) is None
    async with db.uow() as uow:
        assert list(await uow.session.scalars(select(PeerRequest))) == []


async def test_every_press_checks_the_request_its_rater_and_the_chain_again(db: Database) -> None:
    ids = await _seed(db)
    policy = load_policy()
    at = datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI)
    today = at.date()
    async with db.uow() as uow:
        hr = StaffMember.of(await _get(uow, ids["D1"]))
        assigned = await peers.assign(
            uow, hr, "M1", ["P20", "R2", "S1"], policy, _render, today=today, zone=SHANGHAI,
            now=at,
        )  # fmt: skip
    assert isinstance(assigned, peers.Assigned)
    assert [o.refusal for o in assigned.outcomes] == [
        None,
        peers.PeerRefusal.CHAIN,  # the manager's own report, from another office
        peers.PeerRefusal.CHAIN,  # the manager's supervisor
    ]
    async with db.uow() as uow:
        [request] = list(await uow.session.scalars(select(PeerRequest)))
        rater = StaffMember.of(await _get(uow, ids["P20"]))
        other = StaffMember.of(await _get(uow, ids["P21"]))

    async def press(member: StaffMember, indicator: str, value: int) -> object:
        async with db.uow() as uow:
            return await peers.rate(
                uow, member, request.id, indicator, value, policy, today=today, zone=SHANGHAI,
                now=at,
            )  # fmt: skip

    refused = peers.PeerRefusal.NOT_YOURS
    assert await press(other, "risk_control", 3) is refused
    assert await press(rater, "documents_drafted", 3) is refused  # not rated by peers
    assert await press(rater, "risk_control", 6) is refused  # beyond rating_max
    saved = await press(rater, "risk_control", 3)
    assert isinstance(saved, PeerCard) and saved.given == {"risk_control": 3}
    # The roster changes: the rater becomes the manager's supervisor. Refused from now on.
    async with db.uow() as uow:
        manager = await _get(uow, ids["M1"])
        manager.supervisor_id = ids["P20"]
        await uow.commit()
    assert await press(rater, "risk_control", 5) is peers.PeerRefusal.CHAIN
    async with db.uow() as uow:
        given = await uow.peers.given((await uow.peers.requests([request.id]))[0])
    assert given == {"risk_control": 3}


async def _get(uow: Any, staff_id: int) -> Staff:
    found = await uow.staff.get(staff_id)
    assert found is not None
    return found


async def test_the_whole_period_counts_the_peers_only_once_their_ratings_close(
    db: Database,
) -> None:
    ids = await _seed(db)
    policy = load_policy()
    at = datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI)
    november = parse_key("2026-11", policy)
    assert november is not None
    async with db.uow() as uow:
        hr = StaffMember.of(await _get(uow, ids["D1"]))
        await peers.assign(
            uow, hr, "M1", ["P20", "P21", "P30"], policy, _render, today=at.date(),
            zone=SHANGHAI, now=at,
        )  # fmt: skip
        period_id = await ensure_period(uow, november, now=at)
        await uow.reviews.create(
            period_id, ids["M1"], department_id=(await _get(uow, ids["M1"])).department_id,
            reviewer_id=ids["S1"], now=at,
        )  # fmt: skip
        await uow.reviews.rate(
            period_id, ids["M1"], "risk_control", RaterKind.SUPERVISOR, rater_id=ids["S1"],
            value=4, now=at,
        )  # fmt: skip
        await uow.commit()
        requests = list(await uow.session.scalars(select(PeerRequest)))
    for request in requests:
        async with db.uow() as uow:
            rater = StaffMember.of(await _get(uow, request.rater_id))
            saved = await peers.rate(
                uow, rater, request.id, "risk_control", 1, policy, today=at.date(),
                zone=SHANGHAI, now=at,
            )  # fmt: skip
            assert isinstance(saved, PeerCard)

    async def stored_at(moment: datetime) -> Decimal:
        await score_period(db, policy, november, now=moment, zone=SHANGHAI)
        async with db.uow() as uow:
            found = await uow.session.scalar(
                select(PeriodScore.score).where(PeriodScore.staff_id == ids["M1"])
            )
        assert found is not None
        return found

    # Supervisor review (to 7 December): as if no peer had rated. Risk control 4 of 5 (80)
    # x 0.2, documents drafted 0 x 0.25: 16 / 0.45 = 35.56.
    assert await stored_at(datetime(2026, 12, 7, 23, 0, tzinfo=SHANGHAI)) == Decimal("35.56")
    # Calibration, from 8 December in Shanghai (still 7 December in UTC): the three peers'
    # 1 counts, (0.6 x 4 + 0.3 x 1) / 0.9 = 3 of 5: 60 x 0.2 / 0.45 = 26.67.
    assert await stored_at(datetime(2026, 12, 8, 0, 30, tzinfo=SHANGHAI)) == Decimal("26.67")
