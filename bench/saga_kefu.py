"""kefu's side of the ``sagas`` scenario: a real ``kefu serve`` running the refund saga.

The node gets a config file with the refund saga over the bench's department systems
(REST orders and CRM, SOAP call center, and, as the demo's saga does, kefu's own
``ticket_comment`` on a ticket it opens as the last step), an
agent created with ``kefu agents add``, and SQLite in the run directory (the embedded
default). Sagas are started with ``POST /api/v1/sagas/refund`` and an idempotency key
per planned saga by a pool of 32 submitters; a submission that meets a dead node (refused
connection, reset, 5xx) is sent again with the same key until the node answers 202, so
a saga the node accepted just before its death is not started twice. The node is
SIGKILLed (its process group) and restarted on the same port and data directory; the
restarted node takes the dead one's sagas when their leases run out (``saga_engine``
defaults). Progress is read from the store's ``sagas`` table (read-only), the outcome
and ``finished_at`` of every saga too, after the run.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from bench.kefu_proc import AGENT_PASSWORD, add_agents, kefu_argv, node_env
from bench.procs import Server, free_port, start_server, wait_http_ready
from bench.saga_plan import WRITE_FAILURE_RATE, PlannedSaga, customers_for
from bench.saga_runs import department_systems, limits, monitor, records, result
from bench.scenarios.common import Context

SUBJECT = "kefu-sqlite"
SUBMITTERS = 32
RETRY = {"attempts": 5, "backoff_seconds": 0.2, "max_backoff_seconds": 2, "budget_seconds": 60}
NS = "urn:kefu-demo:callcenter"
ENVELOPE = (
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    '<{op} xmlns="' + NS + '">{fields}<IdempotencyKey>{{idempotency_key}}</IdempotencyKey>'
    "</{op}></soap:Body></soap:Envelope>"
)
TERMINAL_SQL = "SELECT count(*) FROM sagas WHERE status IN ('completed','compensated','failed')"


def saga_config(urls: dict[str, str]) -> dict[str, Any]:
    """The refund saga of the demo, over the bench's simulators (see bench.saga_plan)."""

    def rest(system: str, path: str, body: dict[str, str]) -> dict[str, Any]:
        return {"kind": "rest", "connection": {"base_url": urls[system]}, "method": "POST",
                "path": path, "body": body}  # fmt: skip

    def soap(op: str, fields: str) -> dict[str, Any]:
        return {"kind": "soap", "connection": {"base_url": urls["callcenter"]},
                "path": "/soap/Notes", "soap_action": f"{NS}#{op}",
                "envelope": ENVELOPE.format(op=op, fields=fields)}  # fmt: skip

    order = "/api/orders/{input.order_id}"
    points = "/api/customers/{input.customer_id}/points"
    steps = [
        ("refund_order", rest("orders", order + "/refund", {"amount": "{input.amount}"}),
         rest("orders", order + "/refund/cancel", {"refund_key": "{step.action_key}"})),
        ("take_back_points", rest("crm", points + "/take-back", {"amount": "{input.amount}"}),
         rest("crm", points + "/give-back", {"take_back_key": "{step.action_key}"})),
        ("log_call_note",
         soap("AddNote", "<CustomerRef>{input.customer_id}</CustomerRef><Text>{input.note}</Text>"),
         soap("RemoveNote", "<AddNoteKey>{step.action_key}</AddNoteKey>")),
        ("comment_ticket",
         {"kind": "kefu", "op": "ticket_comment", "ticket_id": "{input.ticket_id}",
          "body": "Refunded order {input.order_id}",
          "create_if_missing": {"subject": "Refund of order {input.order_id}"}}, None),
    ]  # fmt: skip
    return {
        "sagas": {
            "refund": {
                "title": "Refund an order",
                "input": {
                    "order_id": {"type": "string", "required": True, "max_length": 64},
                    "customer_id": {"type": "string", "required": True, "max_length": 64},
                    "amount": {"type": "number", "required": True, "minimum": 0},
                    "note": {"type": "string", "max_length": 5000},
                    "ticket_id": {"type": "string", "max_length": 32},
                },
                "steps": [
                    {"name": name, "action": action, "timeout_seconds": 5, "retry": RETRY}
                    | ({"compensation": undo} if undo else {})
                    for name, action, undo in steps
                ],
            }
        }
    }


class Node:
    """One kefu node, killed and restarted in place (same port, same data directory)."""

    def __init__(self, ctx: Context, env: dict[str, str]) -> None:
        self.ctx, self.env, self.port = ctx, env, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.starts = 0
        self.server: Server = self._start()

    def _start(self) -> Server:
        argv = kefu_argv("serve", "--host", "127.0.0.1", "--port", str(self.port))
        env = {**self.env, "KEFU_GRPC_PORT": str(free_port())}
        server = start_server(f"sagas-kefu-{self.starts}", argv, cpus=self.ctx.cpus.server,
                              log_dir=self.ctx.run_dir, env=env, cwd=self.ctx.run_dir)  # fmt: skip
        self.starts += 1
        wait_http_ready(server, f"{self.base}/healthz")
        return server

    def kill_and_restart(self) -> dict[str, Any]:
        t0 = time.monotonic()
        os.killpg(self.server.pid, signal.SIGKILL)
        self.server.proc.wait()
        self.server = self._start()
        return {"restart_s": round(time.monotonic() - t0, 2)}


async def _submit_all(
    base: str, token: str, sagas: list[PlannedSaga], submitted: dict[int, tuple[float, str]],
    deadline: float,
) -> None:  # fmt: skip
    queue: asyncio.Queue[PlannedSaga] = asyncio.Queue()
    for saga in sagas:
        queue.put_nowait(saga)
    headers = {"Authorization": f"Bearer {token}"}
    timeout = aiohttp.ClientTimeout(total=10)

    async def one(http: aiohttp.ClientSession, saga: PlannedSaga) -> None:
        body = {"input": saga.input(), "customer_key": saga.customer_id,
                "idempotency_key": f"bench-{saga.index}"}  # fmt: skip
        first = time.time()
        while time.monotonic() < deadline:
            try:
                async with http.post(f"{base}/api/v1/sagas/refund", json=body) as answer:
                    if answer.status == 202:
                        submitted[saga.index] = (first, (await answer.json())["saga_id"])
                        return
                    if answer.status < 500:
                        raise RuntimeError(f"start refused {answer.status}: {await answer.text()}")
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.2)

    async def worker(http: aiohttp.ClientSession) -> None:
        while not queue.empty():
            await one(http, queue.get_nowait())

    async with aiohttp.ClientSession(headers=headers, timeout=timeout) as http:
        await asyncio.gather(*(worker(http) for _ in range(SUBMITTERS)))


async def _login(base: str, email: str) -> str:
    async with aiohttp.ClientSession() as http:
        body = {"email": email, "password": AGENT_PASSWORD}
        async with http.post(f"{base}/api/v1/auth/login", json=body) as answer:
            answer.raise_for_status()
            return str((await answer.json())["token"])


def terminal(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute(TERMINAL_SQL).fetchone()[0])
    except sqlite3.Error:
        return 0


def _when(value: Any) -> float | None:
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def run_kefu(ctx: Context, sagas: list[PlannedSaga], kills: int) -> dict[str, Any]:
    stall_s, limit_s = limits(len(sagas))
    db = ctx.run_dir / "sagas-kefu.db"
    for path in ctx.run_dir.glob("sagas-kefu.db*"):
        path.unlink()
    with department_systems(
        ctx, "sagas-kefu-sims", customers_for(len(sagas)), WRITE_FAILURE_RATE
    ) as urls:
        config = ctx.run_dir / "sagas-kefu.yaml"
        config.write_text(yaml.safe_dump(saga_config(urls), sort_keys=False))
        env = node_env(ctx, "sagas", store_url=f"sqlite:///{db}")
        env["KEFU_CONFIG"] = str(config)
        env.setdefault("KEFU_LOG_LEVEL", "warning")
        ((email, _),) = add_agents(env, 1, 1, ctx.run_dir)
        node = Node(ctx, env)
        token = asyncio.run(_login(node.base, email))
        submitted: dict[int, tuple[float, str]] = {}
        state: dict[str, Any] = {"submitting": True, "error": ""}
        started = time.monotonic()

        def submit() -> None:
            try:
                asyncio.run(_submit_all(node.base, token, sagas, submitted, started + limit_s))
            except Exception as exc:  # recorded in the result, the run still drains
                state["error"] = f"{type(exc).__name__}: {exc}"
            finally:
                state["submitting"] = False

        first_submit = time.time()
        thread = threading.Thread(target=submit, name="kefu-submitters", daemon=True)
        thread.start()
        timeline = monitor(
            len(sagas), kills, lambda: terminal(db), node.kill_and_restart,
            lambda: bool(state["submitting"]), stall_s, limit_s, started,
        )  # fmt: skip
        thread.join(timeout=30)
        node.server.stop()
        found = records(urls)
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT id, status, finished_at FROM sagas").fetchall()
    status = {r[0]: r[1] for r in rows}
    finished = {r[0]: _when(r[2]) for r in rows if r[2] is not None}
    outcomes: dict[str, str | None] = {}
    latencies: list[float] = []
    for index, (first, saga_id) in submitted.items():
        outcomes[saga_id] = status.get(saga_id)
        end = finished.get(saga_id)
        if end is not None and outcomes[saga_id] in ("completed", "compensated", "failed"):
            latencies.append(end - first)
        del index
    # Never accepted before the run's time limit: not sagas yet, so not stuck; counted apart.
    unsubmitted = sum(1 for saga in sagas if saga.index not in submitted)
    ends = [v for v in finished.values() if v is not None]
    extra = {
        "submit_error": state["error"],
        "accepted": len(submitted),
        "unsubmitted": unsubmitted,
        "node_starts": node.starts,
        "saga_config": saga_config({"orders": "ORDERS", "crm": "CRM", "callcenter": "CALLCENTER"}),
    }
    return result(SUBJECT, outcomes, latencies, first_submit, max(ends) if ends else None,
                  found, timeline, extra)  # fmt: skip
