"""The assessment store's tables, as SQLAlchemy 2 typed models.

Every timestamp is timezone-aware UTC; money, coefficients and quantities are
exact decimals. Enumerations are stored as text with a CHECK constraint so the
schema reads the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql import false, text

from storage.enums import (
    BonusRunStatus,
    DecisionVia,
    DeliveryStatus,
    EntryStatus,
    NoticeStatus,
    RaterKind,
    Role,
    StaffStatus,
    UploadStatus,
)
from storage.types import ExactDecimal, FlagSet, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets 64 bits.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def _text_enum(enum_type: type[enum.StrEnum], name: str) -> Enum:
    return Enum(
        enum_type,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    """Declarative base with constraint names Alembic can rely on."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: UTCDateTime(),
        Decimal: ExactDecimal(),
    }


class Department(Base):
    """An organisational unit; grade quotas apply per department."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Post(Base):
    """A post (岗位) in a department: its type picks the indicators, its difficulty the bonus."""

    __tablename__ = "posts"
    __table_args__ = (UniqueConstraint("department_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    name: Mapped[str] = mapped_column(String(200))
    post_type: Mapped[str] = mapped_column(String(40))
    difficulty: Mapped[Decimal] = mapped_column(ExactDecimal(6, 3), default=Decimal("1"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Staff(Base):
    """A person on the roster, linked to one Telegram account once they accept an invitation."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    employee_no: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id"))
    supervisor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    roles: Mapped[Role] = mapped_column(FlagSet(Role), default=Role.STAFF)
    language: Mapped[str | None] = mapped_column(String(16))
    # Telegram's language_code as last seen, so messages sent without an update to
    # read it from (reminders, notices) still follow the person's app language.
    telegram_language: Mapped[str | None] = mapped_column(String(35))
    # Approval requests in one daily digest at this local time ("17:00"); None: at once.
    approval_digest_at: Mapped[str | None] = mapped_column(String(5))
    status: Mapped[StaffStatus] = mapped_column(
        _text_enum(StaffStatus, "staff_status"), default=StaffStatus.ACTIVE
    )
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    linked_at: Mapped[datetime | None]
    # Set when Telegram says the person blocked the bot; cleared when they write again.
    unreachable_since: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class WorkEntry(Base):
    """One record of a day's work: evidence for the assessment once a supervisor confirms it."""

    __tablename__ = "work_entries"
    # Undecided entries are found by status (approval requests, /pending, escalation);
    # an author's latest by when they were written (the flood check of every entry).
    # A period's facts are aggregated per person and indicator from the last index alone
    # (``storage.repositories.facts``): its rows come grouped, so neither engine sorts a
    # batch's entries, and it holds every column read, so no table row is visited.
    __table_args__ = (
        Index(None, "staff_id", "work_date"),
        Index(None, "status"),
        Index(None, "staff_id", "created_at"),
        Index(
            "ix_work_entries_scoring",
            "staff_id",
            "indicator_id",
            "work_date",
            "status",
            "quantity",
            "misconduct",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    work_date: Mapped[date] = mapped_column(Date)
    text: Mapped[str] = mapped_column(Text)
    indicator_id: Mapped[str | None] = mapped_column(String(60))
    quantity: Mapped[Decimal | None] = mapped_column(ExactDecimal(12, 3))
    hours: Mapped[Decimal | None] = mapped_column(ExactDecimal(5, 2))
    status: Mapped[EntryStatus] = mapped_column(
        _text_enum(EntryStatus, "entry_status"), default=EntryStatus.SUBMITTED
    )
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(Text)
    # In what capacity it was decided, or how (bulk, auto).
    decision_via: Mapped[DecisionVia | None] = mapped_column(
        _text_enum(DecisionVia, "decision_via")
    )
    # When it went to the supervisor's own supervisor for being left undecided.
    escalated_at: Mapped[datetime | None]
    # Rejected for misconduct: bars the top grade of the entry's period.
    misconduct: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When its current version went to the approver: written, or changed by its author.
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Every change is a conditional UPDATE on the version it read, which moves it on
    # (see the entries and approvals repositories): one concurrency mechanism.
    version: Mapped[int] = mapped_column(Integer, default=1)


class AuditEvent(Base):
    """One line of the append-only audit log: who did what to which record, and when.

    The database itself refuses UPDATE and DELETE on this table (see the migration).
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    actor_telegram_id: Mapped[int | None] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(60))
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str | None] = mapped_column(String(60))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ProcessedUpdate(Base):
    """A Telegram ``update_id`` already handled, so a redelivered update is ignored."""

    __tablename__ = "processed_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class InboxUpdate(Base):
    """A Telegram update as it arrived, stored before Telegram is told it was received.

    Handled from here: a crash loses no update, and a restart replays the ones not
    finished. Its effect is kept single by ``processed_updates`` (the claim).
    """

    __tablename__ = "inbox"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # The chat it belongs to (its private chat is its sender's id), if any.
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(index=True)
    # How many times it was given to the handlers; a replay gives up after a few.
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    # When the handlers were done with it (handled, refused or failed); NULL until then.
    finished_at: Mapped[datetime | None]
    # The process handling it holds it until then, and renews that while it does: several
    # processes share one inbox (webhooks), and one that finds an unfinished update no
    # longer held (its holder died) takes it over. NULL: stored before holds existed.
    held_until: Mapped[datetime | None] = mapped_column(index=True)


class Invitation(Base):
    """A one-time code that links one Telegram account to one staff record.

    Only the code's SHA-256 is stored: the code itself exists in the link HR hands
    out and nowhere else. A person has at most one live invitation.
    """

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), unique=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by_telegram_id: Mapped[int | None] = mapped_column(BigInteger)


class LinkAttempt(Base):
    """A failed attempt to redeem an invitation, counted to stop guessing."""

    __tablename__ = "link_attempts"
    __table_args__ = (Index(None, "telegram_user_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class RosterUpload(Base):
    """A roster file HR sent in chat, kept between the preview and the decision on it."""

    __tablename__ = "roster_uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    file_id: Mapped[str] = mapped_column(String(200))
    file_name: Mapped[str] = mapped_column(String(255))
    # SHA-256 of the file previewed, hex; Apply imports only a file with this digest.
    digest: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[UploadStatus] = mapped_column(
        _text_enum(UploadStatus, "upload_status"), default=UploadStatus.PREVIEWED
    )
    missing_employee_nos: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    # Set while an Apply press imports it (still ``previewed`` until the import ends):
    # an import that stopped part-way leaves it set, and the upload is handed back.
    applying_since: Mapped[datetime | None]
    # Which Apply holds it then (its own random token): only that one ends or hands it back.
    applying_claim: Mapped[str | None] = mapped_column(String(32))
    # When an Apply of it stopped part-way and it was handed back: part of it is written,
    # so it can be applied again (which finishes it) but no longer cancelled.
    stopped_at: Mapped[datetime | None]


class RosterStaging(Base):
    """A checked roster row waiting for its import to write it (see the import).

    Written in batches of short transactions that nobody else reads; the import then
    changes the staff from them in set-based statements, a range of rows per short
    transaction, and deletes them. Rows of an import that died before its end are
    garbage, dropped by age (importing the file again stages them afresh).
    """

    __tablename__ = "roster_staging"
    __table_args__ = (UniqueConstraint("import_id", "employee_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[str] = mapped_column(String(32))
    employee_no: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    department: Mapped[str] = mapped_column(String(200))
    post: Mapped[str] = mapped_column(String(200))
    # With the supervisor role of anyone with reports in the file already added.
    roles: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    # None: the cell was empty, and the person's own choice stays.
    language: Mapped[str | None] = mapped_column(String(16))
    supervisor_no: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(index=True)
    # The ids the plan worked out: the person's, department's, post's and supervisor's,
    # each a stand-in below zero (-1, -2, ... in the order the import creates them) for
    # what is new. Empty on rows staged before migration 0028.
    staff_id: Mapped[int | None] = mapped_column(Integer)
    department_id: Mapped[int | None] = mapped_column(Integer)
    post_id: Mapped[int | None] = mapped_column(Integer)
    supervisor_id: Mapped[int | None] = mapped_column(Integer)
    # The person's version as the plan read it (None for someone new; migration 0029).
    version: Mapped[int | None] = mapped_column(Integer)


class RosterImportTurn(Base):
    """The one roster import writing now: imports take turns, one at a time.

    An import writes in short transactions, one batch of people after another (see the
    import), with the ids of the new people worked out before the first: two imports
    writing at once could mix their files and their ids. Its holder beats on the store's
    own clock with every batch; a turn not beaten for a while is a dead import's, and the
    next import takes it over.
    """

    __tablename__ = "roster_import_turns"

    # Always 1: the primary key allows one row, one holder.
    slot: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    import_id: Mapped[str] = mapped_column(String(32))
    beat_at: Mapped[datetime]


class Notice(Base):
    """A notice HR broadcasts: its content, audience and options, from draft to done."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    status: Mapped[NoticeStatus] = mapped_column(
        _text_enum(NoticeStatus, "notice_status"), default=NoticeStatus.DRAFT
    )
    text: Mapped[str | None] = mapped_column(Text)
    attachment_kind: Mapped[str | None] = mapped_column(String(20))
    attachment_file_id: Mapped[str | None] = mapped_column(String(200))
    audience: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    requires_ack: Mapped[bool] = mapped_column(default=False)
    send_at: Mapped[datetime | None]
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    not_linked: Mapped[list[str]] = mapped_column(JSON, default=list)
    progress_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    progress_message_id: Mapped[int | None] = mapped_column(BigInteger)
    progress_text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    queued_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class NoticeAck(Base):
    """A recipient's "I have read this", recorded once."""

    __tablename__ = "notice_acks"

    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), primary_key=True)
    acked_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxMessage(Base):
    """One message the bot sends on its own, written in the transaction that caused it.

    The sender claims pending rows with a lease; a row whose lease ran out (its
    sender died) is pending again. ``dedup_key`` makes writing the same message
    twice a no-op. A row with ``edits_id`` is not a new message but an edit of one
    sent before (an approval request closed by a decision).
    """

    __tablename__ = "outbox"
    __table_args__ = (
        # The claim: each status's messages in the order they are sent, so that it
        # stops after a batch instead of sorting every waiting message.
        Index(None, "status", "priority", "id"),
        # The pending edits, among every edit ever made (see the claim).
        Index(None, "status", "edits_id"),
        # A decided entry's requests; with the status, so that SQLite (without
        # statistics) prefers it to the status indexes, where most rows are sent.
        Index(None, "request_entry_id", "status"),
        # A person's unsent messages (approval requests folded into one).
        Index(None, "staff_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    text: Mapped[str | None] = mapped_column(Text)
    parse_mode: Mapped[str | None] = mapped_column(String(20))
    reply_markup: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attachment_kind: Mapped[str | None] = mapped_column(String(20))
    attachment_file_id: Mapped[str | None] = mapped_column(String(200))
    dedup_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    priority: Mapped[int] = mapped_column(Integer, default=100)
    status: Mapped[DeliveryStatus] = mapped_column(
        _text_enum(DeliveryStatus, "delivery_status"), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    # The message Telegram gave back; for an edit, the message it edits (filled in at claim).
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    # An approval request's entry: once it is decided, every copy loses its buttons.
    request_entry_id: Mapped[int | None] = mapped_column(ForeignKey("work_entries.id"))
    # This row edits the message that row sent; it waits until that row is settled.
    edits_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("outbox.id"))


class DeliveryWorker(Base):
    """A running sender, seen recently; the rate is shared among the live ones."""

    __tablename__ = "delivery_workers"

    worker_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class EntryRevision(Base):
    """A work entry as it was before a change: edits never lose the old text."""

    __tablename__ = "entry_revisions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("work_entries.id"), index=True)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    work_date: Mapped[date] = mapped_column(Date)
    text: Mapped[str] = mapped_column(Text)
    indicator_id: Mapped[str | None] = mapped_column(String(60))
    quantity: Mapped[Decimal | None] = mapped_column(ExactDecimal(12, 3))
    hours: Mapped[Decimal | None] = mapped_column(ExactDecimal(5, 2))
    status: Mapped[EntryStatus] = mapped_column(_text_enum(EntryStatus, "revision_status"))


class EntryAttachment(Base):
    """Evidence for an entry: a photo or document kept by its Telegram file id."""

    __tablename__ = "entry_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("work_entries.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    file_id: Mapped[str] = mapped_column(String(200))
    file_unique_id: Mapped[str] = mapped_column(String(100))
    file_name: Mapped[str | None] = mapped_column(String(255))
    file_size: Mapped[int | None] = mapped_column(Integer)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class Conversation(Base):
    """Where a person is in a multi-step exchange (/log), kept so a restart loses nothing."""

    __tablename__ = "conversations"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    step: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class LeaveDay(Base):
    """A day a person is on leave: no entry expected, no reminder sent."""

    __tablename__ = "leave_days"
    __table_args__ = (UniqueConstraint("staff_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    day: Mapped[date] = mapped_column(Date, index=True)
    kind: Mapped[str] = mapped_column(String(20), default="leave")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApprovalRequest(Base):
    """A version of an entry put before someone who may decide it, sent once.

    ``reason`` is ``submitted`` (to the supervisor, or their delegate) or
    ``escalated`` (to the supervisor's own supervisor, or HR at the top).
    """

    __tablename__ = "approval_requests"
    __table_args__ = (UniqueConstraint("entry_id", "entry_version", "approver_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("work_entries.id"), index=True)
    entry_version: Mapped[int] = mapped_column(Integer)
    approver_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    reason: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Delegation(Base):
    """A supervisor's entries decided by someone else until a date (leave, a business trip)."""

    __tablename__ = "delegations"

    id: Mapped[int] = mapped_column(primary_key=True)
    supervisor_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    delegate_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    until: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]


class JobClaim(Base):
    """Scheduled work done once, whatever restarts or extra processes: claimed by its key.

    Keys name the work and its period, e.g. ``daily-reminder/2026-11-20``.
    """

    __tablename__ = "job_claims"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)


class AssessmentPeriod(Base):
    """One assessment period of the organisation (a month, or a quarter) and its stages.

    Created when first needed (``PeriodRepository.get_or_create``). Which stage a period
    is in on a given day follows from its dates and the policy (``assessment.periods``);
    only what people do is stored: HR starting calibration early, and publishing.
    """

    __tablename__ = "assessment_periods"

    id: Mapped[int] = mapped_column(primary_key=True)
    # "2026-11" for a month, "2026-Q4" for a quarter.
    key: Mapped[str] = mapped_column(String(10), unique=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    # HR started calibration before supervisor_review_due_day had passed.
    calibration_started_at: Mapped[datetime | None]
    calibration_started_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # A publication HR scheduled; the results go out at this time.
    publish_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)


class PeriodReview(Base):
    """One person's check for one period: self-assessment, supervisor sign-off, exclusion.

    ``post_type`` and ``department_id`` are what the person is reviewed against and
    counted in, fixed when the review is created (a second-line person is reviewed
    against the post type they hold now). A reopened review (HR, with a reason) has
    ``reopened_at`` set and ``signed_off_at`` cleared: until the reviewer signs off
    again, the person's entries of the period may change again.
    """

    __tablename__ = "period_reviews"
    __table_args__ = (
        UniqueConstraint("period_id", "staff_id"),
        # The closed-period check of an entry looks the author's reviews up.
        Index(None, "staff_id"),
        # A reviewer's people for a period (/review).
        Index(None, "period_id", "reviewer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("assessment_periods.id"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    post_type: Mapped[str | None] = mapped_column(String(40))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    self_text: Mapped[str | None] = mapped_column(Text)
    self_submitted_at: Mapped[datetime | None]
    signed_off_at: Mapped[datetime | None]
    signed_off_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # HR leaves the person out of publication (long leave, newly joined), with a reason.
    excluded_reason: Mapped[str | None] = mapped_column(Text)
    excluded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    excluded_at: Mapped[datetime | None]
    reopened_at: Mapped[datetime | None]
    reopen_reason: Mapped[str | None] = mapped_column(Text)
    reopened_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Conditional updates on the version read, like work entries.
    version: Mapped[int] = mapped_column(Integer, default=1)


class Rating(Base):
    """One rater's rating of one qualitative indicator of one person for one period.

    ``rater_key`` makes a rating unique per rater: the rater's staff id, or (for a
    citizen, who has no staff record) a token of the rating's source.
    """

    __tablename__ = "ratings"
    # The unique constraint leads with (period_id, staff_id): it is also the index the
    # aggregation of a period's ratings by person uses.
    __table_args__ = (
        UniqueConstraint("period_id", "staff_id", "indicator_id", "rater_kind", "rater_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("assessment_periods.id"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    indicator_id: Mapped[str] = mapped_column(String(60))
    rater_kind: Mapped[RaterKind] = mapped_column(_text_enum(RaterKind, "rater_kind"))
    rater_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    rater_key: Mapped[str] = mapped_column(String(64))
    value: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PeerRequest(Base):
    """A request to one peer to rate one person for one period (``assessment.peers``).

    Assigned by HR (``assigned_by_id``) or drawn by the policy's rule (no one). The
    peer's ratings are ``ratings`` of kind ``peer`` whose ``rater_key`` is this request's
    (``peer/<id>``), without the rater's id: the ratings alone do not say who gave them.
    ``answered_at``: when every indicator asked had a rating (HR sees how many are).
    """

    __tablename__ = "peer_requests"
    __table_args__ = (
        UniqueConstraint("period_id", "staff_id", "rater_id"),
        Index(None, "period_id", "rater_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("assessment_periods.id"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    rater_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None]


class ScorePoint(Base):
    """Bonus (+) or deduction (-) points given to a person for a period, with a reason.

    Never deleted: a withdrawn point keeps its row with ``withdrawn_at`` set.
    """

    __tablename__ = "score_points"
    __table_args__ = (Index(None, "period_id", "staff_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("assessment_periods.id"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    # Optional: the indicator the points are given on (personal indicators).
    indicator_id: Mapped[str | None] = mapped_column(String(60))
    amount: Mapped[Decimal] = mapped_column(ExactDecimal(8, 3))
    reason: Mapped[str] = mapped_column(Text)
    # A deduction the policy counts as disqualifying: bars the top grade.
    disqualifying: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None]
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class PeriodScore(Base):
    """A person's computed score and grade for a period, with its breakdown.

    Recomputable at any time from stored facts; the row is the latest computation.
    Calibration keeps both grades: ``grade_id`` (as assigned under the quota) and
    ``calibrated_grade_id`` (HR's, with its reason). Removed when HR reopens the
    person's period, since the review it came from is withdrawn.
    """

    __tablename__ = "period_scores"
    __table_args__ = (
        UniqueConstraint("period_id", "staff_id"),
        # Grades are assigned and counted per department (the quota).
        Index(None, "period_id", "department_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("assessment_periods.id"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    score: Mapped[Decimal] = mapped_column(ExactDecimal(9, 6))
    # The grade given under the quota, and the grade the score alone would earn.
    grade_id: Mapped[str] = mapped_column(String(32))
    by_score_grade_id: Mapped[str] = mapped_column(String(32))
    breakdown: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    disqualified: Mapped[bool] = mapped_column(Boolean, default=False)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
    calibrated_grade_id: Mapped[str | None] = mapped_column(String(32))
    calibration_reason: Mapped[str | None] = mapped_column(Text)
    calibrated_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    calibrated_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]
    # The person pressed "I have read it".
    read_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)


class StoreFact(Base):
    """A fact about the store itself, by name: which kind of bot it belongs to (``kind``:
    ``sandbox`` or ``production``, see ``storage.marker``). Written once, never changed."""

    __tablename__ = "store_facts"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    set_at: Mapped[datetime] = mapped_column(default=utcnow)


class QuotaApproval(Base):
    """Approval of the quota's wider top-grade share (``[quota] with_approval_max_share``)
    for one period and one scope: a department (``scope_key`` its id) or the whole
    organisation (``scope_key`` ``organisation``, no department).

    Standing while ``withdrawn_at`` is unset; withdrawn before publication it keeps who
    withdrew it, when and why, and a later approval of the same scope replaces the row
    (every approval and withdrawal is in the audit log).
    """

    __tablename__ = "quota_approvals"
    __table_args__ = (UniqueConstraint("period_id", "scope_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("assessment_periods.id"))
    scope_key: Mapped[str] = mapped_column(String(20))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    reason: Mapped[str] = mapped_column(Text)
    approved_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    approved_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    withdrawal_reason: Mapped[str | None] = mapped_column(Text)


class CitizenCode(Base):
    """A code a citizen opens to rate one staff member ("one matter, one rating").

    ``kind`` ``matter``: one QR code for one service, single use (``used_at``), valid
    until ``expires_at``. ``window``: the printable code of a person's service window,
    used by many citizens, valid until a newer one replaces it (``revoked_at``). The
    link carries the id and a signature, never anything stored here.
    """

    __tablename__ = "citizen_codes"
    __table_args__ = (Index(None, "staff_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    kind: Mapped[str] = mapped_column(String(10))
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class CitizenRating(Base):
    """A citizen's stars (and optional comment) for one staff member, through one code.

    ``citizen_hash`` is the keyed hash of the citizen's Telegram id (the key is not in
    the store), so a repeat can be recognised and nobody can say who it was.
    ``status``: ``counted`` (its ratings are in ``ratings``), ``flagged`` (kept, not
    counted until HR decides), ``confirmed`` (counted by HR) or ``discarded``.
    """

    __tablename__ = "citizen_ratings"
    __table_args__ = (
        Index(None, "staff_id", "created_at"),
        Index(None, "citizen_hash", "staff_id"),
        Index(None, "status", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code_id: Mapped[int] = mapped_column(ForeignKey("citizen_codes.id"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    period_id: Mapped[int] = mapped_column(ForeignKey("assessment_periods.id"))
    day: Mapped[date] = mapped_column(Date)
    citizen_hash: Mapped[str] = mapped_column(String(64))
    stars: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    # The citizen's next message is their comment, until they send one.
    awaiting_comment: Mapped[bool] = mapped_column(Boolean, default=True)
    # The flag rules it broke, comma-separated ("burst,repeat"); empty when none.
    flags: Mapped[str] = mapped_column(String(80), default="")
    status: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class ThirdPartyEvaluator(Base):
    """An external evaluator (第三方评估) HR invited for one period and some departments.

    HR drafts the invitation (who, for which period), picks the departments
    (``ThirdPartyScope``), then issues the one-time link: only the SHA-256 of its code is
    kept (``code_hash``, set on issue). The first Telegram account to open the link in
    time is bound (``telegram_user_id``) and no other ever can be; a revoked evaluator
    (``revoked_at``) can do nothing more. Ratings are ``Rating`` rows of kind
    ``third_party`` keyed ``tp:<id>``.
    """

    __tablename__ = "third_party_evaluators"
    __table_args__ = (Index(None, "period_id"), Index(None, "telegram_user_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("assessment_periods.id"))
    name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(200), default="")
    code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    issued_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger)
    bound_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class ThirdPartyScope(Base):
    """One department whose people a third-party evaluator rates."""

    __tablename__ = "third_party_scopes"

    evaluator_id: Mapped[int] = mapped_column(
        ForeignKey("third_party_evaluators.id"), primary_key=True
    )
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), primary_key=True)


class BonusAllowance(Base):
    """An allowance of a policy-defined kind (``[bonus.allowances]``) HR assigned a person
    for one period, with a reason: a hardship post, an urgent or dangerous task. Paid by
    the period's bonus runs while ``withdrawn_at`` is unset."""

    __tablename__ = "bonus_allowances"
    __table_args__ = (UniqueConstraint("period_id", "staff_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("assessment_periods.id"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    kind: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    assigned_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]


class BonusRun(Base):
    """One computation of a period's bonuses: previewed as a draft, then published.

    ``basis`` is how many runs of the period were published when it was computed (its
    lines' "paid before" come from the latest of them); publishing gives it ``number``
    basis + 1, unique per period, so a period is paid once per number whatever is
    pressed twice or run on two processes. Run 1 pays; a later one is a correction that
    pays or recovers the difference and says why (``reason``). Money is counted in the
    policy's rounding steps (``factors["step"]``) as whole numbers.
    """

    __tablename__ = "bonus_runs"
    __table_args__ = (
        UniqueConstraint("period_id", "number"),
        Index(None, "period_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("assessment_periods.id"))
    status: Mapped[BonusRunStatus] = mapped_column(
        _text_enum(BonusRunStatus, "bonus_run_status"), default=BonusRunStatus.DRAFT
    )
    basis: Mapped[int] = mapped_column(Integer)
    number: Mapped[int | None] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(10))
    pool_units: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(Text)
    # What the run was computed with: base, step, currency, mode, coefficients, allowances.
    factors: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    people: Mapped[int] = mapped_column(Integer, default=0)
    total_units: Mapped[int] = mapped_column(BigInteger, default=0)
    change_units: Mapped[int] = mapped_column(BigInteger, default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set once every line is written; only then may the run be published.
    computed_at: Mapped[datetime | None]
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    published_at: Mapped[datetime | None]


class BonusLine(Base):
    """One person's line of a bonus run and the factors that produced it, in rounding
    steps: ``share`` (base x coefficient x difficulty, or the pool share) plus
    ``allowance`` is ``amount``; ``paid`` is what earlier published runs paid, and
    ``change`` (amount - paid) what this run pays (or, negative, recovers)."""

    __tablename__ = "bonus_lines"

    # No foreign keys: lines are written only by the run's own INSERT ... SELECT from
    # rows that are constrained themselves (the published results joined with staff, who
    # are never deleted), and on PostgreSQL each line's check locks the run's, the
    # department's and the person's rows again, which cost more than the insert itself
    # (bench/bonus_export.py; the staff key went in migration 0027).
    run_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    staff_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    department_id: Mapped[int] = mapped_column(Integer)
    # None: no longer entitled (a correction recovering what was paid).
    grade_id: Mapped[str | None] = mapped_column(String(32))
    difficulty: Mapped[Decimal | None] = mapped_column(ExactDecimal(6, 3))
    # coefficient x difficulty as a whole number (see ``assessment.bonus_rules.Units``).
    weight: Mapped[int] = mapped_column(BigInteger, default=0)
    # Pool mode: the part of the exact share below one step, as a numerator.
    remainder: Mapped[int | None] = mapped_column(BigInteger)
    share: Mapped[int] = mapped_column(BigInteger, default=0)
    allowance: Mapped[int] = mapped_column(BigInteger, default=0)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)
    paid: Mapped[int] = mapped_column(BigInteger, default=0)
    change: Mapped[int] = mapped_column(BigInteger, default=0)


class AnnualRun(Base):
    """One roll-up of a year (``assessment.annual_run``): the generation its results are
    written under, batch by batch, each batch its own short transaction.

    ``state`` is ``running`` while it writes (at most one per year: a second is refused),
    ``current`` once switched in by one small transaction at the end (at most one per
    year: what everyone reads), then ``superseded`` by the next, or ``failed`` if it
    stopped before the switch (its rows are purged; the current one stands).
    """

    __tablename__ = "annual_runs"
    __table_args__ = (
        Index(
            "uq_annual_runs_year_running",
            "year",
            unique=True,
            sqlite_where=text("state = 'running'"),
            postgresql_where=text("state = 'running'"),
        ),
        Index(
            "uq_annual_runs_year_current",
            "year",
            unique=True,
            sqlite_where=text("state = 'current'"),
            postgresql_where=text("state = 'current'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    with_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    finished_at: Mapped[datetime | None] = mapped_column()


class AnnualResult(Base):
    """A person's annual result (年度考核) for one year, rolled up from the year's published
    routine results (``assessment.annual_run``): recomputed whole by each roll-up, so the
    streaks across years (merit, dismissal review, promotion) read stored facts. Each
    roll-up writes its own generation (``run_id``); readers see the year's ``current`` run.

    ``grade_id`` is ``None`` for a year with too few routine results to be graded;
    ``flags`` (merit, dismissal review, promotion, training) are HR's only.
    """

    __tablename__ = "annual_results"
    __table_args__ = (UniqueConstraint("run_id", "staff_id"), Index(None, "staff_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("annual_runs.id"))
    year: Mapped[int] = mapped_column(Integer)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    periods: Mapped[int] = mapped_column(Integer)
    score: Mapped[Decimal | None] = mapped_column(ExactDecimal(9, 6))
    by_score_grade_id: Mapped[str | None] = mapped_column(String(32))
    grade_id: Mapped[str | None] = mapped_column(String(32))
    # Keys of the periods whose routine grade barred the annual top grade.
    barred_by: Mapped[list[str]] = mapped_column(JSON, default=list)
    trainings: Mapped[list[str]] = mapped_column(JSON, default=list)
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    with_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
    computed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class HonourAward(Base):
    """An honour of the policy's list (``[[annual.honours]]``, e.g. 服务之星) awarded by HR
    to a person with a citation; part of the career record, audited (``honour.awarded``)."""

    __tablename__ = "honour_awards"
    __table_args__ = (Index(None, "staff_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    honour_id: Mapped[str] = mapped_column(String(32))
    citation: Mapped[str] = mapped_column(Text)
    awarded_on: Mapped[date] = mapped_column(Date)
    awarded_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    awarded_at: Mapped[datetime] = mapped_column(default=utcnow)


class TrainingRecord(Base):
    """A training of the policy's catalogue (``[[annual.trainings]]``) a person completed,
    recorded by HR with a note; part of the career record, audited (``training.recorded``)."""

    __tablename__ = "training_records"
    __table_args__ = (Index(None, "staff_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    training_id: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text)
    completed_on: Mapped[date] = mapped_column(Date)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class AppealCase(Base):
    """A person's review (复核) or appeal (申诉) of one published result, and its decision.

    At most one of each kind per person and period. ``evidence`` lists the documents and
    photos sent with the reason by their Telegram file ids (``{"kind", "file_id",
    "name"}``). ``due_on`` is the last day to decide, moved once by an appeal's extension.
    ``before``/``after`` hold the score and grade the decision found and left.
    """

    __tablename__ = "appeal_cases"
    __table_args__ = (
        UniqueConstraint("period_id", "staff_id", "kind"),
        # The open cases the clock job looks at.
        Index(None, "status", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("assessment_periods.id"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # "review" or "appeal"
    status: Mapped[str] = mapped_column(String(10), default="open")  # or "decided"
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    requested_at: Mapped[datetime]
    requested_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    extended_at: Mapped[datetime | None]
    extended_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    extension_reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None]
    decided_on: Mapped[date | None] = mapped_column(Date)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    outcome: Mapped[str | None] = mapped_column(String(10))  # "upheld" or "changed"
    decision_reason: Mapped[str | None] = mapped_column(Text)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
