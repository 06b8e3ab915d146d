"""Attachments open with no token in any URL, in Chromium (issue 12, item 18).

The console once opened images at ``…?token=<agent token>``: every request URL the
browser makes is recorded here, and none may carry the token (the WebSocket's handshake
is not an HTTP request of the page and keeps the contract's ``/ws?token=``). The image
loads through its signed link, a click opens it in a tab, and a link that has expired
while the conversation stayed open is replaced by a fresh one on click. The widget, on a
shop of another origin, fetches its files with an Authorization header: no token in its
URLs either.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
from playwright.async_api import Page, Request, expect

from kefu.web.shop import ShopServer
from tests.support.browser import Opener, shot, sign_in
from tests.support.images import png
from tests.support.kefu import Kefu
from tests.support.widget import LiveKefu, open_widget, visitor_says


def record(page: Page) -> list[str]:
    """Every request URL of the page's browser context (new tabs included)."""
    urls: list[str] = []

    def seen(request: Request) -> None:
        urls.append(request.url)

    page.context.on("request", seen)
    return urls


async def test_the_console_opens_an_image_with_no_token_in_any_url(
    kefu: Kefu, browser: Opener, tmp_path: Path
) -> None:
    ann = await kefu.add_agent("Ann")
    tab = await browser()
    urls = record(tab)
    await sign_in(tab, kefu, ann["email"])
    vera = await kefu.visitor(name="Vera")
    vera_ws = await kefu.ws(vera["token"])
    conversation_id = (await vera_ws.send_message("The parcel arrived broken"))["conversation_id"]
    async with kefu.http.post(
        kefu.url("/api/v1/attachments?name=broken.png"),
        data=png(40, 30, (200, 30, 30)),
        headers={"Authorization": f"Bearer {vera['token']}"},
    ) as resp:
        assert resp.status == 201
        photo = await resp.json()
    await vera_ws.send(
        {
            "type": "message.send",
            "client_msg_id": "photo",
            "conversation_id": conversation_id,
            "body": "see",
            "attachment_ids": [photo["id"]],
        }
    )
    await vera_ws.expect("message.ack", client_msg_id="photo")
    await tab.locator(f'#conv-list li[data-id="{conversation_id}"]').click()
    picture = tab.locator("#messages .attachment.image img")
    await expect(picture).to_have_js_property("naturalWidth", 40)
    await shot(tab, "attachment-signed")

    # A click opens it in the lightbox (issue 15), through its signed link.
    link = tab.locator("#messages a.attachment.image")
    await link.click()
    lightbox = tab.locator("#lightbox img")
    await expect(lightbox).to_have_js_property("naturalWidth", 40)
    assert f"/api/v1/attachments/{photo['id']}?exp=" in (await lightbox.get_attribute("src") or "")
    await tab.keyboard.press("Escape")
    # Ctrl+click opens it in a tab of its own, through its signed link.
    async with tab.context.expect_page() as opened:
        await link.click(modifiers=["Control"])
    image_tab = await opened.value
    await image_tab.wait_for_load_state()
    assert f"/api/v1/attachments/{photo['id']}?exp=" in image_tab.url
    await image_tab.close()

    # The conversation stayed open past the link's life: a click fetches a fresh one.
    await link.evaluate("a => { a.href = a.href.replace(/exp=\\d+/, 'exp=1'); }")
    async with tab.context.expect_page() as opened:
        await link.click(modifiers=["Control"])
    image_tab = await opened.value
    await image_tab.wait_for_load_state()
    assert "exp=1&" not in image_tab.url and "sig=" in image_tab.url
    shown = await image_tab.evaluate(
        "() => document.images.length && document.images[0].naturalWidth"
    )
    assert shown == 40
    await image_tab.close()

    downloads = [u for u in urls if f"/api/v1/attachments/{photo['id']}?" in u]
    assert downloads and all("sig=" in u for u in downloads)
    # The fresh link came from the API, the agent's token in its header.
    assert [u for u in urls if u.endswith(f"/api/v1/attachments/{photo['id']}/link")]
    assert [u for u in urls if ann["token"] in u or "token=" in u] == []
    await vera_ws.close()


async def test_the_widget_fetches_files_with_no_token_in_any_url(
    live: LiveKefu, shop: ShopServer, page: Page, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    urls = record(page)
    await open_widget(page, shop)
    await visitor_says(page, "here is a photo")
    image = tmp_path / "damage.png"
    image.write_bytes(png(24, 16, (20, 120, 220)))
    await page.locator("input[type=file]").set_input_files(str(image))
    await page.wait_for_function(
        "() => { const h = document.querySelector('[data-kefu-widget]').shadowRoot;"
        " const i = h.querySelector('.msg.visitor img'); return i && i.naturalWidth === 24; }"
    )
    attachment_requests = [u for u in urls if "/api/v1/attachments" in u]
    assert attachment_requests  # the upload, then the image fetched for display
    assert [u for u in urls if "token=" in u] == []
