"""Email over REST: mail posted in by an inbound mail service, and what a ticket's
thread holds (mails sent, failed, received; files that came with them).

``POST /api/v1/email/inbound`` takes the raw message (``Content-Type: message/rfc822``)
from a machine client holding an API token with the ``email:write`` scope, streamed and
bounded by ``email.max_inbound_bytes`` (413 past it, nothing stored). 202 says what it
became: ``commented`` / ``created`` (with the ticket), ``duplicate`` or ``ignored``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from kefu.api.deps import AgentDep, NodeDep, bearer
from kefu.api.schemas import AttachmentOut
from kefu.auth.api_tokens import is_api_token
from kefu.email.service import EmailService
from kefu.errors import BadInput, Forbidden, KefuError, NotFound, TooLarge, Unauthenticated
from kefu.node import Node
from kefu.timefmt import iso

router = APIRouter(prefix="/api/v1", tags=["email"])
MEDIA_TYPE = "message/rfc822"
MAX_ID_DIGITS = 18  # a BIGINT


class UnsupportedMedia(KefuError):
    code = "unsupported_media_type"
    status = 415


class InboundOut(BaseModel):
    status: str  # commented, created, duplicate, ignored
    ticket_id: str | None


class MailOut(BaseModel):
    id: str
    direction: str  # in, out
    status: str  # received, pending, sent, failed
    message_id: str
    comment_id: str | None
    attempts: int
    last_error: str | None
    created_at: str
    sent_at: str | None


class MailPage(BaseModel):
    items: list[MailOut]


class TicketFilesOut(BaseModel):
    items: list[AttachmentOut]


def _email(kefu: Node) -> EmailService:
    if kefu.email is None:
        raise NotFound("email is not configured on this server", code="email_not_configured")
    return kefu.email


async def mail_poster(request: Request) -> str:
    """The machine client posting mail: an API token with ``email:write``."""
    kefu: Node = request.app.state.node
    token = bearer(request)
    if token is None:
        raise Unauthenticated("an API token with the email:write scope is required")
    if not is_api_token(token):
        await kefu.auth.principal(token)  # a bad token is 401, a good one is not enough
        raise Forbidden("posting mail needs an API token with email:write", code="missing_scope")
    machine = await kefu.api_tokens.authenticate(token)
    machine.require("email:write")
    return machine.key


PosterDep = Annotated[str, Depends(mail_poster)]


@router.post(
    "/email/inbound",
    status_code=202,
    response_model=InboundOut,
    summary="Post a raw mail (message/rfc822): a reply becomes a comment, else a new ticket",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def inbound(request: Request, poster: PosterDep, kefu: NodeDep) -> InboundOut:
    email = _email(kefu)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != MEDIA_TYPE:
        raise UnsupportedMedia(f"post the raw message as Content-Type: {MEDIA_TYPE}")
    raw = await _read(request, email.settings.max_inbound_bytes)
    received = await email.receive(raw)
    ticket = received.ticket_id
    return InboundOut(status=received.outcome, ticket_id=str(ticket) if ticket else None)


async def _read(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed ``limit``."""
    too_big = TooLarge(f"a message is limited to {limit} bytes", code="message_too_large")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_big
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_big
        chunks.append(chunk)
    if not size:
        raise BadInput("the body is empty: post the raw message", code="invalid_message")
    return b"".join(chunks)


@router.get("/tickets/{ticket_id}/mails", response_model=MailPage)
async def ticket_mails(ticket_id: str, caller: AgentDep, kefu: NodeDep) -> MailPage:
    """The ticket's mail thread, oldest first: what was sent, is waiting, failed, came in."""
    email = _email(kefu)
    number = await _ticket(kefu, ticket_id)
    return MailPage(
        items=[
            MailOut(
                id=str(m.id),
                direction=m.direction,
                status=m.status,
                message_id=m.message_id,
                comment_id=str(m.comment_id) if m.comment_id is not None else None,
                attempts=m.attempts,
                last_error=m.last_error,
                created_at=iso(m.created_at),
                sent_at=iso(m.sent_at) if m.sent_at else None,
            )
            for m in await email.repo.mails(number)
        ]
    )


@router.get("/tickets/{ticket_id}/attachments", response_model=TicketFilesOut)
async def ticket_files(ticket_id: str, caller: AgentDep, kefu: NodeDep) -> TicketFilesOut:
    """Files of the ticket (an inbound mail's attachments, a department system's uploads
    over gRPC), with signed links. Answered with or without ``email:`` configured."""
    number = await _ticket(kefu, ticket_id)
    ids = await kefu.repos.attachments.of_ticket(number)
    found = {a.id: a for a in await kefu.repos.attachments.many(ids)}
    return TicketFilesOut(
        items=[AttachmentOut.of(found[i], kefu.attachments.download_url) for i in ids if i in found]
    )


async def _ticket(kefu: Node, raw: str) -> int:
    """A ticket id from the path (digits, as the tickets API writes them), known to exist."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > MAX_ID_DIGITS:
        raise NotFound(f"no ticket {raw[:40]!r}", code="ticket_not_found")
    return (await kefu.tickets.get(int(raw))).id
