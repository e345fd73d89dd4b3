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
