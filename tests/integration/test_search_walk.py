"""A search narrowed by a list filter walks the filter's conversations
(``kefu.store.search_walk``) when the index's newest matches mostly fail the filter: it
must list the same conversations in the same order (newest match first) as the index
stream, page with the same key, and honour every filter, on both stores."""

from __future__ import annotations

from kefu.domain.roles import Role
from kefu.domain.search_text import parse_query
from kefu.store.conversation_search import Filters
from kefu.store.search_walk import Narrowing, walk
from tests.integration.test_search import chat, found
from tests.support.kefu import Kefu


async def test_the_walk_lists_newest_match_first_and_pages(kefu: Kefu) -> None:
    boss = await kefu.add_agent("Sue", Role.SUPERVISOR, capacity=20)
    boss_ws = await kefu.ws(boss["token"])
    token = boss["token"]
    a, _ = await chat(kefu, boss_ws, ["常见问题 alpha"])
    b, _ = await chat(kefu, boss_ws, ["常见问题 beta"])
    c, _ = await chat(kefu, boss_ws, ["别的 other"])
    d, _ = await chat(kefu, boss_ws, ["hello"], name="常见先生")
    e, _ = await chat(kefu, boss_ws, ["常见问题 still open"])
    # a gets the newest message of all, which does not match: its newest match stays
    # the oldest, so it is listed last although the walk meets it first.
    await boss_ws.send(
        {"type": "message.send", "client_msg_id": "later", "conversation_id": a, "body": "好的"}
    )
    await boss_ws.expect("message.ack", client_msg_id="later")
    for conversation in (a, b, c, d):
        status, _ = await kefu.post(f"/api/v1/conversations/{conversation}/close", token)
        assert status == 200
    status, _ = await kefu.put(f"/api/v1/conversations/{b}/labels", token, {"labels": ["vat"]})
    assert status == 200
    status, _ = await kefu.put(
        f"/api/v1/conversations/{a}/customer", token, {"customer_key": "C1001"}
    )
    assert status == 200
    phrases = parse_query("常见")
    closed = Narrowing(status="closed")
    db = kefu.node.repos.db

    async def walked(narrowing: Narrowing, limit: int, window: int = 1) -> list[str]:
        seen: list[str] = []
        below = None
        await db.search_caught_up()  # SQLite indexes just behind the chat's commits
        for _ in range(20):
            async with db.connect() as conn:
                page = await walk(conn, phrases, narrowing, below=below, limit=limit, window=window)
            assert len(page.ids) <= limit
            seen += page.ids
            if page.after is None:
                return seen
            below = page.after
        raise AssertionError("the walk never ended")

    # Windows of one conversation (the threshold at work), pages of two and of ten.
    assert await walked(closed, 2) == [d, b, a]
    assert await walked(closed, 10) == [d, b, a]
    assert await walked(closed, 10, window=100) == [d, b, a]
    # The index stream gives the same order (the REST search over this small index).
    assert await found(kefu, token, q="常见", status="closed") == [d, b, a]
    assert await walked(Narrowing(status="open"), 2) == [e]
    assert await walked(Narrowing(label="vat"), 2) == [b]
    assert await walked(Narrowing(customer_key="C1001"), 2) == [a]
    mine = await found(kefu, token, q="常见", assignee=boss["id"])  # the index stream's
    assert e in mine
    assert await walked(Narrowing(assignee_id=boss["id"]), 2) == mine
    assert await walked(Narrowing(status="closed", label="vat"), 2) == [b]
    assert await walked(Narrowing(status="open", label="vat"), 2) == []
    assert await walked(Narrowing(status="closed"), 2) == [d, b, a]
    # Through the list: a first index read of one row fills nothing, so the walk answers.
    summaries = kefu.node.repos.summaries
    seen: list[str] = []
    before = None
    for _ in range(10):
        items, before = await summaries.search(
            status="closed", assignee_id=None, before=before, limit=2,
            filters=Filters(phrases=phrases), chunk=1,
        )  # fmt: skip
        seen += [item.record.id for item in items]
        if before is None:
            break
    assert seen == [d, b, a]
    # Several phrases: the visitor's name holds one, no message the other.
    assert await found(kefu, token, q="常见 先生", status="closed") == [d]
    assert c not in await found(kefu, token, **{"q": "别的", "status": "open"})
    await boss_ws.close()
