"""Third-party evaluators (第三方评估): outsiders HR invites to rate some departments' people.

Rules, one each, used by every command and press:

- **The link**: HR drafts an evaluator (a name, an organisation, a period), picks the
  departments, then issues a one-time link ``https://t.me/<bot>?start=t_<code>``. The
  code is random (240 bits, 40 characters), only its SHA-256 is stored, and it expires
  after ``[invites] ttl_days``. Its payload is 42 characters: never the 32 of a staff
  invitation, so ``/start`` tells the two apart by shape.
- **The binding**: the first Telegram account to open the link in time is bound to the
  evaluator, for that period and those departments, and no other account ever can be
  (a second account is refused, and the attempt counts against it like a wrong
  invitation code). A staff member's account is refused: a colleague is not a third
  party. The bound account may open the link again to come back to its list.
- **What they see**: the people of their departments still on staff who hold a post
  (names and posts only), and only the indicators the policy gives third parties
  (``rated_indicators``: qualitative ones, where the post type's ``third_party`` weight
  is above 0). Nothing else: every press is checked against the binding afresh
  (``evaluation_for``), and a stranger may use no command but ``/start`` and ``/help``.
- **When**: ratings are accepted from the period's self-assessment (the month's work is
  done) until it is published, as the supervisor's are; before, the evaluator is told
  when they open; after, or once HR revoked the evaluator, they are refused.
- **Revocation**: HR may revoke an evaluator at any time; before publication their
  ratings of the period are withdrawn with them (a revoked link was given to the wrong
  person, or the evaluation is void), after it they stay: a published result changes
  only through an appeal.

Ratings are ``Rating`` rows of kind ``third_party`` keyed ``tp:<evaluator id>``; the
score counts them with the ``third_party`` weight, renormalised over the kinds present.
"""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from assessment import periods
from assessment.invitations import FAILURE_WINDOW, deep_link
from assessment.periods import Period, Stage
from assessment.scoring import raters_for, rating_scale
from config.policy import Indicator, Policy
from storage.models import ThirdPartyEvaluator
from storage.repositories.audit import Event
from storage.repositories.third_parties import RatedPerson
from storage.uow import UnitOfWork

__all__ = [
    "PAYLOAD_LENGTH",
    "PAYLOAD_PREFIX",
    "Evaluation",
    "EvaluatorStatus",
    "InviteError",
    "IssuedLink",
    "OpenOutcome",
    "OpenResult",
    "Refusal",
    "ToRate",
    "draft",
    "evaluation_for",
    "is_payload",
    "issue",
    "link",
    "may_rate",
    "one_to_rate",
    "open_link",
    "overview",
    "parse_who",
    "people_to_rate",
    "rate",
    "rated_indicators",
    "rater_key",
    "ratings_window",
    "revoke",
    "toggle_department",
]

PAYLOAD_PREFIX = "t_"
CODE_BYTES = 30
# 30 random bytes are 40 URL-safe characters: with the prefix, 42 (an invitation has 32).
PAYLOAD_LENGTH = len(PAYLOAD_PREFIX) + 40
MAX_NAME = 200
_CODE = re.compile(r"[A-Za-z0-9_-]{40}")
# "Name / Organisation": the first slash (ASCII or full-width) separates them.
_SEPARATOR = re.compile(r"[/／]")
_OPEN_STAGES = (Stage.SELF_ASSESSMENT, Stage.SUPERVISOR_REVIEW, Stage.CALIBRATION)


def rater_key(evaluator_id: int) -> str:
    """The ``ratings.rater_key`` of an evaluator's ratings."""
    return f"tp:{evaluator_id}"


def hash_code(code: str) -> str:
    """The stored form of a code."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def is_payload(text: str) -> bool:
    """Whether a ``/start`` payload has the shape of an evaluator's link (never an
    invitation's: those are 32 characters)."""
    return (
        len(text) == PAYLOAD_LENGTH
        and text.startswith(PAYLOAD_PREFIX)
        and _CODE.fullmatch(text[len(PAYLOAD_PREFIX) :]) is not None
    )


def link(bot_username: str, code: str) -> str:
    """The ``t.me`` link an evaluator opens."""
    return deep_link(bot_username, PAYLOAD_PREFIX + code)


# --- the pure rules ---------------------------------------------------------------------


def rated_indicators(policy: Policy, post_type: str) -> tuple[Indicator, ...]:
    """The indicators of a post type third parties rate (none for a post type the policy
    does not know)."""
    if post_type not in policy.post_types:
        return ()
    return tuple(
        indicator
        for indicator in policy.indicators_for(post_type)
        if "third_party" in raters_for(policy, post_type, indicator)
    )


def may_rate(
    policy: Policy,
    scope: Collection[int],
    department_id: int,
    post_type: str,
    indicator_id: str,
) -> bool:
    """Whether an evaluator of departments ``scope`` may rate this indicator of a person of
    ``department_id`` holding a post of ``post_type``."""
    return department_id in scope and any(
        indicator.id == indicator_id for indicator in rated_indicators(policy, post_type)
    )


def ratings_window(stage: Stage) -> Refusal | None:
    """None while third parties may rate a period in ``stage``, otherwise why not."""
    if stage is Stage.OPEN:
        return Refusal.NOT_YET
    if stage not in _OPEN_STAGES:
        return Refusal.CLOSED
    return None


def parse_who(text: str) -> tuple[str, str] | None:
    """``Name / Organisation`` (the organisation optional) as they are kept; None if the
    name is empty or either part longer than ``MAX_NAME``."""
    parts = _SEPARATOR.split(text, maxsplit=1)
    name = " ".join(parts[0].split())
    organisation = " ".join(parts[1].split()) if len(parts) > 1 else ""
    if not name or len(name) > MAX_NAME or len(organisation) > MAX_NAME:
        return None
    return name, organisation


# --- HR: draft, scope, issue, revoke, overview -------------------------------------------


class InviteError(enum.Enum):
    """Why HR's step on an evaluator was refused (nothing was written)."""

    BAD_PERIOD = "bad_period"
    PUBLISHED = "published"
    BAD_NAME = "bad_name"
    UNKNOWN = "unknown"  # no such evaluator, or no such department
    ISSUED = "issued"  # the link exists already: the departments are fixed
    REVOKED = "revoked"
    NO_DEPARTMENTS = "no_departments"


@dataclass(frozen=True, slots=True)
class IssuedLink:
    """A link just issued; the only moment the plain code exists."""

    evaluator_id: int
    name: str
    organisation: str
    code: str
    expires_at: datetime


async def _stage(
    uow: UnitOfWork, period_id: int, today: date, policy: Policy, zone: tzinfo
) -> tuple[Period, Stage] | None:
    stored = await uow.periods.by_id(period_id)
    if stored is None:
        return None
    period = periods.parse_key(stored.key, policy)
    if period is None:
        return None
    return period, periods.stored_stage(period, stored, today, policy, zone)


async def draft(
    uow: UnitOfWork,
    period: Period,
    who: str,
    *,
    actor_staff_id: int,
    now: datetime,
    today: date,
    policy: Policy,
    zone: tzinfo,
) -> ThirdPartyEvaluator | InviteError:
    """Draft an evaluator of ``period`` (``who``: ``Name / Organisation``) and commit."""
    parsed = parse_who(who)
    if parsed is None:
        return InviteError.BAD_NAME
    if await periods.current_stage(uow, period, today, policy, zone) is Stage.PUBLISHED:
        return InviteError.PUBLISHED
    period_id = await periods.ensure_period(uow, period, now=now)
    evaluator = await uow.third_parties.add(
        period_id, parsed[0], parsed[1], by_id=actor_staff_id, now=now
    )
    await uow.audit.add(
        Event(
            "third_party.drafted",
            "third_party",
            evaluator.id,
            at=now,
            actor_staff_id=actor_staff_id,
            details={"period": period.key, "name": parsed[0], "organisation": parsed[1]},
        )
    )
    await uow.commit()
    return evaluator


async def _draft_of(uow: UnitOfWork, evaluator_id: int) -> ThirdPartyEvaluator | InviteError:
    # Locked: a department chosen while the link is issued either makes it or waits.
    evaluator = await uow.third_parties.get(evaluator_id, lock=True)
    if evaluator is None:
        return InviteError.UNKNOWN
    if evaluator.revoked_at is not None:
        return InviteError.REVOKED
    if evaluator.code_hash is not None:
        return InviteError.ISSUED
    return evaluator


async def toggle_department(
    uow: UnitOfWork, evaluator_id: int, department_id: int
) -> list[int] | InviteError:
    """Add a department to a drafted evaluator's scope or take it out, and commit; the
    scope as it is now. The scope is fixed once the link is issued."""
    found = await _draft_of(uow, evaluator_id)
    if isinstance(found, InviteError):
        return found
    if department_id not in dict(await uow.directory.departments()):
        return InviteError.UNKNOWN
    await uow.third_parties.toggle_department(evaluator_id, department_id)
    scope = await uow.third_parties.department_ids(evaluator_id)
    await uow.commit()
    return scope


async def issue(
    uow: UnitOfWork, evaluator_id: int, *, actor_staff_id: int, ttl: timedelta, now: datetime
) -> IssuedLink | InviteError:
    """Issue a drafted evaluator's one-time link, once, and commit."""
    found = await _draft_of(uow, evaluator_id)
    if isinstance(found, InviteError):
        return found
    scope = await uow.third_parties.department_ids(evaluator_id)
    if not scope:
        return InviteError.NO_DEPARTMENTS
    code = secrets.token_urlsafe(CODE_BYTES)
    expires_at = now + ttl
    if not await uow.third_parties.issue(
        evaluator_id, hash_code(code), now=now, expires_at=expires_at
    ):
        return InviteError.ISSUED
    await uow.audit.add(
        Event(
            "third_party.invited",
            "third_party",
            evaluator_id,
            at=now,
            actor_staff_id=actor_staff_id,
            details={"departments": scope, "expires_at": expires_at.isoformat()},
        )
    )
    await uow.commit()
    return IssuedLink(evaluator_id, found.name, found.organisation, code, expires_at)


async def revoke(
    uow: UnitOfWork,
    evaluator_id: int,
    *,
    actor_staff_id: int,
    now: datetime,
    today: date,
    policy: Policy,
    zone: tzinfo,
) -> int | InviteError:
    """Revoke an evaluator and commit: how many of their ratings were withdrawn (none
    once the period is published: those stand, as published)."""
    evaluator = await uow.third_parties.get(evaluator_id)
    if evaluator is None:
        return InviteError.UNKNOWN
    if not await uow.third_parties.revoke(evaluator_id, by_id=actor_staff_id, now=now):
        return InviteError.REVOKED
    found = await _stage(uow, evaluator.period_id, today, policy, zone)
    withdrawn = 0
    if found is not None and found[1] is not Stage.PUBLISHED:
        withdrawn = await uow.third_parties.withdraw_ratings(
            evaluator.period_id, rater_key(evaluator_id)
        )
    await uow.audit.add(
        Event(
            "third_party.revoked",
            "third_party",
            evaluator_id,
            at=now,
            actor_staff_id=actor_staff_id,
            details={
                "telegram_user_id": evaluator.telegram_user_id,
                "ratings_withdrawn": withdrawn,
            },
        )
    )
    await uow.commit()
    return withdrawn


class State(enum.StrEnum):
    """Where an evaluator stands, as HR sees it."""

    DRAFT = "draft"
    INVITED = "invited"  # link issued, not opened yet
    EXPIRED = "expired"  # link issued, never opened, expired
    BOUND = "bound"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class EvaluatorStatus:
    """An evaluator in HR's list: who, which departments, where they stand, completion."""

    evaluator_id: int
    name: str
    organisation: str
    departments: tuple[str, ...]
    state: State
    rated: int
    people: int


def _state(evaluator: ThirdPartyEvaluator, now: datetime) -> State:
    if evaluator.revoked_at is not None:
        return State.REVOKED
    if evaluator.telegram_user_id is not None:
        return State.BOUND
    if evaluator.code_hash is None or evaluator.expires_at is None:
        return State.DRAFT
    return State.EXPIRED if evaluator.expires_at <= now else State.INVITED


async def overview(
    uow: UnitOfWork, period: Period, policy: Policy, *, now: datetime
) -> list[EvaluatorStatus]:
    """A period's evaluators with their completion: people rated of those they may rate
    (never what they gave)."""
    stored = await uow.periods.by_key(period.key)
    if stored is None:
        return []
    evaluators = await uow.third_parties.of_period(stored.id)
    rated = await uow.third_parties.rated_people(
        stored.id, [rater_key(evaluator.id) for evaluator in evaluators]
    )
    names = dict(await uow.directory.departments())
    result = []
    for evaluator in evaluators:
        scope = await uow.third_parties.department_ids(evaluator.id)
        people = [
            person
            for person in await uow.third_parties.people(scope)
            if rated_indicators(policy, person.post_type)
        ]
        result.append(
            EvaluatorStatus(
                evaluator.id,
                evaluator.name,
                evaluator.organisation,
                tuple(names.get(department, "?") for department in scope),
                _state(evaluator, now),
                rated.get(rater_key(evaluator.id), 0),
                len(people),
            )
        )
    return result


# --- the evaluator: open the link, see whom to rate, rate --------------------------------


class Refusal(enum.Enum):
    """Why an evaluator's press was refused (nothing was written)."""

    NOT_YOURS = "not_yours"  # not bound to this account, or a forged press
    REVOKED = "revoked"
    NOT_YET = "not_yet"
    CLOSED = "closed"
    NOT_RATED = "not_rated"  # a person or indicator outside the evaluator's part: forged


class OpenOutcome(enum.StrEnum):
    """How opening an evaluator's link ended."""

    BOUND = "bound"
    AGAIN = "again"  # the account bound before opened it again
    INVALID = "invalid"
    EXPIRED = "expired"
    TAKEN = "taken"  # another account is bound
    REVOKED = "revoked"
    CLOSED = "closed"  # the period is published: nothing to rate any more
    STAFF_ACCOUNT = "staff_account"
    TOO_MANY_ATTEMPTS = "too_many_attempts"


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A bound evaluator, checked just now: who, which period (and its stage), which
    departments."""

    evaluator_id: int
    name: str
    organisation: str
    period_id: int
    period: Period
    stage: Stage
    scope: tuple[int, ...]

    @property
    def rater_key(self) -> str:
        """The key of their ratings."""
        return rater_key(self.evaluator_id)


@dataclass(frozen=True, slots=True)
class OpenResult:
    """The outcome, the evaluation when bound, and when a locked-out account may retry."""

    outcome: OpenOutcome
    evaluation: Evaluation | None = None
    retry_at: datetime | None = None


async def _evaluation(
    uow: UnitOfWork,
    evaluator: ThirdPartyEvaluator,
    today: date,
    policy: Policy,
    zone: tzinfo,
) -> Evaluation | None:
    found = await _stage(uow, evaluator.period_id, today, policy, zone)
    if found is None:
        return None
    period, stage = found
    scope = tuple(await uow.third_parties.department_ids(evaluator.id))
    return Evaluation(
        evaluator.id,
        evaluator.name,
        evaluator.organisation,
        evaluator.period_id,
        period,
        stage,
        scope,
    )


async def _failed(
    uow: UnitOfWork, telegram_user_id: int, outcome: OpenOutcome, now: datetime
) -> OpenResult:
    await uow.invitations.record_failure(telegram_user_id, now)
    await uow.audit.add(
        Event(
            "third_party.open_failed",
            "telegram_user",
            telegram_user_id,
            at=now,
            actor_telegram_id=telegram_user_id,
            details={"outcome": outcome.value},
        )
    )
    await uow.commit()
    return OpenResult(outcome)


async def open_link(
    uow: UnitOfWork,
    code: str,
    telegram_user_id: int,
    *,
    now: datetime,
    today: date,
    policy: Policy,
    zone: tzinfo,
) -> OpenResult:
    """Bind ``telegram_user_id`` to the evaluator whose link this is (``code``: the
    payload without its prefix), once; or let the account bound before back in.

    Failures count against the account as wrong invitation codes do (the same
    ``[invites] max_failed_attempts_per_hour``): guessing links is no easier than
    guessing invitations.
    """
    since = now - FAILURE_WINDOW
    max_failures = policy.invites.max_failed_attempts_per_hour
    if await uow.invitations.failures_since(telegram_user_id, since) >= max_failures:
        first = await uow.invitations.oldest_failure_since(telegram_user_id, since)
        return OpenResult(OpenOutcome.TOO_MANY_ATTEMPTS, retry_at=(first or now) + FAILURE_WINDOW)
    evaluator = await uow.third_parties.by_hash(hash_code(code)) if _CODE.fullmatch(code) else None
    if evaluator is None:
        return await _failed(uow, telegram_user_id, OpenOutcome.INVALID, now)
    if evaluator.revoked_at is not None:
        return OpenResult(OpenOutcome.REVOKED)
    if evaluator.telegram_user_id is not None and evaluator.telegram_user_id != telegram_user_id:
        return await _failed(uow, telegram_user_id, OpenOutcome.TAKEN, now)
    if await uow.staff.by_telegram_id(telegram_user_id) is not None:
        return OpenResult(OpenOutcome.STAFF_ACCOUNT)
    evaluation = await _evaluation(uow, evaluator, today, policy, zone)
    if evaluation is None or evaluation.stage is Stage.PUBLISHED:
        return OpenResult(OpenOutcome.CLOSED)
    if evaluator.telegram_user_id == telegram_user_id:
        return OpenResult(OpenOutcome.AGAIN, evaluation)
    if evaluator.expires_at is None or evaluator.expires_at <= now:
        return OpenResult(OpenOutcome.EXPIRED)
    if not await uow.third_parties.bind(evaluator.id, telegram_user_id, now):
        # Another account was bound a moment ago.
        return await _failed(uow, telegram_user_id, OpenOutcome.TAKEN, now)
    await uow.audit.add(
        Event(
            "third_party.bound",
            "third_party",
            evaluator.id,
            at=now,
            actor_telegram_id=telegram_user_id,
            details={"telegram_user_id": telegram_user_id},
        )
    )
    await uow.commit()
    return OpenResult(OpenOutcome.BOUND, evaluation)


async def evaluation_for(
    uow: UnitOfWork,
    evaluator_id: int,
    telegram_user_id: int,
    *,
    today: date,
    policy: Policy,
    zone: tzinfo,
    lock: bool = False,
) -> Evaluation | Refusal:
    """The evaluator behind a press, checked afresh against the binding: bound to this
    very account, not revoked, the account not a staff member's, the period stored.
    ``lock``: before a write, hold the evaluator's row (a revocation waits for it)."""
    evaluator = await uow.third_parties.get(evaluator_id, lock=lock)
    if evaluator is None or evaluator.telegram_user_id != telegram_user_id:
        return Refusal.NOT_YOURS
    if evaluator.revoked_at is not None:
        return Refusal.REVOKED
    if await uow.staff.by_telegram_id(telegram_user_id) is not None:
        # Linked to a staff record since: a colleague is not a third party.
        return Refusal.NOT_YOURS
    evaluation = await _evaluation(uow, evaluator, today, policy, zone)
    if evaluation is None:
        return Refusal.NOT_YOURS
    return evaluation


@dataclass(frozen=True, slots=True)
class ToRate:
    """A person an evaluator rates: name and post, the indicators, their ratings so far."""

    person: RatedPerson
    indicators: tuple[Indicator, ...]
    ratings: dict[str, int]

    @property
    def done(self) -> bool:
        """Every indicator rated."""
        return all(indicator.id in self.ratings for indicator in self.indicators)


async def people_to_rate(uow: UnitOfWork, evaluation: Evaluation, policy: Policy) -> list[ToRate]:
    """The people of the evaluator's departments they have something to rate on."""
    given = await uow.third_parties.ratings(evaluation.period_id, evaluation.rater_key)
    result = []
    for person in await uow.third_parties.people(evaluation.scope):
        indicators = rated_indicators(policy, person.post_type)
        if indicators:
            ratings = {
                indicator.id: given[(person.staff_id, indicator.id)]
                for indicator in indicators
                if (person.staff_id, indicator.id) in given
            }
            result.append(ToRate(person, indicators, ratings))
    return result


async def one_to_rate(
    uow: UnitOfWork, evaluation: Evaluation, policy: Policy, staff_id: int
) -> ToRate | Refusal:
    """One person of the evaluator's departments, or NOT_RATED if they are not theirs."""
    for item in await people_to_rate(uow, evaluation, policy):
        if item.person.staff_id == staff_id:
            return item
    return Refusal.NOT_RATED


async def rate(
    uow: UnitOfWork,
    evaluator_id: int,
    telegram_user_id: int,
    staff_id: int,
    indicator_id: str,
    value: int,
    *,
    now: datetime,
    today: date,
    policy: Policy,
    zone: tzinfo,
) -> tuple[Evaluation, ToRate] | Refusal:
    """Give or change one rating, everything checked afresh, and commit: the evaluation
    and the person as they stand now."""
    evaluation = await evaluation_for(
        uow, evaluator_id, telegram_user_id, today=today, policy=policy, zone=zone, lock=True
    )
    if isinstance(evaluation, Refusal):
        return evaluation
    window = ratings_window(evaluation.stage)
    if window is not None:
        return window
    if value not in rating_scale(policy):
        return Refusal.NOT_RATED
    item = await one_to_rate(uow, evaluation, policy, staff_id)
    if isinstance(item, Refusal):
        return item
    if all(indicator.id != indicator_id for indicator in item.indicators):
        return Refusal.NOT_RATED
    await uow.third_parties.rate(
        evaluation.period_id, staff_id, indicator_id, evaluation.rater_key, value=value, now=now
    )
    await uow.audit.add(
        Event(
            "third_party.rated",
            "staff",
            staff_id,
            at=now,
            actor_telegram_id=telegram_user_id,
            details={
                "evaluator_id": evaluator_id,
                "period": evaluation.period.key,
                "indicator_id": indicator_id,
                "value": value,
                "before": item.ratings.get(indicator_id),
            },
        )
    )
    await uow.commit()
    return evaluation, ToRate(item.person, item.indicators, {**item.ratings, indicator_id: value})
