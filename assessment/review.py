"""The monthly check's human part: a person's self-assessment and their supervisor's review.

Rules, one each, used by every command and press:

- **Who reviews whom** (``reviews``): a person is reviewed by their direct supervisor as
  the roster has it now (``staff.supervisor_id``), never by themself, and only while both
  are on staff. Delegations do not apply: a delegate decides entries while the supervisor
  is away, but the review's ratings and points are the supervisor's own judgement (the
  policy weighs them as "supervisor"). HR does not review (unless HR is the person's
  supervisor): HR's part is reopening and calibration.
- **Which period** (``self_period``, ``review_period``): the self-assessment is of the
  latest period whose self-assessment has opened; the review is of the latest period
  whose supervisor review has started (``periods.closed_through``).
- **When** (``self_closed``, ``review_closed``): a self-assessment may be written and
  changed from ``self_review_open_day`` until the supervisor signs off (not once the
  period is published); a review may be worked on and signed off from the start of the
  supervisor review, through calibration (an overdue review can still be finished),
  until it is signed off or the period published.
- **Which version** (``ReviewRepository.touch``): every change moves the review's
  version on, conditional on the version shown, so a press on an older card changes
  nothing; the sign-off locks the review (and the self-assessment with it).

A person's review row (``period_reviews``) is created the first time either side needs
it, with the post type and department the person holds then: a second-line person is
reviewed against the indicators of the role they hold now.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from assessment import log_flow, peers, period_scoring, periods
from assessment.entry_rules import Workdays
from assessment.people import StaffMember
from assessment.period_scoring import GradePreview
from assessment.periods import Period, Stage
from assessment.scoring import (
    PointsFact,
    PointsLeft,
    Score,
    points_left,
    raters_for,
    rating_scale,
)
from config.policy import Indicator, Policy, Rater
from storage.enums import RaterKind, StaffStatus
from storage.models import Staff
from storage.repositories.audit import Event
from storage.repositories.conversations import StoredConversation
from storage.repositories.reviews import IndicatorTotal, PointsRow, ReviewRow, TeamRow
from storage.uow import UnitOfWork

__all__ = [
    "MAX_REASON",
    "MAX_SELF_TEXT",
    "POINTS_QUESTION",
    "QUESTIONS",
    "SELF_QUESTION",
    "Card",
    "PointsError",
    "PointsKind",
    "Refusal",
    "SelfCard",
    "add_points",
    "clean_text",
    "open_question",
    "parse_period",
    "parse_points",
    "rate",
    "rate_many",
    "review_card",
    "review_closed",
    "review_period",
    "reviews",
    "save_self_text",
    "self_assess",
    "self_card",
    "self_closed",
    "self_period",
    "sign_off",
    "stage_of",
    "team",
]

# What the next message answers: a self-assessment's text, or points (step: their kind).
SELF_QUESTION = "self_text"
POINTS_QUESTION = "review_points"
QUESTIONS = (SELF_QUESTION, POINTS_QUESTION)

# The longest self-assessment text, and the longest reason for points, in characters.
MAX_SELF_TEXT = 1000
MAX_REASON = 300
# Points are stored to 3 decimal places (``score_points.amount``).
MAX_POINT_DECIMALS = 3
# Characters that show nothing: a text of only these (and spaces) is empty.
_INVISIBLE = re.compile(
    r"[\s\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f"
    r"\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0]+"
)
_NUMBER = re.compile(r"([+\-])?(\d+)(?:\.(\d+))?")

PointsKind = Literal["bonus", "deduction", "disqualifying"]
POINTS_KINDS: tuple[PointsKind, ...] = ("bonus", "deduction", "disqualifying")


class Refusal(enum.Enum):
    """Why a self-assessment or review action was refused (nothing was written)."""

    NOT_YOURS = "not_yours"  # not the person's reviewer (or a forged press): as any forgery
    STALE = "stale"  # shown before a later change: as any forgery, with the card refreshed
    SIGNED_OFF = "signed_off"
    PUBLISHED = "published"
    NOT_RATED = "not_rated"  # an indicator this rater does not rate: as any forgery
    NO_POINTS_LEFT = "no_points_left"
    TEXT_EMPTY = "text_empty"
    TEXT_TOO_LONG = "text_too_long"


class PointsError(enum.Enum):
    """Why a points message was refused (nothing was saved; the question stays open)."""

    BAD_NUMBER = "bad_number"
    WRONG_SIGN = "wrong_sign"
    ZERO = "zero"
    TOO_PRECISE = "too_precise"
    OVER_LIMIT = "over_limit"
    REASON_NEEDED = "reason_needed"
    REASON_TOO_LONG = "reason_too_long"


# --- the pure rules ---------------------------------------------------------------------------


def reviews(reviewer: StaffMember, person: Staff) -> bool:
    """Whether ``reviewer`` reviews ``person``: their direct supervisor now, never
    themself, both on staff (the one rule; see the module)."""
    return (
        reviewer.is_active
        and person.id != reviewer.id
        and person.supervisor_id == reviewer.id
        and person.status is not StaffStatus.LEFT
    )


def self_period(today: date, policy: Policy) -> Period:
    """The period a self-assessment written ``today`` is of: this one once its
    self-assessment has opened, else the one before."""
    current = periods.period_of(today, policy)
    if today >= periods.milestones(current, policy).self_opens:
        return current
    return current.previous()


def review_period(today: date, policy: Policy) -> Period:
    """The latest period whose supervisor review has started on ``today``."""
    return periods.period_of(periods.closed_through(today, policy), policy)


def self_closed(stage: Stage, review: ReviewRow | None) -> Refusal | None:
    """None while a self-assessment may change: its self-assessment has opened (the
    caller's period always has), not published, not signed off."""
    if stage is Stage.PUBLISHED:
        return Refusal.PUBLISHED
    if review is not None and review.signed_off_at is not None:
        return Refusal.SIGNED_OFF
    return None


def review_closed(stage: Stage, review: ReviewRow | None) -> Refusal | None:
    """None while a review may be worked on: under supervisor review or in calibration,
    not signed off."""
    if stage is Stage.PUBLISHED:
        return Refusal.PUBLISHED
    if review is not None and review.signed_off_at is not None:
        return Refusal.SIGNED_OFF
    if stage not in (Stage.SUPERVISOR_REVIEW, Stage.CALIBRATION):
        # Not reached through the commands (review_period's review has started); a press
        # naming a period whose review has not started is a forgery.
        return Refusal.NOT_YOURS
    return None


def clean_text(text: str | None, limit: int) -> str | Refusal:
    """A text as it is kept (stripped), or why not: empty (or only invisible
    characters), or longer than ``limit`` characters."""
    stripped = (text or "").strip()
    if not _INVISIBLE.sub("", stripped):
        return Refusal.TEXT_EMPTY
    if len(stripped) > limit:
        return Refusal.TEXT_TOO_LONG
    return stripped


def point_decimals(policy: Policy) -> int:
    """Decimal places a number of points may have: the score's own step (0.01: two),
    at most what is stored."""
    exponent = policy.assessment.score_rounding.normalize().as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return min(places, MAX_POINT_DECIMALS)


def parse_points(
    text: str | None, kind: PointsKind, left: PointsLeft, policy: Policy
) -> tuple[Decimal, str] | PointsError:
    """The signed amount and the reason in a message such as ``2.5 Led the flood
    response``, or why not. ``kind`` is the button pressed; a sign, if typed, must agree.
    ``left`` is the room under the period's limits (``points_left``)."""
    normal = unicodedata.normalize("NFKC", text or "").strip().replace("\u2212", "-")
    head, _, rest = normal.partition(" ")
    match = _NUMBER.fullmatch(head)
    if match is None:
        return PointsError.BAD_NUMBER
    sign, whole, fraction = match.groups()
    bonus = kind == "bonus"
    if sign is not None and (sign == "+") != bonus:
        return PointsError.WRONG_SIGN
    try:
        amount = Decimal(f"{whole}.{fraction}" if fraction else whole)
    except InvalidOperation:  # pragma: no cover - the pattern admits only digits
        return PointsError.BAD_NUMBER
    if amount == 0:
        return PointsError.ZERO
    if fraction and len(fraction.rstrip("0")) > point_decimals(policy):
        return PointsError.TOO_PRECISE
    signed = amount if bonus else -amount
    if not left.allows(signed):
        return PointsError.OVER_LIMIT
    reason = rest.strip()
    if not _INVISIBLE.sub("", reason):
        return PointsError.REASON_NEEDED
    if len(reason) > MAX_REASON:
        return PointsError.REASON_TOO_LONG
    return signed.normalize() if signed == signed.to_integral() else signed, reason


def rated_indicators(policy: Policy, post_type: str | None, rater: Rater) -> tuple[Indicator, ...]:
    """The qualitative indicators of ``post_type`` that ``rater`` rates, in policy order."""
    if post_type is None or post_type not in policy.post_types:
        return ()
    return tuple(
        indicator
        for indicator in policy.indicators_for(post_type)
        if rater in raters_for(policy, post_type, indicator)
    )


def facts_of(points: list[PointsRow]) -> list[PointsFact]:
    """Stored points as the scoring rules take them."""
    return [PointsFact(row.amount, row.reason, row.disqualifying) for row in points]


async def open_question(
    uow: UnitOfWork, staff_id: int, *, now: datetime
) -> StoredConversation | None:
    """The person's self-assessment or points question, unless they left it unanswered
    for a day (as /log forgets: a plain message then is a quick log entry again)."""
    stored = await uow.conversations.get(staff_id, since=now - log_flow.FORGOTTEN_AFTER)
    return stored if stored is not None and stored.kind in QUESTIONS else None


# --- reading and creating reviews ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Opened:
    """A review found (or created) with its period and the person."""

    review: ReviewRow
    period: Period
    stage: Stage
    person: Staff


async def stage_of(
    uow: UnitOfWork, period: Period, today: date, policy: Policy, zone: tzinfo
) -> Stage:
    """The stage of ``period`` on ``today``, with what HR did to it (``current_stage``)."""
    return await periods.current_stage(uow, period, today, policy, zone)


_stage = stage_of


def parse_period(key: str, policy: Policy) -> Period | None:
    """The period a button names by its key, in the policy's kind of period; None if not."""
    period = periods.parse_key(key, policy)
    return period if period is not None and period.key == key else None


async def _ensure_review(
    uow: UnitOfWork, period: Period, person: Staff, *, now: datetime, period_id: int | None
) -> tuple[ReviewRow, bool]:
    """The person's review of ``period``, created if missing (no commit), and whether it
    was created just now; ``period_id`` when the caller has just read the stored period
    (nothing to create then). A new review comes back from its INSERT, unread."""
    if period_id is None:
        period_id = await periods.ensure_period(uow, period, now=now)
    created = await uow.reviews.create(
        period_id,
        person.id,
        department_id=person.department_id,
        reviewer_id=person.supervisor_id,
        now=now,
    )
    if created is not None:
        return created, True
    # Begun by someone else meanwhile (or already there): read it.
    existing = await uow.reviews.find(period_id, person.id)
    assert existing is not None
    return existing, False


async def _by_id(
    uow: UnitOfWork, review_id: int, today: date, policy: Policy, zone: tzinfo
) -> Opened | None:
    found = await uow.periods.with_review(review_id)
    if found is None:
        return None
    review, stored, person = found
    period = periods.parse_key(stored.key, policy)
    if period is None:
        return None
    stage = periods.stored_stage(period, stored, today, policy, zone)
    return Opened(review, period, stage, person)


# --- the self-assessment ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SelfCard:
    """What the person sees of their self-assessment."""

    review: ReviewRow
    period: Period
    stage: Stage
    indicators: tuple[Indicator, ...]  # those the person rates themself
    ratings: dict[str, int]
    second_line: bool
    closed: Refusal | None  # why it can no longer change, if it cannot
    scale: range


async def self_card(
    uow: UnitOfWork,
    member: StaffMember,
    policy: Policy,
    *,
    today: date,
    zone: tzinfo,
    now: datetime,
    review_id: int | None = None,
) -> SelfCard | Refusal:
    """The person's self-assessment of the period (``self_period``), its review created
    if missing (and committed); with ``review_id``, that review, if it is theirs."""
    person = await uow.staff.get(member.id)
    if person is None:
        return Refusal.NOT_YOURS
    created = False  # a review begun just now has no ratings to read
    if review_id is not None:
        opened = await _by_id(uow, review_id, today, policy, zone)
        if opened is None or opened.review.staff_id != member.id:
            return Refusal.NOT_YOURS
        review, period, stage = opened.review, opened.period, opened.stage
    else:
        period = self_period(today, policy)
        stored = await uow.periods.by_key(period.key)
        stage = periods.stored_stage(period, stored, today, policy, zone)
        existing = None
        if stored is not None:
            existing = await uow.reviews.find(stored.id, member.id)
        if existing is None and stage is not Stage.PUBLISHED:
            existing, created = await _ensure_review(
                uow, period, person, now=now, period_id=None if stored is None else stored.id
            )
            await uow.commit()
        if existing is None:
            return Refusal.PUBLISHED
        review = existing
    return SelfCard(
        review=review,
        period=period,
        stage=stage,
        indicators=rated_indicators(policy, review.post_type, "self"),
        ratings={}
        if created
        else await uow.reviews.ratings(
            review.period_id, member.id, RaterKind.SELF, str(member.id)
        ),
        second_line=person.status is StaffStatus.SECOND_LINE,
        closed=self_closed(stage, review),
        scale=rating_scale(policy),
    )


def _event(
    action: str, review: ReviewRow, member: StaffMember, now: datetime, **details: Any
) -> Event:
    return Event(
        action,
        "period_review",
        review.id,
        at=now,
        actor_staff_id=member.id,
        actor_telegram_id=member.telegram_user_id,
        details={"staff_id": review.staff_id, **details},
    )


async def _audit(
    uow: UnitOfWork, action: str, review: ReviewRow, member: StaffMember, now: datetime,
    **details: Any,
) -> None:  # fmt: skip
    await uow.audit.add(_event(action, review, member, now, **details))


async def _change(
    uow: UnitOfWork,
    member: StaffMember,
    review_id: int,
    version: int | None,
    rater: Literal["self", "supervisor"],
    ratings: Mapping[str, int],
    policy: Policy,
    *,
    today: date,
    zone: tzinfo,
    now: datetime,
    text: str | None = None,
    with_text: bool = False,
) -> int | Refusal:
    """The one rule of changing a review: ``ratings`` by ``rater`` and, ``with_text``,
    the self-assessment ``text``, on ``version`` when given, audited (no commit); the
    review's version after it, or why nothing was changed. The review is read once and
    moved on once, whatever it changes."""
    opened = await _by_id(uow, review_id, today, policy, zone)
    if opened is None:
        return Refusal.NOT_YOURS
    review = opened.review
    if rater == "self":
        if review.staff_id != member.id:
            return Refusal.NOT_YOURS
        closed = self_closed(opened.stage, review)
    else:
        if not reviews(member, opened.person):
            return Refusal.NOT_YOURS
        closed = review_closed(opened.stage, review)
    if closed is not None:
        return closed
    values: dict[str, Any] = {}
    events: list[Event] = []
    if with_text:
        cleaned = clean_text(text, MAX_SELF_TEXT)
        if isinstance(cleaned, Refusal):
            return cleaned
        values = {"self_text": cleaned, "self_submitted_at": now}
        events.append(_event("review.self_text", review, member, now, length=len(cleaned)))
    rated = {indicator.id for indicator in rated_indicators(policy, review.post_type, rater)}
    scale = rating_scale(policy)
    for indicator_id, value in ratings.items():
        if indicator_id not in rated or value not in scale:
            return Refusal.NOT_RATED
    if version is not None and review.version != version:
        return Refusal.STALE
    if not await uow.reviews.touch(review_id, version, now=now, **values):
        return Refusal.SIGNED_OFF if version is None else Refusal.STALE
    for indicator_id, value in ratings.items():
        await uow.reviews.rate(
            review.period_id,
            review.staff_id,
            indicator_id,
            RaterKind(rater),
            rater_id=member.id,
            value=value,
            now=now,
        )
        events.append(
            _event(
                "review.rated",
                review,
                member,
                now,
                rater=rater,
                indicator=indicator_id,
                value=value,
            )
        )
    await uow.audit.add_many(events)
    return review.version + 1


async def save_self_text(
    uow: UnitOfWork,
    member: StaffMember,
    review_id: int,
    text: str | None,
    policy: Policy,
    *,
    today: date,
    zone: tzinfo,
    now: datetime,
) -> SelfCard | Refusal:
    """Save the person's self-assessment text (and commit), or say why not."""
    changed = await _change(
        uow, member, review_id, None, "self", {}, policy, today=today, zone=zone, now=now,
        text=text, with_text=True,
    )  # fmt: skip
    if isinstance(changed, Refusal):
        return changed
    await uow.conversations.drop(member.id)
    await uow.commit()
    return await self_card(
        uow, member, policy, today=today, zone=zone, now=now, review_id=review_id
    )


async def self_assess(
    uow: UnitOfWork,
    member: StaffMember,
    review_id: int,
    text: str | None,
    ratings: Mapping[str, int],
    policy: Policy,
    *,
    today: date,
    zone: tzinfo,
    now: datetime,
) -> int | Refusal:
    """The batch form of ``save_self_text`` and the person's own ``rate``: the text and
    the self ratings in one change (the same rules), committed; the review's version
    after it (for what comes next), or why nothing was saved."""
    changed = await _change(
        uow, member, review_id, None, "self", ratings, policy, today=today, zone=zone,
        now=now, text=text, with_text=True,
    )  # fmt: skip
    if isinstance(changed, Refusal):
        return changed
    await uow.conversations.drop(member.id)
    await uow.commit()
    return changed


async def rate(
    uow: UnitOfWork,
    member: StaffMember,
    review_id: int,
    version: int,
    indicator_id: str,
    value: int,
    rater: Literal["self", "supervisor"],
    policy: Policy,
    *,
    today: date,
    zone: tzinfo,
    now: datetime,
) -> Refusal | None:
    """Give (or change) a rating as ``rater``, on the version shown, and commit; None
    when saved."""
    changed = await rate_many(
        uow, member, review_id, version, {indicator_id: value}, rater, policy, today=today,
        zone=zone, now=now,
    )  # fmt: skip
    return changed if isinstance(changed, Refusal) else None


async def rate_many(
    uow: UnitOfWork,
    member: StaffMember,
    review_id: int,
    version: int,
    ratings: Mapping[str, int],
    rater: Literal["self", "supervisor"],
    policy: Policy,
    *,
    today: date,
    zone: tzinfo,
    now: datetime,
) -> int | Refusal:
    """The batch form of ``rate``: several ratings as ``rater`` on the version shown, in
    one change, committed; the review's version after it, or why none was saved."""
    changed = await _change(
        uow, member, review_id, version, rater, ratings, policy, today=today, zone=zone,
        now=now,
    )  # fmt: skip
    if isinstance(changed, int):
        await uow.commit()
    return changed


# --- the supervisor's review ---------------------------------------------------------------------


async def team(
    uow: UnitOfWork, reviewer: StaffMember, period: Period, *, today: date, policy: Policy
) -> list[TeamRow] | None:
    """The reviewer's people for ``period`` (``reviews``: never the reviewer); None for a
    period nobody reviews: neither the period under review (``review_period``) nor one
    stored (a button naming any other is forged)."""
    stored = await uow.periods.by_key(period.key)
    if stored is None and period != review_period(today, policy):
        return None
    return await uow.reviews.team(None if stored is None else stored.id, reviewer.id)


@dataclass(frozen=True, slots=True)
class IndicatorLine:
    """One indicator on the card: its approved entries (quantitative) and ratings."""

    indicator: Indicator
    entries: int
    total: Decimal  # the sum of the approved quantities
    mean: Decimal | None  # their mean, for a "mean" indicator with quantities


@dataclass(frozen=True, slots=True)
class Card:
    """A person's review card, everything on one screen."""

    review: ReviewRow
    period: Period
    stage: Stage
    person: Staff
    post_type: str | None
    second_line: bool
    lines: tuple[IndicatorLine, ...]
    other_entries: int  # approved entries on no indicator of the post type
    workdays: int
    missing: list[date]
    pending: int
    returned: int
    self_ratings: dict[str, int]
    rated: tuple[Indicator, ...]  # what the supervisor rates
    ratings: dict[str, int]  # the supervisor's own
    points: list[PointsRow]
    left: PointsLeft
    scale: range
    closed: Refusal | None
    # The score and the grade it would give now (None: no post type the policy knows),
    # with the top-grade places left in the quota's scope, and the department's name.
    estimate: tuple[Score, GradePreview] | None
    department: str


def _lines(
    policy: Policy, post_type: str | None, totals: list[IndicatorTotal]
) -> tuple[tuple[IndicatorLine, ...], int]:
    by_id = {total.indicator_id: total for total in totals}
    lines = []
    known: set[str] = set()
    if post_type is not None and post_type in policy.post_types:
        for indicator in policy.indicators_for(post_type):
            if indicator.kind != "quantitative":
                continue
            known.add(indicator.id)
            found = by_id.get(indicator.id)
            entries = found.entries if found else 0
            total = found.total if found else Decimal(0)
            mean = None
            if found and found.quantities and indicator.quantity_aggregate == "mean":
                mean = found.total / found.quantities
            lines.append(IndicatorLine(indicator, entries, total, mean))
    other = sum(total.entries for total in totals if total.indicator_id not in known)
    return tuple(lines), other


async def review_card(
    uow: UnitOfWork,
    reviewer: StaffMember,
    policy: Policy,
    calendar: Workdays,
    *,
    today: date,
    zone: tzinfo,
    now: datetime,
    review_id: int | None = None,
    period: Period | None = None,
    staff_id: int | None = None,
) -> Card | Refusal:
    """A person's card, by review id, or by period and person (the review created if
    missing, and committed). Refused unless ``reviewer`` reviews them (``reviews``)."""
    if review_id is not None:
        opened = await _by_id(uow, review_id, today, policy, zone)
        if opened is None or not reviews(reviewer, opened.person):
            return Refusal.NOT_YOURS
        review, period, stage, person = opened.review, opened.period, opened.stage, opened.person
    else:
        assert period is not None and staff_id is not None
        found = await uow.staff.get(staff_id)
        if found is None or not reviews(reviewer, found):
            return Refusal.NOT_YOURS
        person = found
        stage = await _stage(uow, period, today, policy, zone)
        if stage not in (Stage.SUPERVISOR_REVIEW, Stage.CALIBRATION, Stage.PUBLISHED):
            return Refusal.NOT_YOURS
        stored = await uow.periods.by_key(period.key)
        if stored is None and period != review_period(today, policy):
            return Refusal.NOT_YOURS  # no review is ever begun for a period of the past
        existing = None if stored is None else await uow.reviews.find(stored.id, person.id)
        if existing is None:
            if stage is Stage.PUBLISHED:
                return Refusal.PUBLISHED
            existing, _ = await _ensure_review(
                uow, period, person, now=now, period_id=None if stored is None else stored.id
            )
        if existing.reviewer_id != reviewer.id and existing.signed_off_at is None:
            await uow.reviews.set_reviewer(existing.id, reviewer.id)
        await uow.commit()
        review = existing
    through = min(period.ends_on, today)
    missing = await periods.missing_workdays(uow, person.id, period, calendar, through=through)
    workdays = (
        sum(1 for _ in calendar.workdays(period.starts_on, through))
        if through >= period.starts_on
        else 0
    )
    totals = await uow.reviews.approved_totals(person.id, period.starts_on, period.ends_on)
    lines, other = _lines(policy, review.post_type, totals)
    pending, returned = await uow.reviews.undecided(person.id, period.starts_on, period.ends_on)
    points = await uow.reviews.points(review.period_id, person.id)
    return Card(
        review=review,
        period=period,
        stage=stage,
        person=person,
        post_type=review.post_type,
        second_line=person.status is StaffStatus.SECOND_LINE,
        lines=lines,
        other_entries=other,
        workdays=workdays,
        missing=missing,
        pending=pending,
        returned=returned,
        self_ratings=await uow.reviews.ratings(
            review.period_id, person.id, RaterKind.SELF, str(person.id)
        ),
        rated=rated_indicators(policy, review.post_type, "supervisor"),
        ratings=await uow.reviews.ratings(
            review.period_id, person.id, RaterKind.SUPERVISOR, str(reviewer.id)
        ),
        points=points,
        left=points_left(policy, facts_of(points)),
        scale=rating_scale(policy),
        closed=review_closed(stage, review),
        estimate=await period_scoring.score_one(
            uow, policy, period, person.id, with_peers=peers.peers_counted(stage)
        ),
        department=await uow.reviews.department_name(review.department_id),
    )


async def _reviewable(
    uow: UnitOfWork, reviewer: StaffMember, review_id: int, policy: Policy,
    today: date, zone: tzinfo,
) -> Opened | Refusal:  # fmt: skip
    opened = await _by_id(uow, review_id, today, policy, zone)
    if opened is None or not reviews(reviewer, opened.person):
        return Refusal.NOT_YOURS
    closed = review_closed(opened.stage, opened.review)
    return opened if closed is None else closed


async def points_room(
    uow: UnitOfWork,
    reviewer: StaffMember,
    review_id: int,
    version: int,
    kind: PointsKind,
    policy: Policy,
    *,
    today: date,
    zone: tzinfo,
) -> tuple[Opened, PointsLeft] | Refusal:
    """Whether ``reviewer`` may give points of ``kind`` on the version shown, and the
    room left; for the press that asks for the number."""
    opened = await _reviewable(uow, reviewer, review_id, policy, today, zone)
    if isinstance(opened, Refusal):
        return opened
    if opened.review.version != version:
        return Refusal.STALE
    left = points_left(policy, facts_of(await uow.reviews.points(
        opened.review.period_id, opened.review.staff_id)))  # fmt: skip
    room = left.bonus if kind == "bonus" else left.deduction
    if room <= 0:
        return Refusal.NO_POINTS_LEFT
    return opened, left


async def add_points(
    uow: UnitOfWork,
    reviewer: StaffMember,
    review_id: int,
    kind: PointsKind,
    text: str | None,
    policy: Policy,
    *,
    today: date,
    zone: tzinfo,
    now: datetime,
) -> tuple[Decimal, str] | Refusal | PointsError:
    """Give the points a message names (``parse_points``) and commit; the amount and
    reason saved. Input errors leave the question open; refusals end it."""
    opened = await _reviewable(uow, reviewer, review_id, policy, today, zone)
    if isinstance(opened, Refusal):
        return opened
    review = opened.review
    given = await uow.reviews.points(review.period_id, review.staff_id)
    parsed = parse_points(text, kind, points_left(policy, facts_of(given)), policy)
    if isinstance(parsed, PointsError):
        return parsed
    amount, reason = parsed
    if not await uow.reviews.touch(review_id, None, now=now):
        return Refusal.SIGNED_OFF
    point_id = await uow.reviews.add_points(
        review.period_id,
        review.staff_id,
        author_id=reviewer.id,
        amount=amount,
        reason=reason,
        disqualifying=kind == "disqualifying",
        now=now,
    )
    await uow.conversations.drop(reviewer.id)
    await _audit(
        uow, "review.points", review, reviewer, now, points_id=point_id, amount=str(amount),
        reason=reason, disqualifying=kind == "disqualifying",
    )  # fmt: skip
    await uow.commit()
    return amount, reason


async def sign_off(
    uow: UnitOfWork,
    reviewer: StaffMember,
    review_id: int,
    version: int,
    policy: Policy,
    *,
    today: date,
    zone: tzinfo,
    now: datetime,
) -> Refusal | None:
    """Sign the review off on the version shown (locking it and the self-assessment),
    audited, and commit; None when signed off."""
    opened = await _reviewable(uow, reviewer, review_id, policy, today, zone)
    if isinstance(opened, Refusal):
        return opened
    if opened.review.version != version:
        return Refusal.STALE
    if not await uow.reviews.sign_off(review_id, version, by_id=reviewer.id, now=now):
        # Signed off or changed between the read and the update.
        again = await uow.reviews.get(review_id)
        if again is not None and again.signed_off_at is not None:
            return Refusal.SIGNED_OFF
        return Refusal.STALE
    await _audit(uow, "review.signed_off", opened.review, reviewer, now,
                 period=opened.period.key, version=version)  # fmt: skip
    await uow.commit()
    return None
