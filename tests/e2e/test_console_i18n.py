"""The console in Chinese and English (issue 16), in Chromium.

- A browser whose language is zh-CN gets a Chinese console: the login page, the inbox, a
  chat with the visitor details and the 360 panel, the agent's language menu, the bell and the
  shortcut help show no English word outside a short allow-list (product names, the English
  language's own name, the visitor's user agent); at 1280x800, 1366x768 and 375x812.
- ``?lang=en`` / ``?lang=zh-CN`` override the browser.
- The language the agent picks in their menu is saved on their account: it survives a reload
  and follows them to a second browser whose own language is English.
- Enter while a pinyin composition is open (CDP ``Input.imeSetComposition``) does not send.
"""

# ruff: noqa: RUF001 (Chinese text uses full-width punctuation on purpose)
from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any

import pytest
from playwright.async_api import Page, expect

from kefu.config import Settings
from kefu.domain.roles import Role
from tests.support.browser import Opener, shot
from tests.support.kefu import PASSWORD, PASSWORD_HASH, Kefu
from tests.support.layout import SIZES, boxes, off_screen, overlapping

# Words a Chinese screen may show: the product, the English language's own name in the
# language menu, what the visitor's HTTP client calls itself (the details' browser row), and
# the codes a Chinese team writes in Latin letters (IP, ID).
ALLOWED_ENGLISH = {"kefu", "English", "Python", "aiohttp", "IP", "ID"}

# Every shown text node (key caps aside) and shown attribute (placeholder, title, aria-label,
# alt) of the page.
_SHOWN_TEXT = """() => {
  const out = [];
  const shown = (el) => el && el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true });
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    // Key caps (<kbd>Enter</kbd>) are printed on the keys, in Latin letters everywhere.
    const parent = node.parentElement;
    if (text && shown(parent) && !parent.closest("svg, kbd")) out.push(text);
  }
  for (const el of document.body.querySelectorAll("[placeholder], [title], [aria-label], [alt]")) {
    if (!shown(el)) continue;
    for (const name of ["placeholder", "title", "aria-label", "alt"]) {
      const value = el.getAttribute(name);
      if (value) out.push(value);
    }
  }
  out.push(document.title);
  return out;
}"""


SITE = "shop-cn"


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    """A Chinese shop: what kefu itself writes to its visitors (welcome, system lines) is in
    Chinese, as a Chinese team runs it (``locale`` of the site, issue 16)."""
    return settings_factory(sites=[{"id": SITE, "name": "中文商店", "locale": "zh-CN"}])


@pytest.fixture
def login_refused(expected_errors: list[re.Pattern[str]]) -> None:
    """Chromium logs the 401 of a wrong password as a console error."""
    expected_errors.append(re.compile(r"status of 401 .*/api/v1/auth/login"))


async def english_on(page: Page) -> list[str]:
    """The shown texts that hold an English word (two letters or more) not allowed."""
    texts: list[str] = await page.evaluate(_SHOWN_TEXT)
    return [text for text in texts if set(re.findall(r"[A-Za-z]{2,}", text)) - ALLOWED_ENGLISH]


async def add_chinese_agent(kefu: Kefu, name: str = "王芳") -> dict[str, Any]:
    email = f"agent-{secrets.token_hex(3)}@example.test"
    await kefu.node.repos.agents.create(
        email=email,
        name=name,
        role=Role.AGENT,
        password_hash=PASSWORD_HASH,
        now=kefu.node.clock.now(),
    )
    return await kefu.login(email)


async def sign_in(page: Page, kefu: Kefu, email: str, query: str = "") -> None:
    """Signs in through the form's fields by id: their labels are in either language."""
    await page.goto(kefu.url(f"/console{query}"))
    await page.locator("#login-email").fill(email)
    await page.locator("#login-password").fill(PASSWORD)
    await page.locator("#login-form button[type=submit]").click()
    await expect(page.locator("#conn-state.online")).to_be_visible()


async def header_fits(page: Page) -> None:
    """The agent's row (name, status, away, language) sits in the list pane, nothing overlaps."""
    parts = await boxes(page, "#me-name", "#conn-state", "#away-btn", "#lang-select")
    assert len(parts) == 4, parts
    assert overlapping(parts) == []
    assert await off_screen(page, ".me *") == []


@pytest.mark.parametrize(("width", "height"), SIZES)
async def test_a_chinese_browser_gets_a_chinese_console(
    kefu: Kefu, browser: Opener, width: int, height: int, login_refused: None
) -> None:
    agent = await add_chinese_agent(kefu)
    for colleague in ("张伟", "李娜", "陈静"):  # zhang, li, chen: listed chen, li, zhang
        await add_chinese_agent(kefu, colleague)
    page = await browser(width, height, locale="zh-CN")
    size = f"{width}x{height}"

    await page.goto(kefu.url("/console"))
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    await expect(page.locator("#login-form h1")).to_have_text("登录客服工作台")
    await expect(page.locator("#login-form").get_by_label("邮箱")).to_be_visible()
    assert await english_on(page) == []
    await shot(page, f"i18n-zh-login-{size}")

    # A wrong password: the server's code, in Chinese.
    await page.locator("#login-email").fill(agent["email"])
    await page.locator("#login-password").fill("not the password")
    await page.get_by_role("button", name="登录").click()
    await expect(page.locator("#login-error")).to_have_text("邮箱或密码错误。")

    await sign_in(page, kefu, agent["email"])
    await expect(page.locator("#conn-state")).to_have_text("在线")
    await expect(page.locator("#conv-empty")).to_have_text("这里还没有会话。")
    assert await english_on(page) == []
    await header_fits(page)

    # A visitor writes: the conversation is hers; the chat, details and 360 panel in Chinese.
    visitor = await kefu.visitor(name="李伟", site=SITE)
    socket = await kefu.ws(visitor["token"])
    ack = await socket.send_message("你好，我的订单还没到")
    row = page.locator(f'#conv-list li[data-id="{ack["conversation_id"]}"]')
    await expect(row).to_contain_text("李伟")
    # The preview is the visitor's words, not the bot's welcome after them (issue 15 item 12).
    await expect(row.locator(".conv-preview")).to_have_text("你好，我的订单还没到")
    await row.click()
    await expect(page.locator("#messages .msg.visitor")).to_contain_text("你好，我的订单还没到")
    await expect(page.locator("#chat-sub")).to_have_text("已分配给你")
    # Colleagues to transfer to, in pinyin order, with their presence in Chinese.
    await expect(page.locator("#transfer-select option")).to_have_text(
        ["转接给…", "陈静 · 离线", "李娜 · 离线", "张伟 · 离线"]
    )
    await expect(page.locator("#composer-input")).to_have_attribute(
        "placeholder", "回复…（输入 / 使用快捷回复）"
    )
    await page.locator("#composer-input").fill("您好，我来帮您查一下")
    await page.locator("#composer-input").press("Enter")
    await expect(page.locator("#messages .msg.agent .when").last).to_contain_text("我 · ")
    if width < 720:
        await shot(page, f"i18n-zh-chat-{size}")
        assert await english_on(page) == []
        await page.get_by_role("button", name="访客信息").click()  # the drawer
        await expect(page.locator("#details-close")).to_be_visible()
    await expect(page.locator("#visitor-details")).to_contain_text("姓名")
    assert await english_on(page) == []
    await shot(page, f"i18n-zh-chat-details-{size}")
    if width < 720:
        await page.locator("#details-close").click()
        await page.locator("#back-btn").click()

    # The agent's menu: the language select and the away pill; the shortcut help; the bell.
    select = page.get_by_role("combobox", name="语言")
    await expect(select).to_have_value("")
    await expect(select.locator("option:checked")).to_have_text("跟随浏览器")
    await expect(page.locator("#away-btn")).to_have_text("设为离开")
    await page.locator("#away-btn").click()
    await expect(page.locator("#conn-state")).to_have_text("离开")
    await expect(page.locator("#away-btn")).to_have_text("我回来了")
    assert await english_on(page) == []
    await header_fits(page)
    await page.locator("#conv-list").focus()
    await page.keyboard.press("?")
    await expect(page.locator("#shortcuts-h")).to_have_text("键盘快捷键")
    assert await english_on(page) == []
    await shot(page, f"i18n-zh-shortcuts-{size}")
    await page.keyboard.press("Escape")
    await page.get_by_role("button", name="通知").click()
    await expect(page.locator("#bell-empty")).to_have_text("暂无通知。")
    assert await english_on(page) == []
    await shot(page, f"i18n-zh-bell-{size}")
    await socket.close()


async def test_the_lang_parameter_overrides_the_browser(kefu: Kefu, browser: Opener) -> None:
    agent = await add_chinese_agent(kefu)
    chinese = await browser(1280, 800, locale="zh-CN")
    await chinese.goto(kefu.url("/console?lang=en"))
    await expect(chinese.locator("html")).to_have_attribute("lang", "en")
    await expect(chinese.locator("#login-form h1")).to_have_text("Sign in to the agent console")
    await sign_in(chinese, kefu, agent["email"], "?lang=en")
    await expect(chinese.locator("#conn-state")).to_have_text("online")
    await expect(chinese.get_by_role("tab", name="Mine")).to_be_visible()
    # Picking a language in the menu drops ?lang= so the saved choice shows.
    await chinese.get_by_role("combobox", name="Language").select_option("zh-CN")
    await expect(chinese.locator("#conn-state")).to_have_text("在线")
    assert "lang=" not in chinese.url
    language = chinese.get_by_role("combobox", name="语言")
    await expect(language).to_have_attribute("data-saved", "zh-CN")
    await language.select_option("")  # back to the browser's (Chinese here: no reload)
    await expect(language).to_have_attribute("data-saved", "")
    status, me = await kefu.get("/api/v1/auth/me", agent["token"])
    assert status == 200 and me["language"] is None

    english = await browser(375, 812, locale="en-US")
    await english.goto(kefu.url("/console?lang=zh-CN"))
    await expect(english.locator("html")).to_have_attribute("lang", "zh-CN")
    await expect(english.locator("#login-form h1")).to_have_text("登录客服工作台")
    assert await english_on(english) == []
    await english.goto(kefu.url("/console"))
    await expect(english.locator("#login-form h1")).to_have_text("Sign in to the agent console")
    # English words are longer: the agent's row still fits a phone.
    await sign_in(english, kefu, agent["email"])
    await expect(english.get_by_role("combobox", name="Language")).to_have_value("")
    await header_fits(english)
    await shot(english, "i18n-en-header-375x812")


async def test_the_language_an_agent_picks_follows_them_to_another_browser(
    kefu: Kefu, browser: Opener
) -> None:
    agent = await add_chinese_agent(kefu)
    page = await browser(1366, 768, locale="en-US")
    await sign_in(page, kefu, agent["email"])
    await expect(page.locator("#conn-state")).to_have_text("online")
    select = page.get_by_role("combobox", name="Language")
    await expect(select.locator("option:checked")).to_have_text("Browser language")
    await header_fits(page)
    await shot(page, "i18n-en-1366x768")

    await select.select_option("zh-CN")  # saved, then the page reloads in Chinese
    await expect(page.locator("#conn-state")).to_have_text("在线")
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    status, me = await kefu.get("/api/v1/auth/me", agent["token"])
    assert status == 200 and me["language"] == "zh-CN"
    await page.reload()
    await expect(page.locator("#conn-state")).to_have_text("在线")
    await expect(page.get_by_role("combobox", name="语言")).to_have_value("zh-CN")
    assert await english_on(page) == []
    await shot(page, "i18n-zh-picked-1366x768")

    # Another device, an English browser: the saved choice wins once signed in.
    other = await browser(375, 812, locale="en-US")
    await other.goto(kefu.url("/console"))
    await expect(other.locator("#login-form h1")).to_have_text("Sign in to the agent console")
    await sign_in(other, kefu, agent["email"])
    await expect(other.locator("#conn-state")).to_have_text("在线")
    await expect(other.get_by_role("tab", name="我的")).to_be_visible()
    assert await english_on(other) == []
    await header_fits(other)
    await shot(other, "i18n-zh-other-device-375x812")

    # Back to the browser's language: English again, and saved as "follow the browser".
    await other.get_by_role("combobox", name="语言").select_option("")
    await expect(other.locator("#conn-state")).to_have_text("online")
    status, me = await kefu.get("/api/v1/auth/me", agent["token"])
    assert status == 200 and me["language"] is None


async def test_enter_while_a_pinyin_composition_is_open_does_not_send(
    kefu: Kefu, browser: Opener
) -> None:
    agent = await add_chinese_agent(kefu)
    page = await browser(1280, 800, locale="zh-CN")
    await sign_in(page, kefu, agent["email"])
    visitor = await kefu.visitor(name="李伟", site=SITE)
    socket = await kefu.ws(visitor["token"])
    ack = await socket.send_message("在吗？")
    await page.locator(f'#conv-list li[data-id="{ack["conversation_id"]}"]').click()
    box = page.locator("#composer-input")
    await expect(box).to_be_enabled()
    await box.focus()
    cdp = await page.context.new_cdp_session(page)

    # "ni hao" typed with a pinyin input method: a composition, candidates showing.
    await cdp.send(
        "Input.imeSetComposition", {"text": "nihao", "selectionStart": 5, "selectionEnd": 5}
    )
    await expect(box).to_have_value("nihao")
    # Enter that picks a candidate: as Chromium reports it (CDP, during the composition),
    # and the keydowns an IME sends (isComposing; keyCode 229).
    await cdp.send(
        "Input.dispatchKeyEvent",
        {"type": "rawKeyDown", "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 229},
    )
    for init in ({"isComposing": True}, {"keyCode": 229}):
        await box.evaluate(
            "(el, init) => el.dispatchEvent(new KeyboardEvent('keydown', Object.assign("
            "{key: 'Enter', code: 'Enter', bubbles: true, cancelable: true}, init)))",
            init,
        )
    await expect(box).to_have_value("nihao")
    await cdp.send("Input.insertText", {"text": "你好"})  # the candidate is committed
    await expect(box).to_have_value("你好")

    # The same in the label field: Enter during a composition adds no label.
    labels = page.get_by_role("combobox", name="添加标签")  # an input with suggestions
    await labels.focus()
    await cdp.send(
        "Input.imeSetComposition", {"text": "vip", "selectionStart": 3, "selectionEnd": 3}
    )
    await labels.evaluate(
        "(el) => el.dispatchEvent(new KeyboardEvent('keydown', "
        "{key: 'Enter', bubbles: true, cancelable: true, isComposing: true}))"
    )
    await cdp.send("Input.insertText", {"text": "重要"})
    await labels.press("Enter")
    await expect(page.locator("#chat-labels .label-chip > span")).to_have_text(["重要"])

    # Now Enter sends: the first message the visitor gets from the agent is the committed text.
    await box.focus()
    await box.press("Enter")
    while True:
        frame = await socket.expect("message.new")
        if frame["message"]["sender"]["kind"] == "agent":
            break
    assert frame["message"]["body"] == "你好", frame
    await expect(page.locator("#messages .msg.agent:not(.pending)")).to_have_count(1)
    status, page_of = await kefu.get(
        f"/api/v1/conversations/{ack['conversation_id']}/messages?limit=50", agent["token"]
    )
    assert status == 200
    assert [m["body"] for m in page_of["items"] if m["sender"]["kind"] == "agent"] == ["你好"]
    await shot(page, "i18n-ime-1280x800")
    await socket.close()


async def test_the_i18n_helpers_follow_the_language(kefu: Kefu, browser: Opener) -> None:
    """t, tn, errorText and the Intl formats of src/kefu/web/console/i18n.js, in each language."""
    probe = """async () => {
      const i18n = await import("/console/i18n.js");
      const at = "2026-12-07T14:05:00Z";
      return {
        lang: i18n.lang(),
        filled: i18n.t("chat.typing", { name: "Li" }),
        missing: i18n.t("no.such_key"),
        one: i18n.tn("inbox.unread", 1),
        many: i18n.tn("inbox.unread", 1200),
        known: i18n.errorText("not_waiting"),
        unknown: i18n.errorText("no_such_code"),
        fallback: i18n.errorText("no_such_code", "as the server said"),
        duration: i18n.fmtDuration(245),
        hours: i18n.fmtDuration(3 * 3600 + 60),
        money: i18n.fmtMoney(1299, "CNY"),
        badMoney: i18n.fmtMoney(5, "not a currency"),
        number: i18n.fmtNumber(12345.5),
        date: i18n.fmtDate(at),
        relative: i18n.fmtRelative(at, Date.parse(at) + 3 * 60000),
      };
    }"""
    english = await browser(1280, 800, locale="en-US")
    await english.goto(kefu.url("/console"))
    en = await english.evaluate(probe)
    assert en["lang"] == "en"
    assert en["filled"] == "Li is typing…" and en["missing"] == "no.such_key"
    assert (en["one"], en["many"]) == ("1 unread", "1,200 unread")
    assert en["known"] == "Another agent took this conversation first."
    assert en["unknown"] == "Something went wrong. Try again."
    assert en["fallback"] == "as the server said"
    assert (en["duration"], en["hours"]) == ("4m 5s", "3h 1m")
    assert en["money"] == "CN¥1,299.00" and en["badMoney"] == "5 not a currency"
    assert en["number"] == "12,345.5" and en["date"] == "Dec 7, 2026"
    assert en["relative"] == "3 minutes ago"

    chinese = await browser(1280, 800, locale="zh-CN")
    await chinese.goto(kefu.url("/console"))
    zh = await chinese.evaluate(probe)
    assert zh["lang"] == "zh-CN"
    assert zh["filled"] == "Li正在输入…"
    assert (zh["one"], zh["many"]) == ("1 条未读", "1,200 条未读")
    assert zh["known"] == "其他坐席已先接入该会话。"
    assert zh["unknown"] == "出了点问题，请重试。"
    assert (zh["duration"], zh["hours"]) == ("4分钟5秒", "3小时1分钟")
    assert zh["money"] == "¥1,299.00"
    assert zh["date"] == "2026年12月7日" and zh["relative"] == "3分钟前"
