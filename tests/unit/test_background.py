"""kefu.background: loops, spawned tasks and drained children, on a real event loop.

Every wait here is on state (an event a step sets, a task's end); delays a test must not
reach are an hour long, so only the behaviour under test can make it pass. The
``asyncio.wait_for`` bounds are hang guards, never expected to run out.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from kefu.background import Background, every

HOUR = 3600.0
GUARD = 10.0  # a hang guard, not a timing


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "kefu.background" and r.levelno >= logging.ERROR
    ]


async def test_a_failing_step_is_logged_once_with_its_name_and_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = 0
    retried = asyncio.Event()

    async def step() -> float:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ValueError("the store is restarting")
        retried.set()
        return HOUR

    async with Background("test") as background:
        background.loop("kefu-test-loop", step, retry_seconds=0.01)
        await asyncio.wait_for(retried.wait(), GUARD)
    assert calls == 2
    assert _errors(caplog) == ["kefu-test-loop failed; retrying in 0.01 s"]
    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.exc_info is not None and record.exc_info[0] is ValueError


async def test_wake_runs_the_step_at_once() -> None:
    ran = [asyncio.Event(), asyncio.Event()]
    calls = 0

    async def step() -> float:
        nonlocal calls
        ran[min(calls, 1)].set()
        calls += 1
        return HOUR  # only a wake can run it again within the test

    async with Background("test") as background:
        loop = background.loop("kefu-test-loop", step, retry_seconds=HOUR)
        await asyncio.wait_for(ran[0].wait(), GUARD)
        loop.wake()
        await asyncio.wait_for(ran[1].wait(), GUARD)
    assert calls == 2


async def test_a_wake_during_the_step_runs_it_again_after() -> None:
    inside = asyncio.Event()
    gate = asyncio.Event()
    again = asyncio.Event()
    calls = 0

    async def step() -> float:
        nonlocal calls
        calls += 1
        if calls == 1:
            inside.set()
            await gate.wait()
        else:
            again.set()
        return HOUR

    async with Background("test") as background:
        loop = background.loop("kefu-test-loop", step, retry_seconds=HOUR)
        await asyncio.wait_for(inside.wait(), GUARD)
        loop.wake()  # while the first run is still working
        gate.set()
        await asyncio.wait_for(again.wait(), GUARD)
    assert calls == 2


async def test_a_wake_before_the_first_delay_runs_it_at_once() -> None:
    ran = asyncio.Event()

    async def step() -> float:
        ran.set()
        return HOUR

    async with Background("test") as background:
        background.loop("kefu-test-loop", step, retry_seconds=HOUR, first_delay=HOUR).wake()
        await asyncio.wait_for(ran.wait(), GUARD)


async def test_shutdown_cancels_loops_then_drains_children() -> None:
    stepping = asyncio.Event()
    loop_cancelled = asyncio.Event()
    gate = asyncio.Event()
    outcome: list[str] = []

    async def step() -> float:
        stepping.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            loop_cancelled.set()
            raise
        return HOUR

    async def child() -> None:
        try:
            await gate.wait()
            outcome.append("finished")
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise

    background = Background("test")
    await background.__aenter__()
    background.loop("kefu-test-loop", step, retry_seconds=HOUR)
    sends = background.children("kefu-test-sends", limit=4, drain_seconds=HOUR)
    sent = sends.start("kefu-test-send-1", child())
    await asyncio.wait_for(stepping.wait(), GUARD)
    exiting = asyncio.create_task(background.__aexit__(None, None, None))
    await asyncio.wait_for(loop_cancelled.wait(), GUARD)
    assert not sent.done()  # the loop is gone, the child is being waited for
    assert not background.running
    gate.set()
    await asyncio.wait_for(exiting, GUARD)
    assert outcome == ["finished"]
    assert len(sends) == 0


async def test_a_hung_child_is_cancelled_after_the_drain(caplog: pytest.LogCaptureFixture) -> None:
    started = asyncio.Event()
    outcome: list[str] = []

    async def hung() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise

    with caplog.at_level(logging.INFO, logger="kefu.background"):
        async with Background("test") as background:
            sends = background.children("kefu-test-sends", limit=4, drain_seconds=0.01)
            sends.start("kefu-test-send-1", hung())
            await asyncio.wait_for(started.wait(), GUARD)
    assert outcome == ["cancelled"]
    assert "kefu-test-sends: 1 still running after the drain; cancelled" in caplog.messages


async def test_a_crashed_task_is_logged_by_name_and_spares_its_siblings(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ran = [asyncio.Event(), asyncio.Event()]
    calls = 0

    async def step() -> float:
        nonlocal calls
        ran[min(calls, 1)].set()
        calls += 1
        return HOUR

    async def crash() -> None:
        raise KeyError("a bug")

    async with Background("test") as background:
        loop = background.loop("kefu-test-loop", step, retry_seconds=HOUR)
        await asyncio.wait_for(ran[0].wait(), GUARD)
        crashed = background.spawn("kefu-test-crash", crash())
        failed = background.children("kefu-test-sends", limit=1, drain_seconds=HOUR).start(
            "kefu-test-send-7", crash()
        )
        await asyncio.wait_for(asyncio.wait([crashed, failed]), GUARD)
        loop.wake()  # the loop still runs: neither failure cancelled it
        await asyncio.wait_for(ran[1].wait(), GUARD)
    assert _errors(caplog) == ["kefu-test-crash ended with an error", "kefu-test-send-7 failed"]


async def test_a_full_pool_and_a_stopped_supervisor_refuse_work() -> None:
    gate = asyncio.Event()
    async with Background("test") as background:
        sends = background.children("kefu-test-sends", limit=1, drain_seconds=HOUR)
        assert sends.free == 1
        sends.start("kefu-test-send-1", gate.wait())
        assert sends.free == 0
        refused = gate.wait()
        with pytest.raises(RuntimeError, match="1 children running already"):
            sends.start("kefu-test-send-2", refused)
        gate.set()
    with pytest.raises(RuntimeError, match="stopped"):
        background.spawn("kefu-test-late", gate.wait())
    with pytest.raises(RuntimeError, match="not new"):
        await background.__aenter__()


async def test_the_body_s_exception_comes_out_as_it_was() -> None:
    started = asyncio.Event()

    async def step() -> float:
        started.set()
        return HOUR

    with pytest.raises(LookupError, match="not an ExceptionGroup"):
        async with Background("test") as background:
            background.loop("kefu-test-loop", step, retry_seconds=HOUR)
            await asyncio.wait_for(started.wait(), GUARD)
            raise LookupError("not an ExceptionGroup")


async def test_every_beats_again_after_a_failed_beat(caplog: pytest.LogCaptureFixture) -> None:
    beats = 0
    third = asyncio.Event()

    async def beat() -> None:
        nonlocal beats
        beats += 1
        if beats == 2:
            raise OSError("store down")
        if beats == 3:
            third.set()

    async with every(0.01, beat, "kefu-test-heartbeat"):
        await asyncio.wait_for(third.wait(), GUARD)
    assert _errors(caplog) == ["kefu-test-heartbeat failed; retrying in 0.01 s"]
