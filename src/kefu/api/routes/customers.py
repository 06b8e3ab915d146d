"""Customer 360 over REST: JSON by default, binary ``kefu.v1.UnifiedCustomer`` on request."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from kefu.api.deps import AgentDep, NodeDep
from kefu.unify.render import as_json

router = APIRouter(prefix="/api/v1/customers", tags=["customer 360"])

PROTOBUF = "application/x-protobuf"


class CandidateOut(BaseModel):
    key: str
    name: str | None
    source: str


class CandidatesOut(BaseModel):
    items: list[CandidateOut]


class SourceOut(BaseModel):
    name: str
    connector: str
    ttl_seconds: float
    breaker: str
    lookup: list[str]


@router.get(
    "/lookup",
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


@router.get("/sources", response_model=list[SourceOut], summary="Configured 360 sources")
async def sources(caller: AgentDep, kefu: NodeDep) -> list[SourceOut]:
    return [
        SourceOut(
            name=source.name,
            connector=source.settings.connector,
            ttl_seconds=source.settings.ttl_seconds,
            breaker=source.breaker_state.value,
            lookup=sorted(source.lookups),
        )
        for source in kefu.customers.sources
    ]


@router.get(
    "/{key:path}/360",
    summary="Everything every department knows about a customer, fetched live",
    responses={
        200: {
            "description": "JSON, or binary kefu.v1.UnifiedCustomer with "
            "Accept: application/x-protobuf",
            "content": {"application/json": {}, PROTOBUF: {}},
        }
    },
)
async def unified(
    key: str,
    request: Request,
    caller: AgentDep,
    kefu: NodeDep,
    refresh: bool = False,
) -> Response:
    result = await kefu.customers.unified(key, refresh=refresh)
    headers = {"Cache-Control": "no-store", "Vary": "Accept"}
    if PROTOBUF in request.headers.get("accept", ""):
        return Response(result.SerializeToString(), media_type=PROTOBUF, headers=headers)
    return Response(as_json(result), media_type="application/json", headers=headers)
