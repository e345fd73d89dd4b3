"""Fixtures of the service tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from storage.engine import Database


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """The store over the test's own migrated database."""
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest.fixture
def url(database_url: str) -> str:
    """The test's database, for synchronous (hypothesis) tests to hand to each example."""
    return database_url
