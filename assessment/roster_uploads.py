"""A roster file sent in chat: previewed first, then applied or cancelled by the HR who sent it."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from assessment.leaving import Kept, Named
from assessment.roster import (
    ImportSummary,
    MarkedLeft,
    ParsedRoster,
    import_roster,
    leaving,
    mark_left,
)
from storage.enums import UploadStatus
from storage.models import RosterUpload
from storage.uow import UnitOfWork


class DecisionRefused(enum.StrEnum):
    """Why a press on a roster upload's button changed nothing."""

    UNKNOWN = "unknown"
    NOT_YOURS = "not_yours"
    ALREADY_DECIDED = "already_decided"


@dataclass(frozen=True, slots=True)
class Upload:
    """What the decision needs to know about an upload."""

    id: int
    file_id: str
    file_name: str
    status: UploadStatus
    missing: tuple[str, ...]


async def preview(
    uow: UnitOfWork, roster: ParsedRoster, *, uploader_id: int, file_id: str, now: datetime
) -> tuple[int, ImportSummary]:
    """Work out what importing would change, and keep the upload for the decision."""
    summary = await import_roster(uow, roster, actor_staff_id=uploader_id, now=now, dry_run=True)
    upload = await uow.uploads.add(
        RosterUpload(uploaded_by_id=uploader_id, file_id=file_id, file_name=roster.filename)
    )
    await uow.commit()
    return upload.id, summary


async def find(uow: UnitOfWork, upload_id: int, staff_id: int) -> Upload | DecisionRefused:
    """The upload, if it exists and ``staff_id`` sent it."""
    upload = await uow.uploads.get(upload_id)
    if upload is None:
        return DecisionRefused.UNKNOWN
    if upload.uploaded_by_id != staff_id:
        return DecisionRefused.NOT_YOURS
    return Upload(
        upload.id,
        upload.file_id,
        upload.file_name,
        upload.status,
        tuple(upload.missing_employee_nos),
    )


async def apply(
    uow: UnitOfWork, upload: Upload, roster: ParsedRoster, *, actor_staff_id: int, now: datetime
) -> ImportSummary | DecisionRefused:
    """Import a previewed upload, once: the claim and the import commit together.

    The people the file lacks are kept on the upload afterwards, for the button
    that marks them as having left.
    """
    if not await uow.uploads.move(upload.id, UploadStatus.PREVIEWED, UploadStatus.APPLIED, now):
        return DecisionRefused.ALREADY_DECIDED
    stored = await uow.uploads.get(upload.id)
    assert stored is not None
    summary = await import_roster(uow, roster, actor_staff_id=actor_staff_id, now=now)
    stored.missing_employee_nos = list(summary.missing)
    await uow.commit()
    return summary


async def cancel(uow: UnitOfWork, upload: Upload, *, now: datetime) -> DecisionRefused | None:
    """Drop a previewed upload without importing it."""
    if not await uow.uploads.move(upload.id, UploadStatus.PREVIEWED, UploadStatus.CANCELLED, now):
        return DecisionRefused.ALREADY_DECIDED
    await uow.commit()
    return None


async def missing_leaving(
    uow: UnitOfWork, upload: Upload, *, actor_staff_id: int
) -> tuple[tuple[Named, ...], tuple[Kept, ...]] | DecisionRefused:
    """Who marking the people an applied upload lacked would mark and keep; nothing is written.

    What HR confirms before ``mark_missing_left``.
    """
    if upload.status is not UploadStatus.APPLIED:
        return DecisionRefused.ALREADY_DECIDED
    return await leaving(uow, list(upload.missing), actor_staff_id=actor_staff_id)


async def mark_missing_left(
    uow: UnitOfWork, upload: Upload, *, actor_staff_id: int, now: datetime
) -> MarkedLeft | DecisionRefused:
    """Mark the people an applied upload lacked as having left, once (the rules of who may)."""
    moved = await uow.uploads.move(
        upload.id, UploadStatus.APPLIED, UploadStatus.MISSING_MARKED_LEFT, now
    )
    if not moved:
        return DecisionRefused.ALREADY_DECIDED
    return await mark_left(uow, list(upload.missing), actor_staff_id=actor_staff_id, now=now)
