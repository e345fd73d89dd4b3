"""Every inline button's callback data, defined and parsed here and nowhere else.

Each action is a small frozen dataclass with a short prefix and only ids in it
(``lg:zh_Hant``, ``ru:12:apply``): never state, never visible text, always under
Telegram's 64 bytes. The server re-checks every permission on every press; the
``requires`` of each class is the coarse role check the gate applies first.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, date, datetime, time
from typing import ClassVar, Self

from assessment.access import ANYONE, HR, MEMBERS, QUOTA_APPROVERS, SUPERVISORS, Requirement
from assessment.exports import FORMATS, SOURCES
from assessment.log_flow import STEPS
from assessment.notices import AUDIENCE_KINDS
from locales import SUPPORTED

MAX_BYTES = 64

# Ids and versions are the store's INTEGER columns (32-bit on PostgreSQL): 1..2^31-1.
MAX_ID = 2**31 - 1
# Far past any real list: a page beyond the last shows the last.
MAX_PAGE = 10_000
# The days a button may name: nothing the bot writes falls outside them.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)
# Unix seconds of those days' bounds, for the times a button carries.
FIRST_STAMP = int(datetime.combine(FIRST_DAY, time(), UTC).timestamp())
LAST_STAMP = int(datetime.combine(LAST_DAY, time.max, UTC).timestamp())


@dataclasses.dataclass(frozen=True)
class CallbackData:
    """Base of all callback data: ``prefix:field:field``."""

    prefix: ClassVar[str]
    requires: ClassVar[Requirement]
    registry: ClassVar[dict[str, type[CallbackData]]] = {}
    # The range of each integer field not within 1..MAX_ID (an id or a version).
    bounds: ClassVar[dict[str, tuple[int, int]]] = {}

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        if cls.prefix in CallbackData.registry:
            raise TypeError(f"callback prefix {cls.prefix!r} used twice")
        CallbackData.registry[cls.prefix] = cls

    def pack(self) -> str:
        """The string Telegram carries for this button."""
        # Fields are flat ids: no need for astuple's deep copy (a reply card packs seven).
        values = (str(getattr(self, field.name)) for field in dataclasses.fields(self))
        data = ":".join([self.prefix, *values])
        if len(data.encode()) > MAX_BYTES:
            raise ValueError(f"callback data over {MAX_BYTES} bytes: {data!r}")
        return data

    @classmethod
    def pattern(cls) -> re.Pattern[str]:
        """What a handler for this action matches."""
        return re.compile(rf"^{re.escape(cls.prefix)}:")

    @classmethod
    def unpack(cls, parts: list[str]) -> Self:
        """Build from the parts after the prefix; raises ValueError when they do not fit."""
        fields = dataclasses.fields(cls)
        if len(parts) != len(fields):
            raise ValueError("wrong number of parts")
        values = [
            _integer(part, *cls.bounds.get(field.name, (1, MAX_ID)))
            if field.type in ("int", int)
            else part
            for field, part in zip(fields, parts, strict=True)
        ]
        return cls(*values)

    def validate(self) -> None:
        """Refuse values that parse but can never be valid."""

    @classmethod
    def from_press(cls, data: str | None) -> Self:
        """The action of this kind behind a press the gate already admitted.

        Raises:
            ValueError: the data is not this kind of action (the handler was
                registered with the wrong pattern).
        """
        action = parse(data)
        if not isinstance(action, cls):
            raise ValueError(f"not a {cls.__name__} press: {data!r}")
        return action


@dataclasses.dataclass(frozen=True)
class SetLanguage(CallbackData):
    """Choose the language the bot speaks to me."""

    prefix: ClassVar[str] = "lg"
    requires: ClassVar[Requirement] = MEMBERS
    locale: str

    def validate(self) -> None:
        """Only the bot's own languages."""
        if self.locale not in SUPPORTED:
            raise ValueError("unsupported locale")


@dataclasses.dataclass(frozen=True)
class InviteDepartment(CallbackData):
    """Issue invitations to everyone unlinked in one department (HR)."""

    prefix: ClassVar[str] = "ivd"
    requires: ClassVar[Requirement] = HR
    department_id: int


@dataclasses.dataclass(frozen=True)
class InvitePage(CallbackData):
    """A page of the departments /invite offers, when there are many (HR)."""

    prefix: ClassVar[str] = "ivp"
    requires: ClassVar[Requirement] = HR
    page: int

    bounds: ClassVar[dict[str, tuple[int, int]]] = {"page": (0, MAX_PAGE)}


@dataclasses.dataclass(frozen=True)
class RosterDecision(CallbackData):
    """Apply or cancel a previewed roster upload, or mark the people it lacks as left (HR).

    ``left`` only asks: it shows who would be marked; ``leftyes`` marks them and
    ``leftno`` goes back to the question's button.
    """

    prefix: ClassVar[str] = "ru"
    requires: ClassVar[Requirement] = HR
    upload_id: int
    action: str

    ACTIONS: ClassVar[frozenset[str]] = frozenset({"apply", "cancel", "left", "leftyes", "leftno"})

    def validate(self) -> None:
        """Only the known actions."""
        if self.action not in self.ACTIONS:
            raise ValueError("unknown action")


def _integer(part: str, low: int, high: int) -> int:
    """``part`` as the bot writes an integer (no sign, spaces or other digits), in range."""
    if not part.isascii() or not part.isdigit() or (part != "0" and part.startswith("0")):
        raise ValueError("not an integer as the bot writes one")
    # At most a 64-byte string: converting it is cheap whatever its value.
    value = int(part)
    if not low <= value <= high:
        raise ValueError("integer out of range")
    return value


def day_of(text: str) -> date:
    """The day ``text`` (``2026-11-23``) names, written as the bot writes it and in range."""
    day = date.fromisoformat(text)
    if day.isoformat() != text or not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError("not a day in YYYY-MM-DD form within range")
    return day


@dataclasses.dataclass(frozen=True)
class CitizenStars(CallbackData):
    """A citizen's stars through a rating code (anyone: citizens are strangers).

    ``mac`` signs the code for the account that opened it; the code's state is read
    again on the press.
    """

    prefix: ClassVar[str] = "ct"
    requires: ClassVar[Requirement] = ANYONE
    code_id: int
    stars: int
    mac: str

    bounds: ClassVar[dict[str, tuple[int, int]]] = {"stars": (1, 10)}

    def validate(self) -> None:
        """A signature is 8 url-safe characters."""
        if not re.fullmatch(r"[A-Za-z0-9_-]{8}", self.mac):
            raise ValueError("malformed signature")


@dataclasses.dataclass(frozen=True)
class CitizenWindow(CallbackData):
    """A new printable code for my service window (the person themself)."""

    prefix: ClassVar[str] = "ctw"
    requires: ClassVar[Requirement] = MEMBERS
    staff_id: int


@dataclasses.dataclass(frozen=True)
class CitizenDecide(CallbackData):
    """Confirm (1) or discard (0) a flagged citizen's rating (HR)."""

    prefix: ClassVar[str] = "ctd"
    requires: ClassVar[Requirement] = HR
    rating_id: int
    confirm: int

    bounds: ClassVar[dict[str, tuple[int, int]]] = {"confirm": (0, 1)}


def parse(data: str | None) -> CallbackData | None:
    """The action behind a button press, or None for anything forged, stale or malformed."""
    if not data or len(data.encode()) > MAX_BYTES:
        return None
    prefix, _, rest = data.partition(":")
    kind = CallbackData.registry.get(prefix)
    if kind is None:
        return None
    try:
        action = kind.unpack(rest.split(":") if rest else [])
        action.validate()
    except (ValueError, TypeError):
        return None
    return action


@dataclasses.dataclass(frozen=True)
class NoticeAudience(CallbackData):
    """Choose which kind of audience a draft notice goes to (HR)."""

    prefix: ClassVar[str] = "nak"
    requires: ClassVar[Requirement] = HR
    notice_id: int
    kind: str

    def validate(self) -> None:
        """Only the known kinds."""
        if self.kind not in AUDIENCE_KINDS:
            raise ValueError("unknown audience kind")


@dataclasses.dataclass(frozen=True)
class NoticeToggle(CallbackData):
    """Add or remove one department, role, post type or status from a draft's audience (HR)."""

    prefix: ClassVar[str] = "nat"
    requires: ClassVar[Requirement] = HR
    notice_id: int
    value: str


@dataclasses.dataclass(frozen=True)
class NoticeChoices(CallbackData):
    """A page of a draft's audience choices, when there are many departments (HR)."""

    prefix: ClassVar[str] = "nap"
    requires: ClassVar[Requirement] = HR
    notice_id: int
    page: int

    bounds: ClassVar[dict[str, tuple[int, int]]] = {"page": (0, MAX_PAGE)}


@dataclasses.dataclass(frozen=True)
class NoticeOption(CallbackData):
    """Move through a draft: audience done, acknowledgement, timing, back (HR)."""

    prefix: ClassVar[str] = "nop"
    requires: ClassVar[Requirement] = HR
    notice_id: int
    option: str

    OPTIONS: ClassVar[frozenset[str]] = frozenset({"done", "ack", "when", "back"})

    def validate(self) -> None:
        """Only the known options."""
        if self.option not in self.OPTIONS:
            raise ValueError("unknown option")


@dataclasses.dataclass(frozen=True)
class NoticeDecision(CallbackData):
    """Send or drop a previewed notice (HR)."""

    prefix: ClassVar[str] = "nde"
    requires: ClassVar[Requirement] = HR
    notice_id: int
    action: str

    def validate(self) -> None:
        """Only send or cancel."""
        if self.action not in ("send", "cancel"):
            raise ValueError("unknown action")


@dataclasses.dataclass(frozen=True)
class Acknowledge(CallbackData):
    """A recipient's "I have read this"."""

    prefix: ClassVar[str] = "ack"
    requires: ClassVar[Requirement] = MEMBERS
    notice_id: int


@dataclasses.dataclass(frozen=True)
class NoticeDetails(CallbackData):
    """Open one past notice's figures (HR)."""

    prefix: ClassVar[str] = "nds"
    requires: ClassVar[Requirement] = HR
    notice_id: int


@dataclasses.dataclass(frozen=True)
class NoticeRemind(CallbackData):
    """Remind the recipients who have not acknowledged a notice (HR)."""

    prefix: ClassVar[str] = "nrm"
    requires: ClassVar[Requirement] = HR
    notice_id: int


@dataclasses.dataclass(frozen=True)
class NoticeExport(CallbackData):
    """Export a notice's delivery list as CSV or XLSX (HR)."""

    prefix: ClassVar[str] = "nex"
    requires: ClassVar[Requirement] = HR
    notice_id: int
    fmt: str

    def validate(self) -> None:
        """Only the two formats."""
        if self.fmt not in ("csv", "xlsx"):
            raise ValueError("unknown format")


@dataclasses.dataclass(frozen=True)
class NoticeList(CallbackData):
    """Back from one notice's details to the list of recent notices (HR)."""

    prefix: ClassVar[str] = "nls"
    requires: ClassVar[Requirement] = HR

    @classmethod
    def pattern(cls) -> re.Pattern[str]:
        """Nothing follows the prefix: the list has no fields."""
        return re.compile(rf"^{re.escape(cls.prefix)}$")


@dataclasses.dataclass(frozen=True)
class ReminderAction(CallbackData):
    """A button on a daily reminder: log now, remind me in an hour, or on leave that day.

    ``day`` (``2026-11-20``) names the day the reminder is about, so a press on an old
    reminder is recognised; the action always applies to the person pressing.
    """

    prefix: ClassVar[str] = "rmd"
    requires: ClassVar[Requirement] = MEMBERS
    day: str
    action: str

    ACTIONS: ClassVar[frozenset[str]] = frozenset({"log", "snooze", "leave"})

    @classmethod
    def of(cls, day: date, action: str) -> ReminderAction:
        """The button of ``action`` on the reminder about ``day``."""
        return cls(day.isoformat(), action)

    @property
    def work_date(self) -> date:
        """The day the reminder is about."""
        return date.fromisoformat(self.day)

    def validate(self) -> None:
        """Only the three actions, on a date written as the bot writes it."""
        if self.action not in self.ACTIONS:
            raise ValueError("unknown action")
        day_of(self.day)


# An indicator id, an ISO date or a word such as "skip": nothing else is ever sent.
_ANSWER = re.compile(r"[a-z0-9_-]{1,32}")


@dataclasses.dataclass(frozen=True)
class LogAnswer(CallbackData):
    """Answer the current /log or edit question: a date, an indicator, skip, done, save, cancel."""

    prefix: ClassVar[str] = "la"
    requires: ClassVar[Requirement] = MEMBERS
    step: str
    value: str

    def validate(self) -> None:
        """Only the conversation's own questions; values are ids or ISO dates."""
        if self.step not in STEPS or not _ANSWER.fullmatch(self.value):
            raise ValueError("unknown step or malformed value")


@dataclasses.dataclass(frozen=True)
class EntryAction(CallbackData):
    """Change or delete one of my entries (the server checks it is mine and still open)."""

    prefix: ClassVar[str] = "ea"
    requires: ClassVar[Requirement] = MEMBERS
    entry_id: int
    action: str

    ACTIONS: ClassVar[frozenset[str]] = frozenset(
        {*STEPS, "delete", "delete_yes", "delete_no"} - {"confirm"}
    )

    def validate(self) -> None:
        """Only the known actions."""
        if self.action not in self.ACTIONS:
            raise ValueError("unknown action")


@dataclasses.dataclass(frozen=True)
class EntryOpen(CallbackData):
    """Show one of my entries with its buttons."""

    prefix: ClassVar[str] = "eo"
    requires: ClassVar[Requirement] = MEMBERS
    entry_id: int


@dataclasses.dataclass(frozen=True)
class MonthPage(CallbackData):
    """A page of my month's record (``month`` as ``2026-11``)."""

    prefix: ClassVar[str] = "mp"
    requires: ClassVar[Requirement] = MEMBERS
    month: str
    page: int

    bounds: ClassVar[dict[str, tuple[int, int]]] = {"page": (0, MAX_PAGE)}

    def validate(self) -> None:
        """A real month within range (the page is checked as it is read)."""
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", self.month):
            raise ValueError("malformed month")
        day_of(self.month + "-01")


@dataclasses.dataclass(frozen=True)
class DayPage(CallbackData):
    """A page of my record of one day (``day`` as ``2026-11-23``)."""

    prefix: ClassVar[str] = "dp"
    requires: ClassVar[Requirement] = MEMBERS
    day: str
    page: int

    bounds: ClassVar[dict[str, tuple[int, int]]] = {"page": (0, MAX_PAGE)}

    def validate(self) -> None:
        """A real date within range (the page is checked as it is read)."""
        day_of(self.day)


@dataclasses.dataclass(frozen=True)
class Decide(CallbackData):
    """Approve (``a``), return (``r``) or reject (``j``) the shown version of an entry.

    Anyone linked may press; ``assessment.approvals`` decides, on every press, whether
    this person may decide this entry (supervisor, delegate, higher up, HR).
    """

    prefix: ClassVar[str] = "ap"
    requires: ClassVar[Requirement] = MEMBERS
    entry_id: int
    version: int
    decision: str

    DECISIONS: ClassVar[dict[str, str]] = {"a": "approve", "r": "return", "j": "reject"}

    def validate(self) -> None:
        """A known decision (the ids are checked as they are read)."""
        if self.decision not in self.DECISIONS:
            raise ValueError("unknown decision")


@dataclasses.dataclass(frozen=True)
class ApproveShown(CallbackData):
    """Approve what a list showed: entries ``first_id``..``last_id`` unchanged since
    ``shown_at`` (Unix seconds), of one author or (``author_id`` 0) all of them."""

    prefix: ClassVar[str] = "as"
    requires: ClassVar[Requirement] = MEMBERS
    first_id: int
    last_id: int
    shown_at: int
    author_id: int

    bounds: ClassVar[dict[str, tuple[int, int]]] = {
        "shown_at": (FIRST_STAMP, LAST_STAMP),
        "author_id": (0, MAX_ID),
    }

    def validate(self) -> None:
        """A real range (each id and the time are checked as they are read)."""
        if self.first_id > self.last_id:
            raise ValueError("bad range")


@dataclasses.dataclass(frozen=True)
class PendingPage(CallbackData):
    """A page of /pending."""

    prefix: ClassVar[str] = "pp"
    requires: ClassVar[Requirement] = MEMBERS
    page: int

    bounds: ClassVar[dict[str, tuple[int, int]]] = {"page": (0, MAX_PAGE)}


@dataclasses.dataclass(frozen=True)
class DigestTime(CallbackData):
    """How approval requests reach me: ``now`` (one by one) or a daily digest (``1700``)."""

    prefix: ClassVar[str] = "dg"
    requires: ClassVar[Requirement] = MEMBERS
    value: str

    CHOICES: ClassVar[tuple[str, ...]] = ("now", "0830", "1200", "1700")

    def validate(self) -> None:
        """One of the offered choices."""
        if self.value not in self.CHOICES:
            raise ValueError("unknown choice")


# An indicator id as the policy writes one (``config.policy`` identifiers).
_INDICATOR = re.compile(r"[a-z][a-z0-9_]{0,31}")
# A period key: a month (``2026-11``) or a quarter (``2026-Q4``).
_PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2]|Q[1-4])")
# Ratings are 1..rating_max, and rating_max is at most 10 (``config.policy.MAX_RATING``).
_RATING_BOUNDS: dict[str, tuple[int, int]] = {"value": (1, 10)}


def _period_key(key: str) -> None:
    if not _PERIOD.fullmatch(key) or not FIRST_DAY.year <= int(key[:4]) <= LAST_DAY.year:
        raise ValueError("malformed period")


@dataclasses.dataclass(frozen=True)
class SelfText(CallbackData):
    """Write or change my self-assessment's text (the next message is the text)."""

    prefix: ClassVar[str] = "sft"
    requires: ClassVar[Requirement] = MEMBERS
    review_id: int


@dataclasses.dataclass(frozen=True)
class SelfOpen(CallbackData):
    """Show my self-assessment as it is saved now."""

    prefix: ClassVar[str] = "sfo"
    requires: ClassVar[Requirement] = MEMBERS
    review_id: int


@dataclasses.dataclass(frozen=True)
class SelfRate(CallbackData):
    """Rate myself on one indicator, on the version of my self-assessment shown."""

    prefix: ClassVar[str] = "sfr"
    requires: ClassVar[Requirement] = MEMBERS
    review_id: int
    version: int
    indicator: str
    value: int

    bounds: ClassVar[dict[str, tuple[int, int]]] = _RATING_BOUNDS

    def validate(self) -> None:
        """An indicator id as the policy writes one (the rest is checked as it is read)."""
        if not _INDICATOR.fullmatch(self.indicator):
            raise ValueError("malformed indicator")


@dataclasses.dataclass(frozen=True)
class ReviewList(CallbackData):
    """A page of my people to review for a period (``2026-11`` or ``2026-Q4``)."""

    prefix: ClassVar[str] = "rvl"
    requires: ClassVar[Requirement] = SUPERVISORS
    period: str
    page: int

    bounds: ClassVar[dict[str, tuple[int, int]]] = {"page": (0, MAX_PAGE)}

    def validate(self) -> None:
        """A period key within range."""
        _period_key(self.period)


@dataclasses.dataclass(frozen=True)
class ReviewOpen(CallbackData):
    """Open one person's review card for a period (the server checks I review them)."""

    prefix: ClassVar[str] = "rvo"
    requires: ClassVar[Requirement] = SUPERVISORS
    period: str
    staff_id: int

    def validate(self) -> None:
        """A period key within range."""
        _period_key(self.period)


@dataclasses.dataclass(frozen=True)
class ReviewRate(CallbackData):
    """Rate a person on one indicator, on the version of the card shown."""

    prefix: ClassVar[str] = "rvr"
    requires: ClassVar[Requirement] = SUPERVISORS
    review_id: int
    version: int
    indicator: str
    value: int

    bounds: ClassVar[dict[str, tuple[int, int]]] = _RATING_BOUNDS

    def validate(self) -> None:
        """An indicator id as the policy writes one."""
        if not _INDICATOR.fullmatch(self.indicator):
            raise ValueError("malformed indicator")


@dataclasses.dataclass(frozen=True)
class ReviewPoints(CallbackData):
    """Give bonus (``b``), deduction (``d``) or disqualifying deduction (``q``) points:
    the next message is the number and the reason."""

    prefix: ClassVar[str] = "rvp"
    requires: ClassVar[Requirement] = SUPERVISORS
    review_id: int
    version: int
    kind: str

    KINDS: ClassVar[dict[str, str]] = {"b": "bonus", "d": "deduction", "q": "disqualifying"}

    def validate(self) -> None:
        """A known kind."""
        if self.kind not in self.KINDS:
            raise ValueError("unknown kind")


@dataclasses.dataclass(frozen=True)
class ReviewSignOff(CallbackData):
    """Sign off the version of the review shown."""

    prefix: ClassVar[str] = "rvs"
    requires: ClassVar[Requirement] = SUPERVISORS
    review_id: int
    version: int


# Grades a calibration button may name: their place in the policy's [[grades]].
MAX_GRADES = 32


@dataclasses.dataclass(frozen=True)
class ResultsOverview(CallbackData):
    """A period's results across the organisation, a page of its departments (HR)."""

    prefix: ClassVar[str] = "rso"
    requires: ClassVar[Requirement] = HR
    period_id: int
    page: int

    bounds: ClassVar[dict[str, tuple[int, int]]] = {"page": (0, MAX_PAGE)}


@dataclasses.dataclass(frozen=True)
class ResultsDepartment(CallbackData):
    """One department's results of a period, a page of its people (HR)."""

    prefix: ClassVar[str] = "rsd"
    requires: ClassVar[Requirement] = HR
    period_id: int
    department_id: int
    page: int

    bounds: ClassVar[dict[str, tuple[int, int]]] = {"page": (0, MAX_PAGE)}


@dataclasses.dataclass(frozen=True)
class ResultsPerson(CallbackData):
    """One person's result of a period, with the calibration buttons (HR)."""

    prefix: ClassVar[str] = "rsc"
    requires: ClassVar[Requirement] = HR
    period_id: int
    staff_id: int


@dataclasses.dataclass(frozen=True)
class ResultsGrade(CallbackData):
    """Give a person the grade at ``grade`` in the policy's list, the score's ``version``
    as shown; the reason is asked next (HR)."""

    prefix: ClassVar[str] = "rsg"
    requires: ClassVar[Requirement] = HR
    period_id: int
    staff_id: int
    version: int
    grade: int

    bounds: ClassVar[dict[str, tuple[int, int]]] = {"grade": (0, MAX_GRADES - 1)}


@dataclasses.dataclass(frozen=True)
class ResultsExclude(CallbackData):
    """Leave an unreviewed person out of the publication; the reason is asked next (HR)."""

    prefix: ClassVar[str] = "rsx"
    requires: ClassVar[Requirement] = HR
    period_id: int
    staff_id: int


@dataclasses.dataclass(frozen=True)
class ResultsPublish(CallbackData):
    """Publish a period's results as shown (its ``version``): ``now``, or ``later`` (the
    time is asked next) (HR)."""

    prefix: ClassVar[str] = "rsp"
    requires: ClassVar[Requirement] = HR
    period_id: int
    version: int
    when: str

    def validate(self) -> None:
        """Only now or later."""
        if self.when not in ("now", "later"):
            raise ValueError("unknown choice")


@dataclasses.dataclass(frozen=True)
class ResultsCalibrate(CallbackData):
    """Start the period's calibration now, before its day, as shown (its ``version``):
    ``confirmed`` 0 asks first, 1 starts it (HR)."""

    prefix: ClassVar[str] = "rsk"
    requires: ClassVar[Requirement] = HR
    period_id: int
    version: int
    confirmed: int

    bounds: ClassVar[dict[str, tuple[int, int]]] = {"confirmed": (0, 1)}


@dataclasses.dataclass(frozen=True)
class ResultsQuota(CallbackData):
    """Approve (``approve`` 1) or withdraw (0) the quota's wider top-grade share for a
    period's scope, a department or (``department_id`` 0) the organisation; the reason is
    asked next (an administrator)."""

    prefix: ClassVar[str] = "rsq"
    requires: ClassVar[Requirement] = QUOTA_APPROVERS
    period_id: int
    department_id: int
    approve: int

    bounds: ClassVar[dict[str, tuple[int, int]]] = {
        "department_id": (0, MAX_ID),
        "approve": (0, 1),
    }


@dataclasses.dataclass(frozen=True)
class ScoreRead(CallbackData):
    """The person's "I have read it" under their score notice of a period (only their own:
    the server looks the result up by who presses)."""

    prefix: ClassVar[str] = "srd"
    requires: ClassVar[Requirement] = MEMBERS
    period_id: int


# Third-party evaluators (issue 14, part 3): "tp" prefixes. The evaluator is a stranger
# to the roster, so their presses pass the gate as anyone's (``ANYONE``); each handler
# re-checks the press against the evaluator's binding to the very account pressing.


@dataclasses.dataclass(frozen=True)
class ThirdPartyList(CallbackData):
    """A page of the people a third-party evaluator rates (the evaluator bound to the
    account pressing, re-checked)."""

    prefix: ClassVar[str] = "tpl"
    requires: ClassVar[Requirement] = ANYONE
    evaluator_id: int
    page: int

    bounds: ClassVar[dict[str, tuple[int, int]]] = {"page": (0, MAX_PAGE)}


@dataclasses.dataclass(frozen=True)
class ThirdPartyOpen(CallbackData):
    """One person's rating card for a third-party evaluator (re-checked)."""

    prefix: ClassVar[str] = "tpo"
    requires: ClassVar[Requirement] = ANYONE
    evaluator_id: int
    staff_id: int


@dataclasses.dataclass(frozen=True)
class ThirdPartyRate(CallbackData):
    """A third-party evaluator's rating of one indicator of one person (re-checked)."""

    prefix: ClassVar[str] = "tpr"
    requires: ClassVar[Requirement] = ANYONE
    evaluator_id: int
    staff_id: int
    indicator_id: str
    value: int

    bounds: ClassVar[dict[str, tuple[int, int]]] = _RATING_BOUNDS

    def validate(self) -> None:
        """Only an indicator id's shape (the policy's rule for ids)."""
        if not _INDICATOR.fullmatch(self.indicator_id):
            raise ValueError("not an indicator id")


@dataclasses.dataclass(frozen=True)
class ThirdPartyDepartment(CallbackData):
    """Add a department to a drafted evaluator's scope or take it out; ``page`` is the
    page of departments shown (HR)."""

    prefix: ClassVar[str] = "tpd"
    requires: ClassVar[Requirement] = HR
    evaluator_id: int
    department_id: int
    page: int

    bounds: ClassVar[dict[str, tuple[int, int]]] = {"page": (0, MAX_PAGE)}


@dataclasses.dataclass(frozen=True)
class ThirdPartyDepartments(CallbackData):
    """A page of the departments to choose for a drafted evaluator (HR)."""

    prefix: ClassVar[str] = "tpg"
    requires: ClassVar[Requirement] = HR
    evaluator_id: int
    page: int

    bounds: ClassVar[dict[str, tuple[int, int]]] = {"page": (0, MAX_PAGE)}


@dataclasses.dataclass(frozen=True)
class ThirdPartyIssue(CallbackData):
    """Issue a drafted evaluator's one-time link (HR)."""

    prefix: ClassVar[str] = "tpi"
    requires: ClassVar[Requirement] = HR
    evaluator_id: int


@dataclasses.dataclass(frozen=True)
class ThirdPartyRevoke(CallbackData):
    """Revoke an evaluator: ``confirmed`` 0 asks first, 1 revokes (HR)."""

    prefix: ClassVar[str] = "tpx"
    requires: ClassVar[Requirement] = HR
    evaluator_id: int
    confirmed: int

    bounds: ClassVar[dict[str, tuple[int, int]]] = {"confirmed": (0, 1)}


@dataclasses.dataclass(frozen=True)
class PeerRate(CallbackData):
    """A peer's rating of one indicator on their request (the server checks that the
    request is the presser's own, and open, on every press)."""

    prefix: ClassVar[str] = "prr"
    requires: ClassVar[Requirement] = MEMBERS
    request_id: int
    indicator: str
    value: int

    bounds: ClassVar[dict[str, tuple[int, int]]] = _RATING_BOUNDS

    def validate(self) -> None:
        """An indicator id as the policy writes one."""
        if not _INDICATOR.fullmatch(self.indicator):
            raise ValueError("malformed indicator")


@dataclasses.dataclass(frozen=True)
class PeerShow(CallbackData):
    """Show a peer's request again as it stands (an indicator's name was pressed)."""

    prefix: ClassVar[str] = "prs"
    requires: ClassVar[Requirement] = MEMBERS
    request_id: int


@dataclasses.dataclass(frozen=True)
class BonusPublish(CallbackData):
    """Publish a previewed bonus run and notify everyone it pays (HR)."""

    prefix: ClassVar[str] = "bnp"
    requires: ClassVar[Requirement] = HR
    run_id: int


@dataclasses.dataclass(frozen=True)
class BonusDiscard(CallbackData):
    """Set a previewed bonus run aside (HR)."""

    prefix: ClassVar[str] = "bnx"
    requires: ClassVar[Requirement] = HR
    run_id: int


@dataclasses.dataclass(frozen=True)
class BonusWithdraw(CallbackData):
    """Withdraw an allowance (its id); the reason is asked next (HR; the server checks
    again that it is in force and that no run of its period is published)."""

    prefix: ClassVar[str] = "bnw"
    requires: ClassVar[Requirement] = HR
    allowance_id: int


@dataclasses.dataclass(frozen=True)
class BonusCorrect(CallbackData):
    """Preview the correction of a result a case changed after run ``paid_by`` of its
    period was published (HR; refused once a later run is published)."""

    prefix: ClassVar[str] = "bnc"
    requires: ClassVar[Requirement] = HR
    case_id: int
    paid_by: int


@dataclasses.dataclass(frozen=True)
class RecordExport(CallbackData):
    """HR's XLSX of one person's career record (the server checks HR again)."""

    prefix: ClassVar[str] = "anx"
    requires: ClassVar[Requirement] = HR
    staff_id: int


# Review (复核) and appeal (申诉): the ``av`` prefixes.
APPEAL_KINDS = frozenset({"review", "appeal"})


@dataclasses.dataclass(frozen=True)
class AppealAsk(CallbackData):
    """Ask for review of (or appeal) my published result of a period; the reason is asked
    next (only my own: the server looks the result up by who presses)."""

    prefix: ClassVar[str] = "ava"
    requires: ClassVar[Requirement] = MEMBERS
    period_id: int
    kind: str

    def validate(self) -> None:
        """Only the two kinds of case."""
        if self.kind not in APPEAL_KINDS:
            raise ValueError("unknown kind of case")


@dataclasses.dataclass(frozen=True)
class AppealOpen(CallbackData):
    """Open a case to decide it (HR or the head; the server checks which decides it)."""

    prefix: ClassVar[str] = "avo"
    requires: ClassVar[Requirement] = HR
    case_id: int


@dataclasses.dataclass(frozen=True)
class AppealDecide(CallbackData):
    """Decide a case as shown at ``version``: ``choice`` 0 upholds the result, ``n`` gives
    the ``n``-th grade of the policy's list; the reason is asked next."""

    prefix: ClassVar[str] = "avd"
    requires: ClassVar[Requirement] = HR
    case_id: int
    version: int
    choice: int

    bounds: ClassVar[dict[str, tuple[int, int]]] = {"choice": (0, MAX_GRADES)}


@dataclasses.dataclass(frozen=True)
class AppealExtend(CallbackData):
    """Put an appeal's decision back once, as shown at ``version``; the reason is asked next."""

    prefix: ClassVar[str] = "avx"
    requires: ClassVar[Requirement] = HR
    case_id: int
    version: int


@dataclasses.dataclass(frozen=True)
class AppealApprove(CallbackData):
    """Approve the wider top-grade share for an open case's scope and period (an
    administrator); the reason is asked next."""

    prefix: ClassVar[str] = "avq"
    requires: ClassVar[Requirement] = QUOTA_APPROVERS
    case_id: int


@dataclasses.dataclass(frozen=True)
class AppealScore(CallbackData):
    """Change a case's score, as shown at ``version``; the new score and the reason are
    asked next."""

    prefix: ClassVar[str] = "avs"
    requires: ClassVar[Requirement] = HR
    case_id: int
    version: int


# A period as a button names it: a month (2026-11) or a quarter (2026-Q4).
_PERIOD_KEY = re.compile(r"\d{4}-(0[1-9]|1[0-2]|Q[1-4])")


@dataclasses.dataclass(frozen=True)
class ExportRun(CallbackData):
    """Build an export of a period, ``kind`` (``ledger``, ``scores``...) in ``fmt``, and
    send it as a document (HR)."""

    prefix: ClassVar[str] = "exr"
    requires: ClassVar[Requirement] = HR
    kind: str
    period: str
    fmt: str

    def validate(self) -> None:
        """Only a kind of export there is, a period key, and the two formats."""
        if self.kind not in SOURCES or self.fmt not in FORMATS:
            raise ValueError("unknown export")
        if not _PERIOD_KEY.fullmatch(self.period):
            raise ValueError("not a period key")
