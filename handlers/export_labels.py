"""The words of an export in the requester's language: sheet titles, column headers and
the names of stored values (statuses, grades, indicators, post types).

Shared by ``/export`` and ``workledger export``; ``assessment.exports`` takes them as
``SheetWords``. A new kind of export adds its title and its columns' labels here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from assessment.exports import SOURCES, SheetWords
from config.policy import Policy
from handlers.entry_cards import STATUS_NAMES
from handlers.notice_exports import DELIVERY_NAMES
from locales import N_, Translator
from storage.enums import DecisionVia

TITLES: Mapping[str, str] = MappingProxyType(
    {
        "ledger": N_("Work ledger"),
        "scores": N_("Scores and grades"),
        "deliveries": N_("Delivery lists"),
        "audit": N_("Audit log"),
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
    }
)
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


def title_of(kind: str, words: Translator) -> str:
    """The name of a kind of export (its sheet's title) in ``words``' language."""
    return words.gettext(TITLES[kind]) if kind in TITLES else kind


def sheet_words(kind: str, words: Translator, policy: Policy, zone: str) -> SheetWords:
    """The title, header and value names of a ``kind`` export in ``words``' language."""
    _ = words.gettext
    locale = words.locale
    header = [
        _(LABELS[column]).format(zone=zone) if column in LABELS else column
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
    return SheetWords(title_of(kind, words), header, names)
