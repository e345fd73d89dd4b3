"""Who may do what: the one table every command and button press is checked against."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

from assessment.people import StaffMember
from storage.enums import Role

# None: anyone, even a stranger. Role.NONE: any linked person still on staff.
# Otherwise: any linked person holding at least one of these roles.
Requirement = Role | None
ANYONE: Requirement = None
MEMBERS: Requirement = Role.NONE
SUPERVISORS: Requirement = Role.SUPERVISOR | Role.ADMIN
HR: Requirement = Role.HR | Role.ADMIN
# The quota's wider share is approved from above HR: by an administrator.
QUOTA_APPROVERS: Requirement = Role.ADMIN
# Statistics: HR of the organisation, a supervisor of their own people.
STATS: Requirement = Role.SUPERVISOR | Role.HR | Role.ADMIN

COMMANDS: Mapping[str, Requirement] = MappingProxyType(
    {
        "start": ANYONE,
        "help": ANYONE,
        "me": MEMBERS,
        "log": MEMBERS,
        "today": MEMBERS,
        "month": MEMBERS,
        "self": MEMBERS,
        "language": MEMBERS,
        "team": SUPERVISORS,
        "review": SUPERVISORS,
        "pending": MEMBERS,
        "settings": MEMBERS,
        "delegate": SUPERVISORS,
        "invite": HR,
        "unlink": HR,
        "import": HR,
        "broadcast": HR,
        "notices": HR,
        "reopen": HR,
        "results": HR,
        "thirdparty": HR,
        "peers": HR,
        "bonus": HR,
        "allowance": HR,
        "score": MEMBERS,
        "appeal": MEMBERS,
        "export": HR,
        "cancel": MEMBERS,
        "rate": MEMBERS,
        "annual": HR,
        "honour": HR,
        "training": HR,
        "record": MEMBERS,
        "stats": STATS,
    }
)


class Refusal(enum.StrEnum):
    """Why a request was refused."""

    NOT_LINKED = "not_linked"
    LEFT = "left"
    ROLE = "role"


def check(member: StaffMember | None, requirement: Requirement) -> Refusal | None:
    """None if ``member`` may act under ``requirement``, otherwise why not."""
    if requirement is None:
        return None
    if member is None:
        return Refusal.NOT_LINKED
    if not member.is_active:
        return Refusal.LEFT
    if requirement == Role.NONE or member.roles & requirement:
        return None
    return Refusal.ROLE


def check_command(member: StaffMember | None, command: str) -> Refusal | None:
    """None if ``member`` may use ``/command``; unknown commands are open (they get help)."""
    return check(member, COMMANDS.get(command, ANYONE))


# Commands that make sense only at a moment (start, cancel) stay out of menus; so does
# /rate, which only people of the post types citizens rate can use (menus know roles,
# not post types).
_NOT_IN_MENUS = frozenset({"start", "cancel", "rate"})
# Open to every member (a delegate may be anyone), but in the menus of approvers only.
_APPROVERS: Requirement = Role.SUPERVISOR | Role.HR | Role.ADMIN
_MENU_REQUIREMENTS: Mapping[str, Requirement] = MappingProxyType(
    {"pending": _APPROVERS, "settings": _APPROVERS}
)


def menu(member: StaffMember) -> list[str]:
    """The commands to show ``member`` in their menu, in a stable order."""
    return [
        command
        for command, requirement in COMMANDS.items()
        if command not in _NOT_IN_MENUS
        and requirement is not ANYONE
        and check(member, _MENU_REQUIREMENTS.get(command, requirement)) is None
    ] + ["help"]
