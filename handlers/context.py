"""The typed context every handler receives: settings, policy, store, caller and language."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Any

from telegram.ext import Application, CallbackContext, ExtBot

from assessment.chart_worker import ChartRenderer
from assessment.export_worker import ExportWorkers
from assessment.people import StaffMember
from assessment.roster_uploads import RosterFiles
from assessment.scoring_worker import ScoringWorker
from config.clock import Clock
from config.policy import Policy
from config.settings import Settings
from locales import Translator, translator
from storage.engine import Database
from storage.uow import PendingClaim, UnitOfWork


class BotData:
    """What the runtime shares with handlers, typed (PTB's ``bot_data``).

    Filled in by the runtime before the first update; holds no per-update state.
    """

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._policy: Policy | None = None
        self._database: Database | None = None
        # The one clock of the bot: handlers, jobs and the sender read "now" from it.
        self.clock = Clock()
        # Work the runtime keeps running beside the handlers (the outbox sender).
        self.background: list[asyncio.Task[Any]] = []
        self.stop_background = asyncio.Event()
        # Roster files are read in worker processes, started when first needed.
        self.roster_files = RosterFiles()
        # A whole period is scored in a worker process, started when first needed and
        # stopped when the bot stops.
        self.scoring = ScoringWorker()
        # Exports are built in worker processes, one each, stopped when the bot stops.
        self.exports = ExportWorkers()
        # Score charts are drawn in a worker process: one renderer per bot, made when it
        # starts (``post_init``) and closed when it stops.
        self._charts: ChartRenderer | None = None
        # A notice's progress message has two writers: the Send press shows the first
        # figures, the progress job (in every bot process) each later step. Across
        # processes they take steps by compare-and-set of the text shown, in the one
        # message recorded when the notice is queued; within this process they also take
        # turns, so the press's first figures never land after a later step of the job.
        self.progress_messages = asyncio.Lock()

    def configure(self, settings: Settings, policy: Policy) -> None:
        """Set the frozen settings and policy, once, at start-up."""
        self._settings = settings
        self._policy = policy
        self.clock = Clock(settings.clock_start)

    def attach(self, database: Database) -> None:
        """Attach the store when the application starts."""
        self._database = database

    def detach(self) -> Database | None:
        """Detach the store when the application stops; the store, if one was attached."""
        database, self._database = self._database, None
        return database

    @property
    def settings(self) -> Settings:
        """The runtime settings."""
        if self._settings is None:
            raise RuntimeError("settings are not configured")
        return self._settings

    @property
    def policy(self) -> Policy:
        """The assessment policy."""
        if self._policy is None:
            raise RuntimeError("policy is not configured")
        return self._policy

    @property
    def charts(self) -> ChartRenderer:
        """The bot's one chart renderer (the outbox sender's too)."""
        if self._charts is None:
            raise RuntimeError("the chart renderer is not started (the application has not)")
        return self._charts

    def attach_charts(self, charts: ChartRenderer | None) -> ChartRenderer | None:
        """Give the bot its chart renderer at start (None at shutdown); the one it had."""
        previous, self._charts = self._charts, charts
        return previous

    @property
    def database(self) -> Database:
        """The assessment store."""
        if self._database is None:
            raise RuntimeError("the store is not open (the application has not started)")
        return self._database


WorkledgerApplication = Application[
    ExtBot[None], "WorkledgerContext", dict[Any, Any], dict[Any, Any], BotData, Any
]


class WorkledgerContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]):
    """PTB's context with workledger's typed additions.

    One context object serves every handler group of an update, so what the
    gate learns about the caller is seen by the handlers that run after it.
    """

    def __init__(
        self,
        application: WorkledgerApplication,
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        self.member: StaffMember | None = None
        # What the member's next message answers (``Caller.question``), read by the gate.
        self.question: str | None = None
        # The update being handled, recorded as handled with the first commit.
        self.claim: PendingClaim | None = None
        self.translator: Translator = translator(application.bot_data.settings.language)

    @property
    def settings(self) -> Settings:
        """The runtime settings."""
        return self.bot_data.settings

    @property
    def policy(self) -> Policy:
        """The assessment policy."""
        return self.bot_data.policy

    def now(self) -> datetime:
        """The current moment (aware, UTC), from the bot's one clock."""
        return self.bot_data.clock.now()

    def today(self) -> date:
        """The organisation-local day now."""
        return self.bot_data.clock.today(self.bot_data.settings.zone)

    def uow(self) -> UnitOfWork:
        """A fresh unit of work for one use case (see ``Database.uow``).

        Its first commit also records the update as handled, so what an update
        writes is written once however often the update arrives.
        """
        return self.bot_data.database.uow(claim=self.claim)

    @property
    def locale(self) -> str:
        """The caller's locale, resolved once for this update."""
        return self.translator.locale

    def _(self, message: str) -> str:
        """``message`` in the caller's language."""
        return self.translator.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The singular or plural form for ``n`` in the caller's language."""
        return self.translator.ngettext(singular, plural, n)
