"""A cancellation a callee swallowed still stops kefu's loops (kefu.cancellation).

nats-py 2.16 catches ``CancelledError`` in ``Client._flush_pending``: a node's shutdown
hung on its JetStream consumer when the cancel landed there. That library state comes
from a race (its flusher gone while a publish flushes) that cannot be caused on demand,
so here the callee does what nats-py does: catch the ``CancelledError`` and return. Each
test would hang without the check; a generous bound turns that into a failure instead
of a stuck suite, and is never reached when the code is right.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from kefu.bus.jetstream.consumer import Backoff, PullConsumer
from kefu.cancellation import raise_if_cancelled
from kefu.events.log import Received, Result
from kefu.events.settings import EventSettings

GUARD_S = 60.0


async def swallowing_call(entered: asyncio.Event) -> None:
    """Waits like a flush on a busy socket and, cancelled, returns as nats-py does. Only
    the first time (a race does not repeat on cue): if the code under test fails, the
    test's own teardown can still cancel what is left, and the suite goes on."""
    first = not entered.is_set()
    entered.set()
    if not first:
        await asyncio.sleep(3600)
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(3600)


async def ended(task: asyncio.Task[Any]) -> None:
    """``task`` ended cancelled. Not ``wait_for``: on its timeout it cancels the task and
    waits for that too, which a task that swallows cancellations never gives it."""
    done, _ = await asyncio.wait({task}, timeout=GUARD_S)
    assert done, "the loop kept running after it was cancelled"
    assert task.cancelled()


async def test_a_loop_ends_when_a_callee_swallowed_its_cancellation() -> None:
    entered = asyncio.Event()
    turns = 0

    async def loop() -> None:
        nonlocal turns
        while True:
            raise_if_cancelled()
            turns += 1
            await swallowing_call(entered)

    task = asyncio.create_task(loop())
    await entered.wait()
    task.cancel()
    await ended(task)
    assert turns == 1


async def test_nothing_is_raised_without_a_cancellation() -> None:
    raise_if_cancelled()  # a running task nobody cancelled
    async with asyncio.timeout(GUARD_S):  # nor inside a timeout that has not fired
        raise_if_cancelled()


class SwallowingPuller:
    """A started puller whose fetch swallows a cancellation, as a publish in it can."""

    def __init__(self) -> None:
        self.fetching = asyncio.Event()
        self.stopped = False

    async def fetch(self, batch: int, linger: float) -> tuple[list[Any], float]:
        await swallowing_call(self.fetching)
        return [], 0.0

    async def stop(self) -> None:
        self.stopped = True

    def buffered(self) -> None:
        return None


async def test_the_jetstream_consumer_stops_when_a_fetch_swallowed_the_cancel() -> None:
    puller = SwallowingPuller()

    async def subscribe() -> Any:
        return puller

    async def handle(batch: list[Received]) -> list[Result]:
        raise AssertionError("nothing is fetched")

    async def dead_letter(items: Any) -> None:
        raise AssertionError("nothing is dead")

    consumer = PullConsumer(
        "kefu",
        handle,
        EventSettings(),
        subscribe=subscribe,
        dead_letter=dead_letter,
        closed=lambda: False,
        backoff=Backoff([1.0]),
        fetch_timeout=1.0,
        retry_wait=1.0,
        lanes=1,
    )
    task = asyncio.create_task(consumer.run())
    await puller.fetching.wait()
    task.cancel()
    await ended(task)
    assert puller.stopped  # its finally ran: the subscription is given back
