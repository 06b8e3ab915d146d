"""SQLite's search index filled behind the chat commit (kefu.store.search_indexer), on a real
migrated SQLite file: a search finds a message as soon as its sender was answered; the
index catches up on its own (on a timer at a trickle, inline once a batch's worth waits);
a restart indexes what a stopped process left; an erased message's id drawn again is
indexed with its new text; and a failing index never fails the chat, which it then
catches up with."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from kefu.clock import SystemClock
from kefu.domain.models import NewMessage, Sender, SenderKind
from kefu.domain.search_text import parse_query
from kefu.store import search_indexer
from kefu.store.conversation_search import Filters
from kefu.store.database import Database
from kefu.store.repositories import Repositories
from kefu.store.sqlite_writer import SqliteMessageWriter
from tests.support.sqlite import copy_of

CLOCK = SystemClock()


@pytest.fixture
def url(sqlite_template: Path, tmp_path: Path) -> str:
    return copy_of(sqlite_template, tmp_path / "kefu.db")


async def _conversation(db: Database) -> tuple[str, str]:
    repos = Repositories.over(db)
    visitor = await repos.visitors.create(now=CLOCK.now())
    conversation = await repos.conversations.create(visitor.id, CLOCK.now())
    return conversation.id, visitor.id


def _new(conversation: tuple[str, str], body: str, key: str) -> NewMessage:
    sender = Sender(SenderKind.VISITOR, conversation[1], None)
    return NewMessage(conversation[0], sender, body, CLOCK.now(), key)


async def _found(db: Database, query: str) -> list[str]:
    repos = Repositories.over(db)
    page, _ = await repos.summaries.search(
        status=None, assignee_id=None, filters=Filters(phrases=tuple(parse_query(query)))
    )
    return [summary.record.id for summary in page]


async def _indexed(db: Database) -> int:
    async with db.connect() as conn:
        return int((await conn.execute(sa.text("SELECT count(*) FROM message_search"))).scalar())


async def _until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll a state the indexer reaches by itself (a timer of its own), with a generous
    deadline: the assertion is about the state, never about how soon."""
    for _ in range(600):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never: {what}")


async def test_a_message_is_found_once_its_sender_is_answered(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_indexer, "INDEX_DELAY", 3600.0)  # only the search catches up
    async with Database(url) as db, SqliteMessageWriter(db) as writer:
        conversation = await _conversation(db)
        await writer.append(_new(conversation, "我的订单没到 refund please", "m1"))
        assert db.search_indexer is not None and db.search_indexer.waiting == 1
        assert await _found(db, "订单没") == [conversation[0]]
        assert await _found(db, "refun") == [conversation[0]]
        assert db.search_indexer.waiting == 0 and await _indexed(db) == 1


async def test_the_index_catches_up_on_its_own(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_indexer, "INDEX_DELAY", 0.05)
    async with Database(url) as db, SqliteMessageWriter(db) as writer:
        conversation = await _conversation(db)
        for n in range(3):
            await writer.append(_new(conversation, f"trickle {n}", f"t{n}"))

        async def all_indexed() -> bool:
            return await _indexed(db) == 3

        await _until(all_indexed, "the timer indexed the trickle")


async def test_a_batch_worth_is_indexed_inline(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_indexer, "INDEX_DELAY", 3600.0)
    monkeypatch.setattr(search_indexer, "INDEX_BATCH", 40)
    async with Database(url) as db, SqliteMessageWriter(db) as writer:
        conversation = await _conversation(db)
        news = [_new(conversation, f"burst {n}", f"b{n}") for n in range(100)]
        await asyncio.gather(*(writer.append(new) for new in news))
        # A job behind the batches is the barrier: the inline catch-ups ran before it.
        await db.run_in_transaction(lambda conn: None)
        indexer = db.search_indexer
        assert indexer is not None
        assert indexer.waiting < 40 and indexer.indexed == 100 - indexer.waiting
        assert await _indexed(db) == indexer.indexed


async def test_a_restart_indexes_what_a_stopped_process_left(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_indexer, "INDEX_DELAY", 3600.0)
    async with Database(url) as db, SqliteMessageWriter(db) as writer:
        conversation = await _conversation(db)
        await writer.append(_new(conversation, "indexed before", "a"))
        assert await _found(db, "before") == [conversation[0]]
        await writer.append(_new(conversation, "left behind", "b"))
        await writer.append(_new(conversation, "", "c"))  # no terms: nothing to index
    async with Database(url) as db:
        assert await _indexed(db) == 1
        assert await _found(db, "behind") == [conversation[0]]
        assert await _indexed(db) == 2


async def test_an_id_drawn_again_is_indexed_with_its_new_text(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_indexer, "INDEX_DELAY", 3600.0)
    async with Database(url) as db, SqliteMessageWriter(db) as writer:
        kept, gone = await _conversation(db), await _conversation(db)
        await writer.append(_new(kept, "kept words", "k"))
        (erased, _) = await writer.append(_new(gone, "secret words", "s"))
        assert await _found(db, "secret") == [gone[0]]
        async with db.begin() as conn:  # as an erasure does: the trigger drops its row
            await conn.execute(sa.text("DELETE FROM messages WHERE id = :id"), {"id": erased.id})
        (again, _) = await writer.append(_new(kept, "fresh words", "f"))
        assert again.id == erased.id  # max(id) + 1: the erased message's id
        assert await _found(db, "secret") == []
        assert await _found(db, "fresh") == [kept[0]]
        assert await _indexed(db) == 2


async def test_a_failing_index_never_fails_the_chat(
    url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(search_indexer, "INDEX_DELAY", 3600.0)
    async with Database(url) as db, SqliteMessageWriter(db) as writer:
        conversation = await _conversation(db)
        await writer.append(_new(conversation, "first words", "1"))
        await db.search_caught_up()
        async with db.begin() as conn:  # the index is gone: every catch-up fails
            await conn.execute(sa.text("ALTER TABLE message_search RENAME TO hidden_search"))
        with caplog.at_level(logging.WARNING, logger="kefu.store.search_indexer"):
            await writer.append(_new(conversation, "second words", "2"))
            await db.search_caught_up()  # fails, logged; the search would read what is there
        assert "indexing messages for search failed" in caplog.text
        async with db.connect() as conn:
            stored = await conn.execute(sa.text("SELECT count(*) FROM messages"))
            assert stored.scalar() == 2
        async with db.begin() as conn:
            await conn.execute(sa.text("ALTER TABLE hidden_search RENAME TO message_search"))
        assert await _found(db, "second") == [conversation[0]]
        assert await _indexed(db) == 2
