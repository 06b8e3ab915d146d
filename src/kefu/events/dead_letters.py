"""Dead letters: events the rules consumer gave up on, kept whole so that an admin can
read why, fix the cause (a rule, a webhook, a department's data) and replay them, or
discard them.

Both event logs keep them: the store log in the ``dead_letters`` table, JetStream in its
dead-letter stream (``kefu.deadletter.<type>``). Replaying publishes the event again
under its own id: the dedupe by id still holds (a dead event was never recorded as
processed, and one the sender re-sent meanwhile and that succeeded is not applied twice).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from kefu.domain.envelope import Event, EventInvalid, decode
from kefu.errors import Conflict


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One dead letter, as an admin or a test reads it."""

    sequence: int  # its id in the log's dead letters: pass it as ``after`` for the next page
    subject: str  # kefu.deadletter.<type>
    original_subject: str  # kefu.events.<type>
    event_id: str | None  # None when the payload was too malformed to have one
    reason: str
    attempts: int
    payload: bytes
    at: datetime | None
    truncated_from: int | None = None  # the original length, when it had to be cut


class DeadLetters(Protocol):
    """What both event logs offer over their dead letters (admin pages, tests)."""

    async def dead_letters(self, limit: int = 100, after: int = 0) -> list[DeadLetter]:
        """Up to ``limit`` dead letters with a sequence over ``after``, oldest first."""
        ...

    async def dead_letter(self, sequence: int) -> DeadLetter | None: ...

    async def replay_dead_letter(self, sequence: int) -> DeadLetter:
        """Publish the letter's event again and remove the letter (NotFound when there
        is none; Conflict when its payload is not an event that can be replayed)."""
        ...

    async def discard_dead_letter(self, sequence: int) -> DeadLetter:
        """Remove the letter for good (NotFound when there is none)."""
        ...


def replayable(letter: DeadLetter) -> Event:
    """The event to publish again, or Conflict saying why this letter cannot be."""
    if letter.truncated_from is not None:
        raise Conflict(
            f"dead letter {letter.sequence} holds only {len(letter.payload)} of its "
            f"{letter.truncated_from} bytes; it cannot be replayed",
            code="dead_letter_not_replayable",
        )
    try:
        return decode(letter.payload, letter.original_subject)
    except EventInvalid as exc:
        raise Conflict(
            f"dead letter {letter.sequence} is not a valid event ({exc}); it cannot be "
            "replayed, only discarded",
            code="dead_letter_not_replayable",
        ) from None
