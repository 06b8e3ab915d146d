"""Files that department systems push into a ticket or a conversation, and read back.

It binds attachments to chat and tickets, so it sits with the API that serves it rather
than in ``kefu.attachments`` (which chat itself uses: no package cycle).

The rules are the HTTP upload's, by calling it (``AttachmentService.upload``: the size
limit, the type sniffed from the bytes, the hourly quota, here the API token's, and the
body streamed to disk as it arrives). What this adds is the target: the ticket or the
conversation is checked before a byte is read, and the stored file is bound to it. If
that binding fails the upload is undone, so a refused push leaves nothing behind.

A token with ``attachments:read`` reads the files of tickets and conversations (what its
``tickets:read`` sibling already shows) and its own uploads; a visitor's upload that no
message carries yet is nobody else's business, and answers "not found".
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from dataclasses import dataclass

from kefu.attachments.service import AttachmentService
from kefu.attachments.storage import Chunk
from kefu.auth.api_tokens import Machine
from kefu.chat.service import ChatService
from kefu.domain.conversation import Conversation, ConversationStatus
from kefu.domain.models import Attachment, Sender, SenderKind
from kefu.errors import BadInput, Conflict, NotFound
from kefu.store.attachments import AttachmentRepository
from kefu.tickets.service import TicketService

WRITE_SCOPE = "attachments:write"
READ_SCOPE = "attachments:read"
# The longest id kefu makes is 40 characters (``String(40)`` columns); a ticket id is a
# BIGINT (18 digits). Longer or odd input is refused before it reaches a query.
MAX_ID_CHARS = 40
MAX_TICKET_DIGITS = 18


@dataclass(frozen=True, slots=True)
class Target:
    """Where a pushed file goes: exactly one of ``ticket_id`` (as REST writes it, "42")
    and ``conversation_id``. ``share_with_visitor``: conversations only; the file is
    otherwise a private note that only agents see."""

    ticket_id: str | None = None
    conversation_id: str | None = None
    share_with_visitor: bool = False


@dataclass(frozen=True, slots=True)
class Placed:
    """A stored file and where it is: its ticket, or its conversation and message."""

    attachment: Attachment
    ticket_id: int | None = None
    message_id: int | None = None


class DepartmentFiles:
    def __init__(
        self,
        attachments: AttachmentService,
        repo: AttachmentRepository,
        tickets: TicketService,
        chat: ChatService,
    ) -> None:
        self._attachments = attachments
        self._repo = repo
        self._tickets = tickets
        self._chat = chat

    async def upload(
        self,
        machine: Machine,
        target: Target,
        name: str | None,
        chunks: AsyncIterable[Chunk],
        declared_size: int | None,
    ) -> Placed:
        """Check the scope and the target, stream the file in, bind it to the target."""
        machine.require(WRITE_SCOPE)
        ticket_id, conversation_id = await self._check_target(target)
        attachment = await self._attachments.upload(
            machine, name, chunks, declared_size=declared_size
        )
        try:
            if ticket_id is not None:
                await self._repo.add_to_ticket(attachment.id, ticket_id)
                return Placed(attachment, ticket_id=ticket_id)
            conversation = await self._open_conversation(conversation_id)
            message = await self._chat.messages.post_files(
                conversation,
                Sender(SenderKind.SYSTEM, machine.token_id, machine.name),
                machine,
                f"{machine.name}: {attachment.name}",
                [attachment],
                internal=not target.share_with_visitor,
            )
        except BaseException:
            await self._attachments.remove(attachment)
            raise
        return Placed(message.attachments[0], message_id=message.id)

    async def readable(self, machine: Machine, attachment_id: str) -> Placed:
        """The attachment, if this token may read it; ``NotFound`` otherwise."""
        machine.require(READ_SCOPE)
        if not _plain_id(attachment_id):
            raise NotFound("no such attachment", code="attachment_not_found")
        attachment = await self._attachments.get(attachment_id)
        ticket_id = await self._repo.ticket_of(attachment.id)
        if (
            ticket_id is None
            and attachment.conversation_id is None
            and attachment.uploader != machine.key
        ):
            raise NotFound("no such attachment", code="attachment_not_found")
        return Placed(attachment, ticket_id=ticket_id, message_id=attachment.message_id)

    async def _check_target(self, target: Target) -> tuple[int | None, str]:
        """The ticket's number, or the conversation's id; refused before any upload."""
        if (target.ticket_id is None) == (target.conversation_id is None):
            raise BadInput(
                "name exactly one of ticket_id and conversation_id", code="invalid_target"
            )
        if target.ticket_id is not None:
            if target.share_with_visitor:
                raise BadInput(
                    "share_with_visitor applies to conversations only", code="invalid_target"
                )
            raw = target.ticket_id
            if not (raw.isascii() and raw.isdigit()) or len(raw) > MAX_TICKET_DIGITS:
                raise NotFound(f"no ticket {raw[:40]!r}", code="ticket_not_found")
            return (await self._tickets.get(int(raw))).id, ""
        conversation_id = target.conversation_id or ""
        await self._open_conversation(conversation_id)
        return None, conversation_id

    async def _open_conversation(self, conversation_id: str) -> Conversation:
        conversation = (
            await self._chat.conversations.load(conversation_id)
            if _plain_id(conversation_id)
            else None
        )
        if conversation is None:
            raise NotFound(
                f"no conversation {conversation_id[:40]!r}", code="conversation_not_found"
            )
        if conversation.status is ConversationStatus.CLOSED:
            raise Conflict("the conversation is closed", code="conversation_closed")
        return conversation


def _plain_id(value: str) -> bool:
    """An id kefu could have made: short, printable ASCII (no NUL for PostgreSQL)."""
    return 0 < len(value) <= MAX_ID_CHARS and value.isascii() and value.isprintable()
