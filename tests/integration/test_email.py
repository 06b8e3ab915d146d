"""Email end to end, as clients see it (CONTRACT.md "Email"): a node configured with a
real SMTP server (aiosmtpd, run by the test), agents and a mail service speaking REST.

Offline messages that left an address become tickets whose public comments are mailed,
threaded; replies posted to POST /api/v1/email/inbound become comments (never mailed
back); other mail opens tickets; retries follow the server's refusals; bad posts change
nothing. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest

from kefu.config import Settings, load_settings
from kefu.domain.roles import Role
from tests.support.images import png
from tests.support.kefu import Kefu, serving
from tests.support.smtp import HANG_GUARD, SmtpServer, smtp_server

FROM = "Acme Support <help@acme.test>"
VERA = "vera@example.com"
PNG = png(4, 4, (200, 10, 10))


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


def email_settings(smtp: SmtpServer, **extra: Any) -> dict[str, Any]:
    return {
        "smtp_url": smtp.url,
        "from": FROM,
        # Quick retries so a test sees several attempts (the schedule is the same shape).
        "backoff_seconds": 0.05,
        "max_backoff_seconds": 0.2,
        "poll_seconds": 0.2,
        **extra,
    }


@pytest.fixture
async def kefu(settings_factory: Callable[..., Settings], smtp: SmtpServer) -> AsyncIterator[Kefu]:
    settings = settings_factory(
        email=email_settings(smtp),
        sites=[{"id": "default", "name": "Acme", "locale": "en"}],
    )
    async with serving(settings) as served:
        yield served


async def until(check: Callable[[], Any]) -> Any:
    """Poll an async check until it returns something truthy (hang guard, no sleep-assert)."""
    deadline = time.monotonic() + HANG_GUARD
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.05)


async def mail_token(kefu: Kefu, scopes: list[str] | None = None) -> str:
    admin = await kefu.add_agent("Root", Role.ADMIN)
    status, created = await kefu.post(
        "/api/v1/api-tokens",
        admin["token"],
        {"name": "mailgate", "scopes": scopes or ["email:write"]},
    )
    assert status == 201, created
    token: str = created["token"]
    return token


async def post_mail(
    kefu: Kefu, token: str | None, raw: bytes, content_type: str = "message/rfc822"
) -> tuple[int, Any]:
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with kefu.http.post(kefu.url("/api/v1/email/inbound"), data=raw, headers=headers) as resp:
        return resp.status, await resp.json()


def mail(
    sender: str,
    subject: str,
    text: str | None = None,
    *,
    html: str | None = None,
    reply_to: str | None = None,
    files: list[tuple[str, bytes, str]] = (),  # type: ignore[assignment]
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "help@acme.test"
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="example.com")
    if reply_to is not None:
        message["In-Reply-To"] = reply_to
        message["References"] = reply_to
    if text is not None:
        message.set_content(text)
    elif html is not None:
        message.set_content(html, subtype="html")
    for name, data, mime in files:
        maintype, subtype = mime.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes(policy=SMTP)


async def offline_ticket(kefu: Kefu, agent: dict[str, Any]) -> dict[str, Any]:
    """Vera leaves an offline message with her address; the ticket it becomes."""
    visitor = await kefu.visitor(name="Vera")
    status, _ = await kefu.post(
        "/api/v1/offline-messages",
        visitor["token"],
        {"email": VERA, "name": "Vera Lin", "body": "My parcel never arrived, order 1042."},
    )
    assert status == 201

    async def made() -> dict[str, Any] | None:
        _, page = await kefu.get("/api/v1/tickets", agent["token"])
        return next((t for t in page["items"] if t["channel"] == "offline"), None)

    ticket: dict[str, Any] = await until(made)
    return ticket


async def comment(
    kefu: Kefu, agent: dict[str, Any], ticket_id: str, body: str, internal: bool = False
) -> dict[str, Any]:
    status, made = await kefu.post(
        f"/api/v1/tickets/{ticket_id}/comments",
        agent["token"],
        {"body": body, "internal": internal},
    )
    assert status == 201, made
    return dict(made)


async def mails(kefu: Kefu, agent: dict[str, Any], ticket_id: str) -> list[dict[str, Any]]:
    status, page = await kefu.get(f"/api/v1/tickets/{ticket_id}/mails", agent["token"])
    assert status == 200, page
    return list(page["items"])


def kefus(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """kefu's own log records (the test's SMTP server logs addresses, as is its right)."""
    return [r for r in caplog.records if r.name.startswith("kefu")]


def _bare(message_id: str | None) -> str:
    return (message_id or "").strip().strip("<>")


async def test_an_offline_message_is_answered_by_mail_in_one_thread(
    kefu: Kefu, smtp: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    agent = await kefu.add_agent("Ann")
    ticket = await offline_ticket(kefu, agent)
    note = await comment(kefu, agent, ticket["id"], "Courier says lost; refund?", internal=True)
    first = await comment(kefu, agent, ticket["id"], "Sorry <Vera>! We are on it.\n\nAnn")
    [one] = await smtp.mailbox.wait_for(1)

    assert (one.sender, one.recipients) == ("help@acme.test", [VERA])
    message = one.message
    assert message["To"].addresses[0].display_name == "Vera Lin"
    assert str(message["From"]) == FROM
    assert message["Subject"] == f"Re: My parcel never arrived, order 1042. [#{ticket['id']}]"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    assert "Sorry <Vera>! We are on it." in text.get_content()
    assert "Hello Vera Lin," in text.get_content()
    assert "Sorry &lt;Vera&gt;! We are on it." in html.get_content()  # escaped, never markup
    assert "Courier says lost" not in one.raw.decode()
    assert message["In-Reply-To"] is None  # the thread's first mail

    second = await comment(kefu, agent, ticket["id"], "Your refund is on its way.")
    _, two = await smtp.mailbox.wait_for(2)
    root = _bare(message["Message-ID"])
    assert _bare(two.message["In-Reply-To"]) == root
    assert root in two.message["References"]
    assert _bare(two.message["Message-ID"]) != root

    async def both_sent() -> list[dict[str, Any]] | None:
        items = await mails(kefu, agent, ticket["id"])
        return items if [m["status"] for m in items] == ["sent", "sent"] else None

    items = await until(both_sent)
    # The internal note made no mail: the thread holds the two public comments only.
    assert [m["comment_id"] for m in items] == [first["id"], second["id"]]
    assert note["id"] not in [m["comment_id"] for m in items]
    assert [m["direction"] for m in items] == ["out", "out"]
    for record in kefus(caplog):
        if record.levelno > logging.DEBUG:
            line = record.getMessage()
            assert VERA not in line and "refund" not in line and "Sorry" not in line


async def test_a_reply_becomes_the_requesters_comment_and_is_not_mailed_back(
    kefu: Kefu, smtp: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    agent = await kefu.add_agent("Ann")
    ticket = await offline_ticket(kefu, agent)
    await comment(kefu, agent, ticket["id"], "Could you send a photo of the label?")
    [sent] = await smtp.mailbox.wait_for(1)
    token = await mail_token(kefu)
    quoted = "\n".join(f"> {line}" for line in sent.text.splitlines())
    raw = mail(
        f"Vera Lin <{VERA}>",
        f"Re: {sent.message['Subject']}",
        f"Here it is, thanks!\n\nOn Mon, Acme Support wrote:\n{quoted}\n",
        reply_to=sent.message["Message-ID"],
        files=[("label.png", PNG, "image/png")],
    )
    status, body = await post_mail(kefu, token, raw)
    assert (status, body) == (202, {"status": "commented", "ticket_id": ticket["id"]})

    _, page = await kefu.get(f"/api/v1/tickets/{ticket['id']}/comments", agent["token"])
    reply = page["items"][-1]
    assert (reply["body"], reply["internal"], reply["author_name"]) == (
        "Here it is, thanks!",
        False,
        "Vera Lin",
    )
    status, files = await kefu.get(f"/api/v1/tickets/{ticket['id']}/attachments", agent["token"])
    assert status == 200 and [f["name"] for f in files["items"]] == ["label.png"]
    async with kefu.http.get(kefu.url(files["items"][0]["download_url"])) as resp:
        assert resp.status == 200 and await resp.read() == PNG

    # Posted again (a mail service retrying): nothing new.
    assert await post_mail(kefu, token, raw) == (
        202,
        {"status": "duplicate", "ticket_id": ticket["id"]},
    )
    _, again = await kefu.get(f"/api/v1/tickets/{ticket['id']}/comments", agent["token"])
    assert len(again["items"]) == len(page["items"])

    # The agent answers: the one mail the server gets next is that answer, threaded
    # under Vera's reply; her own words never came back to her.
    await comment(kefu, agent, ticket["id"], "Got it, thank you.")
    _, answer = await smtp.mailbox.wait_for(2)
    assert "Got it, thank you." in answer.text
    assert "Here it is" not in answer.raw.decode()
    reply_id = _bare(raw.split(b"Message-ID:")[1].split(b"\r\n")[0].decode())
    assert _bare(answer.message["In-Reply-To"]) == reply_id
    items = await mails(kefu, agent, ticket["id"])
    assert [(m["direction"], m["status"]) for m in items][:2] == [
        ("out", "sent"),
        ("in", "received"),
    ]
    assert len(smtp.mailbox.received) == 2
    for record in kefus(caplog):
        if record.levelno > logging.DEBUG:
            assert VERA not in record.getMessage() and "thanks" not in record.getMessage()


async def test_mail_answering_nothing_opens_a_ticket_html_reduced_to_text(
    kefu: Kefu, smtp: SmtpServer
) -> None:
    agent = await kefu.add_agent("Ann")
    token = await mail_token(kefu)
    raw = mail(
        "Bo Chen <bo@example.org>",
        "Invoice 77 is wrong",
        html="<html><head><style>p{}</style></head><body><p>Hi,</p>"
        "<p>the total is <b>twice</b> the order &amp; more.</p><script>x()</script></body></html>",
        files=[("run.exe", b"MZ\x90\x00" * 100, "application/octet-stream")],
    )
    status, body = await post_mail(kefu, token, raw)
    assert status == 202 and body["status"] == "created"
    status, ticket = await kefu.get(f"/api/v1/tickets/{body['ticket_id']}", agent["token"])
    assert (ticket["subject"], ticket["channel"]) == ("Invoice 77 is wrong", "email")
    assert ticket["body"].startswith("Hi,\n\nthe total is twice the order & more.")
    assert "<" not in ticket["body"] and "x()" not in ticket["body"]
    assert "1 attachment(s) not kept" in ticket["body"]  # the .exe is no accepted type
    _, files = await kefu.get(f"/api/v1/tickets/{ticket['id']}/attachments", agent["token"])
    assert files["items"] == []

    await comment(kefu, agent, ticket["id"], "Corrected, see the new invoice.")
    [answer] = await smtp.mailbox.wait_for(1)
    assert answer.recipients == ["bo@example.org"]
    assert _bare(answer.message["In-Reply-To"]) == _bare(
        raw.split(b"Message-ID:")[1].split(b"\r\n")[0].decode()
    )


async def test_a_subject_tag_threads_only_mail_from_the_requester(
    kefu: Kefu, smtp: SmtpServer
) -> None:
    agent = await kefu.add_agent("Ann")
    ticket = await offline_ticket(kefu, agent)
    token = await mail_token(kefu)
    tagged = f"Re: parcel [#{ticket['id']}]"
    status, body = await post_mail(kefu, token, mail(VERA, tagged, "Any news?"))
    assert (status, body["status"], body["ticket_id"]) == (202, "commented", ticket["id"])
    status, body = await post_mail(kefu, token, mail("mallory@evil.test", tagged, "Refund me"))
    assert body["status"] == "created" and body["ticket_id"] != ticket["id"]


async def test_a_reply_to_a_solved_ticket_reopens_it_and_to_a_closed_one_opens_another(
    kefu: Kefu, smtp: SmtpServer
) -> None:
    agent = await kefu.add_agent("Ann")
    ticket = await offline_ticket(kefu, agent)
    await comment(kefu, agent, ticket["id"], "Refunded.")
    [sent] = await smtp.mailbox.wait_for(1)
    token = await mail_token(kefu)
    path = f"/api/v1/tickets/{ticket['id']}"
    assert (await kefu.patch(path, agent["token"], {"status": "solved"}))[0] == 200
    reply = mail(VERA, "Re: refund", "Not received yet.", reply_to=sent.message["Message-ID"])
    assert (await post_mail(kefu, token, reply))[1]["status"] == "commented"
    assert (await kefu.get(path, agent["token"]))[1]["status"] == "open"

    for move in ("solved", "closed"):
        assert (await kefu.patch(path, agent["token"], {"status": move}))[0] == 200
    late = mail(VERA, "Re: refund", "Again?", reply_to=sent.message["Message-ID"])
    status, body = await post_mail(kefu, token, late)
    assert status == 202 and body["status"] == "created" and body["ticket_id"] != ticket["id"]


async def test_bad_posts_are_refused_and_change_nothing(
    settings_factory: Callable[..., Settings], smtp: SmtpServer
) -> None:
    settings = settings_factory(email=email_settings(smtp, max_inbound_bytes=4096))
    async with serving(settings) as kefu:
        agent = await kefu.add_agent("Ann")
        token = await mail_token(kefu)
        good = mail(VERA, "Hello", "Hi")
        reader = await mail_token(kefu, ["tickets:read"])

        cases: list[tuple[str | None, bytes, str, int, str]] = [
            (None, good, "message/rfc822", 401, "unauthenticated"),
            (agent["token"], good, "message/rfc822", 403, "missing_scope"),
            (reader, good, "message/rfc822", 403, "missing_scope"),
            (token, good, "text/plain", 415, "unsupported_media_type"),
            (token, b"", "message/rfc822", 400, "invalid_message"),
            (token, b"just some words, no headers", "message/rfc822", 400, "invalid_message"),
            (token, mail("not an address", "x", "y"), "message/rfc822", 400, "invalid_message"),
            (token, mail("a@b.test, c@d.test", "x", "y"), "message/rfc822", 400, "invalid_message"),
            (token, mail(VERA, "big", "x" * 5000), "message/rfc822", 413, "message_too_large"),
        ]
        for who, raw, media, status, code in cases:
            got, body = await post_mail(kefu, who, raw, media)
            assert (got, body["error"]["code"]) == (status, code), (code, body)
            assert set(body) == {"error"} and body["error"]["message"]
        _, page = await kefu.get("/api/v1/tickets", agent["token"])
        assert page["items"] == []
        assert (await post_mail(kefu, token, good))[0] == 202  # the same node still takes mail


async def test_refusals_are_retried_with_backoff_and_permanent_ones_fail(
    kefu: Kefu, smtp: SmtpServer
) -> None:
    agent = await kefu.add_agent("Ann")
    ticket = await offline_ticket(kefu, agent)
    smtp.mailbox.refusals = ["451 4.3.0 try again later", "421 4.7.0 busy"]
    await comment(kefu, agent, ticket["id"], "First answer.")
    [mail_in] = await smtp.mailbox.wait_for(1)
    assert smtp.mailbox.refused == 2 and "First answer." in mail_in.raw.decode()

    async def settled(count: int) -> list[dict[str, Any]] | None:
        items = await mails(kefu, agent, ticket["id"])
        done = [m for m in items if m["status"] in ("sent", "failed")]
        return items if len(done) == count else None

    [record] = await until(lambda: settled(1))
    assert (record["status"], record["attempts"]) == ("sent", 3)

    smtp.mailbox.refusals = ["550 5.1.1 mailbox unavailable"]
    await comment(kefu, agent, ticket["id"], "Second answer.")
    items = await until(lambda: settled(2))
    assert (items[1]["status"], items[1]["attempts"]) == ("failed", 1)
    assert items[1]["last_error"].startswith("SMTP 550")
    assert len(smtp.mailbox.received) == 1


@pytest.fixture
async def kefu_plain(settings: Settings) -> AsyncIterator[Kefu]:
    async with serving(settings) as served:
        yield served


async def test_without_email_config_inbound_mail_is_refused(kefu_plain: Kefu) -> None:
    token = await mail_token(kefu_plain)
    status, body = await post_mail(kefu_plain, token, mail(VERA, "Hello", "Hi"))
    assert (status, body["error"]["code"]) == (404, "email_not_configured")


async def test_loops_are_not_taken_in(kefu: Kefu, smtp: SmtpServer) -> None:
    agent = await kefu.add_agent("Ann")
    token = await mail_token(kefu)
    ours = mail(FROM, "Re: something [#1]", "our own mail came back")
    assert (await post_mail(kefu, token, ours))[1] == {"status": "ignored", "ticket_id": None}
    bounce = EmailMessage()
    bounce["From"] = "MAILER-DAEMON@mx.example.com"
    bounce["To"] = "help@acme.test"
    bounce["Subject"] = "Undelivered Mail Returned to Sender"
    bounce["Auto-Submitted"] = "auto-replied"
    bounce.set_content("The mail could not be delivered.")
    status, body = await post_mail(kefu, token, bounce.as_bytes(policy=SMTP))
    assert (status, body) == (202, {"status": "ignored", "ticket_id": None})
    _, page = await kefu.get("/api/v1/tickets", agent["token"])
    assert page["items"] == []


async def test_a_chinese_site_is_answered_in_chinese(
    settings_factory: Callable[..., Settings], smtp: SmtpServer
) -> None:
    settings = settings_factory(
        email=email_settings(smtp),
        sites=[{"id": "cn", "name": "北风商城", "locale": "zh-CN"}],
    )
    async with serving(settings) as kefu:
        agent = await kefu.add_agent("安")
        visitor = await kefu.visitor(name="王伟", site="cn")
        status, _ = await kefu.post(
            "/api/v1/offline-messages",
            visitor["token"],
            {"email": "wang@example.cn", "name": "王伟", "body": "我的包裹还没到"},
        )
        assert status == 201

        async def made() -> dict[str, Any] | None:
            _, page = await kefu.get("/api/v1/tickets", agent["token"])
            return page["items"][0] if page["items"] else None

        ticket = await until(made)
        await comment(kefu, agent, ticket["id"], "已经为您补发。")
        [sent] = await smtp.mailbox.wait_for(1)
        subject = f"回复：我的包裹还没到 [#{ticket['id']}]"  # noqa: RUF001 - Chinese colon
        assert sent.message["Subject"] == subject
        assert sent.message["To"].addresses[0].display_name == "王伟"
        assert "已经为您补发。" in sent.text
        assert "安，北风商城" in sent.text  # noqa: RUF001 - the signature's Chinese comma


async def test_inbound_attachments_keep_to_the_upload_limits(
    settings_factory: Callable[..., Settings], smtp: SmtpServer
) -> None:
    settings = settings_factory(email=email_settings(smtp), attachments={"max_bytes": 2048})
    small, big = png(2, 2, (1, 2, 3)), png(64, 64, (9, 9, 9)) + b"\0" * 4096
    async with serving(settings) as kefu:
        agent = await kefu.add_agent("Ann")
        token = await mail_token(kefu)
        raw = mail(
            VERA,
            "Photos",
            "Two photos attached.",
            files=[("small.png", small, "image/png"), ("big.png", big, "image/png")],
        )
        status, body = await post_mail(kefu, token, raw)
        assert (status, body["status"]) == (202, "created")
        path = f"/api/v1/tickets/{body['ticket_id']}"
        _, files = await kefu.get(f"{path}/attachments", agent["token"])
        assert [(f["name"], f["size"]) for f in files["items"]] == [("small.png", len(small))]
        _, ticket = await kefu.get(path, agent["token"])
        assert ticket["body"].startswith("Two photos attached.")
        assert "1 attachment(s) not kept" in ticket["body"]


async def test_inline_images_in_nested_parts_keep_to_the_upload_limits(
    settings_factory: Callable[..., Settings], smtp: SmtpServer
) -> None:
    """An HTML mail with pictures (multipart/mixed > alternative > related > image, as
    Apple Mail and Outlook write it): its inline pictures are the ticket's files, each
    under attachments.max_bytes like any other attachment."""
    settings = settings_factory(email=email_settings(smtp), attachments={"max_bytes": 2048})
    small, big = png(2, 2, (4, 5, 6)), png(64, 64, (7, 7, 7)) + b"\0" * 4096
    message = EmailMessage()
    message["From"] = VERA
    message["To"] = "help@acme.test"
    message["Subject"] = "Damage photos"
    message.set_content("Photos of the damage below.")
    message.add_alternative(
        '<p>Photos of the damage below.</p><img src="cid:a@x"><img src="cid:b@x">',
        subtype="html",
    )
    html = message.get_payload()[1]
    html.add_related(small, maintype="image", subtype="png", cid="<a@x>")
    html.add_related(big, maintype="image", subtype="png", cid="<b@x>", filename="big.png")
    message.add_attachment(
        b"%PDF-1.4 receipt", maintype="application", subtype="pdf", filename="receipt.pdf"
    )
    async with serving(settings) as kefu:
        agent = await kefu.add_agent("Ann")
        token = await mail_token(kefu)
        status, body = await post_mail(kefu, token, message.as_bytes(policy=SMTP))
        assert (status, body["status"]) == (202, "created")
        path = f"/api/v1/tickets/{body['ticket_id']}"
        _, files = await kefu.get(f"{path}/attachments", agent["token"])
        kept = {f["content_type"]: f for f in files["items"]}
        assert len(files["items"]) == 2 and kept["image/png"]["size"] == len(small)
        assert kept["application/pdf"]["name"] == "receipt.pdf"
        async with kefu.http.get(kefu.url(kept["image/png"]["download_url"])) as resp:
            assert resp.status == 200 and await resp.read() == small
        _, ticket = await kefu.get(path, agent["token"])
        assert ticket["body"].startswith("Photos of the damage below.")
        assert "1 attachment(s) not kept" in ticket["body"]  # the big picture


async def test_a_mail_failing_every_attempt_stops_at_max_attempts(
    settings_factory: Callable[..., Settings], smtp: SmtpServer
) -> None:
    settings = settings_factory(email=email_settings(smtp, max_attempts=3))
    async with serving(settings) as kefu:
        agent = await kefu.add_agent("Ann")
        ticket = await offline_ticket(kefu, agent)
        smtp.mailbox.refusals = ["451 4.3.0 try later"] * 3 + ["250 never reached"]
        await comment(kefu, agent, ticket["id"], "Answer.")

        async def failed() -> dict[str, Any] | None:
            items = await mails(kefu, agent, ticket["id"])
            return items[0] if items and items[0]["status"] == "failed" else None

        record = await until(failed)
        assert (record["attempts"], record["last_error"]) == (3, "SMTP 451: 4.3.0 try later")
        assert smtp.mailbox.refused == 3 and smtp.mailbox.received == []


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)  # nodes share PostgreSQL
async def test_two_nodes_share_the_outbox_and_send_each_mail_once(
    settings_factory: Callable[..., Settings], smtp: SmtpServer, store_url: str, tmp_path: Path
) -> None:
    one = settings_factory(email=email_settings(smtp))
    two = load_settings(
        None, data_dir=tmp_path / "two", store=store_url, email=email_settings(smtp)
    )
    async with serving(one) as first, serving(two) as second:
        agent = await first.add_agent("Ann")
        ticket = await offline_ticket(first, agent)
        bodies = [f"Update {n}." for n in range(12)]
        await asyncio.gather(*(comment(first, agent, ticket["id"], b) for b in bodies))
        got = await smtp.mailbox.wait_for(len(bodies))

        async def all_sent() -> list[dict[str, Any]] | None:
            items = await mails(second, await second.login(agent["email"]), ticket["id"])
            return items if all(m["status"] == "sent" for m in items) else None

        items = await until(all_sent)
        assert len(items) == len(bodies) and all(m["attempts"] == 1 for m in items)
        ids = [_bare(m.message["Message-ID"]) for m in got]
        assert sorted(ids) == sorted(m["message_id"] for m in items)  # each mail once
        assert sorted(b for m in got for b in bodies if b in m.text) == sorted(bodies)
