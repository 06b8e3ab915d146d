"""Visitors: who is on the site, with what they told us and what the browser says."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kefu.domain.ids import new_id
from kefu.domain.models import Visitor
from kefu.store.database import Database
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


class VisitorRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

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
        async with self._db.begin() as conn:
            await conn.execute(
                visitors.insert().values(
                    id=visitor.id,
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
            )
            indexed = visitor_insert(self._db.dialect, visitor.id, name, email)
            if indexed is not None:
                await conn.execute(*indexed)
        return visitor

    async def get(self, visitor_id: str) -> Visitor | None:
        async with self._db.connect() as conn:
            row = (await conn.execute(visitors.select().where(visitors.c.id == visitor_id))).first()
        return _visitor(row) if row else None
