"""Request-scoped dependencies: the node, the caller, role checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from kefu.api.kernel import bearer_token
from kefu.auth.principal import Principal
from kefu.domain.roles import Role
from kefu.errors import Forbidden
from kefu.node import Node


async def node(request: Request) -> Node:
    # async on purpose: FastAPI runs a sync dependency in a worker thread, a hop per request.
    value: Node = request.app.state.node
    return value


NodeDep = Annotated[Node, Depends(node)]


def bearer(request: Request) -> str | None:
    return bearer_token(request.headers.get("authorization"))


async def principal(request: Request, kefu: NodeDep) -> Principal:
    """The caller; a visitor from a blocked address is refused on every request."""
    caller = await kefu.auth.principal(bearer(request))
    kefu.blacklist.check(caller, client_ip(request))
    return caller


PrincipalDep = Annotated[Principal, Depends(principal)]


def role(minimum: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """Dependency: an agent with at least ``minimum``; visitors are refused."""

    async def check(caller: PrincipalDep) -> Principal:
        if not caller.is_agent:
            raise Forbidden("agents only", code="agents_only")
        if not caller.has_role(minimum):
            raise Forbidden(f"requires the {minimum.value} role", code="insufficient_role")
        return caller

    return check


AgentDep = Annotated[Principal, Depends(role(Role.AGENT))]
SupervisorDep = Annotated[Principal, Depends(role(Role.SUPERVISOR))]
AdminDep = Annotated[Principal, Depends(role(Role.ADMIN))]


def client_ip(request: Request) -> str:
    kefu: Node = request.app.state.node
    peer = request.client.host if request.client else None
    # Proxies may add their own header line rather than extend the first: read them all.
    forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
    return kefu.client_address.resolve(peer, forwarded)
