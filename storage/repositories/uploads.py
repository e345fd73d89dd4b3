"""Roster files HR sent in chat, between preview and decision."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update

from storage.enums import UploadStatus
from storage.models import RosterUpload
from storage.repositories.base import Repository


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

        A conditional update, so two presses of one button cannot both win.
        """
        result = await self.session.execute(
            update(RosterUpload)
            .where(
                RosterUpload.id == upload_id,
                RosterUpload.status == source,
                RosterUpload.applying_since.is_(None),
            )
            .values(status=target, decided_at=at)
        )
        return bool(getattr(result, "rowcount", 0))

    async def start_applying(self, upload_id: int, at: datetime) -> bool:
        """Mark a previewed upload as being applied; False if it is not previewed, or an
        Apply is under way already."""
        result = await self.session.execute(
            update(RosterUpload)
            .where(
                RosterUpload.id == upload_id,
                RosterUpload.status == UploadStatus.PREVIEWED,
                RosterUpload.applying_since.is_(None),
            )
            .values(applying_since=at)
        )
        return bool(getattr(result, "rowcount", 0))

    async def applied(self, upload_id: int, at: datetime, missing: Sequence[str]) -> bool:
        """The Apply under way ended: the upload is applied, with the people it lacked."""
        result = await self.session.execute(
            update(RosterUpload)
            .where(
                RosterUpload.id == upload_id,
                RosterUpload.status == UploadStatus.PREVIEWED,
                RosterUpload.applying_since.is_not(None),
            )
            .values(
                status=UploadStatus.APPLIED,
                decided_at=at,
                applying_since=None,
                missing_employee_nos=list(missing),
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def hand_back(self, upload_id: int) -> bool:
        """An Apply that stopped part-way: the upload may be applied again (which finishes
        the import); False if no Apply of it was under way."""
        result = await self.session.execute(
            update(RosterUpload)
            .where(RosterUpload.id == upload_id, RosterUpload.applying_since.is_not(None))
            .values(applying_since=None)
        )
        return bool(getattr(result, "rowcount", 0))

    async def being_applied(self) -> list[RosterUpload]:
        """Uploads an Apply is under way for (or stopped part-way on)."""
        return list(
            await self.session.scalars(
                select(RosterUpload)
                .where(RosterUpload.applying_since.is_not(None))
                .order_by(RosterUpload.id)
            )
        )
