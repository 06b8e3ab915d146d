"""One outgoing mail of a ticket's thread: text and HTML parts, threading headers.

Every mail of a ticket carries its own ``Message-ID`` and names the thread it belongs to
(``In-Reply-To`` the latest mail of the ticket, ``References`` its first and latest
few), so mail clients show one conversation per ticket and a reply finds its ticket
(``kefu.email.threads``). Header values come from checked ``Mailbox``es and the
``email`` package's header objects, never from string concatenation: no text a visitor
wrote can add a header.
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from kefu.email.addresses import Mailbox, check_name
from kefu.email.catalog import texts

# The line above which a reply is the customer's new text (kefu.email.reply cuts there).
MARKER = "##-"
# References kept besides the first: mail clients need the root, and a long ticket
# should not grow a header of hundreds of ids.
MAX_REFERENCES = 10


@dataclass(frozen=True, slots=True)
class Outgoing:
    """What a ticket's mail says and where it sits in its thread."""

    ticket_id: int
    subject: str  # the ticket's
    body: str  # the comment's
    agent: str | None
    team: str | None  # the site's name; the catalog's "Support" when unset
    locale: str | None
    sender: Mailbox
    recipient: Mailbox
    message_id: str  # without angle brackets
    thread: Sequence[str]  # the ticket's earlier message ids, oldest first


def new_message_id(ticket_id: int, domain: str) -> str:
    """Unguessable, so a reply's ``In-Reply-To`` proves it answers this mail."""
    return f"kefu.{ticket_id}.{secrets.token_hex(12)}@{domain}"


def compose(mail: Outgoing, now: datetime) -> EmailMessage:
    t = texts(mail.locale)
    ticket = str(mail.ticket_id)
    team = mail.team or t["team"]
    name = check_name(mail.recipient.name)
    greeting = t["greeting"].format(name=name) if name else t["greeting_anonymous"]
    signature = t["signature"].format(agent=mail.agent, team=team) if mail.agent else team
    footer = t["footer"].format(ticket=ticket, subject=mail.subject)
    marker = f"{MARKER} {t['reply_above']} -##"
    message = EmailMessage()
    message["Subject"] = _one_line(t["subject"].format(subject=mail.subject, ticket=ticket))
    message["From"] = mail.sender.header()
    message["To"] = mail.recipient.header()
    message["Date"] = format_datetime(now)
    message["Message-ID"] = f"<{mail.message_id}>"
    if mail.thread:
        refs = [mail.thread[0], *mail.thread[1:][-MAX_REFERENCES:]]
        message["In-Reply-To"] = f"<{mail.thread[-1]}>"
        message["References"] = " ".join(f"<{ref}>" for ref in refs)
    message["X-Kefu-Ticket"] = ticket
    text = "\n".join([marker, "", greeting, "", mail.body.strip(), "", f"-- {signature}", footer])
    message.set_content(text + "\n")
    message.add_alternative(_html(marker, greeting, mail.body, signature, footer), subtype="html")
    return message


def _html(marker: str, greeting: str, body: str, signature: str, footer: str) -> str:
    paragraphs = "".join(
        f"<p>{html.escape(block).replace(chr(10), '<br>')}</p>"
        for block in body.strip().split("\n\n")
        if block.strip()
    )
    return (
        '<!doctype html><html><body style="font-family:sans-serif;line-height:1.5">'
        f'<p style="color:#888;font-size:12px">{html.escape(marker)}</p>'
        f"<p>{html.escape(greeting)}</p>{paragraphs}"
        f"<p>— {html.escape(signature)}</p>"
        f'<p style="color:#888;font-size:12px">{html.escape(footer)}</p>'
        "</body></html>\n"
    )


def _one_line(text: str) -> str:
    """A subject is one line whatever the ticket's subject held."""
    return " ".join(text.split())
