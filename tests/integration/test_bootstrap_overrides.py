"""``running_node`` takes a clock, a cache and a password hasher in place of the ones
``Settings`` would choose: tests wire fakes at the one composition root instead of
rebuilding services (issue 13 item 3)."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from kefu.bootstrap import running_node
from kefu.cache.memory import MemoryCache
from kefu.config import Settings
from kefu.domain.roles import Role
from kefu.server import create_app


class PlainHasher:
    """A cheap, recognisable hasher: the stored hash shows which hasher made it."""

    def __init__(self) -> None:
        self.verified = 0

    async def hash(self, password: str) -> str:
        return "plain:" + password

    async def verify(self, password_hash: str | None, password: str) -> bool:
        self.verified += 1
        return password_hash == "plain:" + password


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now


async def test_the_node_hashes_checks_and_stamps_with_what_it_was_given(
    settings: Settings,
) -> None:
    hasher = PlainHasher()
    # Now, but stopped (tokens are checked against real time too).
    clock = FixedClock(datetime.now(UTC).replace(microsecond=0))
    cache = MemoryCache()
    async with running_node(settings, clock=clock, cache=cache, password_hasher=hasher) as node:
        assert node.passwords is hasher and node.clock is clock and node.cache is cache
        await node.repos.agents.create(
            email="admin@example.com",
            name="Ada",
            role=Role.ADMIN,
            password_hash="plain:admin-password",
            now=clock.now(),
        )
        server = TestServer(create_app(node), host="127.0.0.1")
        await server.start_server()
        try:
            async with ClientSession() as http:
                login = await http.post(
                    server.make_url("/api/v1/auth/login"),
                    json={"email": "admin@example.com", "password": "admin-password"},
                )
                assert login.status == 200, await login.text()
                token = (await login.json())["token"]
                created = await http.post(
                    server.make_url("/api/v1/agents"),
                    json={
                        "email": "bob@example.com",
                        "name": "Bob",
                        "role": "agent",
                        "password": "bob-password-1",
                    },
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert created.status == 201, await created.text()
                again = await http.post(
                    server.make_url("/api/v1/auth/login"),
                    json={"email": "bob@example.com", "password": "bob-password-1"},
                )
                assert again.status == 200, await again.text()
        finally:
            await server.close()
        found = await node.repos.agents.by_email("bob@example.com")
        assert found is not None and found[1] == "plain:bob-password-1"
        assert found[0].created_at == clock.now()  # the route stamped it with our clock
        assert hasher.verified == 2
        await cache.set("still", b"there", 60)
    # The cache was the caller's: the node did not close (and so empty) it.
    assert await cache.get("still") == b"there"
    await cache.close()
