"""JSON bodies whose text no store can hold (a lone UTF-16 surrogate, invalid or
surrogate-encoding UTF-8) are 400 ``invalid_json`` on every JSON route, never a 500; and
a batch's validation error names the item and the field as the client wrote them."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from kefu.domain.roles import Role
from kefu.store.tables import outbox
from tests.support.kefu import Kefu

BAD_TEXT = [
    pytest.param(b'{"data": {"note": "\\ud800"}}', id="lone-high-surrogate-escape"),
    pytest.param(b'{"data": {"note": "x\\uDC00y"}}', id="lone-low-surrogate-escape"),
    pytest.param(b'{"data": {"note": "\\ude00\\ud83d"}}', id="pair-in-the-wrong-order"),
    pytest.param(b'{"data": {"note": "\xed\xa0\x80"}}', id="utf8-encoded-surrogate"),
    pytest.param(b'{"data": {"note": "\xff\xfe"}}', id="invalid-utf8"),
]


async def events_stored(kefu: Kefu) -> int:
    async with kefu.node.repos.db.engine.connect() as connection:
        counted = await connection.execute(sa.select(sa.func.count()).select_from(outbox))
        return int(counted.one()[0])


async def post_raw(kefu: Kefu, method: str, path: str, token: str, body: bytes) -> tuple[int, Any]:
    async with kefu.http.request(
        method,
        kefu.url(path),
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    ) as resp:
        return resp.status, await resp.json()


@pytest.mark.parametrize("raw", BAD_TEXT)
async def test_an_event_with_text_no_store_holds_is_400_and_not_recorded(
    kefu: Kefu, raw: bytes
) -> None:
    supervisor = await kefu.add_agent("Sue", Role.SUPERVISOR)
    before = await events_stored(kefu)
    event = raw.replace(b'{"data"', b'{"type": "customer.note", "customer_key": "C1", "data"')

    single = await post_raw(kefu, "POST", "/api/v1/events", supervisor["token"], event)
    batch = await post_raw(
        kefu, "POST", "/api/v1/events", supervisor["token"], b'{"events": [%s]}' % event
    )

    for status, body in (single, batch):
        assert status == 400, body
        assert body["error"]["code"] == "invalid_json"
    assert await events_stored(kefu) == before


async def test_emoji_as_a_surrogate_pair_is_accepted(kefu: Kefu) -> None:
    supervisor = await kefu.add_agent("Sue", Role.SUPERVISOR)
    body = b'{"type": "customer.note", "customer_key": "C1", "data": {"note": "\\ud83d\\ude00"}}'

    status, answer = await post_raw(kefu, "POST", "/api/v1/events", supervisor["token"], body)

    assert status == 202, answer


async def test_every_json_route_refuses_bad_text_the_same_way(kefu: Kefu) -> None:
    """Every route whose OpenAPI request body is JSON, whoever calls it."""
    admin = await kefu.add_agent("Ada", Role.ADMIN)
    async with kefu.http.get(kefu.url("/openapi.json")) as resp:
        spec = await resp.json()
    routes = [
        (method.upper(), path.replace("{", "").replace("}", "").replace(":path", ""))
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    ]
    assert len(routes) > 20  # the spec was read

    refused = {}
    for method, path in routes:
        for raw in (b'{"a": "\\ud800"}', b'{"a": "\xed\xa0\x80"}', b'{"a": "\xc3"}'):
            refused[(method, path, raw)] = await post_raw(kefu, method, path, admin["token"], raw)

    wrong = {
        k: v for k, v in refused.items() if v[0] != 400 or v[1]["error"]["code"] != "invalid_json"
    }
    assert wrong == {}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            {"events": [{"type": "a.b"}, {"type": "a.c"}, {"type": 42}]},
            "events[2].type: Input should be a valid string",
            id="batch-item-wrong-type",
        ),
        pytest.param(
            {"events": [{"type": "a.b"}, {"type": "a.c"}, {"data": {}}]},
            "events[2].type: Field required",
            id="batch-item-missing-field",
        ),
        pytest.param(
            {"events": [{"type": "a.b", "data": {"x": 1}}, {"type": "a.b", "data": []}]},
            "events[1].data: Input should be a valid dictionary",
            id="batch-item-data-not-an-object",
        ),
        pytest.param({"type": 42}, "type: Input should be a valid string", id="one-event"),
        pytest.param(
            {"events": "x"}, "events: Input should be a valid list", id="events-not-a-list"
        ),
    ],
)
async def test_a_validation_error_names_the_item_and_field_as_sent(
    kefu: Kefu, body: dict[str, Any], message: str
) -> None:
    supervisor = await kefu.add_agent("Sue", Role.SUPERVISOR)

    status, answer = await kefu.post("/api/v1/events", supervisor["token"], body)

    assert status == 422
    assert answer["error"] == {"code": "validation_error", "message": message}


async def test_a_frame_with_a_lone_surrogate_is_invalid_json_and_the_socket_lives(
    kefu: Kefu,
) -> None:
    visitor = await kefu.visitor(name="Vera")
    socket = await kefu.ws(visitor["token"])

    await socket.ws.send_str('{"type": "message.send", "client_msg_id": "s1", "body": "\\ud800"}')
    error = await socket.expect("error")
    ack = await socket.send_message("still here")

    assert error["code"] == "invalid_json"
    assert ack["message_id"]
    await socket.close()
