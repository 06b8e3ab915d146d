"""The saga engine (kefu.sagas.engine) on SQLite and PostgreSQL, with small real actions
that remember what they applied by idempotency key (as a department system honouring the
key does): success, compensation in reverse, a failing compensation then retry,
idempotent starts, bad input, a saga left by a dead node finished by another, terminal
events in the outbox and a change announced for every recorded step."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from kefu.clock import SystemClock
from kefu.domain.envelope import decode
from kefu.domain.saga import RetryPolicy, Run, SagaStatus, StepPlan, new_saga, start_attempt
from kefu.errors import Conflict, NotFound
from kefu.sagas.definitions import SagaDefinition, StepDefinition
from kefu.sagas.engine import SagaEngine
from kefu.sagas.inputs import InvalidInput
from kefu.sagas.settings import InputField, SagaEngineSettings
from kefu.store.database import Database
from kefu.store.sagas import NewSaga, SagaRecord, SagaRepository
from kefu.store.tables import outbox
from kefu.store.unit_of_work import unit_of_work, unit_of_work_factory
from tests.support.saga_systems import System, until

QUICK = RetryPolicy(attempts=3, backoff_seconds=0.01, max_backoff_seconds=0.05, budget_seconds=30)
FAST = SagaEngineSettings(lease_seconds=1.0, claim_seconds=0.1)


def definition(system: System, names: tuple[str, ...] = ("a", "b", "c")) -> SagaDefinition:
    steps = tuple(
        StepDefinition(
            name,
            name.upper(),
            system.action(name, "action"),
            system.action(name, "compensation"),
            5.0,
            StepPlan(name, retry=QUICK),
        )
        for name in names
    )
    fields = {"order_id": InputField(type="string", required=True, max_length=10)}
    return SagaDefinition("refund", "Refund", fields, steps)


@pytest.fixture
async def db(store_url: str) -> AsyncIterator[Database]:
    async with Database(store_url) as database:
        await database.migrate()
        yield database


@pytest.fixture
def system() -> System:
    return System()


Changes = list[SagaRecord]


def engine_for(db: Database, system: System, node: str, changes: Changes) -> SagaEngine:
    return SagaEngine(
        unit_of_work_factory(db),
        SagaRepository(db),
        {"refund": definition(system)},
        SystemClock(),
        FAST,
        node_id=node,
        on_change=changes.append,
    )


async def ended(db: Database, saga_id: str) -> SagaRecord:
    repo = SagaRepository(db)

    async def check() -> SagaRecord | None:
        record = await repo.get(saga_id)
        active = record is None or record.state.status in (
            SagaStatus.RUNNING,
            SagaStatus.COMPENSATING,
        )
        return None if active else record

    result: SagaRecord = await until(check)
    return result


async def events(db: Database) -> list[Any]:
    async with db.connect() as conn:
        rows = (await conn.execute(sa.select(outbox).order_by(outbox.c.id))).all()
    return [decode(row.payload, row.subject) for row in rows]


def statuses(record: SagaRecord) -> list[str]:
    return [s.status.value for s in record.state.steps]


async def test_a_saga_runs_to_completion(db: Database, system: System) -> None:
    changes: Changes = []
    async with engine_for(db, system, "node-a", changes) as engine:
        saga_id, created = await engine.start(
            "refund",
            {"order_id": "o1"},
            customer_key="c1",
            idempotency_key=None,
            created_by="agent:x",
        )
        assert created and saga_id.startswith("saga_")
        record = await ended(db, saga_id)
    assert record.state.status is SagaStatus.COMPLETED
    assert statuses(record) == ["done", "done", "done"]
    assert record.state.steps[0].result == {"step": "a", "order": "o1"}
    assert system.calls == [("a", "action", 1), ("b", "action", 1), ("c", "action", 1)]
    assert record.lease_owner is None
    (event,) = [e for e in await events(db) if e.type.startswith("saga.")]
    assert event.type == "saga.completed" and event.customer_key == "c1"
    assert event.data == {"saga_id": saga_id, "name": "refund", "status": "completed"}
    # Announced: created, then each attempt's start and outcome, then the end.
    seen = [(c.state.status.value, statuses(c)) for c in changes]
    assert seen[0] == ("running", ["pending"] * 3)
    assert ("running", ["running", "pending", "pending"]) in seen
    assert seen[-1] == ("completed", ["done"] * 3)


async def test_a_refused_step_compensates_the_done_ones_in_reverse(
    db: Database, system: System
) -> None:
    system.fail[("c", "action")] = [False]
    async with engine_for(db, system, "node-a", []) as engine:
        saga_id, _ = await engine.start(
            "refund", {"order_id": "o2"}, customer_key=None, idempotency_key=None, created_by=None
        )
        record = await ended(db, saga_id)
    assert record.state.status is SagaStatus.COMPENSATED
    assert statuses(record) == ["compensated", "compensated", "failed"]
    assert record.state.error == "c: c refused"
    assert system.calls[3:] == [("b", "compensation", 1), ("a", "compensation", 1)]
    assert [e.type for e in await events(db)] == ["saga.compensated"]


async def test_a_failing_compensation_leaves_it_failed_and_retry_finishes_it(
    db: Database, system: System
) -> None:
    system.fail[("b", "action")] = [True, True, True]  # exhausted: maybe applied
    system.fail[("a", "compensation")] = [False]
    async with engine_for(db, system, "node-a", []) as engine:
        saga_id, _ = await engine.start(
            "refund", {"order_id": "o3"}, customer_key="c3", idempotency_key=None, created_by=None
        )
        record = await ended(db, saga_id)
        assert record.state.status is SagaStatus.FAILED
        assert record.state.error == "a (compensation): a refused"
        assert statuses(record) == ["failed", "compensated", "skipped"]
    # A second engine on the same store (another node) resumes it.
    async with engine_for(db, system, "node-b", []) as engine:
        with pytest.raises(NotFound):
            await engine.retry("saga_nope")
        await engine.retry(saga_id)
        record = await ended(db, saga_id)
        assert record.state.status is SagaStatus.COMPENSATED
        with pytest.raises(Conflict):
            await engine.retry(saga_id)
    assert system.calls[-1] == ("a", "compensation", 1)
    assert [e.type for e in await events(db)] == ["saga.failed", "saga.compensated"]


async def test_the_same_idempotency_key_starts_one_saga(db: Database, system: System) -> None:
    async with engine_for(db, system, "node-a", []) as engine:
        first = await engine.start(
            "refund", {"order_id": "o4"}, customer_key=None, idempotency_key="k", created_by=None
        )
        again = await engine.start(
            "refund", {"order_id": "o4"}, customer_key=None, idempotency_key="k", created_by=None
        )
        await ended(db, first[0])
    assert first[1] and again == (first[0], False)
    assert [c[0] for c in system.calls] == ["a", "b", "c"]


async def test_bad_input_and_unknown_sagas_record_nothing(db: Database, system: System) -> None:
    async with engine_for(db, system, "node-a", []) as engine:
        with pytest.raises(InvalidInput, match=r"input\.order_id: is required"):
            await engine.start(
                "refund", {}, customer_key=None, idempotency_key="x", created_by=None
            )
        with pytest.raises(InvalidInput, match=r"input\.order_id: must be at most 10"):
            await engine.start(
                "refund",
                {"order_id": "x" * 11},
                customer_key=None,
                idempotency_key=None,
                created_by=None,
            )
        with pytest.raises(InvalidInput, match=r"input\.extra: is not an input"):
            await engine.start(
                "refund",
                {"order_id": "1", "extra": 1},
                customer_key=None,
                idempotency_key=None,
                created_by=None,
            )
        with pytest.raises(NotFound) as unknown:
            await engine.start("nope", {}, customer_key=None, idempotency_key=None, created_by=None)
        assert unknown.value.code == "unknown_saga"
    async with db.connect() as conn:
        assert (await conn.execute(sa.text("SELECT count(*) FROM sagas"))).scalar() == 0
    assert system.calls == []


async def test_a_saga_left_mid_step_by_a_dead_node_is_finished_by_another(
    db: Database, system: System
) -> None:
    """The dead node had recorded step a running (attempt 1) and may have applied it:
    the next node runs it again with the same key, so the system applies it once."""
    repo = SagaRepository(db)
    plan = definition(system).plan
    clock = SystemClock()
    now = clock.now()
    draft = NewSaga("saga_dead1", "refund", "c9", {"order_id": "o9"}, None, None, ["a", "b", "c"])
    async with unit_of_work(db) as uow:
        await repo.create(uow.connection, draft, now, owner="dead-node", lease_until=now)
        running, _ = start_attempt(plan, new_saga(3), Run(0, "action"), now)
        await repo.save(uow.connection, draft.id, new_saga(3), running, now, owner="dead-node")
    system.applied["saga_dead1:a:do"] = 1  # the department had answered before the crash
    async with engine_for(db, system, "node-b", []):
        record = await ended(db, draft.id)
    assert record.state.status is SagaStatus.COMPLETED
    assert system.calls[0] == ("a", "action", 2)
    assert system.applied == {f"saga_dead1:{s}:do": 1 for s in "abc"}


async def test_a_live_lease_is_renewed_and_not_taken(db: Database, system: System) -> None:
    hold = system.hold[("b", "action", "o5")] = asyncio.Event()
    repo = SagaRepository(db)
    async with engine_for(db, system, "node-a", []) as a:
        saga_id, _ = await a.start(
            "refund", {"order_id": "o5"}, customer_key=None, idempotency_key=None, created_by=None
        )
        await until(lambda: ("b", "action", 1) in system.calls)
        first = await repo.get(saga_id)
        assert first is not None and first.lease_until is not None
        async with engine_for(db, system, "node-b", []) as b:
            # a renews past two lease lengths while b's claim loop runs...
            later = first.lease_until + timedelta(seconds=2 * FAST.lease_seconds)

            async def renewed() -> bool:
                record = await repo.get(saga_id)
                return (
                    record is not None
                    and record.lease_until is not None
                    and (record.lease_until > later)
                )

            await until(renewed)
            # ...and a saga nobody holds, recorded after that, is b's (b's claims ran).
            now = a._clock.now()
            free = NewSaga(
                "saga_free1", "refund", None, {"order_id": "o6"}, None, None, ["a", "b", "c"]
            )
            async with unit_of_work(db) as uow:
                await repo.create(uow.connection, free, now, owner=None, lease_until=None)
            await ended(db, free.id)
            record = await repo.get(saga_id)
            assert record is not None and record.lease_owner == "node-a"
            assert b.running == 0
        hold.set()
        record = await ended(db, saga_id)
    assert record.state.status is SagaStatus.COMPLETED


async def test_a_saga_whose_definition_changed_stops_for_a_human(
    db: Database, system: System
) -> None:
    """Steps configured differently now than when it ran: failed with why, not guessed,
    and neither retry nor compensate tries to run it."""
    repo = SagaRepository(db)
    old = NewSaga("saga_old1", "refund", None, {"order_id": "o1"}, None, None, ["a", "x"])
    async with unit_of_work(db) as uow:
        await repo.create(uow.connection, old, SystemClock().now(), owner=None, lease_until=None)
    async with engine_for(db, system, "node-a", []) as engine:
        record = await ended(db, old.id)
        assert record.state.status is SagaStatus.FAILED
        assert record.state.error is not None and "definition changed" in record.state.error
        with pytest.raises(Conflict):
            await engine.retry(old.id)
    assert system.calls == []
