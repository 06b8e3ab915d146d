"""Group commit: concurrency, ordering per conversation and idempotency, on both stores."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable

import asyncpg
import pytest

from kefu.bootstrap import running_node
from kefu.config import Settings
from kefu.domain.models import NewMessage, Sender, SenderKind
from kefu.node import Node
from tests.support.postgres import PG_ADMIN_DSN


async def _conversations(node: Node, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        visitor = await node.repos.visitors.create(now=node.clock.now())
        ids.append((await node.repos.conversations.create(visitor.id, node.clock.now())).id)
    return ids


async def test_concurrent_appends_are_all_stored_in_order(node: Node) -> None:
    conversation_ids = await _conversations(node, 10)
    sender = Sender(SenderKind.VISITOR, "vis_bulk", "Bulk")
    news = [
        NewMessage(conversation_ids[n % 10], sender, f"m{n}", node.clock.now(), f"c{n}")
        for n in range(2000)
    ]
    results = await asyncio.gather(*(node.writer.append(new) for new in news))
    assert all(created for _, created in results)
    assert len({message.id for message, _ in results}) == 2000
    assert node.writer.batches < 2000  # they were grouped
    for conversation_id in conversation_ids:
        stored = await node.repos.messages.after(conversation_id, 0, 1000)
        assert len(stored) == 200
        assert [m.id for m in stored] == sorted(m.id for m in stored)
        record = await node.repos.conversations.get(conversation_id)
        assert record is not None and record.last_message_id == stored[-1].id


async def test_duplicates_inside_and_across_batches_are_stored_once(node: Node) -> None:
    (conversation_id,) = await _conversations(node, 1)
    sender = Sender(SenderKind.VISITOR, f"vis_{secrets.token_hex(4)}", None)
    new = NewMessage(conversation_id, sender, "once", node.clock.now(), "same-id")
    results = await asyncio.gather(*(node.writer.append(new) for _ in range(20)))
    ids = {message.id for message, _ in results}
    assert len(ids) == 1
    assert sum(created for _, created in results) == 1
    again, created = await node.writer.append(new)
    assert not created and again.id in ids
    assert len(await node.repos.messages.after(conversation_id, 0, 100)) == 1


async def test_the_same_client_msg_id_from_two_senders_is_two_messages(node: Node) -> None:
    (conversation_id,) = await _conversations(node, 1)
    a = Sender(SenderKind.VISITOR, "vis_a", None)
    b = Sender(SenderKind.AGENT, "agt_b", None)
    (m1, c1), (m2, c2) = await asyncio.gather(
        node.writer.append(NewMessage(conversation_id, a, "x", node.clock.now(), "k")),
        node.writer.append(NewMessage(conversation_id, b, "y", node.clock.now(), "k")),
    )
    assert c1 and c2 and m1.id != m2.id


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)  # a server to lose
async def test_a_dropped_store_connection_costs_a_retry_not_a_message(
    node: Node, store_url: str
) -> None:
    (conversation_id,) = await _conversations(node, 1)
    sender = Sender(SenderKind.VISITOR, "vis_drop", None)
    first, _ = await node.writer.append(
        NewMessage(conversation_id, sender, "before", node.clock.now(), "c1")
    )
    database = store_url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    finally:
        await admin.close()
    assert killed >= 1
    second, created = await node.writer.append(
        NewMessage(conversation_id, sender, "after", node.clock.now(), "c2")
    )
    assert created and second.id > first.id
    stored = await node.repos.messages.after(conversation_id, 0, 10)
    assert [m.body for m in stored] == ["before", "after"]


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)  # committers: PostgreSQL only
async def test_several_postgres_committers_keep_order_and_store_resends_once(
    settings_factory: Callable[..., Settings],
) -> None:
    async with running_node(settings_factory(store_write_lanes=4)) as node:
        conversation_ids = await _conversations(node, 12)
        agent = Sender(SenderKind.AGENT, "agt_lanes", "Lanes")
        news = [
            NewMessage(conversation_ids[n % 12], agent, f"m{n}", node.clock.now(), f"c{n}")
            for n in range(1200)
        ]
        # The same (sender, client_msg_id) into two conversations, in one batch or in two
        # in flight side by side: one is stored, the other answered with it.
        twins = [
            NewMessage(c, agent, "twin", node.clock.now(), "twin") for c in conversation_ids[:2]
        ]
        results = await asyncio.gather(*(node.writer.append(new) for new in [*news, *twins]))
        assert all(created for _, created in results[:1200])
        (twin_a, created_a), (twin_b, created_b) = results[1200:]
        assert created_a != created_b and twin_a.id == twin_b.id
        for conversation_id in conversation_ids:
            stored = await node.repos.messages.after(conversation_id, 0, 1000)
            bodies = [m.body for m in stored if m.body != "twin"]
            expected = [f"m{n}" for n in range(1200) if conversation_ids[n % 12] == conversation_id]
            assert bodies == expected  # appended order is id order, per conversation
            record = await node.repos.conversations.get(conversation_id)
            assert record is not None and record.last_message_id == stored[-1].id
