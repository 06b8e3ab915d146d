"""Public comments on a ticket with a requester's address become queued mails.

``MailComments`` is the ticket service's comment hook: it runs inside the unit of work
that stores the comment, so the mail row (written through ``uow.mail``) exists exactly
when the comment does, and the worker is woken after the commit. Nothing is sent here:
a slow or down SMTP server never holds an agent's request.

Which tickets are mailed: those with a thread, started by an inbound mail
(``kefu.email.inbound``) or, at their first public comment, by the offline message they
were made from when it left an address. Not mailed: internal notes, and comments that
came from the requester's own mail (sending their words back to them would be a loop).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from email.policy import SMTP

from kefu.config import Settings
from kefu.domain.tickets import Channel, Ticket, TicketComment
from kefu.email.addresses import InvalidAddress, Mailbox, check_address, check_name
from kefu.email.compose import Outgoing, compose, new_message_id
from kefu.ports import Clock
from kefu.store.email import Thread
from kefu.store.unit_of_work import StoreUnitOfWork
from kefu.tickets.service import Actor

log = logging.getLogger(__name__)

# The actor key of comments made from the requester's mail (kefu.email.inbound).
REQUESTER_KEY = "email:requester"


class MailComments:
    def __init__(self, settings: Settings, clock: Clock, notify: Callable[[], None]) -> None:
        if settings.email is None:
            raise ValueError("MailComments needs email settings")
        self._settings = settings
        self._sender = settings.email.mailbox
        self._clock = clock
        self._notify = notify

    async def __call__(
        self, uow: StoreUnitOfWork, ticket: Ticket, comment: TicketComment, actor: Actor
    ) -> None:
        if comment.internal or actor.key == REQUESTER_KEY:
            return
        mail_rows = uow.mail
        now = self._clock.now()
        found = await mail_rows.thread(ticket.id)
        if found is None:
            if ticket.channel is not Channel.OFFLINE:
                return  # no requester address: nothing to mail, no query more
            found = await self._from_offline(uow, ticket.id)
            if found is None:
                return
            await mail_rows.start_thread(found, now)
        message_id = new_message_id(ticket.id, self._sender.domain)
        mail = Outgoing(
            ticket_id=ticket.id,
            subject=ticket.subject,
            body=comment.body,
            agent=comment.author_name,
            team=found.team,
            locale=found.locale,
            sender=self._sender,
            recipient=Mailbox(found.address, found.name),
            message_id=message_id,
            thread=await mail_rows.message_ids(ticket.id),
        )
        raw = compose(mail, now).as_bytes(policy=SMTP)
        await mail_rows.enqueue(
            ticket_id=ticket.id,
            comment_id=comment.id,
            message_id=message_id,
            recipient=found.address,
            raw=raw,
            now=now,
        )
        uow.after_commit(self._notify)

    async def _from_offline(self, uow: StoreUnitOfWork, ticket_id: int) -> Thread | None:
        requester = await uow.mail.offline_requester(ticket_id)
        if requester is None:
            return None
        try:
            address = check_address(requester.email)
        except InvalidAddress:
            # The offline form checks addresses; one it let through that mail cannot
            # carry (a non-ASCII local part) is not mailed. No address in the log.
            log.info("email: ticket %s: the offline message's address cannot be mailed", ticket_id)
            return None
        site = self._settings.site(requester.site_id)
        return Thread(
            ticket_id=ticket_id,
            address=address,
            name=check_name(requester.name),
            locale=site.locale if site is not None else None,
            team=site.name if site is not None else None,
        )
