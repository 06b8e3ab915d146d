"""Privacy meets email, on both stores, with a real SMTP server: retention keeps the files
that came by mail (they belong to a ticket, not to a chat), and erasing a person removes
what email holds about them (threads, mails, mailed files) and nobody else's, also for
someone who only ever mailed, with no address in kefu's logs above DEBUG."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kefu.config import Settings
from kefu.domain.roles import Role
from kefu.store.tables import (
    attachments,
    email_messages,
    email_threads,
    offline_messages,
    ticket_attachments,
    ticket_comments,
)
from tests.support.images import png
from tests.support.kefu import Kefu, serving
from tests.support.smtp import HANG_GUARD, SmtpServer, smtp_server

VERA = "vera.lin@example.com"
BO = "bo@example.org"
MIA = "mia@example.net"
VERA_PNG = png(3, 3, (10, 200, 10))
BO_PNG = png(3, 3, (10, 10, 200))
MIA_PNG = png(5, 5, (90, 90, 90))


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
async def kefu(settings_factory: Callable[..., Settings], smtp: SmtpServer) -> AsyncIterator[Kefu]:
    settings = settings_factory(
        email={"smtp_url": smtp.url, "from": "Acme Support <help@acme.test>", "poll_seconds": 0.2},
        sites=[{"id": "default", "name": "Acme", "locale": "en"}],
    )
    async with serving(settings) as served:
        yield served


async def until(check: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + HANG_GUARD
    while not (value := await check()):
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.05)
    return value


async def rows(kefu: Kefu, query: Any) -> list[Any]:
    async with kefu.node.repos.db.connect() as conn:
        return list((await conn.execute(query)).all())


def blob(kefu: Kefu, data: bytes) -> Path:
    digest = hashlib.sha256(data).hexdigest()
    path: Path = kefu.node.settings.data_dir / "attachments" / digest[:2] / digest
    return path


def mail(sender: str, subject: str, text: str, file: bytes, reply_to: str | None = None) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "help@acme.test"
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="example.com")
    if reply_to is not None:
        message["In-Reply-To"] = reply_to
    message.set_content(text)
    message.add_attachment(file, maintype="image", subtype="png", filename="photo.png")
    return message.as_bytes(policy=SMTP)


async def mail_token(kefu: Kefu, admin: dict[str, Any]) -> str:
    status, made = await kefu.post(
        "/api/v1/api-tokens", admin["token"], {"name": "mailgate", "scopes": ["email:write"]}
    )
    assert status == 201, made
    return str(made["token"])


async def post_mail(kefu: Kefu, token: str, raw: bytes) -> str:
    headers = {"Content-Type": "message/rfc822", "Authorization": f"Bearer {token}"}
    async with kefu.http.post(kefu.url("/api/v1/email/inbound"), data=raw, headers=headers) as resp:
        body = await resp.json()
        assert resp.status == 202 and body["status"] in ("created", "commented"), body
        return str(body["ticket_id"])


async def ticket_files(kefu: Kefu, agent: dict[str, Any], ticket_id: str) -> list[Any]:
    status, page = await kefu.get(f"/api/v1/tickets/{ticket_id}/attachments", agent["token"])
    assert status == 200, page
    return list(page["items"])


async def test_retention_keeps_the_files_that_came_by_mail(kefu: Kefu) -> None:
    admin = await kefu.add_agent("Root", Role.ADMIN)
    token = await mail_token(kefu, admin)
    ticket_id = await post_mail(kefu, token, mail(BO, "Broken lamp", "See photo.", BO_PNG))
    visitor = await kefu.visitor(name="Una")
    async with kefu.http.post(
        kefu.url("/api/v1/attachments?name=never-sent.png"),
        data=VERA_PNG,
        headers={"Authorization": f"Bearer {visitor['token']}", "Content-Type": "image/png"},
    ) as resp:
        assert resp.status == 201, await resp.text()
        unsent = str((await resp.json())["id"])
    [(file_id,)] = await rows(kefu, sa.select(ticket_attachments.c.attachment_id))
    # Both uploaded 40 days ago, neither in a conversation: only the chat upload is
    # retention's to delete.
    now = kefu.node.clock.now()
    async with kefu.node.repos.db.begin() as conn:
        await conn.execute(
            attachments.update()
            .where(attachments.c.id.in_([unsent, file_id]))
            .values(created_at=now - timedelta(days=40))
        )
    gone = await kefu.node.eraser.erase_older_than(now - timedelta(days=30))
    assert gone.attachments == 1 and gone.files == 1
    assert not await rows(kefu, sa.select(attachments).where(attachments.c.id == unsent))
    assert not blob(kefu, VERA_PNG).exists()
    assert await rows(kefu, sa.select(attachments).where(attachments.c.id == file_id))
    [kept] = await ticket_files(kefu, admin, ticket_id)
    async with kefu.http.get(kefu.url(kept["download_url"])) as resp:
        assert resp.status == 200 and await resp.read() == BO_PNG


async def offline_ticket(kefu: Kefu, agent: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Vera leaves an offline message with her address; she and the ticket it became."""
    vera = await kefu.visitor(name="Vera")
    status, _ = await kefu.post(
        "/api/v1/offline-messages",
        vera["token"],
        {"email": VERA, "name": "Vera Lin", "body": "My parcel never arrived."},
    )
    assert status == 201

    async def made() -> str | None:
        found = await rows(
            kefu,
            sa.select(offline_messages.c.ticket_id).where(
                offline_messages.c.visitor_id == vera["visitor_id"]
            ),
        )
        return found[0].ticket_id if found and found[0].ticket_id else None

    return vera, str(await until(made))


async def test_erasure_removes_what_email_holds_about_a_person_and_nobody_else(
    kefu: Kefu, smtp: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    admin = await kefu.add_agent("Root", Role.ADMIN)
    token = await mail_token(kefu, admin)
    vera, vera_ticket = await offline_ticket(kefu, admin)
    status, _ = await kefu.post(
        f"/api/v1/tickets/{vera_ticket}/comments",
        admin["token"],
        {"body": "Could you send a photo of the label?", "internal": False},
    )
    assert status == 201
    [asked] = await smtp.mailbox.wait_for(1)
    reply = mail(
        f"Vera Lin <{VERA}>",
        f"Re: {asked.message['Subject']}",
        "Here is the label, my flat is 4B.",
        VERA_PNG,
        reply_to=asked.message["Message-ID"],
    )
    assert await post_mail(kefu, token, reply) == vera_ticket
    bo_ticket = await post_mail(kefu, token, mail(BO, "Broken lamp", "See photo.", BO_PNG))
    mia_ticket = await post_mail(
        kefu, token, mail(f"Mia <{MIA}>", "Hello", "Mia's own words.", MIA_PNG)
    )
    assert len(await ticket_files(kefu, admin, vera_ticket)) == 1

    status, report = await kefu.post(
        "/api/v1/privacy/erasures", admin["token"], {"email": "  Vera.LIN@example.com"}
    )
    assert status == 200, report
    assert report["visitor_ids"] == [vera["visitor_id"]]  # found by her offline message
    assert report["offline_messages"] == 1
    assert (report["email_threads"], report["email_messages"], report["ticket_files"]) == (1, 2, 1)
    assert report["files"] == 1 and not blob(kefu, VERA_PNG).exists()

    # Nothing of Vera's in the email tables: no thread, no mail, no file, no address.
    assert not await rows(
        kefu, sa.select(email_threads).where(email_threads.c.ticket_id == int(vera_ticket))
    )
    assert not await rows(
        kefu, sa.select(email_messages).where(email_messages.c.ticket_id == int(vera_ticket))
    )
    assert await ticket_files(kefu, admin, vera_ticket) == []
    left = str(await rows(kefu, sa.select(email_threads))) + str(
        await rows(kefu, sa.select(email_messages))
    )
    assert "vera" not in left.lower() and "4B" not in left and "label" not in left
    # Her comment stays on the company's ticket, without her name.
    comments = await rows(
        kefu,
        sa.select(ticket_comments).where(ticket_comments.c.ticket_id == int(vera_ticket)),
    )
    [hers] = [c for c in comments if c.author == "email:requester"]
    assert hers.author_name is None
    # Nothing more is mailed to her: a public comment queues no mail.
    status, _ = await kefu.post(
        f"/api/v1/tickets/{vera_ticket}/comments",
        admin["token"],
        {"body": "Anything else?", "internal": False},
    )
    assert status == 201
    assert not await rows(
        kefu, sa.select(email_messages).where(email_messages.c.ticket_id == int(vera_ticket))
    )

    # Bo and Mia are untouched.
    for ticket_id, data in ((bo_ticket, BO_PNG), (mia_ticket, MIA_PNG)):
        assert await rows(
            kefu, sa.select(email_threads).where(email_threads.c.ticket_id == int(ticket_id))
        )
        assert len(await ticket_files(kefu, admin, ticket_id)) == 1 and blob(kefu, data).exists()

    # Mia only ever mailed (no visitor): her email still names her thread.
    status, report = await kefu.post(
        "/api/v1/privacy/erasures", admin["token"], {"email": MIA.upper()}
    )
    assert status == 200, report
    assert report["visitor_ids"] == [] and report["email_threads"] == 1
    assert report["ticket_files"] == 1 and not blob(kefu, MIA_PNG).exists()
    [thread] = await rows(kefu, sa.select(email_threads))
    assert thread.address == BO and thread.ticket_id == int(bo_ticket)
    # Again: nothing left to erase.
    status, report = await kefu.post("/api/v1/privacy/erasures", admin["token"], {"email": MIA})
    assert status == 200 and report["email_threads"] == report["email_messages"] == 0

    for record in caplog.records:
        if record.name.startswith("kefu") and record.levelno > logging.DEBUG:
            line = record.getMessage().lower()
            assert "vera" not in line and "mia@" not in line and "my flat" not in line, line
