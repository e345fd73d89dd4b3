"""The sender's claim takes the due messages most urgent first, over generated outboxes.

A small model of the README's words (due: pending and its time has come, or sending and
its lease ran out; an edit waits until the message it edits is settled; most urgent
first, then oldest) is held against ``OutboxRepository.claim`` taking a few at a time
until nothing is due: every batch is the model's next one, in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete, insert

from storage.engine import Database
from storage.enums import DeliveryStatus
from storage.models import OutboxMessage
from tests.service.properties import examples, run

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
LEASE = timedelta(minutes=5)
STATUSES = (
    DeliveryStatus.PENDING,
    DeliveryStatus.SENDING,
    DeliveryStatus.SENT,
    DeliveryStatus.FAILED,
)


@dataclass(frozen=True)
class Message:
    status: DeliveryStatus
    priority: int
    late: bool  # pending: its time has come; sending: its lease ran out
    edits: int | None  # index of an earlier message it edits


@st.composite
def outboxes(draw: st.DrawFn) -> tuple[tuple[Message, ...], int]:
    size = draw(st.integers(min_value=1, max_value=25))
    messages = tuple(
        Message(
            status=draw(st.sampled_from(STATUSES)),
            priority=draw(st.sampled_from([10, 50, 100])),
            late=draw(st.integers(0, 3)) > 0,
            edits=draw(st.none() | st.integers(0, n - 1)) if n else None,
        )
        for n in range(size)
    )
    return messages, draw(st.integers(min_value=1, max_value=6))


def due(messages: tuple[Message, ...]) -> list[int]:
    """The indexes of the due messages, in the order a sender should take them."""
    unsettled = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)

    def is_due(message: Message) -> bool:
        if message.status not in unsettled or not message.late:
            return False
        waits = (
            message.status is DeliveryStatus.PENDING
            and message.edits is not None
            and messages[message.edits].status in unsettled
        )
        return not waits

    ready = [n for n, message in enumerate(messages) if is_due(message)]
    return sorted(ready, key=lambda n: (messages[n].priority, n))


async def _claims_in_order(url: str, messages: tuple[Message, ...], batch: int) -> None:
    db = Database(url)
    try:
        async with db.uow() as uow:
            await uow.session.execute(delete(OutboxMessage))
            ids: list[int] = []
            for n, message in enumerate(messages):
                late = message.late
                row = {
                    "chat_id": 5000 + n,
                    "kind": "test",
                    "text": f"Message {n}",
                    "status": message.status,
                    "priority": message.priority,
                    "attempts": 1,
                    "created_at": NOW,
                    "next_attempt_at": NOW - timedelta(seconds=1 if late else -60),
                    "lease_until": (
                        NOW + (-timedelta(seconds=1) if late else LEASE)
                        if message.status is DeliveryStatus.SENDING
                        else None
                    ),
                    "edits_id": None if message.edits is None else ids[message.edits],
                }
                added = await uow.session.scalar(
                    insert(OutboxMessage).values(row).returning(OutboxMessage.id)
                )
                assert added is not None
                ids.append(int(added))
            await uow.commit()
        index_of = {row_id: n for n, row_id in enumerate(ids)}
        expected = due(messages)
        taken: list[int] = []
        # The model's due set is fixed: nothing is settled while claiming, so an edit of
        # a message claimed here still waits.
        for _ in range(len(messages) + 1):
            async with db.uow() as uow:
                rows = await uow.outbox.claim("test-sender", batch, NOW, LEASE)
                await uow.commit()
            if not rows:
                break
            assert len(rows) <= batch
            taken.extend(index_of[row.id] for row in rows)
            assert taken == expected[: len(taken)], (messages, batch)
        assert taken == expected, (messages, batch)
    finally:
        await db.dispose()


@examples(60)
@given(outbox=outboxes())
def test_the_claim_takes_due_messages_most_urgent_first(
    url: str, outbox: tuple[tuple[Message, ...], int]
) -> None:
    messages, batch = outbox
    run(_claims_in_order(url, messages, batch))
