"""The sandbox's demo organisation (work in progress: not built yet).

``build_demo`` will create a bureau of about 30 people through the domain code
(roster import, invitations, entries, decisions, the monthly check). This first
version only fixes the signatures the sandbox relies on; ``build_demo`` raises
``NotImplementedError`` until the organisation is built.
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers.context import BotData

__all__ = ["DEMO_FIRST_TELEGRAM_ID", "DemoPerson", "DemoSummary", "build_demo", "demo_people"]

# The first emulated Telegram user id of the demo; people are numbered upwards from it.
DEMO_FIRST_TELEGRAM_ID = 700001


@dataclass(frozen=True)
class DemoPerson:
    """An emulated Telegram user of the demo, as the sandbox sends as them."""

    telegram_user_id: int
    first_name: str
    last_name: str
    language_code: str
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


def demo_people() -> tuple[DemoPerson, ...]:
    """The emulated Telegram users of the demo (not built yet: empty)."""
    return ()


async def build_demo(data: BotData) -> DemoSummary:
    """Build the demo organisation in the (empty) store of the running application."""
    raise NotImplementedError("the demo organisation is not built yet")
