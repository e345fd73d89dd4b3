"""``workledger invite``: one-time deep links and QR codes, printed for HR to hand out."""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from pathlib import Path

from telegram import Bot
from telegram.error import TelegramError

from assessment.invitations import InvitationError, IssuedInvitation, deep_link, invite
from bot.cli_store import report_busy, store_url
from config.clock import Clock
from config.policy import Policy
from config.settings import Settings
from handlers.invitation_cards import qr_png
from locales import translator
from storage.engine import Database, StoreBusy


async def _bot_username(settings: Settings) -> str | None:
    if settings.token is None:
        return None
    bot = Bot(
        settings.token.get_secret_value(),
        base_url=settings.api_url or "https://api.telegram.org/bot",
        base_file_url=settings.file_url or "https://api.telegram.org/file/bot",
    )
    async with bot:
        return bot.username


async def _issue(
    settings: Settings, policy: Policy, employee_nos: list[str]
) -> list[IssuedInvitation]:
    database = Database(store_url(settings))
    try:
        async with database.uow() as uow:
            return await invite(
                uow,
                employee_nos,
                actor_staff_id=None,
                ttl=timedelta(days=policy.invites.ttl_days),
                now=Clock(settings.clock_start).now(),
            )
    finally:
        await database.dispose()


_REASONS = {
    "unknown": "no such employee number",
    "left": "has left",
    "linked": "already linked (unlink first)",
}


def invite_cli(
    settings: Settings,
    policy: Policy,
    employee_nos: list[str],
    *,
    out_dir: Path,
    bot_username: str | None,
) -> int:
    """Issue invitations and print one line per person; QR PNGs go to ``out_dir``."""
    username = bot_username
    if username is None:
        try:
            username = asyncio.run(_bot_username(settings))
        except TelegramError as error:
            print(
                f"workledger: could not ask Telegram for the bot's name: {error}", file=sys.stderr
            )
            return 2
    if not username:
        print(
            "workledger: the bot's username is needed for the links: "
            "pass --bot-username or set WORKLEDGER_TOKEN",
            file=sys.stderr,
        )
        return 2
    try:
        issued = asyncio.run(_issue(settings, policy, employee_nos))
    except InvitationError as error:
        reason = _REASONS.get(error.code, error.code)
        print(f"workledger: {error.employee_no}: {reason}; nobody was invited", file=sys.stderr)
        return 1
    except StoreBusy as busy:
        return report_busy(busy, translator(settings.language))
    out_dir.mkdir(parents=True, exist_ok=True)
    for invitation in issued:
        link = deep_link(username.lstrip("@"), invitation.code)
        png = out_dir / f"invite-{invitation.employee_no}.png"
        png.write_bytes(qr_png(link))
        print(
            f"{invitation.employee_no}\t{invitation.name}\t{link}\t"
            f"expires {invitation.expires_at:%Y-%m-%d %H:%M} UTC\t{png}"
        )
    return 0
