"""Roster files HR sent in chat, between preview and decision."""

from __future__ import annotations

from storage.repositories.base import Repository


class RosterUploadRepository(Repository):
    """Roster uploads awaiting HR's decision."""
