"""Sagas over REST (CONTRACT.md "Sagas"): start, read, list, retry, compensate, and the
definitions the console's confirm dialog shows.

Who: agents of any role start and read; supervisors and admins retry and compensate.
Machine clients use API tokens: ``sagas:write`` starts (and reads), ``sagas:read`` reads.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field, StringConstraints

from kefu.api.customer_keys import CustomerKey
from kefu.api.deps import NodeDep, bearer
from kefu.api.schemas import Strict
from kefu.auth.api_tokens import is_api_token
from kefu.domain.roles import Role
from kefu.domain.saga import SagaStatus
from kefu.errors import Forbidden, Unavailable
from kefu.node import Node
from kefu.sagas.service import SagaService
from kefu.store.sagas import SagaFilter

router = APIRouter(prefix="/api/v1", tags=["sagas"])

SagaName = Annotated[str, StringConstraints(min_length=1, max_length=40)]
IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=200)]


def saga_caller(*scopes: str) -> Any:
    """Dependency: the caller's key if it may use sagas so (any agent, or an API token
    holding one of ``scopes``)."""

    async def check(request: Request, kefu: NodeDep) -> str:
        token = bearer(request)
        if is_api_token(token):
            machine = await kefu.api_tokens.authenticate(token)
            if not machine.scopes & set(scopes):
                machine.require(scopes[0])
            return machine.key
        caller = await kefu.auth.principal(token)
        if not caller.is_agent:
            raise Forbidden("agents only", code="agents_only")
        return caller.key

    check.__name__ = f"saga_caller_{'_'.join(s.replace(':', '_') for s in scopes)}"
    return check


async def saga_supervisor(request: Request, kefu: NodeDep) -> str:
    """Retry and compensate are a human's decision: supervisors and admins, no API token."""
    token = bearer(request)
    if is_api_token(token):
        raise Forbidden("retry and compensate need a supervisor or admin", code="insufficient_role")
    caller = await kefu.auth.principal(token)
    if not caller.is_agent or not caller.has_role(Role.SUPERVISOR):
        raise Forbidden("requires the supervisor role", code="insufficient_role")
    return caller.key


StarterDep = Annotated[str, Depends(saga_caller("sagas:write"))]
SupervisorDep = Annotated[str, Depends(saga_supervisor)]
ReaderDep = Annotated[str, Depends(saga_caller("sagas:read", "sagas:write"))]


def sagas_of(kefu: Node) -> SagaService:
    if kefu.sagas is None:
        raise Unavailable("sagas are not running on this node")
    return kefu.sagas


class SagaStart(Strict):
    NUL_CHECKED_BY_FIELD = frozenset({"customer_key"})
    input: dict[str, Any] = Field(default_factory=dict)
    customer_key: CustomerKey | None = None
    idempotency_key: IdempotencyKey | None = None


class Started(BaseModel):
    saga_id: str


class SagaPage(BaseModel):
    items: list[dict[str, Any]]
    next: str | None


class Definitions(BaseModel):
    items: list[dict[str, Any]]


@router.get("/saga-definitions", response_model=Definitions)
async def list_definitions(caller: ReaderDep, kefu: NodeDep) -> Definitions:
    """The configured sagas: declared input and steps (``compensable``, ``pivot``)."""
    return Definitions(items=sagas_of(kefu).definitions())


@router.post("/sagas/{name}", status_code=202, response_model=Started)
async def start_saga(name: SagaName, body: SagaStart, caller: StarterDep, kefu: NodeDep) -> Started:
    """Start the saga; the same ``idempotency_key`` again answers the same id and starts
    nothing. 404 ``unknown_saga``; 422 when ``input`` breaks the declared input."""
    saga_id = await sagas_of(kefu).start(
        name,
        body.input,
        customer_key=body.customer_key,
        idempotency_key=body.idempotency_key,
        created_by=caller,
    )
    return Started(saga_id=saga_id)


@router.get("/sagas", response_model=SagaPage)
async def list_sagas(
    caller: ReaderDep,
    kefu: NodeDep,
    status: SagaStatus | None = None,
    customer_key: Annotated[CustomerKey | None, Query()] = None,
    name: Annotated[SagaName | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> SagaPage:
    """Newest first; ``next`` is the following page's ``cursor`` (null on the last)."""
    where = SagaFilter(
        status=status.value if status else None, customer_key=customer_key, name=name
    )
    items, after = await sagas_of(kefu).search(where, limit=limit, cursor=cursor)
    return SagaPage(items=items, next=after)


@router.get("/sagas/{saga_id}")
async def get_saga(saga_id: str, caller: ReaderDep, kefu: NodeDep) -> dict[str, Any]:
    return await sagas_of(kefu).get(saga_id)


@router.post("/sagas/{saga_id}/retry")
async def retry_saga(saga_id: str, caller: SupervisorDep, kefu: NodeDep) -> dict[str, Any]:
    """A failed saga resumes from its failed step (or its failed compensation); 409 in
    any other state."""
    saga = await sagas_of(kefu).retry(saga_id)
    await _audit(kefu, "saga.retry", caller, saga)
    return saga


@router.post("/sagas/{saga_id}/compensate")
async def compensate_saga(saga_id: str, caller: SupervisorDep, kefu: NodeDep) -> dict[str, Any]:
    """A failed saga is undone step by step in reverse; 409 in any other state, and for
    a saga that failed past its pivot step (it only goes forward)."""
    saga = await sagas_of(kefu).compensate(saga_id)
    await _audit(kefu, "saga.compensate", caller, saga)
    return saga


async def _audit(kefu: Node, action: str, caller: str, saga: dict[str, Any]) -> None:
    await kefu.repos.audit.record(
        action, actor=caller, target=saga["id"], now=kefu.clock.now(), detail={"name": saga["name"]}
    )
