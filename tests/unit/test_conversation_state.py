"""The conversation state machine refuses illegal moves, naming state and move."""

from __future__ import annotations

import pytest

from kefu.domain.conversation import Conversation, ConversationStatus
from kefu.domain.errors import IllegalTransition


def _waiting() -> Conversation:
    return Conversation("c", "v", ConversationStatus.WAITING)


def test_assign_transfer_close() -> None:
    conversation = _waiting()
    conversation.assign("a")
    assert conversation.transfer("b") == "a"
    assert conversation.close() == "b"
    assert conversation.status is ConversationStatus.CLOSED


def test_a_waiting_conversation_can_be_transferred_by_hand() -> None:
    conversation = _waiting()
    assert conversation.transfer("a") is None
    assert conversation.status is ConversationStatus.ASSIGNED


@pytest.mark.parametrize("action", ["assign", "transfer", "close"])
def test_a_closed_conversation_refuses_everything(action: str) -> None:
    conversation = _waiting()
    conversation.close()
    with pytest.raises(IllegalTransition) as raised:
        if action == "assign":
            conversation.assign("a")
        elif action == "transfer":
            conversation.transfer("a")
        else:
            conversation.close()
    assert "closed" in str(raised.value)
    assert raised.value.state is ConversationStatus.CLOSED


def test_assigning_twice_and_transferring_to_the_owner_are_refused() -> None:
    conversation = _waiting()
    conversation.assign("a")
    with pytest.raises(IllegalTransition):
        conversation.assign("b")
    with pytest.raises(IllegalTransition):
        conversation.transfer("a")
