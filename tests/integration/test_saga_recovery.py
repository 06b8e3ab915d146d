"""Sagas through crashes, on the real simulators (orders API, CRM, call center) and real
``kefu serve`` processes killed with SIGKILL:

- killed between the CRM's answer and kefu's record of it: the restarted node runs the
  step again with the same key, the CRM replays its answer, applies nothing twice, and the
  saga completes (SQLite);
- killed with a second node up on the same PostgreSQL store: the other node claims the
  saga once its lease runs out and finishes it, applying each step once;
- (in process) a compensation that keeps failing leaves the saga ``failed`` with its
  error; a supervisor's retry then undoes it, each system's records back to the start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import ClientSession

from kefu.config import load_settings
from kefu.demo_systems import BEHAVIOUR
from kefu.demo_systems.callcenter_notes import notes_of
from kefu.demo_systems.crm import points_balance
from kefu.demo_systems.dataset import Order
from kefu.demo_systems.orders_api import REFUNDABLE, read_order
from kefu.demo_systems.refund_saga import demo_sagas
from kefu.demo_systems.sources import demo_sources
from kefu.domain.roles import Role
from kefu.store.database import Database
from kefu.store.repositories import Repositories
from tests.support.cli import KEFU, clean_env
from tests.support.department_systems import DepartmentSystems, department_systems
from tests.support.kefu import PASSWORD, PASSWORD_HASH, serving
from tests.support.postgres import postgres_database
from tests.support.saga_systems import until

HANG_GUARD = 60.0
TERMINAL = {"completed", "compensated", "failed"}
ENGINE = {"lease_seconds": 1.0, "claim_seconds": 0.2}  # a dead node's sagas move within ~1 s


def saga_config(systems: DepartmentSystems) -> dict[str, Any]:
    sagas = demo_sagas(systems.orders_url)
    for step in sagas["refund"]["steps"]:
        step["retry"] = {"attempts": 4, "backoff_seconds": 0.05, "budget_seconds": 60}
        step["timeout_seconds"] = 30  # a held reply must outlast the kill, not time out
    return {
        "sources": demo_sources(systems.crm_url, systems.callcenter_url, systems.orders_db),
        "sagas": sagas,
        "saga_engine": ENGINE,
        "auth": {"secret_key": "saga-recovery-test-secret-" + "x" * 16},
        "log_level": "warning",
    }


def order_of(systems: DepartmentSystems) -> Order:
    return next(o for o in systems.dataset.orders_of("C1001") if o.status in REFUNDABLE)


async def seed_agent(store: str, email: str) -> None:
    """An agent in the (migrated) store with the tests' cheap password hash: the CLI's
    ``agents add`` hashes at production cost, tens of seconds on a busy test host."""
    async with Database(store) as db:
        await db.migrate()
        await Repositories.over(db).agents.create(
            email=email,
            name="Alex",
            role=Role.AGENT,
            password_hash=PASSWORD_HASH,
            capacity=None,
            now=datetime.now(UTC),
        )


@dataclass
class Process:
    url: str
    process: asyncio.subprocess.Process

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)


@contextlib.asynccontextmanager
async def kefu_node(env: dict[str, str], log: Path) -> AsyncIterator[Process]:
    """``kefu serve`` on a free port (stderr to ``log``, never a pipe that could fill)."""
    with log.open("ab") as err:
        process = await asyncio.create_subprocess_exec(
            str(KEFU), "serve", "--port", "0", env=env,
            stdout=asyncio.subprocess.PIPE, stderr=err,
        )  # fmt: skip
    try:
        assert process.stdout is not None
        async with asyncio.timeout(HANG_GUARD):
            line = (await process.stdout.readline()).decode()
        found = re.search(r"http://[\d.]+:\d+", line)
        assert found, (line, log.read_text())
        yield Process(found.group(), process)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(HANG_GUARD):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()


class Client:
    def __init__(self, http: ClientSession, url: str, token: str = "") -> None:
        self.http, self.url, self.token = http, url, token

    async def login(self, email: str) -> Client:
        body = {"email": email, "password": PASSWORD}
        async with self.http.post(f"{self.url}/api/v1/auth/login", json=body) as resp:
            assert resp.status == 200, await resp.text()
            token = (await resp.json())["token"]
        return Client(self.http, self.url, token)

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self.http.request(method, self.url + path, json=body, headers=headers) as resp:
            return resp.status, await resp.json()

    async def start(self, order: Order) -> str:
        body = {
            "input": {"order_id": order.order_no, "amount": float(order.total), "reason": "late"},
            "customer_key": order.customer_key,
            "idempotency_key": f"refund-{order.order_no}",
        }
        status, answer = await self.call("POST", "/api/v1/sagas/refund", body)
        assert status == 202, answer
        saga_id: str = answer["saga_id"]
        return saga_id

    async def finished(self, saga_id: str) -> dict[str, Any]:
        async def check() -> dict[str, Any] | None:
            status, saga = await self.call("GET", f"/api/v1/sagas/{saga_id}")
            assert status == 200, saga
            return saga if saga["status"] in TERMINAL else None

        saga: dict[str, Any] = await until(check, HANG_GUARD)
        return saga


def assert_applied_once(systems: DepartmentSystems) -> None:
    for app in (systems.orders, systems.crm, systems.callcenter):
        writes = app[BEHAVIOUR].writes
        assert writes.applied_more_than_once() == 0, writes.applied
        assert sum(writes.applied.values()) == 1, writes.applied


async def held(systems: DepartmentSystems) -> None:
    """The CRM has taken the points back and holds its answer."""
    await until(lambda: systems.crm[BEHAVIOUR].writes.held == 1, HANG_GUARD)


async def test_a_node_killed_after_the_crm_answered_resumes_without_applying_twice(
    tmp_path: Path,
) -> None:
    async with department_systems(f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}") as systems:
        config = tmp_path / "kefu.yaml"
        config.write_text(json.dumps(saga_config(systems)))
        env = clean_env(
            KEFU_CONFIG=str(config),
            KEFU_DATA_DIR=str(tmp_path / "data"),
            KEFU_STORE=f"sqlite:///{tmp_path / 'kefu.db'}",
        )
        await seed_agent(env["KEFU_STORE"], "alex@example.test")
        order = order_of(systems)
        crm = systems.crm[BEHAVIOUR]
        crm.set_write_knobs(hold_next_replies=1)
        async with ClientSession() as http:
            async with kefu_node(env, tmp_path / "first.log") as first:
                agent = await Client(http, first.url).login("alex@example.test")
                saga_id = await agent.start(order)
                await held(systems)
                first.kill()  # after the CRM applied, before kefu recorded it
                await first.process.wait()
            crm.release_replies()  # the answer goes to a dead socket
            async with kefu_node(env, tmp_path / "second.log") as second:
                agent = await Client(http, second.url).login("alex@example.test")
                saga = await agent.finished(saga_id)
                again = await agent.start(order)  # the same key: the same saga, nothing new
        assert again == saga_id
    assert saga["status"] == "completed", saga
    take_back = next(s for s in saga["steps"] if s["name"] == "take_back_points")
    assert take_back["attempts"] == 2  # the interrupted attempt, then the replayed one
    assert crm.writes.replays == 1  # the CRM answered the second attempt from its ledger
    assert_applied_once(systems)


async def test_a_node_killed_mid_saga_is_finished_by_the_other_node(tmp_path: Path) -> None:
    async with (
        postgres_database() as store,
        department_systems(f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}") as systems,
    ):
        config = tmp_path / "kefu.yaml"
        config.write_text(json.dumps(saga_config(systems)))

        def env(name: str) -> dict[str, str]:
            return clean_env(
                KEFU_CONFIG=str(config), KEFU_DATA_DIR=str(tmp_path / name), KEFU_STORE=store
            )

        await seed_agent(store, "alex@example.test")
        order = order_of(systems)
        crm = systems.crm[BEHAVIOUR]
        crm.set_write_knobs(hold_next_replies=1)
        async with (
            ClientSession() as http,
            kefu_node(env("b"), tmp_path / "b.log") as b,
            kefu_node(env("a"), tmp_path / "a.log") as a,
        ):
            on_a = await Client(http, a.url).login("alex@example.test")
            saga_id = await on_a.start(order)
            await held(systems)
            a.kill()
            await a.process.wait()
            crm.release_replies()
            on_b = await Client(http, b.url).login("alex@example.test")
            saga = await on_b.finished(saga_id)
    assert saga["status"] == "completed", saga
    assert [s["status"] for s in saga["steps"]] == ["done"] * 4
    assert_applied_once(systems)


async def test_a_failing_compensation_leaves_it_failed_and_a_retry_undoes_it(
    tmp_path: Path,
) -> None:
    async with department_systems(f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}") as systems:
        config = saga_config(systems)
        for step in config["sagas"]["refund"]["steps"]:
            step["timeout_seconds"] = 5
        settings = load_settings(
            None,
            data_dir=tmp_path / "data",
            store=f"sqlite:///{tmp_path / 'kefu.db'}",
            sources=config["sources"],
            sagas=config["sagas"],
        )
        order = order_of(systems)
        points = points_balance(systems.crm, order.customer_key)
        orders = systems.orders[BEHAVIOUR]
        async with serving(settings) as kefu:
            boss = await kefu.add_agent("Sue", Role.SUPERVISOR)
            orders.set_write_knobs(hold_next_replies=1)
            body = {
                # A control character XML cannot carry: the call-center note fails for good.
                "input": {
                    "order_id": order.order_no,
                    "amount": float(order.total),
                    "reason": "\x07",
                },
                "customer_key": order.customer_key,
            }
            status, answer = await kefu.post("/api/v1/sagas/refund", boss["token"], body)
            assert status == 202, answer
            await until(lambda: orders.writes.held == 1, HANG_GUARD)
            # The refund is applied; every later orders write (its cancellation) fails.
            orders.set_write_knobs(fail_next_writes=4)
            orders.release_replies()

            async def ended() -> dict[str, Any] | None:
                _, saga = await kefu.get(f"/api/v1/sagas/{answer['saga_id']}", boss["token"])
                return saga if saga["status"] in TERMINAL else None

            saga = await until(ended, HANG_GUARD)
            assert saga["status"] == "failed", saga
            assert saga["error"].startswith("refund_order (compensation): ")
            steps = {s["name"]: s["status"] for s in saga["steps"]}
            assert steps == {
                "refund_order": "failed",
                "take_back_points": "compensated",
                "log_call_note": "failed",
                "comment_ticket": "skipped",
            }
            record = await read_order(systems.orders, order.order_no)
            assert record is not None and record["status"] == "refunded"  # not undone yet
            status, _ = await kefu.post(f"/api/v1/sagas/{saga['id']}/retry", boss["token"])
            assert status == 200
            saga = await until(ended, HANG_GUARD)
        assert saga["status"] == "compensated", saga
        record = await read_order(systems.orders, order.order_no)
        assert record is not None and record["status"] == order.status and record["refund"] is None
        assert points_balance(systems.crm, order.customer_key) == points
        assert notes_of(systems.callcenter, order.customer_key) == []
