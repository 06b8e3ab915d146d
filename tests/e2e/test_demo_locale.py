# Chinese expectations use Chinese punctuation on purpose.
# ruff: noqa: RUF001
"""`kefu demo --locale zh-CN` as people run it (the CLI in a subprocess): a Chinese shop
page whose widget and bot speak Chinese in Chromium, Chinese customers in the simulated
CRM / orders / call center behind the 360, Chinese canned replies and rule texts, the
site's locale zh-CN. A bad --locale is a one-line error. (The English demo is
tests/integration/test_demo.py, unchanged.)"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import async_playwright, expect

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.cli import assert_one_line_error, clean_env, kefu_cli, kefu_demo
from tests.support.layout import SIZES
from tests.support.widget import screenshot


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    """The running demo: its printed kefu URL, shop URL and whole output."""
    async with kefu_demo(tmp_path, "--locale", "zh-CN") as running:
        yield running


async def login(http: aiohttp.ClientSession, kefu: str, email: str, password: str) -> str:
    async with http.post(
        kefu + "/api/v1/auth/login", json={"email": email, "password": password}
    ) as resp:
        assert resp.status == 200
        body: dict[str, Any] = await resp.json()
    return str(body["token"])


async def test_the_chinese_demo(demo: dict[str, str], tmp_path: Path) -> None:
    kefu, shop = demo["kefu"], demo["shop"]
    async with aiohttp.ClientSession() as http:
        async with http.get(shop + "/") as resp:
            page = await resp.text()
        assert '<html lang="zh-CN">' in page and "北风户外" in page
        assert f'src="{kefu}/widget.js" data-kefu-site="demo-shop"' in page
        async with http.get(kefu + "/api/v1/availability?site=demo-shop") as resp:
            assert (await resp.json())["locale"] == "zh-CN"

        token = await login(http, kefu, "agent@kefu.demo", "kefu-agent")
        auth = {"Authorization": f"Bearer {token}"}
        async with http.get(kefu + "/api/v1/canned-replies", headers=auth) as resp:
            canned = {c["shortcut"]: c for c in await resp.json()}
        assert canned["hello"]["title"] == "问候"
        assert canned["hello"]["body"] == "您好！请问有什么可以帮您？"
        async with http.get(kefu + "/api/v1/team", headers=auth) as resp:
            names = {member["name"] for member in await resp.json()}
        assert names >= {"陈静", "孙明", "李娜", "赵磊"}, names
        # The 360 from the simulated CRM, orders database and call center, in Chinese.
        body: dict[str, Any] = {}
        for _ in range(30):
            async with http.get(kefu + "/api/v1/customers/C1001/360", headers=auth) as resp:
                body = await resp.json()
            if all(s["status"] == "ok" for s in body["sources"].values()):
                break
            await asyncio.sleep(0.5)  # poll interval only: a cold first 360 may time out
        assert body["customer"]["name"] == "李伟"
        assert body["customer"]["company"] == "上海兰亭贸易有限公司"
        assert body["orders"] and {o["currency"] for o in body["orders"]} == {"CNY"}
        chinese = re.compile(r"[\u4e00-\u9fff]")
        assert body["calls"] and all(chinese.search(call["agent"]) for call in body["calls"])
        assert any(chinese.search(call["notes"]) for call in body["calls"])

        # The complaint rule's ticket subject is the Chinese one.
        key = re.search(r"Bearer (kefu_[A-Za-z0-9_\-]+)", demo["output"])
        assert key is not None
        async with http.post(
            kefu + "/api/v1/events",
            headers={"Authorization": f"Bearer {key[1]}"},
            json={
                "type": "customer.complaint",
                "customer_key": "C1001",
                "data": {"summary": "包裹丢失"},
            },
        ) as resp:
            assert resp.status == 202
        boss = await login(http, kefu, "supervisor@kefu.demo", "kefu-super")
        subjects: list[str] = []
        for _ in range(100):
            async with http.get(
                kefu + "/api/v1/tickets?customer_key=C1001",
                headers={"Authorization": f"Bearer {boss}"},
            ) as resp:
                subjects = [t["subject"] for t in (await resp.json())["items"]]
            if subjects:
                break
            await asyncio.sleep(0.1)  # poll interval only: the rule runs asynchronously
        assert subjects == ["投诉：包裹丢失"]

    # A visitor on the shop page, in a Chinese browser: the widget and the bot in Chinese.
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium"),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            locale="zh-CN",
            viewport={"width": 1280, "height": 800},
        )
        tab = context.pages[0] if context.pages else await context.new_page()
        tab.set_default_timeout(15_000)
        await tab.goto(shop + "/")
        await expect(tab.get_by_role("heading", name="风暴冲锋衣")).to_be_visible()
        await tab.get_by_role("button", name="打开对话", exact=True).click()
        box = tab.get_by_role("textbox", name="消息", exact=True)
        await box.fill("你好")
        await box.press("Enter")
        # The site's welcome and offline notice (kefu's own, in the site's locale) ...
        await expect(tab.locator(".msg.bot", has_text="感谢您的咨询")).to_be_visible()
        await expect(tab.locator(".msg.bot", has_text="目前没有客服在线")).to_be_visible()
        # ... and the demo's Chinese auto-reply for "营业时间".
        await box.fill("请问营业时间是几点？")
        await box.press("Enter")
        await expect(tab.locator(".msg.bot", has_text="周一至周五")).to_be_visible()
        for width, height in SIZES:
            await tab.set_viewport_size({"width": width, "height": height})
            await screenshot(tab, f"demo-zh-CN-{width}")
        await context.close()


async def test_a_locale_the_demo_does_not_have_is_a_one_line_error(tmp_path: Path) -> None:
    result = await kefu_cli("demo", "--locale", "fr", env=clean_env(KEFU_DATA_DIR=str(tmp_path)))
    assert_one_line_error(result, "--locale", "zh-CN", "fr")
