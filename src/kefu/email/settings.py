"""``email:`` settings: the SMTP server kefu sends through, who mail comes from, and the
bounds of retries and of mail posted in. Unset: no email is sent or accepted."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kefu.email.addresses import InvalidAddress, Mailbox, parse_mailbox

MIB = 1024 * 1024
SCHEMES = {"smtp": (25, "plain"), "smtps": (465, "tls"), "smtp+starttls": (587, "starttls")}


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """Where and how to connect, from ``smtp_url`` (credentials from it or the settings)."""

    host: str
    port: int
    security: str  # plain, tls (implicit, smtps) or starttls
    username: str | None
    password: str | None


class EmailSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    # smtp://HOST:PORT (plain, port 25), smtps://… (TLS from the start, 465) or
    # smtp+starttls://… (upgraded, 587); user:password@ in the URL works, but the
    # ``username``/``password`` keys (or KEFU_EMAIL__PASSWORD) keep it out of the file.
    smtp_url: str
    sender: str = Field(alias="from")
    username: str | None = None
    # A plain string, not SecretStr: ``kefu serve --workers`` hands each worker the
    # settings as JSON, where a SecretStr would arrive masked. Kept out of repr instead.
    password: str | None = Field(default=None, repr=False)
    # One SMTP exchange (connect, TLS, login, send) must finish within this.
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    # A mail that keeps failing is retried with growing pauses, then marked failed: 10
    # attempts from 30 s doubling up to an hour cover a mail server down for half a day.
    max_attempts: int = Field(default=10, ge=1, le=50)
    backoff_seconds: float = Field(default=30.0, gt=0, le=3600)
    max_backoff_seconds: float = Field(default=3600.0, gt=0, le=86400)
    # Mail another node queued (or this one before a restart) is found by polling.
    poll_seconds: float = Field(default=5.0, gt=0, le=3600)
    # Largest raw message POST /api/v1/email/inbound takes: a few attachments' worth.
    max_inbound_bytes: int = Field(default=25 * MIB, ge=1024, le=1024 * MIB)

    @field_validator("smtp_url")
    @classmethod
    def _url(cls, value: str) -> str:
        _server(value, None, None)
        return value

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        try:
            parse_mailbox(value, what="from")
        except InvalidAddress as exc:
            raise ValueError(exc.message) from None
        return value

    @property
    def mailbox(self) -> Mailbox:
        return parse_mailbox(self.sender, what="from")

    @property
    def server(self) -> SmtpServer:
        return _server(self.smtp_url, self.username, self.password)


def _server(url: str, username: str | None, password: str | None) -> SmtpServer:
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ValueError("must be smtp://HOST:PORT, smtps://HOST:PORT or smtp+starttls://HOST:PORT")
    if not parts.hostname:
        raise ValueError("names no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("takes no path or query: smtp://HOST:PORT")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("has an invalid port") from None
    default_port, security = SCHEMES[parts.scheme]
    return SmtpServer(
        host=parts.hostname,
        port=port or default_port,
        security=security,
        username=username or (unquote(parts.username) if parts.username else None),
        password=password or (unquote(parts.password) if parts.password else None),
    )
