"""Dead letters on JetStream: the original payload on ``kefu.deadletter.<type>`` in a stream
of their own, with the reason in headers.

The original message is terminated only once its dead letter is stored; one that could not
be stored is nak'd to come again, so nothing leaves the log without a trace. The admin side
(list, read, delete) reads the stream one message per request: meant for an admin page and
tests, not a hot path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import nats.js.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from kefu.bus.jetstream.protocol import (
    DEAD_LETTER_SUBJECTS,
    HEADER_ATTEMPTS,
    HEADER_EVENT_ID,
    HEADER_MSG_ID,
    HEADER_ORIGINAL_SEQUENCE,
    HEADER_ORIGINAL_SUBJECT,
    HEADER_REASON,
    HEADER_TRUNCATED,
    message_size,
    one_line,
)
from kefu.bus.jetstream.publish import Message
from kefu.domain.envelope import DEAD_LETTER_PREFIX, SUBJECT_PREFIX
from kefu.events.dead_letters import DeadLetter
from kefu.observability.metrics import EVENTS_DEAD_LETTERED

log = logging.getLogger(__name__)

# Room kept in a dead letter's header block for HEADER_TRUNCATED, which is added only when
# the payload has to be cut (a name and a length: well under 64 bytes).
TRUNCATED_HEADER_ROOM = 64


@dataclass(slots=True)
class Dead:
    """A delivered message that goes to the dead-letter stream, and why."""

    msg: Msg
    reason: str
    attempt: int
    event_id: str | None


def messages_for(items: Sequence[Dead], limit: int) -> list[Message]:
    """The dead letters to publish for ``items``, each within ``limit`` bytes (the server's
    ``max_payload``)."""
    messages = []
    for item in items:
        md = item.msg.metadata
        suffix = item.msg.subject.removeprefix(SUBJECT_PREFIX)
        headers = {
            # A redelivery after a crash between publish and term is stored once.
            HEADER_MSG_ID: f"{md.stream}-{md.sequence.stream}",
            HEADER_REASON: one_line(item.reason),
            HEADER_ATTEMPTS: str(item.attempt),
            HEADER_ORIGINAL_SUBJECT: item.msg.subject,
            HEADER_ORIGINAL_SEQUENCE: str(md.sequence.stream),
        }
        if item.event_id:
            headers[HEADER_EVENT_ID] = one_line(item.event_id)
        payload = item.msg.data
        room = limit - message_size(b"", headers) - TRUNCATED_HEADER_ROOM
        if len(payload) > room:
            # The headers made an event at the size limit too large to dead-letter;
            # a cut payload beats one that is retried forever.
            headers[HEADER_TRUNCATED] = str(len(payload))
            payload = payload[: max(room, 0)]
        messages.append((DEAD_LETTER_PREFIX + suffix, payload, headers))
    return messages


async def settle(
    items: Sequence[Dead], results: Sequence[str | None], delay_for: Callable[[int], float]
) -> None:
    """Terminate each original whose dead letter was stored (``None`` in ``results``);
    nak the others with ``delay_for(attempt)`` so they come again."""
    for item, result in zip(items, results, strict=True):
        try:
            if result is not None:
                log.warning(
                    "could not dead-letter %s (%r); it will come again",
                    item.event_id or item.msg.subject,
                    result,
                )
                await item.msg.nak(delay=delay_for(item.attempt))
            else:
                EVENTS_DEAD_LETTERED.inc()
                log.error(
                    "event %s on %s dead-lettered after %d attempts: %s",
                    item.event_id,
                    item.msg.subject,
                    item.attempt,
                    item.reason,
                )
                await item.msg.term()
        except Exception as exc:
            log.warning("could not settle a dead-lettered message: %r", exc)


async def read_many(js: JetStreamContext, stream: str, limit: int, after: int) -> list[DeadLetter]:
    """Up to ``limit`` dead letters with a sequence over ``after``, oldest first."""
    letters: list[DeadLetter] = []
    sequence = after
    while len(letters) < limit:
        try:
            raw = await js.get_msg(
                stream, seq=sequence + 1, subject=DEAD_LETTER_SUBJECTS, next=True
            )
        except nats.js.errors.NotFoundError:
            break
        sequence = raw.seq or sequence + 1
        letters.append(letter(sequence, raw))
    return letters


async def read_one(js: JetStreamContext, stream: str, sequence: int) -> DeadLetter | None:
    try:
        raw = await js.get_msg(stream, seq=sequence)
    except nats.js.errors.NotFoundError:
        return None
    if not (raw.subject or "").startswith(DEAD_LETTER_PREFIX):
        return None  # another subject someone routed into the stream: not ours
    return letter(sequence, raw)


def letter(sequence: int, raw: Any) -> DeadLetter:
    """A dead letter from a stored message of the dead-letter stream (``js.get_msg``)."""
    headers = raw.headers or {}
    return DeadLetter(
        sequence=sequence,
        subject=raw.subject or "",
        original_subject=headers.get(HEADER_ORIGINAL_SUBJECT, ""),
        event_id=headers.get(HEADER_EVENT_ID),
        reason=headers.get(HEADER_REASON, ""),
        attempts=int(headers.get(HEADER_ATTEMPTS, "0")),
        payload=raw.data or b"",
        at=raw.time,
        truncated_from=int(headers[HEADER_TRUNCATED]) if HEADER_TRUNCATED in headers else None,
    )
