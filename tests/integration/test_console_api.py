"""What the agent console relies on beyond the core chat: live list frames, watching,
unread counts and visitor summaries in the list, paging backwards, claiming from the
queue, and the welcome/offline texts stored in the database. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kefu.chat import server_frames
from kefu.config import Settings
from kefu.domain.roles import Role
from tests.support.kefu import Kefu, Socket


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(chat={"agent_capacity": 1})


def _checked(frame: dict[str, Any]) -> dict[str, Any]:
    assert set(frame) <= server_frames.SERVER_FRAME_FIELDS[frame["type"]], frame
    return frame


async def _nothing(socket: Socket, frame_type: str, **match: Any) -> None:
    """No such frame arrives (a ping/pong round trip bounds the wait)."""
    await socket.send({"type": "ping"})
    await socket.expect("pong")
    assert not [
        f
        for f in socket.backlog
        if f.get("type") == frame_type and all(f.get(k) == v for k, v in match.items())
    ]


async def test_supervisors_and_idle_agents_see_new_and_changed_conversations(kefu: Kefu) -> None:
    boss = await kefu.add_agent("Boss", Role.SUPERVISOR)
    boss_ws = await kefu.ws(boss["token"])
    filler_ws = await kefu.ws((await kefu.visitor())["token"])
    await filler_ws.send_message("the boss takes this one")  # now the boss is full
    await boss_ws.expect("conversation.opened")
    ann = await kefu.add_agent("Ann")
    ann_ws = await kefu.ws(ann["token"])

    # Ann has room: the first conversation goes to her, announced to her and the boss.
    vera = await kefu.visitor(name="Vera", email="vera@example.com")
    vera_ws = await kefu.ws(vera["token"])
    first = (await vera_ws.send_message("hello <b>there</b>"))["conversation_id"]
    opened = _checked(await boss_ws.expect("conversation.opened"))
    item = opened["conversation"]
    assert item["id"] == first
    assert item["status"] == "assigned" and item["assignee_id"] == ann["id"]
    assert item["visitor"] == {"name": "Vera", "email": "vera@example.com"}
    # The bot's welcome is stored right behind the first message, but the list shows the
    # visitor's words (issue 15 item 12).
    assert item["last_message"]["body"] == "hello <b>there</b>"
    assert item["unread"] == 1  # the visitor's message; bot messages are not unread
    await ann_ws.expect("conversation.opened", timeout=5)

    # A later message of an assigned conversation: the boss hears of it, Ann has message.new.
    await vera_ws.send_message("second")
    updated = _checked(await boss_ws.expect("conversation.updated", conversation_id=first))
    while "last_message" not in updated or updated["last_message"]["body"] != "second":
        updated = await boss_ws.expect("conversation.updated", conversation_id=first)
    await ann_ws.send({"type": "ping"})
    await ann_ws.expect("pong")
    assert not [f for f in ann_ws.backlog if "last_message" in f]  # she got message.new

    # Ann is full (capacity 1): the next one waits, and every online agent is told.
    walt_ws = await kefu.ws((await kefu.visitor(name="Walt"))["token"])
    second = (await walt_ws.send_message("queue me"))["conversation_id"]
    waiting = await ann_ws.expect("conversation.opened", timeout=5)
    assert waiting["conversation"]["id"] == second
    assert waiting["conversation"]["status"] == "waiting"
    await boss_ws.expect("conversation.opened")

    # Closing Ann's first frees her: the waiting one is assigned, everyone hears.
    status, _ = await kefu.post(f"/api/v1/conversations/{first}/close", ann["token"])
    assert status == 200
    closed = await boss_ws.expect("conversation.updated", conversation_id=first, status="closed")
    assert closed["assignee_id"] == ann["id"]
    taken = await ann_ws.expect("conversation.updated", conversation_id=second, status="assigned")
    assert taken["assignee_id"] == ann["id"]
    for socket in (boss_ws, ann_ws, vera_ws, walt_ws, filler_ws):
        await socket.close()


async def test_supervisors_watch_a_conversation_they_do_not_own(kefu: Kefu) -> None:
    boss = await kefu.add_agent("Boss", Role.SUPERVISOR)
    ann = await kefu.add_agent("Ann")
    bob = await kefu.add_agent("Bob")
    ann_ws = await kefu.ws(ann["token"])
    vera_ws = await kefu.ws((await kefu.visitor())["token"])
    conversation_id = (await vera_ws.send_message("hi"))["conversation_id"]
    await ann_ws.expect("conversation.assigned")

    bob_ws = await kefu.ws(bob["token"])
    await bob_ws.send({"type": "watch", "conversation_id": conversation_id})
    refused = await bob_ws.expect("error")
    assert refused["code"] == "not_your_conversation"

    boss_ws = await kefu.ws(boss["token"])
    await boss_ws.send({"type": "watch", "conversation_id": conversation_id})
    await boss_ws.send({"type": "ping"})
    await boss_ws.expect("pong")
    sent = await vera_ws.send_message("watched?")
    seen = await boss_ws.expect("message.new")
    while seen["message"]["id"] != sent["message_id"]:
        seen = await boss_ws.expect("message.new")
    await vera_ws.send({"type": "typing", "conversation_id": conversation_id})
    await boss_ws.expect("typing", conversation_id=conversation_id)
    # The assignee watching its own conversation is allowed (and changes nothing).
    await ann_ws.send({"type": "watch", "conversation_id": conversation_id})
    await _nothing(ann_ws, "error")

    await boss_ws.send({"type": "unwatch", "conversation_id": conversation_id})
    await boss_ws.send({"type": "ping"})
    await boss_ws.expect("pong")
    boss_ws.backlog.clear()
    unwatched = await vera_ws.send_message("not watched")
    # Barrier: the assignee hears it; a watcher would have been sent it in the same fan-out,
    # and boss's pong (in _nothing) comes after anything already queued for boss.
    heard = await ann_ws.expect("message.new")
    while heard["message"]["id"] != unwatched["message_id"]:
        heard = await ann_ws.expect("message.new")
    await _nothing(boss_ws, "message.new")
    for socket in (boss_ws, ann_ws, bob_ws, vera_ws):
        await socket.close()


async def test_the_list_carries_unread_counts_visitor_and_last_message(kefu: Kefu) -> None:
    ann = await kefu.add_agent("Ann", capacity=10)
    ann_ws = await kefu.ws(ann["token"])
    ids = []
    for n in range(3):
        socket = await kefu.ws((await kefu.visitor(name=f"V{n}"))["token"])
        for text in ("one", "two", "three")[: n + 1]:
            ack = await socket.send_message(text)
        ids.append(ack["conversation_id"])
        await socket.close()
    status, page = await kefu.get("/api/v1/conversations?status=open&assignee=me", ann["token"])
    assert status == 200
    by_id = {item["id"]: item for item in page["items"]}
    assert [by_id[i]["unread"] for i in ids] == [1, 2, 3]
    assert [by_id[i]["visitor"]["name"] for i in ids] == ["V0", "V1", "V2"]
    # The last message can be the bot's welcome, which follows the first visitor message.
    assert by_id[ids[2]]["last_message"]["body"] == "three"

    last = by_id[ids[2]]["last_message"]["id"]
    await ann_ws.send({"type": "read", "conversation_id": ids[2], "message_id": last})
    await ann_ws.send({"type": "ping"})
    await ann_ws.expect("pong")
    status, one = await kefu.get(f"/api/v1/conversations/{ids[2]}", ann["token"])
    assert status == 200 and one["unread"] == 0 and one["visitor"]["name"] == "V2"
    await ann_ws.close()


async def test_history_pages_backwards_from_the_latest(kefu: Kefu) -> None:
    ann = await kefu.add_agent("Ann")
    ann_ws = await kefu.ws(ann["token"])
    vera_ws = await kefu.ws((await kefu.visitor())["token"])
    conversation_id = (await vera_ws.send_message("m0"))["conversation_id"]
    for n in range(1, 6):
        await vera_ws.send_message(f"m{n}")
    path = f"/api/v1/conversations/{conversation_id}/messages"
    status, page = await kefu.get(f"{path}?before=&limit=3", ann["token"])
    assert status == 200
    assert [m["body"] for m in page["items"]] == ["m3", "m4", "m5"]
    status, older = await kefu.get(f"{path}?before={page['items'][0]['id']}&limit=3", ann["token"])
    assert status == 200
    # The bot's welcome follows m0, so the page before m3 ends with m2 and reaches back.
    bodies = [m["body"] for m in older["items"]]
    assert len(bodies) == 3 and bodies[-1] == "m2"
    status, bad = await kefu.get(f"{path}?before=nope", ann["token"])
    assert status == 400 and bad["error"]["code"] == "invalid_message_id"
    await ann_ws.close()
    await vera_ws.close()


async def test_any_agent_sees_and_claims_the_queue(kefu: Kefu) -> None:
    ann = await kefu.add_agent("Ann")
    ann_ws = await kefu.ws(ann["token"])
    first_ws = await kefu.ws((await kefu.visitor())["token"])
    await first_ws.send_message("first")  # Ann's one slot
    waiting_ws = await kefu.ws((await kefu.visitor(name="Wanda"))["token"])
    waiting = (await waiting_ws.send_message("waiting"))["conversation_id"]

    bob = await kefu.add_agent("Bob", capacity=1)
    status, page = await kefu.get("/api/v1/conversations?status=waiting", bob["token"])
    # Bob is offline (no socket), so it is still waiting; a plain agent may list the queue.
    assert status == 200
    assert [item["id"] for item in page["items"]] == [waiting]
    status, history = await kefu.get(f"/api/v1/conversations/{waiting}/messages", bob["token"])
    assert status == 200 and history["items"][0]["body"] == "waiting"

    status, claimed = await kefu.post(f"/api/v1/conversations/{waiting}/claim", bob["token"])
    assert status == 200, claimed
    assert claimed["assignee_id"] == bob["id"] and claimed["status"] == "assigned"
    status, again = await kefu.post(f"/api/v1/conversations/{waiting}/claim", ann["token"])
    assert status == 409 and again["error"]["code"] == "not_waiting"
    await waiting_ws.expect("conversation.assigned", agent_id=bob["id"])
    for socket in (ann_ws, first_ws, waiting_ws):
        await socket.close()


async def test_admins_set_the_welcome_text_and_the_bot_uses_it(kefu: Kefu) -> None:
    admin = await kefu.add_agent("Root", Role.ADMIN)
    ann = await kefu.add_agent("Ann")
    url = kefu.url("/api/v1/settings/chat")
    status, texts = await kefu.get("/api/v1/settings/chat", ann["token"])
    assert status == 200 and texts["welcome_message"].startswith("Hi!")

    body = {"welcome_message": "Welcome to <Acme>!"}
    async with kefu.http.put(url, json=body, headers=_auth(ann["token"])) as resp:
        assert resp.status == 403
    async with kefu.http.put(url, json=body, headers=_auth(admin["token"])) as resp:
        assert resp.status == 200
        saved = await resp.json()
    assert saved["welcome_message"] == "Welcome to <Acme>!"
    assert saved["offline_message"].startswith("Nobody is online")
    async with kefu.http.put(url, json={"nope": 1}, headers=_auth(admin["token"])) as resp:
        assert resp.status == 422

    vera_ws = await kefu.ws((await kefu.visitor())["token"])
    await vera_ws.send_message("hello")
    bot = await vera_ws.expect("message.new")
    while bot["message"]["sender"]["kind"] != "bot":
        bot = await vera_ws.expect("message.new")
    assert bot["message"]["body"] == "Welcome to <Acme>!"
    await vera_ws.close()


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
