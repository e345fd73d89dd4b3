"""Invitation codes (stored hashed) and failed attempts to redeem them."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from storage.repositories.base import Repository


class InvitationRepository(Repository):
    """One live invitation per person, found by the hash of its code."""

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
