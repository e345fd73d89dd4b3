"""The assessment policy: grades, quotas, weights, coefficients, windows and calendars.

An organisation states its policy in a TOML file (``WORKLEDGER_POLICY``, else the bundled
``policies/default.toml``); no number in here is policy, only the shape and the rules that
keep a policy coherent. Numbers are ``Decimal`` end to end: TOML floats are parsed straight
into ``Decimal`` so a coefficient of ``1.15`` is exactly 1.15.

Typical use::

    policy = load_policy(settings.policy)
    grade = policy.grade_for(Decimal("87.5"))
"""

from __future__ import annotations

import copyreg
import io
import pickle
import re
import tomllib
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal, InvalidOperation
from itertools import pairwise
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal, Protocol, TypeVar

from babel import Locale
from babel.numbers import list_currencies
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    Strict,
    ValidationError,
    WrapSerializer,
    field_validator,
    model_validator,
)

from config.clock import parse_time_of_day
from config.policy_errors import (
    KeyPath,
    PolicyError,
    PolicyIssue,
    PolicyRuleError,
    describe,
    format_key_path,
    issues_from_validation_error,
    show,
)
from config.settings import SUPPORTED_LANGUAGES

__all__ = [
    "DEFAULT_POLICY_PATH",
    "QUARTERLY_POLICY_PATH",
    "RATERS",
    "Allowance",
    "AnnualGrade",
    "AnnualRule",
    "AppealWindows",
    "ApprovalDeadlines",
    "AssessmentCycle",
    "BonusMode",
    "BonusRule",
    "BroadcastLimits",
    "CalendarAdjustments",
    "DifficultyBounds",
    "EntryLimits",
    "Grade",
    "Honour",
    "Indicator",
    "InviteLimits",
    "LocalizedText",
    "MonthlyCheckSchedule",
    "PeerRatings",
    "Policy",
    "PolicyError",
    "PolicyIssue",
    "PostType",
    "Promotion",
    "Rater",
    "RaterWeights",
    "ReminderTimes",
    "TopGradeQuota",
    "Training",
    "load_policy",
]

POLICIES_DIR = Path(__file__).parent / "policies"
DEFAULT_POLICY_PATH = POLICIES_DIR / "default.toml"
QUARTERLY_POLICY_PATH = POLICIES_DIR / "quarterly.toml"

Rater = Literal["supervisor", "self", "peer", "service_recipient", "third_party"]
RATERS: tuple[Rater, ...] = ("supervisor", "self", "peer", "service_recipient", "third_party")

RoundingMode = Literal["half_up", "half_even", "down", "up"]
_DECIMAL_ROUNDING: Mapping[RoundingMode, str] = {
    "half_up": ROUND_HALF_UP,
    "half_even": ROUND_HALF_EVEN,
    "down": ROUND_DOWN,
    "up": ROUND_UP,
}

# Ids travel in callback data, which Telegram caps at 64 bytes; 32 leaves room for the rest.
_ID = re.compile(r"[a-z][a-z0-9_]{0,31}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_REGION = re.compile(r"[A-Z]{2}")
# Rounding steps from whole units down to millionths; coarser steps would print as 1E+1.
_FINEST_STEP_EXPONENT = -6
# Telegram refuses longer text messages, so a longer entry could never be typed in the bot.
TELEGRAM_TEXT_LIMIT = 4096
# The Bot API hands bots files of at most 20 MB (getFile); larger ones could not be stored.
TELEGRAM_DOWNLOAD_LIMIT_MB = 20
# Each entry counts the author's entries of the day (an index range of at most this many),
# and nobody writes a thousand entries of real work in a day.
MAX_ENTRIES_PER_DAY = 1000
# Each rating is a button showing its number; more than ten no longer fit a chat keyboard
# and no longer mean anything to the person rating.
MAX_RATING = 10
# Peers asked to rate one person: beyond this it is a survey, not a peer review.
MAX_PEER_RATERS = 20

K = TypeVar("K")
V = TypeVar("V")


def _exact_number(value: object) -> Decimal:
    """Accept TOML integers and floats (parsed as ``Decimal``), nothing that merely looks numeric.

    Strings are refused so ``"0.2"`` is not silently taken for a number; Python floats are
    refused because they would already have lost exactness.
    """
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ValueError(f"must be a number (got {describe(value)})")
    number = Decimal(value)
    if not number.is_finite():
        raise ValueError(f"must be a finite number (got {value})")
    return number


def _identifier(value: str) -> str:
    if not _ID.fullmatch(value):
        raise ValueError(
            "must be an id of at most 32 lowercase letters, digits and underscores, "
            f"starting with a letter (got {show(value)})"
        )
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _clock_time(value: object) -> time:
    # A bare TOML time (17:30:00) is as clear as "17:30"; a time zone is the environment's.
    if isinstance(value, time) and value.tzinfo is None:
        return value
    parsed = parse_time_of_day(value) if isinstance(value, str) else None
    if parsed is None:
        raise ValueError(f'must be a time of day "HH:MM", e.g. "17:30" (got {describe(value)})')
    return parsed


def _calendar_date(value: object) -> date:
    # A date-time is a date subclass in Python but means something else in a calendar.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    raise ValueError(
        f"must be a date written without quotes, e.g. 2026-10-01 (got {describe(value)})"
    )


def _rounding_step(value: object) -> Decimal:
    """Accept a power of ten such as ``"0.01"`` (string or number), normalised to that step."""
    step: Decimal | None = None
    if isinstance(value, str):
        try:
            step = Decimal(value)
        except InvalidOperation:
            step = None
    elif isinstance(value, int | Decimal) and not isinstance(value, bool):
        step = Decimal(value)
    if (
        step is None
        or not step.is_finite()
        or step <= 0
        or not _FINEST_STEP_EXPONENT <= step.adjusted() <= 0
        or step != Decimal(1).scaleb(step.adjusted())
    ):
        raise ValueError(
            'must be a rounding step from "1" to "0.000001", such as "0.01" '
            f"(got {describe(value)})"
        )
    # "0.010" and "0.01" are the same step; normalising keeps results at two places.
    return Decimal(1).scaleb(step.adjusted())


def _day_of_month(value: int) -> int:
    if not 1 <= value <= 28:
        raise ValueError(
            f"must be a day from 1 to 28, as later days do not exist in every month (got {value})"
        )
    return value


def _currency(value: str) -> str:
    if not _CURRENCY.fullmatch(value) or value not in list_currencies():
        raise ValueError(f'must be an ISO 4217 currency code such as "CNY" (got {show(value)})')
    return value


def _region(value: str) -> str:
    if not _REGION.fullmatch(value) or value == "ZZ" or value not in Locale("en").territories:
        raise ValueError(f'must be an ISO 3166 country code such as "CN" (got {show(value)})')
    return value


def _read_only(mapping: Mapping[K, V]) -> Mapping[K, V]:
    return MappingProxyType(dict(mapping))


def _serialize_as_dict(mapping: Mapping[K, V], serialize: SerializerFunctionWrapHandler) -> object:
    # pydantic's dict serializer does not recognise a mapping proxy.
    return serialize(dict(mapping))


Number = Annotated[Decimal, BeforeValidator(_exact_number)]
WholeNumber = Annotated[int, Strict()]
Identifier = Annotated[str, Strict(), AfterValidator(_identifier)]
Text = Annotated[str, Strict(), AfterValidator(_not_blank)]
ClockTime = Annotated[time, BeforeValidator(_clock_time)]
CalendarDate = Annotated[date, BeforeValidator(_calendar_date)]
RoundingStep = Annotated[Decimal, BeforeValidator(_rounding_step)]
DayOfMonth = Annotated[int, Strict(), AfterValidator(_day_of_month)]
CurrencyCode = Annotated[str, Strict(), AfterValidator(_currency)]
RegionCode = Annotated[str, Strict(), AfterValidator(_region)]
# Frozen models would still hand out mutable dicts; a mapping proxy makes tables read-only too.
ReadOnlyMapping = Annotated[
    Mapping[K, V], AfterValidator(_read_only), WrapSerializer(_serialize_as_dict)
]


class _PolicyModel(BaseModel):
    """Base of every policy table: immutable once loaded, and strict about unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def _violations(problems: list[tuple[KeyPath, str]]) -> None:
    if problems:
        raise PolicyRuleError(problems)


class LocalizedText(_PolicyModel):
    """A name or label in every language the bot speaks (``en``, ``zh_Hans``, ``zh_Hant``)."""

    en: Text
    zh_hans: Text = Field(alias="zh_Hans")
    zh_hant: Text = Field(alias="zh_Hant")

    def get(self, language: str) -> str:
        """Return the text in one language.

        Args:
            language: ``"en"``, ``"zh_Hans"`` or ``"zh_Hant"``.

        Raises:
            KeyError: For any other language.
        """
        match language:
            case "en":
                return self.en
            case "zh_Hans":
                return self.zh_hans
            case "zh_Hant":
                return self.zh_hant
        raise KeyError(language)


class AssessmentCycle(_PolicyModel):
    """How often routine assessment happens and how scores are rounded before grading."""

    period: Literal["month", "quarter"]
    score_rounding: RoundingStep
    score_rounding_mode: RoundingMode

    def round_score(self, score: Decimal) -> Decimal:
        """Round a computed percentage score once, as the policy says, before grading it."""
        return score.quantize(
            self.score_rounding, rounding=_DECIMAL_ROUNDING[self.score_rounding_mode]
        )


class Grade(_PolicyModel):
    """One grade of the scale: the lowest score that earns it and its bonus coefficient."""

    id: Identifier
    names: LocalizedText
    min_score: Number = Field(ge=0, le=100)
    coefficient: Number = Field(ge=0)


class TopGradeQuota(_PolicyModel):
    """How many people may receive the top grade, as a share of a department or organisation."""

    top_grade_max_share: Number = Field(gt=0, le=1)
    scope: Literal["department", "organisation"]
    with_approval_max_share: Number | None = Field(default=None, gt=0, le=1)
    count_rounding: Literal["down", "half_up", "up"]

    @model_validator(mode="after")
    def _approval_raises_the_cap(self) -> TopGradeQuota:
        approved = self.with_approval_max_share
        if approved is not None and approved < self.top_grade_max_share:
            raise PolicyRuleError(
                [
                    (
                        ("with_approval_max_share",),
                        f"must be at least top_grade_max_share ({self.top_grade_max_share}), "
                        "as approval can only widen the quota",
                    )
                ]
            )
        return self

    def max_top_grade(self, group_size: int, *, with_approval: bool = False) -> int:
        """How many of ``group_size`` people may receive the top grade.

        Args:
            group_size: People assessed in the quota's scope (a department or the organisation).
            with_approval: Use the approved, wider share; a policy without one keeps the
                ordinary share.

        Raises:
            ValueError: If ``group_size`` is negative.
        """
        if group_size < 0:
            raise ValueError(f"group size cannot be negative (got {group_size})")
        share = self.top_grade_max_share
        if with_approval and self.with_approval_max_share is not None:
            share = self.with_approval_max_share
        mode = {"down": ROUND_DOWN, "half_up": ROUND_HALF_UP, "up": ROUND_UP}[self.count_rounding]
        return int((share * group_size).quantize(Decimal(1), rounding=mode))


class PostType(_PolicyModel):
    """A class of posts assessed on its own indicators (law enforcement, service...)."""

    names: LocalizedText


class RaterWeights(_PolicyModel):
    """How much each kind of rater counts towards a post type's score; the weights sum to 1."""

    supervisor: Number = Field(ge=0, le=1)
    self_: Number = Field(alias="self", ge=0, le=1)
    peer: Number = Field(ge=0, le=1)
    service_recipient: Number = Field(ge=0, le=1)
    # Optional: policies written before third-party evaluators existed give them nothing.
    third_party: Number = Field(default=Decimal(0), ge=0, le=1)

    @model_validator(mode="after")
    def _weights_sum_to_one(self) -> RaterWeights:
        total = sum((self.weight_of(rater) for rater in RATERS), Decimal(0))
        if total != 1:
            raise PolicyRuleError([((), f"weights must sum to exactly 1 (they sum to {total})")])
        return self

    def weight_of(self, rater: Rater) -> Decimal:
        """The weight of one rater, named as in the policy file (``"self"``, not ``self_``)."""
        match rater:
            case "supervisor":
                return self.supervisor
            case "self":
                return self.self_
            case "peer":
                return self.peer
            case "service_recipient":
                return self.service_recipient
            case "third_party":
                return self.third_party


class Indicator(_PolicyModel):
    """One assessment indicator of a post type.

    Quantitative indicators are counted in ``unit`` and earn (or, when common, lose)
    ``points`` per unit of the period's ``aggregate`` (the sum of the approved quantities,
    or their mean for rates); qualitative ones are rated, ``points`` being their full marks.
    Common indicators are assessed by deduction only, personal ones by bonus and deduction.
    The score formula is in ``assessment/scoring.py`` and the README.
    """

    id: Identifier
    names: LocalizedText
    unit: LocalizedText | None = None
    weight: Number = Field(gt=0, le=1)
    kind: Literal["quantitative", "qualitative"]
    points: Number = Field(gt=0)
    common: Annotated[bool, Strict()]
    # Optional, quantitative only; None reads as "sum" (see ``quantity_aggregate``).
    aggregate: Literal["sum", "mean"] | None = None

    @model_validator(mode="after")
    def _unit_matches_kind(self) -> Indicator:
        if self.kind == "quantitative" and self.unit is None:
            raise PolicyRuleError(
                [(("unit",), "a quantitative indicator needs a unit, e.g. cases / 件")]
            )
        if self.kind == "qualitative" and self.unit is not None:
            raise PolicyRuleError(
                [(("unit",), 'a qualitative indicator has no unit (or set kind = "quantitative")')]
            )
        if self.kind == "qualitative" and self.aggregate is not None:
            raise PolicyRuleError(
                [
                    (
                        ("aggregate",),
                        "only a quantitative indicator adds up quantities; a qualitative "
                        'one is rated (remove aggregate or set kind = "quantitative")',
                    )
                ]
            )
        return self

    @property
    def quantity_aggregate(self) -> Literal["sum", "mean"]:
        """How a period's approved quantities become the raw value: their sum or their mean."""
        return "sum" if self.aggregate is None else self.aggregate


class DifficultyBounds(_PolicyModel):
    """The range a post's difficulty coefficient in the roster must fall in."""

    min: Number = Field(gt=0)
    max: Number = Field(gt=0)

    @model_validator(mode="after")
    def _ordinary_post_allowed(self) -> DifficultyBounds:
        # A coefficient of 1 is the ordinary post the others are measured against.
        problems: list[tuple[KeyPath, str]] = []
        if self.min > 1:
            problems.append((("min",), f"must be at most 1, the ordinary post (got {self.min})"))
        if self.max < 1:
            problems.append((("max",), f"must be at least 1, the ordinary post (got {self.max})"))
        _violations(problems)
        return self

    def allows(self, coefficient: Decimal) -> bool:
        """Whether a roster's difficulty coefficient lies within the bounds (inclusive)."""
        return self.min <= coefficient <= self.max


class ReminderTimes(_PolicyModel):
    """Local times (organisation time zone) of the workday reminders."""

    daily_time: ClockTime
    team_summary_time: ClockTime
    # The monthly check's reminders (close your period, your team's reviews, reviews
    # overdue): in the morning, so there is a workday left to act on them.
    monthly_check_time: ClockTime = time(9, 30)


class EntryLimits(_PolicyModel):
    """What a daily work entry may contain, how late it may be written, and how many
    one person may write in a minute and in a day (flood control)."""

    backdate_workdays: WholeNumber = Field(ge=0)
    max_text_length: WholeNumber = Field(ge=1, le=TELEGRAM_TEXT_LIMIT)
    max_attachments: WholeNumber = Field(ge=0)
    max_attachment_mb: Number = Field(gt=0, le=TELEGRAM_DOWNLOAD_LIMIT_MB)
    max_hours: Number = Field(gt=0, le=24)
    min_hours: Number = Field(gt=0)
    max_per_minute: WholeNumber = Field(ge=1)
    max_per_day: WholeNumber = Field(ge=1, le=MAX_ENTRIES_PER_DAY)

    @model_validator(mode="after")
    def _consistent(self) -> EntryLimits:
        problems: list[tuple[KeyPath, str]] = []
        if self.min_hours > self.max_hours:
            problems.append((("min_hours",), f"must not exceed max_hours ({self.max_hours})"))
        if self.max_per_minute > self.max_per_day:
            problems.append(
                (("max_per_minute",), f"must not exceed max_per_day ({self.max_per_day})")
            )
        _violations(problems)
        return self


class MonthlyCheckSchedule(_PolicyModel):
    """The monthly check's calendar (self-review opens in the month, reviews are due the
    next), its rating scale and the limits on a period's bonus and deduction points."""

    self_review_open_day: DayOfMonth
    self_review_due_day: DayOfMonth
    supervisor_review_due_day: DayOfMonth
    reminder_days_before_due: WholeNumber = Field(ge=0)
    escalate_after_days: WholeNumber = Field(ge=1)
    # Ratings are whole numbers 1..rating_max, one button each (so at most 10 buttons).
    rating_max: WholeNumber = Field(default=5, ge=2, le=MAX_RATING)
    # Per person and period: bonus points counted at most, deduction points counted at most.
    max_bonus_points: Number = Field(default=Decimal(10), ge=0, le=100)
    max_deduction_points: Number = Field(default=Decimal(20), ge=0, le=100)

    @model_validator(mode="after")
    def _supervisor_after_self(self) -> MonthlyCheckSchedule:
        # The supervisor reviews the self-assessment, so cannot be due before it.
        if self.supervisor_review_due_day <= self.self_review_due_day:
            raise PolicyRuleError(
                [
                    (
                        ("supervisor_review_due_day",),
                        f"must be later than self_review_due_day ({self.self_review_due_day})",
                    )
                ]
            )
        return self


class ApprovalDeadlines(_PolicyModel):
    """How long an entry may wait for its supervisor before escalation (or auto-approval)."""

    escalate_after_workdays: WholeNumber = Field(ge=1)
    auto_approve_after_workdays: WholeNumber | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _escalate_first(self) -> ApprovalDeadlines:
        # Someone must be chased before an unread entry starts counting on its own.
        auto = self.auto_approve_after_workdays
        if auto is not None and auto <= self.escalate_after_workdays:
            raise PolicyRuleError(
                [
                    (
                        ("auto_approve_after_workdays",),
                        "must be greater than escalate_after_workdays "
                        f"({self.escalate_after_workdays})",
                    )
                ]
            )
        return self


class AppealWindows(_PolicyModel):
    """Days allowed for requesting and deciding a review (复核) and an appeal (申诉)."""

    review_request_days: WholeNumber = Field(ge=1)
    review_decision_days: WholeNumber = Field(ge=1)
    appeal_request_days: WholeNumber = Field(ge=1)
    appeal_direct_days: WholeNumber = Field(ge=1)
    appeal_decision_days: WholeNumber = Field(ge=1)
    appeal_extension_days: WholeNumber = Field(ge=1)
    # Who decides a review: HR, or the head of the organisation (an administrator).
    reviewer: Literal["hr", "head"] = "hr"
    # Who decides an appeal: by default the head, above HR who decided the review.
    appeal_decider: Literal["hr", "head"] = "head"
    # Deciders are reminded this many days before a case's last day, and on that day.
    remind_days_before: WholeNumber = Field(default=3, ge=1)


class PeerRatings(_PolicyModel):
    """Peer ratings across departments (``[peers]``): how many peers must have rated before
    their average counts or is shown, and how many the rule draws per person."""

    # Fewer than two would show one person's rating as "the average".
    min_raters: WholeNumber = Field(default=3, ge=2, le=MAX_PEER_RATERS)
    # 0: HR assigns every rater; otherwise the rule draws this many per person too.
    drawn_raters: WholeNumber = Field(default=0, ge=0, le=MAX_PEER_RATERS)

    @model_validator(mode="after")
    def _enough_drawn(self) -> PeerRatings:
        # Drawing fewer than the threshold would ask people for ratings that never count.
        if 0 < self.drawn_raters < self.min_raters:
            raise PolicyRuleError(
                [
                    (
                        ("drawn_raters",),
                        f"must be 0 (HR assigns) or at least min_raters ({self.min_raters})",
                    )
                ]
            )
        return self


class Allowance(_PolicyModel):
    """A kind of allowance HR may assign a person for one period, with a reason: a
    hardship post, an urgent or dangerous task (特殊津贴). Added to the bonus as it is."""

    names: LocalizedText
    amount: Number = Field(gt=0)
    # An allowance of this kind is paid for a key task (重点任务: an urgent or dangerous
    # task HR assigned, with its reason): the career record lists it as one.
    key_task: bool = False


BonusMode = Literal["formula", "pool"]


class BonusRule(_PolicyModel):
    """Bonus = base x grade coefficient x post difficulty + allowances, rounded once.

    In ``pool`` mode HR gives the period's total instead: the allowances come off the
    top and the rest is shared in proportion to grade coefficient x post difficulty
    (``assessment.bonus_rules``).
    """

    base: Number = Field(gt=0)
    currency: CurrencyCode
    rounding: RoundingStep
    rounding_mode: RoundingMode
    mode: BonusMode = "formula"
    allowances: ReadOnlyMapping[Identifier, Allowance] = Field(
        default_factory=lambda: MappingProxyType({})
    )

    @model_validator(mode="after")
    def _whole_steps(self) -> BonusRule:
        # Allowances are paid as they are: an amount the rounding step cannot pay exactly
        # would be rounded a second time, or not add up.
        problems: list[tuple[KeyPath, str]] = []
        for kind, allowance in self.allowances.items():
            if allowance.amount % self.rounding:
                problems.append(
                    (
                        ("allowances", kind, "amount"),
                        f"must be a whole multiple of rounding ({self.rounding}) "
                        f"(got {allowance.amount})",
                    )
                )
        _violations(problems)
        return self

    def round_money(self, amount: Decimal) -> Decimal:
        """Round a computed amount to the policy's step, the one time money is rounded."""
        return amount.quantize(self.rounding, rounding=_DECIMAL_ROUNDING[self.rounding_mode])


class BroadcastLimits(_PolicyModel):
    """Sending rates the outbox keeps to (Telegram's documented limits by default)."""

    messages_per_second: Number = Field(gt=0)
    per_chat_per_second: Number = Field(gt=0)
    per_group_per_minute: Number = Field(gt=0)

    @model_validator(mode="after")
    def _chat_within_overall(self) -> BroadcastLimits:
        if self.per_chat_per_second > self.messages_per_second:
            raise PolicyRuleError(
                [
                    (
                        ("per_chat_per_second",),
                        f"must not exceed messages_per_second ({self.messages_per_second})",
                    )
                ]
            )
        return self


class CalendarAdjustments(_PolicyModel):
    """The workday calendar: a region's public holidays plus the organisation's own changes."""

    region: RegionCode
    extra_holidays: tuple[CalendarDate, ...] = ()
    extra_workdays: tuple[CalendarDate, ...] = ()

    @model_validator(mode="after")
    def _each_date_once(self) -> CalendarAdjustments:
        problems: list[tuple[KeyPath, str]] = []
        holidays = set(self.extra_holidays)
        for key, days in (
            ("extra_holidays", self.extra_holidays),
            ("extra_workdays", self.extra_workdays),
        ):
            for index, day in enumerate(days):
                if day in days[:index]:
                    problems.append(((key, index), f"{day} is listed twice"))
        for index, day in enumerate(self.extra_workdays):
            if day in holidays:
                problems.append(
                    (("extra_workdays", index), f"{day} is also in extra_holidays; choose one")
                )
        _violations(problems)
        return self


class InviteLimits(_PolicyModel):
    """How long invite links live and how many wrong codes an hour are tolerated."""

    ttl_days: WholeNumber = Field(ge=1)
    max_failed_attempts_per_hour: WholeNumber = Field(ge=1)


class CitizenRules(_PolicyModel):
    """Citizens' "one matter, one rating": how long a code lives and what is suspicious."""

    code_minutes: WholeNumber = Field(default=30, ge=1, le=24 * 60)
    far_from_issue_minutes: WholeNumber = Field(default=15, ge=1)
    burst_max: WholeNumber = Field(default=20, ge=1)
    burst_minutes: WholeNumber = Field(default=60, ge=1, le=24 * 60)
    window_code_daily_limit: WholeNumber = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _far_within_lifetime(self) -> CitizenRules:
        if self.far_from_issue_minutes > self.code_minutes:
            _violations(
                [
                    (
                        ("far_from_issue_minutes",),
                        f"must be at most code_minutes ({self.code_minutes}): a code is "
                        "refused once it has expired",
                    )
                ]
            )
        return self


class AnnualGrade(_PolicyModel):
    """One grade of the annual scale (优秀 / 称职 / 基本称职 / 不称职): the lowest annual
    score that earns it."""

    id: Identifier
    names: LocalizedText
    min_score: Number = Field(ge=0, le=100)


class Training(_PolicyModel):
    """A training of the catalogue, matched to a shortfall on any of its indicators: one
    scored below ``below`` in at least ``periods`` routine periods of the year."""

    id: Identifier
    names: LocalizedText
    indicators: tuple[Identifier, ...] = Field(min_length=1)
    below: Number = Field(gt=0, le=100)
    periods: WholeNumber = Field(ge=1)


class Honour(_PolicyModel):
    """An honour HR may award with a citation (服务之星...), kept in the career record."""

    id: Identifier
    names: LocalizedText


class Promotion(_PolicyModel):
    """Rank promotion eligibility: the last ``years`` annual results, this year's included,
    each one of ``grades``."""

    years: WholeNumber = Field(ge=1, le=50)
    grades: tuple[Identifier, ...] = Field(min_length=1)


def _unique_ids(items: Sequence[AnnualGrade | Training | Honour]) -> list[tuple[KeyPath, str]]:
    problems: list[tuple[KeyPath, str]] = []
    first_use: dict[str, int] = {}
    for index, item in enumerate(items):
        if item.id in first_use:
            problems.append(
                ((index, "id"), f"duplicate id {show(item.id)} (also [{first_use[item.id]}])")
            )
        first_use.setdefault(item.id, index)
    return problems


class AnnualRule(_PolicyModel):
    """The annual assessment (年度考核), which rests on the year's routine results.

    The annual score is the mean of the year's published routine scores; a person with
    fewer than ``min_periods`` of them is not graded that year. A routine grade in
    ``bars_top_grade`` (the grade that stood: HR's calibrated one if any) bars the annual
    top grade, and the top grade is limited by ``quota`` as the routine one is. The
    streaks and the catalogues decide the flags HR receives.
    """

    grades: tuple[AnnualGrade, ...]
    min_periods: WholeNumber = Field(ge=1, le=12)
    bars_top_grade: tuple[Identifier, ...] = ()
    quota: TopGradeQuota
    merit_streak: WholeNumber = Field(ge=1, le=50)
    dismissal_streak: WholeNumber = Field(ge=1, le=50)
    promotion: Promotion | None = None
    trainings: tuple[Training, ...] = ()
    honours: tuple[Honour, ...] = ()

    @field_validator("grades")
    @classmethod
    def _ordered_scale(cls, grades: tuple[AnnualGrade, ...]) -> tuple[AnnualGrade, ...]:
        problems = _unique_ids(grades)
        if len(grades) < 2:
            problems.append(((), f"needs at least 2 grades, best first (found {len(grades)})"))
        for index, (better, worse) in enumerate(pairwise(grades), start=1):
            if worse.min_score >= better.min_score:
                problems.append(
                    (
                        (index, "min_score"),
                        f"must be lower than grades[{index - 1}].min_score ({better.min_score})",
                    )
                )
        if grades and grades[-1].min_score != 0:
            problems.append(
                (
                    (len(grades) - 1, "min_score"),
                    "must be 0 for the last grade, so that every score gets a grade "
                    f"(got {grades[-1].min_score})",
                )
            )
        _violations(problems)
        return grades

    @field_validator("trainings", "honours")
    @classmethod
    def _each_id_once(
        cls, items: tuple[Training, ...] | tuple[Honour, ...]
    ) -> tuple[Training, ...] | tuple[Honour, ...]:
        _violations(_unique_ids(items))
        return items

    @model_validator(mode="after")
    def _promotion_grades_known(self) -> AnnualRule:
        if self.promotion is None:
            return self
        known = [grade.id for grade in self.grades]
        _violations(
            [
                (
                    ("promotion", "grades", index),
                    f"unknown annual grade {show(grade_id)} (annual.grades has: "
                    f"{', '.join(known)})",
                )
                for index, grade_id in enumerate(self.promotion.grades)
                if grade_id not in known
            ]
        )
        return self

    @property
    def top_grade(self) -> AnnualGrade:
        """The best annual grade, the one the quota limits and merit counts."""
        return self.grades[0]

    @property
    def bottom_grade(self) -> AnnualGrade:
        """The worst annual grade, the one dismissal review counts."""
        return self.grades[-1]

    def grade_for(self, score: Decimal) -> AnnualGrade:
        """The annual grade a score earns: the best whose ``min_score`` it reaches.

        Raises:
            ValueError: If the score is not a number from 0 to 100.
        """
        if not score.is_finite() or not 0 <= score <= 100:
            raise ValueError(f"a score must be from 0 to 100 (got {score})")
        for grade in self.grades:
            if score >= grade.min_score:
                return grade
        raise AssertionError("unreachable: the last grade starts at 0")

    def grade(self, grade_id: str) -> AnnualGrade:
        """Look an annual grade up by id.

        Raises:
            KeyError: If the policy has no such annual grade.
        """
        return _by_id(self.grades, grade_id)

    def honour(self, honour_id: str) -> Honour:
        """Look an honour up by id.

        Raises:
            KeyError: If the policy has no such honour.
        """
        return _by_id(self.honours, honour_id)

    def training(self, training_id: str) -> Training:
        """Look a training up by id.

        Raises:
            KeyError: If the catalogue has no such training.
        """
        return _by_id(self.trainings, training_id)


class Policy(_PolicyModel):
    """A whole assessment policy, validated; build it with ``load_policy``."""

    name: LocalizedText
    languages: tuple[Annotated[str, Strict()], ...]
    assessment: AssessmentCycle
    grades: tuple[Grade, ...]
    quota: TopGradeQuota
    post_types: ReadOnlyMapping[Identifier, PostType]
    raters: ReadOnlyMapping[Identifier, RaterWeights]
    indicators: ReadOnlyMapping[Identifier, tuple[Indicator, ...]]
    difficulty: DifficultyBounds
    reminders: ReminderTimes
    entries: EntryLimits
    monthly_check: MonthlyCheckSchedule
    approvals: ApprovalDeadlines
    appeals: AppealWindows
    peers: PeerRatings = PeerRatings()
    bonus: BonusRule
    broadcast: BroadcastLimits
    calendar: CalendarAdjustments
    invites: InviteLimits
    citizens: CitizenRules = CitizenRules()
    # Optional: without it the bot has no annual roll-up.
    annual: AnnualRule | None = None

    @field_validator("languages")
    @classmethod
    def _bot_languages(cls, languages: tuple[str, ...]) -> tuple[str, ...]:
        # Every name must be shown in every language the bot has a catalogue for.
        if sorted(languages) != sorted(SUPPORTED_LANGUAGES):
            expected = ", ".join(show(language) for language in SUPPORTED_LANGUAGES)
            raise ValueError(f"must list exactly {expected}, each once")
        return languages

    @field_validator("grades")
    @classmethod
    def _ordered_scale(cls, grades: tuple[Grade, ...]) -> tuple[Grade, ...]:
        problems: list[tuple[KeyPath, str]] = []
        if len(grades) < 2:
            problems.append(((), f"needs at least 2 grades, best first (found {len(grades)})"))
        first_use: dict[str, int] = {}
        for index, grade in enumerate(grades):
            if grade.id in first_use:
                problems.append(
                    (
                        (index, "id"),
                        f"duplicate grade id {show(grade.id)} "
                        f"(also grades[{first_use[grade.id]}].id)",
                    )
                )
            first_use.setdefault(grade.id, index)
        for index, (better, worse) in enumerate(pairwise(grades), start=1):
            if worse.min_score >= better.min_score:
                problems.append(
                    (
                        (index, "min_score"),
                        f"must be lower than grades[{index - 1}].min_score ({better.min_score})",
                    )
                )
            if worse.coefficient > better.coefficient:
                problems.append(
                    (
                        (index, "coefficient"),
                        f"must not be higher than grades[{index - 1}].coefficient "
                        f"({better.coefficient}); a worse grade cannot pay more",
                    )
                )
        if grades and grades[-1].min_score != 0:
            problems.append(
                (
                    (len(grades) - 1, "min_score"),
                    "must be 0 for the last grade, so that every score gets a grade "
                    f"(got {grades[-1].min_score})",
                )
            )
        _violations(problems)
        return grades

    @field_validator("post_types")
    @classmethod
    def _some_post_types(cls, post_types: Mapping[str, PostType]) -> Mapping[str, PostType]:
        if not post_types:
            raise ValueError("needs at least one post type")
        return post_types

    @model_validator(mode="after")
    def _post_types_covered(self) -> Policy:
        problems: list[tuple[KeyPath, str]] = []
        known = ", ".join(self.post_types)
        sections: tuple[tuple[str, Mapping[str, object]], ...] = (
            ("raters", self.raters),
            ("indicators", self.indicators),
        )
        for section, table in sections:
            for post_type in self.post_types:
                if post_type not in table:
                    problems.append(
                        ((section, post_type), f"missing; every post type needs its {section}")
                    )
            for post_type in table:
                if post_type not in self.post_types:
                    problems.append(
                        ((section, post_type), f"unknown post type (post_types has: {known})")
                    )
        first_use: dict[str, KeyPath] = {}
        for post_type, indicators in self.indicators.items():
            if not indicators:
                problems.append((("indicators", post_type), "needs at least one indicator"))
                continue
            total = sum((indicator.weight for indicator in indicators), Decimal(0))
            if total != 1:
                problems.append(
                    (
                        ("indicators", post_type),
                        f"weights must sum to exactly 1 (they sum to {total})",
                    )
                )
            for index, indicator in enumerate(indicators):
                path: KeyPath = ("indicators", post_type, index, "id")
                if indicator.id in first_use:
                    problems.append(
                        (
                            path,
                            f"duplicate indicator id {show(indicator.id)} "
                            f"(also {format_key_path(first_use[indicator.id])})",
                        )
                    )
                first_use.setdefault(indicator.id, path)
        for post_type, weights in self.raters.items():
            # Citizens' stars are ratings of qualitative indicators: without one they
            # would go nowhere, and the weight would promise a voice nobody hears.
            rated = any(i.kind == "qualitative" for i in self.indicators.get(post_type, ()))
            if weights.service_recipient > 0 and post_type in self.indicators and not rated:
                problems.append(
                    (
                        ("raters", post_type, "service_recipient"),
                        "weighs citizens' ratings, but the post type has no qualitative "
                        "indicator for them to rate (make one qualitative, or set 0)",
                    )
                )
        _violations(problems)
        return self

    @model_validator(mode="after")
    def _annual_refers_to_known_ids(self) -> Policy:
        annual = self.annual
        if annual is None:
            return self
        problems: list[tuple[KeyPath, str]] = []
        routine = [grade.id for grade in self.grades]
        for index, grade_id in enumerate(annual.bars_top_grade):
            if grade_id not in routine:
                problems.append(
                    (
                        ("annual", "bars_top_grade", index),
                        f"unknown grade {show(grade_id)} (grades has: {', '.join(routine)})",
                    )
                )
        if self.assessment.period == "quarter" and annual.min_periods > 4:
            problems.append(
                (
                    ("annual", "min_periods"),
                    f"must be at most 4, as a year has 4 quarters (got {annual.min_periods})",
                )
            )
        indicator_ids = {i.id for indicators in self.indicators.values() for i in indicators}
        for index, training in enumerate(annual.trainings):
            for position, indicator_id in enumerate(training.indicators):
                if indicator_id not in indicator_ids:
                    problems.append(
                        (
                            ("annual", "trainings", index, "indicators", position),
                            f"unknown indicator {show(indicator_id)}",
                        )
                    )
            if self.assessment.period == "quarter" and training.periods > 4:
                problems.append(
                    (
                        ("annual", "trainings", index, "periods"),
                        f"must be at most 4, as a year has 4 quarters (got {training.periods})",
                    )
                )
        _violations(problems)
        return self

    @property
    def top_grade(self) -> Grade:
        """The best grade, the one the quota limits."""
        return self.grades[0]

    def grade(self, grade_id: str) -> Grade:
        """Look a grade up by id.

        Raises:
            KeyError: If the policy has no such grade.
        """
        return self.grades[self.grade_rank(grade_id)]

    def grade_rank(self, grade_id: str) -> int:
        """The position of a grade on the scale: 0 is the best.

        Raises:
            KeyError: If the policy has no such grade.
        """
        for rank, grade in enumerate(self.grades):
            if grade.id == grade_id:
                return rank
        raise KeyError(grade_id)

    def grade_for(self, score: Decimal) -> Grade:
        """The grade a percentage score earns: the best grade whose ``min_score`` it reaches.

        Round the score first with ``policy.assessment.round_score``
        (:meth:`AssessmentCycle.round_score`) so that what people are shown is what was graded.

        Args:
            score: A percentage from 0 to 100.

        Raises:
            ValueError: If the score is not a number from 0 to 100.
        """
        if not score.is_finite() or not 0 <= score <= 100:
            raise ValueError(f"a score must be from 0 to 100 (got {score})")
        for grade in self.grades:
            if score >= grade.min_score:
                return grade
        raise AssertionError("unreachable: the last grade starts at 0")

    def indicators_for(self, post_type: str) -> tuple[Indicator, ...]:
        """The indicators a post type is assessed on, in policy order.

        Raises:
            KeyError: If the policy has no such post type.
        """
        return self.indicators[post_type]

    def indicator(self, indicator_id: str) -> Indicator:
        """Look an indicator up by its id, which is unique across post types.

        Raises:
            KeyError: If the policy has no such indicator.
        """
        for indicators in self.indicators.values():
            for indicator in indicators:
                if indicator.id == indicator_id:
                    return indicator
        raise KeyError(indicator_id)


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


_Item = TypeVar("_Item", bound=_Identified)


def _by_id(items: Sequence[_Item], wanted: str) -> _Item:
    """The item of ``items`` whose id is ``wanted``; KeyError if none is."""
    for item in items:
        if item.id == wanted:
            return item
    raise KeyError(wanted)


def load_policy(path: Path | None = None) -> Policy:
    """Read and validate a policy file.

    Args:
        path: The TOML file; ``None`` reads the bundled default policy.

    Returns:
        The validated, immutable policy.

    Raises:
        PolicyError: If the file is missing, unreadable or not TOML, or if any key is unknown,
            of the wrong type, or breaks a rule. Its message is one line naming the file and
            the dotted key path of each problem.
    """
    source = DEFAULT_POLICY_PATH if path is None else path
    try:
        with source.open("rb") as stream:
            # Floats as Decimal, so coefficients, weights and money are exact from the start.
            document = tomllib.load(stream, parse_float=Decimal)
    except FileNotFoundError as exc:
        raise _file_error(source, "no such file") from exc
    except IsADirectoryError as exc:
        raise _file_error(source, "is a directory, not a file") from exc
    except OSError as exc:
        raise _file_error(source, f"cannot be read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise _file_error(source, f"is not UTF-8 text (bad byte at offset {exc.start})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise _file_error(source, f"invalid TOML: {exc}") from exc
    try:
        return Policy.model_validate(document)
    except ValidationError as exc:
        raise PolicyError(source, issues_from_validation_error(exc, Policy)) from exc


def _file_error(path: Path, message: str) -> PolicyError:
    return PolicyError(path, [PolicyIssue("", message)])


def pickled(value: object) -> bytes:
    """``value`` pickled, with the policies it holds: for a worker process of the bot.

    A policy's frozen tables are read-only mappings, which pickle does not take as they
    are: each goes as a dict, made read-only again where it is loaded (``pickle.loads``).
    """
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {**copyreg.dispatch_table, MappingProxyType: _reduce_proxy}
    pickler.dump(value)
    return buffer.getvalue()


def _proxy(items: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(items)


def _reduce_proxy(proxy: MappingProxyType[Any, Any]) -> tuple[Any, tuple[dict[Any, Any]]]:
    return _proxy, (dict(proxy),)
