"""The saga log (kefu.store.sagas) on SQLite and PostgreSQL: idempotent creation, fenced
saves, lease claims (expired or never taken; never a live one; PostgreSQL claimers take
disjoint sets), renewals, and the newest-first list with its cursor."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from kefu.domain.saga import Run, SagaStatus, StepPlan, StepStatus, new_saga, start_attempt
from kefu.store.database import Database
from kefu.store.sagas import NewSaga, SagaFilter, SagaRepository
from kefu.store.unit_of_work import unit_of_work

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=15)
PLAN = [StepPlan("a"), StepPlan("b")]


@pytest.fixture
async def db(store_url: str) -> AsyncIterator[Database]:
    async with Database(store_url) as database:
        await database.migrate()
        yield database


def draft(n: int, key: str | None = None, customer: str = "c1", name: str = "refund") -> NewSaga:
    return NewSaga(
        id=f"saga_{n:04d}",
        name=name,
        customer_key=customer,
        input={"order_id": f"o{n}"},
        idempotency_key=key,
        created_by="agent:1",
        step_names=["a", "b"],
    )


async def make(
    db: Database, saga: NewSaga, at: datetime = NOW, owner: str | None = "node-a"
) -> tuple[str, bool]:
    repo = SagaRepository(db)
    async with unit_of_work(db) as uow:
        return await repo.create(
            uow.connection, saga, at, owner=owner, lease_until=at + LEASE if owner else None
        )


async def test_the_same_idempotency_key_gives_the_same_saga(db: Database) -> None:
    repo = SagaRepository(db)
    assert await make(db, draft(1, key="k-1")) == ("saga_0001", True)
    assert await make(db, draft(2, key="k-1")) == ("saga_0001", False)
    assert await repo.get("saga_0002") is None
    assert await make(db, draft(3)) == ("saga_0003", True)  # no key: always new
    assert await make(db, draft(4)) == ("saga_0004", True)
    record = await repo.get("saga_0001")
    assert record is not None
    assert record.input == {"order_id": "o1"} and record.step_names == ("a", "b")
    assert record.state == new_saga(2)
    assert record.lease_owner == "node-a" and record.lease_until == NOW + LEASE


async def test_saves_are_fenced_by_the_lease(db: Database) -> None:
    repo = SagaRepository(db)
    await make(db, draft(1))
    before = new_saga(2)
    after, _ = start_attempt(PLAN, before, Run(0, "action"), NOW)
    async with unit_of_work(db) as uow:
        assert not await repo.save(uow.connection, "saga_0001", before, after, NOW, owner="node-b")
    record = await repo.get("saga_0001")
    assert record is not None and record.state == before
    async with unit_of_work(db) as uow:
        assert await repo.save(uow.connection, "saga_0001", before, after, NOW, owner="node-a")
    record = await repo.get("saga_0001")
    assert record is not None and record.state == after
    assert record.state.steps[0].status is StepStatus.RUNNING
    assert record.state.steps[0].attempts == 1 and record.state.steps[0].started_at == NOW
    # An ended saga lets its lease go.
    ended = replace(after, status=SagaStatus.COMPLETED, finished_at=NOW)
    async with unit_of_work(db) as uow:
        assert await repo.save(uow.connection, "saga_0001", after, ended, NOW, owner="node-a")
    record = await repo.get("saga_0001")
    assert record is not None and record.lease_owner is None and record.lease_until is None


async def test_claims_take_expired_and_untaken_sagas_never_live_ones(db: Database) -> None:
    repo = SagaRepository(db)
    await make(db, draft(1))  # node-a's until NOW + 15 s
    await make(db, draft(2), owner=None)  # nobody took it
    await make(db, draft(3))
    ended = replace(new_saga(2), status=SagaStatus.COMPLETED, finished_at=NOW)
    async with unit_of_work(db) as uow:
        await repo.save(uow.connection, "saga_0003", new_saga(2), ended, NOW, owner="node-a")
    assert await repo.claim("node-b", NOW, LEASE, 10) == ["saga_0002"]
    assert await repo.claim("node-c", NOW, LEASE, 10) == []  # node-b holds it now
    later = NOW + LEASE + timedelta(seconds=1)
    assert await repo.claim("node-c", later, LEASE, 10) == ["saga_0001", "saga_0002"]
    record = await repo.get("saga_0001")
    assert record is not None and record.lease_owner == "node-c"
    # node-a comes back from a stall: its writes no longer land, its renewals neither.
    assert await repo.renew("node-a", ["saga_0001"], later + LEASE) == set()
    assert await repo.renew("node-c", ["saga_0001", "saga_0002"], later + LEASE) == {
        "saga_0001",
        "saga_0002",
    }
    await repo.release("node-c", ["saga_0002"])
    assert await repo.claim("node-d", later, LEASE, 10) == ["saga_0002"]


async def test_a_claim_is_bounded_by_its_limit(db: Database) -> None:
    repo = SagaRepository(db)
    for n in range(5):
        await make(db, draft(n), owner=None)
    first = await repo.claim("node-a", NOW, LEASE, 2)
    second = await repo.claim("node-b", NOW, LEASE, 10)
    assert len(first) == 2 and len(second) == 3 and not set(first) & set(second)


async def test_concurrent_claimers_take_disjoint_sagas(db: Database) -> None:
    repo = SagaRepository(db)
    for n in range(40):
        await make(db, draft(n), owner=None)
    taken = await asyncio.gather(*(repo.claim(f"node-{i}", NOW, LEASE, 7) for i in range(8)))
    claimed = [saga for batch in taken for saga in batch]
    assert len(claimed) == len(set(claimed)) == 40


async def test_the_list_is_newest_first_with_filters_and_a_cursor(db: Database) -> None:
    repo = SagaRepository(db)
    for n in range(5):
        customer = "c1" if n % 2 == 0 else "c2"
        await make(db, draft(n, customer=customer), at=NOW + timedelta(seconds=n))
    await make(db, draft(9, name="other"), at=NOW + timedelta(seconds=9))
    page = await repo.search(SagaFilter(name="refund"), limit=2)
    assert [s.id for s in page] == ["saga_0004", "saga_0003"]
    last = page[-1]
    page = await repo.search(SagaFilter(name="refund"), limit=2, before=(last.started_at, last.id))
    assert [s.id for s in page] == ["saga_0002", "saga_0001"]
    assert [s.id for s in await repo.search(SagaFilter(customer_key="c2"), limit=10)] == [
        "saga_0003",
        "saga_0001",
    ]
    assert await repo.search(SagaFilter(status="failed"), limit=10) == []
    running = await repo.search(SagaFilter(status="running", name="other"), limit=10)
    assert [s.id for s in running] == ["saga_0009"]
    assert running[0].step_names == ("a", "b")
