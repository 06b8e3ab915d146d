"""The widget shows a conversation's messages in the server's order (issue 15): the bot's
welcome, stored right behind the visitor's first message, stays above an agent's quick reply
even when the reply's frame reaches the browser first.

On one node the welcome's frame is queued before anything can await, but frames of different
messages may still arrive out of order (nodes fan out through the cluster bus, a reconnect
replays history while live frames flow). The test causes that arrival order itself: it sits
between the page and the server (Playwright's WebSocket routing) and holds the bot's frames
back until the agent's reply has been delivered, then checks what the visitor sees against
the order the server stored.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Page, WebSocketRoute, expect

from kefu.web.shop import ShopServer
from tests.support.kefu import Socket
from tests.support.widget import LiveKefu, bubble, open_widget, screenshot, visitor_says

REPLY = "Hi, Alex here: the jacket runs true to size."


def _sender_kind(raw: str | bytes) -> str | None:
    """``message.new`` frames' sender kind, else None."""
    try:
        frame = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(frame, dict) or frame.get("type") != "message.new":
        return None
    kind = frame.get("message", {}).get("sender", {}).get("kind")
    return kind if isinstance(kind, str) else None


async def _hold_bot_frames_until_an_agent_frame(page: Page) -> asyncio.Event:
    """Routes the widget's socket through the test: server frames of the bot wait until an
    agent's message has been passed on, then follow it. The event is set once that happened."""
    released = asyncio.Event()

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        held: list[str | bytes] = []

        def from_server(raw: str | bytes) -> None:
            kind = _sender_kind(raw)
            if kind == "bot" and not released.is_set():
                held.append(raw)
                return
            ws.send(raw)
            if kind == "agent" and not released.is_set():
                for frame in held:
                    ws.send(frame)
                held.clear()
                released.set()

        server.on_message(from_server)
        ws.on_message(lambda raw: server.send(raw))

    await page.route_web_socket("**/ws?token=*", route)
    return released


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (375, 812)])
async def test_the_welcome_stays_above_a_quick_reply_that_arrived_first(
    live: LiveKefu,
    shop: ShopServer,
    page: Page,
    http: aiohttp.ClientSession,
    width: int,
    height: int,
) -> None:
    await page.set_viewport_size({"width": width, "height": height})
    released = await _hold_bot_frames_until_an_agent_frame(page)
    agent = await live.agent(http)
    ws = Socket(await http.ws_connect(f"{live.url}/ws?token={agent['token']}"))
    await open_widget(page, shop)
    await visitor_says(page, "Does the jacket run small?")
    conversation_id = (await ws.expect("conversation.assigned"))["conversation_id"]
    # The agent answers as soon as the visitor's first message shows.
    await ws.expect("message.new")
    await ws.send_message(REPLY, conversation_id=conversation_id)

    # Barrier: the reply and the welcome are both on screen (the welcome came second).
    await expect(bubble(page, REPLY)).to_be_visible()
    await asyncio.wait_for(released.wait(), timeout=10)
    await expect(page.locator(".log .msg.bot")).to_have_count(1)

    async with http.get(
        f"{live.url}/api/v1/conversations/{conversation_id}/messages",
        headers={"Authorization": f"Bearer {agent['token']}"},
    ) as resp:
        assert resp.status == 200
        stored: list[dict[str, Any]] = (await resp.json())["items"]
    assert [m["sender"]["kind"] for m in stored] == ["visitor", "bot", "agent"]
    shown = page.locator(".log .msg[data-id]")
    await expect(shown).to_have_count(3)
    assert [await node.get_attribute("data-id") for node in await shown.all()] == [
        m["id"] for m in stored
    ]
    await expect(shown.last).to_contain_text(REPLY)
    await screenshot(page, f"order-{width}")
    await ws.close()
