"""Customer 360 over REST: lookup, sources, linking a conversation to a customer.

The 360 itself (``GET /api/v1/customers/{key}/360``) is served and documented by
``kefu.web.customer360``, natively, in front of these routes."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from kefu.api.customer_keys import CustomerKey
from kefu.api.deps import AgentDep, NodeDep
from kefu.api.routes.conversations import conversation_page
from kefu.api.schemas import ConversationPage, ConversationSummaryOut, Strict
from kefu.domain.roles import Role
from kefu.errors import NotFound
from kefu.store.conversation_search import Filters

router = APIRouter(prefix="/api/v1", tags=["customer 360"])


class CandidateOut(BaseModel):
    key: str
    name: str | None
    source: str


class CandidatesOut(BaseModel):
    items: list[CandidateOut]


class CustomerLink(Strict):
    NUL_CHECKED_BY_FIELD = frozenset({"customer_key"})
    # null unlinks: the conversation falls back to the visitor's verified identity.
    customer_key: CustomerKey | None


class SourceOut(BaseModel):
    name: str
    connector: str
    ttl_seconds: float
    breaker: str
    lookup: list[str]
    maps: list[str]  # what it contributes: customer, orders, tickets, calls


@router.get(
    "/customers/lookup",
    response_model=CandidatesOut,
    summary="Find customer keys by email, phone or order number across the sources",
)
async def lookup(
    by: Literal["email", "phone", "order"],
    value: Annotated[str, Query(min_length=1, max_length=200)],
    caller: AgentDep,
    kefu: NodeDep,
) -> CandidatesOut:
    found = await kefu.customers.lookup(by, value.strip())
    return CandidatesOut(
        items=[CandidateOut(key=c.key, name=c.name, source=c.source) for c in found]
    )


@router.get("/customers/sources", response_model=list[SourceOut], summary="Configured 360 sources")
async def sources(caller: AgentDep, kefu: NodeDep) -> list[SourceOut]:
    return [
        SourceOut(
            name=source.name,
            connector=source.settings.connector,
            ttl_seconds=source.settings.ttl_seconds,
            breaker=source.breaker_state.value,
            lookup=sorted(source.lookups),
            maps=[
                target
                for target in ("customer", "orders", "tickets", "calls")
                if source.settings.map is not None
                and getattr(source.settings.map, target) is not None
            ],
        )
        for source in kefu.customers.sources
    ]


@router.get(
    "/customers/{key}/conversations",
    response_model=ConversationPage,
    summary="A customer's conversations, newest first",
)
async def customer_conversations(
    key: str,
    caller: AgentDep,
    kefu: NodeDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ConversationPage:
    """Every conversation whose customer is ``key`` (linked by an agent or the visitor's
    signed identity), across visitors: supervisors any customer's; an agent those of a
    customer one of whose conversations it holds (else 404, as for a stranger's)."""
    kefu.customers.check_key(key)
    filters = Filters(customer_key=key)
    if not caller.has_role(Role.SUPERVISOR):
        mine, _ = await kefu.repos.summaries.search(
            status=None, assignee_id=caller.id, filters=filters, limit=1
        )
        if not mine:
            raise NotFound("no conversations of this customer", code="customer_not_found")
    return await conversation_page(kefu, cursor=cursor, limit=limit, filters=filters)


@router.put(
    "/conversations/{conversation_id}/customer",
    response_model=ConversationSummaryOut,
    summary="Link a conversation to a customer key (for a visitor without a verified identity)",
)
async def link_customer(
    conversation_id: str, body: CustomerLink, caller: AgentDep, kefu: NodeDep
) -> ConversationSummaryOut:
    if body.customer_key is not None:
        kefu.customers.check_key(body.customer_key)
    await kefu.chat.link_customer(caller, conversation_id, body.customer_key)
    summary = await kefu.repos.summaries.get(conversation_id)
    if summary is None:
        raise NotFound("no such conversation", code="conversation_not_found")
    return ConversationSummaryOut.of_summary(summary)
