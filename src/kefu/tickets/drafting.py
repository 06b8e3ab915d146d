"""Ticket text made from other things: a subject from free text, a chat's transcript.

Pure functions of their input, kept apart from the service that stores what they make.
"""

from __future__ import annotations

from collections.abc import Sequence

from kefu.domain.models import ConversationSummary, Message, SenderKind
from kefu.domain.tickets import Channel, Priority, TicketDraft

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


def transcript(messages: Sequence[Message], visitor_name: str | None, conversation_id: str) -> str:
    """The chat as plain text, oldest first, bounded by TRANSCRIPT_MESSAGES/CHARS. The
    bot's lines (welcome, offline notice, auto-replies) are left out: kefu's own words
    tell whoever works the ticket nothing about the customer's problem."""
    messages = [m for m in messages if m.sender.kind is not SenderKind.BOT]
    lines: list[str] = []
    size = 0
    shown = 0
    for message in messages[:TRANSCRIPT_MESSAGES]:
        who = _speaker(message, visitor_name)
        body = message.body
        if message.attachments:
            names = ", ".join(a.name for a in message.attachments)
            body = f"{body} [attachments: {names}]".strip()
        line = f"[{message.created_at:%Y-%m-%d %H:%M} UTC] {who}: {body}"
        if size + len(line) > TRANSCRIPT_CHARS:
            break
        lines.append(line)
        size += len(line) + 1
        shown += 1
    if shown < len(messages):
        lines.append(f"… the rest is in conversation {conversation_id}")
    return "\n".join(lines) if lines else f"(conversation {conversation_id} has no messages)"


def _speaker(message: Message, visitor_name: str | None) -> str:
    if message.internal:
        return f"{message.sender.name or 'Agent'} (internal note)"
    kind = message.sender.kind
    if kind is SenderKind.VISITOR:
        return visitor_name or "Visitor"
    if kind is SenderKind.AGENT:
        return message.sender.name or "Agent"
    if kind is SenderKind.BOT:
        return "Bot"
    return "System"


def conversation_draft(
    summary: ConversationSummary,
    messages: Sequence[Message],
    *,
    priority: Priority,
    subject: str | None,
    assignee_id: str | None,
) -> TicketDraft:
    """A chat's ticket: ``subject`` or the visitor's first words, the transcript, the
    conversation's customer, ``assignee_id`` or the conversation's agent."""
    conversation_id = summary.record.id
    first_words = next((m.body for m in messages if m.sender.kind is SenderKind.VISITOR), "")
    visitor = summary.visitor_name or "a visitor"
    given = (subject or "").strip()
    return TicketDraft(
        subject=given or derived_subject(first_words, f"Chat with {visitor}"),
        body=transcript(messages, summary.visitor_name, conversation_id),
        customer_key=summary.customer_key,
        channel=Channel.CONVERSATION,
        priority=priority,
        conversation_id=conversation_id,
        assignee_id=assignee_id or summary.record.assignee_id,
    )
