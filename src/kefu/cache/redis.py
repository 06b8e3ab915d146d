"""Redis cache: shared counters and entries for multi-node deployments."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis

# Connections to Redis per kefu process. Calls beyond that wait for one to come free
# instead of failing: redis-py's default pool holds 100 and raises MaxConnectionsError
# for the 101st call in flight, so a flash sale's burst of visitor sessions (each
# counts its address here) failed with 500s (7,000 of 50,000 on one worker, issue 17).
MAX_CONNECTIONS = 32
# How long a call waits for a free connection before it fails; far beyond a round trip.
POOL_WAIT_SECONDS = 10.0

# KEYS[1] counter, ARGV[1] its lifetime in ms, started by the increment that created it.
_INCR = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count
"""


class RedisCache:
    def __init__(self, url: str) -> None:
        pool = BlockingConnectionPool.from_url(
            url, max_connections=MAX_CONNECTIONS, timeout=POOL_WAIT_SECONDS
        )
        self._redis: Redis = Redis.from_pool(pool)  # closing the client closes the pool
        # EVALSHA, loading the script again by itself after a Redis restart (NOSCRIPT).
        self._incr = self._redis.register_script(_INCR)

    async def get(self, key: str) -> bytes | None:
        value = await self._redis.get(key)
        # The client is built without decode_responses, so values are always bytes.
        return value.encode() if isinstance(value, str) else value

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        await self._redis.set(key, value, px=max(1, int(ttl_seconds * 1000)))

    async def incr(self, key: str, ttl_seconds: float) -> int:
        # One command, atomic in Redis: INCR, and the expiry set only by the call that
        # created the key. A MULTI/INCR/PEXPIRE/EXEC pipeline was one round trip too, but
        # redis-py's pipeline cost ~2x the client CPU of one EVALSHA, and this runs for
        # every visitor session created (issue 17: a flash sale's 1,000 sessions/s).
        count = await self._incr(keys=[key], args=[max(1, int(ttl_seconds * 1000))])
        return int(count)

    async def delete(self, key: str) -> None:
        await self._redis.delete(key)

    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()
