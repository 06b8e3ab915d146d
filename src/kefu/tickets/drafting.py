"""Ticket text made from other things: a subject from free text, a chat's transcript.

Pure functions of their input, kept apart from the service that stores what they make.
"""

from __future__ import annotations

from collections.abc import Sequence

from kefu.domain.models import ConversationSummary, Message, SenderKind, Visitor
from kefu.domain.tickets import Channel, Priority, TicketDraft
from kefu.store.offline import OfflineMessage
from kefu.texts import say

# A subject taken from a chat line reads as a subject, not as a paragraph.
DERIVED_SUBJECT_CHARS = 120
# A chat transcript in a ticket body: enough to follow the story, bounded in size; the
# conversation itself stays linked for the rest.
TRANSCRIPT_MESSAGES = 200
TRANSCRIPT_CHARS = 20_000


def derived_subject(text: str, fallback: str) -> str:
    """A one-line subject from free text: whitespace collapsed, cut at a word."""
    line = " ".join(text.split())
    if not line:
        return fallback
    if len(line) <= DERIVED_SUBJECT_CHARS:
        return line
    cut = line[: DERIVED_SUBJECT_CHARS - 1]
    if " " in cut[DERIVED_SUBJECT_CHARS // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut + "…"


def transcript(
    messages: Sequence[Message],
    visitor_name: str | None,
    conversation_id: str,
    locale: str | None = None,
) -> str:
    """The chat as plain text, oldest first, bounded by TRANSCRIPT_MESSAGES/CHARS, its
    own words (who spoke, notes, attachments) in the site's ``locale``. The bot's lines
    (welcome, offline notice, auto-replies) are left out: kefu's own words tell whoever
    works the ticket nothing about the customer's problem."""
    messages = [m for m in messages if m.sender.kind is not SenderKind.BOT]
    lines: list[str] = []
    size = 0
    shown = 0
    for message in messages[:TRANSCRIPT_MESSAGES]:
        who = _speaker(message, visitor_name, locale)
        body = message.body
        if message.attachments:
            names = say(locale, "ticket.list_separator").join(a.name for a in message.attachments)
            body = f"{body} {say(locale, 'ticket.attachments', names=names)}".strip()
        when = f"{message.created_at:%Y-%m-%d %H:%M} UTC"
        line = say(locale, "ticket.line", time=when, who=who, body=body)
        if size + len(line) > TRANSCRIPT_CHARS:
            break
        lines.append(line)
        size += len(line) + 1
        shown += 1
    if shown < len(messages):
        lines.append(say(locale, "ticket.rest", conversation=conversation_id))
    if not lines:
        return say(locale, "ticket.no_messages", conversation=conversation_id)
    return "\n".join(lines)


def _speaker(message: Message, visitor_name: str | None, locale: str | None) -> str:
    if message.internal:
        return say(
            locale, "ticket.internal", name=message.sender.name or say(locale, "ticket.agent")
        )
    kind = message.sender.kind
    if kind is SenderKind.VISITOR:
        return visitor_name or say(locale, "ticket.visitor")
    if kind is SenderKind.AGENT:
        return message.sender.name or say(locale, "ticket.agent")
    if kind is SenderKind.BOT:
        return say(locale, "ticket.bot")
    return say(locale, "ticket.system")


def conversation_draft(
    summary: ConversationSummary,
    messages: Sequence[Message],
    *,
    priority: Priority,
    subject: str | None,
    assignee_id: str | None,
    locale: str | None = None,
) -> TicketDraft:
    """A chat's ticket: ``subject`` or the visitor's first words, the transcript, the
    conversation's customer, ``assignee_id`` or the conversation's agent; kefu's own
    words in the site's ``locale``."""
    conversation_id = summary.record.id
    first_words = next((m.body for m in messages if m.sender.kind is SenderKind.VISITOR), "")
    visitor = summary.visitor_name or say(locale, "ticket.a_visitor")
    given = (subject or "").strip()
    return TicketDraft(
        subject=given
        or derived_subject(first_words, say(locale, "ticket.chat_subject", visitor=visitor)),
        body=transcript(messages, summary.visitor_name, conversation_id, locale),
        customer_key=summary.customer_key,
        channel=Channel.CONVERSATION,
        priority=priority,
        conversation_id=conversation_id,
        assignee_id=assignee_id or summary.record.assignee_id,
    )


def offline_draft(
    message: OfflineMessage, visitor: Visitor | None, priority: Priority, locale: str | None
) -> TicketDraft:
    """An offline message's ticket: its words, who left it (name <email>), the verified
    customer's key; kefu's own words in the site's ``locale``."""
    sender = " ".join(
        p for p in (message.name, f"<{message.email}>" if message.email else None) if p
    )
    who = sender or say(locale, "ticket.a_visitor")
    trusted = visitor is not None and visitor.identity_verified
    return TicketDraft(
        subject=derived_subject(message.body, say(locale, "ticket.offline_subject")),
        body=f"{message.body}\n\n{say(locale, 'ticket.offline_footer', sender=who)}",
        customer_key=visitor.external_id if trusted and visitor is not None else None,
        channel=Channel.OFFLINE,
        priority=priority,
    )
