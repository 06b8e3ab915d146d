"""The customer 360: every source at once, one deadline, one merged answer.

Sources start together; one whose key comes from another (``key.via``) starts the moment
that one answers. Whatever happens, the answer is assembled at the deadline from what has
arrived, with each source's state, so the 360 costs the slowest source, never the sum.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from kefu.domain.customer_keys import key_problem
from kefu.errors import BadInput
from kefu.observability.metrics import CUSTOMER_360, SOURCE_ANSWERS
from kefu.ports import Clock
from kefu.timefmt import iso
from kefu.unify.connector import SOURCE_NAME
from kefu.unify.render import render_message, render_sources
from kefu.unify.source import Answer, Source, State
from kefu.v1 import unified_pb2 as pb

log = logging.getLogger(__name__)

LIST_ORDER = {"orders": "created_at", "tickets": "created_at", "calls": "started_at"}
# Merged answers kept in process while every part of them is fresh (see ``_Memo``).
MEMO_ENTRIES = 10_000


@dataclass(slots=True)
class _Memo:
    """A merged answer whose every source part is still within its TTL.

    Serving a cached 360 is then a dictionary hit instead of a cache read, a protobuf
    parse and a merge per source: the merged content is shared, only the per-request
    states are new. It lives no longer than the shortest TTL among its parts, so it never
    extends how long any department's data is kept.
    """

    until: float  # monotonic
    content: pb.UnifiedCustomer  # merged, without per-request states; never mutated
    fetched: dict[str, datetime | None]
    truncated: frozenset[str] = frozenset()  # sources whose part was cut at max_rows
    rendered: dict[str, Any] | None = None

    def rendered_content(self) -> dict[str, Any]:
        if self.rendered is None:
            self.rendered = render_message(self.content)
            self.rendered.pop("sources", None)
        return self.rendered


@dataclass(slots=True)
class View:
    """One request's 360: shared merged content plus this request's source states."""

    memo: _Memo
    answers: dict[str, Answer]
    generated_at: datetime
    _message: pb.UnifiedCustomer | None = None

    def message(self) -> pb.UnifiedCustomer:
        if self._message is None:
            message = pb.UnifiedCustomer()
            message.CopyFrom(self.memo.content)
            for name, answer in self.answers.items():
                status = message.sources[name]
                status.state = answer.state
                status.latency_ms = answer.latency_ms
                if answer.fetched_at is not None:
                    status.fetched_at.FromDatetime(answer.fetched_at)
                status.truncated = answer.truncated
            message.generated_at.FromDatetime(self.generated_at)
            self._message = message
        return self._message

    def json(self) -> bytes:
        body = dict(self.memo.rendered_content())
        body["sources"] = render_sources(
            (name, answer.state, answer.latency_ms, answer.fetched_at, answer.truncated)
            for name, answer in self.answers.items()
        )
        body["generated_at"] = iso(self.generated_at)
        return msgspec.json.encode(body)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A customer found by email, phone or order number, for an agent to link."""

    key: str
    name: str | None
    source: str


class Customer360:
    def __init__(
        self, sources: Sequence[Source], clock: Clock, deadline_ms: float, max_key_chars: int
    ) -> None:
        self._sources = list(sources)
        self._clock = clock
        self._deadline = deadline_ms / 1000
        self._max_key = max_key_chars
        self._memo: dict[str, _Memo] = {}
        self._cached_counters = {
            source.name: SOURCE_ANSWERS.labels(source.name, State.Name(State.STATE_CACHED))
            for source in sources
        }

    @property
    def sources(self) -> list[Source]:
        return list(self._sources)

    def check_key(self, key: str) -> str:
        problem = key_problem(key, self._max_key)
        if problem is not None:
            raise BadInput(problem, code="bad_customer_key")
        return key

    async def unified(self, key: str, *, refresh: bool = False) -> View:
        started = time.perf_counter()
        self.check_key(key)
        memo = None if refresh else self._memo.get(key)
        if memo is not None and time.monotonic() < memo.until:
            view = self._from_memo(memo, started)
        else:
            view = await self._fetch(key, refresh)
        CUSTOMER_360.observe(time.perf_counter() - started)
        return view

    def _from_memo(self, memo: _Memo, started: float) -> View:
        latency = _ms(started)
        answers = {}
        for name, fetched_at in memo.fetched.items():
            truncated = name in memo.truncated
            answers[name] = Answer(State.STATE_CACHED, latency, None, fetched_at, truncated)
            self._cached_counters[name].inc()
        return View(memo, answers, self._clock.now())

    async def _fetch(self, key: str, refresh: bool) -> View:
        loop = asyncio.get_running_loop()
        until = loop.time() + self._deadline
        tasks: dict[str, asyncio.Task[Answer]] = {}
        for source in self._sources:
            tasks[source.name] = asyncio.create_task(
                self._answer(source, key, until, refresh, tasks)
            )
        # Each answer is bounded by ``until`` on its own; the wait is the backstop. With no
        # sources configured there is nothing to wait for (``asyncio.wait`` refuses an empty
        # set): the 360 is the key alone, every part empty.
        done: set[asyncio.Task[Answer]] = set()
        if tasks:
            done, pending = await asyncio.wait(tasks.values(), timeout=until - loop.time() + 0.005)
            for task in pending:
                task.cancel()
        answers: dict[str, Answer] = {}
        for name, task in tasks.items():
            if task in done and not task.cancelled() and task.exception() is None:
                answers[name] = task.result()
            else:
                answers[name] = Answer(State.STATE_TIMEOUT, self._deadline * 1000)
        memo = _Memo(
            until=self._fresh_until(answers),
            content=self._merge(key, answers),
            fetched={name: answer.fetched_at for name, answer in answers.items()},
            truncated=frozenset(name for name, answer in answers.items() if answer.truncated),
        )
        if memo.until > time.monotonic():
            if len(self._memo) >= MEMO_ENTRIES and key not in self._memo:
                del self._memo[next(iter(self._memo))]  # the oldest entry
            self._memo[key] = memo
        else:
            self._memo.pop(key, None)
        return View(memo, answers, self._clock.now())

    def _fresh_until(self, answers: dict[str, Answer]) -> float:
        """Monotonic time until which every part stays fresh; 0 when a part failed."""
        now = self._clock.now()
        remaining = float("inf")
        for source in self._sources:
            answer = answers[source.name]
            if answer.state not in (State.STATE_OK, State.STATE_CACHED):
                return 0.0
            if answer.fetched_at is None:
                continue  # nothing to ask (no key from upstream): follows the upstream part
            left = source.settings.ttl_seconds - (now - answer.fetched_at).total_seconds()
            remaining = min(remaining, left)
        return 0.0 if remaining == float("inf") else time.monotonic() + remaining

    async def _answer(
        self,
        source: Source,
        key: str,
        until: float,
        refresh: bool,
        tasks: dict[str, asyncio.Task[Answer]],
    ) -> Answer:
        via = source.key_via
        if via is None:
            return await source.answer(key, until, refresh=refresh)
        started = time.perf_counter()
        upstream = await asyncio.shield(tasks[via.via])  # its cancel is not ours to make
        value = _profile_value(upstream.fragment, via.field)
        if not value:
            if upstream.state in (State.STATE_OK, State.STATE_CACHED):
                # The customer simply has no phone (say) in that system: nothing to ask.
                return Answer(State.STATE_OK, _ms(started), pb.UnifiedCustomer())
            return Answer(State.STATE_ERROR, _ms(started))
        return await source.answer(value, until, refresh=refresh)

    def _merge(self, key: str, answers: dict[str, Answer]) -> pb.UnifiedCustomer:
        """Every source's part in one message (per-request states are the view's)."""
        unified = pb.UnifiedCustomer()
        unified.customer.key = key
        for source in self._sources:
            fragment = answers[source.name].fragment
            if fragment is None:
                continue
            _fill_profile(unified.customer, fragment.customer)
            unified.orders.extend(fragment.orders)
            unified.tickets.extend(fragment.tickets)
            unified.calls.extend(fragment.calls)
            for name, struct in fragment.extensions.items():
                unified.extensions[name].CopyFrom(struct)
        for field, stamp in LIST_ORDER.items():
            items = getattr(unified, field)
            ordered = sorted(items, key=lambda item: _stamp(item, stamp), reverse=True)
            del items[:]
            items.extend(ordered)
        return unified

    async def lookup(self, kind: str, value: str) -> list[Candidate]:
        """Customer keys whose ``kind`` (email, phone, order) is ``value``, in every source
        that can search by it, within the deadline; sources that fail are left out."""
        self.check_key(value)
        searching = [s for s in self._sources if kind in s.lookups]
        if not searching:
            raise BadInput(f"no source can look customers up by {kind}", code="lookup_unsupported")
        results = await asyncio.wait(
            [asyncio.create_task(self._lookup_one(s, kind, value)) for s in searching],
            timeout=self._deadline,
        )
        done, pending = results
        for task in pending:
            task.cancel()
        found: dict[str, Candidate] = {}
        for task in done:
            if task.cancelled() or task.exception() is not None:
                continue
            for candidate in task.result():
                found.setdefault(candidate.key, candidate)
        return list(found.values())

    async def _lookup_one(self, source: Source, kind: str, value: str) -> list[Candidate]:
        lookup = source.lookups[kind]
        SOURCE_NAME.set(source.name)  # this task's own context: for the connector's logs
        try:
            reply = await lookup.request.run(value)
        except Exception as exc:
            log.warning("lookup by %s in %s failed: %s", kind, source.name, exc)
            raise
        candidates = []
        for record in lookup.select(reply) if reply is not None else []:
            found = lookup.key(record)
            if found is None or str(found) == "":
                continue
            name = lookup.name(record) if lookup.name is not None else None
            candidates.append(
                Candidate(str(found), str(name) if name is not None else None, source.name)
            )
        return candidates

    async def close(self) -> None:
        for source in self._sources:
            try:
                await source.close()
            except Exception:
                log.warning("closing source %s failed", source.name, exc_info=True)


def _fill_profile(into: pb.CustomerProfile, part: pb.CustomerProfile) -> None:
    """First source (in configuration order) to map a profile field wins it."""
    for field, value in part.ListFields():
        if field.name == "key":
            continue
        if field.is_repeated:
            target = getattr(into, field.name)
            if not target:
                target.extend(value)
        elif field.message_type is not None:
            if not into.HasField(field.name):
                getattr(into, field.name).CopyFrom(value)
        elif not getattr(into, field.name):
            setattr(into, field.name, value)


def _profile_value(fragment: pb.UnifiedCustomer | None, path: str) -> str:
    if fragment is None:
        return ""
    name = path.split(".", 1)[1]
    value = getattr(fragment.customer, name, "")
    return value if isinstance(value, str) else ""


def _stamp(item: object, field: str) -> tuple[int, int]:
    stamp = getattr(item, field)
    return (stamp.seconds, stamp.nanos)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
