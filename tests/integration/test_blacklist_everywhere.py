"""The IP blacklist holds for every request a visitor token makes, not only for new ones.

A visitor created before its address was blocked keeps a valid token: each REST route that
accepts a visitor token, the attachment download and the WebSocket (at open and on every
frame of a socket already open) must refuse it with 403 / close 4403 and change nothing.
Agents are never blocked by address. On SQLite and PostgreSQL, over HTTP as a client.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from aiohttp import WSMsgType

from kefu.domain.roles import Role
from kefu.store.tables import attachments, conversations, messages, offline_messages
from tests.support.kefu import Kefu

CLOSE_FORBIDDEN = 4403
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def counts(kefu: Kefu) -> dict[str, int]:
    """Rows of everything a visitor's request could add, to show that nothing changed."""
    found: dict[str, int] = {}
    async with kefu.node.repos.db.connect() as conn:
        for table in (attachments, conversations, messages, offline_messages):
            query = sa.select(sa.func.count()).select_from(table)
            found[table.name] = int((await conn.execute(query)).scalar_one())
    return found


async def upload(kefu: Kefu, token: str) -> tuple[int, Any]:
    async with kefu.http.post(
        kefu.url("/api/v1/attachments?name=photo.png"),
        data=PNG,
        headers={"Authorization": f"Bearer {token}"},
    ) as resp:
        return resp.status, await resp.json()


async def download(kefu: Kefu, attachment_id: str, token: str) -> tuple[int, Any]:
    async with kefu.http.get(
        kefu.url(f"/api/v1/attachments/{attachment_id}"),
        headers={"Authorization": f"Bearer {token}"},
    ) as resp:
        body = await resp.json() if resp.content_type == "application/json" else None
        return resp.status, body


async def block_localhost(kefu: Kefu, supervisor: dict[str, Any]) -> None:
    status, body = await kefu.post(
        "/api/v1/blacklist", supervisor["token"], json={"network": "127.0.0.0/8"}
    )
    assert status == 201, body


def assert_blocked(status: int, body: Any) -> None:
    assert status == 403, body
    assert body["error"]["code"] == "blocked", body
    assert body["error"]["message"]


async def test_a_blocked_visitors_older_token_is_refused_by_every_visitor_route(
    kefu: Kefu,
) -> None:
    supervisor = await kefu.add_agent("Sam", Role.SUPERVISOR)
    visitor = await kefu.visitor(name="Vera")
    token = visitor["token"]
    status, sent = await upload(kefu, token)
    assert status == 201, sent
    ws = await kefu.ws(token)
    ack = await ws.send_message("hello", conversation_id=None)
    conversation_id = ack["conversation_id"]
    await ws.close()
    status, body = await kefu.post(
        f"/api/v1/conversations/{conversation_id}/close", supervisor["token"]
    )
    assert status == 200, body
    await block_localhost(kefu, supervisor)
    before = await counts(kefu)

    assert_blocked(*await kefu.get(f"/api/v1/conversations/{conversation_id}", token))
    assert_blocked(*await kefu.get(f"/api/v1/conversations/{conversation_id}/messages", token))
    assert_blocked(
        *await kefu.post(
            "/api/v1/offline-messages",
            token,
            json={"email": "vera@example.test", "body": "call me back"},
        )
    )
    assert_blocked(
        *await kefu.post(f"/api/v1/conversations/{conversation_id}/rating", token, {"score": 1})
    )
    assert_blocked(*await upload(kefu, token))
    assert_blocked(*await download(kefu, sent["id"], token))
    assert_blocked(*await kefu.get(f"/api/v1/attachments/{sent['id']}/link", token))

    assert await counts(kefu) == before
    record = await kefu.node.repos.conversations.get(conversation_id)
    assert record is not None and record.rating is None
    # Agents are never blocked by address: the supervisor still reads it.
    status, _ = await kefu.get(f"/api/v1/conversations/{conversation_id}", supervisor["token"])
    assert status == 200


async def test_an_open_visitor_socket_is_closed_at_its_next_frame_once_blocked(
    kefu: Kefu,
) -> None:
    supervisor = await kefu.add_agent("Sam", Role.SUPERVISOR)
    visitor = await kefu.visitor(name="Vera")
    ws = await kefu.ws(visitor["token"])
    await ws.send({"type": "ping"})
    await ws.expect("pong")
    await block_localhost(kefu, supervisor)
    before = await counts(kefu)

    await ws.send({"type": "message.send", "client_msg_id": "m1", "body": "still here?"})
    error = await ws.expect("error")
    closing = await ws.ws.receive(timeout=5)

    assert error["code"] == "blocked"
    assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
    assert ws.ws.close_code == CLOSE_FORBIDDEN
    assert await counts(kefu) == before
    await ws.close()
