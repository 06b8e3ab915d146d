"""API tokens of machine clients (department systems posting events, scripts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from kefu.store.database import Database
from kefu.store.tables import api_tokens


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: str
    name: str
    scopes: tuple[str, ...]
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def _token(row: sa.Row[tuple[object, ...]]) -> ApiToken:
    m = row._mapping
    return ApiToken(
        id=m["id"],
        name=m["name"],
        scopes=tuple(m["scopes"]),
        created_by=m["created_by"],
        created_at=m["created_at"],
        last_used_at=m["last_used_at"],
        revoked_at=m["revoked_at"],
    )


class ApiTokenRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        token_id: str,
        name: str,
        token_hash: str,
        scopes: list[str],
        created_by: str,
        now: datetime,
    ) -> ApiToken:
        values = {
            "id": token_id,
            "name": name,
            "token_hash": token_hash,
            "scopes": scopes,
            "created_by": created_by,
            "created_at": now,
        }
        async with self._db.begin() as conn:
            await conn.execute(api_tokens.insert().values(values))
        return ApiToken(token_id, name, tuple(scopes), created_by, now, None, None)

    async def by_hash(self, token_hash: str) -> ApiToken | None:
        async with self._db.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(api_tokens).where(api_tokens.c.token_hash == token_hash)
                )
            ).first()
        return _token(row) if row else None

    async def list(self) -> list[ApiToken]:
        async with self._db.connect() as conn:
            rows = await conn.execute(sa.select(api_tokens).order_by(api_tokens.c.created_at))
            return [_token(row) for row in rows]

    async def revoke(self, token_id: str, now: datetime) -> bool:
        async with self._db.begin() as conn:
            result = await conn.execute(
                api_tokens.update()
                .where(api_tokens.c.id == token_id)
                .where(api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            return bool(result.rowcount)

    async def touch(self, token_id: str, now: datetime) -> None:
        async with self._db.begin() as conn:
            await conn.execute(
                api_tokens.update().where(api_tokens.c.id == token_id).values(last_used_at=now)
            )
