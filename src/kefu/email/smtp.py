"""Hand one message to the configured SMTP server (aiosmtplib): the only network code of
outbound email. Says whether a failure is worth retrying; never raises for the server's
answers, so the worker records every attempt."""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import aiosmtplib

from kefu.email.settings import SmtpServer

# Enough of a server's refusal to tell an operator why, short enough for the column.
MAX_ERROR_CHARS = 300


@dataclass(frozen=True, slots=True)
class Sent:
    """One attempt's outcome: ``error`` None means the server took the message."""

    error: str | None = None
    permanent: bool = False  # a 5xx answer: sending again would be refused again


class SmtpSender:
    def __init__(
        self,
        server: SmtpServer,
        timeout_seconds: float,
        *,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self._server = server
        self._timeout = timeout_seconds
        self._tls = tls_context

    async def send(self, raw: bytes, sender: str, recipient: str) -> Sent:
        server = self._server
        try:
            await aiosmtplib.send(
                raw,
                sender=sender,
                recipients=[recipient],
                hostname=server.host,
                port=server.port,
                username=server.username,
                password=server.password,
                use_tls=server.security == "tls",
                # smtp:// is what it says: no opportunistic upgrade a local relay's
                # self-signed certificate would then fail.
                start_tls=server.security == "starttls",
                tls_context=self._tls,
                timeout=self._timeout,
            )
        except aiosmtplib.SMTPResponseException as exc:
            return Sent(_cut(f"SMTP {exc.code}: {exc.message}"), permanent=exc.code >= 500)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            first = exc.recipients[0] if exc.recipients else None
            code = first.code if first is not None else 550
            return Sent(_cut(f"SMTP {code}: recipient refused"), permanent=code >= 500)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return Sent(_cut(f"{type(exc).__name__}: {exc}".rstrip(": ")))
        return Sent()


def _cut(text: str) -> str:
    return " ".join(text.split())[:MAX_ERROR_CHARS]
