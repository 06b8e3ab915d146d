"""Attachments, CORS, WebSocket Origin checks, ratings, visitor details and security
headers, over the public API on both stores (the ``kefu`` fixture)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from kefu.config import Settings
from kefu.domain.roles import Role
from tests.support.images import png
from tests.support.kefu import Kefu

SHOP = "http://shop.example"
OTHER_SHOP = "http://other.example"


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(
        sites=[
            {"id": "shop", "origins": [SHOP]},
            {"id": "other", "origins": [OTHER_SHOP], "identity_secret": "other-secret"},
        ],
        attachments={"max_bytes": 4096},
    )


async def upload(
    kefu: Kefu, token: str, data: bytes, name: str = "f.bin", content_type: str = "image/png"
) -> tuple[int, Any]:
    async with kefu.http.post(
        kefu.url(f"/api/v1/attachments?name={name}"),
        data=data,
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
    ) as resp:
        return resp.status, await resp.json()


async def chat(kefu: Kefu) -> tuple[dict[str, Any], dict[str, Any], str]:
    """An agent online, a visitor whose first message is assigned to it."""
    agent = await kefu.add_agent("Ann")
    agent_ws = await kefu.ws(agent["token"])
    visitor = await kefu.visitor()
    visitor_ws = await kefu.ws(visitor["token"])
    ack = await visitor_ws.send_message("hello")
    await agent_ws.close()
    await visitor_ws.close()
    return agent, visitor, ack["conversation_id"]


# -- attachments ---------------------------------------------------------------------------
async def test_type_is_sniffed_not_trusted(kefu: Kefu) -> None:
    visitor = await kefu.visitor()
    status, body = await upload(
        kefu, visitor["token"], png(2, 2, (0, 0, 0)), "notes.txt", "text/html"
    )
    assert status == 201
    assert body["content_type"] == "image/png" and body["name"] == "notes.txt"
    status, body = await upload(kefu, visitor["token"], b"just words\n", "x.png", "image/png")
    assert status == 201 and body["content_type"] == "text/plain"


async def test_unknown_types_are_refused_with_415(kefu: Kefu) -> None:
    visitor = await kefu.visitor()
    for data in (b"MZ\x90\x00\x03\x00\x00\x00" + bytes(64), b"<svg\x00 onload=x>", b"\x00\x01\x02"):
        status, body = await upload(kefu, visitor["token"], data, "cat.png", "image/png")
        assert status == 415, data
        assert body["error"]["code"] == "unsupported_type"


async def test_oversized_uploads_are_refused_with_413(kefu: Kefu) -> None:
    visitor = await kefu.visitor()
    status, body = await upload(kefu, visitor["token"], b"a" * 5000, "big.txt")
    assert status == 413 and body["error"]["code"] == "too_large"


async def test_upload_needs_a_token(kefu: Kefu) -> None:
    async with kefu.http.post(kefu.url("/api/v1/attachments"), data=b"hello") as resp:
        assert resp.status == 401
        assert (await resp.json())["error"]["code"] == "missing_token"


async def test_attachment_travels_with_the_message_and_its_history(kefu: Kefu) -> None:
    agent = await kefu.add_agent("Ann")
    agent_ws = await kefu.ws(agent["token"])
    visitor = await kefu.visitor()
    visitor_ws = await kefu.ws(visitor["token"])
    _, sent = await upload(kefu, visitor["token"], png(3, 3, (9, 9, 9)), "photo.png")
    await visitor_ws.send(
        {"type": "message.send", "client_msg_id": "m1", "body": "", "attachment_ids": [sent["id"]]}
    )
    ack = await visitor_ws.expect("message.ack", client_msg_id="m1")
    new = await agent_ws.expect("message.new")
    (carried,) = new["message"]["attachments"]
    assert carried.pop("download_url").startswith(f"/api/v1/attachments/{sent['id']}?exp=")
    assert carried == {
        "id": sent["id"],
        "name": "photo.png",
        "content_type": "image/png",
        "size": sent["size"],
        "url": f"/api/v1/attachments/{sent['id']}",
    }
    status, page = await kefu.get(
        f"/api/v1/conversations/{ack['conversation_id']}/messages", agent["token"]
    )
    assert status == 200 and page["items"][0]["attachments"][0]["id"] == sent["id"]
    # Resume replays it with its attachment too.
    await visitor_ws.send(
        {"type": "resume", "conversation_id": ack["conversation_id"], "after_message_id": ""}
    )
    replayed = await visitor_ws.expect("message.new")
    assert replayed["message"]["attachments"][0]["id"] == sent["id"]
    # Sending it a second time is refused.
    await visitor_ws.send(
        {"type": "message.send", "client_msg_id": "m2", "body": "x", "attachment_ids": [sent["id"]]}
    )
    error = await visitor_ws.expect("error", client_msg_id="m2")
    assert error["code"] == "attachment_already_sent"
    await agent_ws.close()
    await visitor_ws.close()


async def test_someone_elses_attachment_cannot_be_sent(kefu: Kefu) -> None:
    mallory = await kefu.visitor()
    victim = await kefu.visitor()
    _, theirs = await upload(kefu, victim["token"], b"secret\n", "a.txt")
    ws = await kefu.ws(mallory["token"])
    await ws.send(
        {
            "type": "message.send",
            "client_msg_id": "m",
            "body": "x",
            "attachment_ids": [theirs["id"]],
        }
    )
    assert (await ws.expect("error", client_msg_id="m"))["code"] == "attachment_not_found"
    await ws.close()


async def test_download_headers_and_access(kefu: Kefu) -> None:
    agent, visitor, conversation_id = await chat(kefu)
    _, image = await upload(kefu, visitor["token"], png(2, 2, (1, 1, 1)), "a.png")
    _, text = await upload(kefu, visitor["token"], b"<script>alert(1)</script>\n", "page.html")
    ws = await kefu.ws(visitor["token"])
    await ws.send(
        {
            "type": "message.send",
            "client_msg_id": "files",
            "body": "files",
            "conversation_id": conversation_id,
            "attachment_ids": [image["id"], text["id"]],
        }
    )
    await ws.expect("message.ack", client_msg_id="files")
    await ws.close()

    async with kefu.http.get(
        kefu.url(image["url"]), headers={"Authorization": f"Bearer {agent['token']}"}
    ) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "image/png"
        assert resp.headers["Content-Disposition"].startswith("inline")
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
    # Text (here: HTML pretending) is a download, typed as plain text, sandboxed.
    async with kefu.http.get(
        kefu.url(text["url"]), headers={"Authorization": f"Bearer {agent['token']}"}
    ) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        assert resp.headers["Content-Disposition"] == "attachment; filename*=UTF-8''page.html"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in resp.headers["Content-Security-Policy"]
        assert await resp.read() == b"<script>alert(1)</script>\n"

    # Not a participant: another visitor, another (non-supervisor) agent.
    stranger = await kefu.visitor()
    other_agent = await kefu.add_agent("Bob")
    for token in (stranger["token"], other_agent["token"]):
        async with kefu.http.get(
            kefu.url(image["url"]), headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            assert resp.status == 404
            assert (await resp.json())["error"]["code"] == "attachment_not_found"
    supervisor = await kefu.add_agent("Sue", Role.SUPERVISOR)
    async with kefu.http.get(
        kefu.url(image["url"]), headers={"Authorization": f"Bearer {supervisor['token']}"}
    ) as resp:
        assert resp.status == 200
    async with kefu.http.get(kefu.url(image["url"])) as resp:
        assert resp.status == 401


async def test_identical_files_are_stored_once(kefu: Kefu) -> None:
    visitor = await kefu.visitor()
    data = png(5, 5, (7, 7, 7))
    _, first = await upload(kefu, visitor["token"], data, "a.png")
    _, second = await upload(kefu, visitor["token"], data, "b.png")
    assert first["id"] != second["id"]
    blobs = [p for p in (kefu.node.settings.data_dir / "attachments").rglob("*") if p.is_file()]
    assert len(blobs) == 1


# -- CORS ----------------------------------------------------------------------------------
async def test_cors_preflight_only_for_site_origins_on_visitor_endpoints(kefu: Kefu) -> None:
    async def preflight(path: str, origin: str) -> aiohttp.ClientResponse:
        async with kefu.http.options(
            kefu.url(path),
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        ) as resp:
            await resp.read()
            return resp

    ok = await preflight("/api/v1/visitors", SHOP)
    assert ok.status == 204
    assert ok.headers["Access-Control-Allow-Origin"] == SHOP
    assert "Authorization" in ok.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in ok.headers
    refused = await preflight("/api/v1/visitors", "http://evil.example")
    assert refused.status == 403 and "Access-Control-Allow-Origin" not in refused.headers
    # Agent endpoints never answer CORS, whatever the origin.
    agents = await preflight("/api/v1/auth/login", SHOP)
    assert agents.status == 403 and "Access-Control-Allow-Origin" not in agents.headers


async def test_cors_headers_on_visitor_answers(kefu: Kefu) -> None:
    async with kefu.http.post(
        kefu.url("/api/v1/visitors"), json={"site": "shop"}, headers={"Origin": SHOP}
    ) as resp:
        assert resp.status == 201
        assert resp.headers["Access-Control-Allow-Origin"] == SHOP
        assert resp.headers["Vary"] == "Origin"
    async with kefu.http.post(
        kefu.url("/api/v1/visitors"), json={"site": "shop"}, headers={"Origin": OTHER_SHOP}
    ) as resp:
        assert resp.status == 403
        assert (await resp.json())["error"]["code"] == "origin_not_allowed"
    async with kefu.http.post(kefu.url("/api/v1/visitors"), json={"site": "nope"}) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"]["code"] == "unknown_site"


async def test_site_identity_secret_verifies_external_id(kefu: Kefu) -> None:
    from kefu.auth.identity import sign_external_id

    good = sign_external_id("other-secret", "cust-1")
    visitor = await kefu.visitor(site="other", external_id="cust-1", signature=good)
    stored = await kefu.node.repos.visitors.get(visitor["visitor_id"])
    assert stored is not None and stored.identity_verified and stored.site_id == "other"
    status, body = await kefu.post(
        "/api/v1/visitors", None, {"site": "other", "external_id": "cust-1", "signature": "0" * 64}
    )
    assert status == 403 and body["error"]["code"] == "invalid_signature"


# -- WebSocket Origin ----------------------------------------------------------------------
async def ws_outcome(kefu: Kefu, token: str, origin: str | None) -> tuple[int | None, Any]:
    headers = {"Origin": origin} if origin else {}
    ws = await kefu.http.ws_connect(kefu.url(f"/ws?token={token}"), headers=headers)
    try:
        message = await ws.receive(timeout=0.5)
    except TimeoutError:
        await ws.close()
        return None, None  # open and quiet: accepted
    if message.type == aiohttp.WSMsgType.TEXT:
        frame = message.json()
        await ws.receive(timeout=2)
        return ws.close_code, frame
    return ws.close_code, None


async def test_websocket_origin_rules(kefu: Kefu) -> None:
    agent = await kefu.add_agent("Ann")
    own = kefu.base
    assert await ws_outcome(kefu, agent["token"], None) == (None, None)
    assert await ws_outcome(kefu, agent["token"], own) == (None, None)
    code, frame = await ws_outcome(kefu, agent["token"], SHOP)
    assert code == 4403 and frame["code"] == "origin_not_allowed"

    shop_visitor = await kefu.visitor(site="shop")
    assert await ws_outcome(kefu, shop_visitor["token"], SHOP) == (None, None)
    assert await ws_outcome(kefu, shop_visitor["token"], own) == (None, None)
    code, frame = await ws_outcome(kefu, shop_visitor["token"], OTHER_SHOP)
    assert code == 4403 and frame["code"] == "origin_not_allowed"
    # A visitor of no site may come only from kefu's own pages (or a non-browser client).
    plain = await kefu.visitor()
    code, _ = await ws_outcome(kefu, plain["token"], SHOP)
    assert code == 4403


# -- rating --------------------------------------------------------------------------------
async def test_rating_after_close(kefu: Kefu) -> None:
    agent, visitor, conversation_id = await chat(kefu)
    path = f"/api/v1/conversations/{conversation_id}/rating"
    status, body = await kefu.post(path, visitor["token"], {"score": 5})
    assert status == 409 and body["error"]["code"] == "conversation_open"
    status, _ = await kefu.post(f"/api/v1/conversations/{conversation_id}/close", agent["token"])
    assert status == 200
    for bad in ({"score": 0}, {"score": 6}, {"score": "five"}, {}):
        status, body = await kefu.post(path, visitor["token"], bad)
        assert status == 422, bad
    status, body = await kefu.post(path, agent["token"], {"score": 5})
    assert status == 403
    stranger = await kefu.visitor()
    status, _ = await kefu.post(path, stranger["token"], {"score": 1})
    assert status == 404
    status, body = await kefu.post(path, visitor["token"], {"score": 4, "comment": "  nice "})
    assert status == 201 and body["rating"]["score"] == 4 and body["rating"]["comment"] == "nice"
    status, body = await kefu.post(path, visitor["token"], {"score": 1})
    assert status == 409 and body["error"]["code"] == "already_rated"
    status, body = await kefu.get(f"/api/v1/conversations/{conversation_id}", agent["token"])
    assert status == 200 and body["rating"]["score"] == 4


# -- visitor details -----------------------------------------------------------------------
async def test_visitor_details_for_agents_who_may_see_them(kefu: Kefu) -> None:
    agent = await kefu.add_agent("Ann")
    agent_ws = await kefu.ws(agent["token"])
    async with kefu.http.post(
        kefu.url("/api/v1/visitors"),
        json={
            "page_url": "https://shop.example/boots",
            "referrer": "https://search.example/?q=boots",
            "timezone": "Europe/Berlin",
            "locale": "de-DE",
            "external_id": "cust-9",
        },
        headers={"User-Agent": "TestBrowser/1.0"},
    ) as resp:
        visitor = await resp.json()
    visitor_ws = await kefu.ws(visitor["token"])
    await visitor_ws.send_message("hi")
    await agent_ws.expect("conversation.assigned")
    status, body = await kefu.get(f"/api/v1/visitors/{visitor['visitor_id']}", agent["token"])
    assert status == 200
    assert body["page_url"] == "https://shop.example/boots"
    assert body["referrer"] == "https://search.example/?q=boots"
    assert body["timezone"] == "Europe/Berlin" and body["locale"] == "de-DE"
    assert body["user_agent"] == "TestBrowser/1.0" and body["ip"] == "127.0.0.1"
    assert body["external_id"] == "cust-9" and body["identity_verified"] is False
    assert body["created_at"].endswith("Z")

    other = await kefu.add_agent("Bob")
    status, body = await kefu.get(f"/api/v1/visitors/{visitor['visitor_id']}", other["token"])
    assert status == 404 and body["error"]["code"] == "visitor_not_found"
    supervisor = await kefu.add_agent("Sue", Role.SUPERVISOR)
    status, _ = await kefu.get(f"/api/v1/visitors/{visitor['visitor_id']}", supervisor["token"])
    assert status == 200
    status, _ = await kefu.get(f"/api/v1/visitors/{visitor['visitor_id']}", visitor["token"])
    assert status == 403
    status, body = await kefu.post(
        "/api/v1/visitors", None, {"timezone": "<script>", "locale": "en"}
    )
    assert status == 422
    await agent_ws.close()
    await visitor_ws.close()


# -- static files and headers --------------------------------------------------------------
async def test_web_files_are_served_with_security_headers(kefu: Kefu) -> None:
    async with kefu.http.get(kefu.url("/widget.js")) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/javascript")
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert "attachShadow" in await resp.text()
    async with kefu.http.get(kefu.url("/console")) as resp:
        assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/html")
        csp = resp.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
    async with kefu.http.get(kefu.url("/healthz")) as resp:
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
    async with kefu.http.get(kefu.url("/static/../config.py")) as resp:
        assert resp.status in (403, 404)


async def test_bad_sites_config_is_one_line() -> None:
    from kefu.config import load_settings
    from kefu.errors import ConfigError

    for sites, needle in (
        ([{"id": "a", "origins": ["https://a.example/path"]}], "is not an origin"),
        ([{"id": "a"}, {"id": "a"}], "appears twice"),
        ([{"origins": []}], "sites.0.id"),
    ):
        with pytest.raises(ConfigError) as caught:
            load_settings(None, sites=sites)
        assert needle in str(caught.value) and "\n" not in str(caught.value)
