"""Messages left while no agent was online; the tickets capability turns them into tickets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kefu.domain.envelope import Event, new_event_id
from kefu.domain.ids import new_id
from kefu.store.database import Database
from kefu.store.outbox import emit
from kefu.store.tables import offline_messages


@dataclass(frozen=True, slots=True)
class OfflineMessage:
    id: str
    visitor_id: str
    name: str | None
    email: str | None
    body: str
    created_at: datetime
    ticket_id: str | None


OFFLINE_MESSAGE_CREATED = "offline_message.created"


class OfflineMessageRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self, visitor_id: str, body: str, now: datetime, *, name: str | None, email: str | None
    ) -> OfflineMessage:
        item = OfflineMessage(new_id("off"), visitor_id, name, email, body, now, None)
        event = Event(
            id=new_event_id(),
            type=OFFLINE_MESSAGE_CREATED,
            data={"offline_message_id": item.id, "name": name, "email": email, "body": body},
            occurred_at=now.isoformat(),
            source="kefu.chat",
        )
        async with self._db.begin() as conn:
            # The event commits with the message (outbox): rules may make it a ticket.
            await emit(conn, [event], now)
            await conn.execute(
                offline_messages.insert().values(
                    id=item.id,
                    visitor_id=visitor_id,
                    name=name,
                    email=email,
                    body=body,
                    created_at=now,
                    ticket_id=None,
                )
            )
        return item

    async def list(self, limit: int = 100) -> list[OfflineMessage]:
        query = offline_messages.select().order_by(offline_messages.c.created_at.desc())
        async with self._db.connect() as conn:
            rows = (await conn.execute(query.limit(limit))).all()
        return [
            OfflineMessage(r.id, r.visitor_id, r.name, r.email, r.body, r.created_at, r.ticket_id)
            for r in rows
        ]
