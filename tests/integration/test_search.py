"""Finding conversations, as a client of ``GET /api/v1/conversations`` sees it, on both
stores: ``q`` over message text (Chinese substrings of two characters too, private notes
for agents), visitor names and emails; the filters (status, assignee, label, customer);
paging with ``next``; bad queries refused in CONTRACT's shape; erased text never found."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa

from kefu.domain.roles import Role
from kefu.domain.search_text import parse_query
from kefu.store.conversation_search import Filters
from tests.support.kefu import Kefu, Socket


async def chat(
    kefu: Kefu, agent_ws: Socket, lines: list[str], **visitor: Any
) -> tuple[str, dict[str, Any]]:
    """A visitor who says ``lines``; the conversation's id once it is assigned."""
    made = await kefu.visitor(**visitor)
    socket = await kefu.ws(made["token"])
    conversation = ""
    for line in lines:
        ack = await socket.send_message(line)
        conversation = str(ack["conversation_id"])
    await agent_ws.expect("conversation.assigned", conversation_id=conversation)
    await socket.close()
    return conversation, made


async def found(kefu: Kefu, token: str, **query: str) -> list[str]:
    status, page = await kefu.get(f"/api/v1/conversations?{urlencode(query)}", token)
    assert status == 200, page
    return [item["id"] for item in page["items"]]


async def test_search_finds_text_names_and_emails_in_chinese_and_english(kefu: Kefu) -> None:
    boss = await kefu.add_agent("Sue", Role.SUPERVISOR)
    boss_ws = await kefu.ws(boss["token"])
    parcel, _ = await chat(kefu, boss_ws, ["你好", "我的订单没有到\uff0c单号 SF1234567"])
    refund, _ = await chat(
        kefu,
        boss_ws,
        ["I want a REFUND for the blue kettle"],
        name="王小明",
        email="ming@example.cn",
    )
    other, _ = await chat(
        kefu, boss_ws, ["请问营业时间\uff1f"], name="Alice Wong", email="alice.wong@mail.com"
    )
    token = boss["token"]

    assert await found(kefu, token, q="订单") == [parcel]  # two characters, mid-sentence
    assert await found(kefu, token, q="订单没有到") == [parcel]
    assert await found(kefu, token, q="单没") == [parcel]
    assert await found(kefu, token, q="订单到") == []  # not a substring
    assert await found(kefu, token, q="sf1234567") == [parcel]  # case folded
    assert await found(kefu, token, q="refund kettle") == [refund]  # every word
    assert await found(kefu, token, q="refund parcel") == []
    assert await found(kefu, token, q="refun") == [refund]  # a word's beginning
    assert await found(kefu, token, q="小明") == [refund]  # the visitor's name
    assert await found(kefu, token, q="ming@example") == [refund]  # and email
    assert await found(kefu, token, q="wong@mail.com") == [other]
    assert await found(kefu, token, q="Alice") == [other]
    assert await found(kefu, token, q="营业时间") == [other]
    full_width = "\uff32\uff25\uff26\uff35\uff2e\uff24"  # REFUND typed full-width
    assert await found(kefu, token, q=full_width) == [refund]
    # Several matches: newest activity first.
    assert await found(kefu, token, q="com") == [other]
    assert set(await found(kefu, token, q="example.cn 王小明")) == {refund}
    await boss_ws.close()


async def test_private_notes_are_searched_by_agents(kefu: Kefu) -> None:
    ann = await kefu.add_agent("Ann")
    ann_ws = await kefu.ws(ann["token"])
    conversation, _ = await chat(kefu, ann_ws, ["hello"])
    await ann_ws.send(
        {
            "type": "message.send",
            "client_msg_id": "note-1",
            "conversation_id": conversation,
            "body": "客户是老会员\uff0c优先处理",
            "internal": True,
        }
    )
    await ann_ws.expect("message.ack", client_msg_id="note-1")
    assert await found(kefu, ann["token"], q="老会员") == [conversation]
    await ann_ws.close()


async def test_search_combines_with_the_filters_and_pages(kefu: Kefu) -> None:
    boss = await kefu.add_agent("Sue", Role.SUPERVISOR)
    boss_ws = await kefu.ws(boss["token"])
    ids = []
    for n in range(5):
        conversation, _ = await chat(kefu, boss_ws, [f"发票问题 number {n}"])
        ids.append(conversation)
    token = boss["token"]
    newest_first = list(reversed(ids))

    # Pages of two, following next, until it is null.
    seen: list[str] = []
    query = {"q": "发票", "limit": "2"}
    while True:
        status, page = await kefu.get(f"/api/v1/conversations?{urlencode(query)}", token)
        assert status == 200
        seen += [item["id"] for item in page["items"]]
        if page["next"] is None:
            break
        query["cursor"] = page["next"]
    assert seen == newest_first

    status, _ = await kefu.post(f"/api/v1/conversations/{ids[0]}/close", token)
    assert status == 200
    status, _ = await kefu.put(f"/api/v1/conversations/{ids[1]}/labels", token, {"labels": ["vat"]})
    assert status == 200
    assert await found(kefu, token, q="发票", status="closed") == [ids[0]]
    assert ids[0] not in await found(kefu, token, q="发票", status="open")
    assert await found(kefu, token, q="发票", label="vat") == [ids[1]]
    assert await found(kefu, token, q="number 3") == [ids[3]]
    assert set(await found(kefu, token, q="发票", assignee="me")) == set(ids)

    # The customer filter: a manual link, and the site's signed identity.
    status, _ = await kefu.put(
        f"/api/v1/conversations/{ids[2]}/customer", token, {"customer_key": "C1001"}
    )
    assert status == 200
    assert await found(kefu, token, customer_key="C1001") == [ids[2]]
    assert await found(kefu, token, customer_key="C1001", q="发票") == [ids[2]]
    assert await found(kefu, token, customer_key="C1001", q="nothing-like-it") == []
    await boss_ws.close()


async def test_bad_queries_are_refused_and_change_nothing(kefu: Kefu) -> None:
    boss = await kefu.add_agent("Sue", Role.SUPERVISOR)
    boss_ws = await kefu.ws(boss["token"])
    await chat(kefu, boss_ws, ["订单"])
    for q in ("订", "a", "!!", "*", '"'):
        status, body = await kefu.get(f"/api/v1/conversations?{urlencode({'q': q})}", boss["token"])
        assert status == 400, (q, body)
        assert body["error"]["code"] == "invalid_query"
    status, body = await kefu.get(
        f"/api/v1/conversations?{urlencode({'q': 'x' * 201})}", boss["token"]
    )
    assert status == 422 and body["error"]["code"]  # the parameter's declared bound
    # Store syntax in a query is text, never syntax.
    for q in ('订单" OR "a', "订单) OR (a", "doc : 订单", "订单 & !x", "'订单'"):
        status, body = await kefu.get(f"/api/v1/conversations?{urlencode({'q': q})}", boss["token"])
        assert status == 200, (q, body)
    status, body = await kefu.get("/api/v1/conversations?customer_key=", boss["token"])
    assert status == 422 and body["error"]["code"]
    # A blank q is no filter.
    status, page = await kefu.get("/api/v1/conversations?q=%20", boss["token"])
    assert status == 200 and len(page["items"]) == 1
    await boss_ws.close()


async def test_erased_text_is_never_found_again(kefu: Kefu) -> None:
    root = await kefu.add_agent("Root", Role.ADMIN)
    root_ws = await kefu.ws(root["token"])
    kept, _ = await chat(kefu, root_ws, ["保留的对话 keepme"])
    erased, visitor = await chat(
        kefu, root_ws, ["我的身份证号码是 secret42"], name="赵敏", email="zhao@example.org"
    )
    assert await found(kefu, root["token"], q="身份证") == [erased]
    status, _ = await kefu.post(
        "/api/v1/privacy/erasures", root["token"], {"visitor_id": visitor["visitor_id"]}
    )
    assert status == 200
    for q in ("身份证", "secret42", "赵敏", "zhao@example"):
        assert await found(kefu, root["token"], q=q) == []
    assert await found(kefu, root["token"], q="keepme") == [kept]
    # Nothing of it is left in the index tables themselves.
    async with kefu.node.repos.db.connect() as conn:
        indexed = (await conn.execute(sa.text("SELECT count(*) FROM message_search"))).scalar()
        kept_rows = (await conn.execute(sa.text("SELECT count(*) FROM messages"))).scalar()
        assert indexed == kept_rows  # the kept chat's messages, nothing else
        rows = await conn.execute(sa.text("SELECT count(*) FROM visitor_search"))
        assert rows.scalar() == 0
    await root_ws.close()


async def test_pages_follow_the_newest_match_in_bounded_reads(kefu: Kefu) -> None:
    """Small index reads (chunk 1, budget 1) make short pages with next set; following
    next yields every match once, newest match first, the visitor-name match placed by
    its last message; a later non-matching message does not move a conversation up."""
    boss = await kefu.add_agent("Sue", Role.SUPERVISOR, capacity=20)
    boss_ws = await kefu.ws(boss["token"])
    ids = []
    for n in range(7):
        lines = ["常见问题 common"] if n % 2 == 0 else ["别的 other"]
        conversation, _ = await chat(kefu, boss_ws, lines)
        ids.append(conversation)
    by_name, _ = await chat(kefu, boss_ws, ["hello"], name="常见先生")
    # The oldest match gets new activity that does not match: it stays last.
    vsock = await kefu.ws((await kefu.visitor())["token"])
    await vsock.close()
    status, _ = await kefu.post(f"/api/v1/conversations/{ids[0]}/close", boss["token"])
    assert status == 200
    expected = [by_name, ids[6], ids[4], ids[2], ids[0]]
    summaries = kefu.node.repos.summaries
    seen: list[str] = []
    before = None
    pages = 0
    short_with_next = False
    while True:
        items, before = await summaries.search(
            status=None,
            assignee_id=None,
            before=before,
            limit=2,
            filters=Filters(phrases=parse_query("常见")),
            chunk=1,
            budget=1,
        )
        pages += 1
        short_with_next = short_with_next or (len(items) < 2 and before is not None)
        seen += [item.record.id for item in items]
        if before is None:
            break
        assert pages < 20
    assert seen == expected
    assert short_with_next  # the budget ended a page early and said where to go on
    # Through REST, with the default bounds, the same order in pages of two.
    seen = []
    query = {"q": "常见", "limit": "2"}
    while True:
        status, page = await kefu.get(f"/api/v1/conversations?{urlencode(query)}", boss["token"])
        assert status == 200
        seen += [item["id"] for item in page["items"]]
        if page["next"] is None:
            break
        query["cursor"] = page["next"]
    assert seen == expected
    # A search's cursor does not page the plain list, nor the other way round.
    status, plain = await kefu.get("/api/v1/conversations?limit=1", boss["token"])
    status, body = await kefu.get(
        f"/api/v1/conversations?{urlencode({'q': '常见', 'cursor': plain['next']})}",
        boss["token"],
    )
    assert status == 400 and body["error"]["code"] == "invalid_cursor"
    await boss_ws.close()
