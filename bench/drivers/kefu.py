"""Driver for kefu itself, strictly through its public contract (docs: /work/shared/CONTRACT.md).

REST: ``POST /api/v1/visitors`` -> ``{"visitor_id","token"}``, ``POST /api/v1/auth/login``.
WebSocket ``/ws?token=T``: a visitor sends ``message.send``; kefu stores it, answers
``message.ack`` and pushes ``message.new`` to the assigned agent's sockets and the
visitor's own. Frames other than the timed ones are parsed and counted by type, so the
report shows what the server actually sent.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence

import aiohttp

from bench.drivers.base import OnText
from bench.fastws import FastGroup, FrameSocket
from bench.latency import Probe, message_send_bytes, seq_in_bytes
from bench.wsclient import Pool, gather_bounded

# Retries of a throttled (429/503) REST call before giving up, and the longest back-off.
MAX_RETRIES = 8
MAX_BACKOFF_S = 5.0


class KefuApi:
    """The few REST calls the bench needs; counts throttled answers as evidence."""

    def __init__(self, pool: Pool, http_base: str) -> None:
        self._pool = pool
        self._base = http_base
        self.throttled: Counter[int] = Counter()

    async def _post(self, path: str, body: dict[str, object], index: int) -> dict[str, object]:
        for attempt in range(MAX_RETRIES):
            async with self._pool.session(index).post(self._base + path, json=body) as resp:
                if resp.status in (200, 201):
                    data: dict[str, object] = await resp.json()
                    return data
                if resp.status in (429, 503):
                    self.throttled[resp.status] += 1
                    retry_after = resp.headers.get("Retry-After")
                    delay = float(retry_after) if retry_after else 0.25 * 2**attempt
                    await asyncio.sleep(min(delay, MAX_BACKOFF_S))
                    continue
                text = await resp.text()
                raise RuntimeError(f"POST {path} -> {resp.status}: {text[:300]}")
        raise RuntimeError(f"POST {path} still throttled after {MAX_RETRIES} tries")

    async def create_visitor(self, index: int) -> str:
        """Create a visitor; return its token."""
        data = await self._post("/api/v1/visitors", {}, index)
        return str(data["token"])

    async def create_visitors(self, count: int, concurrency: int) -> list[str]:
        factories = [functools.partial(self.create_visitor, i) for i in range(count)]
        results = await gather_bounded(factories, concurrency)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            raise RuntimeError(f"{len(failed)} of {count} visitors not created: {failed[0]!r}")
        return [r for r in results if isinstance(r, str)]

    async def login(self, email: str, password: str) -> str:
        data = await self._post("/api/v1/auth/login", {"email": email, "password": password}, 0)
        return str(data["token"])

    async def metrics(self) -> str:
        async with self._pool.session(0).get(self._base + "/metrics") as resp:
            resp.raise_for_status()
            return await resp.text()


def ws_url(http_base: str, token: str) -> str:
    return f"{http_base.replace('http://', 'ws://', 1)}/ws?token={token}"


class KefuIdle:
    """Idle visitor sockets; visitors are created in ``prepare``, before memory is sampled."""

    def __init__(self, pool: Pool, http_base: str, concurrency: int) -> None:
        self._pool = pool
        self._http_base = http_base
        self._api = KefuApi(pool, http_base)
        self._concurrency = concurrency
        self._tokens: list[str] = []
        self.frames: Counter[str] = Counter()

    async def prepare(self, count: int) -> None:
        started = time.monotonic()
        self._tokens = await self._api.create_visitors(count, self._concurrency)
        self.prepare_s = round(time.monotonic() - started, 2)

    async def open_one(self, index: int) -> tuple[aiohttp.ClientWebSocketResponse, OnText]:
        ws = await self._pool.ws(ws_url(self._http_base, self._tokens[index]), index)
        return ws, self._count

    def _count(self, text: str) -> str | None:
        self.frames[_frame_type(text)] += 1
        return None

    def describe(self) -> dict[str, object]:
        return {
            "visitor_create_s": getattr(self, "prepare_s", None),
            "throttled": dict(self._api.throttled),
            "frames_received": dict(self.frames),
        }


def _frame_type(text: str) -> str:
    try:
        frame = json.loads(text)
    except ValueError:
        return "not-json"
    return str(frame.get("type")) if isinstance(frame, dict) else "not-object"


class KefuChat:
    """Visitors, each with one open conversation, served by agents logged in over REST.

    REST goes through the aiohttp pool; the sockets are picows (:mod:`bench.fastws`).

    With ``agent_http_base`` the agents log in and hold their sockets on that node while
    the visitors are on ``http_base``: on a cluster every message is stored on the
    visitors' node and reaches the agent through the other node.
    """

    def __init__(
        self,
        pool: Pool,
        http_base: str,
        conversations: int,
        agents: Sequence[tuple[str, str]],
        concurrency: int,
        open_timeout_s: float,
        agent_http_base: str | None = None,
    ) -> None:
        self._pool = pool
        self._http_base = http_base
        self._agent_http_base = agent_http_base or http_base
        self.api = KefuApi(pool, http_base)
        self.agent_api = KefuApi(pool, self._agent_http_base)
        self._conversations = conversations
        self._agent_logins = list(agents)
        self._concurrency = concurrency
        self._open_timeout_s = open_timeout_s
        self.has_acks = True
        self.senders = conversations
        self.errors: Counter[str] = Counter()
        self.frames: Counter[str] = Counter()
        self._visitors: list[FrameSocket] = []
        self._group = FastGroup()
        self._delivery: Probe | None = None
        self._ack: Probe | None = None
        self._first_acks: dict[str, str] = {}  # client_msg_id -> conversation_id
        self._assigned: set[str] = set()  # conversations seen by some agent
        self._setup: dict[str, object] = {}

    async def open(self) -> None:
        started = time.monotonic()
        tokens = [await self.agent_api.login(e, p) for e, p in self._agent_logins]
        await self._connect([ws_url(self._agent_http_base, t) for t in tokens], self._on_agent)
        visitor_tokens = await self.api.create_visitors(self._conversations, self._concurrency)
        self._setup["visitors_created_s"] = round(time.monotonic() - started, 2)
        urls = [ws_url(self._http_base, t) for t in visitor_tokens]
        self._visitors = await self._connect(urls, self._on_visitor)
        await self._open_conversations()
        self._setup["setup_s"] = round(time.monotonic() - started, 2)

    async def _connect(
        self, urls: list[str], on_text: Callable[[bytes], bytes | None]
    ) -> list[FrameSocket]:
        return await self._group.open_many(urls, on_text, self._concurrency)

    async def _open_conversations(self) -> None:
        """Send each visitor's first message (it opens and assigns the conversation) and wait
        until every conversation is acked and has reached an agent, so the timed phase
        measures steady-state relay and not assignment."""
        for i in range(self._conversations):
            frame = {"type": "message.send", "client_msg_id": f"first-{i}", "body": "hello"}
            self._visitors[i].send(json.dumps(frame).encode())
            if i % self._concurrency == self._concurrency - 1:
                await asyncio.sleep(0.01)  # let the server (and our receivers) breathe
        deadline = time.monotonic() + self._open_timeout_s
        while time.monotonic() < deadline:
            convs = set(self._first_acks.values())
            if len(self._first_acks) == self._conversations and convs <= self._assigned:
                break
            await asyncio.sleep(0.05)
        convs = set(self._first_acks.values())
        self._setup.update(
            first_acked=len(self._first_acks),
            conversations=len(convs),
            reached_agent=len(convs & self._assigned),
        )
        if len(self._first_acks) < self._conversations or not convs <= self._assigned:
            raise RuntimeError(
                f"only {len(self._first_acks)}/{self._conversations} first messages acked and "
                f"{len(convs & self._assigned)} conversations reached an agent within "
                f"{self._open_timeout_s:.0f}s; frames seen: {dict(self.frames)}, "
                f"errors: {dict(self.errors)}"
            )

    def _on_agent(self, data: bytes) -> bytes | None:
        seq = seq_in_bytes(data)
        if seq >= 0 and b'"message.new"' in data:
            if self._delivery is not None:
                self._delivery.arrived(seq)
            return None
        self._slow_path(data, from_agent=True)
        return None

    def _on_visitor(self, data: bytes) -> bytes | None:
        seq = seq_in_bytes(data)
        if seq >= 0 and b'"message.ack"' in data:
            if self._ack is not None:
                self._ack.arrived(seq)
            return None
        if seq >= 0 and b'"message.new"' in data:
            return None  # the visitor's own echo
        self._slow_path(data, from_agent=False)
        return None

    def _slow_path(self, data: bytes, *, from_agent: bool) -> None:
        """Parse and record frames outside the timed hot path (setup, errors, signals)."""
        try:
            frame = json.loads(data)
        except ValueError:
            self.frames["not-json"] += 1
            return
        kind = str(frame.get("type"))
        self.frames[f"{'agent' if from_agent else 'visitor'}:{kind}"] += 1
        if kind == "message.ack":
            self._first_acks[str(frame.get("client_msg_id"))] = str(frame.get("conversation_id"))
        elif kind == "message.new" and from_agent:
            message = frame.get("message") or {}
            self._assigned.add(str(message.get("conversation_id")))
        elif kind == "conversation.assigned" and from_agent:
            self._assigned.add(str(frame.get("conversation_id")))
        elif kind == "error":
            self.errors[str(frame.get("code"))] += 1

    def arm(self, delivery: Probe, ack: Probe | None) -> None:
        self._delivery, self._ack = delivery, ack

    def send(self, index: int, seq: int) -> None:
        self._visitors[index].send(message_send_bytes(seq))

    async def aclose(self) -> None:
        await self._group.aclose()

    def describe(self) -> dict[str, object]:
        return {
            **self._setup,
            "agents": len(self._agent_logins),
            "client": "picows",
            "deflate_negotiated": 0.0,
            "open_at_end": self._group.open_count(),
            "throttled": dict(self.api.throttled + self.agent_api.throttled),
            "agents_on_other_node": self._agent_http_base != self._http_base,
            "frames_outside_hot_path": dict(self.frames),
            "close_codes": dict(self._group.close_codes),
        }
