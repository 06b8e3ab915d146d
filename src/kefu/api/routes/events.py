"""Event ingest for department systems: ``POST /api/v1/events`` (one or a batch).

Accepted (202) means durably recorded: the rules act on it shortly after, once. Machine
clients use an API token with the ``events:write`` scope; supervisors may post too (to
try rules from the console or a shell).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, StringConstraints, field_validator

from kefu.api.deps import NodeDep, bearer
from kefu.api.schemas import Strict
from kefu.auth.api_tokens import is_api_token
from kefu.domain.roles import Role
from kefu.errors import BadInput, Forbidden, TooLarge
from kefu.events.envelope import Event, EventInvalid, check_id, check_type, new_event_id
from kefu.node import Node
from kefu.observability.metrics import EVENTS_INGESTED

router = APIRouter(prefix="/api/v1", tags=["events"])


class EventIn(Strict):
    type: str
    id: str | None = None
    customer_key: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    occurred_at: datetime | None = None
    source: Annotated[str, StringConstraints(max_length=100)] | None = None

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        try:
            return check_type(value)
        except EventInvalid as exc:
            raise ValueError(str(exc)) from None

    @field_validator("id")
    @classmethod
    def _id(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return check_id(value)
        except EventInvalid as exc:
            raise ValueError(str(exc)) from None

    def event(self, source: str) -> Event:
        return Event(
            id=self.id or new_event_id(),
            type=self.type,
            data=self.data,
            customer_key=self.customer_key,
            occurred_at=self.occurred_at.isoformat() if self.occurred_at else None,
            source=self.source or source,
        )


class EventBatchIn(Strict):
    events: list[EventIn] = Field(min_length=1)


class Accepted(BaseModel):
    event_id: str


class AcceptedBatch(BaseModel):
    event_ids: list[str]


async def event_writer(request: Request) -> str:
    """The caller's name as an event source, if it may post events."""
    kefu: Node = request.app.state.node
    token = bearer(request)
    if is_api_token(token):
        assert token is not None
        machine = await kefu.api_tokens.authenticate(token)
        machine.require("events:write")
        return f"token:{machine.name}"
    caller = await kefu.auth.principal(token)
    if not caller.is_agent or not caller.has_role(Role.SUPERVISOR):
        raise Forbidden(
            "posting events needs an API token with events:write, or a supervisor",
            code="insufficient_role",
        )
    return caller.key


WriterDep = Annotated[str, Depends(event_writer)]


@router.post(
    "/events",
    status_code=202,
    response_model=Accepted | AcceptedBatch,
    summary='Publish one event, or a batch {"events": [...]}; the same id is processed once',
)
async def post_events(
    body: EventIn | EventBatchIn, writer: WriterDep, kefu: NodeDep
) -> Accepted | AcceptedBatch:
    if isinstance(body, EventBatchIn):
        limit = kefu.settings.events.max_batch_events
        if len(body.events) > limit:
            raise TooLarge(f"at most {limit} events per request", code="too_many_events")
        events = [item.event(writer) for item in body.events]
    else:
        events = [body.event(writer)]
    if len({e.id for e in events}) != len(events):
        raise BadInput("an event id appears twice in the batch", code="duplicate_event_id")
    await kefu.events.append(events)
    EVENTS_INGESTED.inc(len(events))
    if isinstance(body, EventBatchIn):
        return AcceptedBatch(event_ids=[e.id for e in events])
    return Accepted(event_id=events[0].id)
