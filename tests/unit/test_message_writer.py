"""The writer's pipeline: batches in flight side by side, a conversation in one at a time.

The committers here are in-memory recorders: what is under test is how the writer
batches and schedules, not a store (the stores' group commits, and the pipeline on a real
PostgreSQL, are tested in tests/integration/test_message_store.py).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from kefu.domain.models import Message, NewMessage, Sender, SenderKind
from kefu.errors import Unavailable
from kefu.store.messages import MessageWriter

SENDER = Sender(SenderKind.VISITOR, "vis_1", None)
NOW = datetime(2026, 11, 28, tzinfo=UTC)
# A hang guard only: no test expects it to run out.
GUARD_S = 10.0


class Recorder:
    """A committer: numbers messages from a shared counter, remembers its batches, checks
    that no conversation is in two batches at once, and can be held shut to play a commit
    waiting on a slow disk. ``refuse`` names bodies it fails on, as a constraint would."""

    def __init__(self, ids: itertools.count[int], in_flight: set[str]) -> None:
        self._ids = ids
        self._in_flight = in_flight
        self.batches: list[list[str]] = []
        self.open = asyncio.Event()
        self.open.set()
        self.entered = asyncio.Event()
        self.refuse: set[str] = set()

    async def __call__(self, batch: Sequence[NewMessage]) -> list[tuple[Message, bool]]:
        conversations = {new.conversation_id for new in batch}
        assert not conversations & self._in_flight, "a conversation in two batches at once"
        self._in_flight |= conversations
        self.entered.set()
        try:
            await self.open.wait()
            if any(new.body in self.refuse for new in batch):
                raise RuntimeError("refused")
            self.batches.append([new.conversation_id for new in batch])
            return [
                (
                    Message(
                        next(self._ids), new.conversation_id, new.sender, new.body, new.created_at
                    ),
                    True,
                )
                for new in batch
            ]
        finally:
            self._in_flight -= conversations


def _recorders(count: int) -> list[Recorder]:
    ids, in_flight = itertools.count(1), set[str]()
    return [Recorder(ids, in_flight) for _ in range(count)]


def _new(conversation_id: str, n: int) -> NewMessage:
    return NewMessage(conversation_id, SENDER, f"m{n}", NOW, f"c{conversation_id}-{n}")


async def test_batches_overlap_and_each_conversation_keeps_its_order() -> None:
    committers = _recorders(3)
    first = committers[0]  # the writer starts with its first committer
    first.open.clear()  # the first batch waits (its "WAL flush") ...
    conversations = [f"cnv_{n}" for n in range(40)]
    async with MessageWriter(committers) as writer:
        try:
            news = [_new(conversations[n % 40], n) for n in range(800)]
            stored = asyncio.gather(*(writer.append(new) for new in news))
            await asyncio.wait_for(first.entered.wait(), GUARD_S)
            # ... while the next batch is written beside it.
            await asyncio.wait_for(committers[1].entered.wait(), GUARD_S)
            assert not first.batches and writer.in_flight >= 1  # the first is still held
        finally:
            first.open.set()  # a failed check must not leave the writer waiting on it
        results = await asyncio.wait_for(stored, GUARD_S)
    by_conversation: dict[str, list[int]] = {}
    for new, (message, created) in zip(news, results, strict=True):
        assert created and message.conversation_id == new.conversation_id
        by_conversation.setdefault(new.conversation_id, []).append(message.id)
    for ids in by_conversation.values():
        assert ids == sorted(ids)  # in the order they were appended
    assert sum(1 for c in committers if c.batches) > 1  # the work was spread
    assert writer.written == 800 and writer.batches < 800


async def test_a_stuck_commit_holds_back_only_its_own_conversations() -> None:
    committers = _recorders(2)
    stuck = committers[0]  # the first batch goes to the first committer
    stuck.open.clear()
    async with MessageWriter(committers) as writer:
        try:
            waiting = asyncio.create_task(writer.append(_new("cnv_a", 1)))
            await asyncio.wait_for(stuck.entered.wait(), GUARD_S)
            # cnv_a's next message waits for its first's commit, not in a batch beside it.
            later = asyncio.create_task(writer.append(_new("cnv_a", 2)))
            message, created = await asyncio.wait_for(writer.append(_new("cnv_b", 3)), GUARD_S)
            assert created and message.conversation_id == "cnv_b"
            assert not waiting.done() and not later.done()
            assert writer.backlog == 1
            assert all("cnv_a" not in batch for batch in committers[1].batches)
        finally:
            stuck.open.set()
        first, second = await asyncio.wait_for(asyncio.gather(waiting, later), GUARD_S)
    assert first[0].id < second[0].id


async def test_a_refused_message_fails_alone_and_its_conversation_goes_on() -> None:
    committers = _recorders(2)
    for committer in committers:
        committer.refuse.add("m2")
    async with MessageWriter(committers) as writer:
        results = await asyncio.gather(
            *(writer.append(_new("cnv_a", n)) for n in range(5)), return_exceptions=True
        )
        after, created = await asyncio.wait_for(writer.append(_new("cnv_a", 9)), GUARD_S)
    refused = results[2]
    assert isinstance(refused, Unavailable) and refused.code == "store_error"
    stored = [r for r in results if not isinstance(r, BaseException)]
    assert [m.body for m, _ in stored] == ["m0", "m1", "m3", "m4"]
    assert created and after.id > max(m.id for m, _ in stored)
    recorded = [new for c in committers for batch in c.batches for new in batch]
    assert len(recorded) == writer.written == 5  # m2 never reported stored


async def test_leaving_waits_for_every_batch_in_flight() -> None:
    committers = _recorders(2)
    committers[0].open.clear()
    writer = MessageWriter(committers)
    await writer.__aenter__()
    appended = asyncio.create_task(writer.append(_new("cnv_a", 1)))
    await asyncio.wait_for(committers[0].entered.wait(), GUARD_S)
    leaving = asyncio.create_task(writer.__aexit__(None, None, None))
    await asyncio.sleep(0)  # leaving runs up to its wait
    assert not leaving.done()
    committers[0].open.set()
    await asyncio.wait_for(leaving, GUARD_S)
    assert appended.done() and appended.result()[1]


async def test_append_many_takes_one_conversation_only() -> None:
    async with MessageWriter(_recorders(1)) as writer:
        with pytest.raises(ValueError, match="one conversation"):
            await writer.append_many([_new("cnv_a", 1), _new("cnv_b", 2)])
        stored = await writer.append_many([_new("cnv_a", 1), _new("cnv_a", 2)])
    assert [message.id for message, _ in stored] == [1, 2]
