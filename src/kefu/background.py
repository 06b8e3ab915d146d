"""Background work: the tasks a part runs behind its API, owned by one supervisor.

A part that works in the background (the mail and webhook senders, the SLA watcher, the
saga engine, the node's periodic chores) enters a :class:`Background` and starts its tasks
there instead of calling ``asyncio.create_task`` and writing the same loop, crash log and
shutdown again. The supervisor is an async context manager over an ``asyncio.TaskGroup``,
entered by its part, which ``kefu.bootstrap`` enters in dependency order: each part's tasks
stop before what they use closes, as they did when each part kept its own.

Three kinds of task, all named (a crash log or a task dump says which):

- :meth:`Background.loop`: "run ``step()``; it returns the delay until the next run".
  :meth:`Loop.wake` runs it now; a failing step is logged once with the loop's name and
  retried after ``retry_seconds``; it never ends the node.
- :meth:`Background.spawn`: a long-running coroutine; if it fails it is logged with its
  name and not restarted (the coroutine owns its own retries).
- :meth:`Background.children`: bounded fire-and-forget work (one mail, one webhook POST):
  on exit the children get ``drain_seconds`` to finish, then the late are cancelled.

On exit, in order: loops and spawned tasks are cancelled and awaited, children are
drained, the TaskGroup closes. A task never raises into the group (failures are logged),
so one part's bug cannot cancel its siblings or surface at shutdown as an ExceptionGroup.
Logs carry task names only, never what a task was working on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any

log = logging.getLogger(__name__)

Step = Callable[[], Awaitable[float]]


class Background:
    """The supervisor: an ``asyncio.TaskGroup`` whose tasks never fail into it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._group = asyncio.TaskGroup()
        self._long: set[asyncio.Task[None]] = set()  # loops and spawned: cancelled on exit
        self._pools: list[Children] = []
        self._state = "new"

    async def __aenter__(self) -> Background:
        if self._state != "new":
            raise RuntimeError(f"background {self.name!r} is {self._state}, not new")
        await self._group.__aenter__()
        self._state = "running"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._state != "running":
            return
        self._state = "stopping"
        try:
            long = list(self._long)
            for task in long:
                task.cancel()
            await asyncio.gather(*long, return_exceptions=True)
            for pool in self._pools:
                await pool.drain()
        finally:
            self._state = "stopped"
            # Whatever is left (the drain itself was cancelled): cancelled, then awaited by
            # the group. Never the body's exception: the group would wrap it in an
            # ExceptionGroup and the node's callers would see a different error.
            for pool in self._pools:
                pool.cancel_all()
            for task in self._long:
                task.cancel()
            await self._group.__aexit__(None, None, None)

    @property
    def running(self) -> bool:
        """True between entering and the start of exiting: new work is accepted."""
        return self._state == "running"

    def spawn(self, name: str, coroutine: Coroutine[Any, Any, object]) -> asyncio.Task[None]:
        """Run ``coroutine`` until it returns or the supervisor exits."""
        task = self._create(name, coroutine, "ended with an error")
        self._long.add(task)
        task.add_done_callback(self._long.discard)
        return task

    def loop(
        self, name: str, step: Step, *, retry_seconds: float, first_delay: float = 0.0
    ) -> Loop:
        """Run ``step`` after ``first_delay`` and again after each delay it returns."""
        runner = Loop(name, step, retry_seconds=retry_seconds, first_delay=first_delay)
        self.spawn(name, runner.run())
        return runner

    def every(
        self, name: str, seconds: float, beat: Callable[[], Awaitable[object]], *, now: bool = False
    ) -> Loop:
        """Run ``beat`` every ``seconds`` (first at once with ``now``, else after one
        period); a failed beat is retried at the next."""

        async def step() -> float:
            await beat()
            return seconds

        return self.loop(name, step, retry_seconds=seconds, first_delay=0.0 if now else seconds)

    def children(self, name: str, *, limit: int | None, drain_seconds: float) -> Children:
        """A pool of at most ``limit`` children (None: unbounded; its owner bounds it)
        given ``drain_seconds`` to finish on exit."""
        pool = Children(self, name, limit=limit, drain_seconds=drain_seconds)
        self._pools.append(pool)
        return pool

    def _create(
        self, name: str, coroutine: Coroutine[Any, Any, object], failed: str
    ) -> asyncio.Task[None]:
        if self._state != "running":
            coroutine.close()  # never awaited otherwise: no "never awaited" warning
            raise RuntimeError(f"background {self.name!r} is {self._state}: {name} not started")
        return self._group.create_task(_guarded(name, coroutine, failed), name=name)


async def _guarded(name: str, coroutine: Coroutine[Any, Any, object], failed: str) -> None:
    try:
        await coroutine
    except Exception:
        log.exception("%s %s", name, failed)


class Loop:
    """A periodic step that can be woken; created by :meth:`Background.loop`."""

    def __init__(
        self, name: str, step: Step, *, retry_seconds: float, first_delay: float = 0.0
    ) -> None:
        self.name = name
        self._step = step
        self._retry = retry_seconds
        self._first_delay = first_delay
        self._woken = False
        self._waiter: asyncio.Future[None] | None = None

    def wake(self) -> None:
        """Run the step now (or, if it is running, once more as soon as it returns)."""
        self._woken = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def run(self) -> None:
        delay = self._first_delay
        while True:
            if delay > 0:
                await self._pause(delay)
            self._woken = False
            try:
                delay = await self._step()
            except Exception:
                log.exception("%s failed; retrying in %.3g s", self.name, self._retry)
                delay = self._retry

    async def _pause(self, delay: float) -> None:
        """Sleep ``delay`` unless woken: a timer and a future, like ``asyncio.sleep``
        (no extra task per wait, so a loop-lag probe measures the loop, not this)."""
        if self._woken:
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        timer = loop.call_later(delay, _release, waiter)
        self._waiter = waiter
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None


def _release(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Children:
    """Fire-and-forget tasks of one kind, at most ``limit`` at a time, drained on exit."""

    def __init__(
        self, owner: Background, name: str, *, limit: int | None, drain_seconds: float
    ) -> None:
        self.name = name
        self._owner = owner
        self._limit = limit
        self._drain_seconds = drain_seconds
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    @property
    def free(self) -> int:
        """How many more may start now (a large number when unbounded)."""
        if self._limit is None:
            return 1 << 30
        return self._limit - len(self._tasks)

    def start(self, name: str, coroutine: Coroutine[Any, Any, object]) -> asyncio.Task[None]:
        """Start a child; ``RuntimeError`` when the pool is full or its owner stopping."""
        if self.free <= 0:
            coroutine.close()
            raise RuntimeError(f"{self.name}: {self._limit} children running already")
        task = self._owner._create(name, coroutine, "failed")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self) -> None:
        """Wait up to ``drain_seconds`` for the children, then cancel the late ones."""
        if not self._tasks:
            return
        late = set(self._tasks)
        if self._drain_seconds > 0:
            _, late = await asyncio.wait(late, timeout=self._drain_seconds)
        if late:
            log.info("%s: %d still running after the drain; cancelled", self.name, len(late))
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    def cancel_all(self) -> None:
        for task in self._tasks:
            task.cancel()


@contextlib.asynccontextmanager
async def every(
    seconds: float, beat: Callable[[], Awaitable[object]], what: str
) -> AsyncIterator[Loop]:
    """Run ``beat`` every ``seconds`` (first after one period) while the block runs; a
    failing beat is logged and the next one tries again (the store may be restarting)."""
    async with Background(what) as background:
        yield background.every(what, seconds, beat)
