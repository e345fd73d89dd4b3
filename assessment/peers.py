"""Peer ratings across departments: who may rate whom, the requests, and the ratings.

Where the policy gives ``peer`` a weight (``[raters.<post type>]``), colleagues from
other departments rate the person's qualitative indicators (``scoring.raters_for``).
Rules, one each, used by every path (HR's /peers, the drawing job, every press):

- **Who may rate whom** (``in_chain``, ``refusal_for``): never oneself, never anyone in
  one's own supervisor chain, up (one's supervisor, theirs, ...) or down (one's reports,
  theirs, ...); only someone from another department, on staff and linked to Telegram;
  only a person on staff whose post type has indicators peers rate.
- **Who is asked**: HR assigns raters (``assign``); where ``[peers] drawn_raters`` is
  above 0 the bot also draws that many per person when the self-assessment opens
  (``draw``, ``draw_due``): work entries name no collaborators, so the rule draws from
  the departments other than the person's own, one department after another (so the
  raters come from as many departments as there are), in an order fixed by the period
  and the person (the same draw in every process and every run), once per period
  (claimed as ``peer-draw/<period>`` in ``job_claims``).
- **When** (``ratings_open``): from the self-assessment's opening through the supervisor
  review; the ratings close when calibration begins (on its day, or when HR starts it
  early). A press after that is refused. They count in scores only once closed, all at
  once (``peers_counted``): until then every score is as if no peer had rated, so no
  score moves as one peer rates, and none can be read back to one peer's rating.
- **Anonymity**: a peer's ratings are stored keyed by the request, without the rater's
  id (``storage.repositories.peers.rater_key``); the audit log records that a request
  was answered, not the answer. The score counts the peers of an indicator only from
  ``[peers] min_raters`` of them on, and never tells their number (``scoring.Scorer``).
  HR sees how many requests each person has and how many are answered, never which
  rater answered nor what.

Each rater gets one private request per person, through the outbox, with one row of
rating buttons per indicator; pressing one stores (or changes) that rating.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from assessment import periods
from assessment.batches import BATCH_SIZE, Window, run_in_batches
from assessment.outbox import ROUTINE, Outgoing, enqueue
from assessment.people import StaffMember
from assessment.periods import Period, Stage
from assessment.scoring import raters_for, rating_scale
from config.policy import Indicator, Policy
from storage.enums import StaffStatus
from storage.models import Staff
from storage.repositories.audit import Event
from storage.repositories.peers import RequestRow, RosterPerson
from storage.uow import UnitOfWork

__all__ = [
    "KEY",
    "KIND",
    "AssignOutcome",
    "Assigned",
    "PeerCard",
    "PeerRefusal",
    "Status",
    "assign",
    "card",
    "closes_after",
    "draw",
    "draw_due",
    "in_chain",
    "peer_indicators",
    "peers_counted",
    "rate",
    "rating_period",
    "ratings_open",
    "refusal_for",
    "status",
]

KEY = "peer-draw"
KIND = "peer_request"
# A supervisor chain longer than this is a loop in the roster: stop walking it.
_MAX_CHAIN = 100


class PeerRefusal(enum.Enum):
    """Why a peer request or rating was refused (nothing was written)."""

    NOT_YOURS = "not_yours"  # not the rater's request, or a forged press
    CLOSED = "closed"  # the period's peer ratings are closed
    CHAIN = "chain"  # the rater is the person, or in their own supervisor chain
    SAME_DEPARTMENT = "same_department"
    NOT_LINKED = "not_linked"
    LEFT = "left"
    NOT_FOUND = "not_found"
    NO_INDICATORS = "no_indicators"  # the person's post type has nothing peers rate
    ALREADY = "already"  # asked already


# --- the pure rules -----------------------------------------------------------------------


def _above(staff_id: int, supervisors: Mapping[int, int | None]) -> set[int]:
    chain: set[int] = set()
    current = supervisors.get(staff_id)
    while current is not None and current not in chain and len(chain) < _MAX_CHAIN:
        chain.add(current)
        current = supervisors.get(current)
    return chain


def in_chain(rater_id: int, person_id: int, supervisors: Mapping[int, int | None]) -> bool:
    """Whether ``rater_id`` is ``person_id`` or in their own supervisor chain, up or down:
    the one rule of who may never rate whom. ``supervisors`` maps each id to its
    supervisor's (``None``: none)."""
    return (
        rater_id == person_id
        or rater_id in _above(person_id, supervisors)
        or person_id in _above(rater_id, supervisors)
    )


def peer_indicators(policy: Policy, post_type: str | None) -> tuple[Indicator, ...]:
    """The indicators of ``post_type`` that peers rate (``scoring.raters_for``)."""
    if post_type is None or post_type not in policy.post_types:
        return ()
    return tuple(
        indicator
        for indicator in policy.indicators_for(post_type)
        if "peer" in raters_for(policy, post_type, indicator)
    )


def ratings_open(stage: Stage) -> bool:
    """Whether peers may rate (and change their ratings) in a period at this stage."""
    return stage in (Stage.SELF_ASSESSMENT, Stage.SUPERVISOR_REVIEW)


def peers_counted(stage: Stage) -> bool:
    """Whether a period's peer ratings count in its scores: once they are closed, from
    calibration on, all at once; while peers may still rate, every score is as if none
    had, so no score (the supervisor's card, HR's figures) moves as one peer rates."""
    return stage in (Stage.CALIBRATION, Stage.PUBLISHED)


def closes_after(period: Period, policy: Policy) -> date:
    """The last day of a period's peer ratings, unless HR starts calibration earlier."""
    return periods.milestones(period, policy).calibration_starts - timedelta(days=1)


def rating_period(today: date, policy: Policy) -> Period:
    """The period peers rate on ``today``: the latest whose self-assessment has opened."""
    current = periods.period_of(today, policy)
    if today >= periods.milestones(current, policy).self_opens:
        return current
    return current.previous()


def refusal_for(
    rater: RosterPerson | None,
    person: RosterPerson | None,
    supervisors: Mapping[int, int | None],
    policy: Policy,
) -> PeerRefusal | None:
    """None if ``rater`` may be asked to rate ``person`` (see the module), else why not.
    ``None`` for either: not on staff (unknown, or left)."""
    if rater is None or person is None:
        return PeerRefusal.LEFT
    if not peer_indicators(policy, person.post_type):
        return PeerRefusal.NO_INDICATORS
    if in_chain(rater.staff_id, person.staff_id, supervisors):
        return PeerRefusal.CHAIN
    if rater.department_id == person.department_id:
        return PeerRefusal.SAME_DEPARTMENT
    if not rater.linked:
        return PeerRefusal.NOT_LINKED
    return None


def _order(seed: str, *parts: int) -> bytes:
    return hashlib.sha256(":".join([seed, *map(str, parts)]).encode()).digest()


def draw(
    person: RosterPerson,
    roster: Sequence[RosterPerson],
    supervisors: Mapping[int, int | None],
    count: int,
    policy: Policy,
    *,
    seed: str,
    taken: Iterable[int] = (),
) -> list[int]:
    """Up to ``count`` raters for ``person`` from ``roster``: everyone ``refusal_for``
    admits and not in ``taken``, one department after another, in an order fixed by
    ``seed`` (the period's key) and the person."""
    skip = set(taken)
    by_department: dict[int, list[RosterPerson]] = {}
    for candidate in roster:
        if candidate.staff_id in skip:
            continue
        if refusal_for(candidate, person, supervisors, policy) is None:
            by_department.setdefault(candidate.department_id, []).append(candidate)
    queues = [
        sorted(people, key=lambda c: _order(seed, person.staff_id, c.staff_id))
        for _, people in sorted(
            by_department.items(), key=lambda item: _order(seed, person.staff_id, -item[0])
        )
    ]
    chosen: list[int] = []
    while len(chosen) < count and any(queues):
        for queue in queues:
            if queue and len(chosen) < count:
                chosen.append(queue.pop(0).staff_id)
    return chosen


# --- the rater's request -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PeerCard:
    """What a rater sees of one request: whom to rate, on what, and what they gave."""

    request: RequestRow
    period: Period
    indicators: tuple[Indicator, ...]
    given: Mapping[str, int]
    scale: range
    closes_after: date
    open: bool
    min_raters: int


Render = Callable[[PeerCard], tuple[str, dict[str, Any] | None]]


async def _card(
    uow: UnitOfWork, request: RequestRow, policy: Policy, today: date, zone: tzinfo
) -> PeerCard | None:
    period = periods.parse_key(request.period_key, policy)
    if period is None or period.key != request.period_key:
        return None
    stage = await periods.current_stage(uow, period, today, policy, zone)
    return PeerCard(
        request=request,
        period=period,
        indicators=peer_indicators(policy, request.person_post_type),
        given=await uow.peers.given(request),
        scale=rating_scale(policy),
        closes_after=closes_after(period, policy),
        open=ratings_open(stage),
        min_raters=policy.peers.min_raters,
    )


async def _request_of(uow: UnitOfWork, member: StaffMember, request_id: int) -> RequestRow | None:
    found = await uow.peers.requests([request_id])
    if not found or found[0].rater_id != member.id or not member.is_active:
        return None
    return found[0]


async def card(
    uow: UnitOfWork, member: StaffMember, request_id: int, policy: Policy, *,
    today: date, zone: tzinfo,
) -> PeerCard | PeerRefusal:  # fmt: skip
    """The rater's request card; refused unless it is ``member``'s own request."""
    request = await _request_of(uow, member, request_id)
    if request is None:
        return PeerRefusal.NOT_YOURS
    found = await _card(uow, request, policy, today, zone)
    return PeerRefusal.NOT_YOURS if found is None else found


async def rate(
    uow: UnitOfWork,
    member: StaffMember,
    request_id: int,
    indicator_id: str,
    value: int,
    policy: Policy,
    *,
    today: date,
    zone: tzinfo,
    now: datetime,
) -> PeerCard | PeerRefusal:
    """Give (or change) the rating of one indicator on ``member``'s own request, and
    commit; the card after it, or why nothing was saved (a closed period is told as
    ``CLOSED``, with the card still shown by the caller)."""
    request = await _request_of(uow, member, request_id)
    if request is None:
        return PeerRefusal.NOT_YOURS
    shown = await _card(uow, request, policy, today, zone)
    if shown is None:
        return PeerRefusal.NOT_YOURS
    if indicator_id not in {i.id for i in shown.indicators} or value not in shown.scale:
        return PeerRefusal.NOT_YOURS
    if not shown.open:
        return PeerRefusal.CLOSED
    if request.person_status is StaffStatus.LEFT:
        return PeerRefusal.LEFT
    # The roster may have changed since the request: the chain is checked on every press.
    if in_chain(member.id, request.staff_id, await uow.peers.supervisors()):
        return PeerRefusal.CHAIN
    await uow.peers.rate(request, indicator_id, value, now=now)
    given = {**shown.given, indicator_id: value}
    events = [
        Event(
            "peer.rated",
            "peer_request",
            request.id,
            at=now,
            actor_staff_id=member.id,
            actor_telegram_id=member.telegram_user_id,
            # Which indicator, never the value: the log must not name a peer's answer.
            details={"indicator": indicator_id, "changed": indicator_id in shown.given},
        )
    ]
    complete = all(i.id in given for i in shown.indicators) and request.answered_at is None
    if complete and await uow.peers.mark_answered(request.id, now=now):
        events.append(
            Event(
                "peer.answered",
                "peer_request",
                request.id,
                at=now,
                actor_staff_id=member.id,
                actor_telegram_id=member.telegram_user_id,
            )
        )
    await uow.audit.add_many(events)
    await uow.commit()
    return PeerCard(
        request, shown.period, shown.indicators, given, shown.scale, shown.closes_after,
        shown.open, shown.min_raters,
    )  # fmt: skip


# --- asking peers: HR, and the rule -------------------------------------------------------


async def _queue_requests(
    uow: UnitOfWork, request_ids: list[int], policy: Policy, render: Render, *, now: datetime
) -> int:
    """Queue each new request's message to its rater (no commit). Requests are made only
    while the ratings are open, and nothing is rated on a new one yet."""
    messages = []
    for request in await uow.peers.requests(request_ids):
        period = periods.parse_key(request.period_key, policy)
        if request.rater_chat is None or period is None:
            continue
        shown = PeerCard(
            request=request,
            period=period,
            indicators=peer_indicators(policy, request.person_post_type),
            given={},
            scale=rating_scale(policy),
            closes_after=closes_after(period, policy),
            open=True,
            min_raters=policy.peers.min_raters,
        )
        text, markup = render(shown)
        messages.append(
            Outgoing(
                chat_id=request.rater_chat,
                kind=KIND,
                text=text,
                parse_mode="HTML",
                markup=markup,
                staff_id=request.rater_id,
                dedup_key=f"peer-request/{request.id}",
                priority=ROUTINE,
            )
        )
    return await enqueue(uow, messages, now=now)


def _roster_person(staff: Staff | None, roster: Mapping[int, RosterPerson]) -> RosterPerson | None:
    return None if staff is None else roster.get(staff.id)


@dataclass(frozen=True, slots=True)
class AssignOutcome:
    """One rater HR named, and what came of it (``refusal`` None: asked now)."""

    employee_no: str
    name: str | None
    refusal: PeerRefusal | None


@dataclass(frozen=True, slots=True)
class Assigned:
    """HR's assignment: the period, the person, and each rater's outcome."""

    period: Period
    person_name: str
    outcomes: tuple[AssignOutcome, ...]


async def _open_period(
    uow: UnitOfWork, policy: Policy, today: date, zone: tzinfo
) -> tuple[Period, Stage]:
    period = rating_period(today, policy)
    return period, await periods.current_stage(uow, period, today, policy, zone)


async def assign(
    uow: UnitOfWork,
    hr: StaffMember,
    person_no: str,
    rater_nos: Sequence[str],
    policy: Policy,
    render: Render,
    *,
    today: date,
    zone: tzinfo,
    now: datetime,
) -> Assigned | PeerRefusal:
    """HR asks the peers ``rater_nos`` (employee numbers) to rate ``person_no`` in the
    period peers rate now, and commits; each rater's outcome, or why none was asked
    (``CLOSED``: that period's ratings are closed; ``NOT_FOUND``/``LEFT``/
    ``NO_INDICATORS``: the person)."""
    period, stage = await _open_period(uow, policy, today, zone)
    if not ratings_open(stage):
        return PeerRefusal.CLOSED
    people = {s.employee_no: s for s in await uow.staff.by_employee_nos([person_no, *rater_nos])}
    person_staff = people.get(person_no)
    if person_staff is None:
        return PeerRefusal.NOT_FOUND
    roster = {row.staff_id: row for row in await uow.peers.roster()}
    person = _roster_person(person_staff, roster)
    if person is None:
        return PeerRefusal.LEFT
    if not peer_indicators(policy, person.post_type):
        return PeerRefusal.NO_INDICATORS
    supervisors = await uow.peers.supervisors()
    period_id = await periods.ensure_period(uow, period, now=now)
    outcomes = []
    new: list[int] = []
    events = []
    for number in dict.fromkeys(rater_nos):
        staff = people.get(number)
        if staff is None:
            outcomes.append(AssignOutcome(number, None, PeerRefusal.NOT_FOUND))
            continue
        refusal = refusal_for(_roster_person(staff, roster), person, supervisors, policy)
        if refusal is None:
            request_id = await uow.peers.assign(
                period_id, person.staff_id, staff.id, by_id=hr.id, now=now
            )
            if request_id is None:
                refusal = PeerRefusal.ALREADY
            else:
                new.append(request_id)
                events.append(
                    Event(
                        "peer.assigned",
                        "peer_request",
                        request_id,
                        at=now,
                        actor_staff_id=hr.id,
                        actor_telegram_id=hr.telegram_user_id,
                        details={
                            "period": period.key,
                            "staff_id": person.staff_id,
                            "rater_id": staff.id,
                        },
                    )
                )
        outcomes.append(AssignOutcome(number, staff.name, refusal))
    await uow.audit.add_many(events)
    await _queue_requests(uow, new, policy, render, now=now)
    await uow.commit()
    return Assigned(period, person_staff.name, tuple(outcomes))


async def draw_due(
    uows: Callable[[], UnitOfWork],
    policy: Policy,
    zone: tzinfo,
    render: Render,
    *,
    now: datetime,
    batch_size: int = BATCH_SIZE,
) -> int | None:
    """The rule's draw (``[peers] drawn_raters``) of the period whose self-assessment is
    open at ``now``, done once per period: the requests queued by this run, or None if
    nothing is due (no rule, not the self-assessment, or drawn before)."""
    count = policy.peers.drawn_raters
    today = now.astimezone(zone).date()
    if not count:
        return None
    async with uows() as uow:
        period, stage = await _open_period(uow, policy, today, zone)
        key = f"{KEY}/{period.key}"
        if stage is not Stage.SELF_ASSESSMENT or await uow.claims.claimed(key):
            return None
        roster = await uow.peers.roster()
        supervisors = await uow.peers.supervisors()
    async with uows() as uow:
        period_id = await periods.ensure_period(uow, period, now=now)
        await uow.commit()
    async with uows() as uow:
        taken: dict[int, set[int]] = {}
        for staff_id, rater_id in await uow.peers.assigned(period_id):
            taken.setdefault(staff_id, set()).add(rater_id)

    async def prepare(uow: UnitOfWork, window: Window) -> list[tuple[int, int]] | None:
        pairs: list[tuple[int, int]] = []
        for person in roster:
            if not window.after < person.staff_id <= window.through:
                continue
            asked = taken.get(person.staff_id, set())
            if not peer_indicators(policy, person.post_type) or len(asked) >= count:
                continue
            drawn = draw(
                person, roster, supervisors, count - len(asked), policy,
                seed=period.key, taken=asked,
            )  # fmt: skip
            pairs.extend((person.staff_id, rater_id) for rater_id in drawn)
        return pairs or None

    async def write(uow: UnitOfWork, window: Window, pairs: list[tuple[int, int]]) -> int:
        new = []
        for staff_id, rater_id in pairs:
            request_id = await uow.peers.assign(period_id, staff_id, rater_id, by_id=None, now=now)
            if request_id is not None:
                new.append(request_id)
        await uow.audit.add_many(
            [
                Event(
                    "peer.drawn",
                    "peer_request",
                    request_id,
                    at=now,
                    details={"period": period.key, "rule": "drawn_raters"},
                )
                for request_id in new
            ]
        )
        return await _queue_requests(uow, new, policy, render, now=now)

    return await run_in_batches(uows, key, prepare, write, now=now, size=batch_size)


# --- what HR sees ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Status:
    """The period peers rate now, whether open, and per person how many requests are
    answered (never which rater answered, nor what)."""

    period: Period
    open: bool
    closes_after: date
    rows: tuple[tuple[str, str, int, int], ...]  # name, employee no, assigned, answered


async def status(uow: UnitOfWork, policy: Policy, *, today: date, zone: tzinfo) -> Status:
    """HR's view of the peer requests of the period peers rate now."""
    period, stage = await _open_period(uow, policy, today, zone)
    stored = await uow.periods.by_key(period.key)
    rows = [] if stored is None else await uow.peers.completion(stored.id)
    return Status(
        period,
        ratings_open(stage),
        closes_after(period, policy),
        tuple((row.name, row.employee_no, row.assigned, row.answered) for row in rows),
    )
