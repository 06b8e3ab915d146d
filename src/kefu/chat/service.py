"""The chat service: conversations, messages, assignment, transfer, close.

One object for the gateway and the REST routes to hold, made of parts with one job each:

- ``OpenConversations``: the in-memory picture of open conversations, so the hot path (a
  message arriving on a socket) costs one group-committed insert and no query: access is
  checked against the cached conversation;
- an ``Assigner``: who gets a waiting conversation, decided by this node's board
  (``LocalAssigner``) or, with several nodes, by the store (``StoreAssigner``), chosen
  once here;
- ``ChatMessages`` (send, typing, read, replay, history), ``ChatLifecycle`` (transfer,
  claim, close, customer link, labels) and ``Greetings`` (welcome and offline texts,
  auto replies, office hours).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from kefu.attachments.service import AttachmentService
from kefu.auth.principal import Principal
from kefu.chat.assigner import Assigner
from kefu.chat.feed import ConversationFeed
from kefu.chat.greetings import Greetings
from kefu.chat.hub import Hub
from kefu.chat.lifecycle import ChatLifecycle
from kefu.chat.local_assigner import LocalAssigner
from kefu.chat.messages import ChatMessages, SendResult
from kefu.chat.open_conversations import OpenConversations
from kefu.chat.sites import Resolved, Sites
from kefu.chat.store_assigner import StoreAssigner
from kefu.config import ChatSettings
from kefu.domain.conversation import Conversation
from kefu.domain.models import Agent, Message
from kefu.ports import Clock, MessageAppender
from kefu.store.repositories import Repositories
from kefu.store.shared_assignment import SharedAssignments

__all__ = ["ChatService", "SendResult"]


class ChatService:
    def __init__(
        self,
        repos: Repositories,
        writer: MessageAppender,
        hub: Hub,
        clock: Clock,
        settings: ChatSettings,
        attachments: AttachmentService | None = None,
        shared: SharedAssignments | None = None,
        sites: Sites | None = None,
    ) -> None:
        """``shared``: several nodes share the store, which then decides assignments.
        ``sites``: the per-site texts, widget settings and office hours admins edit."""
        feed = ConversationFeed(hub, repos.summaries)
        self.conversations = OpenConversations(repos, hub, clock)
        self.assigner: Assigner = (
            StoreAssigner(shared, hub, clock, self.conversations, feed)
            if shared is not None
            else LocalAssigner(repos, hub, clock, self.conversations, feed, settings.agent_capacity)
        )
        self.greetings = Greetings(repos, clock, settings, self.assigner, sites)
        self.messages = ChatMessages(
            repos,
            writer,
            hub,
            clock,
            settings,
            self.conversations,
            self.assigner,
            self.greetings,
            feed,
            attachments,
        )
        self.lifecycle = ChatLifecycle(
            repos, hub, clock, self.conversations, self.assigner, self.messages, feed
        )

    # -- running ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Rebuild agent load and the waiting queue from the store (restart-safe), and
        read the admin-edited texts and rules."""
        await self.greetings.reload_auto_replies()
        await self.greetings.reload_texts()
        await self.assigner.start()

    async def heartbeat(self) -> None:
        """Several nodes: renew this node's agents' presence and hand out what waits."""
        await self.assigner.heartbeat()

    async def depart(self) -> None:
        """This node stops: its agents no longer count as online here."""
        await self.assigner.depart()

    @property
    def queue_length(self) -> int:
        return self.assigner.queue_length

    # -- presence and availability --------------------------------------------------------
    async def agent_online(self, agent: Agent) -> None:
        await self.assigner.agent_online(agent)

    def agent_offline(self, agent_id: str) -> None:
        self.assigner.agent_offline(agent_id)

    async def agent_changed(self, agent: Agent) -> None:
        """Capacity, status or away changed (by an admin, or the agent)."""
        await self.assigner.agent_changed(agent)

    async def available(self) -> bool:
        """Is chat open and any agent online anywhere, for a shop page about to show the
        widget?"""
        if not self.open_now():
            return False
        return await self.available_now()

    async def available_now(self) -> bool:
        """Is any agent online anywhere (office hours aside: a site may have its own)?"""
        await self.refresh_presence()
        return self.anyone_online()

    async def refresh_presence(self) -> None:
        await self.assigner.refresh_presence()

    def is_online(self, agent_id: str) -> bool:
        return self.assigner.is_online(agent_id)

    def anyone_online(self) -> bool:
        return self.assigner.anyone_online()

    def open_now(self) -> bool:
        return self.greetings.open_now()

    def opens_at(self) -> datetime | None:
        return self.greetings.opens_at()

    async def site(self, site_id: str | None, locale: str | None = None) -> Resolved | None:
        """A site's settings as its visitors meet them (None: no sites wired)."""
        return await self.greetings.site_of(None, site_id=site_id, locale=locale)

    def open_for(self, site: Resolved | None) -> tuple[bool, datetime | None]:
        """Whether the site's chat is open now, and if not when it opens next."""
        is_open = self.greetings.open_for(site)
        return is_open, None if is_open else self.greetings.opens_at_for(site)

    # -- texts kefu writes ----------------------------------------------------------------
    @property
    def welcome_message(self) -> str:
        """The global welcome text (admin's, config's, else kefu's own in English)."""
        return self.greetings.default_texts(None)["welcome"]

    @property
    def offline_message(self) -> str:
        return self.greetings.default_texts(None)["offline"]

    async def reload_texts(self) -> None:
        await self.greetings.reload_texts()

    async def reload_auto_replies(self) -> None:
        await self.greetings.reload_auto_replies()

    # -- messages ---------------------------------------------------------------------------
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
        return await self.messages.send(
            principal, client_msg_id, body, conversation_id, reply, attachment_ids, internal
        )

    async def typing(self, principal: Principal, conversation_id: str) -> None:
        await self.messages.typing(principal, conversation_id)

    async def read(self, principal: Principal, conversation_id: str, message_id: str) -> None:
        await self.messages.read(principal, conversation_id, message_id)

    async def replay(
        self,
        principal: Principal,
        conversation_id: str,
        after: str,
        send: Callable[[bytes], Awaitable[None]],
        before: int | None = None,
    ) -> str | None:
        return await self.messages.replay(principal, conversation_id, after, send, before)

    async def history(
        self,
        principal: Principal,
        conversation_id: str,
        after: str | None,
        limit: int,
        before: str | None = None,
    ) -> list[Message]:
        return await self.messages.history(principal, conversation_id, after, limit, before)

    # -- agent actions ----------------------------------------------------------------------
    async def transfer(self, actor: Principal, conversation_id: str, agent_id: str) -> Conversation:
        return await self.lifecycle.transfer(actor, conversation_id, agent_id)

    async def claim(self, actor: Principal, conversation_id: str) -> Conversation:
        return await self.lifecycle.claim(actor, conversation_id)

    async def close(self, actor: Principal, conversation_id: str) -> Conversation:
        return await self.lifecycle.close(actor, conversation_id)

    async def reopen(self, actor: Principal, conversation_id: str) -> Conversation:
        return await self.lifecycle.reopen(actor, conversation_id)

    async def may_watch(self, principal: Principal, conversation_id: str) -> bool:
        return await self.lifecycle.may_watch(principal, conversation_id)

    async def link_customer(
        self, actor: Principal, conversation_id: str, customer_key: str | None
    ) -> None:
        await self.lifecycle.link_customer(actor, conversation_id, customer_key)

    async def label(
        self, actor: Principal, conversation_id: str, labels: Sequence[str]
    ) -> list[str]:
        return await self.lifecycle.label(actor, conversation_id, labels)

    # -- access -----------------------------------------------------------------------------
    async def accessible(self, principal: Principal, conversation_id: str) -> Conversation:
        """The conversation if ``principal`` may see it; NotFound/Forbidden otherwise."""
        return await self.conversations.accessible(principal, conversation_id)

    def forget_cached(self, conversation_id: str) -> None:
        """Another node changed the conversation: the next use reads it from the store."""
        self.conversations.forget_cached(conversation_id)
