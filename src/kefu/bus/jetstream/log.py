"""The event log on NATS JetStream: the connection, and the port's methods composed from
the package's parts (streams, publish, pull, consumer, dead letters)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Self

import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from kefu.bus.jetstream import dead_letters
from kefu.bus.jetstream.consumer import Backoff, PullConsumer, consumer_config
from kefu.bus.jetstream.dead_letters import Dead
from kefu.bus.jetstream.protocol import HEADER_MSG_ID, STREAM_FULL
from kefu.bus.jetstream.publish import Message, publish_all
from kefu.bus.jetstream.pull import Puller
from kefu.bus.jetstream.streams import Streams, warn_if_discard_new_is_inexact
from kefu.bus.nats_close import close_quietly
from kefu.domain.envelope import Event, encode
from kefu.errors import KefuError, NotFound, Unavailable
from kefu.events.dead_letters import DeadLetter, replayable
from kefu.events.log import BatchHandler
from kefu.events.settings import EventSettings

log = logging.getLogger(__name__)

PING_TIMEOUT_SECONDS = 2.0


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
        self._backoff = Backoff(settings.jetstream.backoff_seconds)
        self._nc: NATS | None = None
        self._js: JetStreamContext | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        self._failed: tuple[float, str] | None = None  # the last failed connect: when, why
        self._tasks: set[asyncio.Task[None]] = set()
        self._streams = Streams(settings.jetstream)

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
                        # nats-py's own bound on opening the socket is 2 s: on a busy host
                        # that failed the first connect well inside ours.
                        # (annotated int in nats-py, used as seconds for asyncio.wait_for)
                        connect_timeout=self._connect_timeout,  # type: ignore[arg-type]
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
                await self._streams.ensure(js, first=True)
                warn_if_discard_new_is_inexact(nc)
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
            task = asyncio.create_task(self._streams.ensure_logged(self._js))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _on_closed(self) -> None:
        log.info("NATS connection to %s closed", self._url)

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
            await self._streams.make_room(self._js)  # the caller's retry may then fit
        if failures:
            raise Unavailable(
                f"JetStream stored {len(events) - len(failures)} of {len(events)} events; "
                f"first failure: {failures[0]}"
            )

    async def _publish_all(self, messages: Sequence[Message]) -> list[str | None]:
        """Per message, None when stored or why not (:func:`publish.publish_all`)."""
        nc = self._nc
        if nc is None:
            raise Unavailable("the event log is closed")
        return await publish_all(nc, messages, self._publish_timeout)

    # -- consume --------------------------------------------------------------------------

    async def consume(self, consumer: str, handle: BatchHandler) -> None:
        """Deliver batches to ``handle`` under the durable pull consumer ``consumer`` until
        cancelled (or the log is closed).

        Outages are waited out: errors from NATS are logged and the loop tries again. A
        cancellation mid-batch acknowledges nothing more, so the unsettled messages come
        again after ``ack_wait``.
        """
        loop = PullConsumer(
            consumer,
            handle,
            self._settings,
            subscribe=lambda: self._subscribe(consumer),
            dead_letter=self._dead_letter,
            closed=lambda: self._closed,
            backoff=self._backoff,
            fetch_timeout=self._fetch_timeout,
            retry_wait=self._reconnect_time_wait,
            lanes=self._lanes,
        )
        await loop.run()

    async def _subscribe(self, consumer: str) -> Puller:
        js = await self._ready()
        # Create or update: ack_wait and max_ack_pending follow the settings on restart.
        await js.add_consumer(self._js_settings.stream, consumer_config(consumer, self._settings))
        if self._nc is None:
            raise Unavailable("the event log is closed")
        puller = Puller(self._nc, self._js_settings.stream, consumer)
        await puller.start()
        return puller

    async def _dead_letter(self, items: list[Dead]) -> None:
        """Store each dead letter, then terminate the original. One that could not be stored
        is nak'd to come again, so it is never dropped without a trace."""
        await self._ready()
        limit = self._nc.max_payload if self._nc is not None else 1 << 20
        messages = dead_letters.messages_for(items, limit)
        try:
            results = await self._publish_all(messages)
        except KefuError as exc:
            results = [str(exc)] * len(items)
        await dead_letters.settle(items, results, self._backoff.after)

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
        return await dead_letters.read_many(js, self._js_settings.dead_letter_stream, limit, after)

    async def dead_letter(self, sequence: int) -> DeadLetter | None:
        js = await self._ready()
        return await dead_letters.read_one(js, self._js_settings.dead_letter_stream, sequence)

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
