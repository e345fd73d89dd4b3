"""The ``workledger`` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from datetime import date
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.cli_store import EXIT_STORE_IN_USE, EXIT_USAGE, report_busy, store_url
from config.policy import Policy, PolicyError, load_policy
from config.settings import Settings
from locales import SUPPORTED, translator
from storage import migrate
from storage.engine import Database, StoreBusy
from storage.marker import StoreInUseError, claim_store


def _version() -> str:
    try:
        return version("workledger")
    except PackageNotFoundError:
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workledger",
        description="Telegram bot for public-sector performance assessment.",
    )
    parser.add_argument("--version", action="version", version=f"workledger {_version()}")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="text (the default) or json: one JSON object per line",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="migrate a SQLite store if needed, then run the bot")
    run.add_argument(
        "--metrics",
        metavar="HOST:PORT",
        help="serve GET /healthz and GET /metrics there (e.g. 127.0.0.1:9100)",
    )
    run.add_argument(
        "--webhook",
        metavar="URL",
        help="receive updates by webhook at this https URL instead of polling "
        "(needs WORKLEDGER_WEBHOOK_SECRET)",
    )
    run.add_argument(
        "--listen",
        metavar="HOST:PORT",
        default="127.0.0.1:8443",
        help="where the webhook's server listens (default 127.0.0.1:8443; "
        "it serves /healthz and /metrics too)",
    )
    run.add_argument(
        "--max-connections",
        type=int,
        default=40,
        help="the webhook's max_connections: Telegram's connections at once, 1-100 (40)",
    )
    sandbox = commands.add_parser(
        "sandbox", help="try the bot in a browser: no Telegram, no token (a demo organisation)"
    )
    sandbox.add_argument("--port", type=int, default=8080, help="the page's port (0: any free)")
    sandbox.add_argument(
        "--host", default="127.0.0.1", help="the address to listen on (loopback by default)"
    )
    sandbox.add_argument(
        "--fresh", action="store_true", help="start over: forget the sandbox's data"
    )
    sandbox.add_argument(
        "--no-demo", action="store_true", help="start empty (to try a roster file of your own)"
    )
    staff = commands.add_parser("staff", help="the roster")
    staff_commands = staff.add_subparsers(dest="staff_command", required=True, metavar="ACTION")
    staff_import = staff_commands.add_parser("import", help="import or update the roster")
    staff_import.add_argument("file", type=Path, metavar="FILE", help="CSV (UTF-8) or XLSX")
    staff_import.add_argument(
        "--mark-missing-left",
        action="store_true",
        help="mark people on the roster but not in FILE as having left",
    )
    staff_import.add_argument(
        "--dry-run", action="store_true", help="show what would change, write nothing"
    )
    invite = commands.add_parser("invite", help="print one-time invitation links and QR codes")
    invite.add_argument("employee_nos", nargs="+", metavar="EMPLOYEE_NO")
    invite.add_argument("--out", type=Path, default=Path("."), help="folder for the QR PNGs")
    invite.add_argument(
        "--bot-username", help="the bot's @username (asked from Telegram if unset)"
    )
    commands.add_parser("deliver", help="run only the outbox sender (extra delivery capacity)")
    results = commands.add_parser(
        "results", help="each person's stage, score and grade for a period"
    )
    results.add_argument("period", metavar="YYYY-MM", help="the period (YYYY-Qn for quarters)")
    results.add_argument("--json", action="store_true", help="print JSON, for scripts")
    results.add_argument(
        "--compute",
        action="store_true",
        help="score, grade and store everyone reviewable first (never a published period)",
    )
    bonus = commands.add_parser(
        "bonus", help="compute (and publish) a published period's bonus run"
    )
    bonus.add_argument("period", metavar="YYYY-MM", help="the period (YYYY-Qn for quarters)")
    bonus.add_argument(
        "--as", dest="acting", required=True, metavar="EMPLOYEE_NO", help="the HR member acting"
    )
    bonus.add_argument("--pool", metavar="TOTAL", help="the pool to share (pool mode)")
    bonus.add_argument("--reason", help="why: required for a correction")
    bonus.add_argument("--out", type=Path, help="write the spreadsheet of every line here")
    bonus.add_argument(
        "--publish", action="store_true", help="publish the run and queue everyone's notice"
    )
    annual = commands.add_parser(
        "annual", help="roll a year up into annual grades; HR is sent the flags"
    )
    annual.add_argument("year", type=int, metavar="YYYY", help="the year")
    annual.add_argument("--wider", action="store_true", help="the approved wider top share")
    annual.add_argument("--json", action="store_true", help="print JSON, for scripts")
    _export_parser(commands)
    _backup_parsers(commands)
    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply pending migrations")
    db_commands.add_parser("current", help="show the schema revision")
    return parser


def _export_parser(commands: Any) -> None:
    export = commands.add_parser("export", help="ledgers and exports as XLSX or CSV")
    export.add_argument(
        "--period", metavar="YYYY-MM", help="the period (not needed for the career record)"
    )
    export.add_argument(
        "--what",
        required=True,
        metavar="KIND",
        help="ledger, scores, deliveries, audit (the audit log of the period's days), bonus "
        "(the published bonus runs' lines) or record (career records)",
    )
    export.add_argument(
        "--person", metavar="EMPLOYEE_NO", help="the career record of this person only"
    )
    export.add_argument("--department", metavar="NAME", help="only this department's people")
    export.add_argument("--format", choices=("xlsx", "csv"), default="xlsx", dest="fmt")
    export.add_argument("--out", type=Path, metavar="FILE", help="default: KIND-PERIOD.FORMAT")
    export.add_argument(
        "--from", type=date.fromisoformat, dest="since", metavar="YYYY-MM-DD",
        help="the audit log from this day (default: the period's first)",
    )  # fmt: skip
    export.add_argument(
        "--to", type=date.fromisoformat, dest="until", metavar="YYYY-MM-DD",
        help="the audit log to this day, included (default: the period's last)",
    )  # fmt: skip
    export.add_argument(
        "--language", choices=SUPPORTED, help="of the headers (default: WORKLEDGER_LANGUAGE)"
    )


def _backup_parsers(commands: Any) -> None:
    backup = commands.add_parser(
        "backup", help="back the store up to FILE (SQLite: while the bot runs; pg_dump)"
    )
    backup.add_argument("file", type=Path, metavar="FILE", help="a new file")
    restore = commands.add_parser(
        "restore", help="restore the store from a backup FILE, then migrate it"
    )
    restore.add_argument("file", type=Path, metavar="FILE", help="a workledger backup")
    restore.add_argument(
        "--force", action="store_true", help="replace a store that holds data already"
    )


def _fail(message: str) -> int:
    print(f"workledger: {message}", file=sys.stderr)
    return EXIT_USAGE


def _load_settings() -> Settings:
    return Settings()


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        key = "WORKLEDGER_" + "_".join(str(part) for part in item["loc"]).upper()
        problems.append(f"{key}: {item['msg']}")
    return "; ".join(problems)


async def _db_upgrade(settings: Settings) -> None:
    database = Database(store_url(settings))
    try:
        await migrate.upgrade(database.engine)
        print(f"database at revision {await migrate.current_revision(database.engine)}")
    finally:
        await database.dispose()


async def _db_current(settings: Settings) -> None:
    database = Database(store_url(settings))
    try:
        current = await migrate.current_revision(database.engine)
        print(f"{current or 'none'} (code needs {migrate.head_revision()})")
    finally:
        await database.dispose()


def _warn_of_clock(settings: Settings) -> None:
    if settings.clock_start is not None:
        logging.getLogger("workledger").warning(
            "the clock starts at %s (WORKLEDGER_CLOCK_START), not at the real time",
            settings.clock_start.isoformat(),
        )


def _run(
    settings: Settings,
    policy: Policy,
    log_level: str,
    log_format: str = "text",
    metrics: str | None = None,
    webhook_url: str | None = None,
    listen: str = "127.0.0.1:8443",
    max_connections: int = 40,
) -> int:
    from telegram.error import TelegramError

    from assessment.citizens import weighs_citizens
    from bot.app import SchemaOutOfDateError, build_application, run_until_signalled
    from bot.logs import configure_logging, secrets_of
    from bot.monitoring import parse_address, serving
    from bot.webhook import WebhookOptions

    if settings.token is None:
        return _fail(
            "no bot token: set WORKLEDGER_TOKEN (in the environment or a .env file) "
            "to the token @BotFather gave you; to try the bot without Telegram, "
            "run `make sandbox` (workledger sandbox)"
        )
    try:
        address = None if metrics is None else parse_address(metrics)
    except ValueError as error:
        return _fail(f"--metrics: {error}")
    try:
        webhook = (
            None
            if webhook_url is None
            else WebhookOptions.parse(
                webhook_url, settings.webhook_secret, listen, max_connections
            )
        )
    except ValueError as error:
        return _fail(str(error))
    configure_logging(log_level, secrets=secrets_of(settings), log_format=log_format)
    _warn_of_clock(settings)
    if settings.secret_key is None and weighs_citizens(policy):
        # Not a refusal: a bot upgraded without the key keeps running, and its people
        # are scored as before, with no citizens' part (the score renormalises).
        logging.getLogger("workledger").warning(
            "no WORKLEDGER_SECRET_KEY: the policy weighs citizens' ratings, but without the "
            "key their codes cannot be signed nor their accounts hashed, so /rate gives no "
            "code; set it to a long random value kept outside the database "
            "(e.g. `openssl rand -hex 32`)"
        )
    application = build_application(settings, policy)

    async def run() -> None:
        if address is None:
            await run_until_signalled(application, webhook)
            return
        async with serving(application, *address):
            await run_until_signalled(application, webhook)

    try:
        asyncio.run(_claim_for_production(settings))
        asyncio.run(run())
    except SchemaOutOfDateError as error:
        return _fail(str(error))
    except StoreInUseError as error:
        print(f"workledger: {error}", file=sys.stderr)
        return EXIT_STORE_IN_USE
    except OSError as error:
        return _fail(f"cannot listen: {error}")
    except TelegramError as error:
        return _fail(f"Telegram refused the webhook: {error}")
    return 0


async def _claim_for_production(settings: Settings) -> None:
    """Mark the store as a real bot's, or refuse the sandbox's (``storage.marker``)."""
    from bot.app import open_store

    database = await open_store(settings)
    try:
        await claim_store(database, "production")
    finally:
        await database.dispose()


def _deliver(settings: Settings, policy: Policy, log_level: str, log_format: str = "text") -> int:
    from bot.app import SchemaOutOfDateError, open_store
    from bot.delivery import serve
    from bot.logs import configure_logging, secrets_of
    from config.clock import Clock

    if settings.token is None:
        return _fail("no bot token: set WORKLEDGER_TOKEN to the token @BotFather gave you")
    configure_logging(log_level, secrets=secrets_of(settings), log_format=log_format)
    _warn_of_clock(settings)

    async def deliver() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signal_number, stop.set)
        database = await open_store(settings)
        try:
            await serve(settings, policy, database, stop, clock=Clock(settings.clock_start))
        finally:
            await database.dispose()

    try:
        asyncio.run(deliver())
    except SchemaOutOfDateError as error:
        return _fail(str(error))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    # Opt in to python-telegram-bot's coming timedelta durations (the code expects them).
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    args = _parser().parse_args(argv)
    try:
        settings = _load_settings()
    except ValidationError as error:
        return _fail(f"bad configuration: {_describe(error)}")
    try:
        policy = load_policy(settings.policy)
    except PolicyError as error:
        return _fail(str(error))
    try:
        return _command(args, settings, policy)
    except StoreBusy as busy:
        # The commands that write say so themselves; here: the bot starting, a migration.
        return report_busy(busy, translator(settings.language), nothing_written=False)


def _command(args: argparse.Namespace, settings: Settings, policy: Policy) -> int:
    if args.command == "run":
        return _run(
            settings, policy, args.log_level, args.log_format, args.metrics,
            args.webhook, args.listen, args.max_connections,
        )  # fmt: skip
    if args.command == "sandbox":
        from bot.sandbox.command import SandboxOptions, sandbox_command

        options = SandboxOptions(
            host=args.host, port=args.port, fresh=args.fresh, demo=not args.no_demo
        )
        return sandbox_command(settings, policy, options, args.log_level)
    if args.command == "deliver":
        return _deliver(settings, policy, args.log_level, args.log_format)
    if args.command == "staff":
        from bot.roster_cli import staff_import

        return staff_import(
            settings,
            policy,
            args.file,
            mark_missing_left=args.mark_missing_left,
            dry_run=args.dry_run,
        )
    if args.command == "invite":
        from bot.invite_cli import invite_cli

        return invite_cli(
            settings,
            policy,
            args.employee_nos,
            out_dir=args.out,
            bot_username=args.bot_username,
        )
    if args.command == "results":
        from bot.results_cli import results

        return results(settings, policy, args.period, as_json=args.json, compute=args.compute)
    if args.command == "bonus":
        from bot.bonus_cli import bonus_cli

        return bonus_cli(
            settings,
            policy,
            args.period,
            acting=args.acting,
            pool=args.pool,
            reason=args.reason,
            out=args.out,
            publish=args.publish,
        )
    if args.command == "annual":
        from bot.annual_cli import annual

        return annual(settings, policy, args.year, wider=args.wider, as_json=args.json)
    if args.command == "export":
        from bot.export_cli import export_command

        return export_command(
            settings, policy, period_key=args.period, what=args.what,
            department=args.department, fmt=args.fmt, out=args.out, since=args.since,
            until=args.until, language=args.language, person=args.person,
        )  # fmt: skip
    if args.command in ("backup", "restore"):
        from bot.backup_cli import backup_command, restore_command

        if args.command == "backup":
            return backup_command(settings, args.file)
        return restore_command(settings, args.file, force=args.force)
    if args.db_command == "upgrade":
        asyncio.run(_db_upgrade(settings))
    else:
        asyncio.run(_db_current(settings))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
