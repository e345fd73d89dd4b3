"""Peer requests (who is asked to rate whom in a period) and the peers' ratings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import aliased

from storage.enums import RaterKind, StaffStatus
from storage.models import AssessmentPeriod, Department, PeerRequest, Post, Rating, Staff
from storage.repositories.base import Repository, rows_as
from storage.repositories.reviews import ReviewRepository

_REQUESTS = cast(Table, PeerRequest.__table__)
_RATINGS = cast(Table, Rating.__table__)


def rater_key(request_id: int) -> str:
    """The ``ratings.rater_key`` of a request's ratings: the request's, never the rater's."""
    return f"peer/{request_id}"


@dataclass(frozen=True, slots=True)
class RosterPerson:
    """What choosing peers needs of one person on staff."""

    staff_id: int
    department_id: int
    supervisor_id: int | None
    post_type: str | None
    linked: bool


@dataclass(frozen=True, slots=True)
class RequestRow:
    """A peer request with what its message and its presses need.

    ``rater_chat`` is None while the rater has no Telegram account linked.
    """

    id: int
    period_id: int
    period_key: str
    staff_id: int
    person_name: str
    person_department: str
    person_post_type: str | None
    person_status: StaffStatus
    rater_id: int
    rater_chat: int | None
    rater_language: str | None
    rater_telegram_language: str | None
    answered_at: datetime | None


@dataclass(frozen=True, slots=True)
class Completion:
    """How many of a person's peer requests of a period are answered (never by whom)."""

    staff_id: int
    name: str
    employee_no: str
    assigned: int
    answered: int


class PeerRepository(Repository):
    """Peer requests and peer ratings; never commits."""

    def _insert(self) -> Any:
        return pg_insert if self.dialect == "postgresql" else sqlite_insert

    async def roster(self) -> list[RosterPerson]:
        """Everyone still on staff, with department, supervisor, post type and whether
        linked, in id order (an organisation's roster: thousands at most)."""
        query = (
            select(
                Staff.id.label("staff_id"),
                Staff.department_id,
                Staff.supervisor_id,
                Post.post_type,
                Staff.telegram_user_id.is_not(None).label("linked"),
            )
            .outerjoin(Post, Post.id == Staff.post_id)
            .where(Staff.status != StaffStatus.LEFT)
            .order_by(Staff.id)
        )
        return rows_as(await self.session.execute(query), RosterPerson)

    async def supervisors(self) -> dict[int, int | None]:
        """Every person's supervisor (left people too: a chain runs through them)."""
        rows = await self.session.execute(select(Staff.id, Staff.supervisor_id))
        return {staff_id: supervisor_id for staff_id, supervisor_id in rows}

    async def assign(
        self, period_id: int, staff_id: int, rater_id: int, *, by_id: int | None, now: datetime
    ) -> int | None:
        """Ask ``rater_id`` to rate ``staff_id`` in the period; the new request's id, or
        None if they were asked already."""
        statement = (
            self._insert()(_REQUESTS)
            .values(
                period_id=period_id,
                staff_id=staff_id,
                rater_id=rater_id,
                assigned_by_id=by_id,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["period_id", "staff_id", "rater_id"])
            .returning(_REQUESTS.c.id)
        )
        return cast(int | None, await self.session.scalar(statement))

    async def assigned(self, period_id: int) -> set[tuple[int, int]]:
        """The period's (person, rater) pairs already asked."""
        rows = await self.session.execute(
            select(_REQUESTS.c.staff_id, _REQUESTS.c.rater_id).where(
                _REQUESTS.c.period_id == period_id
            )
        )
        return {(staff_id, rater_id) for staff_id, rater_id in rows}

    async def requests(self, request_ids: list[int]) -> list[RequestRow]:
        """Requests by id, with their period, person and rater, in id order."""
        if not request_ids:
            return []
        person = aliased(Staff, name="person")
        rater = aliased(Staff, name="rater")
        query = (
            select(
                _REQUESTS.c.id,
                _REQUESTS.c.period_id,
                AssessmentPeriod.key.label("period_key"),
                _REQUESTS.c.staff_id,
                person.name.label("person_name"),
                Department.name.label("person_department"),
                Post.post_type.label("person_post_type"),
                person.status.label("person_status"),
                _REQUESTS.c.rater_id,
                rater.telegram_user_id.label("rater_chat"),
                rater.language.label("rater_language"),
                rater.telegram_language.label("rater_telegram_language"),
                _REQUESTS.c.answered_at,
            )
            .join(AssessmentPeriod, AssessmentPeriod.id == _REQUESTS.c.period_id)
            .join(person, person.id == _REQUESTS.c.staff_id)
            .join(Department, Department.id == person.department_id)
            .outerjoin(Post, Post.id == person.post_id)
            .join(rater, rater.id == _REQUESTS.c.rater_id)
            .where(_REQUESTS.c.id.in_(request_ids))
            .order_by(_REQUESTS.c.id)
        )
        return rows_as(await self.session.execute(query), RequestRow)

    async def given(self, request: RequestRow) -> dict[str, int]:
        """The ratings given on a request, by indicator id."""
        rows = await self.session.execute(
            select(_RATINGS.c.indicator_id, _RATINGS.c.value).where(
                _RATINGS.c.period_id == request.period_id,
                _RATINGS.c.staff_id == request.staff_id,
                _RATINGS.c.rater_kind == RaterKind.PEER,
                _RATINGS.c.rater_key == rater_key(request.id),
            )
        )
        return {indicator_id: value for indicator_id, value in rows}

    async def rate(
        self, request: RequestRow, indicator_id: str, value: int, *, now: datetime
    ) -> None:
        """Give or change the request's rating of one indicator (kind ``peer``, keyed by
        the request, without the rater's id)."""
        await ReviewRepository(self.session).rate(
            request.period_id,
            request.staff_id,
            indicator_id,
            RaterKind.PEER,
            rater_id=None,
            rater_key=rater_key(request.id),
            value=value,
            now=now,
        )

    async def mark_answered(self, request_id: int, *, now: datetime) -> bool:
        """Mark a request answered (every indicator rated); False if it was already."""
        result = await self.session.execute(
            update(_REQUESTS)
            .where(_REQUESTS.c.id == request_id, _REQUESTS.c.answered_at.is_(None))
            .values(answered_at=now)
        )
        return bool(cast(Any, result).rowcount)

    async def completion(self, period_id: int) -> list[Completion]:
        """Per person with peer requests in the period: how many, and how many answered,
        by name."""
        answered = func.count(_REQUESTS.c.answered_at)
        query = (
            select(
                Staff.id.label("staff_id"),
                Staff.name,
                Staff.employee_no,
                func.count().label("assigned"),
                answered.label("answered"),
            )
            .select_from(_REQUESTS)
            .join(Staff, Staff.id == _REQUESTS.c.staff_id)
            .where(_REQUESTS.c.period_id == period_id)
            .group_by(Staff.id, Staff.name, Staff.employee_no)
            .order_by(Staff.name, Staff.id)
        )
        return rows_as(await self.session.execute(query), Completion)
