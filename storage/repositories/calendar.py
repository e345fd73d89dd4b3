"""Leave days and claims on scheduled work."""

from __future__ import annotations

from storage.repositories.base import Repository


class LeaveRepository(Repository):
    """Days people are on leave."""


class JobClaims(Repository):
    """Keys of scheduled work already done (``daily-reminder/2026-11-20``)."""
