"""The in-process cache stays bounded however many keys clients make up."""

from __future__ import annotations

import pytest

from kefu.cache.memory import MAX_ENTRIES, MemoryCache


async def test_values_past_the_bound_evict_the_one_written_longest_ago() -> None:
    cache = MemoryCache(max_entries=3)
    for key in ("a", "b", "c"):
        await cache.set(key, key.encode(), 60)
    await cache.set("a", b"again", 60)  # rewritten: now the newest
    await cache.set("d", b"d", 60)
    await cache.set("e", b"e", 60)
    assert len(cache) == 3
    assert [await cache.get(k) for k in ("a", "b", "c", "d", "e")] == [
        b"again",
        None,
        None,
        b"d",
        b"e",
    ]


async def test_counters_past_the_bound_keep_the_ones_still_counting() -> None:
    cache = MemoryCache(max_entries=2)
    assert await cache.incr("login:ip:1", 60) == 1
    assert await cache.incr("login:ip:2", 60) == 1
    assert await cache.incr("login:ip:1", 60) == 2  # counting again: written last
    assert await cache.incr("login:ip:3", 60) == 1  # evicts ip 2, not ip 1
    assert len(cache) == 2
    assert await cache.incr("login:ip:1", 60) == 3
    assert await cache.incr("login:ip:2", 60) == 1  # forgotten: counts from one again


async def test_the_default_bound_holds_a_flood_of_new_keys() -> None:
    cache = MemoryCache()
    for n in range(MAX_ENTRIES + 500):
        await cache.incr(f"visitors:ip:{n}", 60)
    assert len(cache) == MAX_ENTRIES
    assert await cache.incr(f"visitors:ip:{MAX_ENTRIES + 499}", 60) == 2


def test_a_bound_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1, got 0"):
        MemoryCache(max_entries=0)
