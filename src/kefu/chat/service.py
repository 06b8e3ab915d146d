"""The chat service: conversations, messages, assignment, transfer, close.

It owns the in-memory picture of open conversations and agent load (the
``AssignmentBoard``), so the hot path — a message arriving on a socket — costs one
group-committed insert and no query: access is checked against the cached conversation.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from kefu.attachments.service import AttachmentService
from kefu.auth.principal import Principal, agent_key, visitor_key
from kefu.chat import server_frames
from kefu.chat.feed import ConversationFeed
from kefu.chat.hub import Hub
from kefu.config import ChatSettings
from kefu.domain.assignment import Assignment, AssignmentBoard
from kefu.domain.autoreply import AutoReplyRule, match_auto_reply
from kefu.domain.conversation import Conversation, ConversationStatus
from kefu.domain.errors import IllegalTransition
from kefu.domain.ids import MESSAGE_ID_WIDTH, format_message_id, parse_message_id
from kefu.domain.labels import normalise
from kefu.domain.models import Agent, Attachment, Message, NewMessage, Sender, SenderKind
from kefu.domain.office_hours import is_open, next_opening
from kefu.domain.roles import Role
from kefu.domain.sla import BusinessHours
from kefu.errors import BadInput, Conflict, Forbidden, NotFound
from kefu.observability import metrics
from kefu.ports import Clock
from kefu.store.messages import MessageWriter
from kefu.store.repositories import Repositories
from kefu.store.shared_assignment import SharedAssignments

log = logging.getLogger(__name__)

BOT = Sender(SenderKind.BOT, None, "kefu")
SYSTEM = Sender(SenderKind.SYSTEM, None, None)
# Messages sent per page while replaying history on ``resume``: bounds one query's size.
RESUME_PAGE = 500
# Above every message id (ids have 16 digits): "before" this is the latest page.
LATEST = 10**MESSAGE_ID_WIDTH


@dataclass(frozen=True, slots=True)
class SendResult:
    message: Message
    created: bool


class ChatService:
    def __init__(
        self,
        repos: Repositories,
        writer: MessageWriter,
        hub: Hub,
        clock: Clock,
        settings: ChatSettings,
        attachments: AttachmentService | None = None,
        shared: SharedAssignments | None = None,
    ) -> None:
        self._attachments = attachments
        # Every message.new signs its attachments' download links (none without files).
        self._links = attachments.download_url if attachments is not None else None
        # Several nodes: the store decides assignments (None: this node's board does).
        self._shared = shared
        # Several nodes, as of the last look: agents with a socket anywhere, and those of
        # them who take conversations (not away, not disabled).
        self._online_anywhere: set[str] = set()
        self._available_anywhere: set[str] = set()
        self._online_checked: datetime | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._waiting_anywhere = 0
        self._repos = repos
        self._writer = writer
        self._hub = hub
        self._clock = clock
        self._settings = settings
        self._board = AssignmentBoard()
        self._open: dict[str, Conversation] = {}
        self._open_by_visitor: dict[str, str] = {}
        self._visitor_locks: dict[str, asyncio.Lock] = {}
        self._auto_replies: list[AutoReplyRule] = []
        self._feed = ConversationFeed(hub, repos.summaries)
        hours = settings.office_hours
        self._office_hours = (
            BusinessHours.of(hours.timezone, hours.days, hours.start, hours.end, hours.holidays)
            if hours is not None
            else None
        )
        # Admins edit these from the console (stored settings); the config gives defaults.
        self.welcome_message = settings.welcome_message
        self.offline_message = settings.offline_message

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        """Rebuild agent load and the waiting queue from the store (restart-safe)."""
        loads = await self._repos.conversations.open_loads()
        for agent in await self._repos.agents.list():
            if not agent.disabled:
                self._board.restore_load(agent.id, self._capacity(agent), loads.get(agent.id, 0))
        for conversation_id in await self._repos.conversations.waiting_ids():
            self._board.enqueue(conversation_id, vip=await self._is_vip(conversation_id))
        await self.reload_auto_replies()
        await self.reload_texts()
        metrics.QUEUE_LENGTH.set(self._board.queue_length)
        if self._shared is not None:
            await self.heartbeat()

    async def heartbeat(self) -> None:
        """Several nodes: renew this node's agents' presence, learn who is online anywhere,
        and hand out whatever waits (catches up on anything a failed attempt left)."""
        if self._shared is None:
            raise RuntimeError("heartbeat needs shared assignment (several nodes); got none")
        now = self._clock.now()
        await self._shared.heartbeat(now, self._hub.agent_ids())
        await self._drain()

    async def depart(self) -> None:
        """This node stops: its agents no longer count as online here."""
        if self._background:
            await asyncio.wait(list(self._background), timeout=5)
        if self._shared is not None:
            await self._shared.depart()

    async def reload_auto_replies(self) -> None:
        stored = [rule for _, rule in await self._repos.auto_replies.list()]
        configured = [
            AutoReplyRule(tuple(r.keywords), r.reply) for r in self._settings.auto_replies
        ]
        self._auto_replies = stored + configured

    @property
    def queue_length(self) -> int:
        return self._waiting_anywhere if self._shared is not None else self._board.queue_length

    # -- presence -------------------------------------------------------------------------
    async def agent_online(self, agent: Agent) -> None:
        if self._shared is not None:
            await self._shared.arrive(agent.id, self._clock.now())
            self._online_anywhere.add(agent.id)
            if not agent.away:
                self._available_anywhere.add(agent.id)
            await self._drain()
            return
        if agent.away:
            return  # signed in, but takes nothing new until back
        await self._apply(self._board.agent_online(agent.id, self._capacity(agent)))

    def agent_offline(self, agent_id: str) -> None:
        if self._shared is not None:
            # In a task of its own: the socket handler calling this is often being
            # cancelled (the peer left), and the store must still hear of it.
            task = asyncio.create_task(self._leave(agent_id))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            return
        self._board.agent_offline(agent_id)

    async def _leave(self, agent_id: str) -> None:
        if self._shared is None:
            raise RuntimeError("_leave needs shared assignment (several nodes); got none")
        try:
            await self._shared.leave(agent_id)
            await self._look(self._clock.now())
        except Exception:
            # Presence then lapses after cluster.presence_ttl_seconds, unless the agent
            # has come back online meanwhile (then the row is right).
            log.exception("could not record that agent %s went offline", agent_id)

    async def agent_changed(self, agent: Agent) -> None:
        """Capacity, status or away changed (by an admin, or the agent)."""
        if self._shared is not None:
            # The decision reads capacity, disabled and away from the store.
            await self._drain()
            await self._look(self._clock.now())
            return
        if agent.disabled or agent.away:
            self._board.agent_offline(agent.id)
            return
        if self._hub.online(agent_key(agent.id)):  # back from away, or changed while online
            await self._apply(self._board.agent_online(agent.id, self._capacity(agent)))
            return
        await self._apply(self._board.set_capacity(agent.id, self._capacity(agent)))

    async def available(self) -> bool:
        """Is chat open and any agent online anywhere, for a shop page about to show the
        widget?"""
        if not self.open_now():
            return False
        await self.refresh_presence()
        return self.anyone_online()

    def open_now(self) -> bool:
        """Inside the office hours (always, when none are configured)."""
        return self._office_hours is None or is_open(self._office_hours, self._clock.now())

    def opens_at(self) -> datetime | None:
        """When chat opens next (now, if open; None: no office hours or no opening ahead)."""
        if self._office_hours is None:
            return None
        return next_opening(self._office_hours, self._clock.now())

    async def refresh_presence(self) -> None:
        """Several nodes: learn who is online on the others now rather than as of the last
        assignment decision (at most once a second: every widget page view asks)."""
        if self._shared is None:
            return
        now = self._clock.now()
        if self._online_checked is None or (now - self._online_checked).total_seconds() >= 1:
            await self._look(now)

    async def _look(self, now: datetime) -> None:
        if self._shared is None:
            raise RuntimeError("_look needs shared assignment (several nodes); got none")
        presence = await self._shared.presence(now)
        self._online_anywhere, self._available_anywhere = presence.present, presence.available
        self._online_checked = now

    def is_online(self, agent_id: str) -> bool:
        """Has a socket on this node, or (several nodes) on another as of the last look."""
        return self._hub.online(agent_key(agent_id)) or agent_id in self._online_anywhere

    def anyone_online(self) -> bool:
        """Is anyone taking conversations (online and not away)?"""
        if self._shared is not None:
            # As of the last look at the store; an agent arriving here is added at once.
            return bool(self._available_anywhere)
        return self._board.anyone_online()

    # -- messages -------------------------------------------------------------------------
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
        if len(body) > self._settings.max_body_chars:
            raise BadInput(
                f"the message body exceeds {self._settings.max_body_chars} characters",
                code="body_too_long",
            )
        opened = False
        if conversation_id is None:
            if principal.is_agent:
                raise BadInput("agents must name the conversation", code="missing_conversation")
            conversation, opened = await self._visitor_conversation(principal.id)
        else:
            conversation = await self.accessible(principal, conversation_id)
        if conversation.status is ConversationStatus.CLOSED:
            raise Conflict("the conversation is closed", code="conversation_closed")

        if opened:
            # Assign before storing the first message, so an agent who gets it at once
            # receives that message live; a queued one is fetched on assignment.
            await self._request_agent(conversation)
            # With several nodes the assignment was read back from the store as a new copy.
            conversation = await self._load(conversation.id) or conversation
        sender = Sender(
            SenderKind.AGENT if principal.is_agent else SenderKind.VISITOR,
            principal.id,
            principal.name,
        )
        new = NewMessage(
            conversation.id, sender, body, self._clock.now(), client_msg_id, internal=internal
        )
        greetings: list[tuple[Message, bool]] = []
        if opened:
            # The greeting is stored right behind the first message, in the same batch:
            # no reply or close can land between them.
            stored = await self._writer.append_many([new, *await self._greetings(conversation)])
            (message, created), greetings = stored[0], stored[1:]
        else:
            message, created = await self._writer.append(new)
        if created and carried and self._attachments is not None:
            # Linked before the ack and the fan-out, so every recipient may fetch them.
            await self._attachments.link(principal, carried, conversation.id, message.id)
            message = dataclasses.replace(
                message,
                attachments=tuple(
                    dataclasses.replace(a, conversation_id=conversation.id, message_id=message.id)
                    for a in carried
                ),
            )
        reply(server_frames.message_ack(client_msg_id, message))
        if created and message.internal:
            # The assignee's sockets and the supervisors watching: not the visitor, and
            # not the list (a note is not the conversation's last message).
            self._hub.send(
                self._agent_side(conversation),
                server_frames.message_new(message, self._links),
                conversation.id,
                message.id,
            )
        elif created:
            metrics.HOT.messages_stored += 1
            self._hub.send(
                self._participants(conversation),
                server_frames.message_new(message, self._links),
                conversation.id,
                message.id,
            )
            if opened:
                await self._feed.opened(conversation)
                for greeting, _ in greetings:
                    self._broadcast(conversation, greeting)
            else:
                self._feed.message(conversation, message)
            if not opened and not principal.is_agent:
                await self._maybe_auto_reply(conversation, body)
        return SendResult(message, created)

    async def typing(self, principal: Principal, conversation_id: str) -> None:
        conversation = await self.accessible(principal, conversation_id)
        frame = server_frames.encode(
            server_frames.TypingFrame(conversation.id, self._sender_payload(principal))
        )
        self._hub.send(
            self._others(conversation, principal), frame, conversation.id, skip=principal.key
        )

    async def read(self, principal: Principal, conversation_id: str, message_id: str) -> None:
        conversation = await self.accessible(principal, conversation_id)
        seq = parse_message_id(message_id)
        if seq is None:
            raise BadInput("message_id is not a message id", code="invalid_message_id")
        await self._repos.conversations.mark_read(
            conversation.id, by_visitor=not principal.is_agent, message_id=seq
        )
        frame = server_frames.encode(
            server_frames.ReadFrame(
                conversation.id, format_message_id(seq), self._sender_payload(principal)
            )
        )
        self._hub.send(
            self._others(conversation, principal), frame, conversation.id, skip=principal.key
        )

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
        conversation = await self.accessible(principal, conversation_id)
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

        Any agent may read a *waiting* conversation: the queue is everyone's to pick from.
        """
        conversation = await self._load(conversation_id)
        if not (
            conversation is not None
            and principal.is_agent
            and conversation.status is ConversationStatus.WAITING
        ):
            conversation = await self.accessible(principal, conversation_id)
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

    async def claim(self, actor: Principal, conversation_id: str) -> Conversation:
        """Any agent takes a waiting conversation for itself (the console's queue tab)."""
        conversation = await self._load(conversation_id)
        if conversation is None:
            raise NotFound("no such conversation", code="conversation_not_found")
        if conversation.status is not ConversationStatus.WAITING:
            raise Conflict("the conversation is not waiting", code="not_waiting")
        return await self._hand_over(actor, conversation, actor.id)

    async def may_watch(self, principal: Principal, conversation_id: str) -> bool:
        """Raise unless ``principal`` may follow the conversation; True when following needs
        a watch (supervisors: participants get its frames anyway)."""
        await self.accessible(principal, conversation_id)
        if not principal.is_agent:
            raise Forbidden("agents only", code="agents_only")
        return principal.has_role(Role.SUPERVISOR)

    async def reload_texts(self) -> None:
        """Welcome and offline texts: the stored ones if an admin set them, else config."""
        stored = await self._repos.settings.get_many(["welcome_message", "offline_message"])
        self.welcome_message = stored.get("welcome_message", self._settings.welcome_message)
        self.offline_message = stored.get("offline_message", self._settings.offline_message)

    # -- agent actions --------------------------------------------------------------------
    async def transfer(self, actor: Principal, conversation_id: str, agent_id: str) -> Conversation:
        conversation = await self.accessible(actor, conversation_id)
        return await self._hand_over(actor, conversation, agent_id)

    async def _hand_over(
        self, actor: Principal, conversation: Conversation, agent_id: str
    ) -> Conversation:
        target = await self._repos.agents.get(agent_id)
        if target is None or target.disabled:
            raise NotFound(f"no active agent {agent_id!r}", code="agent_not_found")
        was_waiting = conversation.status is ConversationStatus.WAITING
        try:
            previous = conversation.transfer(agent_id)
        except IllegalTransition as exc:
            raise Conflict(str(exc), code="illegal_transition") from None
        if self._shared is None:
            if was_waiting:
                self._board.withdraw(conversation.id)
            self._board.take(agent_id)
        await self._repos.conversations.save_state(
            conversation.id, conversation.status, agent_id, self._clock.now()
        )
        self._hub.conversation_changed(conversation.id)
        await self._repos.audit.record(
            "conversation.transfer",
            actor=actor.key,
            target=conversation.id,
            now=self._clock.now(),
            detail={"from": previous, "to": agent_id},
        )
        await self._system(conversation, f"Conversation transferred to {target.name}.")
        notify = {visitor_key(conversation.visitor_id), agent_key(agent_id)}
        if previous is not None:
            notify.add(agent_key(previous))
        self._hub.send(notify, _assigned_frame(conversation.id, agent_id), conversation.id)
        self._feed.changed(
            conversation, was_waiting=was_waiting, also=[previous] if previous else []
        )
        if self._shared is not None:
            await self._drain()
            return conversation
        await self._apply(self._board.release(previous))
        metrics.QUEUE_LENGTH.set(self._board.queue_length)
        return conversation

    async def close(self, actor: Principal, conversation_id: str) -> Conversation:
        conversation = await self.accessible(actor, conversation_id)
        was_waiting = conversation.status is ConversationStatus.WAITING
        try:
            assignee = conversation.close()
        except IllegalTransition as exc:
            raise Conflict(str(exc), code="illegal_transition") from None
        await self._repos.conversations.save_state(
            conversation.id, conversation.status, assignee, self._clock.now()
        )
        self._hub.conversation_changed(conversation.id)
        await self._repos.audit.record(
            "conversation.close", actor=actor.key, target=conversation.id, now=self._clock.now()
        )
        await self._system(conversation, "Conversation closed.")
        self._hub.send(
            self._participants(conversation),
            server_frames.encode(server_frames.ConversationClosed(conversation.id)),
            conversation.id,
        )
        self._feed.changed(conversation, was_waiting=was_waiting)
        self._forget(conversation)
        if self._shared is not None:
            await self._drain()
            return conversation
        if was_waiting:
            self._board.withdraw(conversation.id)
        await self._apply(self._board.release(assignee if not was_waiting else None))
        metrics.QUEUE_LENGTH.set(self._board.queue_length)
        return conversation

    # -- internals ------------------------------------------------------------------------
    def _capacity(self, agent: Agent) -> int:
        return agent.capacity or self._settings.agent_capacity

    async def _visitor_conversation(self, visitor_id: str) -> tuple[Conversation, bool]:
        """The visitor's open conversation, opening one if needed (once, under a lock)."""
        known = self._open_by_visitor.get(visitor_id)
        if known is not None and known in self._open:
            return self._open[known], False
        lock = self._visitor_locks.setdefault(visitor_id, asyncio.Lock())
        async with lock:
            known = self._open_by_visitor.get(visitor_id)
            if known is not None and known in self._open:
                return self._open[known], False
            record, opened = await self._repos.conversations.open_or_create(
                visitor_id, self._clock.now()
            )
            conversation = Conversation(
                record.id, record.visitor_id, record.status, record.assignee_id
            )
            self._remember(conversation)
        self._visitor_locks.pop(visitor_id, None)
        return conversation, opened

    async def _request_agent(self, conversation: Conversation) -> None:
        if self._shared is not None:
            await self._drain()  # it waits in the store already; VIPs are read there
            return
        assignment = self._board.request(conversation.id)
        if assignment is not None:
            await self._apply([assignment])
        elif await self._is_vip(conversation.id):
            self._board.promote(conversation.id)  # looked up only when it has to wait
        metrics.QUEUE_LENGTH.set(self._board.queue_length)

    async def _is_vip(self, conversation_id: str) -> bool:
        return await self._repos.routing.in_vip_lane(conversation_id)

    async def _greetings(self, conversation: Conversation) -> list[NewMessage]:
        """Bot messages for a new conversation: welcome, and the offline notice if nobody
        is online."""
        # One small read per new conversation keeps every node on the admin's latest text.
        await self.reload_texts()
        texts = [self.welcome_message]
        if not self.open_now() or not self.anyone_online():
            texts.append(self.offline_message)
        now = self._clock.now()
        return [NewMessage(conversation.id, BOT, text, now) for text in texts if text]

    async def _maybe_auto_reply(self, conversation: Conversation, body: str) -> None:
        if not self._auto_replies:
            return
        answer = match_auto_reply(body, self._auto_replies)
        if answer is not None:
            await self._bot(conversation, answer)

    async def _drain(self) -> None:
        """Several nodes: let the store hand out waiting conversations, then tell the
        participants of each assignment this node made (the others' sockets through the
        cluster relay)."""
        if self._shared is None:
            raise RuntimeError("_drain needs shared assignment (several nodes); got none")
        drained = await self._shared.drain(self._clock.now())
        self._waiting_anywhere = drained.waiting
        self._available_anywhere = drained.available
        metrics.QUEUE_LENGTH.set(drained.waiting)
        for assignment in drained.assignments:
            self.forget_cached(assignment.conversation_id)
            self._hub.conversation_changed(assignment.conversation_id)
            conversation = await self._load(assignment.conversation_id)
            if conversation is None or conversation.assignee_id != assignment.agent_id:
                continue  # closed or moved again since
            self._hub.send(
                self._participants(conversation),
                _assigned_frame(conversation.id, assignment.agent_id),
                conversation.id,
            )
            self._feed.changed(conversation, was_waiting=True)

    async def _apply(self, assignments: list[Assignment]) -> None:
        for assignment in assignments:
            conversation = await self._load(assignment.conversation_id)
            if conversation is None or conversation.status is not ConversationStatus.WAITING:
                self._board.release(assignment.agent_id)
                continue
            conversation.assign(assignment.agent_id)
            await self._repos.conversations.save_state(
                conversation.id, conversation.status, assignment.agent_id, self._clock.now()
            )
            self._hub.conversation_changed(conversation.id)
            self._hub.send(
                self._participants(conversation),
                _assigned_frame(conversation.id, assignment.agent_id),
                conversation.id,
            )
            self._feed.changed(conversation, was_waiting=True)
        if assignments:
            metrics.QUEUE_LENGTH.set(self._board.queue_length)

    async def _bot(self, conversation: Conversation, text: str) -> None:
        await self._post(conversation, BOT, text)

    async def _system(self, conversation: Conversation, text: str) -> None:
        await self._post(conversation, SYSTEM, text)

    async def _post(self, conversation: Conversation, sender: Sender, text: str) -> None:
        message, _ = await self._writer.append(
            NewMessage(conversation.id, sender, text, self._clock.now())
        )
        self._broadcast(conversation, message)

    def _broadcast(self, conversation: Conversation, message: Message) -> None:
        self._hub.send(
            self._participants(conversation),
            server_frames.message_new(message, self._links),
            conversation.id,
            message.id,
        )
        self._feed.message(conversation, message)

    async def link_customer(
        self, actor: Principal, conversation_id: str, customer_key: str | None
    ) -> None:
        """Link the conversation to a customer of the company's systems (or unlink it)."""
        conversation = await self.accessible(actor, conversation_id)
        now = self._clock.now()
        await self._repos.conversations.link_customer(conversation.id, customer_key, now)
        await self._repos.audit.record(
            "conversation.customer_link",
            actor=actor.key,
            target=conversation.id,
            now=now,
            detail={"customer_key": customer_key},
        )
        summary = await self._repos.summaries.get(conversation.id)
        if summary is not None:
            self._feed.customer_linked(conversation, summary.customer_key, summary.customer_linked)

    async def label(
        self, actor: Principal, conversation_id: str, labels: Sequence[str]
    ) -> list[str]:
        """Replace the conversation's labels (whoever may read it may sort it)."""
        conversation = await self.accessible(actor, conversation_id)
        wanted = normalise(labels)
        stored = await self._repos.labels.replace(conversation.id, wanted)
        await self._repos.audit.record(
            "conversation.labels",
            actor=actor.key,
            target=conversation.id,
            now=self._clock.now(),
            detail={"labels": stored},
        )
        self._feed.labelled(conversation, stored)
        return stored

    async def accessible(self, principal: Principal, conversation_id: str) -> Conversation:
        """The conversation if ``principal`` may see it; NotFound/Forbidden otherwise."""
        conversation = await self._load(conversation_id)
        if conversation is None:
            raise NotFound("no such conversation", code="conversation_not_found")
        if self._hub.clustered and not _may_see(principal, conversation):
            # Another node may have just assigned or transferred it and our copy is older
            # than its news: ask the store before refusing.
            self.forget_cached(conversation_id)
            conversation = await self._load(conversation_id)
            if conversation is None:
                raise NotFound("no such conversation", code="conversation_not_found")
        if principal.is_agent:
            if conversation.assignee_id == principal.id or principal.has_role(Role.SUPERVISOR):
                return conversation
            raise Forbidden(
                "this conversation is not assigned to you", code="not_your_conversation"
            )
        if conversation.visitor_id != principal.id:
            # Same answer as a missing one: a visitor learns nothing about others' ids.
            raise NotFound("no such conversation", code="conversation_not_found")
        return conversation

    async def _load(self, conversation_id: str) -> Conversation | None:
        cached = self._open.get(conversation_id)
        if cached is not None:
            return cached
        record = await self._repos.conversations.get(conversation_id)
        if record is None:
            return None
        conversation = Conversation(record.id, record.visitor_id, record.status, record.assignee_id)
        if conversation.status.is_open:
            self._remember(conversation)
        return conversation

    def _remember(self, conversation: Conversation) -> None:
        self._open[conversation.id] = conversation
        self._open_by_visitor[conversation.visitor_id] = conversation.id

    def forget_cached(self, conversation_id: str) -> None:
        """Another node changed the conversation: the next use reads it from the store."""
        cached = self._open.get(conversation_id)
        if cached is not None:
            self._forget(cached)

    def _forget(self, conversation: Conversation) -> None:
        self._open.pop(conversation.id, None)
        if self._open_by_visitor.get(conversation.visitor_id) == conversation.id:
            del self._open_by_visitor[conversation.visitor_id]

    @staticmethod
    def _participants(conversation: Conversation) -> list[str]:
        keys = [visitor_key(conversation.visitor_id)]
        if conversation.assignee_id is not None:
            keys.append(agent_key(conversation.assignee_id))
        return keys

    @staticmethod
    def _agent_side(conversation: Conversation) -> list[str]:
        return [agent_key(conversation.assignee_id)] if conversation.assignee_id else []

    def _others(self, conversation: Conversation, principal: Principal) -> list[str]:
        return [key for key in self._participants(conversation) if key != principal.key]

    @staticmethod
    def _sender_payload(principal: Principal) -> server_frames.SenderJson:
        return server_frames.SenderJson(principal.kind.value, principal.id, principal.name)


def _may_see(principal: Principal, conversation: Conversation) -> bool:
    if principal.is_agent:
        return conversation.assignee_id == principal.id or principal.has_role(Role.SUPERVISOR)
    return conversation.visitor_id == principal.id


def _assigned_frame(conversation_id: str, agent_id: str) -> bytes:
    return server_frames.assigned(conversation_id, agent_id)
