"""Translated names of roles and statuses."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from handlers.context import WorkledgerContext
from locales import N_
from storage.enums import Role, StaffStatus

ROLE_NAMES: Mapping[Role, str] = MappingProxyType(
    {
        Role.STAFF: N_("staff"),
        Role.SUPERVISOR: N_("supervisor"),
        Role.HR: N_("HR"),
        Role.ADMIN: N_("administrator"),
    }
)
STATUS_NAMES: Mapping[StaffStatus, str] = MappingProxyType(
    {
        StaffStatus.ACTIVE: N_("active"),
        StaffStatus.SECOND_LINE: N_("second line"),
        StaffStatus.LEFT: N_("left"),
    }
)


def role_names(context: WorkledgerContext, roles: Role) -> list[str]:
    """The caller-language names of each role held."""
    return [context._(name) for role, name in ROLE_NAMES.items() if roles & role] or [
        context._(ROLE_NAMES[Role.STAFF])
    ]


def status_name(context: WorkledgerContext, status: StaffStatus) -> str:
    """The caller-language name of a status."""
    return context._(STATUS_NAMES[status])
