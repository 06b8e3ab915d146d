"""A cancellation that a library swallowed, made to count again.

nats-py (2.16) catches ``asyncio.CancelledError`` in ``Client._flush_pending``, which
every publish may call (and in ``drain``): a task cancelled while one of its publishes
waits there keeps running, its cancellation still counted (``Task.cancelling()``). A loop
that runs until cancelled then never ends, and whoever awaits it waits forever: a node's
shutdown hung on its JetStream consumer that way (seen in a test's teardown, 2026-12-07).
So every kefu loop that calls nats-py checks once a turn, where no ``asyncio.timeout``
of its own is pending.
"""

from __future__ import annotations

import asyncio


def raise_if_cancelled() -> None:
    """Raise ``CancelledError`` when the running task was asked to stop and a callee
    swallowed the request."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
