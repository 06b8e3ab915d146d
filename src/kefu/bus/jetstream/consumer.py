"""Consuming the event log: a durable pull consumer handing batches to a handler.

The consumer asks for ``batch`` messages when it is ready for them, so a slow handler is
back-pressure, never an overflowing buffer. A message is acknowledged only after the
handler says its effect is stored (``DONE``); a lost ack or a crash mid-batch means a
redelivery after ``ack_wait``, which the handler's dedupe by event id absorbs:
effectively-once. Everything held (in the handler or fetched ahead) is kept alive with
in-progress acks (:mod:`kefu.bus.in_progress`).

**Retries are counted here, not by the server.** JetStream's ``max_deliver`` drops a
message silently once reached (only an advisory says so), and the consumer ``backoff``
list overrides ``ack_wait`` with its first delay (a 1 s backoff would redeliver every batch
that takes over 1 s). So the consumer has unlimited deliveries and a fixed ``ack_wait``; a
``RETRY`` is a ``nak`` with this attempt's backoff delay, and the last allowed attempt (or
a delivery past it, after crashes) goes to the dead-letter stream with its reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Sequence

from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, ReplayPolicy

from kefu.bus.in_progress import InProgress
from kefu.bus.jetstream.dead_letters import Dead
from kefu.bus.jetstream.protocol import EVENTS_SUBJECTS, HEADER_MSG_ID, deliveries, header
from kefu.bus.jetstream.pull import Puller
from kefu.cancellation import raise_if_cancelled
from kefu.domain.envelope import EventInvalid, decode
from kefu.events.log import BatchHandler, Outcome, Received, Result
from kefu.events.settings import EventSettings
from kefu.observability.metrics import EVENTS_REDELIVERED

log = logging.getLogger(__name__)

# Durable names become subject tokens: no dots, wildcards or whitespace.
CONSUMER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Delivered-but-unsettled messages per consumer, retries waiting out their backoff
# included. Several nodes fetch ``batch`` each; when everything is failing, the consumer
# stops taking new events at this bound instead of piling up redeliveries.
MIN_MAX_ACK_PENDING = 10_000


class Backoff:
    """The delay after a failed attempt, from ``events.jetstream.backoff_seconds``."""

    def __init__(self, delays: Sequence[float]) -> None:
        self._delays = list(delays) or [1.0]

    def after(self, attempt: int) -> float:
        """The delay after failed attempt ``attempt`` (1-based); the last one repeats."""
        return self._delays[min(attempt - 1, len(self._delays) - 1)]


def consumer_config(name: str, settings: EventSettings) -> ConsumerConfig:
    """The durable consumer ``name``, created or updated at each start (``ack_wait`` and
    ``max_ack_pending`` follow the settings)."""
    return ConsumerConfig(
        durable_name=name,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=settings.jetstream.ack_wait_seconds,
        # Unlimited on the server: attempts are counted here so that none is dropped
        # silently (see the module docstring). No server ``backoff`` for the same reason.
        max_deliver=-1,
        filter_subject=EVENTS_SUBJECTS,
        replay_policy=ReplayPolicy.INSTANT,
        max_ack_pending=max(MIN_MAX_ACK_PENDING, 4 * settings.batch),
    )


class PullConsumer:
    """One consumer's loop: fetch, hand to ``handle`` on up to ``lanes`` batches at once,
    settle each message by its outcome. The event log supplies the connection parts:
    ``subscribe`` (a started :class:`Puller`), ``dead_letter`` and ``closed``."""

    def __init__(
        self,
        name: str,
        handle: BatchHandler,
        settings: EventSettings,
        *,
        subscribe: Callable[[], Awaitable[Puller]],
        dead_letter: Callable[[list[Dead]], Awaitable[None]],
        closed: Callable[[], bool],
        backoff: Backoff,
        fetch_timeout: float,
        retry_wait: float,
        lanes: int,
    ) -> None:
        if not CONSUMER_NAME.match(name):
            raise ValueError(f"consumer name {name!r} must be 1-64 letters, digits, _ or -")
        self._name = name
        self._handle = handle
        self._settings = settings
        self._subscribe = subscribe
        self._dead_letter = dead_letter
        self._closed = closed
        self._backoff = backoff
        self._fetch_timeout = fetch_timeout
        self._retry_wait = retry_wait
        self._lanes = lanes

    async def run(self) -> None:
        """Until cancelled or closed; see :meth:`JetStreamEventLog.consume`."""
        puller: Puller | None = None
        running: set[asyncio.Task[None]] = set()
        held = InProgress(self._settings.jetstream.ack_wait_seconds)
        keep_alive = asyncio.create_task(held.run(lambda: puller.buffered() if puller else None))
        try:
            while not self._closed():
                raise_if_cancelled()  # one nats-py swallowed (kefu.cancellation)
                try:
                    if puller is None:
                        puller = await self._subscribe()
                    msgs, arrived = await puller.fetch(self._settings.batch, self._fetch_timeout)
                except Exception as exc:
                    if self._closed():
                        break
                    log.warning("consumer %s cannot fetch (%r); retrying", self._name, exc)
                    if puller is not None:
                        await puller.stop()
                        puller = None  # re-check the consumer: the server may have lost it
                    await asyncio.sleep(self._retry_wait)
                    continue
                if not msgs:
                    continue  # idle (or NATS is reconnecting: the next fetch asks again)
                token = held.hold(msgs, arrived)
                running.add(asyncio.create_task(self._process_guarded(msgs, held, token)))
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

    async def _process_guarded(self, msgs: list[Msg], held: InProgress, token: int) -> None:
        """Handle and settle one batch, kept alive (``+WPI``) by ``held`` meanwhile."""
        try:
            await self._process(msgs)
        except Exception:  # a bug or an outage while settling: the batch comes again
            held.release(token)  # after ack_wait, not while this one pauses
            log.exception("consumer %s: settling a batch failed", self._name)
            await asyncio.sleep(self._retry_wait)
        finally:
            held.release(token)

    async def _process(self, msgs: list[Msg]) -> None:
        received: list[Received] = []
        handled: list[Msg] = []
        dead: list[Dead] = []
        max_attempts = self._settings.max_attempts
        for msg in msgs:
            attempt = deliveries(msg)
            if attempt > 1:
                EVENTS_REDELIVERED.inc()
            try:
                event = decode(msg.data, msg.subject)
            except EventInvalid as exc:
                dead.append(Dead(msg, f"invalid event: {exc}", attempt, header(msg, HEADER_MSG_ID)))
                continue
            if attempt > max_attempts:
                # Earlier deliveries never got an outcome: the consumer stopped mid-batch or
                # overran ack_wait. The handler had its tries; do not let it loop forever.
                reason = (
                    f"delivered {attempt} times with no outcome for the last "
                    f"{attempt - max_attempts} (consumer stopped or timed out)"
                )
                dead.append(Dead(msg, reason, attempt, event.id))
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
            results: list[Result] = list(await self._handle(received))
        except Exception as exc:
            log.exception(
                "consumer %s: handler failed for a batch of %d; retrying it",
                self._name,
                len(received),
            )
            results = [Result(Outcome.RETRY, f"handler raised {exc!r}")] * len(received)
        if len(results) != len(received):
            log.error(
                "consumer %s: handler returned %d results for %d events; retrying the rest",
                self._name,
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
                    dead.append(Dead(msg, reason, item.attempt, item.event.id))
                elif item.attempt >= max_attempts:
                    dead.append(
                        Dead(
                            msg,
                            f"{reason} (after {item.attempt} attempts)",
                            item.attempt,
                            item.event.id,
                        )
                    )
                else:
                    await msg.nak(delay=self._backoff.after(item.attempt))
            except Exception as exc:  # disconnected: the message comes again after ack_wait
                sent_error = sent_error or exc
        if sent_error is not None:
            log.warning("consumer %s: could not settle some messages: %r", self._name, sent_error)
        if dead:
            await self._dead_letter(dead)
