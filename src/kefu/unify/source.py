"""One configured source at run time: cache, single-flight, breaker, retries, mapping.

``answer(key, until)`` never outlives ``until`` (the request's deadline) and never raises:
it reports a state. The shared fetch behind it may run on to the source's own timeout, so
a slow answer still fills the cache for the next request.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kefu.observability.metrics import (
    SOURCE_ANSWERS,
    SOURCE_BREAKER_OPEN,
    SOURCE_FETCH,
    SOURCE_TRUNCATED,
)
from kefu.ports import Cache, Clock
from kefu.unify.breaker import BreakerState, CircuitBreaker
from kefu.unify.budget import RetryBudget
from kefu.unify.connector import SOURCE_NAME, PreparedRequest, Rows, SourceClient
from kefu.unify.mapping import Mapper
from kefu.unify.settings import KeySettings, SourceSettings
from kefu.unify.singleflight import SingleFlight
from kefu.v1 import unified_pb2 as pb

log = logging.getLogger(__name__)

State = pb.SourceStatus.State
CACHE_PREFIX = "kefu:360:v1:"


@dataclass(frozen=True, slots=True)
class Answer:
    """How one source answered one request, and what it contributed (if anything)."""

    state: pb.SourceStatus.State
    latency_ms: float
    fragment: pb.UnifiedCustomer | None = None
    fetched_at: datetime | None = None
    truncated: bool = False  # the source had more rows than its max_rows


@dataclass(frozen=True, slots=True)
class Lookup:
    request: PreparedRequest
    select: Any  # Callable[[reply], list[record]]
    key: Any  # Callable[[record], value]
    name: Any | None


def cache_key(source: str, key: str) -> str:
    # Hashed: keys are untrusted text and Redis keys should not carry customers' emails.
    digest = hashlib.blake2b(key.encode(), digest_size=16).hexdigest()
    return f"{CACHE_PREFIX}{source}:{digest}"


class Source:
    def __init__(
        self,
        name: str,
        settings: SourceSettings,
        client: SourceClient,
        fetch: PreparedRequest,
        mapper: Mapper,
        lookups: dict[str, Lookup],
        cache: Cache,
        clock: Clock,
        default_timeout: float,
    ) -> None:
        self.name = name
        self.settings = settings
        self.client = client
        self.lookups = lookups
        self._fetch = fetch
        self._mapper = mapper
        self._cache = cache
        self._clock = clock
        self._timeout = settings.fetch_timeout(default_timeout * 1000)
        self._breaker = CircuitBreaker(settings.breaker.failures, settings.breaker.open_seconds)
        self._budget = RetryBudget(settings.retry.budget_ratio)
        self._flights: SingleFlight[pb.UnifiedCustomer] = SingleFlight()
        SOURCE_BREAKER_OPEN.labels(name).set(0)

    @property
    def key_via(self) -> KeySettings | None:
        return self.settings.key

    @property
    def breaker_state(self) -> BreakerState:
        return self._breaker.state

    async def answer(self, key: str, until: float, *, refresh: bool = False) -> Answer:
        started = time.perf_counter()
        answer = await self._answer(key, until, refresh, started)
        SOURCE_ANSWERS.labels(self.name, State.Name(answer.state)).inc()
        return answer

    async def _answer(self, key: str, until: float, refresh: bool, started: float) -> Answer:
        loop = asyncio.get_running_loop()
        cached = None if refresh else await self._cached(key)
        if cached is not None:
            fragment, fetched_at, fresh = cached
            if not fresh:
                self._refresh_behind(key)
            truncated = fragment.sources[self.name].truncated
            return Answer(State.STATE_CACHED, _ms(started), fragment, fetched_at, truncated)
        flight = self._flights.running(key)
        if flight is None:
            if not self._breaker.allow():
                return Answer(State.STATE_CIRCUIT_OPEN, _ms(started))
            flight = self._flights.start(key, lambda: self._fetch_and_keep(key))
        try:
            fragment = await asyncio.wait_for(asyncio.shield(flight), until - loop.time())
        except TimeoutError:
            return Answer(State.STATE_TIMEOUT, _ms(started))
        except Exception:  # the flight logged and counted it
            return Answer(State.STATE_ERROR, _ms(started))
        status = fragment.sources[self.name]
        return Answer(
            State.STATE_OK,
            _ms(started),
            fragment,
            _fetched_at(fragment, self.name),
            status.truncated,
        )

    async def _cached(self, key: str) -> tuple[pb.UnifiedCustomer, datetime, bool] | None:
        ttl = self.settings.ttl_seconds
        if ttl <= 0:
            return None
        try:
            raw = await self._cache.get(cache_key(self.name, key))
        except Exception:  # a cache outage costs a fetch, not the answer
            log.warning("customer 360 cache read failed for %s", self.name, exc_info=True)
            return None
        if raw is None:
            return None
        fragment = pb.UnifiedCustomer.FromString(raw)
        fetched_at = _fetched_at(fragment, self.name)
        age = (self._clock.now() - fetched_at).total_seconds()
        if age > ttl + self.settings.stale_seconds:
            return None  # the cache kept it a little longer than we serve it
        return fragment, fetched_at, age <= ttl

    def _refresh_behind(self, key: str) -> None:
        """Stale-while-revalidate: one background fetch, whoever asks meanwhile."""
        if self._flights.running(key) is None and self._breaker.allow():
            self._flights.start(key, lambda: self._fetch_and_keep(key))

    async def _fetch_and_keep(self, key: str) -> pb.UnifiedCustomer:
        started = time.perf_counter()
        outcome = "error"
        try:
            fragment = await asyncio.wait_for(self._fetch_with_retries(key), self._timeout)
            outcome = "ok"
        except TimeoutError:
            outcome = "timeout"
            log.warning("source %s: no answer within %.0f ms", self.name, self._timeout * 1000)
            self._failed()
            raise
        except Exception as exc:
            log.warning("source %s failed: %s: %s", self.name, type(exc).__name__, exc)
            self._failed()
            raise
        finally:
            SOURCE_FETCH.labels(self.name, outcome).observe(time.perf_counter() - started)
        self._breaker.record_success()
        SOURCE_BREAKER_OPEN.labels(self.name).set(0)
        await self._keep(key, fragment)
        return fragment

    async def _fetch_with_retries(self, key: str) -> pb.UnifiedCustomer:
        retry = self.settings.retry
        self._budget.on_attempt()
        attempt = 1
        while True:
            try:
                reply = await self._run(key)
                break
            except Exception as exc:
                if attempt >= retry.attempts or not self._budget.try_retry():
                    raise
                log.info("source %s attempt %d failed (%s); retrying", self.name, attempt, exc)
                await asyncio.sleep(retry.backoff_ms / 1000 * attempt)
                attempt += 1
        fragment = self._mapper.apply(reply)
        fragment.sources[self.name].fetched_at.FromDatetime(self._clock.now())
        if isinstance(reply, Rows) and reply.truncated:
            # Shown, not hidden: the agent sees the source say "truncated", the operator
            # a metric and this line (a query that should ORDER BY and LIMIT itself).
            fragment.sources[self.name].truncated = True
            SOURCE_TRUNCATED.labels(self.name).inc()
            log.warning(
                "source %s: more rows than its cap (max_rows, or a mongodb request's limit) "
                "for one customer; the first %d are shown",
                self.name,
                len(reply),
            )
        return fragment

    async def _run(self, key: str) -> Any:
        named = SOURCE_NAME.set(self.name)
        try:
            return await self._fetch.run(key)
        finally:
            SOURCE_NAME.reset(named)

    def _failed(self) -> None:
        self._breaker.record_failure()
        if self._breaker.state is not BreakerState.CLOSED:
            SOURCE_BREAKER_OPEN.labels(self.name).set(1)

    async def _keep(self, key: str, fragment: pb.UnifiedCustomer) -> None:
        lifetime = self.settings.ttl_seconds + self.settings.stale_seconds
        if self.settings.ttl_seconds <= 0:
            return
        try:
            await self._cache.set(cache_key(self.name, key), fragment.SerializeToString(), lifetime)
        except Exception:
            log.warning("customer 360 cache write failed for %s", self.name, exc_info=True)

    async def close(self) -> None:
        await self._flights.cancel_all()
        await self.client.close()


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _fetched_at(fragment: pb.UnifiedCustomer, source: str) -> datetime:
    return fragment.sources[source].fetched_at.ToDatetime(tzinfo=UTC)
