"""Hostile and broken input over WebSocket and REST, on SQLite and on PostgreSQL.

Every malformed frame gets an ``error`` frame with a stable code and leaves the socket
usable; a socket that sends too much or reads too little is closed without hurting the
others; nobody reaches a conversation that is not theirs; what users type is stored and
returned byte for byte; REST refuses bad bodies, routes, tokens and cursors in the
``{"error": {"code", "message"}}`` shape of CONTRACT.md.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType

from kefu.auth.secret import load_or_create_secret
from kefu.auth.tokens import PrincipalKind, TokenSigner
from kefu.config import Settings, WebSocketSettings
from kefu.domain.roles import Role
from tests.support.kefu import Kefu, Socket

CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_SLOW_CONSUMER = 4008
CLOSE_UNAUTHORIZED = 4401


@pytest.fixture
def settings(request: pytest.FixtureRequest, settings_factory: Callable[..., Settings]) -> Settings:
    """Default settings; a test may pass overrides with indirect parametrisation."""
    return settings_factory(**getattr(request, "param", {}))


# -- helpers ------------------------------------------------------------------------------


async def assert_still_works(sock: Socket, conversation_id: str | None = None) -> None:
    """A valid message on ``sock`` is still stored and acknowledged."""
    ack = await sock.send_message("still here?", conversation_id=conversation_id)
    assert ack["message_id"]


async def all_messages(kefu: Kefu, conversation_id: str, token: str) -> list[dict[str, Any]]:
    """Every stored message of a conversation, through the REST history, oldest first."""
    items: list[dict[str, Any]] = []
    query = "limit=500"
    while True:
        status, page = await kefu.get(
            f"/api/v1/conversations/{conversation_id}/messages?{query}", token
        )
        assert status == 200, page
        items += page["items"]
        if page["next"] is None:
            return items
        query = f"limit=500&after={page['next']}"


async def open_conversation(kefu: Kefu) -> tuple[dict[str, Any], Socket, str]:
    """A visitor with a socket and an open conversation (one message sent)."""
    visitor = await kefu.visitor(name="Vera")
    sock = await kefu.ws(visitor["token"])
    ack = await sock.send_message("hello")
    return visitor, sock, ack["conversation_id"]


async def refused_socket(kefu: Kefu, token: str) -> tuple[dict[str, Any], int | None]:
    """Connect with ``token`` and return the error frame and close code the server sent."""
    ws = await kefu.http.ws_connect(kefu.url(f"/ws?token={token}"))
    try:
        error = await ws.receive_json(timeout=5)
        closing = await ws.receive(timeout=5)
        assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED), closing
        return error, ws.close_code
    finally:
        await ws.close()


async def wait_closed(ws: ClientWebSocketResponse) -> int | None:
    """Read until the server closes ``ws``; the close code it sent."""
    while True:
        msg = await ws.receive(timeout=10)
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.ERROR):
            return ws.close_code


def sign_agent_token(kefu: Kefu, agent_id: str, now: datetime) -> str:
    """A token minted with the node's own secret and signer, as of ``now``."""
    settings = kefu.node.settings
    signer = TokenSigner(
        load_or_create_secret(settings.data_dir, settings.auth.secret_key),
        agent_ttl=timedelta(hours=settings.auth.agent_token_hours),
        visitor_ttl=timedelta(days=settings.auth.visitor_token_days),
    )
    return signer.issue(PrincipalKind.AGENT, agent_id, now)


# -- malformed frames ---------------------------------------------------------------------

BAD_FRAMES = [
    pytest.param("{not json", "invalid_json", None, id="malformed-json"),
    pytest.param("[1, 2, 3]", "invalid_json", None, id="json-array"),
    pytest.param('{"body": "hi"}', "missing_type", None, id="missing-type"),
    pytest.param('{"type": "launch.missiles"}', "unknown_type", None, id="unknown-type"),
    pytest.param(
        '{"type": "message.send", "client_msg_id": "c-1"}',
        "invalid_frame",
        "c-1",
        id="send-without-body",
    ),
    pytest.param(
        '{"type": "message.send", "client_msg_id": "c-2", "body": 42}',
        "invalid_frame",
        "c-2",
        id="body-not-a-string",
    ),
    pytest.param(
        '{"type": "message.send", "client_msg_id": "%s", "body": "hi"}' % ("x" * 101),
        "invalid_frame",
        None,
        id="client-msg-id-over-100-chars",
    ),
    pytest.param(
        '{"type": "message.send", "client_msg_id": "c-4", "body": ""}',
        "empty_body",
        "c-4",
        id="empty-body",
    ),
    pytest.param(
        '{"type": "message.send", "client_msg_id": "c-5", "body": "  \\n\\t "}',
        "empty_body",
        "c-5",
        id="whitespace-body",
    ),
]


@pytest.mark.parametrize(("raw", "code", "client_msg_id"), BAD_FRAMES)
async def test_bad_frame_gets_error_code_and_socket_keeps_working(
    kefu: Kefu, raw: str, code: str, client_msg_id: str | None
) -> None:
    visitor = await kefu.visitor(name="Vera")
    sock = await kefu.ws(visitor["token"])

    await sock.ws.send_str(raw)
    error = await sock.expect("error")

    assert error["code"] == code
    assert error["message"]
    if client_msg_id is not None:
        assert error["client_msg_id"] == client_msg_id
    await assert_still_works(sock)
    await sock.close()


async def test_unknown_extra_field_is_ignored_for_forward_compatibility(kefu: Kefu) -> None:
    """CONTRACT.md lets either side add optional fields; an older server must not refuse."""
    sock = await kefu.ws((await kefu.visitor())["token"])

    await sock.send(
        {"type": "message.send", "client_msg_id": "c-3", "body": "hi", "x_future": [1, 2]}
    )
    ack = await sock.expect("message.ack", client_msg_id="c-3")

    assert ack["message_id"]
    await sock.close()


async def test_body_longer_than_limit_is_refused_and_not_stored(kefu: Kefu) -> None:
    visitor, sock, conversation_id = await open_conversation(kefu)
    too_long = "a" * (kefu.node.settings.chat.max_body_chars + 1)

    await sock.send({"type": "message.send", "client_msg_id": "long-1", "body": too_long})
    error = await sock.expect("error")

    assert error["code"] == "body_too_long"
    assert error["client_msg_id"] == "long-1"
    bodies = [m["body"] for m in await all_messages(kefu, conversation_id, visitor["token"])]
    assert too_long not in bodies
    await assert_still_works(sock)
    await sock.close()


async def test_body_of_exactly_the_limit_is_accepted(kefu: Kefu) -> None:
    visitor, sock, conversation_id = await open_conversation(kefu)
    longest = "b" * kefu.node.settings.chat.max_body_chars

    ack = await sock.send_message(longest)

    stored = await all_messages(kefu, conversation_id, visitor["token"])
    assert [m["body"] for m in stored if m["id"] == ack["message_id"]] == [longest]
    await sock.close()


async def test_binary_frame_gets_binary_not_supported(kefu: Kefu) -> None:
    visitor = await kefu.visitor()
    sock = await kefu.ws(visitor["token"])

    await sock.ws.send_bytes(b'{"type": "message.send", "client_msg_id": "b", "body": "hi"}')
    error = await sock.expect("error")

    assert error["code"] == "binary_not_supported"
    await assert_still_works(sock)
    await sock.close()


async def test_bad_message_ids_in_read_and_resume_are_refused(kefu: Kefu) -> None:
    _, sock, conversation_id = await open_conversation(kefu)

    await sock.send({"type": "read", "conversation_id": conversation_id, "message_id": "abc"})
    read_error = await sock.expect("error")
    await sock.send(
        {"type": "resume", "conversation_id": conversation_id, "after_message_id": "-1"}
    )
    resume_error = await sock.expect("error")

    assert read_error["code"] == "invalid_message_id"
    assert resume_error["code"] == "invalid_message_id"
    await assert_still_works(sock)
    await sock.close()


# -- oversized frames and slow consumers --------------------------------------------------


async def test_two_megabyte_frame_closes_that_socket_only(kefu: Kefu) -> None:
    _, bystander, _ = await open_conversation(kefu)
    offender = await kefu.ws((await kefu.visitor())["token"])

    with contextlib.suppress(ConnectionError):
        await offender.ws.send_str("x" * (2 * 1024 * 1024))
    code = await wait_closed(offender.ws)

    assert code == CLOSE_MESSAGE_TOO_BIG
    await assert_still_works(bystander)
    await bystander.close()


class SilentClient:
    """A WebSocket client that completes the handshake and then never reads.

    A raw socket with a tiny receive buffer: aiohttp's client would keep reading into its
    own buffer in the background, hiding the stall from the server.
    """

    def __init__(self, sock: socket.socket, pending: bytes) -> None:
        self.sock = sock
        self.pending = bytearray(pending)

    @classmethod
    async def connect(cls, kefu: Kefu, token: str) -> SilentClient:
        loop = asyncio.get_running_loop()
        host, port = kefu.server.host, kefu.server.port
        assert port is not None
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await loop.sock_connect(sock, (host, port))
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET /ws?token={token} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        await loop.sock_sendall(sock, request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = await loop.sock_recv(sock, 4096)
            assert chunk, "the server hung up during the handshake"
            head += chunk
        status, _, rest = head.partition(b"\r\n\r\n")
        assert status.startswith(b"HTTP/1.1 101"), status
        return cls(sock, rest)

    async def read_until_closed(self) -> int | None:
        """Drain what the server sent; its close code, or None if it just hung up."""
        loop = asyncio.get_running_loop()
        buf = self.pending
        async with asyncio.timeout(60):  # a hang guard, not a timing assertion
            while True:
                while len(buf) >= 2:
                    opcode, length, offset = buf[0] & 0x0F, buf[1] & 0x7F, 2
                    if length == 126:
                        length, offset = int.from_bytes(buf[2:4]), 4
                    elif length == 127:
                        length, offset = int.from_bytes(buf[2:10]), 10
                    if len(buf) < offset + length:
                        break
                    payload = bytes(buf[offset : offset + length])
                    del buf[: offset + length]
                    if opcode == 0x8:
                        return int.from_bytes(payload[:2]) if len(payload) >= 2 else None
                try:
                    chunk = await loop.sock_recv(self.sock, 1 << 16)
                except ConnectionError:
                    return None
                if not chunk:
                    return None
                buf += chunk

    def close(self) -> None:
        self.sock.close()


# The smallest outbound buffer the node allows (whichever knob this version has: frames or
# bytes), and a frame budget the agent's burst of 5,000 messages fits in.
SMALL_SEND_BUFFER = {
    key: value
    for key, value in {
        "send_queue_frames": 16,
        "send_buffer_bytes": 4096,
        "frames_per_second": 1_000_000,
        "frame_burst": 1_000_000,
    }.items()
    if key in WebSocketSettings.model_fields
}


async def send_burst(sock: Socket, conversation_id: str, ids: list[str], body: str) -> set[str]:
    """Send one message per client id, a window at a time; the message ids acked."""
    acked: set[str] = set()
    for start in range(0, len(ids), 50):
        window = ids[start : start + 50]
        for cid in window:
            await sock.send(
                {
                    "type": "message.send",
                    "client_msg_id": cid,
                    "body": body,
                    "conversation_id": conversation_id,
                }
            )
        waiting = set(window)
        while waiting:
            frame = await sock.ws.receive_json(timeout=30)
            assert frame["type"] != "error", frame
            if frame["type"] == "message.ack":
                waiting.discard(frame["client_msg_id"])
                acked.add(frame["message_id"])
    return acked


@pytest.mark.parametrize(
    "settings", [{"websocket": SMALL_SEND_BUFFER}], indirect=True, ids=["small-buffer"]
)
async def test_client_that_stops_reading_is_closed_and_nothing_is_lost(kefu: Kefu) -> None:
    agent = await kefu.add_agent("Alice")
    agent_sockets = [await kefu.ws(agent["token"]) for _ in range(4)]
    visitor, opener, conversation_id = await open_conversation(kefu)
    await agent_sockets[0].expect("conversation.assigned", conversation_id=conversation_id)
    await opener.close()
    silent = await SilentClient.connect(kefu, visitor["token"])

    with contextlib.closing(silent):
        # 5,000 large messages from four sockets at once (so the store can group-commit):
        # ~11 MB pushed at a client that reads nothing overflows every buffer on the way.
        total, body = 5000, "z" * 2000
        batches = await asyncio.gather(
            *(
                send_burst(sock, conversation_id, [f"bulk-{n}" for n in range(i, total, 4)], body)
                for i, sock in enumerate(agent_sockets)
            )
        )
        code = await silent.read_until_closed()

    assert code in (CLOSE_SLOW_CONSUMER, None)
    acked = set().union(*batches)
    assert len(acked) == total
    stored = await all_messages(kefu, conversation_id, agent["token"])
    from_agent = [m for m in stored if m["sender"]["kind"] == "agent"]
    assert len(from_agent) == total
    assert {m["id"] for m in from_agent} == acked
    for sock in agent_sockets:
        await assert_still_works(sock, conversation_id)
        await sock.close()


# -- other people's conversations ---------------------------------------------------------

FOREIGN_FRAMES = [
    pytest.param(
        {"type": "message.send", "client_msg_id": "intrude-1", "body": "let me in"}, id="send"
    ),
    pytest.param({"type": "typing"}, id="typing"),
    pytest.param({"type": "resume", "after_message_id": ""}, id="resume"),
    pytest.param({"type": "read", "message_id": "1"}, id="read"),
]


@pytest.mark.parametrize("frame", FOREIGN_FRAMES)
async def test_visitor_cannot_reach_another_visitors_conversation(
    kefu: Kefu, frame: dict[str, Any]
) -> None:
    owner, owner_ws, conversation_id = await open_conversation(kefu)
    mallory = await kefu.visitor(name="Mallory")
    intruder = await kefu.ws(mallory["token"])

    await intruder.send({**frame, "conversation_id": conversation_id})
    error = await intruder.expect("error")

    assert error["code"] == "conversation_not_found"
    assert error.get("client_msg_id") == frame.get("client_msg_id")
    stored = await all_messages(kefu, conversation_id, owner["token"])
    assert [m for m in stored if m["sender"]["id"] == mallory["visitor_id"]] == []
    # Nothing reached the intruder, and nothing about it reached the owner: both sockets
    # deliver in order, so a pong proves anything sent before it has arrived.
    await intruder.send({"type": "ping"})
    await intruder.expect("pong")
    assert [f for f in intruder.backlog if f["type"] in ("message.new", "resume.done")] == []
    await owner_ws.send({"type": "ping"})
    await owner_ws.expect("pong")
    assert [f for f in owner_ws.backlog if f["type"] in ("typing", "read")] == []
    await assert_still_works(intruder)
    await intruder.close()
    await owner_ws.close()


async def test_visitor_cannot_read_another_visitors_history_over_rest(kefu: Kefu) -> None:
    _, owner_ws, conversation_id = await open_conversation(kefu)
    intruder = await kefu.visitor(name="Mallory")

    status, body = await kefu.get(
        f"/api/v1/conversations/{conversation_id}/messages", intruder["token"]
    )

    assert status == 404
    assert body["error"]["code"] == "conversation_not_found"
    await owner_ws.close()


async def test_agent_cannot_send_into_conversation_assigned_to_another(kefu: Kefu) -> None:
    alice = await kefu.add_agent("Alice")
    alice_ws = await kefu.ws(alice["token"])
    _, visitor_ws, conversation_id = await open_conversation(kefu)
    await alice_ws.expect("conversation.assigned", conversation_id=conversation_id)
    bob = await kefu.add_agent("Bob", Role.AGENT)
    bob_ws = await kefu.ws(bob["token"])

    await bob_ws.send(
        {
            "type": "message.send",
            "client_msg_id": "bob-1",
            "body": "I am not your agent",
            "conversation_id": conversation_id,
        }
    )
    error = await bob_ws.expect("error")

    assert error["code"] == "not_your_conversation"
    assert error["client_msg_id"] == "bob-1"
    stored = await all_messages(kefu, conversation_id, alice["token"])
    assert "I am not your agent" not in [m["body"] for m in stored]
    for sock in (alice_ws, bob_ws, visitor_ws):
        await sock.close()


# -- verbatim storage and idempotency -----------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("'; DROP TABLE messages; --", id="sql"),
        pytest.param("<img src=x onerror=alert(1)>", id="html"),
        pytest.param("Robert'); DELETE FROM agents WHERE ('1'='1", id="sql-quote"),
        pytest.param("&lt;b&gt; \\x00 %s {{7*7}} ${jndi:x}", id="escapes-and-templates"),
    ],
)
async def test_hostile_looking_body_is_stored_and_returned_verbatim(kefu: Kefu, body: str) -> None:
    agent = await kefu.add_agent("Alice")
    agent_ws = await kefu.ws(agent["token"])
    visitor, visitor_ws, conversation_id = await open_conversation(kefu)

    ack = await visitor_ws.send_message(body)
    live = await agent_ws.expect("message.new", timeout=5)
    while live["message"]["id"] != ack["message_id"]:
        live = await agent_ws.expect("message.new")

    assert live["message"]["body"] == body
    for token in (agent["token"], visitor["token"]):
        stored = await all_messages(kefu, conversation_id, token)
        assert [m["body"] for m in stored if m["id"] == ack["message_id"]] == [body]
    await assert_still_works(visitor_ws)
    await agent_ws.close()
    await visitor_ws.close()


async def test_same_client_msg_id_twice_is_acked_twice_and_stored_once(kefu: Kefu) -> None:
    visitor, sock, conversation_id = await open_conversation(kefu)

    first = await sock.send_message("only once, please", client_msg_id="dup-1")
    second = await sock.send_message("only once, please", client_msg_id="dup-1")

    assert first["message_id"] == second["message_id"]
    assert first["conversation_id"] == second["conversation_id"] == conversation_id
    stored = await all_messages(kefu, conversation_id, visitor["token"])
    assert [m["body"] for m in stored].count("only once, please") == 1
    await sock.close()


async def test_nul_character_in_body_is_stored_or_refused_never_a_store_failure(
    kefu: Kefu,
) -> None:
    """PostgreSQL text cannot hold U+0000; the server must not pass it to the store blindly
    (a failed insert fails every message group-committed with it)."""
    visitor, sock, conversation_id = await open_conversation(kefu)

    await sock.send({"type": "message.send", "client_msg_id": "nul-1", "body": "a\u0000b"})
    while True:
        frame = await sock.ws.receive_json(timeout=5)
        if frame["type"] in ("message.ack", "error") and frame.get("client_msg_id") == "nul-1":
            break

    if frame["type"] == "error":
        assert frame["code"] not in ("store_error", "internal_error"), frame
    else:
        stored = await all_messages(kefu, conversation_id, visitor["token"])
        assert [m["body"] for m in stored if m["id"] == frame["message_id"]] == ["a\u0000b"]
    await assert_still_works(sock)
    await sock.close()


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(
            {"type": "message.send", "client_msg_id": "nul\u0000", "body": "hi"},
            id="client-msg-id",
        ),
        pytest.param(
            {
                "type": "message.send",
                "client_msg_id": "nul-2",
                "body": "hi",
                "conversation_id": "c\u0000",
            },
            id="conversation-id",
        ),
        pytest.param({"type": "typing", "conversation_id": "c\u0000"}, id="typing"),
    ],
)
async def test_nul_character_in_frame_ids_is_never_a_server_failure(
    kefu: Kefu, frame: dict[str, Any]
) -> None:
    _, sock, _ = await open_conversation(kefu)

    await sock.send(frame)
    answer = await sock.ws.receive_json(timeout=5)
    while answer["type"] not in ("message.ack", "error"):
        answer = await sock.ws.receive_json(timeout=5)

    assert answer.get("code") not in ("store_error", "internal_error"), answer
    await assert_still_works(sock)
    await sock.close()


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        pytest.param("/api/v1/visitors", {"name": "a\u0000b"}, id="visitor-name"),
        pytest.param(
            "/api/v1/auth/login", {"email": "a\u0000@b.test", "password": "x"}, id="login-email"
        ),
    ],
)
async def test_nul_character_in_rest_field_is_not_a_server_error(
    kefu: Kefu, path: str, payload: dict[str, Any]
) -> None:
    status, body = await kefu.post(path, None, json=payload)

    assert status < 500, body


# -- REST ---------------------------------------------------------------------------------


async def test_rest_invalid_json_body_is_400_invalid_json(kefu: Kefu) -> None:
    async with kefu.http.post(
        kefu.url("/api/v1/auth/login"),
        data=b'{"email": "a@b.c", "password": ',
        headers={"Content-Type": "application/json"},
    ) as resp:
        status, body = resp.status, await resp.json()

    assert status == 400
    assert body["error"]["code"] == "invalid_json"
    assert body["error"]["message"]


async def test_rest_wrong_field_types_are_422_validation_error(kefu: Kefu) -> None:
    status, body = await kefu.post(
        "/api/v1/auth/login", None, json={"email": 12345, "password": ["not", "a", "string"]}
    )

    assert status == 422
    assert body["error"]["code"] == "validation_error"
    assert body["error"]["message"]


async def test_rest_unknown_route_is_404_in_error_shape(kefu: Kefu) -> None:
    async with kefu.http.get(kefu.url("/api/v1/no-such-thing")) as resp:
        status, body = resp.status, await resp.json()

    assert status == 404
    assert body["error"]["code"] == "not_found"
    assert set(body) == {"error"}


async def test_rest_without_token_is_401_missing_token(kefu: Kefu) -> None:
    async with kefu.http.get(kefu.url("/api/v1/conversations")) as resp:
        status, body = resp.status, await resp.json()

    assert status == 401
    assert body["error"]["code"] == "missing_token"


@pytest.mark.parametrize("forgery", ["other-secret", "alg-none"])
async def test_forged_token_is_401_invalid_token(kefu: Kefu, forgery: str) -> None:
    agent = await kefu.add_agent("Alice", Role.ADMIN)
    now = datetime.now(UTC)
    claims = {
        "iss": "kefu",
        "sub": agent["id"],
        "knd": "agent",
        "ver": 1,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(hours=1)).timestamp()),
    }
    if forgery == "other-secret":
        token = jwt.encode(claims, "an-attacker-secret-" + "k" * 48, algorithm="HS256")
    else:
        token = jwt.encode(claims, None, algorithm="none")

    status, body = await kefu.get("/api/v1/conversations", token)
    error, close_code = await refused_socket(kefu, token)

    assert status == 401
    assert body["error"]["code"] == "invalid_token"
    assert error == {"type": "error", "code": "invalid_token", "message": error["message"]}
    assert close_code == CLOSE_UNAUTHORIZED


async def test_expired_token_is_401_token_expired(kefu: Kefu) -> None:
    agent = await kefu.add_agent("Alice")
    expired = sign_agent_token(kefu, agent["id"], datetime.now(UTC) - timedelta(days=2))

    status, body = await kefu.get("/api/v1/conversations", expired)
    error, close_code = await refused_socket(kefu, expired)

    assert status == 401
    assert body["error"]["code"] == "token_expired"
    assert error["code"] == "token_expired"
    assert close_code == CLOSE_UNAUTHORIZED


async def test_token_of_disabled_agent_is_revoked_on_rest_and_ws(kefu: Kefu) -> None:
    admin = await kefu.add_agent("Root", Role.ADMIN)
    agent = await kefu.add_agent("Alice")
    async with kefu.http.patch(
        kefu.url(f"/api/v1/agents/{agent['id']}"),
        json={"disabled": True},
        headers={"Authorization": f"Bearer {admin['token']}"},
    ) as resp:
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["disabled"] is True

    status, body = await kefu.get("/api/v1/conversations", agent["token"])
    error, close_code = await refused_socket(kefu, agent["token"])

    assert status == 401
    assert body["error"]["code"] == "token_revoked"
    assert error["code"] == "token_revoked"
    assert close_code == CLOSE_UNAUTHORIZED


async def test_token_is_revoked_after_logout_on_rest_and_ws(kefu: Kefu) -> None:
    agent = await kefu.add_agent("Alice")

    status, _ = await kefu.post("/api/v1/auth/logout", agent["token"])
    assert status == 204
    status, body = await kefu.get("/api/v1/auth/me", agent["token"])
    error, close_code = await refused_socket(kefu, agent["token"])

    assert status == 401
    assert body["error"]["code"] == "token_revoked"
    assert error["code"] == "token_revoked"
    assert close_code == CLOSE_UNAUTHORIZED


@pytest.mark.parametrize("after", ["abc", "-5", "\uff11\uff12\uff13", "12.5"])
async def test_bad_after_cursor_on_messages_is_400(kefu: Kefu, after: str) -> None:
    visitor, sock, conversation_id = await open_conversation(kefu)

    status, body = await kefu.get(
        f"/api/v1/conversations/{conversation_id}/messages?after={after}", visitor["token"]
    )

    assert status == 400
    assert body["error"]["code"] == "invalid_message_id"
    await sock.close()


async def test_bad_conversation_list_cursor_is_400(kefu: Kefu) -> None:
    agent = await kefu.add_agent("Alice")

    status, body = await kefu.get("/api/v1/conversations?cursor=not-a-cursor!", agent["token"])

    assert status == 400
    assert body["error"]["code"] == "invalid_cursor"
