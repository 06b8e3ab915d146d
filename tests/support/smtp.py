"""A real SMTP server (aiosmtpd) for the email tests: it accepts mail on a free port,
keeps what it received, and can be told to refuse the next mails with a reply code (a
real server's temporary or permanent refusal), so retries are tested against SMTP."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.support.ports import free_port

# Long enough for a mail queued by a busy node to arrive; only a broken sender waits this.
HANG_GUARD = 30.0


@dataclass
class Received:
    sender: str
    recipients: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=default).parsebytes(self.raw)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def text(self) -> str:
        """The text/plain part (every mail kefu sends has one)."""
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None, "no text/plain part"
        content: str = part.get_content()
        return content


@dataclass
class Mailbox:
    """What the server received, and refusals it will answer next (``"451 …"``)."""

    received: list[Received] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    refused: int = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refusals:
            self.refused += 1
            return self.refusals.pop(0)
        content: Any = envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode()
        self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), raw))
        return "250 OK"

    async def wait_for(self, count: int) -> list[Received]:
        """The first ``count`` mails, once they are there (a hang guard, never a sleep)."""
        deadline = time.monotonic() + HANG_GUARD
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"{len(self.received)} of {count} mails came"
            await asyncio.sleep(0.02)
        return self.received[:count]


@dataclass
class SmtpServer:
    mailbox: Mailbox
    port: int

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


@contextlib.contextmanager
def smtp_server() -> Iterator[SmtpServer]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer(mailbox, port)
    finally:
        controller.stop()
