"""``kind: kefu``: a step on kefu itself (comment or open a ticket, notify agents, emit an
event), through the ``KefuActions`` the node wires in.

Options by ``op``:

- ``ticket_comment``: ``ticket_id`` (template), ``body`` (template), ``internal``
  (default true: an agents-only note; false mails a requester who has an email),
  ``create_if_missing`` (optional ``{subject, priority, queue}``: when ``ticket_id``
  renders empty, a ticket is opened for the saga's customer with ``body`` instead).
- ``ticket_create``: ``subject``, ``body`` (templates), ``priority``
  (low|normal|high|urgent, default normal), ``queue``.
- ``notify``: ``message`` (template) to a ``role`` (agent|supervisor|admin) or an
  ``agent_id`` (template).
- ``emit``: an event ``type`` (``refund.completed``) with ``data`` (a JSON template),
  through the outbox: rules and webhooks see it like any other event.

Every call passes the step's idempotency key: the wiring makes a re-run of the step
return what the first run made instead of a second comment, ticket or event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Literal, Protocol, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kefu.sagas.actions.base import ActionCall, ActionFailed
from kefu.sagas.actions.templates import JsonTemplate, Text, call_context, lookup, parse_text

Op = Literal["ticket_comment", "ticket_create", "notify", "emit"]
PriorityName = Literal["low", "normal", "high", "urgent"]
EVENT_TYPE = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$"


class KefuActions(Protocol):
    """What a ``kind: kefu`` step may do to kefu; the node implements it (tickets
    service, notifier, outbox). Each returns a small JSON object for later steps (ids).
    A definite refusal (no such ticket) raises ``ActionFailed(retryable=False)``;
    anything else raised is retried by the engine."""

    async def ticket_comment(
        self, *, ticket_id: str, body: str, internal: bool, idempotency_key: str
    ) -> Mapping[str, Any]: ...

    async def ticket_create(
        self,
        *,
        subject: str,
        body: str,
        customer_key: str | None,
        priority: str,
        queue: str | None,
        idempotency_key: str,
    ) -> Mapping[str, Any]: ...

    async def notify(
        self,
        *,
        message: str,
        role: str | None,
        agent_id: str | None,
        customer_key: str | None,
        idempotency_key: str,
    ) -> Mapping[str, Any]: ...

    async def emit(
        self,
        *,
        type: str,  # the event's field name (shadows the builtin inside only)
        data: Mapping[str, Any],
        customer_key: str | None,
        idempotency_key: str,
    ) -> Mapping[str, Any]: ...


class NewTicket(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    subject: str = Field(min_length=1, max_length=500)
    priority: PriorityName = "normal"
    queue: str | None = Field(default=None, min_length=1, max_length=64)


class KefuOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    op: Op
    ticket_id: str | None = None
    body: str | None = Field(default=None, min_length=1, max_length=20_000)
    internal: bool = True
    create_if_missing: NewTicket | None = None
    subject: str | None = Field(default=None, min_length=1, max_length=500)
    priority: PriorityName = "normal"
    queue: str | None = Field(default=None, min_length=1, max_length=64)
    message: str | None = Field(default=None, min_length=1, max_length=2000)
    role: Literal["agent", "supervisor", "admin"] | None = None
    agent_id: str | None = None
    type: str | None = Field(default=None, pattern=EVENT_TYPE)
    data: Any = None

    @model_validator(mode="after")
    def _per_op(self) -> Self:
        needs: dict[str, tuple[str, ...]] = {
            "ticket_comment": ("ticket_id", "body"),
            "ticket_create": ("subject", "body"),
            "notify": ("message",),
            "emit": ("type",),
        }
        allowed: dict[str, set[str]] = {
            "ticket_comment": {"ticket_id", "body", "internal", "create_if_missing"},
            "ticket_create": {"subject", "body", "priority", "queue"},
            "notify": {"message", "role", "agent_id"},
            "emit": {"type", "data"},
        }
        for name in needs[self.op]:
            if getattr(self, name) is None:
                raise ValueError(f"op {self.op} needs {name}")
        extra = sorted(self.model_fields_set - allowed[self.op] - {"op"})
        if extra:
            raise ValueError(f"op {self.op} takes no {', '.join(extra)}")
        if self.op == "notify" and (self.role is None) == (self.agent_id is None):
            raise ValueError("notify needs role or agent_id, one of them")
        return self


class KefuAction:
    kind = "kefu"

    def __init__(self, options: KefuOptions, kefu: KefuActions, name: str) -> None:
        self._options = options
        self._kefu = kefu
        self._name = name
        self._texts: dict[str, Text] = {}
        for key in ("ticket_id", "body", "subject", "message", "agent_id"):
            value = getattr(options, key)
            if value is not None:
                try:
                    self._texts[key] = parse_text(value)
                except ValueError as exc:
                    raise ValueError(f"{key}: {exc}") from None
        new = options.create_if_missing
        if new is not None:
            try:
                self._texts["new_subject"] = parse_text(new.subject)
            except ValueError as exc:
                raise ValueError(f"create_if_missing.subject: {exc}") from None
        self._data = JsonTemplate(options.data if options.data is not None else {})

    def _text(self, key: str, context: Mapping[str, Any]) -> str:
        template = self._texts.get(key)
        return "" if template is None else template.render(context)

    async def run(self, call: ActionCall) -> Mapping[str, Any]:
        context = call_context(call)
        try:
            async with asyncio.timeout(call.timeout):
                return dict(await self._do(context, call.idempotency_key))
        except TimeoutError:
            raise ActionFailed(
                f"{self._name}: no answer within {call.timeout:g} s", retryable=True
            ) from None

    async def _do(self, context: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        options = self._options
        customer = lookup(context, "customer_key")
        customer_key = customer if isinstance(customer, str) and customer else None
        kefu = self._kefu
        if options.op == "ticket_comment":
            ticket_id = self._text("ticket_id", context).strip()
            new = options.create_if_missing
            if not ticket_id and new is not None:
                return await kefu.ticket_create(
                    subject=self._text("new_subject", context),
                    body=self._text("body", context),
                    customer_key=customer_key,
                    priority=new.priority,
                    queue=new.queue,
                    idempotency_key=key,
                )
            if not ticket_id:
                raise ActionFailed(f"{self._name}: no ticket to comment on", retryable=False)
            return await kefu.ticket_comment(
                ticket_id=ticket_id,
                body=self._text("body", context),
                internal=options.internal,
                idempotency_key=key,
            )
        if options.op == "ticket_create":
            return await kefu.ticket_create(
                subject=self._text("subject", context),
                body=self._text("body", context),
                customer_key=customer_key,
                priority=options.priority,
                queue=options.queue,
                idempotency_key=key,
            )
        if options.op == "notify":
            agent_id = self._text("agent_id", context) or None
            return await kefu.notify(
                message=self._text("message", context),
                role=options.role,
                agent_id=agent_id,
                customer_key=customer_key,
                idempotency_key=key,
            )
        data = self._data.render(context)
        return await kefu.emit(
            type=options.type or "",
            data=data if isinstance(data, Mapping) else {"value": data},
            customer_key=customer_key,
            idempotency_key=key,
        )

    async def close(self) -> None:
        return None
