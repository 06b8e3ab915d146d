"""The saga engine: runs sagas step by step, durably, on whichever node holds the lease.

Every attempt is committed before the action is called (step ``running``, attempts + 1,
with the previous attempt's outcome) and the state machine (``kefu.domain.saga``) decides
what comes next from the log, so a saga resumed after a crash goes on where it says; a
step interrupted mid-call runs again with the same idempotency key (applied once).

Ownership: the node that starts a saga runs it at once holding its lease (unless it
already runs ``max_running``, then any node's claim loop takes it). A background loop
renews the leases this node holds every ``lease_seconds / 3`` and claims, every
``claim_seconds``, active sagas whose lease ran out (their node died or stalled). Every
write is fenced by the lease: a node that lost one stops working on that saga.

Terminal states emit ``saga.completed|compensated|failed`` into the outbox in the same
unit of work; every change is announced (``on_change``) after its commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

from kefu.cluster.heartbeat import every
from kefu.domain.errors import IllegalTransition
from kefu.domain.ids import new_id
from kefu.domain.saga import (
    ACTIVE,
    Finish,
    Run,
    SagaState,
    SagaStatus,
    compensate,
    failed,
    finish,
    next_command,
    retry,
    start_attempt,
    succeeded,
)
from kefu.errors import Conflict, NotFound
from kefu.ports import Clock
from kefu.sagas.actions.base import ActionCall, ActionFailed
from kefu.sagas.definitions import SagaDefinition, checked, close_actions
from kefu.sagas.settings import SagaEngineSettings
from kefu.sagas.steps import ENDED_EVENTS, call_context, ended_event, fits, fresh_record, kept
from kefu.store.sagas import LostLease, NewSaga, SagaRecord, SagaRepository
from kefu.store.unit_of_work import StoreUnitOfWork, Units

log = logging.getLogger(__name__)

STORE_TRIALS = 5  # a saga's run survives this many store failures in a row
STORE_PAUSE_SECONDS = 0.2  # before the first retry; doubled each time


Announce = Callable[[SagaRecord], None]


class SagaEngine:
    def __init__(
        self,
        units: Units,
        repo: SagaRepository,
        definitions: Mapping[str, SagaDefinition],
        clock: Clock,
        settings: SagaEngineSettings,
        *,
        node_id: str,
        on_change: Announce | None = None,
        wanted: Callable[[str], bool] | None = None,
        one_writer: bool = False,
    ) -> None:
        self._units = units
        self._repo = repo
        self.definitions = dict(definitions)
        self._clock = clock
        self._settings = settings
        self._lease = timedelta(seconds=settings.lease_seconds)
        self.node_id = node_id
        self._on_change = on_change
        # Which event types anyone consumes (kefu.events.outbox.audience); default: all.
        self._wanted = wanted or (lambda _: True)
        self._held: set[str] = set()  # sagas this node holds the lease of
        # Created or ending here, commit not returned yet: a renewal missing them lost nothing.
        self._pending: set[str] = set()
        self._ending: set[str] = set()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._claiming = asyncio.Lock()
        self._stack: contextlib.AsyncExitStack | None = None
        self._stopping = False
        # SQLite has one writer: this node's saga writes queue here (in order, no busy
        # timeout) instead of contending for the file's lock. PostgreSQL: no gate.
        self._gate: contextlib.AbstractAsyncContextManager[Any] = (
            asyncio.Lock() if one_writer else contextlib.nullcontext()
        )
        # Sagas may be waiting for any node (a start found this one full, or a claim
        # filled all its room): claim again as soon as a saga here ends.
        self._backlog = False

    # -- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> SagaEngine:
        stack = contextlib.AsyncExitStack()
        self._stack = stack
        if not self.definitions:
            # No saga can run here: no loops, so a node without sagas never takes the
            # store's write lock for a claim that would find nothing it could run.
            return self
        await stack.enter_async_context(
            every(self._settings.lease_seconds / 3, self.renew, "saga lease renewal")
        )
        await stack.enter_async_context(
            every(self._settings.claim_seconds, self.claim, "saga claims")
        )
        self._spawn_claim()  # sagas left by a node that died may be waiting already
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stopping = True
        if self._stack is not None:
            await self._stack.aclose()
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        held, self._held = list(self._held), set()
        try:
            # Let them go: another node takes them now rather than after the lease.
            await self._repo.release(self.node_id, held)
        except Exception:
            log.warning("sagas: releasing %d leases at shutdown failed", len(held))
        await close_actions(self.definitions)

    @property
    def running(self) -> int:
        return len(self._held) + len(self._pending)

    # -- starting and resuming -------------------------------------------------------------

    def check(self, name: str, given: Any) -> SagaDefinition:
        """The definition, if ``given`` fits its declared input (404 / 422 otherwise)."""
        return checked(self.definitions, name, given)

    async def start(
        self,
        name: str,
        given: Mapping[str, Any],
        *,
        customer_key: str | None,
        idempotency_key: str | None,
        created_by: str | None,
    ) -> tuple[str, bool]:
        """Record the saga and run it; ``(id, False)`` for a key seen before (nothing runs)."""
        self.check(name, given)
        draft, now, here = self._draft(name, given, customer_key, idempotency_key, created_by)
        try:
            saga_id, created = await self._repo.create_alone(
                draft, now, owner=self.node_id if here else None, lease_until=self._until(now, here)
            )
        finally:
            self._pending.discard(draft.id)  # held below once it exists
        if created:
            self._created(draft, now, here)()
        return saga_id, created

    async def create_in(
        self,
        uow: StoreUnitOfWork,
        name: str,
        given: Mapping[str, Any],
        customer_key: str | None,
        idempotency_key: str | None,
        created_by: str | None,
    ) -> tuple[str, bool]:
        """Record a checked saga in the caller's unit of work; it starts once that commits."""
        draft, now, here = self._draft(
            name, given, customer_key, idempotency_key, created_by, reserve=False
        )
        saga_id, created = await uow.sagas.create(
            draft,
            now,
            owner=self.node_id if here else None,
            lease_until=self._until(now, here),
        )
        if created:
            uow.after_commit(self._created(draft, now, here))
        return saga_id, created

    def _draft(
        self,
        name: str,
        given: Mapping[str, Any],
        customer_key: str | None,
        idempotency_key: str | None,
        created_by: str | None,
        *,
        reserve: bool = True,
    ) -> tuple[NewSaga, datetime, bool]:
        """The saga to record, when, and whether this node runs it (it has room);
        ``reserve``: count it as running here at once (a start of our own, not a caller's
        unit of work that may still roll back)."""
        draft = NewSaga(
            id=new_id("saga"),
            name=name,
            customer_key=customer_key,
            input=dict(given),
            idempotency_key=idempotency_key,
            created_by=created_by,
            step_names=[step.name for step in self.definitions[name].steps],
        )
        here = self.running < self._settings.max_running and not self._stopping
        if here and reserve:
            self._pending.add(draft.id)  # concurrent starts see the room taken
        return draft, self._clock.now(), here

    def _until(self, now: datetime, here: bool) -> datetime | None:
        return now + self._lease if here else None

    def _created(self, draft: NewSaga, now: datetime, here: bool) -> Callable[[], None]:
        """What follows the commit of a new saga: announce it; run it here or let any
        node with room claim it."""
        owner = self.node_id if here else None
        record = fresh_record(draft, now, len(draft.step_names), owner)

        def after() -> None:
            if here:
                self._held.add(draft.id)
            else:
                self._backlog = True
            self._started(record, here)

        return after

    def _started(self, record: SagaRecord, here: bool) -> None:
        self._announce(record)
        if here:
            self._launch(record.id, record)

    async def retry(self, saga_id: str) -> SagaRecord:
        return await self._resume(saga_id, compensating=False)

    async def compensate(self, saga_id: str) -> SagaRecord:
        return await self._resume(saga_id, compensating=True)

    async def _resume(self, saga_id: str, *, compensating: bool) -> SagaRecord:
        now = self._clock.now()
        async with self._gate, self._units() as uow:
            record = await uow.sagas.lock(saga_id)
            if record is None:
                raise NotFound(f"no saga {saga_id[:40]!r}", code="unknown_saga")
            definition = self.definitions.get(record.name)
            if definition is None or not fits(record, definition):
                raise Conflict(
                    f"the saga {record.name!r} is configured with other steps now; "
                    "it cannot be resumed",
                    code="saga_state_conflict",
                )
            verb = "compensated" if compensating else "retried"
            try:
                after = (
                    compensate(definition.plan, record.state)
                    if compensating
                    else retry(record.state)
                )
            except IllegalTransition:
                why = "only a failed saga can be " + verb
                if record.state.status is SagaStatus.FAILED:
                    why = "it failed past its pivot step, so it only goes forward: retry it"
                raise Conflict(
                    f"saga {saga_id} is {record.state.status.value}; {why}",
                    code="saga_state_conflict",
                ) from None
            until = now + self._lease
            await uow.sagas.take(saga_id, self.node_id, until)
            await uow.sagas.save(saga_id, record.state, after, now, owner=self.node_id)
            self._held.add(saga_id)
            changed = replace(
                record, state=after, updated_at=now, lease_owner=self.node_id, lease_until=until
            )
            uow.after_commit(lambda: self._started(changed, True))
        return changed

    # -- ownership -------------------------------------------------------------------------

    async def renew(self) -> None:
        if not self._held:
            return
        until = self._clock.now() + self._lease
        asked = list(self._held)
        async with self._gate:
            held = await self._repo.renew(self.node_id, asked, until)
        # Only those asked about: a saga started while the renewal ran is not lost, and one
        # that ended meanwhile let its lease go itself.
        lost = (set(asked) - held) & self._held - self._ending
        for saga_id in lost:
            # Another node took it (this one stalled past the lease): its next save
            # would be refused anyway; stop renewing it now.
            log.warning("sagas: lost the lease of %s", saga_id)
            self._held.discard(saga_id)

    async def claim(self) -> None:
        if self._stopping:
            return
        async with self._claiming:
            room = self._settings.max_running - self.running
            if room <= 0:
                return
            async with self._gate:
                claimed = await self._repo.claim(self.node_id, self._clock.now(), self._lease, room)
            self._backlog = len(claimed) == room
            for saga_id in claimed:
                self._held.add(saga_id)
                self._launch(saga_id)
            if claimed:
                log.info("sagas: claimed %d sagas nobody held", len(claimed))

    def _spawn_claim(self) -> None:
        task = asyncio.create_task(self._claim_logged(), name="saga claim")
        self._tasks[f"claim:{id(task)}"] = task
        task.add_done_callback(lambda t: self._tasks.pop(f"claim:{id(t)}", None))

    async def _claim_logged(self) -> None:
        try:
            await self.claim()
        except Exception:
            log.exception("sagas: claiming failed; the claim loop tries again")

    # -- running ---------------------------------------------------------------------------

    def _launch(self, saga_id: str, known: SagaRecord | None = None) -> None:
        """Run it here; ``known``: its record as just committed (spares a read)."""
        if saga_id in self._tasks or self._stopping:
            return
        task = asyncio.create_task(self._run(saga_id, known), name=f"saga {saga_id}")
        self._tasks[saga_id] = task
        task.add_done_callback(lambda _: self._ended(saga_id))

    def _ended(self, saga_id: str) -> None:
        self._tasks.pop(saga_id, None)
        self._held.discard(saga_id)
        if self._backlog and not self._stopping and self.running < self._settings.max_running:
            self._backlog = False
            self._spawn_claim()  # room again: sagas may be waiting for any node

    async def _run(self, saga_id: str, known: SagaRecord | None = None) -> None:
        for trial in range(STORE_TRIALS):
            if await self._run_once(saga_id, known, last=trial == STORE_TRIALS - 1):
                return
            known = None
            # The store failed (SQLite busy, PostgreSQL restarting): read the log again
            # and go on while the lease is still this node's.
            await asyncio.sleep(
                min(STORE_PAUSE_SECONDS * 2**trial, self._lease.total_seconds() / 3)
            )
            if saga_id not in self._held:
                return

    async def _run_once(self, saga_id: str, known: SagaRecord | None, *, last: bool) -> bool:
        """Work on the saga until it needs nobody or is not this node's; False when the
        store failed meanwhile (worth another try)."""
        try:
            record = known or await self._repo.get(saga_id)
            if record is None or record.lease_owner != self.node_id:
                return True
            definition = self.definitions.get(record.name)
            if definition is None or not fits(record, definition):
                # Config changed under it: stop for a human rather than guess (and not be
                # claimed again and again).
                log.error("sagas: %s's steps are no longer configured as it ran", saga_id)
                error = "its definition changed while it ran (steps are no longer the same)"
                after = replace(record.state, status=SagaStatus.FAILED, error=error)
                await self._save(record, after, self._clock.now())
                return True
            await self._drive(record, definition)
        except LostLease:
            log.warning("sagas: %s is held by another node now; stopped here", saga_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not last:
                log.warning(
                    "sagas: recording %s failed (%s); trying again", saga_id, type(exc).__name__
                )
                return False
            # The lease runs out and a node (maybe this one) resumes it from the log.
            log.exception("sagas: running %s failed; it resumes once its lease runs out", saga_id)
        return True

    async def _drive(self, record: SagaRecord, definition: SagaDefinition) -> None:
        """Step through the saga. An attempt's outcome is committed together with what it
        leads to (the next attempt's start, or the end): one transaction per step, and
        still every start is committed before its action is called."""
        plan = definition.plan
        state = record.state  # ahead of ``record`` by at most one unsaved outcome
        while True:
            if record.id not in self._held:
                raise LostLease
            command = next_command(plan, state)
            now = self._clock.now()
            if command is None:
                if state != record.state:
                    await self._save(record, state, now)
                return
            if isinstance(command, Finish):
                await self._save(record, finish(state, command, now), now)
                return
            state, started = start_attempt(plan, state, command, now)
            record = await self._save(record, state, now)
            if not started:
                continue
            state, delay = await self._attempt(record, definition, command)
            if delay:
                # The error shows on the timeline while the step waits for its next try.
                record = await self._save(record, state, self._clock.now())
                await asyncio.sleep(delay)

    async def _attempt(
        self, record: SagaRecord, definition: SagaDefinition, command: Run
    ) -> tuple[SagaState, float | None]:
        """Call the action once: the state it leaves (not yet recorded) and the wait
        before the next try."""
        step = definition.steps[command.index]
        action = step.action if command.phase == "action" else step.compensation
        state = record.state
        tries = state.steps[command.index]
        call = ActionCall(
            saga_id=record.id,
            saga_name=record.name,
            step=step.name,
            phase=command.phase,
            attempt=tries.attempts if command.phase == "action" else tries.compensation_attempts,
            timeout=step.timeout,
            context=call_context(record, step.name, command),
        )
        call = replace(call, context={**call.context, "idempotency_key": call.idempotency_key})
        if action is None:  # the plan never asks to compensate a step without one
            raise RuntimeError(f"{step.name} has no compensation")
        try:
            result = await asyncio.wait_for(action.run(call), timeout=step.timeout)
        except ActionFailed as exc:
            error, retryable = str(exc)[:500] or type(exc).__name__, exc.retryable
        except TimeoutError:
            error, retryable = f"no answer within {step.timeout:g} s", True
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.debug("saga step %s raised", step.name, exc_info=True)
            log.warning("sagas: %s %s raised %s", step.name, command.phase, type(exc).__name__)
            error, retryable = f"unexpected {type(exc).__name__}", True
        else:
            return succeeded(state, command, kept(result), self._clock.now()), None
        now = self._clock.now()
        return failed(definition.plan, state, command, error, retryable=retryable, now=now)

    async def _save(self, record: SagaRecord, after: SagaState, now: datetime) -> SagaRecord:
        """Record ``after`` in a transaction of its own (fenced by this node's lease; on
        SQLite one hop on the store's writer thread), an ending with its event in the
        outbox, and announce it once committed."""
        events = []
        ended = after.status not in ACTIVE and after.status is not record.state.status
        if ended and self._wanted(ENDED_EVENTS[after.status]):
            events.append(ended_event(record, after, now))
        if after.status not in ACTIVE:
            self._ending.add(record.id)
        try:
            saved = await self._repo.save_alone(
                record.id, record.state, after, now, owner=self.node_id, events=events
            )
        finally:
            self._ending.discard(record.id)
        if not saved:
            raise LostLease
        changed = replace(record, state=after, updated_at=now)
        if after.status not in ACTIVE:
            changed = replace(changed, lease_owner=None, lease_until=None)
            self._held.discard(record.id)
        self._announce(changed)
        return changed

    def _announce(self, record: SagaRecord) -> None:
        if self._on_change is not None:
            self._on_change(record)
