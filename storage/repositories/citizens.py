"""Citizens' rating codes and ratings ("one matter, one rating")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    Select,
    Table,
    and_,
    bindparam,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)

from storage.enums import RaterKind
from storage.models import AssessmentPeriod, CitizenCode, CitizenRating, Post, Rating, Staff
from storage.repositories.base import Repository, rows_as

_CODES = cast(Table, CitizenCode.__table__)
_RATINGS = cast(Table, CitizenRating.__table__)
_SCORED = cast(Table, Rating.__table__)
_STAFF = cast(Table, Staff.__table__)
_POSTS = cast(Table, Post.__table__)
_PERIODS = cast(Table, AssessmentPeriod.__table__)

# Counted: given without a flag, or confirmed by HR.
COUNTED = ("counted", "confirmed")


@dataclass(frozen=True, slots=True)
class CodeRow:
    """A stored citizen code."""

    id: int
    staff_id: int
    kind: str
    issued_at: datetime
    expires_at: datetime | None
    used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class OpenedRow:
    """A stored citizen code as a citizen opens it: the code, whose it is, their post type."""

    id: int
    staff_id: int
    kind: str
    issued_at: datetime
    expires_at: datetime | None
    used_at: datetime | None
    revoked_at: datetime | None
    staff_name: str
    post_type: str | None


@dataclass(frozen=True, slots=True)
class RatingFacts:
    """What a new rating through a code is judged on, read in one statement.

    ``period_id`` is None when the period is not stored yet; ``rated_before`` and
    ``window_today`` count this account's ratings of the person (in the period, and
    through window codes on the day); ``recent`` the person's ratings since a moment;
    ``flagged_today`` whether any rating given on the day was flagged before this one.
    """

    id: int
    staff_id: int
    kind: str
    issued_at: datetime
    expires_at: datetime | None
    used_at: datetime | None
    revoked_at: datetime | None
    post_type: str | None
    period_id: int | None
    recent: int
    rated_before: bool
    staff_account: bool
    window_today: int
    flagged_today: bool


@dataclass(frozen=True, slots=True)
class CitizenRatingRow:
    """A stored citizen rating, without who gave it."""

    id: int
    staff_id: int
    period_id: int
    stars: int
    comment: str | None
    flags: str
    status: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CitizenSummary:
    """A person's counted citizen ratings of a period: how many, their sum, and how many
    wait for HR."""

    count: int
    total: int
    waiting: int


_CODE_COLUMNS = [_CODES.c[name] for name in CodeRow.__slots__]
_RATING_COLUMNS = [_RATINGS.c[name] for name in CitizenRatingRow.__slots__]
# Every rating HR was or is asked about (flagged when given).
_EVER_FLAGGED = ("flagged", "confirmed", "discarded")


def _code_and_person() -> Any:
    return _CODES.join(_STAFF, _STAFF.c.id == _CODES.c.staff_id).outerjoin(
        _POSTS, _POSTS.c.id == _STAFF.c.post_id
    )


def _opening() -> Select[Any]:
    return (
        select(*_CODE_COLUMNS, _STAFF.c.name.label("staff_name"), _POSTS.c.post_type)
        .select_from(_code_and_person())
        .where(_CODES.c.id == bindparam("code_id"))
    )


def _facts() -> Select[Any]:
    """Everything a rating through a code is judged on, as one SELECT of bound values."""
    code_id: Any = bindparam("code_id")
    day = bindparam("day", type_=_RATINGS.c.day.type)
    period = (
        select(_PERIODS.c.id).where(_PERIODS.c.key == bindparam("period_key")).scalar_subquery()
    )
    theirs = and_(
        _RATINGS.c.citizen_hash == bindparam("citizen_hash"),
        _RATINGS.c.staff_id == _CODES.c.staff_id,
    )
    # Aliases: the same tables as the outer statement's, not correlated with it.
    windows = _CODES.alias("windows")
    accounts = _STAFF.alias("accounts")
    return (
        select(
            *_CODE_COLUMNS,
            _POSTS.c.post_type,
            period.label("period_id"),
            select(func.count())
            .where(
                _RATINGS.c.staff_id == _CODES.c.staff_id,
                _RATINGS.c.created_at >= bindparam("since", type_=_RATINGS.c.created_at.type),
            )
            .scalar_subquery()
            .label("recent"),
            exists().where(theirs, _RATINGS.c.period_id == period).label("rated_before"),
            exists()
            .where(accounts.c.telegram_user_id == bindparam("telegram_user_id"))
            .label("staff_account"),
            select(func.count())
            .select_from(_RATINGS.join(windows, windows.c.id == _RATINGS.c.code_id))
            .where(theirs, _RATINGS.c.day == day, windows.c.kind == literal("window"))
            .scalar_subquery()
            .label("window_today"),
            exists()
            .where(_RATINGS.c.status.in_(_EVER_FLAGGED), _RATINGS.c.day == day)
            .label("flagged_today"),
        )
        .select_from(_code_and_person())
        .where(_CODES.c.id == code_id)
    )


# Built once: every citizen's /start and press runs them (building the facts' aliases and
# subqueries anew, and their cache key, cost more than the rest of a press's Python).
_OPENING = _opening()
_FACTS = _facts()
_HOLD_SQLITE = update(_CODES).where(_CODES.c.id == bindparam("code_id")).values(kind=_CODES.c.kind)
_HOLD_POSTGRESQL = (
    select(_STAFF.c.id)
    .join(_CODES, _CODES.c.staff_id == _STAFF.c.id)
    .where(_CODES.c.id == bindparam("code_id"))
    .with_for_update(of=_STAFF, key_share=True, skip_locked=True)
)
_USE = (
    update(_CODES)
    .where(_CODES.c.id == bindparam("code_id"), _CODES.c.used_at.is_(None))
    .values(used_at=bindparam("now", type_=_CODES.c.used_at.type))
)
_ADD = insert(_RATINGS).returning(_RATINGS.c.id)


class CitizenRepository(Repository):
    """Codes citizens open, and the ratings they give."""

    async def add_code(
        self, staff_id: int, kind: str, *, now: datetime, expires_at: datetime | None
    ) -> int:
        """Store a new code; a new window code replaces the person's earlier ones."""
        if kind == "window":
            await self.session.execute(
                update(_CODES)
                .where(
                    _CODES.c.staff_id == staff_id,
                    _CODES.c.kind == "window",
                    _CODES.c.revoked_at.is_(None),
                )
                .values(revoked_at=now)
            )
        result = await self.session.execute(
            insert(_CODES)
            .values(staff_id=staff_id, kind=kind, issued_at=now, expires_at=expires_at)
            .returning(_CODES.c.id)
        )
        return int(result.scalar_one())

    async def opening(self, code_id: int) -> OpenedRow | None:
        """One code with its person's name and post type, in one SELECT; None if no such
        code."""
        rows = rows_as(await self.session.execute(_OPENING, {"code_id": code_id}), OpenedRow)
        return rows[0] if rows else None

    async def hold_person(self, code_id: int) -> bool:
        """Hold the code's person for this rating until commit, so that the rules read
        next see every rating of the person before it; False when another rating of the
        person holds them now (nothing waits: that is a rush).

        On SQLite a transaction takes the write lock at its first write, not its first
        read: a write that changes nothing takes it now (writers queue there anyway).
        On PostgreSQL the person's staff row is locked, without blocking the rows that
        merely refer to it (``FOR NO KEY UPDATE``), or skipped if locked: waiting there
        would let one clerk's rush hold the store's connections, and everyone with them.
        """
        if self.dialect == "sqlite":
            await self.session.execute(_HOLD_SQLITE, {"code_id": code_id})
            return True
        held = await self.session.execute(_HOLD_POSTGRESQL, {"code_id": code_id})
        return held.first() is not None

    async def facts(
        self,
        code_id: int,
        *,
        citizen_hash: str,
        telegram_user_id: int,
        period_key: str,
        day: date,
        since: datetime,
    ) -> RatingFacts | None:
        """A code and everything its next rating is judged on, in one SELECT (a rush of
        citizens costs one round trip each for all the rules); None if no such code."""
        values = {
            "code_id": code_id,
            "citizen_hash": citizen_hash,
            "telegram_user_id": telegram_user_id,
            "period_key": period_key,
            "day": day,
            "since": since,
        }
        row = (await self.session.execute(_FACTS, values)).mappings().first()
        if row is None:
            return None
        found = dict(row)
        for name in ("rated_before", "staff_account", "flagged_today"):
            found[name] = bool(found[name])
        return RatingFacts(**found)

    async def use(self, code_id: int, *, now: datetime) -> bool:
        """Mark a matter's code used, unless it already was (one rating per code)."""
        result = await self.session.execute(_USE, {"code_id": code_id, "now": now})
        return cast(Any, result).rowcount == 1

    async def add(
        self,
        *,
        code_id: int,
        staff_id: int,
        period_id: int,
        day: date,
        citizen_hash: str,
        stars: int,
        flags: str,
        status: str,
        now: datetime,
    ) -> int:
        """Store a rating (the citizen's next message may comment on it)."""
        result = await self.session.execute(
            _ADD,
            {
                "code_id": code_id,
                "staff_id": staff_id,
                "period_id": period_id,
                "day": day,
                "citizen_hash": citizen_hash,
                "stars": stars,
                "awaiting_comment": True,
                "flags": flags,
                "status": status,
                "created_at": now,
            },
        )
        return int(result.scalar_one())

    async def count(
        self, rating_id: int, period_id: int, staff_id: int, indicators: list[str], stars: int
    ) -> None:
        """Write the rating into the score: one service-recipient rating per indicator."""
        if not indicators:
            return
        await self.session.execute(
            insert(_SCORED),
            [
                {
                    "period_id": period_id,
                    "staff_id": staff_id,
                    "indicator_id": indicator,
                    "rater_kind": RaterKind.SERVICE_RECIPIENT,
                    "rater_id": None,
                    "rater_key": f"citizen:{rating_id}",
                    "value": stars,
                }
                for indicator in indicators
            ],
        )

    async def awaiting_comment(self, citizen_hash: str, *, since: datetime) -> int | None:
        """The rating this citizen's next message comments on, if one given since ``since``."""
        result = await self.session.execute(
            select(_RATINGS.c.id)
            .where(
                _RATINGS.c.citizen_hash == citizen_hash,
                _RATINGS.c.awaiting_comment,
                _RATINGS.c.created_at >= since,
            )
            .order_by(_RATINGS.c.id.desc())
            .limit(1)
        )
        found = result.scalar_one_or_none()
        return None if found is None else int(found)

    async def comment(self, rating_id: int, text: str) -> bool:
        """Keep the comment, unless one was kept already."""
        result = await self.session.execute(
            update(_RATINGS)
            .where(_RATINGS.c.id == rating_id, _RATINGS.c.awaiting_comment)
            .values(comment=text, awaiting_comment=False)
        )
        return cast(Any, result).rowcount == 1

    async def get(self, rating_id: int) -> CitizenRatingRow | None:
        """One rating, if stored."""
        result = await self.session.execute(
            select(*_RATING_COLUMNS).where(_RATINGS.c.id == rating_id)
        )
        rows = rows_as(result, CitizenRatingRow)
        return rows[0] if rows else None

    async def flagged(self, limit: int) -> tuple[list[CitizenRatingRow], int]:
        """The oldest ratings waiting for HR (at most ``limit``), and how many wait."""
        waiting = _RATINGS.c.status == "flagged"
        result = await self.session.execute(
            select(*_RATING_COLUMNS).where(waiting).order_by(_RATINGS.c.id).limit(limit)
        )
        total = await self.session.execute(select(func.count()).where(waiting))
        return rows_as(result, CitizenRatingRow), int(total.scalar_one())

    async def decide(self, rating_id: int, status: str, *, by_id: int, now: datetime) -> bool:
        """Confirm or discard a flagged rating, unless it was decided already."""
        result = await self.session.execute(
            update(_RATINGS)
            .where(_RATINGS.c.id == rating_id, _RATINGS.c.status == "flagged")
            .values(status=status, decided_at=now, decided_by_id=by_id)
        )
        return cast(Any, result).rowcount == 1

    async def summary(self, staff_id: int, period_id: int) -> CitizenSummary:
        """A person's citizen ratings of a period, counted and waiting."""
        mine = and_(_RATINGS.c.staff_id == staff_id, _RATINGS.c.period_id == period_id)
        counted = _RATINGS.c.status.in_(COUNTED)
        result = await self.session.execute(
            select(
                func.count().filter(counted),
                func.coalesce(func.sum(_RATINGS.c.stars).filter(counted), 0),
                func.count().filter(_RATINGS.c.status == "flagged"),
            ).where(mine)
        )
        count, total, waiting = result.one()
        return CitizenSummary(int(count), int(total), int(waiting))

    async def comments(self, staff_id: int, period_id: int, limit: int) -> list[str]:
        """The latest comments of a person's counted ratings of a period, newest first."""
        result = await self.session.execute(
            select(_RATINGS.c.comment)
            .where(
                _RATINGS.c.staff_id == staff_id,
                _RATINGS.c.period_id == period_id,
                _RATINGS.c.status.in_(COUNTED),
                _RATINGS.c.comment.is_not(None),
            )
            .order_by(_RATINGS.c.id.desc())
            .limit(limit)
        )
        return [str(text) for text in result.scalars()]
