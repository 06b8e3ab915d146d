"""The writer's lanes: a conversation keeps to one lane, a slow lane holds no other back.

The committers here are in-memory recorders: what is under test is how the writer
batches and schedules, not a store (the stores' group commits are tested on SQLite and
PostgreSQL in tests/integration/test_message_store.py).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from kefu.domain.models import Message, NewMessage, Sender, SenderKind
from kefu.store.messages import MessageWriter

SENDER = Sender(SenderKind.VISITOR, "vis_1", None)
NOW = datetime(2026, 11, 28, tzinfo=UTC)


class Recorder:
    """A lane's store: numbers messages from a shared counter, remembers its batches,
    and can be held shut to play a commit stuck on a slow disk."""

    def __init__(self, ids: itertools.count[int]) -> None:
        self._ids = ids
        self.batches: list[list[str]] = []
        self.open = asyncio.Event()
        self.open.set()

    async def __call__(self, batch: Sequence[NewMessage]) -> list[tuple[Message, bool]]:
        await self.open.wait()
        self.batches.append([new.conversation_id for new in batch])
        return [
            (
                Message(next(self._ids), new.conversation_id, new.sender, new.body, new.created_at),
                True,
            )
            for new in batch
        ]


def _new(conversation_id: str, n: int) -> NewMessage:
    return NewMessage(conversation_id, SENDER, f"m{n}", NOW, f"c{conversation_id}-{n}")


async def test_a_conversation_keeps_to_one_lane_and_its_order() -> None:
    ids = itertools.count(1)
    lanes = [Recorder(ids) for _ in range(4)]
    conversations = [f"cnv_{n}" for n in range(40)]
    async with MessageWriter(lanes) as writer:
        news = [_new(conversations[n % 40], n) for n in range(800)]
        results = await asyncio.gather(*(writer.append(new) for new in news))
    by_conversation: dict[str, list[int]] = {}
    for new, (message, created) in zip(news, results, strict=True):
        assert created and message.conversation_id == new.conversation_id
        by_conversation.setdefault(new.conversation_id, []).append(message.id)
    for stored in by_conversation.values():
        assert stored == sorted(stored)  # in the order they were appended
    homes: dict[str, set[int]] = {}
    for number, lane in enumerate(lanes):
        for batch in lane.batches:
            for conversation_id in batch:
                homes.setdefault(conversation_id, set()).add(number)
    assert all(len(home) == 1 for home in homes.values())
    assert sum(1 for lane in lanes if lane.batches) > 1  # the work was spread
    assert writer.written == 800 and writer.batches < 800


async def test_a_stuck_lane_does_not_hold_back_the_others() -> None:
    ids = itertools.count(1)
    lanes = [Recorder(ids) for _ in range(2)]
    async with MessageWriter(lanes) as writer:
        stuck = writer.lane_of("cnv_a")
        other = next(f"cnv_{n}" for n in range(100) if writer.lane_of(f"cnv_{n}") != stuck)
        held = lanes[stuck]
        held.open.clear()
        waiting = asyncio.create_task(writer.append(_new("cnv_a", 1)))
        message, created = await asyncio.wait_for(writer.append(_new(other, 2)), 5)
        assert created and message.conversation_id == other
        assert not waiting.done()
        held.open.set()
        assert (await waiting)[1]


async def test_append_many_takes_one_conversation_only() -> None:
    async with MessageWriter([Recorder(itertools.count(1))]) as writer:
        with pytest.raises(ValueError, match="one conversation"):
            await writer.append_many([_new("cnv_a", 1), _new("cnv_b", 2)])
        stored = await writer.append_many([_new("cnv_a", 1), _new("cnv_a", 2)])
    assert [message.id for message, _ in stored] == [1, 2]
