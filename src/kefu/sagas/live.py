"""``saga.updated`` frames: every recorded change of a saga, to the consoles that show it.

Addressed to every online supervisor and admin (an audience each node resolves), the
agent who started it, and the agents assigned to an open conversation of its customer
(the 360 panel where the refund was started shows its timeline). Finding those agents
costs a query, so it is only asked while some agent is online anywhere; frames are built
after the commit (the engine calls ``changed`` from ``after_commit``) on a task of their
own, so a slow query never holds the saga back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from kefu.auth.principal import agent_key
from kefu.chat import server_frames
from kefu.cluster.envelope import Audience
from kefu.sagas.definitions import SagaDefinition
from kefu.sagas.views import saga_json
from kefu.store.sagas import SagaRecord, SagaRepository
from kefu.tickets.live import LiveHub

log = logging.getLogger(__name__)
AGENT_PREFIX = "agent:"


class SagaFeed:
    def __init__(
        self,
        hub: LiveHub,
        repo: SagaRepository,
        definitions: Callable[[str], SagaDefinition | None],
    ) -> None:
        self._hub = hub
        self._repo = repo
        self._definitions = definitions
        self._tasks: set[asyncio.Task[None]] = set()

    def changed(self, record: SagaRecord) -> None:
        if not self._hub.may_reach(Audience.AGENTS) and not self._hub.may_reach(
            Audience.SUPERVISORS
        ):
            return  # nobody online anywhere: no query, no encoding
        task = asyncio.create_task(self._send(record), name="saga.updated")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, record: SagaRecord) -> None:
        keys: set[str] = set()
        if record.created_by is not None and record.created_by.startswith(AGENT_PREFIX):
            keys.add(record.created_by)
        try:
            if record.customer_key is not None:
                for _, assignee in await self._repo.watchers_of(record.customer_key):
                    if assignee is not None:
                        keys.add(agent_key(assignee))
        except Exception:
            log.warning("saga.updated: finding the customer's agents failed; supervisors only")
        frame = server_frames.SagaUpdated(saga_json(record, self._definitions(record.name)))
        self._hub.send(keys, server_frames.encode(frame), audience=Audience.SUPERVISORS)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
