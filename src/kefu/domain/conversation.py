"""The conversation state machine.

A conversation is ``waiting`` from the visitor's first message until an agent takes it,
``assigned`` while an agent owns it (transfer keeps it assigned, to someone else), and
``closed`` at the end. A closed conversation is history: a visitor who writes again opens
a new one, which is how Intercom and Chatwoot behave and keeps reports per conversation.
An agent may reopen a closed one: it waits again, and is assigned like a new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kefu.domain.errors import IllegalTransition


class ConversationStatus(StrEnum):
    WAITING = "waiting"
    ASSIGNED = "assigned"
    CLOSED = "closed"

    @property
    def is_open(self) -> bool:
        return self is not ConversationStatus.CLOSED


@dataclass(slots=True)
class Conversation:
    id: str
    visitor_id: str
    status: ConversationStatus
    assignee_id: str | None = None

    def assign(self, agent_id: str) -> None:
        if self.status is not ConversationStatus.WAITING:
            raise IllegalTransition("conversation", self.status, "be assigned")
        self.status = ConversationStatus.ASSIGNED
        self.assignee_id = agent_id

    def transfer(self, agent_id: str) -> str | None:
        """Hand to ``agent_id``; returns the previous assignee so its load can be freed."""
        if self.status is ConversationStatus.CLOSED:
            raise IllegalTransition("conversation", self.status, "be transferred")
        if agent_id == self.assignee_id:
            raise IllegalTransition("conversation", self.status, "be transferred to its owner")
        previous = self.assignee_id
        self.status = ConversationStatus.ASSIGNED
        self.assignee_id = agent_id
        return previous

    def reopen(self) -> None:
        """A closed conversation waits again, with its history, for an agent like a new
        one (its former assignee's slot was freed at close)."""
        if self.status is not ConversationStatus.CLOSED:
            raise IllegalTransition("conversation", self.status, "be reopened")
        self.status = ConversationStatus.WAITING
        self.assignee_id = None

    def close(self) -> str | None:
        """Close; returns the assignee whose capacity this frees."""
        if self.status is ConversationStatus.CLOSED:
            raise IllegalTransition("conversation", self.status, "be closed")
        self.status = ConversationStatus.CLOSED
        return self.assignee_id
