"""The store marker: a store belongs to the sandbox or to a real bot, never to both."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from storage.engine import Database
from storage.marker import KIND_FACT, StoreInUseError, StoreKind, claim_store


async def _mark(db: Database) -> str | None:
    async with db.uow() as uow:
        return await uow.store_facts.value(KIND_FACT)


@pytest.mark.parametrize("kind", ["sandbox", "production"])
async def test_an_unmarked_store_takes_the_first_claim_for_good(
    db: Database, kind: StoreKind
) -> None:
    assert await _mark(db) is None
    await claim_store(db, kind)
    assert await _mark(db) == kind
    await claim_store(db, kind)  # the same kind again: a restart
    assert await _mark(db) == kind


async def test_a_real_bot_refuses_the_sandboxs_store(db: Database) -> None:
    await claim_store(db, "sandbox")
    with pytest.raises(StoreInUseError) as refused:
        await claim_store(db, "production")
    message = str(refused.value)
    assert message.startswith("this database belongs to the sandbox;")
    assert "\n" not in message
    assert await _mark(db) == "sandbox", "a refused claim leaves the mark as it was"


async def test_the_sandbox_refuses_a_real_bots_store(db: Database) -> None:
    await claim_store(db, "production")
    with pytest.raises(StoreInUseError) as refused:
        await claim_store(db, "sandbox")
    assert str(refused.value).startswith("this database belongs to a real bot;")
    assert "\n" not in str(refused.value)
    assert await _mark(db) == "production"


async def test_two_first_claims_at_once_one_wins_and_the_other_sees_its_mark(
    database_url: str,
) -> None:
    # Two processes' stores (an engine each) claiming the same unmarked database at once.
    sandbox, production = Database(database_url), Database(database_url)
    try:
        outcomes = await asyncio.gather(
            claim_store(sandbox, "sandbox"),
            claim_store(production, "production"),
            return_exceptions=True,
        )
        refused = [o for o in outcomes if isinstance(o, StoreInUseError)]
        assert len(refused) == 1, outcomes
        assert outcomes.count(None) == 1, outcomes
        winner = "sandbox" if outcomes[0] is None else "production"
        assert await _mark(sandbox) == winner
        assert refused[0].marked == winner
    finally:
        await sandbox.dispose()
        await production.dispose()


async def test_a_claim_waits_for_a_first_claim_in_progress_and_then_sees_its_mark(
    database_url: str,
) -> None:
    # The first claimant has written its mark and not committed yet when the second comes.
    first, second = Database(database_url), Database(database_url)
    try:
        async with first.uow() as uow:
            assert await uow.store_facts.settle(KIND_FACT, "sandbox", at=datetime.now(UTC)) == (
                "sandbox"
            )
            claiming = asyncio.create_task(claim_store(second, "production"))
            await asyncio.sleep(0.5)
            assert not claiming.done(), "the second claim waits for the first to end"
            await uow.commit()
        with pytest.raises(StoreInUseError):
            await claiming
        assert await _mark(second) == "sandbox"
    finally:
        await first.dispose()
        await second.dispose()
