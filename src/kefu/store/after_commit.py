"""Work that must wait until a transaction has committed: live frames ("publish after
commit"), so a console never shows a change that then rolled back.

The owner of a transaction wraps it in ``deferred()``; code deep inside it (a service
given the caller's connection) calls ``after_commit(callback)``. The callbacks run, in
order, when the block exits cleanly, i.e. after the ``async with db.begin()`` inside it
committed; an exception drops them with the transaction.

Task-local (a ContextVar), like ``kefu.events.outbox.collecting``: concurrent
transactions in other tasks never see each other's callbacks.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from contextvars import ContextVar

log = logging.getLogger(__name__)

_pending: ContextVar[list[Callable[[], None]] | None] = ContextVar(
    "kefu_after_commit", default=None
)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold ``after_commit`` callbacks until this block ends without an exception."""
    found: list[Callable[[], None]] = []
    token = _pending.set(found)
    try:
        yield
    finally:
        _pending.reset(token)
    for callback in found:
        try:
            callback()
        except Exception:  # the change is committed: a failed notification is only logged
            log.exception("after-commit callback failed")


def after_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` once the enclosing ``deferred()`` block's transaction committed.

    Outside any such block it runs at once: a caller that hands a service its own
    transaction without deferring gets the notifications before its commit, not never.
    """
    pending = _pending.get()
    if pending is None:
        callback()
    else:
        pending.append(callback)
