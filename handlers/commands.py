"""The bot's commands and their (translatable) menu descriptions."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from locales import N_

DESCRIPTIONS: Mapping[str, str] = MappingProxyType(
    {
        "start": N_("Begin, or link your account with an invitation"),
        "help": N_("What this bot can do"),
        "me": N_("My staff record"),
        "log": N_("Log work step by step: date, indicator, hours, evidence"),
        "today": N_("My entries of today"),
        "month": N_("My month: entries, missing workdays, leave"),
        "language": N_("Choose my language"),
        "self": N_("My self-assessment of the period"),
        "review": N_("Review my team's period: ratings, points, sign-off"),
        "team": N_("My team and who has joined"),
        "pending": N_("Entries waiting for my decision"),
        "settings": N_("How approval requests reach me"),
        "delegate": N_("Let someone decide my team's entries: /delegate EMPLOYEE_NO DATE"),
        "invite": N_("Invite staff: /invite EMPLOYEE_NO..."),
        "unlink": N_("Unlink a lost account: /unlink EMPLOYEE_NO"),
        "import": N_("Import the staff roster (CSV or XLSX)"),
        "broadcast": N_("Send a notice to everyone or to some"),
        "notices": N_("Past notices: delivery and who has read them"),
        "reopen": N_(
            "Reopen a person's period under review: /reopen EMPLOYEE_NO [YYYY-MM] REASON"
        ),
        "results": N_("Calibrate and publish a period's results: /results [YYYY-MM]"),
        "thirdparty": N_("Third-party evaluators: invite, completion, revoke"),
        "bonus": N_("Preview and publish a period's bonus run: /bonus [YYYY-MM]"),
        "allowance": N_(
            "Assign or withdraw an allowance: /allowance YYYY-MM EMPLOYEE_NO [KIND REASON]"
        ),
        "score": N_("My published scores and grades"),
        "peers": N_(
            "Peer ratings: ask peers, see how many answered: /peers [EMPLOYEE_NO RATER_NO...]"
        ),
        "appeal": N_("My reviews and appeals, and their deadlines"),
        "export": N_("Ledgers and exports as XLSX or CSV: /export [YYYY-MM]"),
        "cancel": N_("Stop what I am doing"),
        "rate": N_("A QR code for a citizen to rate the matter I just served"),
        "annual": N_("Roll a year up into annual grades, flags to HR: /annual YYYY"),
        "honour": N_("Award an honour with a citation: /honour EMPLOYEE_NO HONOUR CITATION"),
        "training": N_("Record a completed training: /training EMPLOYEE_NO TRAINING NOTE"),
        "record": N_("My career record: grades, points, honours, training"),
        "stats": N_(
            "Statistics with a chart: logging, approvals, grades, bonuses: /stats [YYYY-MM]"
        ),
    }
)

# What a stranger sees before linking.
MENU: tuple[tuple[str, str], ...] = (
    ("start", DESCRIPTIONS["start"]),
    ("help", DESCRIPTIONS["help"]),
)
