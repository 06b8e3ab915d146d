"""Saga actions against real department systems: the simulators over real sockets, MariaDB,
PostgreSQL and SQLite. Each action kind does its write once per idempotency key, and its
failures are sorted into "try again" and "the system said no"."""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from kefu.demo_systems import BEHAVIOUR, serve_app
from kefu.demo_systems.callcenter_notes import notes_of
from kefu.demo_systems.crm import points_balance
from kefu.demo_systems.dataset import Order
from kefu.demo_systems.orders_api import REFUNDABLE, read_order
from kefu.demo_systems.sources import demo_sources
from kefu.observability.logs import keep_urls_out_of_logs
from kefu.sagas.actions.base import ActionCall, ActionFailed, SagaAction
from kefu.sagas.actions.build import build_action
from kefu.unify.settings import SourceSettings
from tests.support.department_systems import DepartmentSystems, department_systems

HANG_GUARD = 30.0


class NoKefu:
    """The kefu side is not used by rest/soap/sql actions; any call is a test failure."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"unexpected kefu call {name}")


def sources_of(systems: DepartmentSystems) -> dict[str, SourceSettings]:
    specs = demo_sources(systems.crm_url, systems.callcenter_url, systems.orders_db)
    specs["orders_api"] = {
        "connector": "rest",
        "enabled": False,
        "connection": {"base_url": systems.orders_url, "headers": {"X-Api-Key": "k"}},
        "map": {"orders": {"id": "order_no"}},
    }
    return {name: SourceSettings.model_validate(spec) for name, spec in specs.items()}


def build(spec: dict[str, Any], sources: Mapping[str, SourceSettings] | None = None) -> SagaAction:
    return build_action(
        spec, where="sagas.t.steps[0].action", sources=dict(sources or {}), kefu=NoKefu()
    )


def call(
    inputs: dict[str, Any],
    *,
    phase: str = "action",
    attempt: int = 1,
    timeout: float = HANG_GUARD,
    saga_id: str = "saga_1",
    step: str = "step",
    customer_key: str = "C1001",
) -> ActionCall:
    context = {
        "input": inputs,
        "customer_key": customer_key,
        "saga": {"id": saga_id, "name": "refund"},
        "step": {"name": step, "phase": phase},
        "steps": {},
    }
    return ActionCall(saga_id, "refund", step, phase, attempt, timeout, context)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def closing(action: SagaAction) -> AsyncIterator[SagaAction]:
    try:
        yield action
    finally:
        await action.close()


@pytest.fixture
async def systems(tmp_path: Path) -> AsyncIterator[DepartmentSystems]:
    async with department_systems(f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}") as s:
        yield s


def refundable(systems: DepartmentSystems, skip: int = 0) -> Order:
    return [o for o in systems.dataset.orders if o.status in REFUNDABLE][skip]


REFUND = {
    "kind": "rest",
    "source": "orders_api",
    "method": "POST",
    "path": "/api/orders/{input.order_id}/refund",
    "body": {"amount": "{input.amount}", "reason": "{input.reason}"},
}
CANCEL = {
    "kind": "rest",
    "source": "orders_api",
    "method": "post",
    "path": "/api/orders/{input.order_id}/refund/cancel",
    "body": {"refund_key": "{step.action_key}"},
}


async def test_rest_refund_applies_once_and_its_compensation_undoes_it(
    systems: DepartmentSystems,
) -> None:
    order = refundable(systems)
    sources = sources_of(systems)
    inputs = {"order_id": order.order_no, "amount": float(order.total), "reason": "破损 'x'"}
    async with closing(build(REFUND, sources)) as refund, closing(build(CANCEL, sources)) as cancel:
        first = await refund.run(call(inputs))
        assert first["status"] == "refunded" and first["previous_status"] == order.status
        again = await refund.run(call(inputs, attempt=2))
        assert again == first
        undone = await cancel.run(call(inputs, phase="compensation"))
        assert undone == {"order_no": order.order_no, "status": order.status, "cancelled": True}
        assert await cancel.run(call(inputs, phase="compensation", attempt=3)) == undone
    applied = systems.orders[BEHAVIOUR].writes.applied
    assert applied == {"saga_1:step:do": 1, "saga_1:step:undo": 1}
    record = await read_order(systems.orders, order.order_no)
    assert record is not None and record["status"] == order.status


async def test_rest_failures_are_sorted(systems: DepartmentSystems) -> None:
    order = refundable(systems)
    sources = sources_of(systems)
    behaviour = systems.orders[BEHAVIOUR]
    inputs = {"order_id": order.order_no, "amount": 1}
    async with closing(build(REFUND, sources)) as refund:
        behaviour.set_write_knobs(fail_next_writes=1)
        with pytest.raises(ActionFailed) as down:
            await refund.run(call(inputs))
        assert down.value.retryable and "HTTP 503" in str(down.value)

        behaviour.set_write_knobs(lose_next_replies=1)
        with pytest.raises(ActionFailed) as lost:
            await refund.run(call(inputs))
        assert lost.value.retryable
        assert (await refund.run(call(inputs, attempt=3)))["status"] == "refunded"
        assert behaviour.writes.applied == {"saga_1:step:do": 1}

        with pytest.raises(ActionFailed) as twice:
            await refund.run(call(inputs, saga_id="saga_2"))
        assert not twice.value.retryable
        assert str(twice.value) == "orders_api: HTTP 409 already_refunded"

        with pytest.raises(ActionFailed) as unknown:
            await refund.run(call({"order_id": "NOPE", "amount": 1}, saga_id="saga_3"))
        assert not unknown.value.retryable and "404" in str(unknown.value)

        with pytest.raises(ActionFailed) as empty:
            await refund.run(call({"amount": 1}, saga_id="saga_4"))
        assert not empty.value.retryable

        other = refundable(systems, 1)
        behaviour.set_write_knobs(hold_next_replies=1)
        with pytest.raises(ActionFailed) as slow:
            await refund.run(
                call({"order_id": other.order_no, "amount": 1}, saga_id="s5", timeout=0.5)
            )
        assert slow.value.retryable and "no answer within 0.5 s" in str(slow.value)
        behaviour.release_replies()
        resumed = await refund.run(call({"order_id": other.order_no, "amount": 1}, saga_id="s5"))
        assert resumed["status"] == "refunded"
        assert behaviour.writes.applied["s5:step:do"] == 1


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(408, True), (429, True), (400, False), (422, False), (500, True), (302, False)],
)
async def test_http_statuses(status: int, retryable: bool) -> None:
    seen: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Idempotency-Key", ""))
        return web.json_response({"error": "nope", "message": "secret 13800001001"}, status=status)

    app = web.Application()
    app.router.add_route("*", "/x/{id}", answer)
    async with serve_app(app) as url:
        spec = {
            "kind": "rest",
            "connection": {"base_url": url},
            "method": "PUT",
            "path": "/x/{input.id}",
        }
        async with closing(build(spec)) as action:
            with pytest.raises(ActionFailed) as failed:
                await action.run(call({"id": "1"}))
    assert failed.value.retryable is retryable
    assert "13800001001" not in str(failed.value)
    assert seen == ["saga_1:step:do"]


async def test_a_refused_connection_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    spec = {"kind": "rest", "connection": {"base_url": f"http://127.0.0.1:{port}"}, "path": "/x"}
    async with closing(build(spec)) as action:
        with pytest.raises(ActionFailed) as failed:
            await action.run(call({}))
    assert failed.value.retryable and "cannot reach" in str(failed.value)


async def test_rest_through_a_360_source_takes_points_back_once(systems: DepartmentSystems) -> None:
    sources = sources_of(systems)
    start = points_balance(systems.crm, "C1001")
    assert start is not None
    take = {
        "kind": "rest",
        "source": "crm",
        "path": "/api/customers/{customer_key}/points/take-back",
        "body": {"amount": "{input.amount}"},
        "result": {"taken": "points_taken"},
    }
    give = {
        "kind": "rest",
        "source": "crm",
        "path": "/api/customers/{customer_key}/points/give-back",
        "body": {"take_back_key": "{step.action_key}"},
    }
    async with closing(build(take, sources)) as taking, closing(build(give, sources)) as giving:
        assert await taking.run(call({"amount": 5})) == {"taken": min(5, start)}
        assert await taking.run(call({"amount": 5}, attempt=2)) == {"taken": min(5, start)}
        assert points_balance(systems.crm, "C1001") == start - min(5, start)
        back = await giving.run(call({}, phase="compensation"))
        assert back["points_returned"] == min(5, start)
    assert points_balance(systems.crm, "C1001") == start
    assert systems.crm[BEHAVIOUR].writes.applied == {"saga_1:step:do": 1, "saga_1:step:undo": 1}


ADD_NOTE = {
    "kind": "soap",
    "source": "callcenter",
    "path": "/soap/Notes",
    "soap_action": "urn:kefu-demo:callcenter#AddNote",
    "envelope": (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        '<AddNote xmlns="urn:kefu-demo:callcenter"><CustomerRef>{customer_key}</CustomerRef>'
        "<Text>Refunded order {input.order_id}: {input.reason}</Text>"
        "<IdempotencyKey>{idempotency_key}</IdempotencyKey></AddNote>"
        "</soap:Body></soap:Envelope>"
    ),
    "result": {"note_id": "NoteId"},
}
REMOVE_NOTE = {
    "kind": "soap",
    "source": "callcenter",
    "path": "/soap/Notes",
    "soap_action": "urn:kefu-demo:callcenter#RemoveNote",
    "envelope": (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        '<RemoveNote xmlns="urn:kefu-demo:callcenter"><AddNoteKey>{step.action_key}</AddNoteKey>'
        "<IdempotencyKey>{idempotency_key}</IdempotencyKey></RemoveNote>"
        "</soap:Body></soap:Envelope>"
    ),
}


async def test_soap_note_is_filed_once_escaped_and_removed(systems: DepartmentSystems) -> None:
    sources = sources_of(systems)
    reason = "</Text><Evil/>'; DROP TABLE notes; -- 商品损坏 & <b>"
    inputs = {"order_id": "100231", "reason": reason}
    async with (
        closing(build(ADD_NOTE, sources)) as add,
        closing(build(REMOVE_NOTE, sources)) as remove,
    ):
        first = await add.run(call(inputs))
        assert first["note_id"].startswith("N-")
        assert await add.run(call(inputs, attempt=2)) == first
        notes = notes_of(systems.callcenter, "C1001")
        assert [n.text for n in notes] == [f"Refunded order 100231: {reason}"]
        removed = await remove.run(call(inputs, phase="compensation"))
        assert removed == {"Removed": "true"}
        with pytest.raises(ActionFailed) as client:
            await add.run(call(inputs, customer_key="", saga_id="saga_2"))
        assert not client.value.retryable and "SOAP fault Client" in str(client.value)
        systems.callcenter[BEHAVIOUR].set_write_knobs(fail_next_writes=1)
        with pytest.raises(ActionFailed) as server:
            await add.run(call(inputs, saga_id="saga_3"))
        assert server.value.retryable and "SOAP fault Server" in str(server.value)
    assert notes_of(systems.callcenter, "C1001") == []
    assert systems.callcenter[BEHAVIOUR].writes.applied == {
        "saga_1:step:do": 1,
        "saga_1:step:undo": 1,
    }


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"kind": "ftp"}, "kind: must be one of"),
        ({"kind": "rest", "source": "crm", "system": "a\nb"}, "system: "),
        ({"kind": "rest", "source": "nope", "path": "/"}, "source: no source named 'nope'"),
        ({"kind": "sql", "source": "crm", "statement": "SELECT 1"}, "source: crm is a rest source"),
        ({"kind": "rest", "source": "crm", "connection": {}}, "source: give source or connection"),
        ({"kind": "rest", "source": "crm", "path": "/a/{input}"}, "path: "),
        ({"kind": "rest", "source": "crm", "pth": "/a"}, "pth: "),
        ({"kind": "rest", "source": "crm", "body": {"a": "{nope.x}"}}, "body: "),
        ({"kind": "rest", "connection": {"base_url": "ftp://x"}}, "connection.base_url: "),
        (
            {"kind": "soap", "source": "callcenter", "path": "/s", "envelope": "<a>{input.x}"},
            "envelope: ",
        ),
        ({"kind": "sql", "source": "orders", "statement": "UPDATE t SET a = :a"}, "params: "),
        (
            {"kind": "sql", "source": "orders", "statement": "DELETE FROM t; DROP TABLE t"},
            "statement: ",
        ),
        ({"kind": "sql", "source": "orders"}, "statement or statements"),
        ({"kind": "kefu", "op": "notify", "message": "x"}, "role or agent_id"),
        ({"kind": "kefu", "op": "emit", "type": "Bad Type"}, "type: "),
        (
            {"kind": "kefu", "op": "notify", "role": "agent", "message": "x", "source": "crm"},
            "source: ",
        ),
    ],
)
async def test_bad_specs_name_the_key(
    systems: DepartmentSystems, spec: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValueError) as refused:
        build(spec, sources_of(systems))
    assert problem in str(refused.value)
    assert "\n" not in str(refused.value)


SOAP12_FAULT = (
    '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><env:Fault>'
    "<env:Code><env:Value>env:{code}</env:Value></env:Code>"
    '<env:Reason><env:Text xml:lang="en">customer 13800001001 unknown</env:Text></env:Reason>'
    "</env:Fault></env:Body></env:Envelope>"
)


@pytest.mark.parametrize(("code", "retryable"), [("Sender", False), ("Receiver", True)])
async def test_soap_12_faults_and_headers(code: str, retryable: bool) -> None:
    seen: list[tuple[str, str]] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append((request.headers["Content-Type"], request.headers["Idempotency-Key"]))
        body = SOAP12_FAULT.replace("{code}", code)
        return web.Response(status=500, text=body, content_type="application/soap+xml")

    app = web.Application()
    app.router.add_post("/svc", answer)
    async with serve_app(app) as url:
        spec = {
            "kind": "soap",
            "connection": {"base_url": url},
            "path": "/svc",
            "soap_version": "1.2",
            "soap_action": "urn:x#Do",
            "envelope": "<Envelope><Body><Do>{input.v}</Do></Body></Envelope>",
        }
        async with closing(build(spec)) as action:
            with pytest.raises(ActionFailed) as failed:
                await action.run(call({"v": "1"}))
    assert failed.value.retryable is retryable
    assert str(failed.value).endswith(f"SOAP fault {code}")
    assert "13800001001" not in str(failed.value)
    assert seen == [('application/soap+xml; charset=utf-8; action="urn:x#Do"', "saga_1:step:do")]


async def test_soap_answers_its_response_fields_by_default() -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(
            text=(
                '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
                '<DoResponse xmlns="urn:x"><Id kind="a">7</Id><Tag>x</Tag><Tag>y</Tag></DoResponse>'
                "</s:Body></s:Envelope>"
            ),
            content_type="text/xml",
        )

    app = web.Application()
    app.router.add_post("/svc", answer)
    async with serve_app(app) as url:
        spec = {
            "kind": "soap",
            "connection": {"base_url": url},
            "path": "/svc",
            "envelope": "<Envelope><Body><Do>{input.v}</Do></Body></Envelope>",
        }
        async with closing(build(spec)) as action:
            assert await action.run(call({"v": "1"})) == {"Id": "7", "Tag": ["x", "y"]}


async def test_rest_methods_queries_and_bodies_that_are_not_objects() -> None:
    seen: list[tuple[str, str, str]] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append((request.method, request.path_qs, request.headers.get("X-Saga", "")))
        kind = request.match_info["kind"]
        if kind == "empty":
            return web.Response(status=204)
        if kind == "text":
            return web.Response(text="ok")
        return web.json_response([{"a": 1}])

    app = web.Application()
    app.router.add_route("*", "/r/{kind}", answer)
    async with serve_app(app) as url:
        results = []
        for kind, method in (("empty", "DELETE"), ("text", "PATCH"), ("list", "GET")):
            spec = {
                "kind": "rest",
                "connection": {"base_url": url},
                "method": method,
                "path": f"/r/{kind}",
                "query": {"q": "{input.q}"},
                "headers": {"X-Saga": "{saga.id}"},
            }
            async with closing(build(spec)) as action:
                results.append(await action.run(call({"q": "a&b=c 退"})))
    assert results == [{}, {}, {"items": [{"a": 1}]}]
    assert [s[0] for s in seen] == ["DELETE", "PATCH", "GET"]
    assert all(qs.endswith("?q=a%26b%3Dc+%E9%80%80") for _, qs, _ in seen), seen
    assert {s[2] for s in seen} == {"saga_1"}


async def test_actions_log_no_customer_data_above_debug(
    systems: DepartmentSystems, caplog: pytest.LogCaptureFixture
) -> None:
    sources = sources_of(systems)
    order = refundable(systems)
    secret_reason = "call me at 13912345678 or jane@example.com"
    keep_urls_out_of_logs()  # as every node does at start
    caplog.set_level(logging.INFO)
    async with closing(build(REFUND, sources)) as refund, closing(build(ADD_NOTE, sources)) as add:
        inputs = {"order_id": order.order_no, "amount": 1, "reason": secret_reason}
        await refund.run(call(inputs))
        with pytest.raises(ActionFailed):
            await refund.run(call(inputs, saga_id="saga_2"))
        await add.run(call(inputs))
        with pytest.raises(ActionFailed):
            await add.run(call(inputs, customer_key="", saga_id="saga_3"))
    loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert loud, "expected the HTTP status lines at INFO"
    for message in loud:
        for value in (order.order_no, "13912345678", "jane@example.com", "C1001", "saga_1:"):
            assert value not in message, message
