"""A raw RFC 5322 message, as an inbound mail service posts it, read into what a ticket
needs: who sent it, the subject, the text, the ids it answers, the attached files.

Parsed with the standard library (``email`` with policy ``default``). The text is the
``text/plain`` body, else the ``text/html`` one reduced to text (``html_to_text``).
A message that is not one (no headers, no ``From`` address) is ``MalformedMail``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage, Message, MIMEPart
from email.parser import BytesParser
from email.policy import default

from kefu.email.addresses import InvalidAddress, Mailbox, parse_mailbox
from kefu.email.html_text import html_to_text
from kefu.errors import BadInput

# Message-IDs as headers write them: <local@domain>, several in References.
_IDS = re.compile(r"<([^<>\s]{1,250})>")
MAX_SUBJECT_CHARS = 300
# A mail with more files than this is not a customer writing: the rest are dropped.
MAX_FILES = 20


class MalformedMail(BadInput):
    code = "invalid_message"


@dataclass(frozen=True, slots=True)
class MailFile:
    name: str | None
    data: bytes


@dataclass(frozen=True, slots=True)
class InboundMail:
    sender: Mailbox
    subject: str
    text: str
    message_id: str | None  # without <>
    answers: list[str]  # In-Reply-To then References, without <>, latest last
    recipients: list[str]  # To, Cc, Delivered-To addresses (ticket tags), as written
    auto_submitted: bool  # an auto-reply or a bounce (RFC 3834)
    files: list[MailFile] = field(default_factory=list)
    dropped_files: int = 0


def parse(raw: bytes) -> InboundMail:
    if not raw.strip():
        raise MalformedMail("the body is empty: post the raw message (message/rfc822)")
    try:
        message = BytesParser(policy=default).parsebytes(raw)
    except Exception:  # the parser is lenient; anything it raises means "not a message"
        raise MalformedMail("this is not an RFC 5322 message") from None
    if not isinstance(message, EmailMessage) or not message.keys():
        raise MalformedMail("this is not an RFC 5322 message: it has no header")
    try:
        sender_text = str(message.get("From", "") or "")
        sender = parse_mailbox(sender_text, what="From")
    except InvalidAddress as exc:
        raise MalformedMail(f"the message's From is unusable: {exc.message}") from None
    except Exception:
        raise MalformedMail("the message's From header cannot be read") from None
    # NUL cannot be stored (PostgreSQL text) and means nothing in a mail: dropped.
    subject = " ".join(_header(message, "Subject").replace("\x00", "").split())
    subject = subject[:MAX_SUBJECT_CHARS]
    ids = _ids(_header(message, "Message-ID"))
    answers = _ids(_header(message, "References")) + _ids(_header(message, "In-Reply-To"))
    recipients = []
    for name in ("To", "Cc", "Delivered-To", "X-Original-To"):
        recipients += [a.addr_spec for a in _addresses(message, name)]
    auto = _header(message, "Auto-Submitted").strip().lower() not in ("", "no")
    files, dropped = _files(message)
    return InboundMail(
        sender=sender,
        subject=subject,
        text=_text(message).replace("\x00", ""),
        message_id=ids[0] if ids else None,
        answers=list(dict.fromkeys(answers)),
        recipients=recipients,
        auto_submitted=auto,
        files=files,
        dropped_files=dropped,
    )


def _header(message: Message, name: str) -> str:
    try:
        return str(message.get(name, "") or "")
    except Exception:  # an undecodable header is as good as absent
        return ""


def _addresses(message: Message, name: str) -> list[Address]:
    try:
        value = message.get(name)
        return list(getattr(value, "addresses", ()) or ())
    except Exception:
        return []


def _ids(text: str) -> list[str]:
    return _IDS.findall(text)


def _text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return ""
    content = _content(body)
    if body.get_content_subtype() == "html":
        return html_to_text(content)
    return content.replace("\r\n", "\n").strip()


def _content(part: MIMEPart) -> str:
    try:
        value = part.get_content()
    except (LookupError, ValueError, AssertionError):  # unknown charset, bad encoding
        payload = part.get_payload(decode=True)
        value = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    return value if isinstance(value, str) else ""


def _files(message: EmailMessage) -> tuple[list[MailFile], int]:
    """Every file of the mail, however deep: attachments, and inline images inside
    nested parts (``multipart/related`` in ``multipart/alternative`` in
    ``multipart/mixed``, as Apple Mail and Outlook write an HTML mail with pictures),
    which ``iter_attachments`` never reaches. Not files: the text kefu read, the other
    inline text renderings, and attached messages (``message/rfc822``) with their
    insides. The upload limits apply later, file by file (``Inbox``)."""
    if not message.is_multipart():
        return [], 0  # the whole mail is its text
    body = message.get_body(preferencelist=("plain", "html"))
    files: list[MailFile] = []
    dropped = 0
    for part in _leaves(message):
        if part is body or (_is_text(part) and not part.is_attachment()):
            continue
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes) or not data:
            continue
        if len(files) >= MAX_FILES:
            dropped += 1
            continue
        files.append(MailFile(part.get_filename(), data))
    return files, dropped


def _leaves(part: MIMEPart) -> list[MIMEPart]:
    """The non-multipart parts under ``part``, in order (multiparts entered only; a
    message/* part is a leaf, so an attached mail is not taken apart)."""
    if part.get_content_maintype() != "multipart":
        return [part]
    children = part.get_payload()
    if not isinstance(children, list):
        return []
    return [leaf for child in children if isinstance(child, MIMEPart) for leaf in _leaves(child)]


def _is_text(part: MIMEPart) -> bool:
    return part.get_content_type() in ("text/plain", "text/html")
