"""A real SMTP server (aiosmtpd) for the email tests: it accepts mail on a free port,
keeps what it received, and can be told to refuse the next mails with a reply code (a
real server's temporary or permanent refusal), so retries are tested against SMTP. It
speaks plain SMTP, TLS from the start (smtps) or STARTTLS, with a certificate made for
the test by ``openssl``, and can require a login."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

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
    scheme: str = "smtp"
    # What a client must trust to talk TLS to this server (None: plain SMTP).
    client_tls: ssl.SSLContext | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"


def certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, made by ``openssl``."""
    cert, key = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


class _CountedSMTP(SMTP):
    """aiosmtpd's session, counted while its connection is open: stopping the server's
    loop while a client's connection is still closing leaves that socket unclosed, and
    its ResourceWarning then fails whichever test the garbage collector runs in."""

    def __init__(self, *args: Any, open_sessions: set[SMTP], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._open_sessions = open_sessions

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._open_sessions.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        super().connection_lost(error)
        self._open_sessions.discard(self)


class _CountingController(Controller):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.open_sessions: set[SMTP] = set()

    def factory(self) -> SMTP:
        return _CountedSMTP(self.handler, open_sessions=self.open_sessions, **self.SMTP_kwargs)

    def stop_when_idle(self) -> None:
        """Stop once every client has gone (the server's side of each socket is closed
        in the same loop callback that reports the connection lost); a client that never
        hangs up is waited for up to HANG_GUARD, then the server stops anyway."""
        deadline = time.monotonic() + HANG_GUARD
        while self.open_sessions and time.monotonic() < deadline:
            time.sleep(0.01)
        self.stop()


def _authenticator(login: str, password: str) -> Any:
    def check(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            login.encode(),
            password.encode(),
        )
        return AuthResult(success=ok, handled=False)

    return check


@contextlib.contextmanager
def smtp_server(
    security: str = "plain",
    *,
    directory: Path | None = None,
    login: tuple[str, str] | None = None,
) -> Iterator[SmtpServer]:
    """``security``: plain, tls (smtps) or starttls (required before MAIL); the TLS
    modes need a ``directory`` for the certificate. ``login``: (user, password) the
    server requires (over TLS only, as real servers do)."""
    mailbox = Mailbox()
    port = free_port()
    options: dict[str, Any] = {}
    client_tls = None
    if security != "plain":
        assert directory is not None, "TLS needs a directory for the certificate"
        cert, key = certificate(directory)
        server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_tls.load_cert_chain(cert, key)
        client_tls = ssl.create_default_context(cafile=str(cert))
        if security == "tls":
            options["ssl_context"] = server_tls
        else:
            options.update(tls_context=server_tls, require_starttls=True)
    if login is not None:
        options.update(authenticator=_authenticator(*login), auth_required=True)
        if security == "tls":
            # aiosmtpd does not count TLS from the first byte as TLS for AUTH; it is.
            options["auth_require_tls"] = False
    controller = _CountingController(mailbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    scheme = {"plain": "smtp", "tls": "smtps", "starttls": "smtp+starttls"}[security]
    try:
        yield SmtpServer(mailbox, port, scheme, client_tls)
    finally:
        controller.stop_when_idle()
