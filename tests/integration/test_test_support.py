"""The suite's own wiring: what the shared fixtures promise, checked against the real
thing (a reused PostgreSQL database must look freshly migrated; test nodes hash cheaply
while a node built as production builds it keeps argon2id)."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from kefu.auth.passwords import Argon2Hasher
from kefu.bootstrap import running_node
from kefu.config import load_settings
from kefu.domain.roles import Role
from tests.support.kefu import Kefu
from tests.support.passwords import CheapHasher
from tests.support.postgres import DELETE_ROWS_AT_MOST, Reusable


async def test_test_nodes_hash_cheaply_and_still_check_passwords(kefu: Kefu) -> None:
    assert isinstance(kefu.node.passwords, CheapHasher)
    agent = await kefu.add_agent("Ann")
    assert agent["token"]
    status, _ = await kefu.request(
        "POST", "/api/v1/auth/login", None, {"email": agent["email"], "password": "wrong-one"}
    )
    assert status == 401


async def test_a_node_built_as_production_builds_it_keeps_argon2id(tmp_path: Path) -> None:
    settings = load_settings(None, data_dir=tmp_path / "data", store=f"sqlite:///{tmp_path}/k.db")
    async with running_node(settings) as node:
        assert isinstance(node.passwords, Argon2Hasher)
        assert (await node.passwords.hash("a-long-password")).startswith(
            "$argon2id$v=19$m=65536,t=3,p=4$"
        )


@pytest.mark.postgres
async def test_the_reused_database_is_emptied_as_freshly_migrated(
    postgres_reusable: Reusable, tmp_path: Path
) -> None:
    url = await postgres_reusable.emptied()
    settings = load_settings(None, data_dir=tmp_path / "data", store=url)
    async with running_node(settings, password_hasher=CheapHasher()) as node:
        await node.repos.agents.create(
            email="ann@example.test",
            name="Ann",
            role=Role.AGENT,
            password_hash="x",
            now=node.clock.now(),
        )
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM agents") == 1
        # A sequence used, and a table past the size at which emptying truncates instead.
        await conn.execute(
            "INSERT INTO audit_log (at, actor, action, target, detail)"
            " SELECT now(), 'test', 'probe', 'x', '{}' FROM generate_series(1, $1)",
            DELETE_ROWS_AT_MOST + 5,
        )
        await postgres_reusable.emptied()
        assert await conn.fetchval("SELECT count(*) FROM agents") == 0
        assert await conn.fetchval("SELECT count(*) FROM audit_log") == 0
        assert await conn.fetchval("SELECT count(*) FROM alembic_version") == 1  # still migrated
        used = "SELECT count(*) FROM pg_sequences WHERE schemaname = 'public'"
        assert await conn.fetchval(used + " AND last_value IS NOT NULL") == 0  # restarted
        assert await conn.fetchval(used) > 0
        ids = await conn.fetch(
            "INSERT INTO audit_log (at, actor, action, target, detail)"
            " VALUES (now(), 'test', 'probe', 'x', '{}') RETURNING id"
        )
        assert [row["id"] for row in ids] == [1]  # numbered as in a fresh database
    finally:
        await conn.close()


@pytest.mark.postgres
async def test_a_database_whose_schema_a_test_changed_is_rebuilt(
    postgres_reusable: Reusable,
) -> None:
    """Tests stand faults in with DDL (a trigger refusing tickets, a dropped table); the
    next test must not inherit them."""
    url = await postgres_reusable.emptied()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'no'; END $$"
            " LANGUAGE plpgsql;"
            " CREATE TRIGGER refuse BEFORE INSERT ON tickets EXECUTE FUNCTION refuse();"
            " DROP TABLE visitors CASCADE"
        )
    finally:
        await conn.close()
    assert await postgres_reusable.emptied() == url
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM pg_proc WHERE proname = 'refuse'") == 0
        assert await conn.fetchval("SELECT count(*) FROM visitors") == 0  # back, and empty
    finally:
        await conn.close()
