"""Crash recovery of the JetStream rules consumer, as operators meet it: ``kefu serve``
subprocesses on a nats-server the test owns (its streams use the real subjects, so they
must not share the machine's server), on SQLite and on PostgreSQL.

The rules' work is made slow by a real slow dependency: a rule reads the customer 360,
whose REST source is a local server that holds each request until the test releases it.
That puts a node deterministically mid-batch, with events delivered and unacknowledged.

- A node killed with SIGKILL mid-batch: the node started after it applies every event
  exactly once, and the events the dead node held come again within a small multiple of
  the 5 s the issue asks for (so the former 30 s ``ack_wait`` fails it).
- A healthy node whose batch takes several times ``ack_wait``: nothing is delivered a
  second time (in-progress acks keep what it holds, the batch fetched ahead included).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import nats
import nats.js.errors
import pytest
from aiohttp import web
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from kefu.events.settings import JetStreamSettings
from tests.support.cli import KEFU, clean_env, run_kefu
from tests.support.nats import NatsServer


@pytest.fixture
def nats_server(nats: NatsServer) -> NatsServer:
    """conftest's ``nats`` fixture under a name that leaves the ``nats`` package usable."""
    return nats


# Issue 12, item 20: a crashed node's in-flight events are redelivered within 5 s by
# default. The assertion allows three times that (a busy test machine), still well under
# the 30 s the default ack_wait used to be.
RECOVERY_TARGET_SECONDS = 5.0
RECOVERY_BOUND_SECONDS = 3 * RECOVERY_TARGET_SECONDS
# Hang guards only: waits end on state, these only stop a broken run.
START_GUARD_SECONDS = 120
STATE_GUARD_SECONDS = 90
PASSWORD = "a-long-enough-password"
CUSTOMER = "C1001"
STREAM = JetStreamSettings().stream
CONSUMER = "rules"


@dataclass
class HeldSource:
    """A department's REST service that answers only once the test releases it."""

    url: str = ""
    requests: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def customer(self, request: web.Request) -> web.Response:
        self.requests += 1
        self.arrived.set()
        await self.release.wait()
        return web.json_response({"id": request.match_info["key"], "tier": "gold"})


@pytest.fixture
async def source() -> AsyncIterator[HeldSource]:
    held = HeldSource()
    app = web.Application()
    app.router.add_get("/customers/{key}", held.customer)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    held.url = f"http://127.0.0.1:{port}"
    try:
        yield held
    finally:
        held.release.set()
        await runner.cleanup()


@dataclass
class Node:
    process: asyncio.subprocess.Process
    base: str
    ready_at: float  # monotonic, when it said it serves
    stderr: Path


@dataclass
class Deployment:
    """What the nodes share: the config file (store, NATS, rules), a supervisor, NATS."""

    config: Path
    env: dict[str, str]
    nats: NATS
    http: aiohttp.ClientSession
    directory: Path
    token: str = ""
    nodes: list[Node] = field(default_factory=list)

    async def start(self) -> Node:
        stderr = self.directory / f"node{len(self.nodes) + 1}.stderr"
        with stderr.open("wb") as out:  # a file, not a pipe: nobody has to drain it
            process = await asyncio.create_subprocess_exec(
                str(KEFU), "serve", "--config", str(self.config), env=self.env,
                stdout=asyncio.subprocess.PIPE, stderr=out,
            )  # fmt: skip
        assert process.stdout is not None
        async with asyncio.timeout(START_GUARD_SECONDS):
            line = (await process.stdout.readline()).decode()
        found = re.search(r"http://[\d.]+:\d+", line)
        node = Node(process, "", time.monotonic(), stderr)
        self.nodes.append(node)
        assert found, line + stderr.read_text()
        node.base = found.group()
        return node

    async def login(self, node: Node) -> None:
        body = {"email": "sue@acme.test", "password": PASSWORD}
        async with self.http.post(node.base + "/api/v1/auth/login", json=body) as resp:
            assert resp.status == 200, await resp.text()
            self.token = (await resp.json())["token"]

    async def complaints(self, node: Node, ids: list[str]) -> None:
        batch = {
            "events": [
                {"type": "customer.complaint", "id": i, "customer_key": CUSTOMER, "data": {"n": i}}
                for i in ids
            ]
        }
        async with self.http.post(
            node.base + "/api/v1/events", json=batch, headers=self._auth()
        ) as resp:
            assert resp.status == 202, await resp.text()

    async def ticket_subjects(self, node: Node) -> list[str]:
        async with self.http.get(
            node.base + "/api/v1/tickets",
            params={"customer_key": CUSTOMER, "limit": "200"},
            headers=self._auth(),
        ) as resp:
            assert resp.status == 200, await resp.text()
            return [ticket["subject"] for ticket in (await resp.json())["items"]]

    async def metric(self, node: Node, name: str) -> float:
        async with self.http.get(node.base + "/metrics", headers=self._auth()) as resp:
            text = await resp.text()
        found = re.search(rf"^{name} ([0-9.e+]+)$", text, re.MULTILINE)
        assert found, f"{name} not in /metrics"
        return float(found.group(1))

    async def settled(self) -> bool:
        """Every event in the stream delivered and acknowledged: no redelivery can come."""
        info = await self.nats.jetstream().consumer_info(STREAM, CONSUMER)
        return bool(info.num_ack_pending == 0 and info.num_pending == 0)

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
async def deploy(
    tmp_path: Path, store_url: str, nats_server: NatsServer, source: HeldSource
) -> AsyncIterator[Callable[..., Awaitable[Deployment]]]:
    """Builds the deployment (with ``events`` settings of the test's choosing)."""
    made: list[Deployment] = []
    secret = secrets.token_hex(32)
    async with aiohttp.ClientSession() as http:
        admin = await nats.connect(nats_server.url)

        async def make(**events: Any) -> Deployment:
            config = tmp_path / f"kefu{len(made)}.yaml"
            settings = _config(store_url, nats_server.url, source.url, secret, events)
            config.write_text(json.dumps(settings))
            env = clean_env(KEFU_DATA_DIR=str(tmp_path / "data"))
            if not made:
                added = await asyncio.to_thread(
                    run_kefu, "agents", "add", "--email", "sue@acme.test", "--password",
                    PASSWORD, "--name", "Sue", "--role", "supervisor", "--config", str(config),
                    env=env,
                )  # fmt: skip
                assert added.returncode == 0, added.stderr
            made.append(Deployment(config, env, admin, http, tmp_path / f"d{len(made)}"))
            made[-1].directory.mkdir()
            return made[-1]

        try:
            yield make
        finally:
            for node in (node for deployment in made for node in deployment.nodes):
                if node.process.returncode is None:
                    node.process.kill()
                    await node.process.wait()
            await admin.close()


def _config(store: str, bus: str, crm: str, secret: str, events: dict[str, Any]) -> dict[str, Any]:
    """JSON is YAML: the rule's ``on`` key stays a string whatever the YAML reader."""
    return {
        "port": 0,
        "store": store,
        "bus": bus,
        "auth": {"secret_key": secret},
        "cluster": {"subject": f"kefu.live.t{secrets.token_hex(4)}"},
        # The rule waits for the CRM as long as it takes (up to the 60 s maximum).
        "customer360": {"deadline_ms": 60_000},
        "sources": {
            "crm": {
                "connector": "rest",
                "connection": {"base_url": crm},
                "request": {"path": "/customers/{value}"},
                "map": {"customer": {"tier": "tier"}},
                "timeout_ms": 60_000,
                "ttl_seconds": 0,
                "retry": {"attempts": 1},
            }
        },
        "rules": [
            {
                "name": "gold-complaints",
                "on": "customer.complaint",
                "when": ['customer.tier == "gold"'],
                "do": [{"create_ticket": {"subject": "complaint {data.n}"}}],
            }
        ],
        "events": events,
    }


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + STATE_GUARD_SECONDS  # a hang guard
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def test_a_node_killed_mid_batch_has_its_events_applied_once_within_seconds(
    deploy: Callable[..., Awaitable[Deployment]], source: HeldSource
) -> None:
    assert JetStreamSettings().ack_wait_seconds <= RECOVERY_TARGET_SECONDS
    deployment = await deploy()  # every events setting at its default
    first = await deployment.start()
    await deployment.login(first)
    ids = [f"crash-{n}" for n in range(20)]
    await deployment.complaints(first, ids)
    async with asyncio.timeout(STATE_GUARD_SECONDS):
        await source.arrived.wait()  # the first node is mid-batch, waiting for the CRM

    os.kill(first.process.pid, signal.SIGKILL)
    await first.process.wait()
    source.release.set()  # the CRM answers the next node at once
    second = await deployment.start()

    async def all_applied() -> bool:
        return len(await deployment.ticket_subjects(second)) >= len(ids)

    await _until(all_applied, "every complaint's ticket")
    applied_at = time.monotonic()
    await _until(deployment.settled, "every delivery acknowledged")

    subjects = await deployment.ticket_subjects(second)
    assert sorted(subjects) == sorted(f"complaint {i}" for i in ids)  # each exactly once
    # What the dead node held came again (a redelivery, not a first delivery) ...
    assert await deployment.metric(second, "kefu_events_redelivered_total") >= 1
    # ... within seconds of the new node being up, not after the former 30 s ack_wait.
    assert applied_at - second.ready_at < RECOVERY_BOUND_SECONDS, (
        f"the held events came {applied_at - second.ready_at:.1f} s after the node was up"
    )


async def test_a_batch_slower_than_ack_wait_is_not_delivered_twice(
    deploy: Callable[..., Awaitable[Deployment]], source: HeldSource
) -> None:
    # One event per batch: while the first waits for the CRM, the consumer has already
    # fetched the next one, which waits its turn unacknowledged as well.
    ack_wait = 1.0
    deployment = await deploy(batch=1, jetstream={"ack_wait_seconds": ack_wait})
    node = await deployment.start()
    await deployment.login(node)
    progress: list[Msg] = []

    async def note(msg: Msg) -> None:
        if msg.data == b"+WPI":
            progress.append(msg)

    # JetStream acks are plain NATS messages: the test can see the node's in-progress acks.
    await deployment.nats.subscribe(f"$JS.ACK.{STREAM}.{CONSUMER}.>", cb=note)
    ids = [f"slow-{n}" for n in range(3)]
    await deployment.complaints(node, ids)
    async with asyncio.timeout(STATE_GUARD_SECONDS):
        await source.arrived.wait()

    # The CRM takes four times ack_wait to answer: the slow dependency the scenario is
    # about (its duration, not an assertion on time).
    await asyncio.sleep(4 * ack_wait)
    source.release.set()

    async def all_applied() -> bool:
        return len(await deployment.ticket_subjects(node)) >= len(ids)

    await _until(all_applied, "every complaint's ticket")
    await _until(deployment.settled, "every delivery acknowledged")

    assert sorted(await deployment.ticket_subjects(node)) == sorted(f"complaint {i}" for i in ids)
    assert progress, "no in-progress ack was sent while the batch waited"
    # Every event was handed to the rules once: none came again.
    assert await deployment.metric(node, "kefu_events_redelivered_total") == 0
    node.process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(STATE_GUARD_SECONDS):
        assert await node.process.wait() == 0


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # NATS state only
async def test_a_consumer_made_with_a_longer_ack_wait_is_updated_at_start(
    deploy: Callable[..., Awaitable[Deployment]],
) -> None:
    old = await deploy(jetstream={"ack_wait_seconds": 30})
    node = await old.start()

    async def made_with_30s() -> bool:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            info = await old.nats.jetstream().consumer_info(STREAM, CONSUMER)
            return bool(info.config.ack_wait == 30.0)
        return False

    await _until(made_with_30s, "the consumer made with the old ack_wait")
    node.process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(STATE_GUARD_SECONDS):
        assert await node.process.wait() == 0

    upgraded = await deploy()  # the new default, on the same stream and consumer
    await upgraded.start()

    async def updated() -> bool:
        info = await upgraded.nats.jetstream().consumer_info(STREAM, CONSUMER)
        return bool(info.config.ack_wait == JetStreamSettings().ack_wait_seconds)

    await _until(updated, "the consumer's ack_wait following the settings")
