"""Repositories: the only place that speaks SQL. They add and query, and never commit."""

from storage.repositories.annual import AnnualRepository
from storage.repositories.approvals import ApprovalRepository
from storage.repositories.audit import AuditLog
from storage.repositories.bonus import BonusRepository
from storage.repositories.calendar import JobClaims, LeaveRepository
from storage.repositories.citizens import CitizenRepository
from storage.repositories.conversations import ConversationRepository
from storage.repositories.directory import Directory
from storage.repositories.entries import WorkEntryRepository
from storage.repositories.facts import FactsRepository
from storage.repositories.inbox import InboxRepository
from storage.repositories.inspection import Inspection
from storage.repositories.invitations import InvitationRepository
from storage.repositories.notices import NoticeRepository
from storage.repositories.organisation import DepartmentRepository, PostRepository, StaffRepository
from storage.repositories.outbox import OutboxRepository
from storage.repositories.peers import PeerRepository
from storage.repositories.periods import PeriodRepository
from storage.repositories.quota import QuotaApprovalRepository
from storage.repositories.results import ResultsRepository
from storage.repositories.reviews import ReviewRepository
from storage.repositories.roster import RosterRepository
from storage.repositories.scores import ScoreRepository
from storage.repositories.stage_reminders import StageReminderRepository
from storage.repositories.store_facts import StoreFacts
from storage.repositories.third_parties import ThirdPartyRepository
from storage.repositories.updates import ProcessedUpdates
from storage.repositories.uploads import RosterUploadRepository

__all__ = [
    "AnnualRepository",
    "ApprovalRepository",
    "AuditLog",
    "BonusRepository",
    "CitizenRepository",
    "ConversationRepository",
    "DepartmentRepository",
    "Directory",
    "FactsRepository",
    "InboxRepository",
    "Inspection",
    "InvitationRepository",
    "JobClaims",
    "LeaveRepository",
    "NoticeRepository",
    "OutboxRepository",
    "PeerRepository",
    "PeriodRepository",
    "PostRepository",
    "ProcessedUpdates",
    "QuotaApprovalRepository",
    "ResultsRepository",
    "ReviewRepository",
    "RosterRepository",
    "RosterUploadRepository",
    "ScoreRepository",
    "StaffRepository",
    "StageReminderRepository",
    "StoreFacts",
    "ThirdPartyRepository",
    "WorkEntryRepository",
]
