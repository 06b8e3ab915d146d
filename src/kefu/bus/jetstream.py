"""The event log on NATS JetStream (``bus: nats://…``): several nodes share one log.

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
  never handed out twice (``kefu.bus.in_progress``).
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

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    ReplayPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)

from kefu.bus.in_progress import InProgress
from kefu.bus.nats_close import close_quietly
from kefu.errors import ConfigError, KefuError, NotFound, TooLarge, Unavailable
from kefu.events.dead_letters import DeadLetter, replayable
from kefu.events.envelope import (
    DEAD_LETTER_PREFIX,
    SUBJECT_PREFIX,
    Event,
    EventInvalid,
    decode,
    encode,
)
from kefu.events.log import BatchHandler, Outcome, Received, Result
from kefu.events.settings import EventSettings
from kefu.observability.metrics import EVENTS_DEAD_LETTERED, EVENTS_REDELIVERED

log = logging.getLogger(__name__)

EVENTS_SUBJECTS = SUBJECT_PREFIX + ">"
DEAD_LETTER_SUBJECTS = DEAD_LETTER_PREFIX + ">"

HEADER_MSG_ID = "Nats-Msg-Id"
HEADER_STATUS = "Status"
HEADER_DESCRIPTION = "Description"
HEADER_REASON = "Kefu-Reason"
HEADER_EVENT_ID = "Kefu-Event-Id"
HEADER_ATTEMPTS = "Kefu-Attempts"
HEADER_ORIGINAL_SUBJECT = "Kefu-Original-Subject"
HEADER_ORIGINAL_SEQUENCE = "Kefu-Original-Sequence"
HEADER_TRUNCATED = "Kefu-Truncated-From"  # the original payload's length, when cut

# A header value is one line; a reason is for people, so it is cut rather than refused.
MAX_REASON_CHARS = 1000
# Durable names become subject tokens: no dots, wildcards or whitespace.
CONSUMER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Delivered-but-unsettled messages per consumer, retries waiting out their backoff
# included. Several nodes fetch ``batch`` each; when everything is failing, the consumer
# stops taking new events at this bound instead of piling up redeliveries.
MIN_MAX_ACK_PENDING = 10_000
ACK_V1_TOKENS = 9  # $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>
PING_TIMEOUT_SECONDS = 2.0
# PubAcks awaited at once by one append: enough to keep the server busy, bounded memory.
PUBLISH_WINDOW = 4096
# The err_code of JSStreamStoreFailedF, which a PubAck carries when a stream under
# DiscardPolicy.NEW is full ("maximum bytes exceeded", or messages).
STREAM_FULL = "10077 "
# A full stream is checked for acknowledged history at most this often: every relay
# retry (about once a second) asking for every consumer's state would only add load.
MAKE_ROOM_INTERVAL_SECONDS = 5.0
# Before nats-io/nats-server#4772 (merged November 2023, in 2.10.5), a stream under
# DiscardPolicy.NEW checked a publish against max_bytes without the per-message overhead,
# so the publish that crossed the limit was stored and the oldest message deleted.
DISCARD_NEW_EXACT_SINCE = (2, 10, 5)
NO_ACK = "no acknowledgement"  # placeholder until a message's reply comes


@dataclass(slots=True)
class _Dead:
    msg: Msg
    reason: str
    attempt: int
    event_id: str | None


class JetStreamEventLog:
    """The :class:`~kefu.events.log.EventLog` port on JetStream.

    Connects on :meth:`start` (or lazily on first use) and then reconnects forever: a
    NATS restart costs the calls made while it is down (they raise
    :class:`~kefu.errors.Unavailable`), never the process.
    """

    def __init__(
        self,
        url: str,
        settings: EventSettings,
        *,
        name: str = "kefu",
        reconnect_time_wait: float = 2.0,
        publish_timeout: float = 10.0,
        fetch_timeout: float = 5.0,
        connect_timeout: float = 5.0,
        lanes: int = 1,
    ) -> None:
        """``publish_timeout`` bounds one whole ``append`` (every PubAck, or it fails);
        ``fetch_timeout`` is how long an idle consumer's pull request lingers;
        ``connect_timeout`` bounds the first connection (later ones are retried forever);
        ``lanes`` is how many batches the consumer handles at once (2 overlap a
        PostgreSQL store's work on one with the Python work on the next; a SQLite
        store's one writer gains nothing from a second)."""
        self._url = url
        self._settings = settings
        self._js_settings = settings.jetstream
        self._name = name
        self._reconnect_time_wait = reconnect_time_wait
        self._publish_timeout = publish_timeout
        self._fetch_timeout = fetch_timeout
        self._connect_timeout = connect_timeout
        self._lanes = max(1, lanes)
        self._backoff = list(settings.jetstream.backoff_seconds) or [1.0]
        self._nc: NATS | None = None
        self._js: JetStreamContext | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        self._failed: tuple[float, str] | None = None  # the last failed connect: when, why
        self._tasks: set[asyncio.Task[None]] = set()
        self._room_checked = -math.inf  # monotonic time of the last full-stream purge

    # -- lifecycle ---------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Connect and make sure both streams exist with this configuration."""
        await self._ready()

    async def _ready(self) -> JetStreamContext:
        if self._js is not None:
            return self._js
        async with self._lock:
            if self._closed:
                raise Unavailable("the event log is closed")
            if self._js is not None:
                return self._js
            if self._failed is not None and time.monotonic() - self._failed[0] < max(
                self._reconnect_time_wait, 1.0
            ):
                # Callers queued behind a failed attempt fail with it, not one by one
                # after a connect_timeout each.
                raise Unavailable(self._failed[1])
            nc = NATS()
            try:
                # Reconnects are forever, and so would the first connect be: bound it, so
                # a node starting while NATS is down fails this call, not hangs (the next
                # call tries again).
                async with asyncio.timeout(self._connect_timeout):
                    await nc.connect(
                        self._url,
                        name=self._name,
                        allow_reconnect=True,
                        max_reconnect_attempts=-1,
                        # Annotated int in nats-py, used as seconds for asyncio.sleep.
                        reconnect_time_wait=self._reconnect_time_wait,  # type: ignore[arg-type]
                        error_cb=self._on_error,
                        disconnected_cb=self._on_disconnected,
                        reconnected_cb=self._on_reconnected,
                        closed_cb=self._on_closed,
                    )
                js = nc.jetstream(timeout=self._publish_timeout)
                await self._ensure_streams(js, first=True)
                _warn_if_discard_new_is_inexact(nc)
            except BaseException as exc:
                await close_quietly(nc, what="event log", drain_timeout=None)
                if isinstance(exc, TimeoutError | nats.errors.Error | OSError):
                    message = f"cannot reach JetStream at {self._url}: {exc!r}"
                    self._failed = (time.monotonic(), message)
                    raise Unavailable(message) from exc
                raise
            self._nc, self._js, self._failed = nc, js, None
            return js

    async def close(self) -> None:
        """Drain: pending acks and publishes are flushed before the connection closes
        (when connected; with NATS down what was buffered is dropped, see
        :mod:`kefu.bus.nats_close`)."""
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None:
            # Up, down or reconnecting: a stop never raises (kefu.bus.nats_close).
            await close_quietly(nc, what="event log", drain_timeout=self._publish_timeout)

    # -- connection callbacks (logged, so an outage is visible) ---------------------------

    async def _on_error(self, exc: Exception) -> None:
        log.warning("NATS connection error: %r", exc)

    async def _on_disconnected(self) -> None:
        if not self._closed:
            log.warning("NATS disconnected from %s; reconnecting", self._url)

    async def _on_reconnected(self) -> None:
        log.warning("NATS reconnected to %s", self._url)
        # A server that came back without its store (a new volume) has no streams; make
        # them again so appends work, and say so loudly (events stored there are gone).
        if self._js is not None and not self._closed:
            task = asyncio.create_task(self._ensure_streams_logged(self._js))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _on_closed(self) -> None:
        log.info("NATS connection to %s closed", self._url)

    # -- streams ---------------------------------------------------------------------------

    def _stream_configs(self) -> list[StreamConfig]:
        settings = self._js_settings
        common: dict[str, Any] = {
            "storage": StorageType.FILE,
            "retention": RetentionPolicy.LIMITS,
            # Full: refuse (the outbox keeps the event and retries), never drop the oldest.
            "discard": DiscardPolicy.NEW,
            "duplicate_window": settings.duplicate_window_seconds,
            "num_replicas": settings.replicas,
        }
        return [
            StreamConfig(
                name=settings.stream,
                subjects=[EVENTS_SUBJECTS],
                max_age=settings.stream_max_age_hours * 3600,
                max_bytes=settings.stream_max_bytes,
                **common,
            ),
            StreamConfig(
                name=settings.dead_letter_stream,
                subjects=[DEAD_LETTER_SUBJECTS],
                max_age=settings.deadletter_max_age_hours * 3600,
                max_bytes=settings.deadletter_max_bytes,
                **common,
            ),
        ]

    async def _ensure_streams(self, js: JetStreamContext, *, first: bool) -> None:
        for wanted in self._stream_configs():
            await self._ensure_stream(js, wanted, first=first)

    async def _ensure_streams_logged(self, js: JetStreamContext) -> None:
        try:
            await self._ensure_streams(js, first=False)
        except Exception as exc:
            log.warning("could not check the JetStream streams after a reconnect: %r", exc)

    async def _ensure_stream(
        self, js: JetStreamContext, wanted: StreamConfig, *, first: bool
    ) -> None:
        """Create the stream, or update the settings kefu owns (subjects, duplicate window,
        replicas, age and byte limits, discard policy) in place and keep the rest (other
        limits an operator set by hand, such as ``max_msgs``, survive a restart)."""
        assert wanted.name is not None
        try:
            info = await js.stream_info(wanted.name)
        except nats.js.errors.NotFoundError:
            try:
                await js.add_stream(wanted)
            except nats.js.errors.BadRequestError as exc:
                # Another node created it between our look and our add: update instead.
                if exc.err_code != 10058:
                    raise self._stream_error(wanted, exc) from exc
            else:
                level = logging.INFO if first else logging.WARNING
                log.log(level, "created JetStream stream %s over %s", wanted.name, wanted.subjects)
                return
            info = await js.stream_info(wanted.name)
        current = info.config
        if current.storage not in (None, StorageType.FILE):
            raise ConfigError(
                self._stream_key(wanted),
                f"JetStream stream {wanted.name} uses {current.storage} storage; kefu needs "
                "file storage (storage cannot change: delete the stream or rename it in "
                "events.jetstream)",
            )
        if (
            sorted(current.subjects or []) == sorted(wanted.subjects or [])
            and math.isclose(current.duplicate_window or 0.0, wanted.duplicate_window or 0.0)
            and (current.num_replicas or 1) == wanted.num_replicas
            and math.isclose(current.max_age or 0.0, wanted.max_age or 0.0)
            and current.max_bytes == wanted.max_bytes
            and current.discard == wanted.discard
        ):
            return
        assert wanted.max_bytes is not None
        if info.state.bytes > wanted.max_bytes:
            # The server would delete the oldest messages to fit, read or not: keep only
            # the unread ones, and refuse a limit below them.
            await self._purge_acknowledged(js, wanted.name)
            held = (await js.stream_info(wanted.name)).state.bytes
            if held > wanted.max_bytes:
                raise ConfigError(
                    self._limit_key(wanted, "max_bytes"),
                    f"JetStream stream {wanted.name} holds {held} bytes of events not yet "
                    f"acknowledged by every consumer; a limit of {wanted.max_bytes} would "
                    "delete some. Raise it, or let the consumers catch up first",
                )
        updated = dataclasses.replace(
            current,
            subjects=wanted.subjects,
            duplicate_window=wanted.duplicate_window,
            num_replicas=wanted.num_replicas,
            max_age=wanted.max_age,
            max_bytes=wanted.max_bytes,
            discard=wanted.discard,
        )
        try:
            await js.update_stream(updated)
        except nats.js.errors.APIError as exc:
            raise self._stream_error(wanted, exc) from exc
        log.info(
            "updated JetStream stream %s (max age %gh, max bytes %d, discard %s)",
            wanted.name,
            (wanted.max_age or 0.0) / 3600,
            wanted.max_bytes,
            wanted.discard,
        )

    async def _purge_acknowledged(self, js: JetStreamContext, stream: str) -> int:
        """Remove the messages every consumer of ``stream`` has acknowledged; return how
        many went.

        With limits retention, acknowledged events stay as history until a limit removes
        them. The lowest acknowledgement floor among the consumers (kefu's and anyone
        else's) is where unread events may begin, so everything before it can go. No
        consumer means nobody has read anything: nothing goes.
        """
        consumers: list[Any] = []
        while True:
            page = await js.consumers_info(stream, offset=len(consumers))
            consumers.extend(page)
            if len(page) == 0 or len(consumers) >= 10_000:
                break
        if not consumers:
            return 0
        floor = min(int(c.ack_floor.stream_seq) if c.ack_floor else 0 for c in consumers)
        before = (await js.stream_info(stream)).state
        if floor < before.first_seq:
            return 0
        # ``seq`` keeps that sequence and everything after it.
        await js.purge_stream(stream, seq=floor + 1)
        after = (await js.stream_info(stream)).state
        purged = before.messages - after.messages
        log.info(
            "JetStream stream %s: purged %d acknowledged events (%d bytes) to make room",
            stream,
            purged,
            before.bytes - after.bytes,
        )
        return purged

    async def _make_room(self, js: JetStreamContext) -> None:
        """A publish found the events stream full: purge its acknowledged history, at most
        once per ``MAKE_ROOM_INTERVAL_SECONDS``, and say so when nothing could go."""
        now = time.monotonic()
        if now - self._room_checked < MAKE_ROOM_INTERVAL_SECONDS:
            return
        self._room_checked = now
        stream = self._js_settings.stream
        try:
            purged = await self._purge_acknowledged(js, stream)
        except (nats.errors.Error, TimeoutError) as exc:
            log.warning("JetStream stream %s is full and could not be purged: %r", stream, exc)
            return
        if purged == 0:
            log.error(
                "JetStream stream %s is full of events no consumer has acknowledged "
                "(events.jetstream.stream_max_bytes=%d); new events wait in the outbox "
                "until the consumers catch up or the limit is raised",
                stream,
                self._js_settings.stream_max_bytes,
            )

    def _limit_key(self, wanted: StreamConfig, limit: str) -> str:
        if wanted.name == self._js_settings.stream:
            return f"events.jetstream.stream_{limit}"
        return f"events.jetstream.deadletter_{limit}"

    def _stream_key(self, wanted: StreamConfig) -> str:
        if wanted.name == self._js_settings.stream:
            return "events.jetstream.stream"
        return "events.jetstream.dead_letter_stream"

    def _stream_error(self, wanted: StreamConfig, exc: nats.js.errors.APIError) -> ConfigError:
        return ConfigError(
            self._stream_key(wanted),
            f"cannot create or update JetStream stream {wanted.name} over {wanted.subjects}: "
            f"{exc.description} (another stream may already own these subjects)",
        )

    # -- append ---------------------------------------------------------------------------

    async def append(self, events: Sequence[Event]) -> None:
        """Store ``events``; returns only when JetStream acknowledged every one.

        Raises :class:`~kefu.errors.Unavailable` otherwise: some may be stored, so the
        caller retries the whole batch and the ``Nats-Msg-Id`` dedupe drops the repeats.
        """
        if not events:
            return
        await self.append_encoded([(event.subject, event.id, encode(event)) for event in events])

    async def append_encoded(self, events: Sequence[tuple[str, str, bytes]]) -> None:
        """``append`` of events already encoded, as (subject, event id, payload): the
        outbox relay publishes the stored bytes without decoding and encoding them again."""
        if not events:
            return
        await self._ready()
        messages = [
            (subject, payload, {HEADER_MSG_ID: event_id}) for subject, event_id, payload in events
        ]
        errors = await self._publish_all(messages)
        failures = [error for error in errors if error is not None]
        if any(failure.startswith(STREAM_FULL) for failure in failures) and self._js:
            await self._make_room(self._js)  # the caller's retry may then fit
        if failures:
            raise Unavailable(
                f"JetStream stored {len(events) - len(failures)} of {len(events)} events; "
                f"first failure: {failures[0]}"
            )

    async def _publish_all(
        self, messages: Sequence[tuple[str, bytes, dict[str, str]]]
    ) -> list[str | None]:
        """Publish with up to ``PUBLISH_WINDOW`` PubAcks in flight, under one deadline.

        Returns, per message, None when stored or why not. The replies come back on one
        wildcard inbox (``<inbox>.<index>``) and are only checked for an error, not
        parsed: nats-py's ``publish_async`` (a future, a parsed PubAck and a token per
        message) manages about 25k/s here, this about 60k/s.
        """
        nc = self._nc
        if nc is None:
            raise Unavailable("the event log is closed")
        for index, (_, payload, headers) in enumerate(messages):
            size = _message_size(payload, headers)
            if size > nc.max_payload:  # refused before anything is sent: nothing half-stored
                raise TooLarge(
                    f"message {index} is {size} bytes; the NATS server takes at most "
                    f"{nc.max_payload}"
                )
        total = len(messages)
        errors: list[str | None] = [NO_ACK] * total
        state = _Window(total)
        inbox = nc.new_inbox()

        async def on_reply(msg: Msg) -> None:
            index = int(msg.subject.rpartition(".")[2])
            if errors[index] is NO_ACK:
                errors[index] = _pub_ack_error(msg)
                state.answered()

        sub = await nc.subscribe(inbox + ".*", cb=on_reply)
        try:
            async with asyncio.timeout(self._publish_timeout):
                for index, (subject, payload, headers) in enumerate(messages):
                    await state.room()
                    await nc.publish(subject, payload, reply=f"{inbox}.{index}", headers=headers)
                    state.sent()
                await state.all_answered()
        except TimeoutError:
            pass  # the unanswered keep NO_ACK
        except nats.errors.Error as exc:
            raise Unavailable(f"cannot publish to JetStream: {exc!r}") from exc
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        return [
            f"no acknowledgement within {self._publish_timeout:g}s" if e is NO_ACK else e
            for e in errors
        ]

    # -- consume --------------------------------------------------------------------------

    def _consumer_config(self, consumer: str) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=consumer,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self._js_settings.ack_wait_seconds,
            # Unlimited on the server: attempts are counted here so that none is dropped
            # silently (see the module docstring). No server ``backoff`` for the same reason.
            max_deliver=-1,
            filter_subject=EVENTS_SUBJECTS,
            replay_policy=ReplayPolicy.INSTANT,
            max_ack_pending=max(MIN_MAX_ACK_PENDING, 4 * self._settings.batch),
        )

    async def consume(self, consumer: str, handle: BatchHandler) -> None:
        """Deliver batches to ``handle`` under the durable pull consumer ``consumer`` until
        cancelled (or the log is closed).

        Outages are waited out: errors from NATS are logged and the loop tries again. A
        cancellation mid-batch acknowledges nothing more, so the unsettled messages come
        again after ``ack_wait``.
        """
        if not CONSUMER_NAME.match(consumer):
            raise ValueError(f"consumer name {consumer!r} must be 1-64 letters, digits, _ or -")
        puller: _Puller | None = None
        running: set[asyncio.Task[None]] = set()
        held = InProgress(self._js_settings.ack_wait_seconds)
        keep_alive = asyncio.create_task(held.run(lambda: puller.buffered() if puller else None))
        try:
            while not self._closed:
                try:
                    if puller is None:
                        puller = await self._subscribe(consumer)
                    msgs, arrived = await puller.fetch(self._settings.batch, self._fetch_timeout)
                except Exception as exc:
                    if self._closed:
                        break
                    log.warning("consumer %s cannot fetch (%r); retrying", consumer, exc)
                    if puller is not None:
                        await puller.stop()
                        puller = None  # re-check the consumer: the server may have lost it
                    await asyncio.sleep(self._reconnect_time_wait)
                    continue
                if not msgs:
                    continue  # idle (or NATS is reconnecting: the next fetch asks again)
                token = held.hold(msgs, arrived)
                running.add(
                    asyncio.create_task(self._process_guarded(consumer, msgs, handle, held, token))
                )
                if len(running) >= self._lanes:
                    _, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
        finally:
            keep_alive.cancel()  # first: what this consumer held comes again after ack_wait
            for task in running:
                task.cancel()
            for task in (*running, keep_alive):
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if puller is not None:
                await puller.stop()

    async def _process_guarded(
        self, consumer: str, msgs: list[Msg], handle: BatchHandler, held: InProgress, token: int
    ) -> None:
        """Handle and settle one batch, kept alive (``+WPI``) by ``held`` meanwhile."""
        try:
            await self._process(consumer, msgs, handle)
        except Exception:  # a bug or an outage while settling: the batch comes again
            held.release(token)  # after ack_wait, not while this one pauses
            log.exception("consumer %s: settling a batch failed", consumer)
            await asyncio.sleep(self._reconnect_time_wait)
        finally:
            held.release(token)

    async def _subscribe(self, consumer: str) -> _Puller:
        js = await self._ready()
        # Create or update: ack_wait and max_ack_pending follow the settings on restart.
        await js.add_consumer(self._js_settings.stream, self._consumer_config(consumer))
        if self._nc is None:
            raise Unavailable("the event log is closed")
        puller = _Puller(self._nc, self._js_settings.stream, consumer)
        await puller.start()
        return puller

    async def _process(self, consumer: str, msgs: list[Msg], handle: BatchHandler) -> None:
        received: list[Received] = []
        handled: list[Msg] = []
        dead: list[_Dead] = []
        max_attempts = self._settings.max_attempts
        for msg in msgs:
            attempt = _deliveries(msg)
            if attempt > 1:
                EVENTS_REDELIVERED.inc()
            try:
                event = decode(msg.data, msg.subject)
            except EventInvalid as exc:
                dead.append(
                    _Dead(msg, f"invalid event: {exc}", attempt, _header(msg, HEADER_MSG_ID))
                )
                continue
            if attempt > max_attempts:
                # Earlier deliveries never got an outcome: the consumer stopped mid-batch or
                # overran ack_wait. The handler had its tries; do not let it loop forever.
                reason = (
                    f"delivered {attempt} times with no outcome for the last "
                    f"{attempt - max_attempts} (consumer stopped or timed out)"
                )
                dead.append(_Dead(msg, reason, attempt, event.id))
                continue
            received.append(Received(event, attempt))
            handled.append(msg)
        if not received:
            if dead:
                await self._dead_letter(dead)
            return

        # Until the outcomes are settled the batch is "in progress" to JetStream: the
        # consume loop's InProgress extends its ack_wait while it is held.
        if dead:  # first: they need no handler and should not wait on it
            await self._dead_letter(dead)
            dead = []
        try:
            results: list[Result] = list(await handle(received))
        except Exception as exc:
            log.exception(
                "consumer %s: handler failed for a batch of %d; retrying it",
                consumer,
                len(received),
            )
            results = [Result(Outcome.RETRY, f"handler raised {exc!r}")] * len(received)
        if len(results) != len(received):
            log.error(
                "consumer %s: handler returned %d results for %d events; retrying the rest",
                consumer,
                len(results),
                len(received),
            )

        sent_error: Exception | None = None
        for index, (msg, item) in enumerate(zip(handled, received, strict=True)):
            result = (
                results[index]
                if index < len(results)
                else Result(Outcome.RETRY, "handler returned no result")
            )
            reason = result.reason or "handler failed"
            try:
                if result.outcome is Outcome.DONE:
                    # Fire-and-forget: the effect is stored; a lost ack is a redelivery the
                    # handler's dedupe absorbs, so no round trip per message.
                    await msg.ack()
                elif result.outcome is Outcome.DEAD:
                    dead.append(_Dead(msg, reason, item.attempt, item.event.id))
                elif item.attempt >= max_attempts:
                    dead.append(
                        _Dead(
                            msg,
                            f"{reason} (after {item.attempt} attempts)",
                            item.attempt,
                            item.event.id,
                        )
                    )
                else:
                    await msg.nak(delay=self._backoff_for(item.attempt))
            except Exception as exc:  # disconnected: the message comes again after ack_wait
                sent_error = sent_error or exc
        if sent_error is not None:
            log.warning("consumer %s: could not settle some messages: %r", consumer, sent_error)
        if dead:
            await self._dead_letter(dead)

    def _backoff_for(self, attempt: int) -> float:
        """The delay after failed attempt ``attempt`` (1-based); the last one repeats."""
        return self._backoff[min(attempt - 1, len(self._backoff) - 1)]

    async def _dead_letter(self, items: list[_Dead]) -> None:
        """Store each dead letter, then terminate the original. One that could not be stored
        is nak'd to come again, so it is never dropped without a trace."""
        await self._ready()
        limit = self._nc.max_payload if self._nc is not None else 1 << 20
        messages = []
        for item in items:
            md = item.msg.metadata
            suffix = item.msg.subject.removeprefix(SUBJECT_PREFIX)
            headers = {
                # A redelivery after a crash between publish and term is stored once.
                HEADER_MSG_ID: f"{md.stream}-{md.sequence.stream}",
                HEADER_REASON: _one_line(item.reason),
                HEADER_ATTEMPTS: str(item.attempt),
                HEADER_ORIGINAL_SUBJECT: item.msg.subject,
                HEADER_ORIGINAL_SEQUENCE: str(md.sequence.stream),
            }
            if item.event_id:
                headers[HEADER_EVENT_ID] = _one_line(item.event_id)
            payload = item.msg.data
            room = limit - _message_size(b"", headers) - 64  # 64: the header we may add
            if len(payload) > room:
                # The headers made an event at the size limit too large to dead-letter;
                # a cut payload beats one that is retried forever.
                headers[HEADER_TRUNCATED] = str(len(payload))
                payload = payload[: max(room, 0)]
            messages.append((DEAD_LETTER_PREFIX + suffix, payload, headers))
        try:
            results = await self._publish_all(messages)
        except KefuError as exc:
            results = [str(exc)] * len(items)
        for item, result in zip(items, results, strict=True):
            try:
                if result is not None:
                    log.warning(
                        "could not dead-letter %s (%r); it will come again",
                        item.event_id or item.msg.subject,
                        result,
                    )
                    await item.msg.nak(delay=self._backoff_for(item.attempt))
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

    # -- readiness and admin ----------------------------------------------------------------

    async def ping(self) -> None:
        """Ready when connected and the events stream exists; raise Unavailable otherwise,
        within ``PING_TIMEOUT_SECONDS`` (a readiness probe must not hang)."""
        try:
            async with asyncio.timeout(PING_TIMEOUT_SECONDS):
                js = await self._ready()
                if self._nc is None or not self._nc.is_connected:
                    raise Unavailable("NATS is not connected (reconnecting)")
                await js.stream_info(self._js_settings.stream)
        except nats.js.errors.NotFoundError as exc:
            raise Unavailable(f"JetStream stream {self._js_settings.stream} is missing") from exc
        except (TimeoutError, nats.errors.Error) as exc:
            raise Unavailable(f"JetStream does not answer: {exc!r}") from exc

    async def dead_letters(self, limit: int = 100, after: int = 0) -> list[DeadLetter]:
        """Up to ``limit`` dead letters with a sequence over ``after``, oldest first.

        One request per message: meant for an admin page and tests, not a hot path.
        """
        js = await self._ready()
        stream = self._js_settings.dead_letter_stream
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
            letters.append(_letter(sequence, raw))
        return letters

    async def dead_letter(self, sequence: int) -> DeadLetter | None:
        js = await self._ready()
        try:
            raw = await js.get_msg(self._js_settings.dead_letter_stream, seq=sequence)
        except nats.js.errors.NotFoundError:
            return None
        if not (raw.subject or "").startswith(DEAD_LETTER_PREFIX):
            return None  # another subject someone routed into the stream: not ours
        return _letter(sequence, raw)

    async def replay_dead_letter(self, sequence: int) -> DeadLetter:
        """Publish the dead letter's payload again on its original subject, then delete
        the letter.

        The message id is new (``<event id>:replay:<sequence>``): the original's id may
        still be inside the duplicate window, where JetStream would drop the replay as a
        repeat. A crash between publish and delete leaves the letter to replay again: the
        same message id inside the window, the consumer's dedupe by event id after it.
        """
        letter = await self._existing(sequence)
        event = replayable(letter)
        await self.append_encoded(
            [(event.subject, f"{event.id}:replay:{sequence}", letter.payload)]
        )
        await self._delete_dead_letter(sequence)
        return letter

    async def discard_dead_letter(self, sequence: int) -> DeadLetter:
        letter = await self._existing(sequence)
        await self._delete_dead_letter(sequence)
        return letter

    async def _existing(self, sequence: int) -> DeadLetter:
        letter = await self.dead_letter(sequence)
        if letter is None:
            raise NotFound(f"no dead letter {sequence}", code="dead_letter_not_found")
        return letter

    async def _delete_dead_letter(self, sequence: int) -> None:
        js = await self._ready()
        try:
            await js.delete_msg(self._js_settings.dead_letter_stream, sequence)
        except nats.js.errors.APIError as exc:
            # Deleted meanwhile (another admin, another node): gone is what was wanted.
            if await self.dead_letter(sequence) is not None:
                raise Unavailable(f"cannot delete dead letter {sequence}: {exc!r}") from exc


def _warn_if_discard_new_is_inexact(nc: NATS) -> None:
    version = nc.connected_server_version
    try:
        found = (version.major, version.minor, version.patch)
    except (TypeError, ValueError):
        return  # not semver: a build of its own, nothing to say
    if found < DISCARD_NEW_EXACT_SINCE:
        log.warning(
            "nats-server %s may delete the oldest event when a stream reaches its byte limit "
            "(nats-io/nats-server#4772, fixed in %s); upgrade, or keep "
            "events.jetstream.stream_max_bytes well above the backlog you expect",
            ".".join(map(str, found)),
            ".".join(map(str, DISCARD_NEW_EXACT_SINCE)),
        )


def _letter(sequence: int, raw: Any) -> DeadLetter:
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


def _header(msg: Msg, name: str) -> str | None:
    return (msg.headers or {}).get(name)


def _one_line(text: str) -> str:
    """A header value: no line breaks (they would end the header), bounded length."""
    flat = " ".join(text.split())
    return flat[:MAX_REASON_CHARS]


def _message_size(payload: bytes, headers: dict[str, str]) -> int:
    """What the server counts against max_payload: the header block plus the payload."""
    header_block = len("NATS/1.0\r\n\r\n") + sum(
        len(k) + len(v.encode()) + 4 for k, v in headers.items()
    )
    return header_block + len(payload)


def _pub_ack_error(msg: Msg) -> str | None:
    """None for a PubAck (stored, or a duplicate already stored), else why not."""
    status = (msg.headers or {}).get(HEADER_STATUS)
    if status == "503":
        return "no JetStream stream answered (no responders)"
    if not msg.data:
        return f"empty reply (status {status})"
    if b'"error"' not in msg.data:  # a PubAck never says "error"; parse only failures
        return None
    try:
        error = json.loads(msg.data)["error"]
        return f"{error.get('err_code')} {error.get('description')} (status {error.get('code')})"
    except (ValueError, KeyError, TypeError, AttributeError):
        return f"unreadable reply {msg.data[:200]!r}"


class _Window:
    """Publishes awaiting their PubAck: at most ``PUBLISH_WINDOW`` (bounded memory and
    a bounded burst on the server), and a wake-up when every one is answered."""

    def __init__(self, total: int) -> None:
        self._total = total
        self._answered = 0
        self._outstanding = 0
        self._room = asyncio.Event()
        self._room.set()
        self._done = asyncio.Event()
        if total == 0:
            self._done.set()

    def sent(self) -> None:
        self._outstanding += 1
        if self._outstanding >= PUBLISH_WINDOW:
            self._room.clear()

    def answered(self) -> None:
        self._answered += 1
        self._outstanding -= 1
        if self._outstanding <= PUBLISH_WINDOW // 2:
            self._room.set()
        if self._answered >= self._total:
            self._done.set()

    async def room(self) -> None:
        await self._room.wait()

    async def all_answered(self) -> None:
        await self._done.wait()


class PullFailed(Exception):
    """The server ended a pull with a problem (the consumer was deleted, no JetStream)."""


def _deliveries(msg: Msg) -> int:
    """How many times JetStream has delivered ``msg``, from its ack subject
    (``$JS.ACK.<stream>.<consumer>.<delivered>.…``): nats-py's ``msg.metadata`` also
    builds sequence pairs and a datetime per message, ~4% of the consumer's CPU here. Any
    other subject form (with a domain) goes through ``metadata``."""
    tokens = (msg.reply or "").split(".")
    if len(tokens) == ACK_V1_TOKENS and tokens[0] == "$JS" and tokens[1] == "ACK":
        return int(tokens[4])
    return int(msg.metadata.num_delivered)


class _Puller:
    """The JetStream pull protocol on one inbox: request ``batch`` messages from
    ``$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>``, collect them in a callback.

    nats-py's ``fetch`` waits for each message with its own timer task, which caps a
    consumer near 20k messages/s; here the fetcher is woken once per batch. First a
    ``no_wait`` request takes what is there; when nothing is, a lingering request for one
    message waits up to ``linger`` seconds, so a trickle is delivered at once and a burst in
    batches. A status message (404 none, 408 expired, 409 problems) ends a request.

    A full batch handed out asks for the next one at once (``no_wait``, not awaited), so
    it arrives while the handler works on this one instead of after it: one batch more
    in flight, well inside ``max_ack_pending`` (4 batches), and kept alive while it waits
    (:meth:`buffered`); unhandled at a stop, it is redelivered like the batch in progress.
    """

    def __init__(self, nc: NATS, stream: str, consumer: str) -> None:
        self._nc = nc
        self._subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._inbox = nc.new_inbox()
        self._sub: Subscription | None = None
        self._buffer: list[Msg] = []
        self._want = 0
        self._wake = asyncio.Event()
        self._problem: str | None = None
        self._prefetching = False  # a request for the next batch is out, not awaited
        self._arrived = 0.0  # monotonic time the oldest buffered message came

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(self._inbox, cb=self._on_msg)

    async def stop(self) -> None:
        """Messages delivered but not handed out go unacknowledged and come again."""
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None

    async def _on_msg(self, msg: Msg) -> None:
        status = msg.headers.get(HEADER_STATUS) if msg.headers else None
        if status is None:
            if not self._buffer:
                self._arrived = time.monotonic()
            self._buffer.append(msg)
            if len(self._buffer) >= self._want:
                self._wake.set()
        elif status != "100":  # 100 is an idle heartbeat
            if status not in ("404", "408"):
                description = (msg.headers or {}).get(HEADER_DESCRIPTION, "")
                self._problem = f"{status} {description}".strip()
            self._wake.set()

    def buffered(self) -> tuple[float, list[Msg]] | None:
        """Messages delivered and not handed out yet, and since when: the consumer keeps
        them alive (``kefu.bus.in_progress``) like the batches it handles."""
        return (self._arrived, list(self._buffer)) if self._buffer else None

    async def fetch(self, batch: int, linger: float) -> tuple[list[Msg], float]:
        """Up to ``batch`` messages and the monotonic time the oldest arrived; an empty
        list after ``linger`` seconds with none."""
        if self._prefetching:
            self._prefetching = False
            with contextlib.suppress(TimeoutError):  # a lost request: asked again below
                async with asyncio.timeout(linger):
                    await self._wake.wait()
        if len(self._buffer) < batch:
            need = batch - len(self._buffer)
            await self._request({"batch": need, "no_wait": True}, batch, linger)
        if not self._buffer and self._problem is None:
            expires = int(linger * 1e9)
            # The client waits a little longer than the server, so the 408 ends it.
            await self._request({"batch": 1, "expires": expires}, 1, linger + 1.0)
        arrived = self._arrived  # the rest, if any, came later: counted from then too
        msgs, self._buffer = self._buffer[:batch], self._buffer[batch:]
        problem, self._problem = self._problem, None
        if not msgs and problem is not None:
            raise PullFailed(problem)
        if len(msgs) == batch and not self._buffer:  # busy: the next batch is wanted too
            self._want = batch
            self._wake.clear()
            self._prefetching = True
            request = {"batch": batch, "no_wait": True}
            await self._nc.publish(self._subject, json.dumps(request).encode(), reply=self._inbox)
        return msgs, arrived

    async def _request(self, request: dict[str, object], want: int, wait: float) -> None:
        self._want = want
        self._wake.clear()
        await self._nc.publish(self._subject, json.dumps(request).encode(), reply=self._inbox)
        with contextlib.suppress(TimeoutError):  # a lost request: the next fetch asks again
            async with asyncio.timeout(wait):
                await self._wake.wait()
