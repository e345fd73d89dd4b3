"""Daily work entries."""

from __future__ import annotations

from storage.models import WorkEntry
from storage.repositories.base import Repository


class WorkEntryRepository(Repository):
    """Daily work entries."""

    async def get(self, entry_id: int) -> WorkEntry | None:
        """The entry with this id."""
        return await self.session.get(WorkEntry, entry_id)

    async def add(self, entry: WorkEntry) -> WorkEntry:
        """Stage a new entry and give it an id."""
        self.session.add(entry)
        await self.session.flush()
        return entry
