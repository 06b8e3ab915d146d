"""Signed, short-lived download links instead of tokens in URLs (issue 12, item 18).

The console used to open attachments at ``…?token=<the agent's bearer token>``, which
lands in history and proxy logs. Message payloads now carry ``download_url``, signed for
one attachment and a few minutes; a token in the URL opens nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from kefu.attachments.links import DownloadLinks
from kefu.auth.secret import load_or_create_secret
from tests.support.images import png
from tests.support.kefu import Kefu


class Clock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


async def upload(kefu: Kefu, token: str, data: bytes) -> dict[str, Any]:
    async with kefu.http.post(
        kefu.url("/api/v1/attachments?name=p.png"),
        data=data,
        headers={"Authorization": f"Bearer {token}"},
    ) as resp:
        assert resp.status == 201, await resp.text()
        body: dict[str, Any] = await resp.json()
        return body


async def shared_photos(kefu: Kefu) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """An agent and the visitor's two photos as the agent received them (message.new)."""
    agent = await kefu.add_agent("Ann")
    agent_ws = await kefu.ws(agent["token"])
    visitor = await kefu.visitor()
    visitor_ws = await kefu.ws(visitor["token"])
    ids = [
        (await upload(kefu, visitor["token"], png(2, 2, color)))["id"]
        for color in ((1, 2, 3), (4, 5, 6))
    ]
    await visitor_ws.send(
        {"type": "message.send", "client_msg_id": "m", "body": "", "attachment_ids": ids}
    )
    await visitor_ws.expect("message.ack", client_msg_id="m")
    new = await agent_ws.expect("message.new")
    await agent_ws.close()
    await visitor_ws.close()
    return agent, new["message"]["attachments"]


async def fetch(kefu: Kefu, path: str, **headers: str) -> tuple[int, Any, bytes]:
    async with kefu.http.get(kefu.url(path), headers=headers) as resp:
        raw = await resp.read()
        body = await resp.json() if resp.content_type == "application/json" else None
        return resp.status, body, raw


async def test_a_signed_link_opens_its_file_without_a_token(kefu: Kefu) -> None:
    _, (photo, _) = await shared_photos(kefu)
    link = photo["download_url"]
    assert link.startswith(f"/api/v1/attachments/{photo['id']}?exp=")
    assert "token" not in link
    status, _, raw = await fetch(kefu, link)
    assert status == 200 and raw.startswith(b"\x89PNG")


async def test_history_and_upload_answers_carry_links_too(kefu: Kefu) -> None:
    agent, (photo, _) = await shared_photos(kefu)
    status, conversations = await kefu.get("/api/v1/conversations", agent["token"])
    assert status == 200
    conversation_id = conversations["items"][0]["id"]
    status, page = await kefu.get(
        f"/api/v1/conversations/{conversation_id}/messages", agent["token"]
    )
    assert status == 200
    listed = page["items"][0]["attachments"][0]
    assert listed["id"] == photo["id"]
    assert (await fetch(kefu, listed["download_url"]))[0] == 200
    visitor = await kefu.visitor()
    mine = await upload(kefu, visitor["token"], png(3, 3, (7, 7, 7)))
    assert (await fetch(kefu, mine["download_url"]))[0] == 200


async def test_expired_or_tampered_links_answer_403_json(kefu: Kefu) -> None:
    _, (photo, _) = await shared_photos(kefu)
    parts = parse_qs(urlsplit(photo["download_url"]).query)
    exp, sig = parts["exp"][0], parts["sig"][0]
    base = f"/api/v1/attachments/{photo['id']}"
    tampered = [
        f"{base}?exp={int(exp) + 3600}&sig={sig}",  # a later expiry
        f"{base}?exp={exp}&sig={sig[:-2]}AA",  # another signature
        f"{base}?exp={exp}",  # no signature
        f"{base}?exp=soon&sig={sig}",
    ]
    for link in tampered:
        status, body, _ = await fetch(kefu, link)
        assert status == 403, link
        assert body["error"]["code"] == "invalid_link", link
    # A link signed with the node's own secret an hour ago, for ten minutes.
    secret = load_or_create_secret(kefu.node.settings.data_dir, None)
    old = DownloadLinks(secret, Clock(datetime.now(UTC) - timedelta(hours=1)), 600)
    status, body, _ = await fetch(kefu, old.url(photo["id"]))
    assert status == 403 and body["error"]["code"] == "link_expired"


async def test_a_link_for_one_attachment_does_not_open_another(kefu: Kefu) -> None:
    _, (first, second) = await shared_photos(kefu)
    query = urlsplit(first["download_url"]).query
    status, body, _ = await fetch(kefu, f"/api/v1/attachments/{second['id']}?{query}")
    assert status == 403 and body["error"]["code"] == "invalid_link"
    # Nor one that does not exist (the same answer: ids reveal nothing).
    status, body, _ = await fetch(kefu, f"/api/v1/attachments/att_nothing?{query}")
    assert status == 403 and body["error"]["code"] == "invalid_link"


async def test_a_token_in_the_url_opens_nothing_but_the_header_still_does(kefu: Kefu) -> None:
    agent, (photo, _) = await shared_photos(kefu)
    status, body, _ = await fetch(kefu, f"{photo['url']}?token={agent['token']}")
    assert status == 401 and body["error"]["code"] == "missing_token"
    status, _, raw = await fetch(kefu, photo["url"], Authorization=f"Bearer {agent['token']}")
    assert status == 200 and raw.startswith(b"\x89PNG")


async def test_a_fresh_link_for_those_who_may_read_it(kefu: Kefu) -> None:
    agent, (photo, _) = await shared_photos(kefu)
    status, body = await kefu.get(f"/api/v1/attachments/{photo['id']}/link", agent["token"])
    assert status == 200 and (await fetch(kefu, body["download_url"]))[0] == 200
    stranger = await kefu.visitor()
    status, body = await kefu.get(f"/api/v1/attachments/{photo['id']}/link", stranger["token"])
    assert status == 404 and body["error"]["code"] == "attachment_not_found"
