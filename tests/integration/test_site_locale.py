# Chinese expectations use Chinese punctuation on purpose.
# ruff: noqa: RUF001
"""kefu's own words follow the site's ``locale`` (issue 16, CONTRACT.md "Languages"), over
a real WebSocket on SQLite and PostgreSQL: a zh-CN site's visitor gets the bot's welcome
and offline notice and the system lines (transferred, closed, reopened) in Chinese, an en
site's visitor the same English as before; texts an operator wrote stay as written; the
widget's availability call answers the site's locale. (A zh-CN site's mails are Chinese:
tests/integration/test_email.py::test_a_chinese_site_is_answered_in_chinese.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kefu.config import Settings
from kefu.domain.roles import Role
from tests.support.kefu import Kefu, Socket, serving

SITES = [{"id": "cn", "name": "北风商城", "locale": "zh-CN"}, {"id": "us", "name": "Northwind"}]
CHINESE = {
    "welcome": "您好！感谢您的咨询，客服人员马上为您服务。",
    "offline": "目前没有客服在线。请留下您的问题和邮箱，我们会尽快回复您。",
    "transferred": "对话已转接给{agent}。",
    "closed": "对话已结束。",
    "reopened": "对话已重新打开。",
}
# What kefu wrote before issue 16, word for word: an en site sees no change.
ENGLISH = {
    "welcome": "Hi! Thanks for reaching out. An agent will be with you shortly.",
    "offline": "Nobody is online right now. Leave your message and email and we will get back "
    "to you.",
    "transferred": "Conversation transferred to {agent}.",
    "closed": "Conversation closed.",
    "reopened": "Conversation reopened.",
}


async def bot_lines(socket: Socket, count: int) -> list[str]:
    """The next ``count`` messages from kefu itself (bot or system), in order."""
    lines: list[str] = []
    while len(lines) < count:
        frame = await socket.expect("message.new", timeout=10)
        if frame["message"]["sender"]["kind"] in ("bot", "system"):
            lines.append(frame["message"]["body"])
    return lines


async def a_conversation_from_start_to_reopen(
    kefu: Kefu, site: str, visitor_locale: str | None
) -> list[str]:
    """A visitor of ``site`` writes while nobody is online, Ann takes it, hands it to Bo,
    Bo closes it and reopens it: everything kefu itself said to the visitor."""
    visitor = await kefu.visitor(
        site=site, **({"locale": visitor_locale} if visitor_locale else {})
    )
    socket = await kefu.ws(visitor["token"])
    await socket.send_message("有人在吗？")
    lines = await bot_lines(socket, 2)  # welcome + offline notice: nobody is online
    ann = await kefu.add_agent("Ann")
    bo = await kefu.add_agent("Bo", Role.SUPERVISOR)
    ann_socket = await kefu.ws(ann["token"])
    assigned = await ann_socket.expect("conversation.assigned", timeout=10)
    conversation = assigned["conversation_id"]
    base = f"/api/v1/conversations/{conversation}"
    status, body = await kefu.post(base + "/transfer", ann["token"], {"agent_id": bo["id"]})
    assert status == 200, body
    lines += await bot_lines(socket, 1)
    status, body = await kefu.post(base + "/close", bo["token"])
    assert status == 200, body
    lines += await bot_lines(socket, 1)
    status, body = await kefu.post(base + "/reopen", bo["token"])
    assert status == 200, body
    lines += await bot_lines(socket, 1)
    await ann_socket.close()
    await socket.close()
    return lines


def expected(texts: dict[str, str], agent: str) -> list[str]:
    return [
        texts["welcome"],
        texts["offline"],
        texts["transferred"].format(agent=agent),
        texts["closed"],
        texts["reopened"],
    ]


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(sites=SITES)


async def test_a_chinese_site_hears_kefu_in_chinese(kefu: Kefu) -> None:
    # The visitor's browser says nothing (or German): the site's locale decides.
    assert await a_conversation_from_start_to_reopen(kefu, "cn", None) == expected(CHINESE, "Bo")


async def test_an_english_site_is_unchanged(kefu: Kefu) -> None:
    lines = await a_conversation_from_start_to_reopen(kefu, "us", "de-DE")
    assert lines == expected(ENGLISH, "Bo")


async def test_texts_an_operator_wrote_stay_as_written(
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory(sites=SITES, chat={"welcome_message": "Welcome to Northwind!"})
    async with serving(settings) as kefu:
        visitor = await kefu.visitor(site="cn")
        socket = await kefu.ws(visitor["token"])
        await socket.send_message("你好")
        # The operator's welcome as written; kefu's own offline notice in Chinese.
        assert await bot_lines(socket, 2) == ["Welcome to Northwind!", CHINESE["offline"]]
        await socket.close()


async def availability(kefu: Kefu, query: str) -> tuple[int, Any]:
    async with kefu.http.get(kefu.url("/api/v1/availability" + query)) as resp:
        return resp.status, await resp.json()


async def test_the_widget_learns_the_sites_locale(kefu: Kefu) -> None:
    status, body = await availability(kefu, "?site=cn")
    assert (status, body["locale"]) == (200, "zh-CN")
    status, body = await availability(kefu, "?site=us")
    assert (status, body["locale"]) == (200, "en")
    status, body = await availability(kefu, "")
    assert (status, body["locale"]) == (200, "en")
    status, body = await availability(kefu, "?site=nowhere")
    assert status == 400
    assert body["error"]["code"] == "unknown_site" and set(body) == {"error"}


async def test_widget_js_is_one_script_with_both_catalogs(kefu: Kefu) -> None:
    """Gzipped for browsers that take it (the client here unzips), plain otherwise; each
    representation revalidates with its own ETag."""
    scripts = {}
    for encoding in ("gzip, deflate, br", "identity"):
        headers = {"Accept-Encoding": encoding}
        async with kefu.http.get(kefu.url("/widget.js"), headers=headers) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/javascript")
            assert resp.headers.get("Content-Encoding") == ("gzip" if "gzip" in encoding else None)
            assert resp.headers["Vary"] == "Accept-Encoding"
            script, etag = await resp.text(), resp.headers["ETag"]
        assert "/* kefu:texts */ { en: {} }" not in script
        assert "Conversation ended" in script and "对话已结束" in script
        headers["If-None-Match"] = etag
        async with kefu.http.get(kefu.url("/widget.js"), headers=headers) as resp:
            assert resp.status == 304 and await resp.read() == b""
        scripts[encoding] = (script, etag)
    (zipped, zipped_etag), (plain, plain_etag) = scripts.values()
    assert zipped == plain and zipped_etag != plain_etag


async def test_tickets_kefu_drafts_use_the_sites_language(kefu: Kefu) -> None:
    """From an offline message and from a chat, on the zh-CN site: kefu's own words in the
    ticket (who left it, the transcript's speakers and notes) are Chinese; on the en site
    they are the same English as before."""
    ann = await kefu.add_agent("Ann")
    for site, footer, note in (
        ("cn", "— 王伟 <wang@example.cn>，在没有客服在线时留言", "Ann（内部备注）：老客户"),
        (
            "us",
            "— 王伟 <wang@example.cn>, left while no agent was online",
            "Ann (internal note): 老客户",
        ),
    ):
        visitor = await kefu.visitor(site=site)
        status, left = await kefu.post(
            "/api/v1/offline-messages",
            visitor["token"],
            {"email": "wang@example.cn", "name": "王伟", "body": "包裹还没到"},
        )
        assert status == 201, left
        status, ticket = await kefu.post(
            f"/api/v1/offline-messages/{left['id']}/ticket", ann["token"]
        )
        assert status == 201, ticket
        assert ticket["body"] == f"包裹还没到\n\n{footer}"

        chatting = await kefu.visitor(site=site)
        socket = await kefu.ws(chatting["token"])
        await socket.send_message("我想退货")
        agent_socket = await kefu.ws(ann["token"])
        conversation = (await agent_socket.expect("conversation.assigned", timeout=10))[
            "conversation_id"
        ]
        await agent_socket.send(
            {
                "type": "message.send",
                "client_msg_id": f"n-{site}",
                "conversation_id": conversation,
                "body": "老客户",
                "internal": True,
            }
        )
        await agent_socket.expect("message.ack", client_msg_id=f"n-{site}")
        status, ticket = await kefu.post(
            f"/api/v1/conversations/{conversation}/ticket", ann["token"]
        )
        assert status == 201, ticket
        said = "] 访客：我想退货" if site == "cn" else "] Visitor: 我想退货"
        assert said in ticket["body"] and note in ticket["body"], ticket
        await agent_socket.close()
        await socket.close()
