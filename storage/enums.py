"""Closed sets of values stored in the database."""

from __future__ import annotations

import enum


class Role(enum.IntFlag):
    """What a person may do; a person may hold several roles."""

    NONE = 0
    STAFF = 1
    SUPERVISOR = 2
    HR = 4
    ADMIN = 8


class StaffStatus(enum.StrEnum):
    """Employment status; ``second_line`` staff (退居二线) are still assessed."""

    ACTIVE = "active"
    SECOND_LINE = "second_line"
    LEFT = "left"


class EntryStatus(enum.StrEnum):
    """Where a work entry stands in the approval flow."""

    SUBMITTED = "submitted"
    APPROVED = "approved"
    RETURNED = "returned"
    REJECTED = "rejected"
    DELETED = "deleted"


class UploadStatus(enum.StrEnum):
    """What became of a roster file sent in chat."""

    PREVIEWED = "previewed"
    APPLIED = "applied"
    CANCELLED = "cancelled"
    MISSING_MARKED_LEFT = "missing_marked_left"


class DeliveryStatus(enum.StrEnum):
    """Where an outgoing message stands; sent, failed and unreachable are final."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNREACHABLE = "unreachable"


class NoticeStatus(enum.StrEnum):
    """A broadcast notice's life: composed, confirmed (queued), finished or dropped."""

    DRAFT = "draft"
    QUEUED = "queued"
    DONE = "done"
    CANCELLED = "cancelled"


class Authority(enum.StrEnum):
    """In what capacity someone may decide an entry (``ApprovalRepository.authority``)."""

    SUPERVISOR = "supervisor"  # the author's supervisor
    DELEGATE = "delegate"  # the supervisor's delegate, while the delegation is in force
    HIGHER = "higher"  # the supervisor's own supervisor, for an escalated entry
    HR = "hr"  # HR, for what nobody above the author can decide


class DecisionVia(enum.StrEnum):
    """How an entry came to be decided (``work_entries.decision_via``)."""

    SUPERVISOR = "supervisor"
    DELEGATE = "delegate"
    HIGHER = "higher"
    HR = "hr"
    BULK = "bulk"  # approved with what a list showed (/pending, a digest)
    AUTO = "auto"  # approved by the policy's auto-approval, left undecided too long

    @classmethod
    def of(cls, authority: Authority) -> DecisionVia:
        """The capacity of a single decision."""
        return cls(authority.value)


class RaterKind(enum.StrEnum):
    """Who gave a rating (``ratings.rater_kind``); the policy's ``[raters]`` weighs them."""

    SUPERVISOR = "supervisor"
    SELF = "self"
    PEER = "peer"
    SERVICE_RECIPIENT = "service_recipient"
    THIRD_PARTY = "third_party"


class BonusRunStatus(enum.StrEnum):
    """Where a bonus run stands: computed for HR to preview, published (immutable), or
    set aside for a newer preview."""

    DRAFT = "draft"
    PUBLISHED = "published"
    DISCARDED = "discarded"
