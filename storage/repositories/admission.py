"""Who the bot talks to, as SQL: the gate's admission rule for queries over many people.

The gate admits a member (``assessment.access.check(member, MEMBERS)``): someone linked
to a Telegram account and still on staff. Jobs that choose whom to write to (reminders,
summaries) select the same people with ``admitted``; a property test
(``tests/service/test_admission_rules.py``) shows the two agree.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_

from storage.enums import StaffStatus


def admitted(staff: Any) -> ColumnElement[bool]:
    """Whether the ``staff`` row (the table or an alias) is someone the gate lets in."""
    return and_(staff.telegram_user_id.is_not(None), staff.status != StaffStatus.LEFT)
