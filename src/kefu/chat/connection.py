"""One socket's outbound side: frames queued in a loop iteration leave in one write.

``send`` never blocks: it appends to a deque and schedules one flush for the end of the
current loop iteration, which encodes everything queued into a single buffer and writes it
(see ``wsframe``). No task per socket, and one syscall however many frames a message fans
out to this socket.

Slow-consumer policy: a socket whose unsent bytes (transport buffer) exceed
``send_buffer_bytes`` — it stopped reading, or its network cannot keep up — is closed with
code 4008 and counted. Nothing is lost: every message is stored before it is sent, and the
client's reconnect + ``resume`` fetches what it missed. Dropping frames silently instead
would leave gaps the client cannot see; blocking the sender would let one bad client stall
a whole conversation.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from typing import Protocol

from aiohttp import web

from kefu.auth.principal import Principal
from kefu.chat.wsframe import text_frames
from kefu.observability import metrics

log = logging.getLogger(__name__)

CLOSE_SLOW_CONSUMER = 4008
CLOSE_UNAUTHORIZED = 4401
# How often a paced replay re-checks the transport: short against a human's patience.
REPLAY_PACING_SECONDS = 0.01


class WriteTransport(Protocol):
    """What a connection needs of its transport (asyncio's and uvloop's both qualify;
    uvloop's does not subclass ``asyncio.Transport``)."""

    def write(self, data: bytes) -> None: ...

    def is_closing(self) -> bool: ...

    def get_write_buffer_size(self) -> int: ...


class SocketState(enum.Enum):
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


class Connection:
    __slots__ = (
        "_first_live",
        "_flush_scheduled",
        "_held",
        "_limit",
        "_loop",
        "_queue",
        "_replay_floor",
        "_transport",
        "principal",
        "state",
        "ws",
    )

    def __init__(
        self,
        ws: web.WebSocketResponse,
        transport: WriteTransport,
        principal: Principal,
        buffer_bytes: int,
    ) -> None:
        """``transport`` is the upgraded request's: frames are written to it directly."""
        self.ws = ws
        self._transport = transport
        # Cached: asyncio.get_running_loop() costs a getpid() syscall per call on 3.11.
        self._loop = asyncio.get_running_loop()
        self.principal = principal
        self.state = SocketState.OPEN
        self._limit = buffer_bytes
        self._queue: list[bytes] = []
        # Paused until ``start``: nothing may reach the wire before the 101 handshake.
        self._flush_scheduled = True
        self._held: dict[str, list[tuple[int | None, bytes]]] | None = None
        # Per conversation: the first message id this socket received live (everything
        # from there on reached it live: messages are broadcast in commit order), and the
        # last id a replay delivered (a late live copy of it is dropped).
        self._first_live: dict[str, int] = {}
        self._replay_floor: dict[str, int] | None = None

    def send(
        self, frame: bytes, conversation_id: str | None = None, message_id: int | None = None
    ) -> None:
        """Queue ``frame`` (already encoded, shared across sockets); never blocks."""
        if self.state is not SocketState.OPEN:
            return
        if conversation_id is not None and message_id is not None:
            if self._held is not None and conversation_id in self._held:
                self._held[conversation_id].append((message_id, frame))
                return
            floor = self._replay_floor.get(conversation_id, 0) if self._replay_floor else 0
            if message_id <= floor:
                return  # the replay already delivered it
            self._first_live.setdefault(conversation_id, message_id)
        elif self._held is not None and conversation_id in self._held:
            self._held[conversation_id].append((message_id, frame))
            return
        self._queue.append(frame)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def start(self) -> None:
        """The handshake is out: frames may flow, starting with any queued meanwhile."""
        self._flush_scheduled = False
        if self._queue:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._queue:
            return
        queued, self._queue = self._queue, []
        transport = self._transport
        if self.state is not SocketState.OPEN or transport.is_closing():
            self.state = SocketState.CLOSING
            return
        transport.write(text_frames(queued))
        metrics.HOT.frames_out += len(queued)
        if transport.get_write_buffer_size() > self._limit:
            metrics.SLOW_CONSUMERS.inc()
            log.info("closing slow consumer %s", self.principal.key)
            self.state = SocketState.CLOSING
            task = asyncio.create_task(self.ws.close(code=CLOSE_SLOW_CONSUMER, message=b"slow"))
            task.add_done_callback(_ignore)

    def hold(self, conversation_id: str) -> None:
        """Keep live frames of ``conversation_id`` back while its history is replayed, so
        the client sees every message exactly once and in id order."""
        if self._held is None:
            self._held = {}
        self._held.setdefault(conversation_id, [])

    def replay_bound(self, conversation_id: str) -> int | None:
        """Replay only below this id: from here on the socket got every message live."""
        return self._first_live.get(conversation_id)

    def release(self, conversation_id: str, replayed_up_to: int) -> None:
        """Send what was held, minus messages the replay already delivered."""
        if self._replay_floor is None:
            self._replay_floor = {}
        floor = max(self._replay_floor.get(conversation_id, 0), replayed_up_to)
        self._replay_floor[conversation_id] = floor
        if self._held is None:
            return
        held = self._held.pop(conversation_id, [])
        if not self._held:
            self._held = None
        for message_id, frame in held:
            self.send(frame, conversation_id, message_id)

    def flush_now(self) -> None:
        """Write what is queued immediately (before a close frame, say)."""
        if self._queue and self.state is SocketState.OPEN:
            self._flush()

    async def send_in_order(self, frame: bytes) -> None:
        """Queue ``frame`` for a bulk replay the client asked for, pacing on the transport
        so that a long history never trips the slow-consumer limit by itself."""
        # No public "drained" event exists for a transport aiohttp owns; poll briefly.
        while (  # noqa: ASYNC110
            self.state is SocketState.OPEN
            and self._transport.get_write_buffer_size() > self._limit // 2
        ):
            await asyncio.sleep(REPLAY_PACING_SECONDS)
        if self.state is SocketState.OPEN:
            self._queue.append(frame)
            self._flush()  # one frame per write, so the pacing above sees every byte

    async def close(self) -> None:
        self.state = SocketState.CLOSED
        self._queue.clear()


def _ignore(task: asyncio.Task[bool]) -> None:
    if not task.cancelled():
        task.exception()
