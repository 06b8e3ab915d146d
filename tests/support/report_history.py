"""Report history written straight into the tables, at chosen times (the API cannot set
past times): conversations with what was said when, and tickets."""

from __future__ import annotations

from datetime import datetime, timedelta

from kefu.domain.models import SenderKind
from kefu.store.tables import conversations, messages, tickets, visitors
from tests.support.kefu import Kefu

VISITOR = SenderKind.VISITOR


class History:
    """Writes rows as the chat and the ticket service would have, at chosen times."""

    def __init__(self, kefu: Kefu) -> None:
        self.db = kefu.node.repos.db
        self.count = 0

    async def conversation(
        self,
        opened: datetime,
        *,
        status: str,
        assignee: str | None = None,
        closed: datetime | None = None,
        rating: int | None = None,
        said: tuple[tuple[float, SenderKind, str | None, bool], ...] = (),
    ) -> None:
        """``said``: (seconds after opening, sender kind, sender id, private note)."""
        self.count += 1
        visitor_id = f"vis_report_{self.count}"
        conversation_id = f"conv_report_{self.count}"
        async with self.db.begin() as conn:
            await conn.execute(visitors.insert().values(id=visitor_id, created_at=opened))
            await conn.execute(
                conversations.insert().values(
                    id=conversation_id,
                    visitor_id=visitor_id,
                    status=status,
                    assignee_id=assignee,
                    created_at=opened,
                    updated_at=closed or opened,
                    closed_at=closed,
                    rating_score=rating,
                    rated_at=closed if rating is not None else None,
                )
            )
            for offset, kind, sender, internal in ((0.0, VISITOR, visitor_id, False), *said):
                await conn.execute(
                    messages.insert().values(
                        conversation_id=conversation_id,
                        sender_kind=kind.value,
                        sender_id=sender,
                        body="…",
                        created_at=opened + timedelta(seconds=offset),
                        internal=internal,
                    )
                )

    async def ticket(self, created: datetime, status: str, **stamps: datetime) -> None:
        async with self.db.begin() as conn:
            await conn.execute(
                tickets.insert().values(
                    subject="Parcel",
                    body="Where is it?",
                    status=status,
                    priority="normal",
                    channel="api",
                    created_at=created,
                    updated_at=created,
                    **stamps,
                )
            )
