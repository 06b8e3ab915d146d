"""Keeps every agent console's conversation list live.

An agent's socket gets the frames of the conversations it takes part in; a console also
lists conversations it does not own (supervisors: all; everyone: the waiting queue). The
feed tells those consoles what changed, addressed from the hub's index of online agents,
with no query on the message path:

- ``conversation.opened`` (the full list item): to supervisors, to the assignee, and to
  every online agent while it waits;
- ``conversation.updated`` (status, assignee, and the new last message when that is what
  changed): to supervisors and the agents concerned, and to every online agent when the
  conversation waits or just stopped waiting. The assignee is not told of a new message
  this way: it already gets ``message.new``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from msgspec import UNSET

from kefu.auth.principal import agent_key
from kefu.chat import server_frames
from kefu.chat.hub import Hub
from kefu.cluster.envelope import Audience
from kefu.domain.conversation import Conversation, ConversationStatus
from kefu.domain.models import Message
from kefu.store.summaries import ConversationSummaries


class ConversationFeed:
    def __init__(self, hub: Hub, summaries: ConversationSummaries) -> None:
        self._hub = hub
        self._summaries = summaries

    async def opened(self, conversation: Conversation) -> None:
        """Announce a new conversation (after its first message is stored)."""
        audience = _audience(conversation.status is ConversationStatus.WAITING)
        keys = [] if conversation.assignee_id is None else [agent_key(conversation.assignee_id)]
        if not keys and not self._hub.may_reach(audience):
            return
        summary = await self._summaries.get(conversation.id)
        if summary is None:
            return
        frame = server_frames.encode(
            server_frames.ConversationOpened(server_frames.summary_json(summary))
        )
        self._hub.send(keys, frame, conversation.id, audience=audience)

    def changed(
        self, conversation: Conversation, *, was_waiting: bool = False, also: Iterable[str] = ()
    ) -> None:
        """Status or assignee changed; ``also`` names agents to tell besides the assignee
        (the previous one, on transfer)."""
        everyone = was_waiting or conversation.status is ConversationStatus.WAITING
        keys = {agent_key(agent_id) for agent_id in also}
        if conversation.assignee_id is not None:
            keys.add(agent_key(conversation.assignee_id))
        self._send(keys, _audience(everyone), conversation, None)

    def customer_linked(
        self, conversation: Conversation, customer_key: str | None, linked: bool
    ) -> None:
        """The conversation's customer (the 360's key) changed: every console showing it
        reloads its panel."""
        keys = [] if conversation.assignee_id is None else [agent_key(conversation.assignee_id)]
        self._send(
            keys,
            Audience.SUPERVISORS,
            conversation,
            None,
            customer_key=customer_key,
            customer_linked=linked,
        )

    def labelled(self, conversation: Conversation, labels: list[str]) -> None:
        """The conversation's labels changed: every console listing it shows the new set."""
        everyone = conversation.status is ConversationStatus.WAITING
        keys = [] if conversation.assignee_id is None else [agent_key(conversation.assignee_id)]
        self._send(keys, _audience(everyone), conversation, None, labels=labels)

    def message(self, conversation: Conversation, message: Message) -> None:
        """A new last message, for the consoles that do not get ``message.new``."""
        audience = _audience(conversation.status is ConversationStatus.WAITING)
        if self._hub.may_reach(audience):
            self._send((), audience, conversation, message)

    def _send(
        self,
        keys: Collection[str],
        audience: Audience,
        conversation: Conversation,
        message: Message | None,
        **extra: Any,
    ) -> None:
        frame = server_frames.ConversationUpdated(
            conversation.id,
            conversation.status.value,
            conversation.assignee_id,
            server_frames.message_json(message) if message is not None else UNSET,
            **extra,
        )
        self._hub.send(keys, server_frames.encode(frame), conversation.id, audience=audience)


def _audience(everyone: bool) -> Audience:
    """Waiting conversations are every agent's business (the queue); others supervisors'."""
    return Audience.AGENTS if everyone else Audience.SUPERVISORS
