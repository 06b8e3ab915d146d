"""In-progress acknowledgements: what a live consumer holds is never redelivered.

JetStream redelivers a message nobody settled within the consumer's ``ack_wait``. That one
number decides two things that pull in opposite directions: how long the events a crashed
node held wait before another node gets them (crash recovery), and how long a healthy node
may hold a batch before it is handed out a second time. kefu takes a short ``ack_wait``
(5 s by default: a crash costs at most that) and lets a live consumer say "still working"
(``+WPI``, which restarts the message's ``ack_wait``) for everything it holds while it
holds it: the batches in the handler, and those fetched ahead and still waiting their
turn (``kefu.bus.jetstream.pull.Puller`` asks for the next batch while one is handled). A
killed process sends nothing more, so its messages come again within ``ack_wait``.

Only messages held a while are extended: a batch settled within a quarter of ``ack_wait``
(every batch, at ordinary speeds) costs no extra message.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable, Sequence

from nats.aio.msg import Msg

from kefu.cancellation import raise_if_cancelled

log = logging.getLogger(__name__)

# Ticks per ack_wait, and a message is extended once held one tick. A message delivered
# just after a tick gets its first +WPI at most two ticks later, half of ack_wait: the
# other half is margin for a busy event loop and the trip to the server; after that it is
# extended every tick (a quarter of ack_wait), so one lost +WPI is harmless too.
TICKS_PER_ACK_WAIT = 4

Buffered = Callable[[], tuple[float, Sequence[Msg]] | None]
"""Messages delivered but not yet handed out, and since when (monotonic), or None."""


class InProgress:
    """The messages one consumer holds unsettled, grouped as they were taken, each group
    with the monotonic time it arrived; :meth:`run` keeps them alive."""

    def __init__(self, ack_wait: float) -> None:
        self._tick = ack_wait / TICKS_PER_ACK_WAIT
        self._held: dict[int, tuple[float, Sequence[Msg]]] = {}
        self._tokens = itertools.count()
        self._failing = False

    def hold(self, msgs: Sequence[Msg], since: float) -> int:
        """Keep ``msgs`` (arrived at ``since``) alive until :meth:`release` of the token."""
        token = next(self._tokens)
        self._held[token] = (since, msgs)
        return token

    def release(self, token: int) -> None:
        self._held.pop(token, None)

    async def run(self, buffered: Buffered) -> None:
        """Every tick, +WPI for each message held at least a tick; until cancelled."""
        while True:
            raise_if_cancelled()  # a +WPI's publish swallowed it (kefu.cancellation)
            await asyncio.sleep(self._tick)
            due = time.monotonic() - self._tick
            groups = list(self._held.values())
            waiting = buffered()
            if waiting is not None:
                groups.append(waiting)
            try:
                for since, msgs in groups:
                    if since <= due:
                        for msg in msgs:
                            await msg.in_progress()
            except Exception as exc:  # disconnected: the consume loop says so already
                if not self._failing:
                    log.warning("could not extend ack_wait of messages in progress: %r", exc)
                self._failing = True
            else:
                self._failing = False
