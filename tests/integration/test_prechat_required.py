"""The pre-chat form's required fields, enforced by the server (issue 15), on SQLite and
PostgreSQL over a real socket and real REST: a visitor session without them is refused
422 ``prechat_required`` and no visitor is stored; a visitor who lacks them (its session
began before the admin required them) gets the ``error`` frame for the message that would
open a conversation, and no conversation or message is stored; a bad email is refused
and stores nothing; optional fields and a conversation already going are left alone."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from kefu.config import Settings
from kefu.domain.roles import Role
from kefu.store.tables import conversations, messages, visitors
from tests.support.kefu import Kefu


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(sites=[{"id": "shop", "name": "Acme Shop", "origins": []}])


async def require(kefu: Kefu, site: str, name: str = "off", email: str = "off") -> None:
    root = (await kefu.add_agent(f"Root{secrets.token_hex(2)}", Role.ADMIN))["token"]
    status, body = await kefu.put(
        f"/api/v1/sites/{site}/settings", root, {"prechat": {"name": name, "email": email}}
    )
    assert status == 200, body


async def count(kefu: Kefu, table: sa.Table) -> int:
    async with kefu.node.repos.db.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar())


async def new_visitor(kefu: Kefu, **fields: Any) -> tuple[int, Any]:
    return await kefu.post("/api/v1/visitors", None, fields)


def refused(body: Any, code: str) -> str:
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code, body
    message: str = body["error"]["message"]
    return message


@pytest.mark.parametrize(
    ("fields", "code", "says"),
    [
        ({"site": "shop"}, "prechat_required", "name and email"),
        ({"site": "shop", "name": "Vera"}, "prechat_required", "email"),
        ({"site": "shop", "email": "vera@example.com"}, "prechat_required", "name"),
        ({"site": "shop", "name": "   ", "email": "vera@example.com"}, "validation_error", "name"),
        ({"site": "shop", "name": "Vera", "email": "not-an-email"}, "validation_error", "email"),
        (
            {"site": "shop", "name": "Vera", "email": "v@x.com\r\nBcc: a@b.c"},
            "validation_error",
            "",
        ),
    ],
)
async def test_a_session_without_the_required_fields_is_refused_and_stores_nothing(
    kefu: Kefu, fields: dict[str, Any], code: str, says: str
) -> None:
    await require(kefu, "shop", name="required", email="required")
    before = await count(kefu, visitors)
    status, body = await new_visitor(kefu, **fields)
    assert status == 422
    assert says in refused(body, code)
    assert await count(kefu, visitors) == before

    status, body = await new_visitor(kefu, site="shop", name="Vera", email="vera@example.com")
    assert status == 201, body
    assert await count(kefu, visitors) == before + 1
    ws = await kefu.ws(body["token"])
    ack = await ws.send_message("Where is my parcel?")
    assert ack["conversation_id"]
    await ws.close()


async def test_the_default_site_is_the_form_of_a_visitor_without_a_site(kefu: Kefu) -> None:
    await require(kefu, "default", email="required")
    status, body = await new_visitor(kefu)
    assert status == 422 and refused(body, "prechat_required").endswith("before a chat starts")
    status, _ = await new_visitor(kefu, site="shop")  # shop asks for nothing
    assert status == 201
    status, _ = await new_visitor(kefu, email="vera@example.com")
    assert status == 201


async def test_optional_fields_refuse_nothing(kefu: Kefu) -> None:
    await require(kefu, "shop", name="optional", email="optional")
    status, body = await new_visitor(kefu, site="shop")
    assert status == 201
    ws = await kefu.ws(body["token"])
    assert (await ws.send_message("hi"))["conversation_id"]
    await ws.close()


async def test_a_visitor_lacking_them_opens_no_conversation_over_the_socket(kefu: Kefu) -> None:
    status, early = await new_visitor(kefu, site="shop")  # before the admin asks for them
    assert status == 201
    status, going = await new_visitor(kefu, site="shop")
    assert status == 201
    going_ws = await kefu.ws(going["token"])
    started = await going_ws.send_message("I started before the form")

    await require(kefu, "shop", name="required")
    ws = await kefu.ws(early["token"])
    before = (await count(kefu, conversations), await count(kefu, messages))
    await ws.send({"type": "message.send", "client_msg_id": "m1", "body": "hello?"})
    error = await ws.expect("error", client_msg_id="m1")
    assert error["code"] == "prechat_required" and "name" in error["message"], error
    # The same again (a retry): refused again; the socket stays usable.
    await ws.send({"type": "message.send", "client_msg_id": "m1", "body": "hello?"})
    assert (await ws.expect("error", client_msg_id="m1"))["code"] == "prechat_required"
    assert (await count(kefu, conversations), await count(kefu, messages)) == before
    assert not await kefu.node.repos.conversations.search(
        status=None, assignee_id=None, visitor_id=early["visitor_id"]
    )

    # A conversation that was going before the form was required goes on, on this node
    # and (the node's memory dropped) from the store.
    again = await going_ws.send_message("still there?")
    assert again["conversation_id"] == started["conversation_id"]
    kefu.node.chat.conversations.forget_cached(started["conversation_id"])
    third = await going_ws.send_message("and now?")
    assert third["conversation_id"] == started["conversation_id"]

    # The form relaxed: the same visitor may start.
    await require(kefu, "shop", name="optional")
    ack = await ws.send_message("hello again")
    assert ack["conversation_id"] != started["conversation_id"]
    await ws.close()
    await going_ws.close()
