"""Machine clients: opaque, scoped, revocable API tokens created by an admin.

The secret (``kefu_…``) is shown once at creation; only its sha256 is stored, so a leaked
database does not leak working tokens. Lookups are cached briefly (the hot path of event
ingest must not cost a query per request); revoking on this node drops the cache entry
at once, other nodes within ``CACHE_SECONDS``.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from kefu.domain.ids import new_id
from kefu.errors import BadInput, Forbidden, NotFound, Unauthenticated
from kefu.ports import Clock
from kefu.store.api_tokens import ApiToken, ApiTokenRepository

PREFIX = "kefu_"
CACHE_SECONDS = 30.0
TOUCH_EVERY_SECONDS = 60.0  # last_used_at is advisory: one write a minute per token at most
SCOPES = frozenset({"events:write", "tickets:read", "tickets:write", "customers:read"})


@dataclass(frozen=True, slots=True)
class Machine:
    """A machine client, as authenticated from its API token."""

    token_id: str
    name: str
    scopes: frozenset[str]

    @property
    def key(self) -> str:
        return f"machine:{self.token_id}"

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise Forbidden(f"this API token lacks the {scope} scope", code="missing_scope")


def is_api_token(token: str | None) -> bool:
    return token is not None and token.startswith(PREFIX)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiTokens:
    def __init__(self, repo: ApiTokenRepository, clock: Clock) -> None:
        self._repo = repo
        self._clock = clock
        self._cache: dict[str, tuple[float, ApiToken | None]] = {}
        self._touched: dict[str, float] = {}

    async def create(self, name: str, scopes: list[str], created_by: str) -> tuple[ApiToken, str]:
        unknown = sorted(set(scopes) - SCOPES)
        if unknown:
            raise BadInput(
                f"unknown scopes {unknown}; known: {sorted(SCOPES)}", code="unknown_scope"
            )
        secret = PREFIX + secrets.token_urlsafe(32)
        token = await self._repo.create(
            new_id("tok"), name, _hash(secret), sorted(set(scopes)), created_by, self._clock.now()
        )
        return token, secret

    async def list(self) -> list[ApiToken]:
        return await self._repo.list()

    async def revoke(self, token_id: str) -> None:
        if not await self._repo.revoke(token_id, self._clock.now()):
            raise NotFound("no active API token with that id", code="api_token_not_found")
        self._cache.clear()

    async def authenticate(self, secret: str) -> Machine:
        digest = _hash(secret)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            token = cached[1]
        else:
            token = await self._repo.by_hash(digest)
            self._cache[digest] = (now + CACHE_SECONDS, token)
        if token is None or token.revoked_at is not None:
            raise Unauthenticated("the API token is not valid", code="invalid_token")
        if self._touched.get(token.id, 0.0) < now:
            self._touched[token.id] = now + TOUCH_EVERY_SECONDS
            await self._repo.touch(token.id, self._clock.now())
        return Machine(token.id, token.name, frozenset(token.scopes))
