"""The sandbox's demo organisation: a district bureau of 30 people, built through the rules.

What it holds (``PEOPLE`` below is the roster):

- **Three departments of three post types**: the bureau office (办公室, management: the
  director, an HR officer, clerks and a second-line adviser, 调研员, reviewed against the
  management indicators), the law-enforcement brigade (综合执法大队: a captain, a deputy
  who leads a squad of their own, ten officers) and the service section (政务服务科: a
  section chief and eleven window clerks). Supervisors are whoever has reports; one
  officer is on leave for the last three workdays.
- **Everyone joined**: an emulated Telegram user each (``demo_people``: ids 700001
  upwards, first and last names, app languages ``en``, ``zh-hans`` and ``zh-hant``),
  linked through an invitation.
- **Entries in Chinese and English**: over the last 22 workdays about an eighth of the
  people log each day (guided entries with an indicator, a quantity and hours, or plain
  quick logs); before that, everyone logs a summary in the middle and at the end of each
  month (with the month's rates); all dated on the work calendar's workdays.
  Supervisors approve in bulk once a week (every fifth workday), as they would from
  /pending (HR the director's entries); the last workday's and today's entries wait, one entry is
  returned and one rejected (with their reasons).
- **The monthly check**: the period two periods back is complete (self-assessments,
  reviews with ratings and points, scored, graded within the quota, the director left
  out by HR as assessed by the district, published: everyone else has a score notice);
  the previous period is as far as today's date takes it: a third of the people have
  written their self-assessment (from its self-assessment day), and from the supervisor
  review's first day the deputy captain, then the director, sign off theirs.

How it is built: the history is played in order, from a few days before the published
period to the bot clock's now, each step calling the same domain code a handler or a
command would, with the moment it happens (``now``/``today`` of that step): the roster
import (``assessment.roster``), invitations issued and redeemed, ``quick_log`` and
``stage_many`` (``stage_new``'s batch form, the /log path), ``approve_shown`` and
``decide``, ``set_leave``,
``self_card``/``self_assess``/``rate_many``/``add_points``/``sign_off``, and HR's
``exclude``/``refresh``/``publish``/``queue_notices``. The bot's clock is only read.

What the chats show afterwards: decisions older than the last approval round are not
told (their notices are not queued: the render of the decision path returns None, as it
does for someone without a chat); the last round's approvals, the return and the
rejection are told, the published period's score notices wait in the outbox, and each
person's command menu is queued. Approval requests are not queued here: the running
bot's requests job puts what waits before the supervisors when it starts.

Call ``build_demo`` once, on an empty store, after the application's ``post_init``.
"""

from __future__ import annotations

import csv
import functools
import io
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as time_of_day
from decimal import Decimal
from typing import Literal

from assessment import results, review
from assessment.approvals import AuthorNotice, Decided, Decision, approve_shown, decide
from assessment.calendar import WorkCalendar, set_leave
from assessment.entries import EntryView, NewEntry, Rules, quick_log, stage_many
from assessment.invitations import LinkOutcome, invite, redeem
from assessment.menus import queue_menus
from assessment.outbox import Outgoing
from assessment.people import StaffMember
from assessment.periods import Period, is_closed, milestones, period_of
from assessment.roster import parse_roster
from assessment.roster_import import import_roster
from handlers.approval_messages import render_closing, render_notice
from handlers.context import BotData

__all__ = [
    "DEMO_FIRST_TELEGRAM_ID",
    "DEMO_ROSTER_NAME",
    "DEMO_TELEGRAM_IDS",
    "DemoPerson",
    "DemoStoreNotEmptyError",
    "DemoSummary",
    "build_demo",
    "demo_people",
    "demo_roster",
]

log = logging.getLogger(__name__)

# The first emulated Telegram user id of the demo; people are numbered upwards from it.
DEMO_FIRST_TELEGRAM_ID = 700001
# The file name the demo's roster is imported as (what the audit's roster.imported names).
DEMO_ROSTER_NAME = "demo-roster.csv"
# Workdays (up to today) with daily entries; before them, a summary twice a month.
DAILY_WORKDAYS = 22
# How likely someone logs on a day of those (the director: half as likely).
_DAILY_CHANCE = 0.12
# Supervisors approve what waits every this many workdays (and at each month's end).
_ROUND_EVERY = 5
# The roster is imported this many days before the published period begins.
_JOINED_BEFORE = 3

_OFFICE, _BRIGADE, _SERVICE = "办公室", "综合执法大队", "政务服务科"


class DemoStoreNotEmptyError(RuntimeError):
    """``build_demo`` was given a store with people in it; nothing was written."""


@dataclass(frozen=True)
class DemoPerson:
    """An emulated Telegram user of the demo, as the sandbox sends as them."""

    telegram_user_id: int
    first_name: str
    last_name: str
    language_code: str  # as a Telegram app sends it: en, zh-hans, zh-hant
    employee_no: str


@dataclass(frozen=True)
class DemoSummary:
    """What the demo made, counted, for the sandbox's start-up line."""

    people: int
    departments: int
    entries_approved: int
    entries_pending: int
    entries_returned: int
    entries_rejected: int
    periods: int
    seconds: float = 0.0  # how long the build took (wall time, monotonic)

    @property
    def entries(self) -> int:
        """Every entry written."""
        return (
            self.entries_approved
            + self.entries_pending
            + self.entries_returned
            + self.entries_rejected
        )


@dataclass(frozen=True)
class _Person:
    employee_no: str
    name: str
    first_name: str
    last_name: str
    department: str
    post: str
    post_type: str
    difficulty: str
    supervisor_no: str
    roles: str
    locale: str  # the roster's language: en, zh_Hans, zh_Hant
    status: str = "active"
    skill: float = 0.9  # how much of a full month's work their entries show


def _p(
    no: str, name: str, department: str, post: str, post_type: str, difficulty: str,
    supervisor: str, locale: str, *, skill: float, roles: str = "", status: str = "active",
    first: str | None = None, last: str | None = None,
) -> _Person:  # fmt: skip
    if first is None or last is None:
        last, first = name[0], name[1:]
    return _Person(
        no, name, first, last, department, post, post_type, difficulty, supervisor, roles,
        locale, status, skill,
    )  # fmt: skip


_S, _T, _E = "zh_Hans", "zh_Hant", "en"
_LE, _SV, _MG = "law_enforcement", "service", "management"

# The roster, in the order of the emulated Telegram ids (700001 upwards).
PEOPLE: tuple[_Person, ...] = (
    _p("A01", "周建国", _OFFICE, "局长", _MG, "1.50", "", _S, skill=0.9, roles="staff;admin"),
    _p("A02", "林晓燕", _OFFICE, "人事专员", _MG, "1.10", "A01", _S, skill=0.92, roles="staff;hr"),
    _p("A03", "Grace Liu", _OFFICE, "综合文秘", _MG, "1.00", "A01", _E, skill=0.97,
       first="Grace", last="Liu"),
    _p("A04", "陳志明", _OFFICE, "调研员", _MG, "1.00", "A01", _T, skill=0.8,
       status="second_line"),
    _p("A05", "王丽", _OFFICE, "综合文秘", _MG, "1.00", "A01", _S, skill=0.85),
    _p("A06", "孙浩", _OFFICE, "综合文秘", _MG, "1.00", "A01", _S, skill=0.7),
    _p("B01", "赵刚", _BRIGADE, "大队长", _LE, "1.40", "A01", _S, skill=0.95),
    _p("B02", "黃美玲", _BRIGADE, "副大队长", _LE, "1.25", "B01", _T, skill=0.93),
    _p("B03", "刘洋", _BRIGADE, "执法队员", _LE, "1.15", "B02", _S, skill=1.0),
    _p("B04", "陈静", _BRIGADE, "执法队员", _LE, "1.15", "B02", _S, skill=0.88),
    _p("B05", "Alex Chen", _BRIGADE, "执法队员", _LE, "1.15", "B02", _E, skill=0.83,
       first="Alex", last="Chen"),
    _p("B06", "杨帆", _BRIGADE, "执法队员", _LE, "1.15", "B02", _S, skill=0.75),
    _p("B07", "吴磊", _BRIGADE, "执法队员", _LE, "1.15", "B01", _S, skill=0.98),
    _p("B08", "郑敏", _BRIGADE, "执法队员", _LE, "1.15", "B01", _S, skill=0.9),
    _p("B09", "許家豪", _BRIGADE, "执法队员", _LE, "1.15", "B01", _T, skill=0.66),
    _p("B10", "何伟", _BRIGADE, "执法队员", _LE, "1.15", "B01", _S, skill=0.86),
    _p("B11", "马超", _BRIGADE, "执法队员", _LE, "1.15", "B01", _S, skill=0.8),
    _p("B12", "宋佳", _BRIGADE, "执法队员", _LE, "1.15", "B01", _S, skill=0.9),
    _p("C01", "李娜", _SERVICE, "科长", _SV, "1.30", "A01", _S, skill=0.94),
    _p("C02", "张婷", _SERVICE, "窗口受理员", _SV, "1.00", "C01", _S, skill=1.0),
    _p("C03", "王芳", _SERVICE, "窗口受理员", _SV, "1.00", "C01", _S, skill=0.9),
    _p("C04", "刘畅", _SERVICE, "窗口受理员", _SV, "1.00", "C01", _S, skill=0.82),
    _p("C05", "陈晨", _SERVICE, "窗口受理员", _SV, "1.00", "C01", _S, skill=0.95),
    _p("C06", "冯雪", _SERVICE, "窗口受理员", _SV, "1.00", "C01", _S, skill=0.7),
    _p("C07", "Emily Wong", _SERVICE, "窗口受理员", _SV, "1.00", "C01", _E, skill=0.88,
       first="Emily", last="Wong"),
    _p("C08", "鄭雅文", _SERVICE, "窗口受理员", _SV, "1.00", "C01", _T, skill=0.92),
    _p("C09", "朱琳", _SERVICE, "窗口受理员", _SV, "1.00", "C01", _S, skill=0.78),
    _p("C10", "胡斌", _SERVICE, "窗口受理员", _SV, "1.00", "C01", _S, skill=0.85),
    _p("C11", "徐慧", _SERVICE, "窗口受理员", _SV, "1.00", "C01", _S, skill=0.73),
    _p("C12", "高远", _SERVICE, "窗口受理员", _SV, "1.00", "C01", _S, skill=0.96),
)  # fmt: skip

_DIRECTOR, _HR = "A01", "A02"
# On leave for the last three workdays up to today, recorded by their supervisor.
_ON_LEAVE = "B12"
# An entry of each is returned (with a reason) and rejected, by the supervisor.
_RETURNED, _REJECTED = "B05", "C07"
# ...one of the days before the last approval round within this many days of today.
_FLAG_DAYS = 12
# Who has not logged today, whatever the time (someone for the 17:30 reminder).
_NOT_TODAY = frozenset({"B06", "C04", "C09", "A06"})
_TELEGRAM_CODES = {_S: "zh-hans", _T: "zh-hant", _E: "en"}


def demo_people() -> tuple[DemoPerson, ...]:
    """The emulated Telegram users of the demo, in roster order (ids 700001 upwards)."""
    return tuple(
        DemoPerson(
            DEMO_FIRST_TELEGRAM_ID + index,
            person.first_name,
            person.last_name,
            _TELEGRAM_CODES[person.locale],
            person.employee_no,
        )
        for index, person in enumerate(PEOPLE)
    )


# The emulated users' Telegram ids, in roster order.
DEMO_TELEGRAM_IDS: tuple[int, ...] = tuple(
    DEMO_FIRST_TELEGRAM_ID + index for index in range(len(PEOPLE))
)


def demo_roster() -> bytes:
    """The demo's roster as HR would save it: a UTF-8 CSV with the roster's columns."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["employee_no", "name", "department", "post", "post_type", "difficulty",
         "supervisor_no", "roles", "language", "status"]
    )  # fmt: skip
    for p in PEOPLE:
        writer.writerow(
            [p.employee_no, p.name, p.department, p.post, p.post_type, p.difficulty,
             p.supervisor_no, p.roles, p.locale, p.status]
        )  # fmt: skip
    return out.getvalue().encode("utf-8")


# --- What people write --------------------------------------------------------------------------

# (indicator or None for a quick log, text with {n}, daily quantity range, hours range)
# per post type and language; the first is the counted indicator, summed up by a
# summary over the workdays it covers.
_Work = tuple[str | None, str, tuple[int, int], tuple[float, float]]

_WORK: dict[str, dict[str, tuple[_Work, ...]]] = {
    _LE: {
        _S: (
            ("cases_handled", "办理占道经营、乱堆物料案件{n}起，已全部现场处置", (1, 4), (3, 6)),
            ("cases_handled", "查处违规户外广告{n}处，下达整改通知书", (1, 3), (2, 5)),
            ("case_closure_rate", "本周辖区案件办结率{n}%", (88, 100), (1, 2)),
            (None, "夜间巡查城区主干道及夜市，劝导流动摊贩", (0, 0), (0, 0)),
            (None, "参加执法规范化培训，学习新修订的行政处罚法", (0, 0), (0, 0)),
        ),
        _T: (
            ("cases_handled", "辦理佔道經營、亂堆物料案件{n}起，已全部現場處置", (1, 4), (3, 6)),
            ("cases_handled", "查處違規戶外廣告{n}處，下達整改通知書", (1, 3), (2, 5)),
            ("case_closure_rate", "本週轄區案件辦結率{n}%", (88, 100), (1, 2)),
            (None, "夜間巡查城區主幹道及夜市，勸導流動攤販", (0, 0), (0, 0)),
            (None, "參加執法規範化培訓，學習新修訂的行政處罰法", (0, 0), (0, 0)),
        ),
        _E: (
            ("cases_handled", "Handled {n} street-vending and obstruction cases on site", (1, 4),
             (3, 6)),
            ("cases_handled", "Removed {n} illegal billboards and issued rectification notices",
             (1, 3), (2, 5)),
            ("case_closure_rate", "Case closure rate in my district this week: {n}%", (88, 100),
             (1, 2)),
            (None, "Night patrol of the main roads and the night market", (0, 0), (0, 0)),
            (None, "Training on the revised Administrative Penalty Law", (0, 0), (0, 0)),
        ),
    },
    _SV: {
        _S: (
            ("permits_processed", "窗口受理营业执照、食品经营许可申请{n}件", (6, 14), (4, 7)),
            ("permits_processed", "办结不动产登记及社保转移事项{n}件", (4, 10), (3, 6)),
            ("on_time_completion", "本周受理事项按时办结率{n}%", (93, 100), (1, 2)),
            (None, "整理本周“好差评”群众意见并逐条回访", (0, 0), (0, 0)),
            (None, "为行动不便的老人提供上门帮办服务", (0, 0), (0, 0)),
            ("service_innovations", "推出便民服务新举措{n}项（预约办、帮办）", (2, 5), (2, 4)),
        ),
        _T: (
            ("permits_processed", "窗口受理營業執照、食品經營許可申請{n}件", (6, 14), (4, 7)),
            ("permits_processed", "辦結不動產登記及社保轉移事項{n}件", (4, 10), (3, 6)),
            ("on_time_completion", "本週受理事項按時辦結率{n}%", (93, 100), (1, 2)),
            (None, "整理本週「好差評」民眾意見並逐條回訪", (0, 0), (0, 0)),
            (None, "為行動不便的長者提供上門幫辦服務", (0, 0), (0, 0)),
            ("service_innovations", "推出便民服務新舉措{n}項（預約辦、幫辦）", (2, 5), (2, 4)),
        ),
        _E: (
            ("permits_processed", "Processed {n} business licence and food permit applications",
             (6, 14), (4, 7)),
            ("permits_processed", "Completed {n} property registrations and pension transfers",
             (4, 10), (3, 6)),
            ("on_time_completion", "On-time completion this week: {n}%", (93, 100), (1, 2)),
            (None, "Followed up this week's citizen ratings, one by one", (0, 0), (0, 0)),
            (None, "Home visit to help an elderly applicant complete her forms", (0, 0), (0, 0)),
            ("service_innovations", "Launched {n} new services (weekend appointments, assisted "
             "filing)", (2, 5), (2, 4)),
        ),
    },
    _MG: {
        _S: (
            ("documents_drafted", "起草通知、会议纪要及工作简报{n}篇", (2, 5), (2, 5)),
            ("documents_drafted", "审核修改各科室报送材料{n}篇", (1, 4), (1, 3)),
            ("policy_execution_deviation", "本周政策执行督查偏差率{n}%", (0, 6), (1, 2)),
            (None, "组织召开周例会，跟进各科室重点工作进度", (0, 0), (0, 0)),
            (None, "协调执法大队与政务服务科联合整治事项", (0, 0), (0, 0)),
        ),
        _T: (
            ("documents_drafted", "起草通知、會議紀要及工作簡報{n}篇", (2, 5), (2, 5)),
            ("documents_drafted", "審核修改各科室報送材料{n}篇", (1, 4), (1, 3)),
            ("policy_execution_deviation", "本週政策執行督查偏差率{n}%", (0, 6), (1, 2)),
            (None, "組織召開週例會，跟進各科室重點工作進度", (0, 0), (0, 0)),
            (None, "協調執法大隊與政務服務科聯合整治事項", (0, 0), (0, 0)),
        ),
        _E: (
            ("documents_drafted", "Drafted {n} notices, minutes and briefings", (2, 5), (2, 5)),
            ("documents_drafted", "Reviewed and edited {n} reports from the sections", (1, 4),
             (1, 3)),
            ("policy_execution_deviation", "Policy execution deviation found this week: {n}%",
             (0, 6), (1, 2)),
            (None, "Ran the weekly meeting and followed up the sections' priorities", (0, 0),
             (0, 0)),
            (None, "Coordinated a joint campaign of the brigade and the service section", (0, 0),
             (0, 0)),
        ),
    },
}  # fmt: skip

# What a summary entry (older history) begins with.
_SUMMARY = {_S: "半月小结：", _T: "半月小結：", _E: "Fortnight summary: "}

_SELF_TEXT = {
    _S: (
        "本月按计划完成各项工作任务，{focus}。不足之处是业务学习时间偏少，下月加强。",
        "本月工作量较大，{focus}，群众反映良好。下月继续提高办事效率。",
    ),
    _T: ("本月按計劃完成各項工作任務，{focus}。不足之處是業務學習時間偏少，下月加強。",),
    _E: (
        "I completed my planned work this month; {focus}. I want to spend more time on "
        "training next month.",
    ),
}
_FOCUS = {
    (_LE, _S): "重点参与了夜市周边环境专项整治",
    (_LE, _T): "重點參與了夜市周邊環境專項整治",
    (_LE, _E): "my focus was the night-market clean-up campaign",
    (_SV, _S): "窗口业务零差错，推行了预约办理",
    (_SV, _T): "窗口業務零差錯，推行了預約辦理",
    (_SV, _E): "I made no errors at the counter and helped launch appointments",
    (_MG, _S): "按时完成了各类文稿和督查任务",
    (_MG, _T): "按時完成了各類文稿和督查任務",
    (_MG, _E): "I delivered every document and inspection on time",
}
# Points a supervisor gives some of their people (kind, the message typed after the button).
_POINTS: dict[str, tuple[review.PointsKind, str]] = {
    "B03": ("bonus", "3 牵头完成夜市周边环境专项整治"),
    "C02": ("bonus", "2 获评市级“服务之星”"),
    "B09": ("deduction", "2 执法记录仪未按规定全程开启"),
    "C06": ("deduction", "1 窗口迟到两次"),
    "A03": ("bonus", "2 Drafted the bureau's annual report ahead of time"),
}
_RETURN_REASON = "案件数量与系统记录不符，请核实后修改再提交。"
_REJECT_REASON = "这是个人事务，不属于本岗位工作内容。"
_EXCLUDE_REASON = "局长由区政府考核，不参加本局月度考核。"


# --- Building ------------------------------------------------------------------------------------


_Event = tuple[datetime, Callable[[], Awaitable[None]]]
_Day = Literal["daily", "summary", "month_end"]


@dataclass
class _Counts:
    written: int = 0
    approved: int = 0
    returned: int = 0
    rejected: int = 0


def _silent(_notice: AuthorNotice) -> Outgoing | None:
    """A decision long past: its author read the news at the time; nothing is queued now."""
    return None


class _Build:
    """One playing of the demo's history against the store (see the module's docstring)."""

    def __init__(self, data: BotData) -> None:
        self.data = data
        self.policy = data.policy
        self.zone = data.settings.zone
        self.database = data.database
        self.now = data.clock.now()
        self.today = self.now.astimezone(self.zone).date()
        self.calendar = WorkCalendar(self.policy)
        self.members: dict[str, StaffMember] = {}
        self.by_id: dict[int, _Person] = {}
        self.counts = _Counts()
        # (entry id, author's employee number, work date, version) in the order written.
        self.entries: list[tuple[int, str, date, int]] = []
        self.flagged: dict[str, tuple[int, int] | None] = {_RETURNED: None, _REJECTED: None}
        self.default = data.settings.language
        self.close = functools.partial(render_closing, self.default, self.zone)
        self.periods = 0
        self.last_round = self.today
        self.undecided: set[int] = set()
        # Each review's version as this build left it (nobody else changes them).
        self.versions: dict[int, int] = {}

    def at(self, day: date, hour: int, minute: int = 0) -> datetime:
        """That local moment, as the UTC moment the rules take."""
        return datetime.combine(day, time_of_day(hour, minute), self.zone).astimezone(
            self.now.tzinfo
        )

    def past(self, moment: datetime) -> bool:
        """Whether ``moment`` has happened by the clock's now."""
        return moment < self.now

    def rules(self, day: date) -> Rules:
        return Rules(self.policy, self.calendar, day, self.zone)

    # --- people --------------------------------------------------------------------------

    async def join(self, day: date) -> None:
        """HR imports the roster and invites everyone; each opens their link."""
        moment = self.at(day, 9)
        roster = parse_roster(demo_roster(), DEMO_ROSTER_NAME, self.policy)
        async with self.database.uow() as uow:
            if await uow.roster.people_after(None, 1):
                raise DemoStoreNotEmptyError(
                    "the store already has people: the demo is built only into an empty one"
                )
            await import_roster(uow, roster, actor_staff_id=None, now=moment)
        ttl = timedelta(days=self.policy.invites.ttl_days)
        async with self.database.uow() as uow:
            issued = await invite(
                uow, [p.employee_no for p in PEOPLE], actor_staff_id=None, ttl=ttl, now=moment
            )
        codes = {invitation.employee_no: invitation.code for invitation in issued}
        max_failures = self.policy.invites.max_failed_attempts_per_hour
        for index, person in enumerate(PEOPLE):
            opened = moment + timedelta(minutes=5 + index)
            async with self.database.uow() as uow:
                linked = await redeem(
                    uow,
                    codes[person.employee_no],
                    DEMO_FIRST_TELEGRAM_ID + index,
                    now=opened,
                    max_failures=max_failures,
                )
            if linked.outcome is not LinkOutcome.LINKED or linked.member is None:
                raise RuntimeError(f"demo: {person.employee_no} could not join ({linked.outcome})")
            self.members[person.employee_no] = linked.member
            self.by_id[linked.member.id] = person

    def supervisors(self) -> list[StaffMember]:
        """Whoever has reports, as the roster import made them supervisors."""
        heads = {person.supervisor_no for person in PEOPLE if person.supervisor_no}
        return [self.members[no] for no in sorted(heads)]

    # --- entries -------------------------------------------------------------------------

    async def log_day(self, day: date, kind: _Day, *, covers: int, leave: set[date]) -> None:
        """The entries of one workday, written at its end: on a ``daily`` day some people
        log one thing each; on a ``summary`` day (older history) everyone logs the work of
        the ``covers`` workdays since the last one, at the ``month_end`` the rates too."""
        guided: list[tuple[_Person, NewEntry, datetime]] = []
        quick: list[tuple[_Person, str, datetime]] = []
        for index, person in enumerate(PEOPLE):
            if person.employee_no == _ON_LEAVE and day in leave:
                continue
            if day == self.today and person.employee_no in _NOT_TODAY:
                continue
            # Deterministic per person and day: the same demo on the same date.
            chance = random.Random(f"{person.employee_no}/{day.isoformat()}")  # noqa: S311
            likely = _DAILY_CHANCE / 2 if person.employee_no == _DIRECTOR else _DAILY_CHANCE
            # Whose entry is to be returned or rejected logs one (counted) soon enough.
            due = self.flagged.get(person.employee_no, ()) is None and self._flag_window(day)
            if kind == "daily" and chance.random() > likely and not due:
                continue
            moment = self.at(day, 16, 30) + timedelta(minutes=index, seconds=chance.randint(0, 59))
            if not self.past(moment):
                continue
            works = _WORK[person.post_type][person.locale]
            if due:
                chosen = [works[0]]
            elif kind == "daily":
                chosen = [works[chance.randrange(len(works))]]
            else:
                # The counted indicator; at the month's end its rates too.
                rates = [w for w in works if w[0] is not None and w[0] != works[0][0]]
                chosen = [works[0], *rates] if kind == "month_end" else [works[0]]
            for offset, work in enumerate(chosen):
                indicator, text, (low, high), (few, many) = work
                when = moment + timedelta(seconds=offset)
                if indicator is None:
                    quick.append((person, text, when))
                    continue
                number = chance.randint(low, high)
                if indicator.endswith(("_rate", "_completion")):
                    # A rate: the better, the higher the person's skill (lapses: the lower).
                    number = min(100, max(low, round(high * (0.92 + 0.08 * person.skill))))
                    number -= chance.randint(0, 3)
                elif indicator == "policy_execution_deviation":
                    number = max(0, round(high * (1.1 - person.skill)) + chance.randint(0, 1))
                elif work is works[0] and kind != "daily":
                    # The days it sums up; the more skilled, the more done.
                    number = max(1, round(number * covers * 0.8 * person.skill**2))
                else:
                    number = max(1, round(number * person.skill))
                hours = Decimal(chance.randint(int(few * 2), int(many * 2))) / 2
                guided.append(
                    (
                        person,
                        NewEntry(
                            day,
                            (_SUMMARY[person.locale] if kind != "daily" else "")
                            + text.format(n=number),
                            indicator_id=indicator,
                            quantity=Decimal(number),
                            hours=max(hours, self.policy.entries.min_hours),
                        ),
                        when,
                    )
                )
        if guided:
            async with self.database.uow() as uow:
                staged = await stage_many(
                    uow,
                    [(self.members[p.employee_no].id, new, when) for p, new, when in guided],
                    self.rules(day),
                )
                for (person, _new, _when), written in zip(guided, staged, strict=True):
                    self._note(person, written, day)
                await uow.commit()
        async with self.database.uow() as uow:
            for person, text, when in quick:
                written = await quick_log(
                    uow,
                    self.members[person.employee_no].id,
                    text,
                    today=day,
                    zone=self.zone,
                    limits=self.policy.entries,
                    policy=self.policy,
                    now=when,
                )
                self._note(person, written, day)

    def _note(self, person: _Person, written: object, day: date) -> None:
        if not isinstance(written, EntryView):
            raise RuntimeError(f"demo: an entry of {person.employee_no} was refused: {written}")
        self.entries.append((written.id, person.employee_no, day, written.version))
        self.undecided.add(written.id)
        self.counts.written += 1
        no = person.employee_no
        if (
            no in self.flagged
            and self.flagged[no] is None
            and written.indicator_id is not None
            and self._flag_window(day)
        ):
            self.flagged[no] = (written.id, written.version)

    def _flag_window(self, day: date) -> bool:
        """Whether an entry of ``day`` is recent, and still decided at a round after it
        (the returned one stays returned, for its author to change in the sandbox)."""
        return day < self.last_round and (self.today - day).days <= _FLAG_DAYS

    async def approval_round(self, day: date, *, last: bool) -> None:
        """Each approver approves, from /pending, what waits for them; the flagged entries
        are returned and rejected first, with their reasons. Only the last round's
        decisions are told (the older ones' news was read long ago)."""
        moment = self.at(day, 18, 30)
        render: Callable[[AuthorNotice], Outgoing | None] = (
            functools.partial(render_notice, self.default) if last else _silent
        )
        for no, reason, decision in (
            (_RETURNED, _RETURN_REASON, Decision.RETURN),
            (_REJECTED, _REJECT_REASON, Decision.REJECT),
        ):
            flagged = self.flagged.get(no)
            if flagged is None:
                continue
            entry_id, version = flagged
            supervisor = self.members[self._supervisor_of(no)]
            async with self.database.uow() as uow:
                decided = await decide(
                    uow,
                    supervisor,
                    entry_id,
                    version,
                    decision,
                    reason=reason,
                    today=day,
                    render=functools.partial(render_notice, self.default),
                    close=self.close,
                    policy=self.policy,
                    now=moment,
                )
            if not isinstance(decided, Decided):
                raise RuntimeError(f"demo: the {decision} of entry {entry_id} failed: {decided}")
            del self.flagged[no]
            self.undecided.discard(entry_id)
            if decision is Decision.RETURN:
                self.counts.returned += 1
            else:
                self.counts.rejected += 1
        # What /pending shows each approver: their people's undecided entries up to the
        # day; the last round leaves the day's own to wait, unless its period is closed
        # by today (then they could never be decided).
        leave_day = last and not is_closed(day, self.today, self.policy)
        shown = [
            (entry_id, no)
            for entry_id, no, work_date, _v in self.entries
            if entry_id in self.undecided and (work_date < day if leave_day else work_date <= day)
        ]
        waiting: dict[str, list[int]] = {}
        for entry_id, no in shown:
            # HR decides what nobody above the author can (the director's entries).
            waiting.setdefault(self._supervisor_of(no) or _HR, []).append(entry_id)
        for offset, (approver_no, ids) in enumerate(sorted(waiting.items())):
            async with self.database.uow() as uow:
                done = await approve_shown(
                    uow,
                    self.members[approver_no],
                    today=day,
                    first_id=min(ids),
                    last_id=max(ids),
                    seen_at=moment + timedelta(minutes=offset),
                    render=render,
                    close=self.close,
                    policy=self.policy,
                    now=moment + timedelta(minutes=offset, seconds=30),
                )
            self.counts.approved += done.approved
            self.undecided.difference_update(ids)

    def _supervisor_of(self, employee_no: str) -> str:
        return next(p.supervisor_no for p in PEOPLE if p.employee_no == employee_no)

    async def leave(self, days: list[date]) -> None:
        """The supervisor records the leave, the morning it starts (planned ahead)."""
        if not days:
            return
        moment = min(self.at(days[0], 8, 45), self.now - timedelta(minutes=1))
        by = self.members[self._supervisor_of(_ON_LEAVE)].id
        for day in days:
            async with self.database.uow() as uow:
                await set_leave(uow, self.members[_ON_LEAVE].id, day, by=by, now=moment)

    # --- the monthly check ---------------------------------------------------------------

    async def self_assess(self, period: Period, person: _Person, moment: datetime) -> int:
        """The person writes their self-assessment and rates themself, sent together
        (``review.self_assess``); the review's id."""
        member = self.members[person.employee_no]
        day = moment.astimezone(self.zone).date()
        async with self.database.uow() as uow:
            card = await review.self_card(
                uow, member, self.policy, today=day, zone=self.zone, now=moment
            )
            if isinstance(card, review.Refusal) or card.period != period:
                raise RuntimeError(f"demo: no self-assessment for {person.employee_no}: {card}")
            texts = _SELF_TEXT[person.locale]
            focus = _FOCUS[(person.post_type, person.locale)]
            text = texts[len(person.name) % len(texts)].format(focus=focus)
            ratings = {indicator.id: self._value(person, "self") for indicator in card.indicators}
            saved = await review.self_assess(
                uow, member, card.review.id, text, ratings, self.policy, today=day,
                zone=self.zone, now=moment,
            )  # fmt: skip
            if isinstance(saved, review.Refusal):
                raise RuntimeError(f"demo: {person.employee_no}'s self-assessment: {saved}")
            self.versions[card.review.id] = saved
        return card.review.id

    def _value(self, person: _Person, rater: Literal["self", "supervisor"]) -> int:
        """The rating ``rater`` gives ``person``: people rate themselves a little higher
        than their supervisors do."""
        scale = review.rating_scale(self.policy)
        value = round(scale[-1] * person.skill + (0.4 if rater == "self" else 0))
        return max(scale[0], min(scale[-1], value))

    async def supervise(
        self, reviewer_no: str, reviews: dict[str, int], moment: datetime,
        *, sign: Iterable[str],
    ) -> int:  # fmt: skip
        """The supervisor rates their people, gives points, signs off; how many signed."""
        reviewer = self.members[reviewer_no]
        day = moment.astimezone(self.zone).date()
        signed = 0
        for no in sign:
            review_id = reviews.get(no)
            if review_id is None:
                continue
            person = next(p for p in PEOPLE if p.employee_no == no)
            async with self.database.uow() as uow:
                rated = review.rated_indicators(self.policy, person.post_type, "supervisor")
                if rated:
                    version = await review.rate_many(
                        uow, reviewer, review_id, self.versions[review_id],
                        {indicator.id: self._value(person, "supervisor") for indicator in rated},
                        "supervisor", self.policy, today=day, zone=self.zone, now=moment,
                    )  # fmt: skip
                    if isinstance(version, review.Refusal):
                        raise RuntimeError(f"demo: rating {no}: {version}")
                    self.versions[review_id] = version
                if no in _POINTS:
                    kind, text = _POINTS[no]
                    given = await review.add_points(
                        uow, reviewer, review_id, kind, text, self.policy, today=day,
                        zone=self.zone, now=moment,
                    )  # fmt: skip
                    if isinstance(given, review.Refusal | review.PointsError):
                        raise RuntimeError(f"demo: points for {no}: {given}")
                    self.versions[review_id] += 1
                refused = await review.sign_off(
                    uow, reviewer, review_id, self.versions[review_id], self.policy, today=day,
                    zone=self.zone, now=moment,
                )  # fmt: skip
                if refused is not None:
                    raise RuntimeError(f"demo: signing {no} off: {refused}")
            signed += 1
        return signed

    def check(self, period: Period, *, publish: bool) -> list[_Event]:
        """The period's monthly check as events: self-assessments from its
        self-assessment day, one supervisor's reviews a day from the supervisor review's
        start (in the period under review the last leaves two unsigned, and two people
        never wrote theirs), and, for the published one, HR's publication."""
        days = milestones(period, self.policy)
        span = max(1, (days.self_due - days.self_opens).days + 1)
        reviews: dict[str, int] = {}
        events: list[_Event] = []
        for index, person in enumerate(PEOPLE):
            if person.employee_no == _DIRECTOR:
                continue  # nobody above him in the bureau: HR leaves him out
            if not publish and index % 3:
                continue  # in the period under review: a third of the people so far
            day = days.self_opens + timedelta(days=(index * 3) % span)
            moment = self.at(day, 20) + timedelta(minutes=index)

            async def write(person: _Person = person, moment: datetime = moment) -> None:
                reviews[person.employee_no] = await self.self_assess(period, person, moment)

            events.append((moment, write))
        teams: dict[str, list[str]] = {}
        for person in PEOPLE:
            if person.supervisor_no:
                teams.setdefault(person.supervisor_no, []).append(person.employee_no)
        # One supervisor a day from the review's start; in the period under review the
        # first two only, with what was written.
        order = ["B02", "A01", "B01", "C01"] if publish else ["B02", "A01"]
        for offset, reviewer_no in enumerate(order):
            day = min(days.review_starts + timedelta(days=offset), days.review_due)
            moment = self.at(day, 10) + timedelta(minutes=offset)
            team = teams[reviewer_no]

            async def supervise(
                reviewer_no: str = reviewer_no, moment: datetime = moment,
                team: list[str] = team,
            ) -> None:  # fmt: skip
                await self.supervise(reviewer_no, reviews, moment, sign=team)

            events.append((moment, supervise))
        if publish:
            moment = self.at(days.calibration_starts + timedelta(days=1), 10)

            async def publication(moment: datetime = moment) -> None:
                await self.publish(period, moment)

            events.append((moment, publication))
        return events

    async def publish(self, period: Period, moment: datetime) -> None:
        """HR leaves the director out, scores the period afresh, publishes it, and the
        notices are queued, as /results does."""
        hr = self.members[_HR]
        day = moment.astimezone(self.zone).date()
        async with self.database.uow() as uow:
            opened = await results.open_period(
                uow, period, self.policy, today=day, zone=self.zone, now=moment
            )
            excluded = await results.exclude(
                uow, hr, opened.period_id, self.members[_DIRECTOR].id, _EXCLUDE_REASON,
                self.policy, today=day, zone=self.zone, now=moment,
            )  # fmt: skip
            if not isinstance(excluded, results.Excluded):
                raise RuntimeError(f"demo: leaving the director out of {period.key}: {excluded}")
        await results.refresh(self.database, period, self.policy, now=moment, zone=self.zone)
        async with self.database.uow() as uow:
            opened = await results.open_period(
                uow, period, self.policy, today=day, zone=self.zone, now=moment
            )
            done = await results.publish(
                uow, hr, opened.period_id, opened.version, self.policy, at=None, today=day,
                zone=self.zone, now=moment,
            )  # fmt: skip
        if not isinstance(done, results.Published):
            raise RuntimeError(f"demo: publishing {period.key}: {done}")
        await results.queue_notices(self.database.uow, done.period_id, period.key, now=moment)

    # --- the whole -------------------------------------------------------------------------

    async def run(self) -> None:
        """Play the history in the order it happened, up to the clock's now."""
        current = period_of(self.today, self.policy)
        under_review = current.previous()
        published = under_review.previous()
        joined = published.starts_on - timedelta(days=_JOINED_BEFORE)
        await self.join(joined)
        workdays = self.calendar.workdays(published.starts_on, self.today)
        daily = workdays[-DAILY_WORKDAYS:]
        before_today = [day for day in daily if day < self.today]
        self.last_round = before_today[-1] if before_today else joined
        # Rounds every fifth workday (once a week), counted back from the last one, and at
        # each month's end (a period closes early in the next month).
        rounds = set(before_today[::-1][::_ROUND_EVERY])
        rounds |= {day for day in before_today if _last_of_month(day, self.calendar)}
        leave = workdays[-3:]
        events: list[_Event] = []
        if leave:

            async def on_leave() -> None:
                await self.leave(leave)

            recorded = min(self.at(leave[0], 8, 45), self.now - timedelta(minutes=1))
            events.append((recorded, on_leave))
        since = 0
        for day in workdays:
            since += 1
            kind: _Day | None = "daily" if day in daily else None
            if kind is None and _last_of_month(day, self.calendar):
                kind = "month_end"
            elif kind is None and _summary_day(day, self.calendar):
                kind = "summary"
            if kind is None:
                continue

            async def logging(day: date = day, kind: _Day = kind, covers: int = since) -> None:
                await self.log_day(day, kind, covers=covers, leave=set(leave))

            events.append((self.at(day, 16, 30), logging))
            since = 0
            if kind != "daily" or day in rounds:

                async def round_(day: date = day) -> None:
                    await self.approval_round(day, last=day == self.last_round)

                events.append((self.at(day, 18, 30), round_))
        events += self.check(published, publish=True)
        events += self.check(under_review, publish=False)
        self.periods = 2
        events.sort(key=lambda event: event[0])
        for moment, event in events:
            if self.past(moment):
                await event()
        async with self.database.uow() as uow:
            people = await uow.staff.by_employee_nos([p.employee_no for p in PEOPLE])
            await queue_menus(uow, people, now=self.now)
            await uow.commit()


def _last_of_month(day: date, calendar: WorkCalendar) -> bool:
    """Whether ``day`` is the last workday of its month."""
    following = day + timedelta(days=1)
    while not calendar.is_workday(following):
        following += timedelta(days=1)
    return following.month != day.month


def _summary_day(day: date, calendar: WorkCalendar) -> bool:
    """Whether ``day`` is the last workday on or before the 15th of its month."""
    if day.day > 15:
        return False
    following = day + timedelta(days=1)
    while not calendar.is_workday(following):
        following += timedelta(days=1)
    return following.day > 15 or following.month != day.month


async def build_demo(data: BotData) -> DemoSummary:
    """Build the demo organisation in the (empty) store of the running application.

    Reads the bot's clock once (``data.clock``, not moved) and plays the history up to
    that moment. Its time is its statements, some 1,200 (``bench/demo.py`` measures it).
    Register the emulated users (``demo_people``) with the emulator before the bot's
    outbox sender delivers what the demo queued.

    Raises:
        DemoStoreNotEmptyError: the store already has people (say, the demo of an
            earlier start); nothing is written.
    """
    began = time.monotonic()
    build = _Build(data)
    await build.run()
    counts = build.counts
    pending = counts.written - counts.approved - counts.returned - counts.rejected
    summary = DemoSummary(
        people=len(PEOPLE),
        departments=len({p.department for p in PEOPLE}),
        entries_approved=counts.approved,
        entries_pending=pending,
        entries_returned=counts.returned,
        entries_rejected=counts.rejected,
        periods=build.periods,
        seconds=time.monotonic() - began,
    )
    log.info("demo organisation built in %.2f s: %s", summary.seconds, summary)
    return summary
