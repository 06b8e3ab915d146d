"""What agents do to a conversation: transfer, claim, close, link a customer, label.

Each change is stored, audited, written into the conversation as a system message where
the visitor should see it, sent live to the participants and the consoles listing it,
and told to the assigner, whose freed slot may go to the next waiting conversation.
"""

from __future__ import annotations

from collections.abc import Sequence

from kefu.auth.principal import Principal, agent_key, visitor_key
from kefu.chat import server_frames
from kefu.chat.assigner import Assigner
from kefu.chat.feed import ConversationFeed
from kefu.chat.hub import Hub
from kefu.chat.messages import ChatMessages
from kefu.chat.open_conversations import OpenConversations, participants
from kefu.domain.conversation import Conversation, ConversationStatus
from kefu.domain.errors import IllegalTransition
from kefu.domain.labels import normalise
from kefu.domain.models import Sender, SenderKind
from kefu.domain.roles import Role
from kefu.errors import Conflict, Forbidden, NotFound
from kefu.ports import Clock
from kefu.store.repositories import Repositories

SYSTEM = Sender(SenderKind.SYSTEM, None, None)


class ChatLifecycle:
    def __init__(
        self,
        repos: Repositories,
        hub: Hub,
        clock: Clock,
        conversations: OpenConversations,
        assigner: Assigner,
        messages: ChatMessages,
        feed: ConversationFeed,
    ) -> None:
        self._repos = repos
        self._hub = hub
        self._clock = clock
        self._conversations = conversations
        self._assigner = assigner
        self._messages = messages
        self._feed = feed

    async def transfer(self, actor: Principal, conversation_id: str, agent_id: str) -> Conversation:
        conversation = await self._conversations.accessible(actor, conversation_id)
        return await self._hand_over(actor, conversation, agent_id)

    async def claim(self, actor: Principal, conversation_id: str) -> Conversation:
        """Any agent takes a waiting conversation for itself (the console's queue tab)."""
        conversation = await self._conversations.load(conversation_id)
        if conversation is None:
            raise NotFound("no such conversation", code="conversation_not_found")
        if conversation.status is not ConversationStatus.WAITING:
            raise Conflict("the conversation is not waiting", code="not_waiting")
        return await self._hand_over(actor, conversation, actor.id)

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
        self._assigner.taking(conversation.id, agent_id, was_waiting=was_waiting)
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
        line = await self._messages.say(conversation, "chat.transferred", agent=target.name)
        await self._messages.post(conversation, SYSTEM, line)
        notify = {visitor_key(conversation.visitor_id), agent_key(agent_id)}
        if previous is not None:
            notify.add(agent_key(previous))
        self._hub.send(notify, server_frames.assigned(conversation.id, agent_id), conversation.id)
        self._feed.changed(
            conversation, was_waiting=was_waiting, also=[previous] if previous else []
        )
        await self._assigner.handed_over(previous)
        return conversation

    async def close(self, actor: Principal, conversation_id: str) -> Conversation:
        conversation = await self._conversations.accessible(actor, conversation_id)
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
        line = await self._messages.say(conversation, "chat.closed")
        await self._messages.post(conversation, SYSTEM, line)
        self._hub.send(
            participants(conversation),
            server_frames.encode(server_frames.ConversationClosed(conversation.id)),
            conversation.id,
        )
        self._feed.changed(conversation, was_waiting=was_waiting)
        self._conversations.forget(conversation)
        await self._assigner.closed(conversation.id, assignee, was_waiting=was_waiting)
        return conversation

    async def reopen(self, actor: Principal, conversation_id: str) -> Conversation:
        """A closed conversation waits again with its history and is assigned like a new
        one. Supervisors, its last agent, or an agent holding the same visitor's or
        customer's open chat (who found it under "previous conversations") may do it."""
        conversation = await self._conversations.load(conversation_id)
        if conversation is None:
            raise NotFound("no such conversation", code="conversation_not_found")
        if not (
            actor.is_agent
            and (
                actor.has_role(Role.SUPERVISOR)
                or conversation.assignee_id == actor.id
                or await self._repos.conversations.shares_party(actor.id, conversation.id)
            )
        ):
            raise Forbidden(
                "this conversation is not yours to reopen", code="not_your_conversation"
            )
        former = conversation.assignee_id
        try:
            conversation.reopen()
        except IllegalTransition:
            raise Conflict("the conversation is not closed", code="not_closed") from None
        refused = await self._repos.conversations.reopen(
            conversation.id, conversation.visitor_id, self._clock.now()
        )
        if refused == "not_closed":
            raise Conflict("the conversation is not closed", code="not_closed")
        if refused is not None:
            raise Conflict("the visitor has another open conversation; answer there", code=refused)
        self._hub.conversation_changed(conversation.id)
        self._conversations.forget_cached(conversation.id)
        conversation = await self._conversations.load(conversation.id) or conversation
        await self._repos.audit.record(
            "conversation.reopen", actor=actor.key, target=conversation.id, now=self._clock.now()
        )
        line = await self._messages.say(conversation, "chat.reopened")
        await self._messages.post(conversation, SYSTEM, line)
        keys = [visitor_key(conversation.visitor_id)]
        if former is not None:
            keys.append(agent_key(former))
        self._hub.send(
            keys,
            server_frames.encode(server_frames.ConversationReopened(conversation.id)),
            conversation.id,
        )
        await self._feed.opened(conversation)
        await self._assigner.requested(conversation)
        return await self._conversations.load(conversation.id) or conversation

    async def may_watch(self, principal: Principal, conversation_id: str) -> bool:
        """Raise unless ``principal`` may follow the conversation; True when following needs
        a watch (supervisors: participants get its frames anyway)."""
        await self._conversations.accessible(principal, conversation_id)
        if not principal.is_agent:
            raise Forbidden("agents only", code="agents_only")
        return principal.has_role(Role.SUPERVISOR)

    async def link_customer(
        self, actor: Principal, conversation_id: str, customer_key: str | None
    ) -> None:
        """Link the conversation to a customer of the company's systems (or unlink it)."""
        conversation = await self._conversations.accessible(actor, conversation_id)
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
        conversation = await self._conversations.accessible(actor, conversation_id)
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
