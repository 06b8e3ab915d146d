"""Redis cache: shared counters and entries for multi-node deployments."""

from __future__ import annotations

from redis.asyncio import Redis


class RedisCache:
    def __init__(self, url: str) -> None:
        self._redis: Redis = Redis.from_url(url)

    async def get(self, key: str) -> bytes | None:
        value = await self._redis.get(key)
        # The client is built without decode_responses, so values are always bytes.
        return value.encode() if isinstance(value, str) else value

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        await self._redis.set(key, value, px=max(1, int(ttl_seconds * 1000)))

    async def incr(self, key: str, ttl_seconds: float) -> int:
        # One round trip: INCR, and set the expiry only when this call created the key.
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.pexpire(key, max(1, int(ttl_seconds * 1000)), nx=True)
            count, _ = await pipe.execute()
        return int(count)

    async def delete(self, key: str) -> None:
        await self._redis.delete(key)

    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()
