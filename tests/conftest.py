"""Shared fixtures: a real node on a real store, served on a real port.

``store_url`` is parametrised: every test that uses it runs on SQLite (a file in a temp
dir) and on the machine's PostgreSQL (one migrated database per test process, emptied
before each test: ``tests.support.postgres``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from kefu.bootstrap import running_node
from kefu.config import Settings, load_settings
from kefu.node import Node
from kefu.server import create_app
from tests.support.cluster import two_nodes_settings
from tests.support.kefu import PASSWORD, PASSWORD_HASH, Kefu, Socket, serving  # noqa: F401 (also imported from here)
from tests.support.nats import NatsServer
from tests.support.passwords import CheapHasher
from tests.support.postgres import Reusable, postgres_database, reusable_database


@pytest.fixture(scope="session")
def postgres_reusable() -> Iterator[Reusable]:
    """This process's (xdist worker's) migrated PostgreSQL database, made on first use."""
    with reusable_database() as database:
        yield database


@pytest.fixture(params=["sqlite", "postgresql"])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """SQLite: a file of the test's own. PostgreSQL: the worker's migrated database with
    kefu's tables emptied, which is what a fresh migrated one holds."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kefu.db'}"
    else:
        reusable: Reusable = request.getfixturevalue("postgres_reusable")
        yield await reusable.emptied()


@pytest.fixture(params=["sqlite", "postgresql"])
async def fresh_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A store nothing has migrated yet, on each store: for tests of migrating itself."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        async with postgres_database() as url:
            yield url


@pytest.fixture
def settings_factory(tmp_path: Path, store_url: str) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        return load_settings(None, data_dir=tmp_path / "data", store=store_url, **overrides)

    return make


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory()


@pytest.fixture
async def node(settings: Settings) -> AsyncIterator[Node]:
    async with running_node(settings, password_hasher=CheapHasher()) as running:
        yield running


@pytest.fixture
async def kefu(node: Node) -> AsyncIterator[Kefu]:
    server = TestServer(create_app(node), host="127.0.0.1")
    await server.start_server()
    async with ClientSession() as http:
        yield Kefu(node, server, http)
    await server.close()


@pytest.fixture
def nats(tmp_path: Path) -> Iterator[NatsServer]:
    """A nats-server of the test's own (JetStream on, store in tmp_path), restartable."""
    server = NatsServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def cluster_settings(tmp_path: Path, nats: NatsServer) -> AsyncIterator[list[Settings]]:
    """Two nodes' settings on one fresh PostgreSQL store and the test's own NATS."""
    async with two_nodes_settings(tmp_path, nats) as settings:
        yield settings


@pytest.fixture
async def nodes(cluster_settings: list[Settings]) -> AsyncIterator[tuple[Kefu, Kefu]]:
    """Two served nodes of one cluster (``cluster_settings``)."""
    async with serving(cluster_settings[0]) as a, serving(cluster_settings[1]) as b:
        yield a, b
