"""Driver for the python-socketio baseline, speaking Engine.IO 4 / Socket.IO 5 directly.

The official python-socketio client starts with HTTP long-polling and upgrades, and costs
far more per message than the server it would measure; this speaks the same wire
protocol over a plain WebSocket (as browsers do with ``transports: ["websocket"]``):
``0{...}`` open, ``40{auth}`` connect, ``42<id>[event, data]`` emit with ack id,
``43<id>[result]`` ack, ``2``/``3`` ping/pong.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Mapping, Sequence

import aiohttp

from bench.drivers.base import OnText, SocketGroup, all_open
from bench.latency import Probe, body_for, client_msg_id_for, seq_in
from bench.wsclient import Pool

# Seconds to wait for each handshake packet from the server.
HANDSHAKE_TIMEOUT_S = 30.0


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


class SioChat:
    """``conversations`` visitors, each in its own room, served by ``agents`` agent sockets.

    With ``agent_http_base`` the agents connect to that server and the visitors to
    ``http_base``: with a message queue (Redis) behind both, every ``message_new`` reaches
    the agent through the queue.
    """

    def __init__(
        self,
        pool: Pool,
        http_base: str,
        conversations: int,
        agents: int,
        concurrency: int,
        agent_http_base: str | None = None,
    ) -> None:
        self._pool = pool
        self._http_base = http_base
        self._agent_http_base = agent_http_base or http_base
        self._conversations = conversations
        self._agents = agents
        self._concurrency = concurrency
        self.has_acks = True
        self.senders = conversations
        self.errors: Counter[str] = Counter()
        self._visitors: list[aiohttp.ClientWebSocketResponse] = []
        self._group = SocketGroup()
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
        self, http_base: str, auths: Sequence[Mapping[str, object]], on_text: OnText
    ) -> list[aiohttp.ClientWebSocketResponse]:
        async def opener(i: int) -> tuple[aiohttp.ClientWebSocketResponse, OnText]:
            return await sio_connect(self._pool, http_base, auths[i], i), on_text

        results = await self._group.open_many(
            [functools.partial(opener, i) for i in range(len(auths))], self._concurrency
        )
        return all_open(results, "socket.io connects")

    def _on_agent(self, text: str) -> str | None:
        if text.startswith('42["message_new"'):
            if self._delivery is not None:
                self._delivery.arrived(seq_in(text))
        elif text == "2":
            return "3"
        return None

    def _on_visitor(self, text: str) -> str | None:
        if text.startswith("43"):
            # The ack id is the message's sequence number: "43<seq>[result]".
            if self._ack is not None:
                self._ack.arrived(int(text[2 : text.find("[")]))
        elif text == "2":
            return "3"
        elif text.startswith("44"):
            self.errors["sio_error"] += 1
        return None

    def arm(self, delivery: Probe, ack: Probe | None) -> None:
        self._delivery, self._ack = delivery, ack

    async def send(self, index: int, seq: int) -> None:
        payload = f'{{"client_msg_id":"{client_msg_id_for(seq)}","body":"{body_for(seq)}"}}'
        await self._visitors[index].send_str(f'42{seq}["message",{payload}]')

    async def aclose(self) -> None:
        await self._group.aclose()

    def describe(self) -> dict[str, object]:
        return {
            "conversations": self._conversations,
            "agents": self._agents,
            "agents_on_other_server": self._agent_http_base != self._http_base,
            "deflate_negotiated": self._group.deflate_share(),
        }
