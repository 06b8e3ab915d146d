"""The widget in a real browser (Debian's Chromium through Playwright), on a shop page of
another origin, talking to a real kefu node on a real port. The agent side is a plain
WebSocket client: these tests are about what the visitor sees.

Screenshots go to ``test-artifacts/`` (gitignored) for a person to look at.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
from playwright.async_api import Page, expect

from kefu.web.shop import SITE_ID, ShopServer
from tests.support.images import png
from tests.support.kefu import Socket
from tests.support.widget import LiveKefu, bubble, open_widget, screenshot, visitor_says


async def test_visitor_and_agent_chat_both_ways(
    live: LiveKefu, shop: ShopServer, page: Page, http: aiohttp.ClientSession
) -> None:
    agent = await live.agent(http)
    ws = Socket(await http.ws_connect(f"{live.url}/ws?token={agent['token']}"))
    await open_widget(page, shop)
    await visitor_says(page, "Hello, does the jacket run small?")
    assigned = await ws.expect("conversation.assigned")
    conversation_id = assigned["conversation_id"]
    new = await ws.expect("message.new")
    assert new["message"]["body"] == "Hello, does the jacket run small?"

    await ws.send({"type": "typing", "conversation_id": conversation_id})
    await expect(page.get_by_text("Alex is typing…")).to_be_visible()
    await ws.send_message("It runs true to size.", conversation_id=conversation_id)
    await expect(bubble(page, "It runs true to size.")).to_be_visible()

    # The visitor has the panel open, so the widget marks the agent's message read.
    read = await ws.expect("read")
    assert read["conversation_id"] == conversation_id
    # And the agent's read receipt shows under the visitor's message.
    last_visitor = await page.locator(".msg.visitor").last.get_attribute("data-id")
    assert last_visitor
    await ws.send({"type": "read", "conversation_id": conversation_id, "message_id": last_visitor})
    await expect(page.locator(".receipt")).to_have_text("Read")
    await screenshot(page, "chat")

    # A stored visitor record carries what the widget reported.
    visitor = await live.node.repos.visitors.get(new["message"]["sender"]["id"])  # type: ignore[union-attr]
    assert visitor is not None and visitor.site_id == SITE_ID
    assert visitor.page_url == shop.url + "/" and visitor.timezone
    await ws.close()


async def test_markup_in_messages_is_shown_as_text(
    live: LiveKefu, shop: ShopServer, page: Page, http: aiohttp.ClientSession
) -> None:
    payload = "<img src=x onerror=alert(1)>"
    agent = await live.agent(http)
    ws = Socket(await http.ws_connect(f"{live.url}/ws?token={agent['token']}"))
    await open_widget(page, shop)
    await visitor_says(page, payload)
    conversation_id = (await ws.expect("conversation.assigned"))["conversation_id"]
    await ws.send_message(payload + " <b>bold?</b>", conversation_id=conversation_id)
    await expect(bubble(page, payload + " <b>bold?</b>")).to_be_visible()
    await expect(page.locator(".msg.visitor", has_text=payload)).to_be_visible()
    # No element was created from the text: the only images are none at all.
    assert await page.locator(".log img").count() == 0
    # With no element made from the text there is no onerror to wait for.
    assert await page.locator(".log b").count() == 0
    await screenshot(page, "xss-as-text")
    await ws.close()


async def test_reconnect_after_server_restart_loses_nothing(
    live: LiveKefu, shop: ShopServer, page: Page, http: aiohttp.ClientSession
) -> None:
    agent = await live.agent(http)
    ws = Socket(await http.ws_connect(f"{live.url}/ws?token={agent['token']}"))
    await open_widget(page, shop)
    await visitor_says(page, "before the restart")
    conversation_id = (await ws.expect("conversation.assigned"))["conversation_id"]
    await ws.send_message("agent before", conversation_id=conversation_id)
    await expect(bubble(page, "agent before")).to_be_visible()
    await ws.close()

    await live.stop()
    await expect(page.get_by_text("Reconnecting…", exact=True)).to_be_visible()
    await live.start()
    # While the widget is still backing off, the agent writes: it must arrive by resume.
    agent = await live.agent(http)
    ws = Socket(await http.ws_connect(f"{live.url}/ws?token={agent['token']}"))
    await ws.send_message("agent while you were away", conversation_id=conversation_id)
    await expect(bubble(page, "agent while you were away")).to_be_visible(timeout=15_000)
    await visitor_says(page, "after the restart")
    new = await ws.expect("message.new", timeout=10)
    while new["message"]["sender"]["kind"] != "visitor":
        new = await ws.expect("message.new", timeout=10)
    assert new["message"]["body"] == "after the restart"
    # Each message shows exactly once.
    for text in ("before the restart", "agent before", "agent while you were away"):
        assert await bubble(page, text).count() == 1
    await screenshot(page, "after-restart")
    await ws.close()


async def test_png_attachment_round_trips_and_shows_as_an_image(
    live: LiveKefu, shop: ShopServer, page: Page, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    agent = await live.agent(http)
    ws = Socket(await http.ws_connect(f"{live.url}/ws?token={agent['token']}"))
    await open_widget(page, shop)
    await visitor_says(page, "here is a photo")
    conversation_id = (await ws.expect("conversation.assigned"))["conversation_id"]
    image = tmp_path / "damage.png"
    image.write_bytes(png(48, 32, (220, 40, 40)))
    await page.locator("input[type=file]").set_input_files(str(image))
    new = await ws.expect("message.new", timeout=10)
    while not new["message"].get("attachments"):
        new = await ws.expect("message.new", timeout=10)
    attachment = new["message"]["attachments"][0]
    assert attachment["content_type"] == "image/png" and attachment["name"] == "damage.png"
    # The agent downloads the same bytes.
    async with http.get(
        live.url + attachment["url"], headers={"Authorization": f"Bearer {agent['token']}"}
    ) as resp:
        assert resp.status == 200 and await resp.read() == image.read_bytes()
    # The visitor sees it as an image that loaded.
    img = page.locator(".msg.visitor img")
    await expect(img).to_be_visible()
    await page.wait_for_function(
        "() => { const h = document.querySelector('[data-kefu-widget]').shadowRoot;"
        " const i = h.querySelector('.msg.visitor img'); return i && i.naturalWidth === 48; }"
    )
    # The agent sends one back; it shows too.
    async with http.post(
        live.url + "/api/v1/attachments?name=reply.png",
        data=png(20, 20, (40, 160, 40)),
        headers={"Authorization": f"Bearer {agent['token']}"},
    ) as resp:
        assert resp.status == 201
        sent = await resp.json()
    await ws.send(
        {
            "type": "message.send",
            "client_msg_id": "agent-img",
            "conversation_id": conversation_id,
            "body": "like this?",
            "attachment_ids": [sent["id"]],
        }
    )
    await expect(page.locator(".msg.agent img")).to_be_visible()
    await screenshot(page, "attachment")
    await ws.close()


async def test_rating_is_stored_after_close(
    live: LiveKefu, shop: ShopServer, page: Page, http: aiohttp.ClientSession
) -> None:
    agent = await live.agent(http)
    ws = Socket(await http.ws_connect(f"{live.url}/ws?token={agent['token']}"))
    await open_widget(page, shop)
    await visitor_says(page, "thanks, that is all")
    conversation_id = (await ws.expect("conversation.assigned"))["conversation_id"]
    async with http.post(
        f"{live.url}/api/v1/conversations/{conversation_id}/close",
        headers={"Authorization": f"Bearer {agent['token']}"},
    ) as resp:
        assert resp.status == 200
    await expect(page.get_by_text("How did we do?")).to_be_visible()
    await page.get_by_role("radio", name="4 stars").click()
    await page.get_by_role("textbox", name="Comment (optional)").fill("Quick & kind")
    await screenshot(page, "rating")
    await page.get_by_role("button", name="Send rating").click()
    await expect(page.get_by_text("Thanks for your feedback!")).to_be_visible()
    async with http.get(
        f"{live.url}/api/v1/conversations/{conversation_id}",
        headers={"Authorization": f"Bearer {agent['token']}"},
    ) as resp:
        body = await resp.json()
    assert body["rating"]["score"] == 4 and body["rating"]["comment"] == "Quick & kind"
    await ws.close()


async def test_offline_state_offers_a_message_form(
    live: LiveKefu, shop: ShopServer, page: Page
) -> None:
    await open_widget(page, shop)
    await page.get_by_role("button", name="Leave a message").click()
    await page.get_by_role("textbox", name="Your email").fill("vera@example.com")
    await page.get_by_role("textbox", name="Your message").fill("Call me back please")
    await page.get_by_role("button", name="Send message").click()
    await expect(page.get_by_text("Thanks! We will answer by email.")).to_be_visible()
    await screenshot(page, "offline")
    assert live.node is not None
    stored = await live.node.repos.offline.list()
    assert [m.body for m in stored] == ["Call me back please"]


WELCOME = "Thanks for reaching out"
AUTO_REPLY = "Refunds take 3-5 days."


def launcher(page: Page) -> Any:
    return page.locator("[data-kefu-widget] button.launcher[aria-expanded]")


async def test_unread_badge_counts_replies_while_closed(
    live: LiveKefu, shop: ShopServer, page: Page, http: aiohttp.ClientSession
) -> None:
    agent = await live.agent(http)
    ws = Socket(await http.ws_connect(f"{live.url}/ws?token={agent['token']}"))
    await open_widget(page, shop)
    await visitor_says(page, "ping me when you know")
    conversation_id = (await ws.expect("conversation.assigned"))["conversation_id"]
    await page.get_by_role("button", name="Close chat").click()
    await ws.send_message("Found it!", conversation_id=conversation_id)
    await ws.send_message("It ships tomorrow.", conversation_id=conversation_id)
    # The last reply is on the page: every frame before it was handled, so the badge is
    # final (the welcome, however late it came, is not a reply and never counts).
    await expect(bubble(page, "It ships tomorrow.")).to_be_attached()
    await expect(bubble(page, WELCOME)).to_be_attached()
    await expect(launcher(page)).to_have_attribute("aria-label", "Open chat, 2 unread")
    await screenshot(page, "unread-badge")
    await page.get_by_role("button", name="Open chat, 2 unread").click()
    await expect(page.get_by_role("button", name="Open chat", exact=True)).to_be_visible()
    await ws.close()


async def test_unread_counts_agents_messages_never_the_bots(
    live: LiveKefu, shop: ShopServer, page: Page, http: aiohttp.ClientSession
) -> None:
    """The rule, pinned where timing cannot blur it: the visitor has two tabs; in one the
    panel is closed while, from the other, they ask about a refund. The bot's answer and
    the re-shown welcome reach the closed tab without counting; the agent's two replies
    count there, and in the second tab once its panel is closed too."""
    assert live.node is not None
    await live.node.repos.auto_replies.create(["refund"], AUTO_REPLY, live.node.clock.now())
    await live.node.chat.reload_auto_replies()
    agent = await live.agent(http)
    ws = Socket(await http.ws_connect(f"{live.url}/ws?token={agent['token']}"))
    await open_widget(page, shop)
    await visitor_says(page, "hello")
    conversation_id = (await ws.expect("conversation.assigned"))["conversation_id"]
    await expect(bubble(page, WELCOME)).to_be_visible()
    await page.get_by_role("button", name="Close chat").click()

    other = await page.context.new_page()
    await other.goto(shop.url + "/")  # the same visitor (same storage): history replayed
    await expect(bubble(other, WELCOME)).to_be_attached()
    await expect(launcher(other)).to_have_attribute("aria-label", "Open chat")
    await other.get_by_role("button", name="Open chat").click()
    await visitor_says(other, "can I get a refund?")
    await expect(bubble(other, AUTO_REPLY)).to_be_visible()
    await expect(bubble(page, AUTO_REPLY)).to_be_attached()  # in the closed tab too
    await other.get_by_role("button", name="Close chat").click()

    await ws.send_message("Found it!", conversation_id=conversation_id)
    await ws.send_message("It ships tomorrow.", conversation_id=conversation_id)
    for tab in (page, other):
        await expect(bubble(tab, "It ships tomorrow.")).to_be_attached()
        await expect(launcher(tab)).to_have_attribute("aria-label", "Open chat, 2 unread")
    await other.close()
    await ws.close()


async def test_a_page_of_another_origin_is_refused(
    live: LiveKefu, page: Page, http: aiohttp.ClientSession
) -> None:
    """A page that is not a configured site's origin gets no CORS answer, and its
    socket is refused at the handshake even with a valid visitor token."""
    async with ShopServer("127.0.0.1", 0, kefu_url=live.url) as rogue:
        async with http.post(live.url + "/api/v1/visitors", json={}) as resp:
            token = (await resp.json())["token"]
        await page.goto(rogue.url + "/")
        outcome = await page.evaluate(
            """async ([base, token]) => {
                let rest;
                try {
                    await fetch(base + '/api/v1/visitors', {method: 'POST',
                        headers: {'Content-Type': 'application/json'}, body: '{}'});
                    rest = 'allowed';
                } catch (e) { rest = 'blocked'; }
                const close = await new Promise((resolve) => {
                    const ws = new WebSocket(base.replace('http', 'ws') + '/ws?token=' + token);
                    let error = null;
                    ws.onmessage = (m) => { error = JSON.parse(m.data).code; };
                    ws.onclose = (e) => resolve({code: e.code, error});
                });
                return {rest, close};
            }""",
            [live.url, token],
        )
    assert outcome == {"rest": "blocked", "close": {"code": 4403, "error": "origin_not_allowed"}}
