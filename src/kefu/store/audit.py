"""Append-only audit trail of administrative and security-relevant actions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kefu.store.database import Database
from kefu.store.tables import audit_log


class AuditLog:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(
        self,
        action: str,
        *,
        actor: str | None,
        target: str | None,
        now: datetime,
        detail: dict[str, Any] | None = None,
    ) -> None:
        async with self._db.begin() as conn:
            await conn.execute(
                audit_log.insert().values(
                    at=now, actor=actor, action=action, target=target, detail=detail
                )
            )

    async def recent(self, limit: int = 100) -> list[dict[str, Any]]:
        query = audit_log.select().order_by(audit_log.c.id.desc()).limit(limit)
        async with self._db.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            {
                "id": row.id,
                "at": row.at,
                "actor": row.actor,
                "action": row.action,
                "target": row.target,
                "detail": row.detail,
            }
            for row in rows
        ]
