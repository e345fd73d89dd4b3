"""Multi-step exchanges in progress, one per person."""

from __future__ import annotations

from storage.repositories.base import Repository


class ConversationRepository(Repository):
    """Where each person is in a conversation such as /log."""
