"""Erasure on request and retention by age, on both stores, over real sockets and files:
what goes is gone from the store and the disk, what must stay (another visitor's data,
a file another upload shares, the company's tickets) stays, and the audit log keeps
counts, not the data."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from kefu.config import Settings
from kefu.domain.roles import Role
from kefu.store.tables import (
    attachments,
    audit_log,
    conversations,
    messages,
    offline_messages,
    tickets,
    visitors,
)
from tests.support.kefu import Kefu, Socket

PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(privacy={"retention_days": 30, "retention_check_seconds": 0.2})


async def rows(kefu: Kefu, query: Any) -> list[Any]:
    async with kefu.node.repos.db.connect() as conn:
        return list((await conn.execute(query)).all())


async def upload(kefu: Kefu, token: str, data: bytes) -> str:
    async with kefu.http.post(
        kefu.url("/api/v1/attachments?name=photo.png"),
        data=data,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "image/png"},
    ) as resp:
        assert resp.status == 201, await resp.text()
        return str((await resp.json())["id"])


async def chat_with_a_photo(
    kefu: Kefu, agent_ws: Socket, name: str, email: str
) -> tuple[dict[str, Any], Socket, str]:
    visitor = await kefu.visitor(name=name, email=email)
    socket = await kefu.ws(visitor["token"])
    photo = await upload(kefu, visitor["token"], PNG)
    await socket.send(
        {
            "type": "message.send",
            "client_msg_id": "m-1",
            "body": f"{name}'s broken parcel",
            "attachment_ids": [photo],
        }
    )
    ack = await socket.expect("message.ack", client_msg_id="m-1")
    await agent_ws.expect("conversation.assigned", conversation_id=ack["conversation_id"])
    return visitor, socket, str(ack["conversation_id"])


def blob(kefu: Kefu) -> Any:
    digest = hashlib.sha256(PNG).hexdigest()
    return kefu.node.settings.data_dir / "attachments" / digest[:2] / digest


async def erase(kefu: Kefu, token: str, body: Any) -> tuple[int, Any]:
    return await kefu.post("/api/v1/privacy/erasures", token, body)


async def test_a_visitor_is_erased_and_nobody_else(kefu: Kefu) -> None:
    root = await kefu.add_agent("Root", Role.ADMIN)
    ann = await kefu.add_agent("Ann")
    ann_ws = await kefu.ws(ann["token"])
    vera, vera_ws, gone_id = await chat_with_a_photo(kefu, ann_ws, "Vera", "Vera@Example.com")
    olga, olga_ws, kept_id = await chat_with_a_photo(kefu, ann_ws, "Olga", "olga@example.com")
    status, ticket = await kefu.post(f"/api/v1/conversations/{gone_id}/ticket", ann["token"])
    assert status in (200, 201), ticket
    assert blob(kefu).exists()

    status, report = await erase(kefu, root["token"], {"email": "vera@example.COM"})
    assert status == 200, report
    assert report["visitor_ids"] == [vera["visitor_id"]]
    assert report["visitors"] == 1 and report["conversations"] == 1
    assert report["messages"] >= 2 and report["attachments"] == 1
    assert report["tickets_unlinked"] == 1
    assert report["files"] == 0  # Olga's photo has the same content: the file stays
    # The agent saw the chat end; the visitor's socket was closed as revoked.
    await ann_ws.expect("conversation.closed", conversation_id=gone_id)
    error = await vera_ws.expect("error")
    assert error["code"] == "token_revoked"
    while True:
        closing = await vera_ws.ws.receive(timeout=5)
        if closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            break
    assert closing.type is aiohttp.WSMsgType.CLOSED or closing.data == 4401
    status, body = await kefu.get(f"/api/v1/conversations/{gone_id}", vera["token"])
    assert status == 401, body

    assert not await rows(kefu, sa.select(visitors).where(visitors.c.id == vera["visitor_id"]))
    assert not await rows(kefu, sa.select(conversations).where(conversations.c.id == gone_id))
    assert not await rows(kefu, sa.select(messages).where(messages.c.conversation_id == gone_id))
    assert not await rows(
        kefu,
        sa.select(attachments).where(attachments.c.uploader == f"visitor:{vera['visitor_id']}"),
    )
    (kept_ticket,) = await rows(kefu, sa.select(tickets).where(tickets.c.id == int(ticket["id"])))
    assert kept_ticket.conversation_id is None and "Vera's broken parcel" in kept_ticket.body
    # Olga is untouched, photo and all.
    status, page = await kefu.get(f"/api/v1/conversations/{kept_id}/messages", olga["token"])
    assert status == 200 and page["items"][0]["body"] == "Olga's broken parcel"
    assert blob(kefu).exists()
    (entry,) = await rows(kefu, sa.select(audit_log).where(audit_log.c.action == "privacy.erasure"))
    assert entry.detail["visitor_ids"] == [vera["visitor_id"]]
    assert "vera" not in str(entry.detail).lower()

    # Olga next, by id: the last reference goes, so does the file. Again: nothing left.
    status, report = await erase(kefu, root["token"], {"visitor_id": olga["visitor_id"]})
    assert status == 200 and report["files"] == 1 and report["conversations"] == 1
    assert not blob(kefu).exists()
    status, report = await erase(kefu, root["token"], {"visitor_id": olga["visitor_id"]})
    assert status == 200 and report["visitor_ids"] == [] and report["messages"] == 0
    for socket in (ann_ws, olga_ws):
        await socket.close()


async def test_bad_erasure_requests_change_nothing(kefu: Kefu) -> None:
    root = await kefu.add_agent("Root", Role.ADMIN)
    boss = await kefu.add_agent("Sue", Role.SUPERVISOR)
    vera = await kefu.visitor(name="Vera", email="vera@example.com")
    for bad in (
        {},
        {"email": "vera@example.com", "visitor_id": vera["visitor_id"]},
        {"email": ""},
        {"email": "vera@example.com", "everything": True},
        {"visitor_id": "x" * 400},
        [],
    ):
        status, body = await erase(kefu, root["token"], bad)
        assert status in (400, 422) and "error" in body, bad
    status, body = await erase(kefu, boss["token"], {"visitor_id": vera["visitor_id"]})
    assert status == 403 and body["error"]["code"] == "insufficient_role"
    status, body = await erase(kefu, vera["token"], {"visitor_id": vera["visitor_id"]})
    assert status in (401, 403)
    assert await rows(kefu, sa.select(visitors).where(visitors.c.id == vera["visitor_id"]))


async def test_retention_deletes_what_ended_long_ago(kefu: Kefu) -> None:
    ann = await kefu.add_agent("Ann")
    ann_ws = await kefu.ws(ann["token"])
    old, old_ws, old_id = await chat_with_a_photo(kefu, ann_ws, "Old", "old@example.com")
    _, recent_ws, recent_id = await chat_with_a_photo(kefu, ann_ws, "New", "new@example.com")
    live = await kefu.visitor(name="Live")
    live_ws = await kefu.ws(live["token"])
    live_id = (await live_ws.send_message("still talking"))["conversation_id"]
    for conversation_id in (old_id, recent_id):
        status, _ = await kefu.post(f"/api/v1/conversations/{conversation_id}/close", ann["token"])
        assert status == 200
    status, _ = await kefu.post(
        "/api/v1/offline-messages",
        old["token"],
        {"name": "Old", "email": "old@example.com", "body": "call me"},
    )
    assert status in (200, 201)
    # Backdate: Old's chat ended 40 days ago, the recent one 10 days ago.
    now = kefu.node.clock.now()
    async with kefu.node.repos.db.begin() as conn:
        for conversation_id, days in ((old_id, 40), (recent_id, 10)):
            await conn.execute(
                conversations.update()
                .where(conversations.c.id == conversation_id)
                .values(closed_at=now - timedelta(days=days))
            )
        await conn.execute(
            visitors.update()
            .where(visitors.c.id == old["visitor_id"])
            .values(created_at=now - timedelta(days=41))
        )
        await conn.execute(
            offline_messages.update()
            .where(offline_messages.c.visitor_id == old["visitor_id"])
            .values(created_at=now - timedelta(days=40))
        )

    async def old_gone() -> bool:
        return not await rows(kefu, sa.select(visitors).where(visitors.c.id == old["visitor_id"]))

    deadline = asyncio.get_running_loop().time() + 15
    while not await old_gone():  # the node's own retention task, every 0.2 s here
        assert asyncio.get_running_loop().time() < deadline, "retention did not run"
        await asyncio.sleep(0.1)
    assert not await rows(kefu, sa.select(conversations).where(conversations.c.id == old_id))
    assert not await rows(kefu, sa.select(messages).where(messages.c.conversation_id == old_id))
    for kept in (recent_id, live_id):
        assert await rows(kefu, sa.select(conversations).where(conversations.c.id == kept))
        assert await rows(kefu, sa.select(messages).where(messages.c.conversation_id == kept))
    assert blob(kefu).exists()  # the recent chat's photo shares the content
    entries = await rows(
        kefu, sa.select(audit_log).where(audit_log.c.action == "privacy.retention")
    )
    assert sum(entry.detail["conversations"] for entry in entries) == 1
    assert sum(entry.detail["offline_messages"] for entry in entries) == 1
    for socket in (ann_ws, old_ws, recent_ws, live_ws):
        await socket.close()
