"""The event log port: a durable, replayable stream of events with per-event outcomes.

Two adapters: the store's ``outbox`` table (embedded default, one process) and NATS
JetStream (``bus: nats://…``). A consumer receives batches and says, per event, whether
its effect is stored (``DONE``), it should come again later (``RETRY``), or it can never
succeed (``DEAD``, dead-lettered with the reason; both logs keep dead letters whole, to
replay or discard). Acknowledging only after the effect is stored, and deduplicating by
id in the same transaction, gives effectively-once.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import msgspec

from kefu.domain.envelope import Event
from kefu.events.dead_letters import DeadLetters


class Outcome(enum.Enum):
    DONE = "done"
    RETRY = "retry"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome
    reason: str | None = None  # for RETRY (logs) and DEAD (the dead letter)


DONE = Result(Outcome.DONE)


class Received(msgspec.Struct, frozen=True):
    event: Event
    attempt: int  # 1 on first delivery


BatchHandler = Callable[[Sequence[Received]], Awaitable[Sequence[Result]]]
"""Handles a batch; returns one result per event, in order."""


class EventLog(DeadLetters, Protocol):
    async def append(self, events: Sequence[Event]) -> None:
        """Durably record ``events``; when this returns they will be delivered."""
        ...

    async def consume(self, consumer: str, handle: BatchHandler) -> None:
        """Deliver batches to ``handle`` under the durable name ``consumer`` until
        cancelled. Events the handler never finished (a crash) are delivered again."""
        ...

    async def ping(self) -> None:
        """Raise when the log cannot be reached (readiness)."""
        ...

    async def close(self) -> None: ...
