"""Roster files HR sent in chat, between preview and decision."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, exists, select, update

from storage.enums import UploadStatus
from storage.models import RosterImportTurn, RosterUpload
from storage.repositories.base import Repository, store_now


class RosterUploadRepository(Repository):
    """Roster uploads awaiting HR's decision."""

    async def add(self, upload: RosterUpload) -> RosterUpload:
        """Stage a new upload and give it an id."""
        self.session.add(upload)
        await self.session.flush()
        return upload

    async def get(self, upload_id: int) -> RosterUpload | None:
        """The upload with this id."""
        return await self.session.get(RosterUpload, upload_id)

    async def move(
        self, upload_id: int, source: UploadStatus, target: UploadStatus, at: datetime
    ) -> bool:
        """Move an upload from ``source`` to ``target``; False if it was not in ``source``.

        A conditional update, so two presses of one button cannot both win. Not while an
        Apply is under way, nor once one stopped part-way (``hand_back``).
        """
        result = await self.session.execute(
            update(RosterUpload)
            .where(
                RosterUpload.id == upload_id,
                RosterUpload.status == source,
                RosterUpload.applying_since.is_(None),
                RosterUpload.stopped_at.is_(None),
            )
            .values(status=target, decided_at=at)
        )
        return bool(getattr(result, "rowcount", 0))

    async def start_applying(self, upload_id: int, claim: str, at: datetime) -> bool:
        """Mark a previewed upload as being applied by the Apply holding ``claim``; False if
        it is not previewed, or an Apply is under way already."""
        result = await self.session.execute(
            update(RosterUpload)
            .where(
                RosterUpload.id == upload_id,
                RosterUpload.status == UploadStatus.PREVIEWED,
                RosterUpload.applying_since.is_(None),
            )
            .values(applying_since=at, applying_claim=claim)
        )
        return bool(getattr(result, "rowcount", 0))

    async def applied(
        self, upload_id: int, claim: str, at: datetime, missing: Sequence[str]
    ) -> bool:
        """The Apply holding ``claim`` ended: the upload is applied, with the people it
        lacked. False if that Apply no longer holds it (it was taken for dead)."""
        result = await self.session.execute(
            update(RosterUpload)
            .where(
                RosterUpload.id == upload_id,
                RosterUpload.status == UploadStatus.PREVIEWED,
                RosterUpload.applying_claim == claim,
            )
            .values(
                status=UploadStatus.APPLIED,
                decided_at=at,
                applying_since=None,
                applying_claim=None,
                stopped_at=None,
                missing_employee_nos=list(missing),
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def hand_back(self, upload_id: int, claim: str, at: datetime) -> bool:
        """The Apply holding ``claim`` stopped part-way: the upload may be applied again
        (which finishes the import), not cancelled; False if that Apply does not hold it."""
        result = await self.session.execute(
            update(RosterUpload)
            .where(RosterUpload.id == upload_id, RosterUpload.applying_claim == claim)
            .values(applying_since=None, applying_claim=None, stopped_at=at)
        )
        return bool(getattr(result, "rowcount", 0))

    async def hand_back_stopped(
        self, at: datetime, *, stale_after: timedelta
    ) -> list[tuple[int, int, str]]:
        """Hand back every upload whose Apply stopped part-way (the process died): those
        marked as being applied while no live import holds the import turn. Returns
        each one's id, uploader's staff id and file name.

        One statement: an Apply takes the turn before it marks its upload, so an upload
        seen marked with the turn free (in one snapshot) is a dead Apply's.
        """
        marked = await self.session.scalar(
            select(RosterUpload.id).where(RosterUpload.applying_since.is_not(None)).limit(1)
        )
        if marked is None:
            # Nearly always: no write (on SQLite, no turn of the write lock) for nothing.
            return []
        turns = cast(Table, RosterImportTurn.__table__)
        live = exists().where(turns.c.beat_at >= store_now(self.dialect, minus=stale_after))
        rows = await self.session.execute(
            update(RosterUpload)
            .where(RosterUpload.applying_since.is_not(None), ~live)
            .values(applying_since=None, applying_claim=None, stopped_at=at)
            .returning(RosterUpload.id, RosterUpload.uploaded_by_id, RosterUpload.file_name)
        )
        return sorted((int(upload), int(by), name) for upload, by, name in rows)
