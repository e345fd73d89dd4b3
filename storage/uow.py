"""The unit of work: one session, one transaction, rolled back unless committed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.repositories import (
    AnnualRepository,
    ApprovalRepository,
    AuditLog,
    BonusRepository,
    CitizenRepository,
    ConversationRepository,
    DepartmentRepository,
    Directory,
    FactsRepository,
    InboxRepository,
    Inspection,
    InvitationRepository,
    JobClaims,
    LeaveRepository,
    NoticeRepository,
    OutboxRepository,
    PeerRepository,
    PeriodRepository,
    PostRepository,
    ProcessedUpdates,
    QuotaApprovalRepository,
    ResultsRepository,
    ReviewRepository,
    RosterRepository,
    RosterUploadRepository,
    ScoreRepository,
    StaffRepository,
    StageReminderRepository,
    StoreFacts,
    ThirdPartyRepository,
    WorkEntryRepository,
)
from storage.repositories.appeals import AppealRepository
from storage.repositories.exports import ExportReads


@dataclass(slots=True)
class PendingClaim:
    """A Telegram update being handled, to be recorded as handled with the first commit."""

    update_id: int
    at: datetime  # when it arrived, by the bot's clock
    settled: bool = False


# Told of each job claim: its key, and whether this claim took it (``JobClaims.claim``).
JobClaimObserver = Callable[[str, bool], None]


class UpdateAlreadyHandled(Exception):  # noqa: N818 - a state, not an error of the caller
    """The update was claimed by another process or an earlier delivery; nothing was written."""

    def __init__(self, update_id: int) -> None:
        super().__init__(f"update {update_id} was already handled")
        self.update_id = update_id


class UnitOfWork:
    """Owns the transaction of one use case; repositories share its session and never commit.

    Leaving the ``async with`` block without ``commit()`` rolls everything back,
    so a use case that fails half-way writes nothing.

    Given a ``PendingClaim``, the first commit also records the update as handled,
    in the same transaction: what an update writes is written exactly once, even
    when Telegram delivers it twice or two processes receive it.
    """

    session: AsyncSession
    staff: StaffRepository
    departments: DepartmentRepository
    posts: PostRepository
    entries: WorkEntryRepository
    audit: AuditLog
    updates: ProcessedUpdates
    inbox: InboxRepository
    inspection: Inspection
    invitations: InvitationRepository
    uploads: RosterUploadRepository
    directory: Directory
    outbox: OutboxRepository
    notices: NoticeRepository
    leave: LeaveRepository
    claims: JobClaims
    conversations: ConversationRepository
    approvals: ApprovalRepository
    roster: RosterRepository
    periods: PeriodRepository
    reviews: ReviewRepository
    results: ResultsRepository
    facts: FactsRepository
    scores: ScoreRepository
    stage_reminders: StageReminderRepository
    quota: QuotaApprovalRepository
    third_parties: ThirdPartyRepository
    peers: PeerRepository
    bonus: BonusRepository
    store_facts: StoreFacts
    citizens: CitizenRepository
    annual: AnnualRepository
    exports: ExportReads

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        claim: PendingClaim | None = None,
        *,
        on_job_claim: JobClaimObserver | None = None,
        background_sessions: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self._sessions = sessions
        self._claim = claim
        self._on_job_claim = on_job_claim
        self._background_sessions = background_sessions or sessions

    async def __aenter__(self) -> Self:
        self.session = self._sessions()
        self.staff = StaffRepository(self.session)
        self.departments = DepartmentRepository(self.session)
        self.posts = PostRepository(self.session)
        self.entries = WorkEntryRepository(self.session)
        self.audit = AuditLog(self.session)
        self.updates = ProcessedUpdates(self.session)
        self.inbox = InboxRepository(self.session)
        self.inspection = Inspection(self.session)
        self.invitations = InvitationRepository(self.session)
        self.uploads = RosterUploadRepository(self.session)
        self.directory = Directory(self.session)
        self.outbox = OutboxRepository(self.session)
        self.notices = NoticeRepository(self.session)
        self.leave = LeaveRepository(self.session)
        self.claims = JobClaims(self.session, self._on_job_claim)
        self.conversations = ConversationRepository(self.session)
        self.approvals = ApprovalRepository(self.session)
        self.roster = RosterRepository(self.session)
        self.periods = PeriodRepository(self.session)
        self.reviews = ReviewRepository(self.session)
        self.results = ResultsRepository(self.session)
        self.facts = FactsRepository(self.session)
        self.scores = ScoreRepository(self.session)
        self.stage_reminders = StageReminderRepository(self.session)
        self.quota = QuotaApprovalRepository(self.session)
        self.third_parties = ThirdPartyRepository(self.session)
        self.peers = PeerRepository(self.session)
        self.bonus = BonusRepository(self.session)
        self.store_facts = StoreFacts(self.session)
        self.citizens = CitizenRepository(self.session)
        self.appeals = AppealRepository(self.session)
        self.annual = AnnualRepository(self.session)
        self.exports = ExportReads(self.session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() returns the connection with its transaction rolled back, and,
        # unlike rollback(), leaves what was already read readable afterwards.
        await self.session.close()

    async def commit(self) -> None:
        """Make everything done in this unit of work permanent.

        Raises:
            UpdateAlreadyHandled: The update being handled was claimed meanwhile;
                everything was rolled back.
        """
        claim = self._claim
        if claim is not None and not claim.settled:
            if not await self.updates.claim(claim.update_id, at=claim.at):
                await self.session.rollback()
                raise UpdateAlreadyHandled(claim.update_id)
            await self.session.commit()
            claim.settled = True
            return
        await self.session.commit()

    def another(self, *, background: bool = False) -> UnitOfWork:
        """A fresh unit of work on the same store, with a transaction of its own and no
        update claim: for work a use case commits on the side (an import's staged rows).

        ``background``: its writes are a big job's, which on SQLite wait while people's
        writes wait (``Database.uow``)."""
        return UnitOfWork(
            self._background_sessions if background else self._sessions,
            on_job_claim=self._on_job_claim,
            background_sessions=self._background_sessions,
        )

    async def rollback(self) -> None:
        """Discard everything done since the last commit."""
        await self.session.rollback()
