"""The words of an export in the requester's language: sheet titles, column headers and
the names of stored values (statuses, grades, indicators, post types).

Shared by ``/export`` and ``workledger export``; ``assessment.exports`` takes them as
``SheetWords``. A new kind of export adds its title and its columns' labels here.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType

from babel import Locale
from babel.numbers import get_currency_symbol

from assessment.exports import SOURCES, SheetWords
from config.policy import Policy
from handlers.entry_cards import STATUS_NAMES
from handlers.notice_exports import DELIVERY_NAMES
from handlers.record import FLAG_NAMES
from locales import N_, Translator
from storage.enums import DecisionVia

TITLES: Mapping[str, str] = MappingProxyType(
    {
        "ledger": N_("Work ledger"),
        "scores": N_("Scores and grades"),
        "deliveries": N_("Delivery lists"),
        "audit": N_("Audit log"),
        "bonus": N_("Bonus lines"),
        "record": N_("Career records"),
    }
)
# Labels with "{zone}" name the organisation's time zone the times are in.
LABELS: Mapping[str, str] = MappingProxyType(
    {
        "entry": N_("Entry no."),
        "employee_no": N_("Employee no."),
        "name": N_("Name"),
        "department": N_("Department"),
        "work_date": N_("Work date"),
        "indicator": N_("Indicator"),
        "text": N_("Work done"),
        "quantity": N_("Quantity"),
        "hours": N_("Hours"),
        "status": N_("Status"),
        "misconduct": N_("Rejected for misconduct"),
        "written_at": N_("Written at ({zone})"),
        "submitted_at": N_("Submitted at ({zone})"),
        "requested_from": N_("Sent for approval to"),
        "escalated_at": N_("Escalated at ({zone})"),
        "decided_by": N_("Decided by"),
        "decided_as": N_("Decided as"),
        "decided_at": N_("Decided at ({zone})"),
        "decision_reason": N_("Decision reason"),
        "evidence": N_("Evidence"),
        "post_type": N_("Post type"),
        "score": N_("Score"),
        "base": N_("Indicator score"),
        "bonus_points": N_("Bonus points counted"),
        "deduction_points": N_("Deduction points counted"),
        "indicators": N_("Indicators: score (weight)"),
        "grade_by_score": N_("Grade by score"),
        "grade_under_quota": N_("Grade under the quota"),
        "calibrated_grade": N_("Calibrated grade"),
        "calibration_reason": N_("Calibration reason"),
        "calibrated_by": N_("Calibrated by"),
        "calibrated_at": N_("Calibrated at ({zone})"),
        "final_grade": N_("Final grade"),
        "top_grade_barred": N_("Top grade barred"),
        "computed_at": N_("Computed at ({zone})"),
        "published_at": N_("Published at ({zone})"),
        "read_at": N_("Read at ({zone})"),
        "notice": N_("Notice no."),
        "queued_at": N_("Queued at ({zone})"),
        "notice_text": N_("Notice"),
        "delivery_status": N_("Delivery status"),
        "delivered_at": N_("Delivered at ({zone})"),
        "error": N_("Error"),
        "event": N_("Event no."),
        "at": N_("At ({zone})"),
        "actor_no": N_("By employee no."),
        "actor": N_("By"),
        "actor_telegram_id": N_("By Telegram id"),
        "action": N_("Action"),
        "subject_type": N_("Subject"),
        "subject_id": N_("Subject id"),
        "details": N_("Details"),
        "run": N_("Run no."),
        "run_kind": N_("Run"),
        "run_reason": N_("Correction reason"),
        "run_published_at": N_("Published at ({zone})"),
        "grade": N_("Grade"),
        "grade_coefficient": N_("Grade coefficient"),
        "post_difficulty": N_("Post difficulty"),
        "bonus_base": N_("Base ({currency})"),
        "pool": N_("Pool ({currency})"),
        "bonus_before_allowances": N_("Bonus before allowances ({currency})"),
        "allowances": N_("Allowances ({currency})"),
        "allowance_reasons": N_("Allowances and their reasons"),
        "amount": N_("Bonus ({currency})"),
        "paid_before": N_("Paid before ({currency})"),
        "difference": N_("Paid or recovered by this run ({currency})"),
        "part": N_("Part of the record"),
        "period": N_("Period"),
        "day": N_("Day"),
        "item": N_("What"),
        "points": N_("Points"),
        "original_grade": N_("Original grade"),
        "hr_flags": N_("HR flags"),
    }
)
# Columns of money: shown as money in XLSX (Babel's pattern), numbers all the same.
MONEY_COLUMNS = frozenset(
    {"bonus_base", "pool", "bonus_before_allowances", "allowances", "amount", "paid_before",
     "difference"}
)  # fmt: skip
# Only the bonus lines have money.
_MONEY_KINDS = frozenset({"bonus"})
VIA_NAMES: Mapping[DecisionVia, str] = MappingProxyType(
    {
        DecisionVia.SUPERVISOR: N_("supervisor"),
        DecisionVia.DELEGATE: N_("delegate"),
        DecisionVia.HIGHER: N_("higher supervisor"),
        DecisionVia.HR: N_("HR"),
        DecisionVia.BULK: N_("approved from a list"),
    }
)
REQUEST_NAMES: Mapping[str, str] = MappingProxyType(
    {"submitted": N_("submitted"), "escalated": N_("escalated")}
)
EVIDENCE_NAMES: Mapping[str, str] = MappingProxyType(
    {"photo": N_("photo"), "document": N_("document")}
)
RUN_NAMES: Mapping[str, str] = MappingProxyType(
    {"payment": N_("payment"), "correction": N_("correction")}
)
PART_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "year": N_("annual result"),
        "period": N_("routine result"),
        "points": N_("points"),
        "key_task": N_("key task"),
        "training": N_("training completed"),
        "honour": N_("honour"),
    }
)


def money_format(currency: str, locale: Locale, step: Decimal) -> str:
    """An XLSX number format showing an amount as ``locale`` writes money in
    ``currency`` (Babel's pattern and symbol), to the step's places."""
    pattern = locale.currency_formats["standard"]
    symbol = get_currency_symbol(currency, locale)
    exponent = step.normalize().as_tuple().exponent
    places = max(0, -exponent) if isinstance(exponent, int) else 2
    number = "#,##0" + ("." + "0" * places if places else "")

    def text(part: str) -> str:
        shown = part.replace("¤", symbol).replace('"', "")
        return f'"{shown}"' if shown else ""

    positive = text(pattern.prefix[0]) + number + text(pattern.suffix[0])
    negative = text(pattern.prefix[1]) + number + text(pattern.suffix[1])
    return f"{positive};{negative}"


def title_of(kind: str, words: Translator) -> str:
    """The name of a kind of export (its sheet's title) in ``words``' language."""
    return words.gettext(TITLES[kind]) if kind in TITLES else kind


def sheet_words(kind: str, words: Translator, policy: Policy, zone: str) -> SheetWords:
    """The title, header and value names of a ``kind`` export in ``words``' language."""
    _ = words.gettext
    locale = words.locale
    currency = policy.bonus.currency
    header = [
        _(LABELS[column]).format(zone=zone, currency=currency) if column in LABELS else column
        for column in SOURCES[kind].columns
    ]
    names: dict[str, str] = {"yes": _("yes")}
    names |= {f"entry:{status.value}": _(label) for status, label in STATUS_NAMES.items()}
    names |= {f"via:{via.value}": _(label) for via, label in VIA_NAMES.items()}
    names |= {f"delivery:{status.value}": _(label) for status, label in DELIVERY_NAMES.items()}
    names |= {f"request:{key}": _(label) for key, label in REQUEST_NAMES.items()}
    names |= {f"evidence:{key}": _(label) for key, label in EVIDENCE_NAMES.items()}
    names |= {f"grade:{grade.id}": grade.names.get(locale) for grade in policy.grades}
    names |= {
        f"post_type:{key}": post_type.names.get(locale)
        for key, post_type in policy.post_types.items()
    }
    names |= {
        f"indicator:{indicator.id}": indicator.names.get(locale)
        for indicators in policy.indicators.values()
        for indicator in indicators
    }
    names |= {f"run:{key}": _(label) for key, label in RUN_NAMES.items()}
    names |= {f"part:{key}": _(label) for key, label in PART_NAMES.items()}
    names |= {f"flag:{flag.value}": _(label) for flag, label in FLAG_NAMES.items()}
    names |= {
        f"allowance:{key}": allowance.names.get(locale)
        for key, allowance in policy.bonus.allowances.items()
    }
    if policy.annual is not None:
        names |= {f"annual_grade:{g.id}": g.names.get(locale) for g in policy.annual.grades}
        names |= {f"training:{t.id}": t.names.get(locale) for t in policy.annual.trainings}
        names |= {f"honour:{h.id}": h.names.get(locale) for h in policy.annual.honours}
    names |= {
        "not_graded": _("not graded"),
        "template:routine_results": _("routine results: {count}"),
        "template:training_need": _("Training need: {trainings}"),
        "template:allowance": _("{allowance} {amount}: {reason}"),
    }
    formats = {}
    if kind in _MONEY_KINDS:
        shown = money_format(currency, words.babel, policy.bonus.rounding)
        formats = {column: shown for column in SOURCES[kind].columns if column in MONEY_COLUMNS}
    # The translator's own method: the words go to the export's worker process pickled.
    return SheetWords(title_of(kind, words), header, names, money=words.money, formats=formats)
