"""A served kefu node and a client that speaks its public API (REST and WebSocket) as
a browser or an integrator would; the agents' shared test password."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import ClientSession, ClientWebSocketResponse
from aiohttp.test_utils import TestServer

from kefu.bootstrap import running_node
from kefu.config import Settings
from kefu.domain.roles import Role
from kefu.node import Node
from kefu.server import create_app
from tests.support.passwords import CheapHasher, cheap_hash

PASSWORD = "correct-horse-battery"
# One hash serves every test agent; made at argon2's lowest cost, so the production
# verifier checks it in microseconds instead of ~50 ms (seconds on a busy machine).
PASSWORD_HASH = cheap_hash(PASSWORD)


class Kefu:
    """A served node plus helpers that speak the public API, as a client would."""

    def __init__(self, node: Node, server: TestServer, http: ClientSession) -> None:
        self.node = node
        self.server = server
        self.http = http

    @property
    def base(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    def url(self, path: str) -> str:
        return self.base + path

    async def add_agent(
        self, name: str, role: Role = Role.AGENT, capacity: int | None = None
    ) -> dict[str, Any]:
        email = f"{name.lower()}-{secrets.token_hex(3)}@example.test"
        await self.node.repos.agents.create(
            email=email,
            name=name,
            role=role,
            password_hash=PASSWORD_HASH,
            capacity=capacity,
            now=self.node.clock.now(),
        )
        return await self.login(email)

    async def login(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        async with self.http.post(
            self.url("/api/v1/auth/login"), json={"email": email, "password": password}
        ) as resp:
            assert resp.status == 200, await resp.text()
            body: dict[str, Any] = await resp.json()
        return {"token": body["token"], **body["agent"]}

    async def visitor(self, **fields: Any) -> dict[str, Any]:
        async with self.http.post(self.url("/api/v1/visitors"), json=fields) as resp:
            assert resp.status == 201, await resp.text()
            body: dict[str, Any] = await resp.json()
        return body

    async def ws(self, token: str) -> Socket:
        raw = await self.http.ws_connect(self.url(f"/ws?token={token}"))
        return Socket(raw)

    async def get(self, path: str, token: str) -> tuple[int, Any]:
        async with self.http.get(self.url(path), headers=_auth(token)) as resp:
            return resp.status, await resp.json()

    async def post(self, path: str, token: str | None, json: Any = None) -> tuple[int, Any]:
        return await self.request("POST", path, token, json)

    async def put(self, path: str, token: str | None, json: Any = None) -> tuple[int, Any]:
        return await self.request("PUT", path, token, json)

    async def patch(self, path: str, token: str | None, json: Any = None) -> tuple[int, Any]:
        return await self.request("PATCH", path, token, json)

    async def delete(self, path: str, token: str | None) -> tuple[int, Any]:
        return await self.request("DELETE", path, token)

    async def request(
        self, method: str, path: str, token: str | None, json: Any = None
    ) -> tuple[int, Any]:
        """Status and JSON body (None when the answer has none, e.g. 204)."""
        headers = _auth(token) if token else {}
        async with self.http.request(method, self.url(path), headers=headers, json=json) as resp:
            body = await resp.json() if resp.content_type == "application/json" else None
            return resp.status, body


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Socket:
    """A client WebSocket that keeps frames it was not waiting for, in order."""

    def __init__(self, ws: ClientWebSocketResponse) -> None:
        self.ws = ws
        self.backlog: list[dict[str, Any]] = []

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send_json(frame)

    async def expect(self, frame_type: str, timeout: float = 15.0, **match: Any) -> dict[str, Any]:
        """The next frame of ``frame_type`` matching ``match`` (others kept for later).
        ``timeout`` only stops a hang: a first message's ack waited over 5 s once on
        PostgreSQL in a clean-clone run with three workers and browsers going."""
        for index, frame in enumerate(self.backlog):
            if _matches(frame, frame_type, match):
                return self.backlog.pop(index)
        while True:
            frame = await self.ws.receive_json(timeout=timeout)
            if _matches(frame, frame_type, match):
                return frame
            self.backlog.append(frame)

    async def send_message(
        self, body: str, client_msg_id: str | None = None, conversation_id: str | None = None
    ) -> dict[str, Any]:
        cid = client_msg_id or secrets.token_hex(8)
        frame: dict[str, Any] = {"type": "message.send", "client_msg_id": cid, "body": body}
        if conversation_id is not None:
            frame["conversation_id"] = conversation_id
        await self.send(frame)
        return await self.expect("message.ack", client_msg_id=cid)

    async def close(self) -> None:
        await self.ws.close()


def _matches(frame: dict[str, Any], frame_type: str, match: dict[str, Any]) -> bool:
    return frame.get("type") == frame_type and all(frame.get(k) == v for k, v in match.items())


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Kefu]:
    """A node built from ``settings``, served on a real port, with a client session."""
    async with running_node(settings, password_hasher=CheapHasher()) as node:
        server = TestServer(create_app(node), host="127.0.0.1")
        await server.start_server()
        try:
            async with ClientSession() as http:
                yield Kefu(node, server, http)
        finally:
            await server.close()
