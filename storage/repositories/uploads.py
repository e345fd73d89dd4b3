"""Roster files HR sent in chat, between preview and decision."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update

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
            .where(RosterUpload.id == upload_id, RosterUpload.status == source)
            .values(status=target, decided_at=at)
        )
        return bool(getattr(result, "rowcount", 0))
