"""What a work entry may hold and when it may be dated: rules that need no store.

Everything here is pure, so the rules are tested without a database and shared by
the quick log, the guided /log and editing. Numbers and dates typed on a phone are
read leniently (full-width digits, ``1.5h``, ``11月20日``) and checked strictly.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, Protocol

from config.policy import EntryLimits
from storage.enums import EntryStatus

__all__ = [
    "EDITABLE",
    "FLOOD_MINUTE",
    "EntryError",
    "Evidence",
    "TooMany",
    "Workdays",
    "check_date",
    "check_evidence",
    "clean_text",
    "date_choices",
    "day_bounds",
    "earliest_date",
    "not_editable",
    "parse_day",
    "parse_hours",
    "parse_quantity",
    "too_many",
]

# The author may change an entry until a supervisor decides it; a returned one is
# waiting for exactly that change.
EDITABLE = (EntryStatus.SUBMITTED, EntryStatus.RETURNED)

# NUMERIC(12, 3) and NUMERIC(5, 2) in the store.
MAX_QUANTITY = Decimal("999999999.999")
QUANTITY_PLACES = 3
HOURS_PLACES = 2
MEGABYTE = 1024 * 1024

_NUMBER = re.compile(r"([0-9]+(?:\.[0-9]+)?|\.[0-9]+)\s*([^0-9\s][^0-9]*)?")
# What may follow the number of hours: "1.5h", "1.5 hrs", "1.5小时", "1.5 小時", "1.5時間".
_HOUR_UNITS = frozenset(
    {"h", "hr", "hrs", "hour", "hours", "小时", "小時", "个小时", "個小時", "時", "时", "時間"}
)
_ISO_DAY = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
_SHORT_DAY = re.compile(r"(\d{1,2})[-/.](\d{1,2})")
_CHINESE_DAY = re.compile(r"(?:(\d{4})年)?(\d{1,2})月(\d{1,2})[日号號]?")
# The flood rule's short window: any 60 seconds, not the clock's minutes.
FLOOD_MINUTE = timedelta(minutes=1)


class EntryError(enum.StrEnum):
    """Why an entry, a change to one or an answer in /log was refused; nothing was written."""

    EMPTY_TEXT = "empty_text"
    TEXT_TOO_LONG = "text_too_long"
    NOT_A_DATE = "not_a_date"
    FUTURE_DATE = "future_date"
    TOO_FAR_BACK = "too_far_back"
    CLOSED_PERIOD = "closed_period"  # its period is under review (assessment.periods)
    NOT_A_NUMBER = "not_a_number"
    HOURS_OUT_OF_RANGE = "hours_out_of_range"
    QUANTITY_OUT_OF_RANGE = "quantity_out_of_range"
    UNKNOWN_INDICATOR = "unknown_indicator"
    TOO_MANY_ATTACHMENTS = "too_many_attachments"
    ATTACHMENT_TOO_LARGE = "attachment_too_large"
    UNKNOWN_ENTRY = "unknown_entry"
    NOT_YOURS = "not_yours"
    DELETED = "deleted"
    DECIDED = "decided"
    CHANGED = "changed"
    NOTHING_IN_PROGRESS = "nothing_in_progress"
    STEP_OVER = "step_over"
    WRONG_ANSWER = "wrong_answer"
    NO_TEXT_YET = "no_text_yet"
    NO_EVIDENCE = "no_evidence"
    NO_INDICATORS = "no_indicators"


class Workdays(Protocol):
    """The work calendar as the entry rules use it (``assessment.calendar.WorkCalendar``)."""

    def is_workday(self, day: date) -> bool:
        """Whether people are expected to work on ``day``."""
        ...

    def workdays(self, start: date, end: date) -> Iterable[date]:
        """The workdays from ``start`` to ``end``, both included."""
        ...

    def previous_workdays(self, day: date, n: int) -> Iterable[date]:
        """The ``n`` workdays before ``day``."""
        ...


@dataclass(frozen=True, slots=True)
class Evidence:
    """A photo or document offered as evidence, kept by its Telegram file id."""

    kind: str
    file_id: str
    file_unique_id: str
    file_name: str | None = None
    file_size: int | None = None

    def stored(self) -> dict[str, Any]:
        """The form kept in a conversation (JSON)."""
        return {
            "kind": self.kind,
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_name": self.file_name,
            "file_size": self.file_size,
        }

    @classmethod
    def of(cls, stored: dict[str, Any]) -> Evidence:
        """Read back the form kept in a conversation."""
        size = stored.get("file_size")
        name = stored.get("file_name")
        return cls(
            kind=str(stored["kind"]),
            file_id=str(stored["file_id"]),
            file_unique_id=str(stored["file_unique_id"]),
            file_name=None if name is None else str(name),
            file_size=None if size is None else int(size),
        )


def _normalised(text: str) -> str:
    # NFKC turns full-width digits and punctuation (１２．５, ／) into ASCII ones.
    return unicodedata.normalize("NFKC", text).strip().replace("。", ".")


def clean_text(text: str | None, limits: EntryLimits) -> str | EntryError:
    """The entry text as it will be stored, or why it cannot be.

    Surrounding whitespace goes; line breaks inside stay. Whitespace alone is no entry,
    nor are invisible characters alone (zero-width spaces and joiners, direction marks).
    """
    cleaned = (text or "").strip()
    if not any(not char.isspace() and unicodedata.category(char) != "Cf" for char in cleaned):
        return EntryError.EMPTY_TEXT
    if len(cleaned) > limits.max_text_length:
        return EntryError.TEXT_TOO_LONG
    return cleaned


def _number(text: str) -> tuple[Decimal, str] | None:
    match = _NUMBER.fullmatch(_normalised(text))
    if match is None:
        return None
    try:
        value = Decimal(match[1])
    except InvalidOperation:
        return None
    return value, (match[2] or "").strip().lower()


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def parse_hours(text: str, limits: EntryLimits) -> Decimal | EntryError:
    """Hours typed by a person (``1.5``, ``１．５``, ``2h``, ``3 小时``), within the policy."""
    parsed = _number(text)
    if parsed is None or (parsed[1] and parsed[1] not in _HOUR_UNITS):
        return EntryError.NOT_A_NUMBER
    hours = parsed[0]
    if _places(hours) > HOURS_PLACES or not limits.min_hours <= hours <= limits.max_hours:
        return EntryError.HOURS_OUT_OF_RANGE
    return hours.quantize(Decimal(1)) if hours == hours.to_integral() else hours


def parse_quantity(text: str) -> Decimal | EntryError:
    """A quantity typed by a person (``12``, ``１２件``, ``3.5 km``): zero or more."""
    parsed = _number(text)
    if parsed is None:
        return EntryError.NOT_A_NUMBER
    quantity = parsed[0]
    if _places(quantity) > QUANTITY_PLACES or quantity > MAX_QUANTITY:
        return EntryError.QUANTITY_OUT_OF_RANGE
    return quantity.quantize(Decimal(1)) if quantity == quantity.to_integral() else quantity


def parse_day(text: str, today: date, *, ahead: bool = False) -> date | None:
    """A date typed by a person, or None if it is not one: the one reader of typed dates.

    Accepted: ``2026-11-20``, ``2026/11/20``, ``11-20``, ``11/20``, ``11月20日`` and
    ``2026年11月20日``, in full-width digits too. A date without a year is in ``today``'s,
    or, ``ahead`` (a date to come, such as a delegation's end), the next one it falls on.
    """
    normalised = _normalised(text).replace(" ", "")
    year: str | None
    if (match := _ISO_DAY.fullmatch(normalised)) or (match := _CHINESE_DAY.fullmatch(normalised)):
        year, month, day = match.groups()
    elif match := _SHORT_DAY.fullmatch(normalised):
        year, (month, day) = None, match.groups()
    else:
        return None
    try:
        found = date(int(year) if year else today.year, int(month), int(day))
        if ahead and not year and found < today:
            found = date(today.year + 1, int(month), int(day))
    except ValueError:
        return None
    return found


def earliest_date(today: date, calendar: Workdays, backdate_workdays: int) -> date:
    """The earliest day an entry made ``today`` may carry (weekends between included)."""
    window = list(calendar.previous_workdays(today, backdate_workdays))
    return min(window, default=today)


def check_date(
    day: date, today: date, calendar: Workdays, limits: EntryLimits, *, closed_through: date
) -> EntryError | None:
    """None if an entry made ``today`` may be dated ``day``; otherwise why not.

    ``closed_through`` is the last day of the latest period under review
    (``assessment.periods.closed_through``); a day on or before it is refused as
    ``CLOSED_PERIOD`` (a reopened period is the caller's to allow: it needs the store).
    """
    if day > today:
        return EntryError.FUTURE_DATE
    if day <= closed_through:
        return EntryError.CLOSED_PERIOD
    if day < earliest_date(today, calendar, limits.backdate_workdays):
        return EntryError.TOO_FAR_BACK
    return None


def date_choices(
    today: date, calendar: Workdays, limits: EntryLimits, *, closed_through: date
) -> list[date]:
    """Every day an entry made ``today`` may carry, newest first (none in a closed period;
    a reopened one's days may still be typed)."""
    earliest = earliest_date(today, calendar, limits.backdate_workdays)
    days = (today - timedelta(days=offset) for offset in range((today - earliest).days + 1))
    return [day for day in days if day > closed_through]


def check_evidence(already: int, evidence: Evidence, limits: EntryLimits) -> EntryError | None:
    """None if ``evidence`` may join ``already`` attachments of an entry; otherwise why not."""
    if already >= limits.max_attachments:
        return EntryError.TOO_MANY_ATTACHMENTS
    if evidence.file_size is not None and evidence.file_size > limits.max_attachment_mb * MEGABYTE:
        return EntryError.ATTACHMENT_TOO_LARGE
    return None


def not_editable(status: EntryStatus) -> EntryError | None:
    """None while the author may still change an entry in ``status``; otherwise why not."""
    if status is EntryStatus.DELETED:
        return EntryError.DELETED
    if status not in EDITABLE:
        return EntryError.DECIDED
    return None


@dataclass(frozen=True, slots=True)
class TooMany:
    """An entry refused by flood control: nothing was written.

    ``per`` says which limit it met (``limit`` entries a minute or a day); the author
    may log again from ``until`` (UTC).
    """

    per: Literal["minute", "day"]
    limit: int
    until: datetime


def day_bounds(today: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """When the organisation's day ``today`` starts and the next one starts, in UTC."""
    start, end = (
        datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
        for day in (today, today + timedelta(days=1))
    )
    return start, end


def too_many(
    written_today: int, nth_in_minute: datetime | None, limits: EntryLimits, *, tomorrow: datetime
) -> TooMany | None:
    """None if one more entry is allowed; otherwise the limit met and when it lifts.

    Args:
        written_today: The author's entries since the start of the organisation's day.
        nth_in_minute: When the ``max_per_minute``-th newest of those written in the last
            minute was; None while fewer were. A new one is allowed once it is a minute old.
        limits: The policy's entry limits.
        tomorrow: When the next organisation day starts (UTC), when a day's count starts over.

    When both limits are met, the later moment is the answer.
    """
    refusals: list[TooMany] = []
    if written_today >= limits.max_per_day:
        refusals.append(TooMany("day", limits.max_per_day, tomorrow))
    if nth_in_minute is not None:
        refusals.append(TooMany("minute", limits.max_per_minute, nth_in_minute + FLOOD_MINUTE))
    return max(refusals, key=lambda refusal: refusal.until, default=None)
