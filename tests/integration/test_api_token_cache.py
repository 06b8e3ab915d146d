"""API tokens presented by machine clients: unknown secrets must not grow memory.

Every ``kefu_…`` secret a client sends used to be remembered for good, valid or not, so a
client sending random ones grew the node without limit. The caches are bounded; this
sends more unknown secrets than the bound over HTTP, as such a client would, and reads the
cache's size from the node's ``ApiTokens`` (not from memory measurements). On SQLite and
PostgreSQL.
"""

from __future__ import annotations

import asyncio
import secrets

from kefu.auth.api_tokens import PREFIX, UNKNOWN_CACHE_ENTRIES
from kefu.domain.roles import Role
from tests.support.kefu import Kefu

# Concurrent requests per round: enough to be quick, few enough for the test client.
ROUND = 50


async def test_unknown_api_tokens_never_grow_the_cache_past_its_bound(kefu: Kefu) -> None:
    admin = await kefu.add_agent("Root", Role.ADMIN)
    status, created = await kefu.post(
        "/api/v1/api-tokens", admin["token"], {"name": "crm", "scopes": ["tickets:read"]}
    )
    assert status == 201, created
    valid = created["token"]
    status, _ = await kefu.get("/api/v1/tickets", valid)
    assert status == 200
    unknown = [PREFIX + secrets.token_urlsafe(32) for _ in range(UNKNOWN_CACHE_ENTRIES + 100)]

    for start in range(0, len(unknown), ROUND):
        answers = await asyncio.gather(
            *(kefu.get("/api/v1/tickets", token) for token in unknown[start : start + ROUND])
        )
        assert {status for status, _ in answers} == {401}, answers[0]
        assert {body["error"]["code"] for _, body in answers} == {"invalid_token"}

    # The unknown ones fill their own bound; the valid one is remembered beside them.
    assert kefu.node.api_tokens.cached_entries <= UNKNOWN_CACHE_ENTRIES + 1
    status, page = await kefu.get("/api/v1/tickets", valid)
    assert status == 200, page
    status, body = await kefu.get("/api/v1/tickets", unknown[-1])
    assert status == 401, body
