"""One socket's outbound side: a bounded queue drained by a writer task.

Slow-consumer policy: a socket that lets ``send_queue_frames`` frames pile up (it stopped
reading, or its network cannot keep up) is closed with code 4008 and counted. Nothing is
lost: every message is stored before it is sent, and the client's reconnect + ``resume``
fetches what it missed. Dropping frames silently instead would leave gaps the client cannot
see; blocking the sender would let one bad client stall a whole conversation.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections import deque

from aiohttp import WSMsgType, web

from kefu.chat.principal import Principal
from kefu.observability import metrics

log = logging.getLogger(__name__)

CLOSE_SLOW_CONSUMER = 4008
CLOSE_UNAUTHORIZED = 4401


class SocketState(enum.Enum):
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


class Connection:
    """Outbound frames for one socket.

    The writer task exists only while frames are waiting: an idle socket costs a deque and
    this object, not a parked task (tens of thousands of idle sockets per process).
    """

    __slots__ = ("_held", "_limit", "_queue", "_room", "_writer", "principal", "state", "ws")

    def __init__(self, ws: web.WebSocketResponse, principal: Principal, queue_frames: int) -> None:
        self.ws = ws
        self.principal = principal
        self.state = SocketState.OPEN
        self._limit = queue_frames
        self._queue: deque[bytes] = deque()
        self._writer: asyncio.Task[None] | None = None
        self._room: asyncio.Event | None = None
        self._held: dict[str, list[tuple[int | None, bytes]]] | None = None

    def send(
        self, frame: bytes, conversation_id: str | None = None, message_id: int | None = None
    ) -> None:
        """Queue ``frame`` (already encoded, shared across sockets); never blocks."""
        if self.state is not SocketState.OPEN:
            return
        if self._held is not None and conversation_id in self._held:
            self._held[conversation_id].append((message_id, frame))
            return
        if len(self._queue) >= self._limit:
            metrics.SLOW_CONSUMERS.inc()
            log.info("closing slow consumer %s", self.principal.key)
            self.state = SocketState.CLOSING
            task = asyncio.create_task(self.ws.close(code=CLOSE_SLOW_CONSUMER, message=b"slow"))
            task.add_done_callback(_ignore)
            return
        self._queue.append(frame)
        if self._writer is None:
            self._writer = asyncio.create_task(self._drain())

    def hold(self, conversation_id: str) -> None:
        """Keep live frames of ``conversation_id`` back while its history is replayed, so
        the client sees every message exactly once and in id order."""
        if self._held is None:
            self._held = {}
        self._held.setdefault(conversation_id, [])

    def release(self, conversation_id: str, replayed_up_to: int) -> None:
        """Send what was held, minus messages the replay already delivered."""
        if self._held is None:
            return
        held = self._held.pop(conversation_id, [])
        if not self._held:
            self._held = None
        for message_id, frame in held:
            if message_id is None or message_id > replayed_up_to:
                self.send(frame)

    async def send_in_order(self, frame: bytes) -> None:
        """Queue ``frame``, waiting for room: for bulk replays the client asked for."""
        while self.state is SocketState.OPEN and len(self._queue) >= self._limit // 2:
            if self._room is None:
                self._room = asyncio.Event()
            self._room.clear()
            await self._room.wait()
        self.send(frame)

    async def _drain(self) -> None:
        queue = self._queue
        ws = self.ws
        try:
            while queue:
                await ws.send_frame(queue.popleft(), WSMsgType.TEXT)
                metrics.FRAMES_OUT.inc()
                if self._room is not None and len(queue) < self._limit // 2:
                    self._room.set()
        except (ConnectionError, RuntimeError):
            self.state = SocketState.CLOSING  # peer went away; the reader side cleans up
            queue.clear()
        finally:
            self._writer = None
            if self._room is not None:
                self._room.set()

    async def close(self) -> None:
        self.state = SocketState.CLOSED
        if self._room is not None:
            self._room.set()
        writer = self._writer
        if writer is not None:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer


def _ignore(task: asyncio.Task[bool]) -> None:
    if not task.cancelled():
        task.exception()
