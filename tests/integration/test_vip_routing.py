"""The VIP lane as a site meets it, on every store and bus: a department announces
``customer.upgrade`` for a customer, that customer opens the chat as a *verified* visitor
(the site signs their external_id), and their chat is served before earlier ones.

"The conversation's customer" is the agent's manual link, else the visitor's verified
external_id; an unsigned external_id is what the browser claimed and counts for nothing.
On SQLite, and on PostgreSQL with ``bus: memory://``, one node's board decides; on
PostgreSQL with ``bus: nats://`` the store decides for every node (``shared_assignment``):
both must read the customer the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from kefu.auth.identity import sign_external_id
from kefu.config import Settings, load_settings
from kefu.domain.roles import Role
from tests.support.kefu import Kefu, Socket, serving
from tests.support.nats import NatsServer
from tests.support.postgres import postgres_database

SECRET = "identity-secret-" + "v" * 24
VIP_KEY = "VIP-7"
RULES: list[dict[str, Any]] = [
    {
        "name": "vip-service",
        "on": "customer.upgrade",
        "when": ['data.tier == "vip"'],
        "do": [{"route_customer": {"queue": "vip"}}],
    }
]
UPGRADE = {"type": "customer.upgrade", "customer_key": VIP_KEY, "data": {"tier": "vip"}}


@pytest.fixture(params=["memory", "nats"])
def bus(request: pytest.FixtureRequest) -> str:
    """``memory://``, or a nats-server of the test's own."""
    if request.param == "memory":
        return "memory://"
    server: NatsServer = request.getfixturevalue("nats")
    return server.url


@pytest.fixture
def settings(settings_factory: Callable[..., Settings], bus: str) -> Settings:
    return settings_factory(bus=bus, rules=RULES, auth={"identity_secret": SECRET})


async def routed(kefu: Kefu, key: str) -> None:
    """Wait until the upgrade's rule has routed ``key`` (the rules run after ingest)."""
    deadline = asyncio.get_running_loop().time() + 15
    while await kefu.node.repos.routing.queue_of(key) != "vip":
        assert asyncio.get_running_loop().time() < deadline, "the upgrade was never routed"
        await asyncio.sleep(0.05)


async def waits(kefu: Kefu, **identity: Any) -> tuple[Socket, str]:
    """A visitor who writes while nobody is online: their conversation waits."""
    visitor = await kefu.visitor(**identity)
    socket = await kefu.ws(visitor["token"])
    ack = await socket.send_message("hello?")
    return socket, str(ack["conversation_id"])


async def status_of(kefu: Kefu, token: str, conversation_id: str) -> str:
    status, body = await kefu.get(f"/api/v1/conversations/{conversation_id}", token)
    assert status == 200, body
    return str(body["status"])


async def test_a_verified_vip_is_served_before_earlier_visitors(kefu: Kefu) -> None:
    boss = await kefu.add_agent("Sue", Role.SUPERVISOR, capacity=1)
    status, _ = await kefu.post("/api/v1/events", boss["token"], UPGRADE)
    assert status == 202
    await routed(kefu, VIP_KEY)

    # First in line: someone whose browser merely *claims* the VIP's id (unsigned), then
    # an ordinary visitor; the signed-in VIP comes last.
    claimant, claimed = await waits(kefu, name="Claims", external_id=VIP_KEY)
    plain, early = await waits(kefu, name="Early")
    vip, late = await waits(
        kefu, name="Vip", external_id=VIP_KEY, signature=sign_external_id(SECRET, VIP_KEY)
    )
    for conversation_id in (claimed, early, late):
        assert await status_of(kefu, boss["token"], conversation_id) == "waiting"

    # One seat opens: it goes to the verified VIP, whoever waited longer.
    boss_socket = await kefu.ws(boss["token"])
    assigned = await vip.expect("conversation.assigned", timeout=15)
    assert assigned["conversation_id"] == late and assigned["agent_id"] == boss["id"]
    assert await status_of(kefu, boss["token"], claimed) == "waiting"
    assert await status_of(kefu, boss["token"], early) == "waiting"
    for socket in (claimant, plain, vip, boss_socket):
        await socket.close()


@contextlib.asynccontextmanager
async def two_nodes(tmp_path: Path, nats: NatsServer) -> AsyncIterator[tuple[Kefu, Kefu]]:
    """Two nodes on one PostgreSQL and one NATS: the store decides assignments."""
    secret = secrets.token_hex(32)
    subject = f"kefu.live.t{secrets.token_hex(4)}"
    async with postgres_database() as store:
        settings = [
            load_settings(
                None,
                data_dir=tmp_path / name,
                store=store,
                bus=nats.url,
                rules=RULES,
                cluster={"subject": subject},
                auth={"secret_key": secret, "identity_secret": SECRET},
            )
            for name in ("a", "b")
        ]
        async with serving(settings[0]) as a, serving(settings[1]) as b:
            yield a, b


async def test_a_verified_vip_on_one_node_goes_first_to_an_agent_on_another(
    tmp_path: Path, nats: NatsServer
) -> None:
    async with two_nodes(tmp_path, nats) as (a, b):
        boss = await a.add_agent("Sue", Role.SUPERVISOR, capacity=1)
        status, _ = await a.post("/api/v1/events", boss["token"], UPGRADE)
        assert status == 202
        await routed(a, VIP_KEY)

        plain, early = await waits(b, name="Early")
        vip, late = await waits(
            b, name="Vip", external_id=VIP_KEY, signature=sign_external_id(SECRET, VIP_KEY)
        )
        boss_socket = await a.ws(boss["token"])  # the seat opens on the other node
        taken = await boss_socket.expect("conversation.assigned", timeout=15)
        assert taken["conversation_id"] == late
        assigned = await vip.expect("conversation.assigned", timeout=15)
        assert assigned["agent_id"] == boss["id"]
        assert await status_of(a, boss["token"], early) == "waiting"
        for socket in (plain, vip, boss_socket):
            await socket.close()
