"""Blocked addresses and networks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from kefu.domain.ids import new_id
from kefu.errors import Conflict, NotFound
from kefu.store.database import Database
from kefu.store.tables import blacklist


@dataclass(frozen=True, slots=True)
class BlockedNetwork:
    id: str
    network: str
    reason: str | None
    created_at: datetime


class BlacklistRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, network: str, reason: str | None, now: datetime) -> BlockedNetwork:
        entry = BlockedNetwork(new_id("bl"), network, reason, now)
        try:
            async with self._db.begin() as conn:
                await conn.execute(
                    blacklist.insert().values(
                        id=entry.id, network=network, reason=reason, created_at=now
                    )
                )
        except IntegrityError:
            raise Conflict(f"{network} is already blocked", code="already_blocked") from None
        return entry

    async def list(self) -> list[BlockedNetwork]:
        async with self._db.connect() as conn:
            rows = (await conn.execute(blacklist.select().order_by(blacklist.c.created_at))).all()
        return [BlockedNetwork(r.id, r.network, r.reason, r.created_at) for r in rows]

    async def remove(self, entry_id: str) -> None:
        async with self._db.begin() as conn:
            result = await conn.execute(blacklist.delete().where(blacklist.c.id == entry_id))
        if result.rowcount == 0:
            raise NotFound(f"no blacklist entry {entry_id!r}", code="blacklist_entry_not_found")
