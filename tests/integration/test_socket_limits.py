"""Caps on open WebSockets: per principal (a visitor's token, an agent) and per client
address for visitors, so one token or one machine cannot hold a node's sockets.

A socket over a cap completes the handshake only to get an ``error`` frame
``too_many_sockets`` and close code 4429 (docs/protocol.md). Closing a socket frees its
slot: the test waits until the node has seen the close, then opens another.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType

from kefu.config import Settings
from kefu.domain.roles import Role
from kefu.observability import metrics
from tests.support.kefu import Kefu, Socket

CLOSE_TOO_MANY_SOCKETS = 4429
PER_PRINCIPAL = 3
PER_IP = 4


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(
        websocket={
            "max_sockets_per_principal": PER_PRINCIPAL,
            "max_visitor_sockets_per_ip": PER_IP,
        }
    )


async def open_socket(kefu: Kefu, token: str) -> Socket:
    """A socket the node has admitted: it answered a ping."""
    socket = await kefu.ws(token)
    await socket.send({"type": "ping"})
    await socket.expect("pong")
    return socket


def refusals() -> float:
    sample = metrics.REGISTRY.get_sample_value(
        "kefu_sockets_refused_total", {"code": "too_many_sockets"}
    )
    return sample or 0.0


async def assert_refused(kefu: Kefu, token: str) -> None:
    before = refusals()
    ws: ClientWebSocketResponse = await kefu.http.ws_connect(kefu.url(f"/ws?token={token}"))
    error = await ws.receive_json(timeout=5)
    closing = await ws.receive(timeout=5)
    assert error == {
        "type": "error",
        "code": "too_many_sockets",
        "message": error["message"],
    }
    assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
    assert ws.close_code == CLOSE_TOO_MANY_SOCKETS
    assert refusals() == before + 1  # counted for operators (docs/operations.md#metrics)
    await ws.close()


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until the node's state satisfies ``condition`` (polled; the bound only stops
    a hang)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def sockets_of(kefu: Kefu, principal_key: str) -> int:
    return sum(1 for c in kefu.node.hub.connections() if c.principal.key == principal_key)


async def test_one_visitor_token_holds_at_most_the_cap_and_a_close_frees_a_slot(
    kefu: Kefu,
) -> None:
    visitor: dict[str, Any] = await kefu.visitor(name="Vera")
    token = visitor["token"]
    sockets = [await open_socket(kefu, token) for _ in range(PER_PRINCIPAL)]

    await assert_refused(kefu, token)

    await sockets.pop().close()
    await until(lambda: sockets_of(kefu, f"visitor:{visitor['visitor_id']}") < PER_PRINCIPAL)
    sockets.append(await open_socket(kefu, token))
    for socket in sockets:
        await socket.close()


async def test_one_address_holds_at_most_the_cap_of_visitor_sockets_but_agents_pass(
    kefu: Kefu,
) -> None:
    visitors = [await kefu.visitor(name=f"V{n}") for n in range(3)]
    sockets = [await open_socket(kefu, v["token"]) for v in (visitors[0], visitors[0], visitors[1])]
    sockets.append(await open_socket(kefu, visitors[1]["token"]))  # the address's 4th

    await assert_refused(kefu, visitors[2]["token"])
    # Staff behind the same address (an office NAT) are not counted against visitors.
    agent = await kefu.add_agent("Alice", Role.AGENT)
    agent_sockets = [await open_socket(kefu, agent["token"]) for _ in range(PER_PRINCIPAL)]
    await assert_refused(kefu, agent["token"])  # but an agent has the per-principal cap

    await sockets.pop(0).close()
    await until(lambda: sum(1 for _ in kefu.node.hub.connections()) < PER_IP + PER_PRINCIPAL)
    sockets.append(await open_socket(kefu, visitors[2]["token"]))
    for socket in sockets + agent_sockets:
        await socket.close()
