"""Facts about the store itself (``store_facts``): each written once, by whoever is first."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.models import StoreFact
from storage.repositories.base import Repository

_FACTS = cast(Table, StoreFact.__table__)


class StoreFacts(Repository):
    """Named facts about the store; a fact once written keeps its first value."""

    async def settle(self, name: str, value: str, *, at: datetime) -> str:
        """Write ``name`` as ``value`` unless it is written already; the value it has now.

        Safe when two processes settle the same fact at once: one insert wins, and
        the other reads the winner's value (PostgreSQL waits for the winner's commit).
        """
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        await self.session.execute(
            insert(_FACTS)
            .values(name=name, value=value, set_at=at)
            .on_conflict_do_nothing(index_elements=[_FACTS.c.name])
        )
        current = await self.session.scalar(select(_FACTS.c.value).where(_FACTS.c.name == name))
        assert current is not None, f"store fact {name} vanished"
        return str(current)

    async def value(self, name: str) -> str | None:
        """The value of ``name``, None if it was never written."""
        found = await self.session.scalar(select(_FACTS.c.value).where(_FACTS.c.name == name))
        return None if found is None else str(found)
