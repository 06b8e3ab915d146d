"""Pieces shared by the store-specific group-commit paths: pure planning and assembly."""

from __future__ import annotations

from collections.abc import Sequence

from kefu.domain.models import Message, NewMessage

BatchResult = list[tuple[Message, bool]]
Key = tuple[str, str]


def key_of(new: NewMessage) -> Key:
    return (new.sender.id or "", new.client_msg_id or "")


def plan_batch(batch: Sequence[NewMessage]) -> tuple[list[int], dict[int, int]]:
    """Split a batch into the indexes to insert, in order, and resends within the batch
    (index -> index of the first copy, which answers for them)."""
    fresh: list[int] = []
    copies: dict[int, int] = {}
    first_of: dict[Key, int] = {}
    for index, new in enumerate(batch):
        if new.client_msg_id is not None:
            key = key_of(new)
            if key in first_of:
                copies[index] = first_of[key]
                continue
            first_of[key] = index
        fresh.append(index)
    return fresh, copies


def stored(message_id: int, new: NewMessage) -> Message:
    return Message(
        id=message_id,
        conversation_id=new.conversation_id,
        sender=new.sender,
        body=new.body,
        created_at=new.created_at,
        client_msg_id=new.client_msg_id,
        internal=new.internal,
    )


def assemble(
    size: int, results: dict[int, tuple[Message, bool]], copies: dict[int, int]
) -> BatchResult:
    """Results in batch order; resends inside the batch answer with their first copy."""
    for index, first in copies.items():
        if first in results:
            results[index] = (results[first][0], False)
    if len(results) != size:
        raise RuntimeError("group commit lost track of a message")  # a bug, not bad input
    return [results[index] for index in range(size)]
