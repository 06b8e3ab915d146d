"""Visitor sessions opened together commit together (a flash sale opens thousands of
chats at once), and one row the store refuses fails alone."""

from __future__ import annotations

import asyncio

import pytest

from kefu.node import Node

BURST = 300


async def test_a_burst_of_sessions_is_stored_in_fewer_transactions(node: Node) -> None:
    visitors = node.repos.visitors
    before = visitors.inserts.batches

    made = await asyncio.gather(
        *(
            visitors.create(now=node.clock.now(), name=f"访客 {n}", email=f"v{n}@example.test")
            for n in range(BURST)
        )
    )

    assert visitors.inserts.batches - before < BURST
    stored = await asyncio.gather(*(visitors.get(visitor.id) for visitor in made))
    assert [v.name if v else None for v in stored] == [f"访客 {n}" for n in range(BURST)]


# PostgreSQL only: SQLite does not enforce column lengths, so it refuses no such row.
@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
async def test_a_row_the_store_refuses_fails_alone(node: Node) -> None:
    visitors = node.repos.visitors
    names = [f"Vera {n}" for n in range(20)]
    names[7] = "x" * 201  # the name column holds 200 characters

    results = await asyncio.gather(
        *(visitors.create(now=node.clock.now(), name=name) for name in names),
        return_exceptions=True,
    )

    failed = [n for n, result in enumerate(results) if isinstance(result, BaseException)]
    assert failed == [7]
    for n, result in enumerate(results):
        if n != 7:
            assert not isinstance(result, BaseException)
            assert await visitors.get(result.id) is not None
