"""Outgoing webhooks for admins: endpoint health, the delivery log, enable and retry,
and the console's own webhooks (create, delete).

Configured endpoints live in config (``webhooks:``) and are neither created nor deleted
here. A console webhook's signing secret is shown once, in the answer that created it;
no secret or extra header (often credentials) is ever shown again.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from kefu.api.deps import AdminDep, NodeDep
from kefu.domain.webhooks import Delivery, DeliveryStatus
from kefu.errors import BadInput, NotFound
from kefu.timefmt import iso
from kefu.webhooks.console import ConsoleWebhookSpec
from kefu.webhooks.service import EndpointView

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])
# Delivery ids are row ids: decimal, and 18 digits always fit the BIGINT column.
_ID = re.compile(r"[0-9]{1,18}")


class WebhookOut(BaseModel):
    name: str
    url: str
    consecutive_failures: int
    disabled_at: str | None
    disabled_reason: str | None
    pending: int
    source: str  # "config" (the YAML file) or "console" (added here; deletable)
    events: list[str]  # a console webhook's event patterns

    @classmethod
    def of(cls, view: EndpointView) -> WebhookOut:
        state = view.state
        return cls(
            name=view.name,
            url=view.url,
            source=view.source,
            events=list(view.events),
            consecutive_failures=state.consecutive_failures,
            disabled_at=iso(state.disabled_at) if state.disabled_at else None,
            disabled_reason=state.disabled_reason,
            pending=state.pending,
        )


class WebhookCreated(WebhookOut):
    secret: str  # shown once: the receiver verifies signatures with it


class WebhookList(BaseModel):
    items: list[WebhookOut]


class DeliveryOut(BaseModel):
    id: str
    endpoint: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: str
    delivered_at: str | None
    next_attempt_at: str | None

    @classmethod
    def of(cls, d: Delivery) -> DeliveryOut:
        return cls(
            id=str(d.id),
            endpoint=d.endpoint,
            event_id=d.event_id,
            event_type=d.event_type,
            status=d.status,
            attempts=d.attempts,
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            created_at=iso(d.created_at),
            delivered_at=iso(d.delivered_at) if d.delivered_at else None,
            next_attempt_at=iso(d.next_attempt_at) if d.next_attempt_at else None,
        )


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next: str | None


@router.get("", response_model=WebhookList)
async def list_webhooks(caller: AdminDep, kefu: NodeDep) -> WebhookList:
    """Every configured endpoint with its health and how many deliveries wait for it."""
    return WebhookList(items=[WebhookOut.of(view) for view in await kefu.webhooks.endpoints()])


@router.post("", status_code=201, response_model=WebhookCreated)
async def create_webhook(
    body: ConsoleWebhookSpec, caller: AdminDep, kefu: NodeDep
) -> WebhookCreated:
    """A webhook that receives every event matching ``events``; 409 when the name exists."""
    view, secret = await kefu.webhooks.create(body, caller.key)
    kefu.hub.announce_reload("webhooks")
    await kefu.repos.audit.record(
        "webhook.create",
        actor=caller.key,
        target=view.name,
        now=kefu.clock.now(),
        detail={"url": view.url, "events": list(view.events)},
    )
    return WebhookCreated(**WebhookOut.of(view).model_dump(), secret=secret)


@router.delete("/{name}", status_code=204)
async def delete_webhook(name: str, caller: AdminDep, kefu: NodeDep) -> None:
    """Remove a console webhook and its delivery log (409 for a configured one)."""
    await kefu.webhooks.delete(name)
    kefu.hub.announce_reload("webhooks")
    await kefu.repos.audit.record(
        "webhook.delete", actor=caller.key, target=name, now=kefu.clock.now()
    )


@router.get("/{name}/deliveries", response_model=DeliveryPage)
async def list_deliveries(
    name: str,
    caller: AdminDep,
    kefu: NodeDep,
    status: DeliveryStatus | None = None,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DeliveryPage:
    """The delivery log, newest first; ``next`` is the cursor of the following page."""
    before = _id(cursor) if cursor else None
    if cursor and before is None:
        raise BadInput("cursor is not one this server issued", code="invalid_cursor")
    items = await kefu.webhooks.deliveries(name, status=status, before_id=before, limit=limit)
    return DeliveryPage(
        items=[DeliveryOut.of(d) for d in items],
        next=str(items[-1].id) if len(items) == limit else None,
    )


@router.post("/{name}/enable", response_model=WebhookOut)
async def enable(name: str, caller: AdminDep, kefu: NodeDep) -> WebhookOut:
    """Send to the endpoint again (its waiting deliveries go at once); resets the count."""
    view = await kefu.webhooks.enable(name)
    await kefu.repos.audit.record(
        "webhook.enable", actor=caller.key, target=name, now=kefu.clock.now()
    )
    return WebhookOut.of(view)


@router.post("/deliveries/{delivery_id}/retry", response_model=DeliveryOut)
async def retry(delivery_id: str, caller: AdminDep, kefu: NodeDep) -> DeliveryOut:
    """A failed delivery back to pending, due now, with its attempts counted afresh."""
    number = _id(delivery_id)
    if number is None:  # names no delivery: 404 like any unknown id, not a 422
        raise NotFound(f"no delivery {delivery_id[:40]!r}", code="delivery_not_found")
    delivery = await kefu.webhooks.retry(number)
    await kefu.repos.audit.record(
        "webhook.retry", actor=caller.key, target=delivery_id, now=kefu.clock.now()
    )
    return DeliveryOut.of(delivery)


def _id(value: str) -> int | None:
    return int(value) if _ID.fullmatch(value) else None
