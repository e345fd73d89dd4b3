"""A roster file sent in chat: previewed first, then applied or cancelled by the HR who sent it.

The file is read once, at the preview, in a worker process (``RosterFiles.check``).
What it read is kept in this process for the Apply press, still pickled as the
worker sent it (one bytes object: nothing for the garbage collector to walk while
HR makes up their mind), keyed by upload and checked against the digest of the
file stored with the upload. A process that
does not have it (restarted, or another bot process on the same store) downloads
the file again, makes sure it is the very file previewed, and reads it again in
its worker.
"""

from __future__ import annotations

import enum
import hashlib
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from assessment.leaving import Kept, Named
from assessment.outbox import Outgoing, enqueue
from assessment.roster import (
    ImportSummary,
    MarkedLeft,
    ParsedRoster,
    import_roster,
    leaving,
    mark_left,
)
from assessment.roster_cells import RosterRules
from assessment.roster_import import TURN_STALE
from assessment.roster_problems import ProblemCode, rejected
from assessment.roster_read import MAX_ROWS
from assessment.roster_worker import PackedRoster, RosterWorkers
from config.policy import Policy
from storage.enums import UploadStatus
from storage.models import RosterUpload
from storage.repositories.approvals import Contact
from storage.uow import UnitOfWork


class DecisionRefused(enum.StrEnum):
    """Why a press on a roster upload's button changed nothing."""

    UNKNOWN = "unknown"
    NOT_YOURS = "not_yours"
    ALREADY_DECIDED = "already_decided"
    # An Apply of it stopped part-way: it can be applied again, to finish, not cancelled.
    PART_WRITTEN = "part_written"
    # An Apply of it is under way (or stopped with its process, not yet handed back).
    BEING_APPLIED = "being_applied"


@dataclass(frozen=True, slots=True)
class Upload:
    """What the decision needs to know about an upload."""

    id: int
    file_id: str
    file_name: str
    status: UploadStatus
    missing: tuple[str, ...]
    # SHA-256 of the file previewed (None for uploads previewed before it was kept).
    digest: str | None = None
    # An Apply of it is under way (or stopped with its process, not yet handed back).
    applying: bool = False


def file_digest(data: bytes) -> str:
    """The digest an upload keeps of its file: SHA-256, in hex."""
    return hashlib.sha256(data).hexdigest()


class CheckedRosters:
    """Rosters read at preview, kept (pickled) for their Apply: at most ``rows`` rows in all
    (100,000 rows take about 10 MiB so).

    The oldest go first when a new one needs the room; a roster bigger than the
    whole room is not kept (its Apply reads the file again).
    """

    def __init__(self, rows: int = MAX_ROWS) -> None:
        self.rows = rows
        self._kept: OrderedDict[int, tuple[str, PackedRoster]] = OrderedDict()
        self._size = 0

    def keep(self, upload_id: int, digest: str, roster: PackedRoster) -> None:
        """Keep ``roster``, read from the file with ``digest``, for upload ``upload_id``."""
        self.forget(upload_id)
        if roster.rows > self.rows:
            return
        while self._kept and self._size + roster.rows > self.rows:
            _, (_, oldest) = self._kept.popitem(last=False)
            self._size -= oldest.rows
        self._kept[upload_id] = (digest, roster)
        self._size += roster.rows

    def recall(self, upload_id: int, digest: str | None) -> PackedRoster | None:
        """The roster kept for the upload, if it was read from the file with ``digest``."""
        kept = self._kept.get(upload_id)
        if kept is None or digest is None or kept[0] != digest:
            return None
        return kept[1]

    def forget(self, upload_id: int) -> None:
        """Drop what is kept for the upload (decided, or replaced)."""
        kept = self._kept.pop(upload_id, None)
        if kept is not None:
            self._size -= kept[1].rows


@dataclass(frozen=True, slots=True)
class CheckedFile:
    """A roster file read and checked in a worker, not yet previewed."""

    digest: str
    roster: PackedRoster


class RosterFiles:
    """How the bot reads roster files: in worker processes, once per upload.

    The rows are never unpacked in the bot's process: a preview or an import sends
    them, as the reader sent them, to the child that works its plan out. Owned by the
    bot: ``close`` at shutdown kills the readers still running.
    """

    def __init__(self, workers: RosterWorkers | None = None) -> None:
        self.workers = workers or RosterWorkers()
        self.checked = CheckedRosters()

    async def check(self, data: bytes, filename: str, policy: Policy) -> CheckedFile:
        """Read and check a file in a worker: its digest and the (packed) roster.

        Raises:
            RosterRejected: every problem found, or a limit the file went past.
        """
        roster = await self.workers.read(data, filename, RosterRules.of(policy))
        return CheckedFile(file_digest(data), roster)

    async def preview(
        self,
        uow: UnitOfWork,
        checked: CheckedFile,
        *,
        uploader_id: int,
        file_id: str,
        now: datetime,
    ) -> tuple[int, ImportSummary]:
        """``preview`` of a checked file; what was read is kept for the upload's Apply."""
        # The roster goes to the import's planning child as the reader sent it.
        upload_id, summary = await preview(
            uow,
            checked.roster,
            uploader_id=uploader_id,
            file_id=file_id,
            now=now,
            digest=checked.digest,
        )
        self.checked.keep(upload_id, checked.digest, checked.roster)
        return upload_id, summary

    async def apply(
        self,
        uow: UnitOfWork,
        upload: Upload,
        policy: Policy,
        download: Callable[[], Awaitable[bytes]],
        *,
        actor_staff_id: int,
        now: datetime,
    ) -> ImportSummary | DecisionRefused:
        """``apply`` to the roster the upload previewed; forgotten once imported.

        Raises:
            RosterRejected: as ``previewed``, or the import's own (the store changed).
        """
        roster = await self.previewed(upload, policy, download)
        result = await apply(uow, upload, roster, actor_staff_id=actor_staff_id, now=now)
        if not isinstance(result, DecisionRefused):
            self.checked.forget(upload.id)
        return result

    async def previewed(
        self, upload: Upload, policy: Policy, download: Callable[[], Awaitable[bytes]]
    ) -> PackedRoster:
        """The roster the upload previewed: kept since, or the file read again.

        Raises:
            RosterRejected: ``file_changed`` if the file downloaded now is not the
                one previewed; or the problems of a file read again.
        """
        kept = self.checked.recall(upload.id, upload.digest)
        if kept is not None:
            return kept
        data = await download()
        digest = file_digest(data)
        if upload.digest is not None and digest != upload.digest:
            raise rejected(ProblemCode.FILE_CHANGED)
        roster = await self.workers.read(data, upload.file_name, RosterRules.of(policy))
        self.checked.keep(upload.id, digest, roster)
        return roster

    def close(self) -> None:
        """Stop the readers still running (at shutdown)."""
        self.workers.close()


async def preview(
    uow: UnitOfWork,
    roster: ParsedRoster | PackedRoster,
    *,
    uploader_id: int,
    file_id: str,
    now: datetime,
    digest: str | None = None,
) -> tuple[int, ImportSummary]:
    """Work out what importing would change, and keep the upload for the decision."""
    summary = await import_roster(uow, roster, actor_staff_id=uploader_id, now=now, dry_run=True)
    upload = await uow.uploads.add(
        RosterUpload(
            uploaded_by_id=uploader_id,
            file_id=file_id,
            file_name=roster.filename,
            digest=digest,
        )
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
        upload.digest,
        upload.applying_since is not None,
    )


async def apply(
    uow: UnitOfWork,
    upload: Upload,
    roster: ParsedRoster | PackedRoster,
    *,
    actor_staff_id: int,
    now: datetime,
) -> ImportSummary | DecisionRefused:
    """Import a previewed upload, once: the import's first transaction claims it, its last
    records it applied.

    The people the file lacks are kept on the upload afterwards, for the button
    that marks them as having left. An import that stops part-way hands the upload
    back (a press on Apply again finishes it) and raises ``ImportStopped``; one stopped
    by the process ending is handed back by ``hand_back_stopped``.
    """

    # This Apply's own: only it ends the upload's Apply or hands it back.
    token = uuid.uuid4().hex

    async def claim(uow: UnitOfWork) -> None:
        # In the import's first transaction: a press on Apply that lost the race rolls
        # it back, and the import is written once.
        if not await uow.uploads.start_applying(upload.id, token, now):
            raise _AlreadyDecided

    async def applied(uow: UnitOfWork, summary: ImportSummary) -> None:
        # In the import's last transaction. Taken for dead meanwhile (and the upload handed
        # back to HR), this import stops there: Apply again writes the rest.
        if not await uow.uploads.applied(upload.id, token, now, summary.missing):
            raise RuntimeError(f"the Apply of roster upload {upload.id} no longer holds it")

    async def hand_back(uow: UnitOfWork) -> None:
        await uow.uploads.hand_back(upload.id, token, now)

    try:
        return await import_roster(
            uow,
            roster,
            actor_staff_id=actor_staff_id,
            now=now,
            claim=claim,
            with_change=applied,
            on_stop=hand_back,
        )
    except _AlreadyDecided:
        return await _why_not(uow, upload.id)


@dataclass(frozen=True, slots=True)
class StoppedApply:
    """An upload whose Apply stopped part-way (its process died), handed back to be
    applied again: what the HR who sent it is told."""

    upload_id: int
    file_name: str
    uploader: Contact


async def hand_back_stopped(
    uow: UnitOfWork, *, render: Callable[[StoppedApply], Outgoing | None], now: datetime
) -> int:
    """Hand back the uploads whose Apply stopped part-way with the process that ran it,
    each with a message to its uploader (``render``); commits. How many were handed back.

    A press on Apply again imports the same file, which finishes the change. An Apply
    that failed in a live process hands its upload back itself (``apply``).
    """
    stopped = await uow.uploads.hand_back_stopped(now, stale_after=TURN_STALE)
    if not stopped:
        await uow.rollback()
        return 0
    contacts = await uow.approvals.contacts([uploader for _, uploader, _ in stopped])
    told = (
        render(StoppedApply(upload_id, file_name, contacts[uploader]))
        for upload_id, uploader, file_name in stopped
        if uploader in contacts
    )
    await enqueue(uow, [message for message in told if message is not None], now=now)
    await uow.commit()
    return len(stopped)


class _AlreadyDecided(Exception):  # noqa: N818 - a state, not an error
    """Another press applied or cancelled the upload first."""


async def cancel(uow: UnitOfWork, upload: Upload, *, now: datetime) -> DecisionRefused | None:
    """Drop a previewed upload without importing it."""
    if not await uow.uploads.move(upload.id, UploadStatus.PREVIEWED, UploadStatus.CANCELLED, now):
        return await _why_not(uow, upload.id)
    await uow.commit()
    return None


async def _why_not(uow: UnitOfWork, upload_id: int) -> DecisionRefused:
    """Why a press on a previewed upload's Apply or Cancel changed nothing."""
    async with uow.another() as side:
        stored = await side.uploads.get(upload_id)
        if stored is not None and stored.status is UploadStatus.PREVIEWED:
            if stored.applying_since is not None:
                return DecisionRefused.BEING_APPLIED
            if stored.stopped_at is not None:
                return DecisionRefused.PART_WRITTEN
    return DecisionRefused.ALREADY_DECIDED


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
