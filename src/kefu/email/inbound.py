"""A mail posted in: a reply to one of kefu's mails becomes a public comment from the
requester on that ticket; anything else opens a new ticket (CONTRACT.md "Email").

Which ticket a reply answers: the ``In-Reply-To``/``References`` ids of a mail kefu
sent or took in for it (``email_messages``, unguessable ids), else, when a mail client
dropped those, a ticket tag (``[#123]`` in the subject, ``+123@`` in the address) whose
ticket's requester is the sender. A reply to a closed ticket opens a new one (closed is
final, ``kefu.domain.tickets``); one to a solved or pending ticket reopens it.

Loops: comments made here carry the requester's actor, which ``MailComments`` never
mails back; a mail from kefu's own address is taken and ignored, and so is an automatic
one (``Auto-Submitted``: a bounce, an out-of-office) that answers no ticket. The same Message-ID
posted twice changes nothing the second time.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from kefu.attachments.service import AttachmentService
from kefu.domain.tickets import Channel, Priority, TicketDraft, TicketPatch, TicketStatus
from kefu.email.addresses import Mailbox
from kefu.email.outbound import REQUESTER_KEY
from kefu.email.parse import InboundMail, parse
from kefu.email.reply import new_text
from kefu.errors import KefuError
from kefu.ports import Clock
from kefu.store.email import EmailRepository, Thread
from kefu.store.unit_of_work import Units
from kefu.tickets.drafting import derived_subject
from kefu.tickets.service import MAX_BODY_CHARS, MAX_SUBJECT_CHARS, Actor, TicketService

log = logging.getLogger(__name__)

FILE_UPLOADER = "email:inbound"
_SUBJECT_TAG = re.compile(r"\[#(\d{1,18})\]")
_ADDRESS_TAG = re.compile(r"\+(\d{1,18})@")
NO_TEXT = "(no text)"
REOPEN = frozenset({TicketStatus.SOLVED, TicketStatus.PENDING})


@dataclass(frozen=True, slots=True)
class Received:
    """What became of a mail: ``commented`` or ``created`` on ``ticket_id``, or
    ``duplicate`` (taken before) or ``ignored`` (kefu's own mail come back, or an
    automatic one answering no ticket)."""

    outcome: str
    ticket_id: int | None = None


class _Duplicate(Exception):
    """Another request took the same Message-ID first: roll this one back."""


class Inbox:
    def __init__(
        self,
        repo: EmailRepository,
        units: Units,
        tickets: TicketService,
        attachments: AttachmentService,
        clock: Clock,
        own: Mailbox,
        *,
        locale: str | None = None,
        team: str | None = None,
    ) -> None:
        self._repo = repo
        self._units = units
        self._tickets = tickets
        self._attachments = attachments
        self._clock = clock
        self._own = own
        self._locale = locale
        self._team = team

    async def receive(self, raw: bytes) -> Received:
        mail = parse(raw)  # MalformedMail (400) before anything is stored
        if mail.sender.address == self._own.address:
            log.info("email: inbound mail from kefu's own address ignored (a loop)")
            return Received("ignored")
        message_id = mail.message_id or f"kefu.in.{secrets.token_hex(12)}@{self._own.domain}"
        if await self._repo.seen(message_id):
            return Received("duplicate", await self._repo.ticket_of([message_id]))
        ticket_id = await self._answered(mail)
        if ticket_id is None and mail.auto_submitted:
            # A bounce or an auto-reply answering no ticket: a ticket for it would be
            # answered to a robot (RFC 3834 asks not to reply to them at all).
            log.info("email: an automatic inbound mail answering no ticket was ignored")
            return Received("ignored")
        files = await self._keep_files(mail)
        try:
            if ticket_id is not None:
                await self._comment(ticket_id, mail, message_id, files)
                log.info("email: inbound mail became a comment on ticket %s", ticket_id)
                return Received("commented", ticket_id)
            created = await self._create(mail, message_id, files)
        except _Duplicate:
            return Received("duplicate", await self._repo.ticket_of([message_id]))
        log.info("email: inbound mail opened ticket %s", created)
        return Received("created", created)

    async def _answered(self, mail: InboundMail) -> int | None:
        """The open ticket this mail answers, if any (closed ones take no comments)."""
        ticket_id = await self._repo.ticket_of(mail.answers)
        if ticket_id is None:
            ticket_id = await self._tagged(mail)
        if ticket_id is None:
            return None
        ticket = await self._tickets.get(ticket_id)
        return None if ticket.status is TicketStatus.CLOSED else ticket_id

    async def _tagged(self, mail: InboundMail) -> int | None:
        tags = [int(t) for t in _SUBJECT_TAG.findall(mail.subject)]
        for address in mail.recipients:
            tags += [int(t) for t in _ADDRESS_TAG.findall(address)]
        for tag in tags:
            # A tag is guessable: it counts only from the ticket's own requester.
            if await self._repo.requester(tag) == mail.sender.address.lower():
                return tag
        return None

    async def _keep_files(self, mail: InboundMail) -> list[str]:
        """Store the attachments the upload limits allow; the others are left out."""
        kept: list[str] = []
        for file in mail.files:
            try:
                attachment = await self._attachments.keep(FILE_UPLOADER, file.name, file.data)
            except KefuError as exc:
                log.info("email: an inbound attachment was not kept: %s", exc.code)
                continue
            kept.append(attachment.id)
        return kept

    def _body(self, mail: InboundMail, text: str, files: Sequence[str]) -> str:
        left_out = len(mail.files) + mail.dropped_files - len(files)
        body = text.strip() or NO_TEXT
        if left_out:
            body += f"\n\n({left_out} attachment(s) not kept: too large or not an accepted type)"
        return body[:MAX_BODY_CHARS]

    async def _comment(
        self, ticket_id: int, mail: InboundMail, message_id: str, files: list[str]
    ) -> None:
        actor = Actor(REQUESTER_KEY, mail.sender.name or mail.sender.address)
        body = self._body(mail, new_text(mail.text), files)
        reopen = (await self._tickets.get(ticket_id)).status in REOPEN
        async with self._units() as uow:
            now = self._clock.now()
            comment = await self._tickets.comment(ticket_id, body, actor, uow=uow)
            if not await uow.mail.record_inbound(ticket_id, message_id, comment.id, now):
                raise _Duplicate
            await uow.mail.attach(ticket_id, comment.id, files)
            if reopen:
                patch = TicketPatch(frozenset({"status"}), status=TicketStatus.OPEN)
                await self._tickets.update(ticket_id, patch, actor, uow=uow)

    async def _create(self, mail: InboundMail, message_id: str, files: list[str]) -> int:
        actor = Actor(REQUESTER_KEY, mail.sender.name or mail.sender.address)
        subject = mail.subject[:MAX_SUBJECT_CHARS].strip() or derived_subject(mail.text, "Email")
        draft = TicketDraft(
            subject=subject,
            body=self._body(mail, mail.text, files),
            customer_key=None,
            channel=Channel.EMAIL,
            priority=Priority.NORMAL,
        )
        async with self._units() as uow:
            now = self._clock.now()
            ticket = await self._tickets.create(draft, actor, uow)
            if not await uow.mail.record_inbound(ticket.id, message_id, None, now):
                raise _Duplicate
            thread = Thread(
                ticket.id, mail.sender.address, mail.sender.name, self._locale, self._team
            )
            await uow.mail.start_thread(thread, now)
            await uow.mail.attach(ticket.id, None, files)
        return ticket.id
