"""Closing a nats-py connection in whatever state the broker left it.

A node stops (SIGTERM, a test's teardown) while NATS may be up, down, never reached, or
half-way through a reconnect. nats-py's own calls are not safe in all of those:

- ``drain()`` raises ``ConnectionReconnectingError`` unless connected;
- ``close()`` while reconnecting writes the publishes it buffered during the outage into
  the socket that already died, and uvloop raises ``RuntimeError: unable to perform
  operation on <TCPTransport closed=True …>`` (asyncio's loop raises or logs an
  ``OSError``). That exception escaped kefu's shutdown as a traceback.

What was buffered while disconnected cannot be delivered by a process that is stopping:
every such publish is either retried by its owner after a restart (the outbox keeps an
event until JetStream acknowledged it; an unacknowledged delivery comes again after
``ack_wait``) or best-effort by design (live frames, recovered with ``resume``). So here
a failed drain falls back to a close, and a failed close is logged, never raised.
"""

from __future__ import annotations

import asyncio
import logging

from nats.aio.client import Client as NATS

log = logging.getLogger(__name__)


async def close_quietly(nc: NATS, *, what: str, drain_timeout: float | None) -> None:
    """Close ``nc``: drained (what is buffered is sent, subscriptions finish the messages
    they hold) when connected, closed otherwise; never raises an ``Exception``.

    ``what`` names the connection in the log (``"event log"``, ``"cluster"``);
    ``drain_timeout`` bounds the drain, after which the connection is closed anyway;
    None closes at once (a connection given up on while it was being set up).
    """
    if nc.is_closed:
        return
    if drain_timeout is not None and nc.is_connected and not nc.is_draining:
        try:
            async with asyncio.timeout(drain_timeout):
                await nc.drain()
        except Exception as exc:  # the broker went away mid-drain, or it took too long
            log.warning("%s: NATS drain did not finish (%r); closing", what, exc)
        else:
            return
    if nc.is_closed:
        return
    try:
        await nc.close()
    except Exception as exc:
        # Publishes buffered during an outage meet a dead socket; they are lost here by
        # design (module docstring). The connection is closed all the same.
        log.info("%s: NATS connection closed with unsent data dropped (%r)", what, exc)
