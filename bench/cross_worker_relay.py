"""Does a chat cross workers? A visitor on one ``kefu serve --workers`` process reaches an
agent whose socket another process holds, and the agent's answer comes back.

Every response of a worker names it (``X-Kefu-Worker``: its pid), the WebSocket upgrade
included, so the check opens the agent's socket, then visitors' sockets until one lands
on a different worker (the kernel picks by the connection's addresses), and sends one
message each way through the public contract. Used by the ``kefu_sockets_workers``
scenario while the 50,000 idle sockets are held.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp

from bench.drivers.kefu import ws_url
from bench.fastws import FastGroup, FrameSocket

WORKER_HEADER = "X-Kefu-Worker"
# Visitors tried before concluding that every connection lands on the agent's worker.
MAX_TRIES = 40
FRAME_TIMEOUT_S = 20.0

Frame = dict[str, Any]


class Inbox:
    """Frames one socket received, and a wait for the first that matches."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []
        self._changed = asyncio.Event()

    def __call__(self, payload: bytes) -> bytes | None:
        self.frames.append(json.loads(payload))
        self._changed.set()
        return None

    async def first(self, match: Callable[[Frame], bool], timeout_s: float) -> Frame:
        deadline = time.monotonic() + timeout_s
        while True:
            for frame in self.frames:
                if match(frame):
                    return frame
            self._changed.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                kinds = [f.get("type") for f in self.frames]
                raise TimeoutError(f"no matching frame in {timeout_s:g}s (got {kinds})")
            await asyncio.wait_for(self._changed.wait(), left)


def _worker(socket: FrameSocket) -> str:
    assert socket.transport is not None
    return str(socket.transport.response.headers.get(WORKER_HEADER, "?"))


def _new_message(body: str) -> Callable[[Frame], bool]:
    return lambda f: f.get("type") == "message.new" and f["message"]["body"] == body


def _send(body: str, conversation_id: str | None = None) -> bytes:
    frame = {"type": "message.send", "client_msg_id": body, "body": body}
    if conversation_id is not None:
        frame["conversation_id"] = conversation_id
    return json.dumps(frame).encode()


def _about(frame: Frame, conversation_id: str) -> bool:
    """The agent learnt of the conversation: assigned to them, or its message."""
    if frame.get("type") == "conversation.assigned":
        return bool(frame["conversation_id"] == conversation_id)
    if frame.get("type") == "message.new":
        return bool(frame["message"]["conversation_id"] == conversation_id)
    return False


async def check(http_base: str, email: str, password: str) -> dict[str, Any]:
    """One message visitor -> agent and one back, over two different workers."""
    group = FastGroup()
    async with aiohttp.ClientSession() as http:
        login = {"email": email, "password": password}
        async with http.post(f"{http_base}/api/v1/auth/login", json=login) as resp:
            resp.raise_for_status()
            agent_token = (await resp.json())["token"]
        agent_inbox = Inbox()
        agent = await group.connect(ws_url(http_base, agent_token), 0, agent_inbox)
        agent_worker = _worker(agent)
        visitor, visitor_inbox, visitor_worker = None, Inbox(), agent_worker
        tries = 0
        while visitor_worker == agent_worker and tries < MAX_TRIES:
            tries += 1
            async with http.post(f"{http_base}/api/v1/visitors", json={}) as resp:
                resp.raise_for_status()
                token = (await resp.json())["token"]
            visitor_inbox = Inbox()
            visitor = await group.connect(ws_url(http_base, token), tries, visitor_inbox)
            visitor_worker = _worker(visitor)
        try:
            if visitor is None or visitor_worker == agent_worker:
                return {"crossed": False, "why": f"{tries} visitors all on the agent's worker"}
            # The first message opens the conversation and assigns it (to the only agent);
            # the timed one is the relay of a conversation under way.
            first = f"open {uuid.uuid4().hex[:8]}"
            visitor.send(_send(first))
            ack = await visitor_inbox.first(
                lambda f: f.get("type") == "message.ack" and f["client_msg_id"] == first,
                FRAME_TIMEOUT_S,
            )
            conversation = ack["conversation_id"]
            await agent_inbox.first(lambda f: _about(f, conversation), FRAME_TIMEOUT_S)
            out = f"across workers {uuid.uuid4().hex[:8]}"
            started = time.perf_counter()
            visitor.send(_send(out))
            got = await agent_inbox.first(_new_message(out), FRAME_TIMEOUT_S)
            to_agent_ms = (time.perf_counter() - started) * 1000
            back = f"answer {out}"
            started = time.perf_counter()
            agent.send(_send(back, got["message"]["conversation_id"]))
            await visitor_inbox.first(_new_message(back), FRAME_TIMEOUT_S)
            to_visitor_ms = (time.perf_counter() - started) * 1000
            return {
                "crossed": True,
                "agent_worker": agent_worker,
                "visitor_worker": visitor_worker,
                "visitors_tried": tries,
                "visitor_to_agent_ms": round(to_agent_ms, 1),
                "agent_to_visitor_ms": round(to_visitor_ms, 1),
            }
        finally:
            await group.aclose()
