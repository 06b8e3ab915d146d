"""Publishing to JetStream with many PubAcks in flight, under one deadline.

nats-py's ``publish_async`` makes a future and parses a PubAck per message, which caps a
process near 25k messages/s. Here the replies come back on one wildcard inbox
(``<inbox>.<index>``) and are only checked for an error, not parsed: about 60k/s, on
the same public client API.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import nats.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from kefu.bus.jetstream.protocol import message_size, pub_ack_error
from kefu.errors import TooLarge, Unavailable

# PubAcks awaited at once by one append: enough to keep the server busy, bounded memory.
PUBLISH_WINDOW = 4096
NO_ACK = "no acknowledgement"  # placeholder until a message's reply comes

Message = tuple[str, bytes, dict[str, str]]
"""One message to publish: subject, payload, headers."""


class _Window:
    """Publishes awaiting their PubAck: at most ``PUBLISH_WINDOW`` (bounded memory and
    a bounded burst on the server), and a wake-up when every one is answered."""

    def __init__(self, total: int) -> None:
        self._total = total
        self._answered = 0
        self._outstanding = 0
        self._room = asyncio.Event()
        self._room.set()
        self._done = asyncio.Event()
        if total == 0:
            self._done.set()

    def sent(self) -> None:
        self._outstanding += 1
        if self._outstanding >= PUBLISH_WINDOW:
            self._room.clear()

    def answered(self) -> None:
        self._answered += 1
        self._outstanding -= 1
        if self._outstanding <= PUBLISH_WINDOW // 2:
            self._room.set()
        if self._answered >= self._total:
            self._done.set()

    async def room(self) -> None:
        await self._room.wait()

    async def all_answered(self) -> None:
        await self._done.wait()


async def publish_all(nc: NATS, messages: Sequence[Message], within: float) -> list[str | None]:
    """Publish with up to ``PUBLISH_WINDOW`` PubAcks in flight, all within ``within`` seconds
    (one deadline for the whole call, not one per message).

    Returns, per message, None when stored or why not. A message over the server's
    ``max_payload`` raises :class:`~kefu.errors.TooLarge` before anything is sent.
    """
    for index, (_, payload, headers) in enumerate(messages):
        size = message_size(payload, headers)
        if size > nc.max_payload:  # refused before anything is sent: nothing half-stored
            raise TooLarge(
                f"message {index} is {size} bytes; the NATS server takes at most {nc.max_payload}"
            )
    total = len(messages)
    errors: list[str | None] = [NO_ACK] * total
    state = _Window(total)
    inbox = nc.new_inbox()

    async def on_reply(msg: Msg) -> None:
        index = int(msg.subject.rpartition(".")[2])
        if errors[index] is NO_ACK:
            errors[index] = pub_ack_error(msg)
            state.answered()

    sub = await nc.subscribe(inbox + ".*", cb=on_reply)
    try:
        async with asyncio.timeout(within):
            for index, (subject, payload, headers) in enumerate(messages):
                await state.room()
                await nc.publish(subject, payload, reply=f"{inbox}.{index}", headers=headers)
                state.sent()
            await state.all_answered()
    except TimeoutError:
        pass  # the unanswered keep NO_ACK
    except nats.errors.Error as exc:
        raise Unavailable(f"cannot publish to JetStream: {exc!r}") from exc
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
    return [f"no acknowledgement within {within:g}s" if e is NO_ACK else e for e in errors]
