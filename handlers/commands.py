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
        "score": N_("My published scores and grades"),
        "cancel": N_("Stop what I am doing"),
        "rate": N_("A QR code for a citizen to rate the matter I just served"),
    }
)

# What a stranger sees before linking.
MENU: tuple[tuple[str, str], ...] = (
    ("start", DESCRIPTIONS["start"]),
    ("help", DESCRIPTIONS["help"]),
)
