"""A customer key with a control character is refused with 400 ``bad_customer_key`` on
every route that takes one (docs/rest.md): the 360 over REST and gRPC, the tickets
filter and body, a conversation's link, an event and a visitor's ``external_id``.
Nothing is stored; plain spaces around a key are still trimmed."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import grpc
import pytest
import sqlalchemy as sa

from kefu.api.grpc.server import start_grpc
from kefu.domain.roles import Role
from kefu.store.tables import outbox, tickets
from kefu.v1 import unified_pb2 as pb
from kefu.v1 import unified_pb2_grpc as pb_grpc
from tests.support.kefu import Kefu

CONTROL_KEYS = [
    pytest.param("C1001\n", id="trailing-line-feed"),
    pytest.param("C1001\r\n", id="trailing-crlf"),
    pytest.param("\x00", id="nul"),
    pytest.param("C1\x00001", id="inner-nul"),
    pytest.param("\t", id="tab"),
    pytest.param("C1001\t", id="trailing-tab"),
    pytest.param("\x1b[31mC1001", id="escape-sequence"),
    pytest.param("C1001\x7f", id="delete"),
    pytest.param("C1001\u0085", id="next-line-c1"),
    pytest.param("C1001\u2028", id="line-separator"),
]


async def stored(kefu: Kefu, table: sa.Table) -> int:
    async with kefu.node.repos.db.engine.connect() as connection:
        counted = await connection.execute(sa.select(sa.func.count()).select_from(table))
        return int(counted.one()[0])


@contextlib.asynccontextmanager
async def grpc_stub(kefu: Kefu) -> AsyncIterator[pb_grpc.CustomerServiceStub]:
    server, port = await start_grpc(kefu.node, "127.0.0.1", 0)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield pb_grpc.CustomerServiceStub(channel)
    finally:
        await server.stop(None)


async def answers_for(kefu: Kefu, key: str) -> dict[str, tuple[int, Any]]:
    """What every route taking a customer key answers for ``key``, by route."""
    supervisor = await kefu.add_agent("Sue", Role.SUPERVISOR)
    token = supervisor["token"]
    visitor = await kefu.visitor(name="Vera")
    socket = await kefu.ws(visitor["token"])
    conversation_id = (await socket.send_message("hello"))["conversation_id"]
    await socket.close()
    answers = {
        "GET 360": await kefu.get(f"/api/v1/customers/{quote(key, safe='')}/360", token),
        "GET tickets?customer_key=": await kefu.get(
            f"/api/v1/tickets?customer_key={quote(key, safe='')}", token
        ),
        "POST tickets": await kefu.post(
            "/api/v1/tickets", token, {"customer_key": key, "subject": "s", "body": "b"}
        ),
        "PUT conversation customer": await kefu.put(
            f"/api/v1/conversations/{conversation_id}/customer", token, {"customer_key": key}
        ),
        "POST events": await kefu.post(
            "/api/v1/events", token, {"type": "customer.upgrade", "customer_key": key}
        ),
        "POST events batch": await kefu.post(
            "/api/v1/events",
            token,
            {"events": [{"type": "a.b"}, {"type": "customer.upgrade", "customer_key": key}]},
        ),
    }
    async with kefu.http.post(kefu.url("/api/v1/visitors"), json={"external_id": key}) as resp:
        answers["POST visitors external_id"] = (resp.status, await resp.json())
    async with grpc_stub(kefu) as stub:
        try:
            await stub.GetUnified(
                pb.CustomerKey(key=key), metadata=(("authorization", f"Bearer {token}"),)
            )
            answers["gRPC GetUnified"] = (0, None)
        except grpc.aio.AioRpcError as exc:
            answers["gRPC GetUnified"] = (exc.code().value[0], exc.details())
    return answers


@pytest.mark.parametrize("key", CONTROL_KEYS)
async def test_a_key_with_a_control_character_is_bad_customer_key_everywhere(
    kefu: Kefu, key: str
) -> None:
    tickets_before, events_before = await stored(kefu, tickets), await stored(kefu, outbox)

    answers = await answers_for(kefu, key)

    grpc_code, grpc_details = answers.pop("gRPC GetUnified")
    for route, (status, body) in answers.items():
        assert status == 400, (route, status, body)
        assert body["error"]["code"] == "bad_customer_key", (route, body)
        assert "control characters" in body["error"]["message"], (route, body)
    assert grpc_code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert grpc_details.startswith("bad_customer_key: ")
    assert await stored(kefu, tickets) == tickets_before
    assert await stored(kefu, outbox) == events_before


async def test_spaces_around_a_key_are_trimmed_and_a_plain_key_is_taken(kefu: Kefu) -> None:
    answers = await answers_for(kefu, "  C1001 ")

    assert answers["POST tickets"][0] == 201
    assert answers["POST tickets"][1]["customer_key"] == "C1001"
    assert answers["PUT conversation customer"][1]["customer_key"] == "C1001"
    assert answers["GET tickets?customer_key="][0] == 200
    assert answers["POST events"][0] == 202
    assert answers["POST visitors external_id"][0] == 201
