"""The agent console in a real browser (Debian's Chromium driven by Playwright) against a
real kefu node on a real port: sign in, live list, chat both ways, canned replies, text
that stays text, transfer between two consoles, close, and the admin pages.

Screenshots of the main screens go to ``test-artifacts/`` (gitignored) for a human look.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from playwright.async_api import expect

from kefu.domain.roles import Role
from tests.e2e.conftest import browser, expected_errors, store_url
from tests.support.browser import ARTIFACTS, Opener, agent, next_message, shot, sign_in
from tests.support.kefu import Kefu, Socket

# Kept importable from here while test_console_sagas.py (being written) still reads them
# from this module; the fixtures live in tests/e2e/conftest.py, the helpers in
# tests/support/browser.py. No other test module imports this one.
__all__ = [
    "ARTIFACTS",
    "Opener",
    "browser",
    "expected_errors",
    "next_message",
    "shot",
    "sign_in",
    "store_url",
]


async def test_an_agent_answers_a_visitor_from_the_console(kefu: Kefu, browser: Opener) -> None:
    await kefu.node.repos.canned.create(
        shortcut="refund",
        title="Refund policy",
        body="Refunds arrive 3-5 business days after approval.",
        now=kefu.node.clock.now(),
    )
    alice = await agent(kefu, "Alice")
    page = await browser()
    dialogs: list[str] = []

    async def dismiss(dialog: Any) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", dismiss)
    await page.goto(kefu.url("/console"))
    await shot(page, "login")
    await sign_in(page, kefu, alice["email"])

    visitor = await kefu.visitor(name="Vera", page_url="https://shop.example/p/42")
    vera = await kefu.ws(visitor["token"])
    ack = await vera.send_message("Hello, where is my order?")
    conversation_id = ack["conversation_id"]

    # The conversation appears live in "Mine", with its unread count.
    row = page.locator(f'#conv-list li[data-id="{conversation_id}"]')
    await expect(row).to_contain_text("Vera")
    await expect(row.locator(".badge")).to_have_text("1")
    await row.click()
    messages = page.locator("#messages")
    await expect(messages).to_contain_text("Hello, where is my order?")
    await expect(row.locator(".badge")).to_have_count(0)
    read = await vera.expect("read", timeout=10)
    assert read["sender"]["kind"] == "agent"
    await expect(page.locator("#visitor-details")).to_contain_text("shop.example/p/42")

    # The agent answers; the visitor gets it.
    composer = page.get_by_label("Message", exact=True)
    await composer.fill("Let me check that for you.")
    await composer.press("Enter")
    await next_message(vera, "Let me check that for you.")
    await expect(messages.locator(".msg.agent.pending")).to_have_count(0)

    # Typing shows; markup from the visitor stays text and runs nothing.
    await vera.send({"type": "typing", "conversation_id": conversation_id})
    await expect(page.locator("#typing")).to_contain_text("is typing")
    hostile = "<img src=x onerror=alert(1)>"
    await vera.send_message(hostile)
    await expect(messages.locator(".msg.visitor .msg-text").last).to_have_text(hostile)
    assert await messages.locator("img").count() == 0
    await shot(page, "chat")

    # Canned reply: "/" opens the popup, filtered as you type; Enter inserts, Enter sends.
    await composer.fill("")
    await composer.press_sequentially("/ref")
    popup = page.locator("#canned-popup")
    await expect(popup).to_be_visible()
    await expect(popup).to_contain_text("Refund policy")
    await shot(page, "canned")
    await composer.press("Enter")
    await expect(composer).to_have_value("Refunds arrive 3-5 business days after approval.")
    await composer.press("Enter")
    await next_message(vera, "Refunds arrive 3-5 business days after approval.")

    # The visitor's read receipt shows under the agent's last message.
    last_id = (await kefu.get(f"/api/v1/conversations/{conversation_id}", alice["token"]))[1][
        "last_message_id"
    ]
    await vera.send({"type": "read", "conversation_id": conversation_id, "message_id": last_id})
    await expect(messages.locator(".seen").last).to_contain_text("Seen")

    await page.get_by_role("button", name="Close", exact=True).click()
    await vera.expect("conversation.closed", timeout=10, conversation_id=conversation_id)
    await expect(row).to_have_count(0)
    await expect(page.get_by_label("Message", exact=True)).to_be_disabled()
    # A round trip through the page: a dialog the close raised would have held it.
    await page.evaluate("0")
    assert dialogs == []
    await vera.close()


async def test_transfer_moves_the_conversation_between_two_consoles(
    kefu: Kefu, browser: Opener
) -> None:
    ann = await agent(kefu, "Ann")
    bob = await agent(kefu, "Bob")
    ann_page = await browser()
    bob_page = await browser()
    await sign_in(ann_page, kefu, ann["email"])
    await sign_in(bob_page, kefu, bob["email"])

    vera = await kefu.ws((await kefu.visitor(name="Walt"))["token"])
    ack = await vera.send_message("Can someone help?")
    conversation_id = ack["conversation_id"]
    assigned = await vera.expect("conversation.assigned", timeout=10)
    owner, other = (
        (ann_page, bob_page) if assigned["agent_id"] == ann["id"] else (bob_page, ann_page)
    )
    target = bob if owner is ann_page else ann
    selector = f'#conv-list li[data-id="{conversation_id}"]'

    await owner.locator(selector).click()
    await expect(owner.locator("#messages")).to_contain_text("Can someone help?")
    await expect(other.locator(selector)).to_have_count(0)
    await owner.get_by_label("Transfer to").select_option(target["id"])
    await vera.expect("conversation.assigned", timeout=10, agent_id=target["id"])

    await expect(other.locator(selector)).to_contain_text("Walt")
    await expect(owner.locator(selector)).to_have_count(0)
    await other.locator(selector).click()
    await expect(other.locator("#messages")).to_contain_text("Conversation transferred to")
    await shot(other, "transferred")
    await vera.close()


async def test_supervisors_see_the_queue_and_admins_add_agents(kefu: Kefu, browser: Opener) -> None:
    root = await agent(kefu, "Root", Role.ADMIN)
    page = await browser()
    await sign_in(page, kefu, root["email"])
    # Root is online, so the conversation goes to Root; a second visitor's waits when
    # Root is full: here just check the "All" tab and the admin pages.
    vera = await kefu.ws((await kefu.visitor(name="Dora", email="dora@example.com"))["token"])
    ack = await vera.send_message("Hi, I need an invoice")
    await expect(page.locator(f'#conv-list li[data-id="{ack["conversation_id"]}"]')).to_be_visible()
    await page.get_by_role("tab", name="All").click()
    await expect(page.locator("#conv-list")).to_contain_text("Dora")
    await page.locator(f'#conv-list li[data-id="{ack["conversation_id"]}"]').click()
    await expect(page.locator("#messages")).to_contain_text("I need an invoice")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "console-main.png"))

    await page.get_by_role("button", name="Agents").click()
    form = page.locator("#agent-form")
    email = f"new-{secrets.token_hex(3)}@example.com"
    await form.get_by_label("Name").fill("Nina New")
    await form.get_by_label("Email").fill(email)
    await form.get_by_label("Password").fill("long-enough-password")
    await form.get_by_label("Role").select_option("supervisor")
    await form.get_by_role("button", name="Add agent").click()
    await expect(page.locator("#agents-rows")).to_contain_text(email)
    created = await kefu.node.repos.agents.by_email(email)
    assert created is not None and created[0].role is Role.SUPERVISOR
    await shot(page, "admin-agents")

    # The welcome text is on the Site & widget page (admin_sites.js), per site and language.
    await page.get_by_role("button", name="Site & widget").click()
    form = page.locator(".site-form")
    await (
        form.locator("fieldset[data-lang=en]")
        .get_by_label("Bot welcome")
        .fill("Hello from <Acme>!")
    )
    await form.get_by_role("button", name="Save").click()
    await expect(form.get_by_role("status")).to_have_text("Saved.")
    site = await kefu.node.chat.site(None, "en")
    assert site is not None and site.welcome == "Hello from <Acme>!"
    await vera.close()


async def test_the_console_works_on_a_phone_screen(kefu: Kefu, browser: Opener) -> None:
    ann = await agent(kefu, "Ann")
    page = await browser(width=375, height=740)
    await sign_in(page, kefu, ann["email"])
    vera = await kefu.ws((await kefu.visitor(name="Pia"))["token"])
    ack = await vera.send_message("Hello from my phone")
    row = page.locator(f'#conv-list li[data-id="{ack["conversation_id"]}"]')
    await expect(row).to_be_visible()
    await shot(page, "phone-list")
    await row.click()
    await expect(page.locator("#messages")).to_contain_text("Hello from my phone")
    composer = page.get_by_label("Message", exact=True)
    await expect(composer).to_be_visible()
    await composer.fill("Hi Pia!")
    await composer.press("Enter")
    await next_message(vera, "Hi Pia!")
    await shot(page, "phone-chat")
    await page.get_by_role("button", name="Back to the list").click()
    await expect(row).to_be_visible()
    await vera.close()


async def _visitor(kefu: Kefu, **fields: Any) -> Socket:
    headers = {
        "User-Agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/131.0 Safari/537.36"
    }
    async with kefu.http.post(kefu.url("/api/v1/visitors"), json=fields, headers=headers) as resp:
        assert resp.status == 201, await resp.text()
        token = (await resp.json())["token"]
    return await kefu.ws(token)


async def test_a_busy_inbox_with_unread_counts_and_a_waiting_queue(
    kefu: Kefu, browser: Opener
) -> None:
    """Also the README's screenshot: several conversations, unread badges, the queue."""
    root = await kefu.add_agent("Sam Carter", Role.ADMIN, capacity=2)
    page = await browser()
    await sign_in(page, kefu, root["email"])
    dora = await _visitor(
        kefu,
        name="Dora Schmidt",
        email="dora@example.com",
        page_url="https://shop.example/checkout?step=payment",
        referrer="https://www.google.com/",
        timezone="Europe/Berlin",
        locale="de-DE",
    )
    first = (await dora.send_message("Hi! My card was charged twice for order #1042."))[
        "conversation_id"
    ]
    eli = await _visitor(kefu, name="Eli Brooks", page_url="https://shop.example/shipping")
    await eli.send_message("Do you ship to Canada?")
    await eli.send_message("And how long does it take?")
    faye = await _visitor(kefu, name="Faye Wong", page_url="https://shop.example/p/7")
    await faye.send_message("Is the blue jacket back in stock in size M?")

    # Sam has room for two: Dora and Eli are his, Faye waits in the queue.
    await expect(page.locator("[data-count=mine]")).to_have_text("2")
    await expect(page.locator("[data-count=waiting]")).to_have_text("1")
    eli_row = page.locator("#conv-list li", has_text="Eli Brooks")
    await expect(eli_row.locator(".badge")).to_have_text("2")
    await page.get_by_role("tab", name="Unassigned").click()
    await expect(page.locator("#conv-list .wait")).to_contain_text("waiting")
    await page.get_by_role("tab", name="Mine").click()

    await page.locator(f'#conv-list li[data-id="{first}"]').click()
    await expect(page.locator("#visitor-details")).to_contain_text("Europe/Berlin")
    composer = page.get_by_label("Message", exact=True)
    await composer.fill("Sorry about that, Dora! I can see the duplicate charge.")
    await composer.press("Enter")
    await next_message(dora, "Sorry about that, Dora! I can see the duplicate charge.")
    await composer.fill("I've refunded the second one; it shows up in 3-5 business days.")
    await composer.press("Enter")
    await dora.send_message("That was quick, thank you!")
    await dora.send({"type": "typing", "conversation_id": first})
    await expect(page.locator("#typing")).to_contain_text("is typing")
    await page.mouse.move(0, 0)
    await shot(page, "showcase")
    for socket in (dora, eli, faye):
        await socket.close()


def _png() -> bytes:
    """A valid 8x8 PNG, made here so the test needs no fixture file."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\x1f\x6f\xeb" * 8 for _ in range(8))
    header = struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


async def test_an_agent_sends_an_image_and_a_file(
    kefu: Kefu, browser: Opener, tmp_path: Path
) -> None:
    ann = await agent(kefu, "Ann")
    page = await browser()
    await sign_in(page, kefu, ann["email"])
    vera = await kefu.ws((await kefu.visitor(name="Vera"))["token"])
    conversation_id = (await vera.send_message("Can you send the label?"))["conversation_id"]
    await page.locator(f'#conv-list li[data-id="{conversation_id}"]').click()

    image = tmp_path / "label.png"
    image.write_bytes(_png())
    await page.locator("#file-input").set_input_files(str(image))
    await expect(page.locator("#pending-files")).to_contain_text("label.png")
    composer = page.get_by_label("Message", exact=True)
    await composer.fill("Here it is.")
    await composer.press("Enter")
    sent = await next_message(vera, "Here it is.")
    files = sent["message"]["attachments"]
    assert [f["name"] for f in files] == ["label.png"]
    assert files[0]["content_type"] == "image/png"
    picture = page.locator("#messages .attachment.image img")
    await expect(picture).to_have_count(1)
    await expect(picture).to_have_js_property("naturalWidth", 8)
    await shot(page, "attachment")
    await vera.close()
