"""The ``sql`` saga action on real databases: MariaDB (statements and a stored procedure,
through a ``mysql`` or ``sql`` source), PostgreSQL and SQLite through SQLAlchemy URLs.

Each test has a database of its own. Values are bound (hostile ones land as text), the
ledger table makes a re-run step a replay, and errors are sorted into final/retryable.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from kefu.sagas.actions.base import ActionCall, ActionFailed
from kefu.sagas.actions.build import build_action
from kefu.unify.settings import SourceSettings
from tests.support.department_systems import mariadb_database, postgres_async_database

HOSTILE = "x'); DROP TABLE accounts; -- 退款 \\' \" `"
HANG_GUARD = 30.0


def call(inputs: dict[str, Any], *, saga_id: str = "saga_1", attempt: int = 1) -> ActionCall:
    context = {"input": inputs, "customer_key": "C1", "saga": {"id": saga_id}, "steps": {}}
    return ActionCall(saga_id, "refund", "debit", "action", attempt, HANG_GUARD, context)


def build(spec: dict[str, Any], sources: dict[str, SourceSettings] | None = None) -> Any:
    return build_action(spec, where="sagas.t.steps[0].action", sources=sources or {}, kefu=None)  # type: ignore[arg-type]


async def execute(url: str, *statements: str) -> list[Any]:
    engine = create_async_engine(url)
    rows: list[Any] = []
    try:
        async with engine.begin() as conn:
            for statement in statements:
                result = await conn.execute(text(statement))
                if result.returns_rows:
                    rows = [tuple(r) for r in result]
    finally:
        await engine.dispose()
    return rows


SCHEMA = (
    "CREATE TABLE accounts (id VARCHAR(20) PRIMARY KEY, balance DECIMAL(12,2) NOT NULL, "
    "note VARCHAR(200))",
    "CREATE TABLE saga_applied_keys (idempotency_key VARCHAR(200) PRIMARY KEY)",
    "INSERT INTO accounts (id, balance) VALUES ('A1', 100.00)",
)
DEBIT = {
    "kind": "sql",
    "statement": "UPDATE accounts SET balance = balance - :amount, note = :note WHERE id = :id",
    "params": {"amount": "input.amount", "note": "input.note", "id": "input.account"},
    "ledger_table": "saga_applied_keys",
}


async def check_debit_once(url: str, spec: dict[str, Any], sources: Any = None) -> None:
    action = build(spec | ({} if sources else {"connection": {"url": url}}), sources)
    try:
        inputs = {"amount": 12.5, "note": HOSTILE, "account": "A1"}
        assert await action.run(call(inputs)) == {"rowcount": 1}
        assert await action.run(call(inputs, attempt=2)) == {"replayed": True}
        rows = await execute(url, "SELECT balance, note FROM accounts WHERE id = 'A1'")
        assert [(float(b), n) for b, n in rows] == [(87.5, HOSTILE)]
        duplicate = build(
            {
                "kind": "sql",
                "connection": {"url": url},
                "statement": "INSERT INTO accounts (id, balance) VALUES (:id, 0)",
                "params": {"id": "input.account"},
            }
        )
        try:
            with pytest.raises(ActionFailed) as failed:
                await duplicate.run(call({"account": "A1"}, saga_id="saga_2"))
            assert not failed.value.retryable and "IntegrityError" in str(failed.value)
            assert "A1" not in str(failed.value)
        finally:
            await duplicate.close()
    finally:
        await action.close()


@pytest.fixture
async def mariadb() -> AsyncIterator[str]:
    async with mariadb_database() as url:
        await execute(url, *SCHEMA)
        yield url


async def test_mariadb_statement_applies_once(mariadb: str) -> None:
    await check_debit_once(mariadb, DEBIT)


async def test_mariadb_through_a_mysql_source(mariadb: str) -> None:
    database = mariadb.rsplit("/", 1)[1]
    sources = {
        "ledger": SourceSettings.model_validate(
            {
                "connector": "mysql",
                "enabled": False,
                "connection": {"host": "127.0.0.1", "user": "root", "database": database},
                "request": {"query": "SELECT id FROM accounts WHERE id = :value"},
                "map": {"customer": {"name": "id"}},
            }
        )
    }
    await check_debit_once(mariadb, DEBIT | {"source": "ledger"}, sources)


async def test_mariadb_stored_procedure(mariadb: str) -> None:
    await execute(
        mariadb,
        "CREATE PROCEDURE refund_account(IN p_id VARCHAR(20), IN p_amount DECIMAL(12,2), "
        "IN p_key VARCHAR(200)) BEGIN "
        "IF p_amount > 50 THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'too much'; END IF; "
        "INSERT INTO saga_applied_keys (idempotency_key) VALUES (p_key); "
        "UPDATE accounts SET balance = balance + p_amount WHERE id = p_id; "
        "SELECT balance AS new_balance FROM accounts WHERE id = p_id; END",
    )
    spec = {
        "kind": "sql",
        "connection": {"url": mariadb.replace("mysql+asyncmy", "mysql", 1)},
        "statement": "CALL refund_account(:id, :amount, :idempotency_key)",
        "params": {"id": "input.account", "amount": "input.amount"},
    }
    action = build(spec)
    try:
        assert await action.run(call({"account": "A1", "amount": 5})) == {
            "rowcount": 0,
            "new_balance": "105.00",
        }
        with pytest.raises(ActionFailed) as again:  # the procedure's own key table says no
            await action.run(call({"account": "A1", "amount": 5}, attempt=2))
        assert not again.value.retryable
        with pytest.raises(ActionFailed) as signalled:
            await action.run(call({"account": "A1", "amount": 80}, saga_id="saga_2"))
        assert not signalled.value.retryable and "too much" not in str(signalled.value)
        # The same connection pool still works after the refusals.
        assert (await action.run(call({"account": "A1", "amount": 1}, saga_id="saga_3")))[
            "new_balance"
        ] == "106.00"
    finally:
        await action.close()
    rows = await execute(mariadb, "SELECT balance FROM accounts WHERE id = 'A1'")
    assert float(rows[0][0]) == 106.0


async def test_postgresql_statements_in_one_transaction() -> None:
    async with postgres_async_database() as url:
        await execute(url, *SCHEMA)
        await check_debit_once(url, DEBIT)
        spec = {
            "kind": "sql",
            "connection": {"url": url},
            "statements": [
                "UPDATE accounts SET balance = balance + CAST(:amount AS numeric) WHERE id = :id",
                "INSERT INTO accounts (id, balance) VALUES (:id, 0) RETURNING id",
            ],
            "params": {"id": "input.account", "amount": "input.amount"},
        }
        action = build(spec)
        try:
            with pytest.raises(ActionFailed) as failed:
                await action.run(call({"account": "A1", "amount": 100}, saga_id="saga_9"))
            assert not failed.value.retryable
        finally:
            await action.close()
        # The second statement failed: the first one's change was rolled back with it.
        rows = await execute(url, "SELECT balance FROM accounts WHERE id = 'A1'")
        assert float(rows[0][0]) == 87.5


async def test_sqlite_statement_applies_once(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}"
    await execute(url, *SCHEMA)
    await check_debit_once(url, DEBIT)


async def test_an_unreachable_database_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for url in (
        f"mysql://root@127.0.0.1:{port}/test",
        f"postgresql+asyncpg://postgres@127.0.0.1:{port}/test",
    ):
        action = build({"kind": "sql", "connection": {"url": url}, "statement": "SELECT 1"})
        try:
            with pytest.raises(ActionFailed) as failed:
                await action.run(call({}))
            assert failed.value.retryable, url
        finally:
            await action.close()


async def test_postgresql_stored_procedure() -> None:
    async with postgres_async_database() as url:
        await execute(
            url,
            *SCHEMA,
            "CREATE PROCEDURE refund_account(p_id text, p_amount numeric, p_key text) "
            "LANGUAGE plpgsql AS $$ BEGIN "
            "IF p_amount > 50 THEN RAISE EXCEPTION 'too much for %', p_id; END IF; "
            "INSERT INTO saga_applied_keys (idempotency_key) VALUES (p_key); "
            "UPDATE accounts SET balance = balance + p_amount WHERE id = p_id; END $$",
        )
        spec = {
            "kind": "sql",
            "connection": {"url": url},
            "statement": "CALL refund_account(:id, CAST(:amount AS numeric), :idempotency_key)",
            "params": {"id": "input.account", "amount": "input.amount"},
        }
        action = build(spec)
        try:
            await action.run(call({"account": "A1", "amount": 5}))
            with pytest.raises(ActionFailed) as again:  # the key is in the procedure's table
                await action.run(call({"account": "A1", "amount": 5}, attempt=2))
            assert not again.value.retryable and "23505" in str(again.value)
            with pytest.raises(ActionFailed) as raised:
                await action.run(call({"account": "A1", "amount": 80}, saga_id="saga_2"))
            assert not raised.value.retryable and "P0001" in str(raised.value)
            assert "A1" not in str(raised.value) and "too much" not in str(raised.value)
        finally:
            await action.close()
        rows = await execute(url, "SELECT balance FROM accounts WHERE id = 'A1'")
        assert float(rows[0][0]) == 105.0
