"""Work deferred until a transaction commits (kefu.store.after_commit)."""

from __future__ import annotations

import asyncio

import pytest

from kefu.store.after_commit import after_commit, deferred


def test_callbacks_wait_for_a_clean_exit_and_run_in_order() -> None:
    ran: list[int] = []
    with deferred():
        after_commit(lambda: ran.append(1))
        after_commit(lambda: ran.append(2))
        assert ran == []  # the transaction inside has not committed yet
    assert ran == [1, 2]


def test_an_exception_drops_them_with_the_transaction() -> None:
    ran: list[int] = []
    with pytest.raises(RuntimeError), deferred():
        after_commit(lambda: ran.append(1))
        raise RuntimeError("rolled back")
    assert ran == []
    with deferred():  # and nothing is left over for the next one
        pass
    assert ran == []


def test_outside_a_scope_they_run_at_once_and_a_failing_one_does_not_stop_the_rest() -> None:
    ran: list[str] = []
    after_commit(lambda: ran.append("now"))
    assert ran == ["now"]

    def boom() -> None:
        raise ValueError("a socket went away")

    with deferred():
        after_commit(boom)
        after_commit(lambda: ran.append("still"))
    assert ran == ["now", "still"]


async def test_concurrent_tasks_keep_their_own_callbacks() -> None:
    ran: list[str] = []
    release = asyncio.Event()

    async def failing() -> None:
        with pytest.raises(RuntimeError), deferred():
            after_commit(lambda: ran.append("failed"))
            await release.wait()
            raise RuntimeError

    async def committing() -> None:
        with deferred():
            after_commit(lambda: ran.append("committed"))
            release.set()
            await asyncio.sleep(0)

    await asyncio.gather(failing(), committing())
    assert ran == ["committed"]
