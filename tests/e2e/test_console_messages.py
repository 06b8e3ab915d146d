"""Messages in the console (issue 15 item 14), in Chromium: http(s) links in a message are
clickable (new tab, rel=noopener noreferrer), anything else stays text, never HTML; an
image attachment opens in a lightbox over the chat. At 1280x800, 1366x768 and 375x812;
screenshots in ``test-artifacts/``."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import expect

from tests.support.browser import Opener, agent, next_message, shot, sign_in
from tests.support.images import png
from tests.support.kefu import Kefu
from tests.support.layout import SIZES, off_screen


async def test_links_are_clickable_and_images_open_in_a_lightbox(
    kefu: Kefu, browser: Opener, tmp_path: Path
) -> None:
    ann = await agent(kefu, "Ann")
    page = await browser(1280, 800)
    await sign_in(page, kefu, ann["email"])
    vera = await kefu.ws((await kefu.visitor(name="Vera"))["token"])
    text = (
        "See https://shop.example/p/42?size=m, or http://shop.example/faq. "
        "Not javascript:alert(1) nor <a href='https://evil.example'>this</a> or <b>bold</b>"
    )
    conversation_id = (await vera.send_message(text))["conversation_id"]
    await page.locator(f'#conv-list li[data-id="{conversation_id}"]').click()
    bubble = page.locator("#messages .msg.visitor .msg-text")
    await expect(bubble).to_have_text(text)  # every character, as text
    links = bubble.locator("a")
    await expect(links).to_have_count(3)
    await expect(links.nth(0)).to_have_attribute("href", "https://shop.example/p/42?size=m")
    await expect(links.nth(0)).to_have_text("https://shop.example/p/42?size=m")
    await expect(links.nth(1)).to_have_attribute("href", "http://shop.example/faq")
    # The markup's URL is linked as text up to its quote; the markup itself is not HTML.
    await expect(links.nth(2)).to_have_attribute("href", "https://evil.example/")
    for index in range(3):
        await expect(links.nth(index)).to_have_attribute("rel", "noopener noreferrer")
        await expect(links.nth(index)).to_have_attribute("target", "_blank")
    assert await bubble.locator("b").count() == 0

    image = tmp_path / "label.png"
    image.write_bytes(png(64, 48, (31, 111, 235)))
    await page.locator("#file-input").set_input_files(str(image))
    await expect(page.locator("#pending-files")).to_contain_text("label.png")
    composer = page.get_by_label("Message", exact=True)
    await composer.fill("Your label: https://shop.example/label")
    await composer.press("Enter")
    await next_message(vera, "Your label: https://shop.example/label")
    picture = page.locator("#messages .attachment.image img")
    await expect(picture).to_have_js_property("naturalWidth", 64)
    for width, height in SIZES:
        await page.set_viewport_size({"width": width, "height": height})
        await picture.click()
        box = page.locator("#lightbox")
        await expect(box).to_be_visible()
        await expect(box.locator("img")).to_have_js_property("naturalWidth", 64)
        await expect(box.locator("figcaption")).to_have_text("label.png")
        assert await off_screen(page, "#lightbox img, #lightbox .lightbox-x") == []
        await shot(page, f"lightbox-{width}")
        await page.keyboard.press("Escape")
        await expect(box).to_be_hidden()
        assert len(page.context.pages) == 1  # no tab was opened
    await vera.close()
