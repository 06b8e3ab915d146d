# Chinese test texts use Chinese punctuation on purpose.
# ruff: noqa: RUF001
"""The widget speaks the visitor's language (issue 16), in Chromium with ``locale`` zh-CN and
en-US: launcher, header, composer, the offline form and the rating in each language (the
expected words read from the catalogs), ``data-kefu-lang`` overriding the browser, the
site's locale for a browser in neither language, and Enter while a pinyin composition is
open not sending. Screenshots in ``test-artifacts/`` at 1280x800, 1366x768 and 375x812."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import BrowserContext, Page, async_playwright, expect

from kefu.chat.sites import Prechat, SiteConfig, SiteTexts
from kefu.config import load_settings
from kefu.web.shop import SITE_ID, ShopServer
from kefu.web.widget_script import CATALOGS
from tests.support import widget
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.kefu import Socket
from tests.support.layout import SIZES
from tests.support.ports import free_port
from tests.support.widget import LiveKefu, bubble, screenshot

TEXTS: dict[str, dict[str, Any]] = json.loads(CATALOGS.read_text(encoding="utf-8"))
Opener = Callable[..., Awaitable[Page]]


@pytest.fixture
async def open_page(tmp_path: Path) -> AsyncIterator[Opener]:
    """A fresh Chromium profile whose browser language is ``locale`` (navigator.languages
    and Accept-Language), per call."""
    async with async_playwright() as playwright:
        contexts: list[BrowserContext] = []

        async def opener(locale: str, timezone_id: str | None = None) -> Page:
            context = await playwright.chromium.launch_persistent_context(
                str(tmp_path / f"chromium-{len(contexts)}"),
                executable_path=str(CHROMIUM),
                args=CHROMIUM_ARGS,
                locale=locale,
                timezone_id=timezone_id,
                viewport={"width": 1280, "height": 800},
            )
            contexts.append(context)
            page = context.pages[0] if context.pages else await context.new_page()
            page.set_default_timeout(10_000)
            return page

        yield opener
        for context in contexts:
            await context.close()


def launcher(page: Page) -> Any:
    return page.locator("[data-kefu-widget] button.launcher")


async def open_widget(page: Page, shop: ShopServer, texts: dict[str, Any]) -> None:
    await page.goto(shop.url + "/")
    await page.get_by_role("button", name=texts["open_chat"], exact=True).click()
    await expect(page.get_by_role("dialog")).to_be_visible()


async def fits(page: Page) -> None:
    """The panel lies inside the viewport (nothing cut off by a longer translation)."""
    box = await page.locator("[data-kefu-widget] .panel").bounding_box()
    size = page.viewport_size
    assert box is not None and size is not None
    assert box["x"] >= 0 and box["y"] >= 0
    assert box["x"] + box["width"] <= size["width"] + 0.5
    assert box["y"] + box["height"] <= size["height"] + 0.5


@pytest.mark.parametrize(("browser_locale", "lang"), [("zh-CN", "zh-CN"), ("en-US", "en")])
async def test_the_widget_speaks_the_browsers_language(
    live: LiveKefu,
    shop: ShopServer,
    open_page: Opener,
    http: aiohttp.ClientSession,
    browser_locale: str,
    lang: str,
) -> None:
    texts = TEXTS[lang]
    page = await open_page(browser_locale)
    await open_widget(page, shop, texts)
    assert await page.locator("[data-kefu-widget]").get_attribute("lang") == lang
    status = page.locator("header .status")
    # Nobody is online: the offline state and the leave-a-message form.
    await expect(status).to_have_text(texts["status_offline"])
    await expect(page.locator(".notice", has_text=texts["nobody_online"].strip())).to_be_visible()
    box = page.get_by_role("textbox", name=texts["message"], exact=True)
    assert await box.get_attribute("placeholder") == texts["placeholder"]
    await expect(page.get_by_role("button", name=texts["send"], exact=True)).to_be_visible()
    await page.get_by_role("button", name=texts["leave_message"]).click()
    await expect(page.get_by_role("heading", name=texts["leave_us_message"])).to_be_visible()
    await page.get_by_role("textbox", name=texts["your_email"]).fill("li.wei@example.com")
    await page.get_by_role("textbox", name=texts["your_message"]).fill("请明天给我回电话")
    for width, height in SIZES:
        await page.set_viewport_size({"width": width, "height": height})
        await fits(page)
        await screenshot(page, f"i18n-{lang}-offline-form-{width}")
    await page.get_by_role("button", name=texts["send_message"]).click()
    await expect(page.get_by_text(texts["offline_thanks"])).to_be_visible()
    assert live.node is not None
    assert [m.body for m in await live.node.repos.offline.list()] == ["请明天给我回电话"]

    # An agent signs in and answers; the conversation closes; the rating card asks.
    agent = await live.agent(http)
    ws = Socket(await http.ws_connect(f"{live.url}/ws?token={agent['token']}"))
    await box.fill("在吗？")
    await box.press("Enter")
    conversation_id = (await ws.expect("conversation.assigned"))["conversation_id"]
    await expect(status).to_have_text(texts["status_joined"])
    await ws.send({"type": "typing", "conversation_id": conversation_id})
    await expect(page.get_by_text(texts["typing"].format(name="Alex"))).to_be_visible()
    async with http.post(
        f"{live.url}/api/v1/conversations/{conversation_id}/close",
        headers={"Authorization": f"Bearer {agent['token']}"},
    ) as resp:
        assert resp.status == 200, await resp.text()
    await expect(status).to_have_text(texts["status_ended"])
    rating = page.get_by_role("form", name=texts["rate_conversation"])
    await expect(rating.get_by_role("heading", name=texts["how_did_we_do"])).to_be_visible()
    await rating.get_by_role("button", name=texts["send_rating"]).click()
    await expect(rating.get_by_role("alert")).to_have_text(texts["pick_stars"])
    four = texts["stars"]["other"].format(count=4)
    await rating.get_by_role("radio", name=four, exact=True).click()
    await expect(rating.get_by_role("alert")).to_have_text("")  # picked: no longer asked
    await rating.get_by_role("textbox", name=texts["comment"]).fill("很快，很耐心")
    for width, height in SIZES:
        await page.set_viewport_size({"width": width, "height": height})
        await fits(page)
        await screenshot(page, f"i18n-{lang}-rating-{width}")
    await rating.get_by_role("button", name=texts["send_rating"]).click()
    await expect(page.get_by_text(texts["rating_thanks"])).to_be_visible()
    # Stored as given, whatever the language.
    async with http.get(
        f"{live.url}/api/v1/conversations/{conversation_id}",
        headers={"Authorization": f"Bearer {agent['token']}"},
    ) as resp:
        stored = (await resp.json())["rating"]
    assert (stored["score"], stored["comment"]) == (4, "很快，很耐心")
    await ws.close()


async def test_data_kefu_lang_overrides_the_browser(
    live: LiveKefu, shop: ShopServer, open_page: Opener
) -> None:
    shop.widget_lang = "en"
    chinese_browser = await open_page("zh-CN")
    await open_widget(chinese_browser, shop, TEXTS["en"])
    await expect(chinese_browser.locator("header .status")).to_have_text(
        TEXTS["en"]["status_offline"]
    )
    await screenshot(chinese_browser, "i18n-lang-attr-en")

    shop.widget_lang = "zh-CN"
    english_browser = await open_page("en-US")
    await open_widget(english_browser, shop, TEXTS["zh-CN"])
    await expect(english_browser.locator("header .status")).to_have_text(
        TEXTS["zh-CN"]["status_offline"]
    )
    await screenshot(english_browser, "i18n-lang-attr-zh")


@pytest.fixture
async def live_zh(tmp_path: Path, shop: ShopServer) -> AsyncIterator[LiveKefu]:
    """A node whose shop site's locale is zh-CN."""
    settings = load_settings(
        None,
        data_dir=tmp_path / "data-zh",
        store=f"sqlite:///{tmp_path / 'kefu-zh.db'}",
        port=free_port(),
        sites=[{"id": SITE_ID, "origins": shop.origins, "locale": "zh-CN"}],
    )
    server = LiveKefu(settings)
    await server.start()
    shop.kefu_url = server.url
    yield server
    await server.stop()


async def test_a_browser_in_neither_language_gets_the_sites_locale(
    live_zh: LiveKefu, shop: ShopServer, open_page: Opener
) -> None:
    page = await open_page("de-DE")
    assert await page.evaluate("navigator.languages") == ["de-DE"]
    await page.goto(shop.url + "/")
    # The launcher is relabelled once the site's locale is known, before anyone clicks.
    await expect(launcher(page)).to_have_attribute("aria-label", TEXTS["zh-CN"]["open_chat"])
    await launcher(page).click()
    box = page.get_by_role("textbox", name=TEXTS["zh-CN"]["message"], exact=True)
    await expect(box).to_have_attribute("placeholder", TEXTS["zh-CN"]["placeholder"])
    await expect(page.locator("header .status")).to_have_text(TEXTS["zh-CN"]["status_offline"])


async def test_enter_while_a_pinyin_composition_is_open_does_not_send(
    live: LiveKefu, shop: ShopServer, open_page: Opener, http: aiohttp.ClientSession
) -> None:
    agent = await live.agent(http)
    ws = Socket(await http.ws_connect(f"{live.url}/ws?token={agent['token']}"))
    page = await open_page("zh-CN")
    await open_widget(page, shop, TEXTS["zh-CN"])
    box = page.get_by_role("textbox", name=TEXTS["zh-CN"]["message"], exact=True)
    await box.focus()
    cdp = await page.context.new_cdp_session(page)
    # Typing "ni hao" with a pinyin input method: the text is a composition, candidates show.
    await cdp.send(
        "Input.imeSetComposition", {"text": "nihao", "selectionStart": 5, "selectionEnd": 5}
    )
    await expect(box).to_have_value("nihao")
    # Enter picks a candidate, as the IME sends it: keydown with isComposing and keyCode 229.
    for init in ({"isComposing": True}, {"keyCode": 229}):
        await box.evaluate(
            "(el, init) => el.dispatchEvent(new KeyboardEvent('keydown', Object.assign("
            "{key: 'Enter', code: 'Enter', bubbles: true, cancelable: true}, init)))",
            init,
        )
    await expect(box).to_have_value("nihao")
    await cdp.send("Input.insertText", {"text": "你好"})  # the candidate is committed
    await expect(box).to_have_value("你好")
    await box.press("Enter")
    # The first message the agent gets is the committed text: no Enter above sent "nihao".
    assigned = await ws.expect("conversation.assigned")
    first = await ws.expect("message.new")
    assert first["message"]["body"] == "你好", first
    assert first["message"]["conversation_id"] == assigned["conversation_id"]
    await expect(bubble(page, "你好")).to_be_visible()
    assert await page.locator(".msg.visitor").count() == 1
    await screenshot(page, "i18n-ime")
    await ws.close()


@pytest.fixture
async def closed_today(tmp_path: Path, shop: ShopServer) -> AsyncIterator[LiveKefu]:
    async with widget.closed_today(tmp_path, shop) as server:
        yield server


async def test_when_chat_opens_is_said_in_chinese_in_the_visitors_time(
    closed_today: LiveKefu, shop: ShopServer, open_page: Opener
) -> None:
    page = await open_page("zh-CN", timezone_id="Asia/Shanghai")
    await open_widget(page, shop, TEXTS["zh-CN"])
    notice = page.locator(".notice", has_text="现在是非工作时间")
    await expect(notice).to_be_visible()
    # 09:00 UTC is 17:00 in Shanghai; the day as Intl writes it in Chinese ("12月8日周二"),
    # or "today" when Shanghai is already on the opening's date.
    pattern = r"现在是非工作时间，(今天|\d{1,2}月\d{1,2}日周[一二三四五六日]) 17:00 开始服务。"
    assert re.fullmatch(pattern + TEXTS["zh-CN"]["leave_message"], await notice.inner_text())
    await screenshot(page, "i18n-zh-CN-closed")


async def test_a_refused_upload_is_said_in_chinese(
    live: LiveKefu, shop: ShopServer, open_page: Opener, tmp_path: Path
) -> None:
    program = tmp_path / "setup.exe"
    program.write_bytes(b"MZ\x90\x00" + bytes(200))  # a Windows program, not an allowed type
    page = await open_page("zh-CN")
    await open_widget(page, shop, TEXTS["zh-CN"])
    await page.locator("input[type=file]").set_input_files(str(program))
    reason = TEXTS["zh-CN"]["errors.unsupported_type"]
    refused = TEXTS["zh-CN"]["upload_failed"].format(reason=reason)
    await expect(page.locator(".notice", has_text=refused)).to_be_visible()


async def test_the_prechat_form_and_an_admins_chinese_greeting(
    live: LiveKefu, shop: ShopServer, open_page: Opener
) -> None:
    """The site asks for a name (required) and an email (optional) and has a greeting per
    language: a Chinese visitor gets the form and the greeting in Chinese."""
    assert live.node is not None and live.node.chat.greetings.sites is not None
    config = SiteConfig(
        texts={"en": SiteTexts(greeting="Hello!"), "zh-CN": SiteTexts(greeting="欢迎光临北风户外")},
        prechat=Prechat(name="required", email="optional"),
    )
    await live.node.chat.greetings.sites.save(SITE_ID, config, live.node.clock.now())
    texts = TEXTS["zh-CN"]
    page = await open_page("zh-CN")
    await page.set_viewport_size({"width": 375, "height": 812})
    await open_widget(page, shop, texts)
    await expect(page.locator(".msg.welcome")).to_have_text("欢迎光临北风户外")
    form = page.get_by_role("form", name=texts["prechat_title"])
    await expect(form.get_by_role("heading", name=texts["prechat_title"])).to_be_visible()
    optional_email = texts["optional_field"].format(label=texts["your_email"])
    await expect(form.get_by_role("textbox", name=optional_email)).to_be_visible()
    await fits(page)
    await screenshot(page, "i18n-zh-CN-prechat-375")
    await form.get_by_role("textbox", name=texts["your_name"], exact=True).fill("王伟")
    await form.get_by_role("button", name=texts["start_chat"]).click()
    box = page.get_by_role("textbox", name=texts["message"], exact=True)
    await box.fill("你好")
    await box.press("Enter")
    await expect(page.locator(".msg.visitor:not(.pending)", has_text="你好")).to_be_visible()
    # The name given in the form is the visitor's (acked: the session is stored).
    saved = await page.evaluate(
        "Object.keys(localStorage).filter(k => k.startsWith('kefu:'))"
        ".map(k => JSON.parse(localStorage.getItem(k)))[0]"
    )
    record = await live.node.repos.conversations.get(saved["conversationId"])
    assert record is not None
    visitor = await live.node.repos.visitors.get(record.visitor_id)
    assert visitor is not None and visitor.name == "王伟"
