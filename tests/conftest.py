"""Shared fixtures: a real node on a real store, served on a real port.

``store_url`` is parametrised: every test that uses it runs on SQLite (a file in a temp
dir) and on the machine's PostgreSQL (one migrated database per test process, emptied
before each test: ``tests.support.postgres``).
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web_app
from aiohttp.test_utils import TestServer
from hypothesis import settings as hypothesis_settings

from kefu.bootstrap import running_node
from kefu.config import Settings, load_settings
from kefu.node import Node
from kefu.server import create_app
from tests.support.cluster import two_nodes_settings
from tests.support.kefu import PASSWORD, PASSWORD_HASH, Kefu, Socket, serving  # noqa: F401 (also imported from here)
from tests.support.nats import NatsServer
from tests.support.passwords import CheapHasher
from tests.support.postgres import Reusable, postgres_database, reusable_database
from tests.support.sqlite import copy_of, migrated_template

# Tests never assert a timing: Hypothesis's per-example deadline (200 ms) failed a pure
# transform's property once on a busy host (test_unify_transforms, 261 ms on a first call).
hypothesis_settings.register_profile("kefu", deadline=None)
hypothesis_settings.load_profile("kefu")


@pytest.fixture(scope="session")
def postgres_reusable() -> Iterator[Reusable]:
    """This process's (xdist worker's) migrated PostgreSQL database, made on first use."""
    with reusable_database() as database:
        yield database


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This process's migrated SQLite store, which tests get copies of."""
    return migrated_template(tmp_path_factory.mktemp("sqlite-template") / "kefu.db")


@pytest.fixture(params=["sqlite", "postgresql"])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """SQLite: a file of the test's own, a copy of a migrated one. PostgreSQL: the worker's
    migrated database with kefu's tables emptied. Both are what a fresh migrated store
    holds."""
    if request.param == "sqlite":
        yield copy_of(request.getfixturevalue("sqlite_template"), tmp_path / "kefu.db")
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


# Modules whose tests start processes (the CLI, ``kefu serve``, ``kefu demo``, several
# workers, killed nodes): seconds each. They run before the rest, right after the
# browser tests (tests/e2e, first by name): ``--dist worksteal`` hands each worker a
# slice of the collection in order and lets idle ones take the tail of the longest queue,
# so a run ends on whatever was last in line; short tests there end it evenly, a long one
# left for the end keeps one worker busy while the others are done.
RUN_FIRST = tuple(
    f"tests/integration/{name}.py"
    for name in (
        "test_saga_recovery",
        "test_workers",
        "test_demo",
        "test_cli_config",
        "test_cli",
        "test_jetstream_recovery",
        "test_nats_shutdown",
        "test_file_modes",
        "test_client_aborts",
        "test_grpc_docs_example",
    )
)


@pytest.fixture(autouse=True)
def forget_served_apps() -> Iterator[None]:
    """aiohttp caches each route's handler wrapped in its app's middlewares in a
    module-level ``lru_cache`` of 1,024 entries, keyed by the handler and the app: a
    server holds one app for its life, but a test process makes hundreds, and the cache
    kept the last ~200 apps alive with their FastAPI twins (~20,000 objects each: 2.5-3.7
    million per xdist worker by the end of the suite, which made every full garbage
    collection there cost ~2.5 s). Emptied after each test, the cache lets them go."""
    yield
    web_app._cached_build_middleware.cache_clear()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Everything alive once the suite is collected (modules, test items, fixtures' code)
    lives to the end: ``gc.freeze`` takes it out of every later collection. A full
    collection then walks only what the tests made: test_connectors_db's per-test
    ``gc.collect()`` cost ~0.2 s each over the collected suite's ~300,000 objects (18 s
    of teardown for its 85 tests, 2 s when run alone), and the interpreter's own
    generation-2 passes cost the same in every test."""
    gc.freeze()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests, then process-starting modules, then the rest, each in its order."""
    items.sort(key=lambda item: 0 if item.nodeid.startswith(("tests/e2e/", *RUN_FIRST)) else 1)
