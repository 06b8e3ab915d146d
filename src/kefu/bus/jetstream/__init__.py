"""The event log on NATS JetStream (``bus: nats://…``): several nodes share one log.

One module per part: :mod:`.streams` (provisioning and limits), :mod:`.publish` (the
PubAck window), :mod:`.pull` (the pull protocol), :mod:`.consumer` (batches, outcomes,
retries), :mod:`.dead_letters`, :mod:`.protocol` (headers and pure parsing), and
:mod:`.log`, the :class:`JetStreamEventLog` that owns the connection and composes them.

Why it is shaped this way:

- **Append** publishes every event with ``Nats-Msg-Id: <event id>`` and many PubAcks in
  flight, then waits for all of them. JetStream stores a re-publish of the same id
  inside the stream's duplicate window once, so a caller that retries a failed append
  (some events stored, some not) creates no duplicates. Nothing is claimed durable
  unless every PubAck came back.
- **Consume** is a durable *pull* consumer: the consumer asks for ``batch`` messages when
  it is ready for them, so a slow handler is back-pressure, never an overflowing buffer.
  A message is acknowledged only after the handler says its effect is stored (``DONE``);
  a lost ack or a crash mid-batch means a redelivery after ``ack_wait``, which the
  handler's dedupe by event id absorbs: effectively-once. ``ack_wait`` is short (5 s by
  default), so a crashed node's events go to another node within seconds, and a live
  consumer sends in-progress acks (``+WPI``) for everything it holds, so a slow batch is
  never handed out twice (:mod:`kefu.bus.in_progress`).
- **Retries are counted here, not by the server.** JetStream's ``max_deliver`` drops a
  message silently once reached (only an advisory says so), and the consumer ``backoff``
  list overrides ``ack_wait`` with its first delay (a 1 s backoff would redeliver every
  batch that takes over 1 s). So the consumer has unlimited deliveries and a fixed
  ``ack_wait``; a ``RETRY`` is a ``nak`` with this attempt's backoff delay, and the last
  allowed attempt (or a delivery past it, after crashes) goes to the dead-letter stream
  with its reason. Nothing leaves the log without a trace.
- **Dead letters** are the original payload on ``kefu.deadletter.<type>`` in their own
  stream, with the reason in headers; the message is terminated only once the dead
  letter is stored.
- **Limits: full means "wait", not "forget".** Both streams have an age and a byte limit
  (``events.jetstream.*_max_age_hours``, ``*_max_bytes``) and refuse new messages when
  full (``DiscardPolicy.NEW``): the outbox relay keeps a refused event and retries, while
  ``OLD`` would silently drop the oldest event, read or not. A stream that keeps every
  event (limits retention) fills with history in steady state, so a refusal first purges
  what every consumer has acknowledged; only unread events make a publish wait. Limits
  that differ from the settings are updated in place at start, never by recreating the
  stream, and a byte limit below what the stream holds unread is refused (the server
  would delete the oldest events to fit).
- **Both hot paths skip nats-py's per-message machinery.** Its ``publish_async`` makes a
  future and parses a PubAck per message, and its ``fetch`` waits for each message with
  a timer task; that caps a process near 25k and 20k messages/s. Here PubAcks come back
  on one wildcard inbox and are only checked for an error, and pulls use the JetStream
  pull protocol (``$JS.API.CONSUMER.MSG.NEXT``) directly, waking the consumer once per
  batch: about twice the rate, on the same public client API.
"""

from kefu.bus.jetstream.consumer import CONSUMER_NAME, MIN_MAX_ACK_PENDING
from kefu.bus.jetstream.log import PING_TIMEOUT_SECONDS, JetStreamEventLog
from kefu.bus.jetstream.protocol import (
    ACK_V1_TOKENS,
    DEAD_LETTER_SUBJECTS,
    EVENTS_SUBJECTS,
    HEADER_ATTEMPTS,
    HEADER_DESCRIPTION,
    HEADER_EVENT_ID,
    HEADER_MSG_ID,
    HEADER_ORIGINAL_SEQUENCE,
    HEADER_ORIGINAL_SUBJECT,
    HEADER_REASON,
    HEADER_STATUS,
    HEADER_TRUNCATED,
    MAX_REASON_CHARS,
    STREAM_FULL,
)
from kefu.bus.jetstream.publish import NO_ACK, PUBLISH_WINDOW
from kefu.bus.jetstream.pull import PullFailed
from kefu.bus.jetstream.streams import DISCARD_NEW_EXACT_SINCE, MAKE_ROOM_INTERVAL_SECONDS

__all__ = [
    "ACK_V1_TOKENS",
    "CONSUMER_NAME",
    "DEAD_LETTER_SUBJECTS",
    "DISCARD_NEW_EXACT_SINCE",
    "EVENTS_SUBJECTS",
    "HEADER_ATTEMPTS",
    "HEADER_DESCRIPTION",
    "HEADER_EVENT_ID",
    "HEADER_MSG_ID",
    "HEADER_ORIGINAL_SEQUENCE",
    "HEADER_ORIGINAL_SUBJECT",
    "HEADER_REASON",
    "HEADER_STATUS",
    "HEADER_TRUNCATED",
    "MAKE_ROOM_INTERVAL_SECONDS",
    "MAX_REASON_CHARS",
    "MIN_MAX_ACK_PENDING",
    "NO_ACK",
    "PING_TIMEOUT_SECONDS",
    "PUBLISH_WINDOW",
    "STREAM_FULL",
    "JetStreamEventLog",
    "PullFailed",
]
