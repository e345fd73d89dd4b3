"""Assessment periods, each person's review of one, and whether an entry's period is open.

``entry_open`` is the one definition of the closed-period rule in SQL: every statement
that writes or decides an entry (the INSERT of a new one, the conditional UPDATE of an
edit, a deletion, a single or bulk decision, auto-approval) and every list of entries
to decide (requests, /pending, digests, escalation) carries it, so the check is part of
the statement that acts and no period can close between a check and the act.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Date,
    Table,
    bindparam,
    delete,
    exists,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.enums import EntryStatus
from storage.models import AssessmentPeriod, PeriodReview, PeriodScore, Staff, WorkEntry
from storage.repositories.base import Repository
from storage.repositories.reviews import ReviewRow

_ENTRIES = cast(Table, WorkEntry.__table__)
_PERIODS = cast(Table, AssessmentPeriod.__table__)
_REVIEWS = cast(Table, PeriodReview.__table__)
_REVIEW_COLUMNS = tuple(_REVIEWS.c[name] for name in ReviewRow.__dataclass_fields__)

# The parameter every statement carrying ``entry_open`` binds: the last day of the latest
# period under review (``assessment.periods.closed_through``).
CLOSED_THROUGH = bindparam("closed_through", type_=Date())
# Entries that count as written on a day (a missing workday has none of these).
_COVERING = (EntryStatus.SUBMITTED, EntryStatus.APPROVED, EntryStatus.RETURNED)


def reopened(staff_id: Any, day: Any) -> ColumnElement[bool]:
    """Whether HR reopened ``staff_id``'s period that holds ``day`` and its reviewer has
    not signed it off since (SQL; either argument may be a column or a parameter)."""
    return exists().where(
        _REVIEWS.c.staff_id == staff_id,
        _REVIEWS.c.reopened_at.is_not(None),
        _REVIEWS.c.signed_off_at.is_(None),
        _PERIODS.c.id == _REVIEWS.c.period_id,
        _PERIODS.c.starts_on <= day,
        _PERIODS.c.ends_on >= day,
    )


def entry_open(
    staff_id: Any = None, day: Any = None, closed_through: Any = CLOSED_THROUGH
) -> ColumnElement[bool]:
    """The closed-period rule as a SQL condition: an entry of ``staff_id`` dated ``day``
    may still be added, changed or decided. By default on the ``work_entries`` row at hand.

    Open: dated after ``closed_through`` (a period whose supervisor review has not
    started), or in a period HR reopened for its author (``reopened``).
    """
    staff_id = _ENTRIES.c.staff_id if staff_id is None else staff_id
    day = _ENTRIES.c.work_date if day is None else day
    return or_(day > closed_through, reopened(staff_id, day))


@dataclass(frozen=True, slots=True)
class PeriodRow:
    """A stored period, as read."""

    id: int
    key: str
    starts_on: date
    ends_on: date
    calibration_started_at: datetime | None
    publish_at: datetime | None
    published_at: datetime | None


def _period_row(period: AssessmentPeriod) -> PeriodRow:
    return PeriodRow(
        period.id,
        period.key,
        period.starts_on,
        period.ends_on,
        period.calibration_started_at,
        period.publish_at,
        period.published_at,
    )


class PeriodRepository(Repository):
    """Periods and reviews: lazy creation, reopening, sign-off, the open-entry check."""

    def _insert(self) -> Any:
        return pg_insert if self.dialect == "postgresql" else sqlite_insert

    async def get_or_create(self, key: str, starts_on: date, ends_on: date, now: datetime) -> int:
        """The id of the period ``key``, created if it is not stored yet.

        An INSERT that does nothing when the key exists (another process may create it at
        the same moment: on PostgreSQL the second waits for the first and then does
        nothing), then a SELECT, which sees the row either way.
        """
        await self.session.execute(
            self._insert()(_PERIODS)
            .values(key=key, starts_on=starts_on, ends_on=ends_on, created_at=now, version=1)
            .on_conflict_do_nothing(index_elements=["key"])
        )
        period_id = await self.session.scalar(select(_PERIODS.c.id).where(_PERIODS.c.key == key))
        assert period_id is not None
        return int(period_id)

    async def by_id(self, period_id: int) -> PeriodRow | None:
        """The stored period of that id, if any."""
        period = await self.session.scalar(
            select(AssessmentPeriod).where(AssessmentPeriod.id == period_id)
        )
        return None if period is None else _period_row(period)

    async def with_review(self, review_id: int) -> tuple[ReviewRow, PeriodRow, Staff] | None:
        """A review, its stored period and the person reviewed, by the review's id, in one
        statement (the person as ``StaffRepository.get`` gives them)."""
        found = (
            await self.session.execute(
                select(AssessmentPeriod, Staff, *_REVIEW_COLUMNS)
                .join(_REVIEWS, _REVIEWS.c.period_id == AssessmentPeriod.id)
                .join(Staff, Staff.id == _REVIEWS.c.staff_id)
                .where(_REVIEWS.c.id == review_id)
            )
        ).first()
        if found is None:
            return None
        period, person, *values = found
        return ReviewRow(*values), _period_row(period), person

    async def by_key(self, key: str) -> PeriodRow | None:
        """The stored period ``key``, if any."""
        period = await self.session.scalar(
            select(AssessmentPeriod).where(AssessmentPeriod.key == key)
        )
        return None if period is None else _period_row(period)

    async def start_calibration(self, period_id: int, *, by_id: int, now: datetime) -> bool:
        """Record that ``by_id`` started calibration ``now``, once, before publication;
        False if it had started already or the period is published."""
        result = await self.session.execute(
            update(_PERIODS)
            .where(
                _PERIODS.c.id == period_id,
                _PERIODS.c.calibration_started_at.is_(None),
                _PERIODS.c.published_at.is_(None),
            )
            .values(calibration_started_at=now, calibration_started_by_id=by_id)
        )
        return bool(getattr(result, "rowcount", 0))

    async def review(self, review_id: int) -> PeriodReview | None:
        """A review, by id."""
        return await self.session.get(PeriodReview, review_id)

    async def reopen(self, review_id: int, *, reason: str, by_id: int, now: datetime) -> bool:
        """Reopen a review: sign-off cleared, reopening noted; False if it is reopened
        already and not signed off since (nothing changed)."""
        result = await self.session.execute(
            update(_REVIEWS)
            .where(
                _REVIEWS.c.id == review_id,
                or_(_REVIEWS.c.reopened_at.is_(None), _REVIEWS.c.signed_off_at.is_not(None)),
            )
            .values(
                reopened_at=now,
                reopen_reason=reason,
                reopened_by_id=by_id,
                signed_off_at=None,
                signed_off_by_id=None,
                updated_at=now,
                version=_REVIEWS.c.version + 1,
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def sign_off(self, review_id: int, *, by_id: int, now: datetime) -> bool:
        """Sign a review off (its period's entries of the person close again if it was
        reopened); False if it was signed off already."""
        result = await self.session.execute(
            update(_REVIEWS)
            .where(_REVIEWS.c.id == review_id, _REVIEWS.c.signed_off_at.is_(None))
            .values(
                signed_off_at=now,
                signed_off_by_id=by_id,
                updated_at=now,
                version=_REVIEWS.c.version + 1,
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def drop_score(self, period_id: int, staff_id: int) -> bool:
        """Remove a person's computed score of a period (its review was withdrawn)."""
        result = await self.session.execute(
            delete(PeriodScore).where(
                PeriodScore.period_id == period_id, PeriodScore.staff_id == staff_id
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def is_reopened(self, staff_id: int, day: date) -> bool:
        """Whether ``staff_id``'s period holding ``day`` is reopened (``reopened``)."""
        found = await self.session.scalar(
            select(reopened(bindparam("staff_id"), bindparam("day", type_=Date()))),
            {"staff_id": staff_id, "day": day},
        )
        return bool(found)

    async def entry_is_open(self, entry_id: int, closed_through: date) -> bool | None:
        """Whether the stored entry may still change (``entry_open``); None: no such entry."""
        found = await self.session.scalar(
            select(entry_open()).select_from(_ENTRIES).where(_ENTRIES.c.id == entry_id),
            {"closed_through": closed_through},
        )
        return None if found is None else bool(found)

    async def covered_days(self, staff_id: int, start: date, end: date) -> set[date]:
        """The days from ``start`` to ``end`` on which ``staff_id`` has an entry that stands
        (submitted, approved or returned; deleted and rejected ones do not count)."""
        rows = await self.session.scalars(
            select(_ENTRIES.c.work_date)
            .where(
                _ENTRIES.c.staff_id == staff_id,
                _ENTRIES.c.work_date.between(start, end),
                _ENTRIES.c.status.in_(_COVERING),
            )
            .distinct()
        )
        return set(rows)


__all__ = ["CLOSED_THROUGH", "PeriodRepository", "PeriodRow", "entry_open", "reopened"]
