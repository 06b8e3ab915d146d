"""The Redis cache's counter, against the machine's Redis: what the login and visitor-
session limits of several nodes (or ``kefu serve --workers``) count with.

``incr`` is one server-side script: the increment that creates a counter starts its
lifetime, later ones never extend it, and a Redis that lost its scripts (a restart)
is given the script again without the caller noticing.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from kefu.cache.redis import MAX_CONNECTIONS, RedisCache

URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def cache() -> AsyncIterator[RedisCache]:
    cache = RedisCache(URL)
    yield cache
    await cache.close()


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(URL)
    yield client
    await client.aclose()


@pytest.fixture
def key() -> str:
    return f"kefu:test:counter:{secrets.token_hex(6)}"


async def test_counts_and_the_first_increment_starts_the_lifetime(
    cache: RedisCache, redis: Redis, key: str
) -> None:
    try:
        assert await cache.incr(key, 60) == 1
        first = await redis.pttl(key)
        assert 0 < first <= 60_000
        # A lifetime longer than incr would ever give shows whether a later call reset it.
        await redis.pexpire(key, 3_600_000)
        assert await cache.incr(key, 60) == 2
        assert await cache.incr(key, 60) == 3
        assert await redis.pttl(key) > 60_000
    finally:
        await redis.delete(key)


async def test_an_expired_counter_starts_again_from_one(
    cache: RedisCache, redis: Redis, key: str
) -> None:
    try:
        assert await cache.incr(key, 60) == 1
        assert await cache.incr(key, 60) == 2
        await redis.delete(key)  # what its expiry does
        assert await cache.incr(key, 30) == 1
        assert 0 < await redis.pttl(key) <= 30_000
    finally:
        await redis.delete(key)


async def test_counts_on_after_redis_forgot_its_scripts(
    cache: RedisCache, redis: Redis, key: str
) -> None:
    try:
        assert await cache.incr(key, 60) == 1
        await redis.script_flush()  # as after a Redis restart
        assert await cache.incr(key, 60) == 2
        assert 0 < await redis.pttl(key) <= 60_000
    finally:
        await redis.delete(key)


async def test_a_burst_beyond_the_pool_waits_for_connections_and_fails_none(
    cache: RedisCache, redis: Redis, key: str
) -> None:
    """A flash sale: far more counts in flight at once than the process has connections
    (redis-py's default pool raised MaxConnectionsError past 100 in flight)."""
    burst = max(300, MAX_CONNECTIONS * 10)
    try:
        counts = await asyncio.gather(*(cache.incr(key, 60) for _ in range(burst)))
        assert sorted(counts) == list(range(1, burst + 1))
    finally:
        await redis.delete(key)
