"""The open conversations this node keeps in memory, and who may see one.

The hot path (a message arriving on a socket) checks access against the cached
conversation and costs no query. With several nodes another node may have assigned or
transferred a conversation since it was cached: the relay's ``ConversationChanged``
drops the copy (``forget_cached``), and a refusal is checked against the store first.
"""

from __future__ import annotations

import asyncio

from kefu.auth.principal import Principal, agent_key, visitor_key
from kefu.chat.hub import Hub
from kefu.domain.conversation import Conversation
from kefu.domain.roles import Role
from kefu.errors import Forbidden, NotFound
from kefu.ports import Clock
from kefu.store.repositories import Repositories


class OpenConversations:
    def __init__(self, repos: Repositories, hub: Hub, clock: Clock) -> None:
        self._repos = repos
        self._hub = hub
        self._clock = clock
        self._open: dict[str, Conversation] = {}
        self._open_by_visitor: dict[str, str] = {}
        self._visitor_locks: dict[str, asyncio.Lock] = {}

    async def load(self, conversation_id: str) -> Conversation | None:
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

    async def of_visitor(self, visitor_id: str) -> tuple[Conversation, bool]:
        """The visitor's open conversation, opening one if needed (once, under a lock);
        True when it was opened now."""
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

    def has_open(self, visitor_id: str) -> bool:
        """Does this node hold the visitor's open conversation (no query)?"""
        known = self._open_by_visitor.get(visitor_id)
        return known is not None and known in self._open

    async def accessible(self, principal: Principal, conversation_id: str) -> Conversation:
        """The conversation if ``principal`` may see it; NotFound/Forbidden otherwise."""
        conversation = await self.load(conversation_id)
        if conversation is None:
            raise NotFound("no such conversation", code="conversation_not_found")
        if self._hub.clustered and not may_see(principal, conversation):
            # Another node may have just assigned or transferred it and our copy is older
            # than its news: ask the store before refusing.
            self.forget_cached(conversation_id)
            conversation = await self.load(conversation_id)
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

    def forget_cached(self, conversation_id: str) -> None:
        """Another node changed the conversation: the next use reads it from the store."""
        cached = self._open.get(conversation_id)
        if cached is not None:
            self.forget(cached)

    def forget(self, conversation: Conversation) -> None:
        """It closed: it is no longer anyone's open conversation."""
        self._open.pop(conversation.id, None)
        if self._open_by_visitor.get(conversation.visitor_id) == conversation.id:
            del self._open_by_visitor[conversation.visitor_id]

    def _remember(self, conversation: Conversation) -> None:
        self._open[conversation.id] = conversation
        self._open_by_visitor[conversation.visitor_id] = conversation.id


def may_see(principal: Principal, conversation: Conversation) -> bool:
    if principal.is_agent:
        return conversation.assignee_id == principal.id or principal.has_role(Role.SUPERVISOR)
    return conversation.visitor_id == principal.id


def participants(conversation: Conversation) -> list[str]:
    """The visitor and the assignee: who gets every public frame of the conversation."""
    keys = [visitor_key(conversation.visitor_id)]
    if conversation.assignee_id is not None:
        keys.append(agent_key(conversation.assignee_id))
    return keys


def agent_side(conversation: Conversation) -> list[str]:
    """Who gets a private note (besides the supervisors watching): the assignee."""
    return [agent_key(conversation.assignee_id)] if conversation.assignee_id else []


def others(conversation: Conversation, principal: Principal) -> list[str]:
    """The participants but ``principal`` (the sender of a typing or read signal)."""
    return [key for key in participants(conversation) if key != principal.key]
