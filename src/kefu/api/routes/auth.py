"""Agent login and logout. Visitor sessions (``POST /api/v1/visitors``) are served by
aiohttp itself: ``kefu.web.visitors``."""

from __future__ import annotations

from fastapi import APIRouter, Request

from kefu.api.deps import AgentDep, NodeDep, client_ip
from kefu.api.schemas import (
    AgentOut,
    LoginRequest,
    LoginResponse,
    MePatch,
)

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
