"""Agent administration: admins create and change agents; supervisors may list them."""

from __future__ import annotations

from fastapi import APIRouter

from kefu.api.deps import AdminDep, NodeDep, SupervisorDep
from kefu.api.schemas import AgentCreate, AgentOut, AgentPatch
from kefu.auth.principal import agent_key
from kefu.errors import BadInput

router = APIRouter(prefix="/api/v1/agents", tags=["agents"])


@router.get("", response_model=list[AgentOut])
async def list_agents(caller: SupervisorDep, kefu: NodeDep) -> list[AgentOut]:
    return [AgentOut.of(agent) for agent in await kefu.repos.agents.list()]


@router.post("", status_code=201, response_model=AgentOut)
async def create_agent(body: AgentCreate, caller: AdminDep, kefu: NodeDep) -> AgentOut:
    agent = await kefu.repos.agents.create(
        email=body.email,
        name=body.name,
        role=body.role,
        password_hash=await kefu.passwords.hash(body.password),
        capacity=body.capacity,
        now=kefu.clock.now(),
    )
    await kefu.repos.audit.record(
        "agent.create",
        actor=caller.key,
        target=agent.id,
        now=kefu.clock.now(),
        detail={"role": agent.role.value},
    )
    return AgentOut.of(agent)


@router.patch("/{agent_id}", response_model=AgentOut)
async def update_agent(
    agent_id: str, body: AgentPatch, caller: AdminDep, kefu: NodeDep
) -> AgentOut:
    current = await kefu.repos.agents.require(agent_id)
    changes = {
        field: value
        for field, value in body.model_dump(exclude_none=True, exclude={"password"}).items()
        if getattr(current, field) != value  # an unchanged value must not revoke tokens
    }
    if not changes and body.password is None:
        if not body.model_dump(exclude_none=True):
            raise BadInput("nothing to change", code="empty_patch")
        return AgentOut.of(current)  # idempotent: the values asked for are already set
    if body.password is not None:
        changes["password_hash"] = await kefu.passwords.hash(body.password)
    agent = await kefu.repos.agents.update(agent_id, **changes)
    kefu.auth.forget(agent_id)
    if {"disabled", "role", "password_hash"} & changes.keys():
        await kefu.hub.disconnect(agent_key(agent_id), "token_revoked")
    await kefu.chat.agent_changed(agent)
    await kefu.repos.audit.record(
        "agent.update",
        actor=caller.key,
        target=agent_id,
        now=kefu.clock.now(),
        detail={
            k: v
            for k, v in body.model_dump(exclude_none=True, mode="json").items()
            if k != "password"
        },
    )
    return AgentOut.of(agent)
