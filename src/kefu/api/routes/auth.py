"""Agent login/logout and visitor sessions."""

from __future__ import annotations

from fastapi import APIRouter, Request

from kefu.api.deps import AgentDep, NodeDep, client_ip
from kefu.api.schemas import (
    AgentOut,
    LoginRequest,
    LoginResponse,
    MePatch,
    VisitorRequest,
    VisitorResponse,
)
from kefu.errors import BadInput, Forbidden

router = APIRouter(prefix="/api/v1", tags=["auth"])


@router.post("/auth/login", response_model=LoginResponse)
async def login(body: LoginRequest, request: Request, kefu: NodeDep) -> LoginResponse:
    token, agent = await kefu.auth.login(body.email, body.password, client_ip(request))
    return LoginResponse(token=token, agent=AgentOut.of(agent))


@router.post("/auth/logout", status_code=204)
async def logout(caller: AgentDep, kefu: NodeDep) -> None:
    """Revokes every token of the caller (all devices)."""
    await kefu.auth.logout(caller.id)
    await kefu.hub.disconnect(caller.key, "token_revoked")


@router.get("/auth/me", response_model=AgentOut)
async def me(caller: AgentDep, kefu: NodeDep) -> AgentOut:
    return AgentOut.of(await kefu.repos.agents.require(caller.id))


@router.patch("/auth/me", response_model=AgentOut)
async def patch_me(body: MePatch, caller: AgentDep, kefu: NodeDep) -> AgentOut:
    """Away: keep your conversations, get no new ones; back: the queue comes to you.
    Language: the console's, kept here so it follows the agent to any device."""
    current = await kefu.repos.agents.require(caller.id)
    changes: dict[str, object] = {}
    if "away" in body.model_fields_set and body.away != current.away:
        changes["away"] = body.away
    if "language" in body.model_fields_set and body.language != current.language:
        changes["language"] = body.language
    if not changes:
        return AgentOut.of(current)  # idempotent
    agent = await kefu.repos.agents.update(caller.id, **changes)
    kefu.auth.forget(caller.id)
    if "away" in changes:
        await kefu.chat.agent_changed(agent)
        await kefu.repos.audit.record(
            "agent.away" if agent.away else "agent.back",
            actor=caller.key,
            target=caller.id,
            now=kefu.clock.now(),
        )
    return AgentOut.of(agent)


@router.post("/visitors", status_code=201, response_model=VisitorResponse)
async def create_visitor(
    request: Request, kefu: NodeDep, body: VisitorRequest | None = None
) -> VisitorResponse:
    body = body or VisitorRequest()
    ip = client_ip(request)
    if kefu.blacklist.blocks(ip):
        raise Forbidden("this address is blocked", code="blocked")
    if body.site is not None and not kefu.origins.knows_site(body.site):
        raise BadInput(f"no site {body.site!r} is configured", code="unknown_site")
    origin = request.headers.get("origin")
    if (
        origin is not None
        and not kefu.origins.is_own(origin, request.headers.get("host"))
        and not kefu.origins.site_allows(body.site, origin)
    ):
        raise Forbidden(
            "this page's origin is not one of the site's origins", code="origin_not_allowed"
        )
    session = await kefu.auth.start_visitor(
        name=body.name,
        email=body.email,
        external_id=body.external_id,
        signature=body.signature,
        page_url=body.page_url,
        referrer=body.referrer,
        ip=ip,
        user_agent=request.headers.get("user-agent", "")[:500] or None,
        site_id=body.site,
        timezone=body.timezone,
        locale=body.locale,
    )
    return VisitorResponse(visitor_id=session.visitor.id, token=session.token)
