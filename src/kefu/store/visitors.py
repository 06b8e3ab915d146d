"""Visitors: who is on the site, with what they told us and what the browser says."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from kefu.domain.ids import new_id
from kefu.domain.models import Visitor
from kefu.store.database import Database
from kefu.store.group_commit import GroupCommit
from kefu.store.search_schema import visitor_insert
from kefu.store.tables import visitors


def _visitor(row: Any) -> Visitor:
    return Visitor(
        id=row.id,
        name=row.name,
        email=row.email,
        external_id=row.external_id,
        identity_verified=row.identity_verified,
        page_url=row.page_url,
        referrer=row.referrer,
        ip=row.ip,
        user_agent=row.user_agent,
        created_at=row.created_at,
        site_id=row.site_id,
        timezone=row.timezone,
        locale=row.locale,
    )


def _row(visitor: Visitor) -> dict[str, Any]:
    return {
        "id": visitor.id,
        "name": visitor.name,
        "email": visitor.email,
        "external_id": visitor.external_id,
        "identity_verified": visitor.identity_verified,
        "page_url": visitor.page_url,
        "referrer": visitor.referrer,
        "ip": visitor.ip,
        "user_agent": visitor.user_agent,
        "created_at": visitor.created_at,
        "site_id": visitor.site_id,
        "timezone": visitor.timezone,
        "locale": visitor.locale,
    }


def _insert_visitors(
    conn: Connection,
    rows: list[dict[str, Any]],
    indexed: list[tuple[sa.TextClause, dict[str, Any]]],
) -> None:
    """One transaction: the visitors' rows, then their search entries (one statement per
    distinct text, executed for all its parameter sets)."""
    conn.execute(visitors.insert(), rows)
    by_statement: dict[str, tuple[sa.TextClause, list[dict[str, Any]]]] = {}
    for statement, params in indexed:
        by_statement.setdefault(statement.text, (statement, []))[1].append(params)
    for statement, params_list in by_statement.values():
        conn.execute(statement, params_list)


class VisitorRepository:
    def __init__(self, db: Database) -> None:
        self._db = db
        # Sessions open in bursts (a campaign, a flash sale): they commit together.
        self.inserts: GroupCommit[Visitor] = GroupCommit(self._insert, what="visitors")

    async def _insert(self, batch: Sequence[Visitor]) -> None:
        rows = [_row(visitor) for visitor in batch]
        indexed = [visitor_insert(self._db.dialect, v.id, v.name, v.email) for v in batch]
        await self._db.run_in_transaction(_insert_visitors, rows, [i for i in indexed if i])

    async def create(
        self,
        *,
        now: datetime,
        name: str | None = None,
        email: str | None = None,
        external_id: str | None = None,
        identity_verified: bool = False,
        page_url: str | None = None,
        referrer: str | None = None,
        ip: str | None = None,
        user_agent: str | None = None,
        site_id: str | None = None,
        timezone: str | None = None,
        locale: str | None = None,
    ) -> Visitor:
        visitor = Visitor(
            id=new_id("vis"),
            name=name,
            email=email,
            external_id=external_id,
            identity_verified=identity_verified,
            page_url=page_url,
            referrer=referrer,
            ip=ip,
            user_agent=user_agent,
            created_at=now,
            site_id=site_id,
            timezone=timezone,
            locale=locale,
        )
        await self.inserts.submit(visitor)
        return visitor

    async def get(self, visitor_id: str) -> Visitor | None:
        """One visitor; what every visitor socket's handshake and REST call reads.

        On PostgreSQL without a transaction around the one statement (it has its own
        snapshot at read committed either way): BEGIN and ROLLBACK were two of its four
        round trips, and a reconnect storm opens thousands of visitor sockets at once.
        """
        async with self._db.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            row = (await conn.execute(visitors.select().where(visitors.c.id == visitor_id))).first()
        return _visitor(row) if row else None
