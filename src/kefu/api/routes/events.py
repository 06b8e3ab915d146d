"""Event ingest for department systems: ``POST /api/v1/events`` (one or a batch).

Accepted (202) means durably recorded: the rules act on it shortly after, once. Machine
clients use an API token with the ``events:write`` scope; supervisors may post too (to
try rules from the console or a shell).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Discriminator, Field, StringConstraints, field_validator

from kefu.api.customer_keys import CustomerKey
from kefu.api.deps import AdminDep, NodeDep, bearer
from kefu.api.errors import branch
from kefu.api.schemas import Strict
from kefu.auth.api_tokens import is_api_token
from kefu.domain.envelope import (
    SUBJECT_PREFIX,
    Event,
    EventInvalid,
    check_id,
    check_type,
    new_event_id,
)
from kefu.domain.roles import Role
from kefu.errors import BadInput, Conflict, Forbidden, KefuError, NotFound, TooLarge
from kefu.events.dead_letters import DeadLetter, replayable
from kefu.events.rules import refusal
from kefu.node import Node
from kefu.observability.metrics import EVENTS_INGESTED
from kefu.timefmt import iso

router = APIRouter(prefix="/api/v1", tags=["events"])
# Dead-letter ids are row ids or stream sequences: decimal, 18 digits fit a BIGINT.
_ID = re.compile(r"[0-9]{1,18}")
RAW_PAYLOAD_CHARS = 10_000  # of a payload that is not JSON, shown as text


class EventIn(Strict):
    NUL_CHECKED_BY_FIELD = frozenset({"customer_key"})
    type: str
    id: str | None = None
    customer_key: CustomerKey | None = None
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
    NUL_CHECKED_BY_FIELD = frozenset({"events"})
    events: list[EventIn] = Field(min_length=1)


def _shape(body: Any) -> str:
    """Which model a body is: a batch has ``events``; anything else is one event."""
    return "batch" if isinstance(body, dict) and "events" in body else "event"


# One event or a batch, told apart by ``events`` before validating, so that an error names
# the field of the body as sent (``events[2].type``), not a branch the body never was.
EventsIn = Annotated[
    Annotated[EventIn, branch("event")] | Annotated[EventBatchIn, branch("batch")],
    Discriminator(lambda body: branch(_shape(body)).tag),
]


class Accepted(BaseModel):
    event_id: str


class AcceptedBatch(BaseModel):
    event_ids: list[str]


async def event_writer(request: Request) -> str:
    """The caller's name as an event source, if it may post events."""
    kefu: Node = request.app.state.node
    token = bearer(request)
    if is_api_token(token):
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
async def post_events(body: EventsIn, writer: WriterDep, kefu: NodeDep) -> Accepted | AcceptedBatch:
    if isinstance(body, EventBatchIn):
        limit = kefu.settings.events.max_batch_events
        if len(body.events) > limit:
            raise TooLarge(f"at most {limit} events per request", code="too_many_events")
        events = [item.event(writer) for item in body.events]
    else:
        events = [body.event(writer)]
    if len({e.id for e in events}) != len(events):
        raise BadInput("an event id appears twice in the batch", code="duplicate_event_id")
    _refuse_incomplete(kefu, events)
    await kefu.events.append(events)
    EVENTS_INGESTED.inc(len(events))
    if isinstance(body, EventBatchIn):
        return AcceptedBatch(event_ids=[e.id for e in events])
    return Accepted(event_id=events[0].id)


class MissingFields(KefuError):
    """A rule of the event's type requires fields it lacks (``require:``, ``refuse``)."""

    code = "missing_fields"
    status = 422


def _refuse_incomplete(kefu: Node, events: list[Event]) -> None:
    """Refuse the whole request, storing nothing, when any event lacks what a rule of
    its type requires (a batch names the first such event by position)."""
    rules = kefu.settings.rules
    if not any(rule.require for rule in rules):
        return
    for position, event in enumerate(events):
        context = {
            "data": event.data,
            "customer_key": event.customer_key,
            "event": {"id": event.id, "type": event.type, "source": event.source},
        }
        why = refusal(rules, event.type, context)
        if why is not None:
            where = f"events.{position}: " if len(events) > 1 else ""
            raise MissingFields(f"{where}{why}")


# -- dead letters (admins) ----------------------------------------------------------------


class DeadLetterOut(BaseModel):
    id: str
    event_id: str | None
    type: str | None  # from the subject it was published on
    subject: str
    reason: str
    attempts: int
    dead_at: str | None
    event: Any = None  # the payload, when it is JSON
    raw: str | None = None  # the payload as text (cut), when it is not
    size: int
    truncated_from: int | None
    replayable: bool

    @classmethod
    def of(cls, letter: DeadLetter) -> DeadLetterOut:
        try:
            parsed, raw = msgspec.json.decode(letter.payload), None
        except msgspec.DecodeError:
            parsed, raw = None, letter.payload[:RAW_PAYLOAD_CHARS].decode(errors="replace")
        try:
            replayable(letter)
            can_replay = True
        except Conflict:
            can_replay = False
        subject = letter.original_subject
        typed = subject.startswith(SUBJECT_PREFIX)
        return cls(
            id=str(letter.sequence),
            event_id=letter.event_id,
            type=subject.removeprefix(SUBJECT_PREFIX) if typed else None,
            subject=subject,
            reason=letter.reason,
            attempts=letter.attempts,
            dead_at=iso(letter.at) if letter.at else None,
            event=parsed,
            raw=raw,
            size=len(letter.payload),
            truncated_from=letter.truncated_from,
            replayable=can_replay,
        )


class DeadLetterPage(BaseModel):
    items: list[DeadLetterOut]
    next: str | None


@router.get("/events/dead-letters", response_model=DeadLetterPage)
async def list_dead_letters(
    caller: AdminDep,
    kefu: NodeDep,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DeadLetterPage:
    """Events the rules gave up on, oldest first, with why; ``next`` is the following
    page's cursor."""
    after = _id(cursor) if cursor else 0
    if after is None:
        raise BadInput("cursor is not one this server issued", code="invalid_cursor")
    letters = await kefu.events.dead_letters(limit=limit, after=after)
    return DeadLetterPage(
        items=[DeadLetterOut.of(letter) for letter in letters],
        next=str(letters[-1].sequence) if len(letters) == limit else None,
    )


@router.get("/events/dead-letters/{letter_id}", response_model=DeadLetterOut)
async def get_dead_letter(letter_id: str, caller: AdminDep, kefu: NodeDep) -> DeadLetterOut:
    letter = await kefu.events.dead_letter(_known(letter_id))
    if letter is None:
        raise _not_found(letter_id)
    return DeadLetterOut.of(letter)


@router.post("/events/dead-letters/{letter_id}/replay", status_code=202, response_model=Accepted)
async def replay_dead_letter(letter_id: str, caller: AdminDep, kefu: NodeDep) -> Accepted:
    """The event goes to the rules again (once the cause is fixed) and the letter is gone.

    Its id is kept, so an event the sender re-sent meanwhile, and that succeeded, is not
    applied twice. 409 when the payload is not an event (discard it instead)."""
    letter = await kefu.events.replay_dead_letter(_known(letter_id))
    event = replayable(letter)
    await kefu.repos.audit.record(
        "event.dead_letter.replay",
        actor=caller.key,
        target=event.id,
        now=kefu.clock.now(),
        detail={"dead_letter": letter_id, "type": event.type},
    )
    return Accepted(event_id=event.id)


@router.delete("/events/dead-letters/{letter_id}", status_code=204)
async def discard_dead_letter(letter_id: str, caller: AdminDep, kefu: NodeDep) -> Response:
    """Remove the letter for good (recorded in the audit log with its event id)."""
    letter = await kefu.events.discard_dead_letter(_known(letter_id))
    await kefu.repos.audit.record(
        "event.dead_letter.discard",
        actor=caller.key,
        target=letter.event_id,
        now=kefu.clock.now(),
        detail={"dead_letter": letter_id, "subject": letter.original_subject},
    )
    return Response(status_code=204)


def _id(value: str) -> int | None:
    return int(value) if _ID.fullmatch(value) else None


def _known(letter_id: str) -> int:
    """The id as a number; anything else names no letter (404 like any unknown id)."""
    number = _id(letter_id)
    if number is None or number == 0:
        raise _not_found(letter_id)
    return number


def _not_found(letter_id: str) -> NotFound:
    return NotFound(f"no dead letter {letter_id[:40]!r}", code="dead_letter_not_found")
