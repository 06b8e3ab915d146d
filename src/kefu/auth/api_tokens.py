"""Machine clients: opaque, scoped, revocable API tokens created by an admin.

The secret (``kefu_…``) is shown once at creation; only its sha256 is stored, so a leaked
database does not leak working tokens. Lookups are cached briefly (the hot path of event
ingest must not cost a query per request); revoking on this node drops the cache entry
at once, other nodes within ``CACHE_SECONDS``. Both caches are bounded: the secrets are
chosen by whoever sends them, and every unknown one used to be kept for good.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import TypeGuard

from kefu.cache.lru import BoundedTtlCache
from kefu.domain.ids import new_id
from kefu.errors import BadInput, Forbidden, NotFound, Unauthenticated
from kefu.ports import Clock
from kefu.store.api_tokens import ApiToken, ApiTokenRepository

PREFIX = "kefu_"
CACHE_SECONDS = 30.0
# Valid tokens remembered: far more than the systems one deployment connects (one token
# each), so the hot path of event ingest never queries.
KNOWN_CACHE_ENTRIES = 1024
# Unknown or revoked secrets remembered, so a client retrying a stale one costs no query
# each time. A flood of random secrets only cycles this bound (~70 KB at most), and
# cannot push valid tokens out of the other cache.
UNKNOWN_CACHE_ENTRIES = 256
TOUCH_EVERY_SECONDS = 60.0  # last_used_at is advisory: one write a minute per token at most
SCOPES = frozenset(
    {"events:write", "tickets:read", "tickets:write", "customers:read", "email:write"}
)

# Sagas (kefu.api.routes.sagas): sagas:write starts them (and reads), sagas:read reads.
SCOPES = SCOPES | {"sagas:read", "sagas:write"}
# Files of department systems (kefu.api.grpc.attachments): push into a ticket or
# conversation, and read those back.
SCOPES = SCOPES | {"attachments:read", "attachments:write"}


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


def is_api_token(token: str | None) -> TypeGuard[str]:
    """A TypeGuard: where this is true, ``token`` is a ``str`` to the type checker too."""
    return token is not None and token.startswith(PREFIX)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiTokens:
    def __init__(self, repo: ApiTokenRepository, clock: Clock) -> None:
        self._repo = repo
        self._clock = clock
        self._known: BoundedTtlCache[str, ApiToken] = BoundedTtlCache(
            KNOWN_CACHE_ENTRIES, CACHE_SECONDS
        )
        self._unknown: BoundedTtlCache[str, None] = BoundedTtlCache(
            UNKNOWN_CACHE_ENTRIES, CACHE_SECONDS
        )
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
        self._known.clear()
        self._unknown.clear()

    @property
    def cached_entries(self) -> int:
        """Token lookups this node remembers, valid and not (bounded, see above)."""
        return len(self._known) + len(self._unknown)

    async def authenticate(self, secret: str) -> Machine:
        digest = _hash(secret)
        now = time.monotonic()
        token = await self._lookup(digest)
        if token is None or token.revoked_at is not None:
            raise Unauthenticated("the API token is not valid", code="invalid_token")
        if self._touched.get(token.id, 0.0) < now:
            self._touched[token.id] = now + TOUCH_EVERY_SECONDS
            await self._repo.touch(token.id, self._clock.now())
        return Machine(token.id, token.name, frozenset(token.scopes))

    async def _lookup(self, digest: str) -> ApiToken | None:
        known, token = self._known.get(digest)
        if known:
            return token
        if self._unknown.get(digest)[0]:
            return None
        token = await self._repo.by_hash(digest)
        if token is None:
            self._unknown.put(digest, None)
        else:
            self._known.put(digest, token)
        return token
