"""Messages in a conversation: send, typing and read signals, replay and history.

The hot path: a message arriving on a socket is checked against the cached conversation
(``OpenConversations``), stored by the group-committing ``MessageWriter``, acknowledged to
its sender, then encoded once and fanned out to every participant. A visitor's first
message opens the conversation and carries the greetings in the same batch; only once it
is stored is the assigner asked for an agent, so nothing an agent says lands before it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import msgspec

from kefu.attachments.service import AttachmentService, Uploader
from kefu.auth.principal import Principal
from kefu.chat import server_frames
from kefu.chat.assigner import Assigner
from kefu.chat.feed import ConversationFeed
from kefu.chat.greetings import Greetings
from kefu.chat.hub import Hub
from kefu.chat.open_conversations import OpenConversations, agent_side, others, participants
from kefu.config import ChatSettings
from kefu.domain.conversation import Conversation, ConversationStatus
from kefu.domain.ids import MESSAGE_ID_WIDTH, format_message_id, parse_message_id
from kefu.domain.models import Attachment, Message, NewMessage, Sender, SenderKind
from kefu.domain.roles import Role
from kefu.errors import BadInput, Conflict, Forbidden
from kefu.observability import metrics
from kefu.ports import Clock, MessageAppender
from kefu.store.repositories import Repositories
from kefu.texts import say

# Messages sent per page while replaying history on ``resume``: bounds one query's size.
RESUME_PAGE = 500
# Above every message id (ids have 16 digits): "before" this is the latest page.
LATEST = 10**MESSAGE_ID_WIDTH


@dataclass(frozen=True, slots=True)
class SendResult:
    message: Message
    created: bool


class ChatMessages:
    def __init__(
        self,
        repos: Repositories,
        writer: MessageAppender,
        hub: Hub,
        clock: Clock,
        settings: ChatSettings,
        conversations: OpenConversations,
        assigner: Assigner,
        greetings: Greetings,
        feed: ConversationFeed,
        attachments: AttachmentService | None,
    ) -> None:
        self._repos = repos
        self._writer = writer
        self._hub = hub
        self._clock = clock
        self._max_body_chars = settings.max_body_chars
        self._conversations = conversations
        self._assigner = assigner
        self._greetings = greetings
        self._feed = feed
        self._attachments = attachments
        # Every message.new signs its attachments' download links (none without files).
        self._links = attachments.download_url if attachments is not None else None

    async def send(
        self,
        principal: Principal,
        client_msg_id: str,
        body: str,
        conversation_id: str | None,
        reply: Callable[[bytes], None],
        attachment_ids: Sequence[str] = (),
        internal: bool = False,
    ) -> SendResult:
        """Store a message, ack it through ``reply``, then fan it out to every participant.

        ``internal``: a private note, for the agents on the conversation (its assignee and
        the supervisors watching it), never for the visitor.
        """
        if internal:
            if not principal.is_agent:
                raise Forbidden("only agents write private notes", code="agents_only")
            if attachment_ids:
                raise BadInput("a private note carries text only", code="note_attachments")
        carried: list[Attachment] = []
        if attachment_ids and self._attachments is not None:
            carried = await self._attachments.for_sending(principal, attachment_ids)
        if not body.strip() and not carried:
            raise BadInput("the message body is empty", code="empty_body")
        if len(body) > self._max_body_chars:
            raise BadInput(
                f"the message body exceeds {self._max_body_chars} characters",
                code="body_too_long",
            )
        opened = False
        if conversation_id is None:
            if principal.is_agent:
                raise BadInput("agents must name the conversation", code="missing_conversation")
            if not self._conversations.has_open(principal.id):
                # It may open one: the site's required pre-chat fields first, nothing stored.
                await self._greetings.admit_conversation(principal.id, principal.site_id)
            conversation, opened = await self._conversations.of_visitor(principal.id)
        else:
            conversation = await self._conversations.accessible(principal, conversation_id)
        if conversation.status is ConversationStatus.CLOSED:
            raise Conflict("the conversation is closed", code="conversation_closed")

        sender = Sender(
            SenderKind.AGENT if principal.is_agent else SenderKind.VISITOR,
            principal.id,
            principal.name,
        )
        new = NewMessage(
            conversation.id, sender, body, self._clock.now(), client_msg_id, internal=internal
        )
        greetings: list[tuple[Message, bool]] = []
        unless_online: NewMessage | None = None
        if opened:
            # The greeting is stored right behind the first message, in the same batch:
            # no reply or close can land between them.
            welcome, unless_online = await self._greetings.for_new(conversation)
            stored = await self._writer.append_many([new, *welcome])
            (message, created), greetings = stored[0], stored[1:]
        else:
            message, created = await self._writer.append(new)
        if created and carried and self._attachments is not None:
            # Linked before the ack and the fan-out, so every recipient may fetch them.
            await self._attachments.link(principal, carried, conversation.id, message.id)
            message = msgspec.structs.replace(
                message,
                attachments=tuple(
                    dataclasses.replace(a, conversation_id=conversation.id, message_id=message.id)
                    for a in carried
                ),
            )
        if opened:
            # Assigned only once the first message (and its greetings) is stored: an agent
            # who answers the moment it hears of the assignment is stored after it.
            await self._assigner.requested(conversation)
            # With several nodes the assignment was read back from the store as a new copy;
            # either way it is cached now, so nothing awaits between the assignment's frame
            # and the first message's below: the new assignee receives it live, first.
            conversation = await self._conversations.load(conversation.id) or conversation
            if unless_online is not None and self._greetings.nobody_online():
                # Nobody could be assigned, so no agent's reply can precede the notice.
                greetings.append(await self._writer.append(unless_online))
        # After the assignment and the notice: once acked, everything the first message
        # brings is stored.
        reply(server_frames.message_ack(client_msg_id, message))
        if created and message.internal:
            # The assignee's sockets and the supervisors watching: not the visitor, and
            # not the list (a note is not the conversation's last message).
            self._hub.send(
                agent_side(conversation),
                server_frames.message_new(message, self._links),
                conversation.id,
                message.id,
            )
        elif created:
            metrics.HOT.messages_stored += 1
            self._hub.send(
                participants(conversation),
                server_frames.message_new(message, self._links),
                conversation.id,
                message.id,
            )
            if opened:
                # The greeting's frames go right behind the first message's, before anything
                # awaits: an agent's quick reply, stored after them, is sent after them too.
                for greeting, _ in greetings:
                    self._hub.send(
                        participants(conversation),
                        server_frames.message_new(greeting, self._links),
                        conversation.id,
                        greeting.id,
                    )
                await self._feed.opened(conversation)
                for greeting, _ in greetings:
                    self._feed.message(conversation, greeting)
            else:
                self._feed.message(conversation, message)
            if not opened and not principal.is_agent:
                answer = self._greetings.auto_reply(body)
                if answer is not None:
                    await self.post(conversation, await self._greetings.bot(conversation), answer)
        return SendResult(message, created)

    async def typing(self, principal: Principal, conversation_id: str) -> None:
        conversation = await self._conversations.accessible(principal, conversation_id)
        frame = server_frames.encode(
            server_frames.TypingFrame(conversation.id, _sender_json(principal))
        )
        self._hub.send(others(conversation, principal), frame, conversation.id, skip=principal.key)

    async def read(self, principal: Principal, conversation_id: str, message_id: str) -> None:
        conversation = await self._conversations.accessible(principal, conversation_id)
        seq = parse_message_id(message_id)
        if seq is None:
            raise BadInput("message_id is not a message id", code="invalid_message_id")
        await self._repos.conversations.mark_read(
            conversation.id, by_visitor=not principal.is_agent, message_id=seq
        )
        frame = server_frames.encode(
            server_frames.ReadFrame(
                conversation.id, format_message_id(seq), _sender_json(principal)
            )
        )
        self._hub.send(others(conversation, principal), frame, conversation.id, skip=principal.key)

    async def replay(
        self,
        principal: Principal,
        conversation_id: str,
        after: str,
        send: Callable[[bytes], Awaitable[None]],
        before: int | None = None,
    ) -> str | None:
        """Send every message after ``after`` (and below ``before``, which the socket
        already got live), in order; returns the last id sent."""
        conversation = await self._conversations.accessible(principal, conversation_id)
        after_seq = parse_message_id(after) if after else 0
        if after_seq is None:
            raise BadInput("after_message_id is not a message id", code="invalid_message_id")
        last: str | None = None
        while True:
            page = await self._repos.messages.after(
                conversation.id, after_seq, RESUME_PAGE, notes=principal.is_agent
            )
            if before is not None:
                page = [message for message in page if message.id < before]
            for message in page:
                await send(server_frames.message_new(message, self._links))
            if page:
                after_seq = page[-1].id
                last = format_message_id(after_seq)
            if len(page) < RESUME_PAGE:
                return last

    async def history(
        self,
        principal: Principal,
        conversation_id: str,
        after: str | None,
        limit: int,
        before: str | None = None,
    ) -> list[Message]:
        """A page of messages after ``after`` or, when ``before`` is given, just below it.

        Any agent may read a *waiting* conversation: the queue is everyone's to pick from;
        and one of the visitor's or customer's other conversations while holding one of
        theirs (the console's "previous conversations", read-only: sending still needs
        ``accessible``).
        """
        conversation = await self._conversations.load(conversation_id)
        if not (
            conversation is not None
            and principal.is_agent
            and (
                conversation.status is ConversationStatus.WAITING
                or (
                    conversation.assignee_id != principal.id
                    and not principal.has_role(Role.SUPERVISOR)
                    and await self._repos.conversations.shares_party(principal.id, conversation.id)
                )
            )
        ):
            conversation = await self._conversations.accessible(principal, conversation_id)
        if before is not None:
            # An empty ``before`` asks for the latest page.
            before_seq = parse_message_id(before) if before else LATEST
            if before_seq is None:
                raise BadInput("`before` is not a message id", code="invalid_message_id")
            return await self._repos.messages.before(
                conversation.id, before_seq, limit, notes=principal.is_agent
            )
        after_seq = parse_message_id(after) if after else 0
        if after_seq is None:
            raise BadInput("`after` is not a message id", code="invalid_message_id")
        return await self._repos.messages.after(
            conversation.id, after_seq, limit, notes=principal.is_agent
        )

    async def say(self, conversation: Conversation, key: str, **fields: object) -> str:
        """kefu's own line ``key`` (kefu.texts) in the conversation's site's locale."""
        return say(await self._greetings.locale_of(conversation), key, **fields)

    async def post(self, conversation: Conversation, sender: Sender, text: str) -> None:
        """kefu's own message (the bot's, a system note) into the conversation."""
        message, _ = await self._writer.append(
            NewMessage(conversation.id, sender, text, self._clock.now())
        )
        self._broadcast(conversation, message)

    async def post_files(
        self,
        conversation: Conversation,
        sender: Sender,
        uploader: Uploader,
        text: str,
        files: Sequence[Attachment],
        *,
        internal: bool,
    ) -> Message:
        """A department system's files (uploaded over gRPC by ``uploader``) as a message
        from ``sender``: a private note for the agents, or a message the visitor sees."""
        message, _ = await self._writer.append(
            NewMessage(conversation.id, sender, text, self._clock.now(), internal=internal)
        )
        if self._attachments is not None:
            await self._attachments.link(uploader, files, conversation.id, message.id)
        message = msgspec.structs.replace(
            message,
            attachments=tuple(
                dataclasses.replace(a, conversation_id=conversation.id, message_id=message.id)
                for a in files
            ),
        )
        if internal:
            self._hub.send(
                agent_side(conversation),
                server_frames.message_new(message, self._links),
                conversation.id,
                message.id,
            )
        else:
            self._broadcast(conversation, message)
        return message

    def _broadcast(self, conversation: Conversation, message: Message) -> None:
        self._hub.send(
            participants(conversation),
            server_frames.message_new(message, self._links),
            conversation.id,
            message.id,
        )
        self._feed.message(conversation, message)


def _sender_json(principal: Principal) -> server_frames.SenderJson:
    return server_frames.SenderJson(principal.kind.value, principal.id, principal.name)
