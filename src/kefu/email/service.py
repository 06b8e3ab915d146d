"""Email as one part of a node: the comment hook that queues mail, the worker that sends
it, the inbox that takes mail in, and the rule that makes offline messages tickets.

Built before the ticket service (which takes ``comments`` as its comment hook), bound to
it afterwards (``bind``), entered to start the worker.
"""

from __future__ import annotations

from types import TracebackType

from kefu.attachments.service import AttachmentService
from kefu.config import Settings
from kefu.email.inbound import Inbox, Received
from kefu.email.outbound import MailComments
from kefu.email.settings import EmailSettings
from kefu.email.smtp import SmtpSender
from kefu.email.worker import MailWorker
from kefu.errors import Unavailable
from kefu.events.rules import RuleSettings
from kefu.ports import Clock
from kefu.store.database import Database
from kefu.store.email import EmailRepository
from kefu.store.unit_of_work import Units
from kefu.tickets.service import TicketService

# "The offline form promises an answer by email": with email configured, every offline
# message that left an address becomes a ticket (made once, as the rule action does).
OFFLINE_RULE = RuleSettings(
    name="email.offline-message-ticket",
    on=["offline_message.created"],
    when=["data.email exists"],
    do=[{"ticket_from_offline_message": {}}],
)


def email_rules(settings: EmailSettings | None) -> list[RuleSettings]:
    """The rules email adds to the configured ones (none when email is off)."""
    return [OFFLINE_RULE] if settings is not None else []


class EmailService:
    def __init__(self, db: Database, settings: Settings, clock: Clock) -> None:
        if settings.email is None:
            raise ValueError("EmailService needs email settings")
        self.settings = settings.email
        self.repo = EmailRepository(db)
        sender = SmtpSender(self.settings.server, self.settings.timeout_seconds)
        self._worker = MailWorker(self.repo, sender, self.settings, clock)
        self.comments = MailComments(settings, clock, self._worker.notify)
        self._settings = settings
        self._clock = clock
        self._inbox: Inbox | None = None

    def bind(self, tickets: TicketService, attachments: AttachmentService, units: Units) -> None:
        """Give the inbox the services a mail posted in turns into tickets with."""
        site = self._settings.site("default")
        self._inbox = Inbox(
            self.repo,
            units,
            tickets,
            attachments,
            self._clock,
            self.settings.mailbox,
            locale=site.locale if site is not None else None,
            team=site.name if site is not None else None,
        )

    async def receive(self, raw: bytes) -> Received:
        if self._inbox is None:
            raise Unavailable("email is starting", code="email_unavailable")
        return await self._inbox.receive(raw)

    def notify(self) -> None:
        self._worker.notify()

    async def __aenter__(self) -> EmailService:
        await self._worker.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._worker.__aexit__(exc_type, exc, tb)
