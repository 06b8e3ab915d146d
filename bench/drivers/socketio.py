"""Driver for the python-socketio baseline, speaking Engine.IO 4 / Socket.IO 5 directly.

The official python-socketio client starts with HTTP long-polling and upgrades, and costs
far more per message than the server it would measure; this speaks the same wire
protocol over a plain WebSocket (as browsers do with ``transports: ["websocket"]``):
``0{...}`` open, ``40{auth}`` connect, ``42<id>[event, data]`` emit with ack id,
``43<id>[result]`` ack, ``2``/``3`` ping/pong.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Mapping, Sequence

import aiohttp

from bench.drivers.base import OnText
from bench.fastws import FastGroup, FrameSocket, OnBytes
from bench.latency import Probe, body_for, client_msg_id_for, seq_in_bytes
from bench.wsclient import Pool

# Seconds to wait for each handshake packet from the server.
HANDSHAKE_TIMEOUT_S = 30.0
# ``42<ack id>["message",{...}]``: the same client_msg_id and body as kefu's frame.
_EMIT = (
    "42%d"
    + '["message",{"client_msg_id":"'
    + client_msg_id_for(0).replace("0", "%d")
    + '","body":"'
    + body_for(0).replace("0", "%d", 1)
    + '"}]'
).encode()


async def sio_connect(
    pool: Pool, http_base: str, auth: Mapping[str, object], index: int
) -> aiohttp.ClientWebSocketResponse:
    """Open a WebSocket transport and join namespace ``/`` with ``auth``."""
    ws_base = http_base.replace("http://", "ws://", 1)
    ws = await pool.ws(f"{ws_base}/socket.io/?EIO=4&transport=websocket", index)
    opened = await ws.receive_str(timeout=HANDSHAKE_TIMEOUT_S)
    if not opened.startswith("0"):
        raise ValueError(f"expected Engine.IO open packet, got {opened[:80]!r}")
    await ws.send_str("40" + json.dumps(auth, separators=(",", ":")))
    while True:
        packet = await ws.receive_str(timeout=HANDSHAKE_TIMEOUT_S)
        if packet == "2":
            await ws.send_str("3")
        elif packet.startswith("40"):
            return ws
        else:
            raise ValueError(f"socket.io connect refused: {packet[:120]!r}")


def _pong_only(text: str) -> str | None:
    return "3" if text == "2" else None


class SioIdle:
    """Idle visitors of the baseline, each connected to namespace ``/`` in its own room."""

    def __init__(self, pool: Pool, http_base: str) -> None:
        self._pool = pool
        self._http_base = http_base

    async def prepare(self, count: int) -> None:
        return None

    async def open_one(self, index: int) -> tuple[aiohttp.ClientWebSocketResponse, OnText]:
        auth = {"role": "visitor", "conv": f"idle{index}"}
        return await sio_connect(self._pool, self._http_base, auth, index), _pong_only

    def describe(self) -> dict[str, object]:
        return {}


class _Handshake:
    """Engine.IO open, then Socket.IO connect, on a picows socket; then ``on_text``."""

    def __init__(self, auth: Mapping[str, object], on_text: OnBytes) -> None:
        self._connect = b"40" + json.dumps(auth, separators=(",", ":")).encode()
        self._on_text = on_text
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def __call__(self, data: bytes) -> bytes | None:
        if self.done.done():
            return self._on_text(data)
        if data.startswith(b"0{"):
            return self._connect
        if data == b"2":
            return b"3"
        if data.startswith(b"40"):
            self.done.set_result(None)
        else:
            self.done.set_exception(ValueError(f"socket.io connect refused: {data[:120]!r}"))
        return None


class SioChat:
    """``conversations`` visitors, each in its own room, served by ``agents`` agent sockets
    (picows, :mod:`bench.fastws`).

    With ``agent_http_base`` the agents connect to that server and the visitors to
    ``http_base``: with a message queue (Redis) behind both, every ``message_new`` reaches
    the agent through the queue.
    """

    def __init__(
        self,
        http_base: str,
        conversations: int,
        agents: int,
        concurrency: int,
        agent_http_base: str | None = None,
    ) -> None:
        self._http_base = http_base
        self._agent_http_base = agent_http_base or http_base
        self._conversations = conversations
        self._agents = agents
        self._concurrency = concurrency
        self.has_acks = True
        self.senders = conversations
        self.errors: Counter[str] = Counter()
        self._visitors: list[FrameSocket] = []
        self._group = FastGroup()
        self._delivery: Probe | None = None
        self._ack: Probe | None = None

    async def open(self) -> None:
        agent_auth = [
            {"role": "agent", "convs": list(range(j, self._conversations, self._agents))}
            for j in range(self._agents)
        ]
        await self._connect_all(self._agent_http_base, agent_auth, self._on_agent)
        visitor_auth = [{"role": "visitor", "conv": i} for i in range(self._conversations)]
        self._visitors = await self._connect_all(self._http_base, visitor_auth, self._on_visitor)

    async def _connect_all(
        self, http_base: str, auths: Sequence[Mapping[str, object]], on_text: OnBytes
    ) -> list[FrameSocket]:
        url = http_base.replace("http://", "ws://", 1) + "/socket.io/?EIO=4&transport=websocket"
        sem = asyncio.Semaphore(self._concurrency)

        async def one(i: int) -> FrameSocket | BaseException:
            async with sem:
                handshake = _Handshake(auths[i], on_text)
                try:
                    sock = await self._group.connect(url, i, handshake)
                    await asyncio.wait_for(handshake.done, HANDSHAKE_TIMEOUT_S)
                except (OSError, TimeoutError, ValueError, RuntimeError) as exc:
                    return exc
                return sock

        results = await asyncio.gather(*(one(i) for i in range(len(auths))))
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            count = f"{len(failed)} of {len(auths)}"
            raise RuntimeError(f"{count} socket.io connects failed: {failed[0]!r}")
        return [r for r in results if isinstance(r, FrameSocket)]

    def _on_agent(self, data: bytes) -> bytes | None:
        if data.startswith(b'42["message_new"'):
            if self._delivery is not None:
                self._delivery.arrived(seq_in_bytes(data))
        elif data == b"2":
            return b"3"
        return None

    def _on_visitor(self, data: bytes) -> bytes | None:
        if data.startswith(b"43"):
            # The ack id is the message's sequence number: "43<seq>[result]".
            if self._ack is not None:
                self._ack.arrived(int(data[2 : data.find(b"[")]))
        elif data == b"2":
            return b"3"
        elif data.startswith(b"44"):
            self.errors["sio_error"] += 1
        return None

    def arm(self, delivery: Probe, ack: Probe | None) -> None:
        self._delivery, self._ack = delivery, ack

    def send(self, index: int, seq: int) -> None:
        self._visitors[index].send(_EMIT % (seq, seq, seq))

    async def aclose(self) -> None:
        await self._group.aclose()

    def describe(self) -> dict[str, object]:
        return {
            "conversations": self._conversations,
            "agents": self._agents,
            "agents_on_other_server": self._agent_http_base != self._http_base,
            "client": "picows",
            "deflate_negotiated": 0.0,
            "open_at_end": self._group.open_count(),
            "close_codes": dict(self._group.close_codes),
        }
