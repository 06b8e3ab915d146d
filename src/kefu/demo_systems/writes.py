"""What the simulators' write endpoints share: idempotency keys, failure knobs, counters.

A saga step may reach a department system more than once (a retry after a timeout, a node
that died between the system's answer and kefu's record of it). A system that honours
the ``Idempotency-Key`` remembers the answer it gave for each key and gives it again
instead of applying the change twice. Every simulator write goes through
:func:`idempotent_write`, which also applies the ``Behaviour`` write knobs (fail the next
N writes, a failure rate, lose or hold a reply after applying) and counts what happened in
``Behaviour.writes`` (``WriteStats``), so a test or the bench can check "applied once".

Control endpoints, added to each simulator by :func:`add_control_routes` (for a test or
bench that runs the simulators in another process):

- ``GET /_sim/stats`` -> ``{"requests", "failures", "writes", "replays", "failed",
  "lost_replies", "held", "applied_keys", "applied_total", "applied_more_than_once"}``
- ``GET /_sim/applied?key=K`` -> ``{"key", "applied"}`` (how many times key K was applied)
- ``POST /_sim/knobs`` ``{"fail_next_writes"?, "write_failure_rate"?, "lose_next_replies"?,
  "hold_next_replies"?, "release"?: true}`` -> the stats.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

from kefu.demo_systems import BEHAVIOUR, Behaviour

IDEMPOTENCY_HEADER: Final = "Idempotency-Key"
MAX_KEY_CHARS: Final = 200


@dataclass(frozen=True, slots=True)
class Answer:
    """A reply a write gave, remembered under its idempotency key to be given again."""

    status: int
    body: bytes
    content_type: str = "application/json"

    def response(self) -> web.Response:
        return web.Response(
            status=self.status, body=self.body, content_type=self.content_type, charset="utf-8"
        )


def json_answer(status: int, payload: dict[str, Any]) -> Answer:
    return Answer(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"))


def json_error(status: int, code: str, message: str) -> web.Response:
    return json_answer(status, {"error": code, "message": message}).response()


def check_key(key: str | None) -> str | None:
    """Why ``key`` is not a usable idempotency key, or None when it is."""
    if not key or not key.strip():
        return f"the {IDEMPOTENCY_HEADER} is required: a write without one could apply twice"
    if len(key) > MAX_KEY_CHARS:
        return f"the {IDEMPOTENCY_HEADER} is longer than {MAX_KEY_CHARS} characters"
    return None


class KeyLocks:
    """One lock per key in use: two requests with the same key never apply side by side
    (the second waits and gets the first one's answer)."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class MemoryLedger:
    """Answers by key for a system whose records live in memory (CRM, call center)."""

    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.locks = KeyLocks()

    async def replay(self, key: str) -> Answer | None:
        return self.answers.get(key)

    def remember(self, key: str, answer: Answer) -> Answer:
        if answer.status < 500:  # an outage is not an answer to remember
            self.answers[key] = answer
        return answer


async def idempotent_write(
    behaviour: Behaviour,
    locks: KeyLocks,
    key: str,
    *,
    replay: Callable[[], Awaitable[Answer | None]],
    apply: Callable[[], Awaitable[tuple[Answer, bool]]],
    failure: Callable[[], Answer],
) -> web.Response:
    """Answer one write: replayed when the key was seen, else applied once.

    ``apply`` makes the change and remembers its answer under the key (atomically, for a
    database-backed system), returning the answer and whether records changed. The failure
    knobs refuse a write before anything is applied; lose/hold act after.
    """
    stats = behaviour.writes
    async with behaviour.handling() as fails:
        stats.writes += 1
        if fails or behaviour.write_fails():
            if not fails:
                behaviour.stats.failures += 1
            stats.failed += 1
            return failure().response()
        async with locks.hold(key):
            previous = await replay()
            if previous is not None:
                stats.replays += 1
                return previous.response()
            answer, applied = await apply()
            if applied:
                stats.applied[key] += 1
        if applied and await behaviour.after_apply():
            behaviour.stats.failures += 1
            return failure().response()
        return answer.response()


def add_control_routes(app: web.Application) -> None:
    """``/_sim/stats``, ``/_sim/applied`` and ``/_sim/knobs`` (see the module docstring)."""
    app.router.add_get("/_sim/stats", _stats)
    app.router.add_get("/_sim/applied", _applied)
    app.router.add_post("/_sim/knobs", _knobs)


def stats_json(behaviour: Behaviour) -> dict[str, int]:
    stats = behaviour.stats
    return {"requests": stats.requests, "failures": stats.failures} | behaviour.writes.as_json()


async def _stats(request: web.Request) -> web.Response:
    return web.json_response(stats_json(request.app[BEHAVIOUR]))


async def _applied(request: web.Request) -> web.Response:
    key = request.query.get("key", "")
    count = request.app[BEHAVIOUR].writes.applied.get(key, 0)
    return web.json_response({"key": key, "applied": count})


_KNOBS: Final = ("fail_next_writes", "write_failure_rate", "lose_next_replies", "hold_next_replies")


async def _knobs(request: web.Request) -> web.Response:
    behaviour = request.app[BEHAVIOUR]
    try:
        body = await request.json()
    except ValueError:
        return json_error(400, "bad_request", "the body must be a JSON object")
    if not isinstance(body, dict):
        return json_error(400, "bad_request", "the body must be a JSON object")
    unknown = sorted(set(body) - {*_KNOBS, "release"})
    if unknown:
        return json_error(400, "bad_request", f"unknown knobs: {', '.join(unknown)}")
    knobs: dict[str, Any] = {}
    for name in _KNOBS:
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            return json_error(400, "bad_request", f"{name} must be a number")
        knobs[name] = value if name == "write_failure_rate" else int(value)
    try:
        behaviour.set_write_knobs(**knobs)
    except ValueError as exc:
        return json_error(400, "bad_request", str(exc))
    if body.get("release") is True:
        behaviour.release_replies()
    return web.json_response(stats_json(behaviour))
