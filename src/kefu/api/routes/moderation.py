"""IP blacklist, offline messages and the audit log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from kefu.api.deps import AdminDep, NodeDep, PrincipalDep, SupervisorDep
from kefu.api.schemas import BlacklistCreate, BlacklistOut, OfflineMessageCreate, OfflineMessageOut
from kefu.chat.blacklist import parse_network
from kefu.errors import Forbidden
from kefu.store.offline import OfflineMessage
from kefu.timefmt import iso

router = APIRouter(prefix="/api/v1", tags=["moderation"])


@router.get("/blacklist", response_model=list[BlacklistOut])
async def list_blacklist(caller: SupervisorDep, kefu: NodeDep) -> list[BlacklistOut]:
    return [
        BlacklistOut(id=e.id, network=e.network, reason=e.reason, created_at=iso(e.created_at))
        for e in await kefu.repos.blacklist.list()
    ]


@router.post("/blacklist", status_code=201, response_model=BlacklistOut)
async def add_blacklist(
    body: BlacklistCreate, caller: SupervisorDep, kefu: NodeDep
) -> BlacklistOut:
    network = str(parse_network(body.network))
    entry = await kefu.repos.blacklist.add(network, body.reason, kefu.clock.now())
    await kefu.blacklist.refresh()
    kefu.hub.announce_reload("blacklist")
    await kefu.repos.audit.record(
        "blacklist.add", actor=caller.key, target=network, now=kefu.clock.now()
    )
    return BlacklistOut(
        id=entry.id, network=entry.network, reason=entry.reason, created_at=iso(entry.created_at)
    )


@router.delete("/blacklist/{entry_id}", status_code=204)
async def remove_blacklist(entry_id: str, caller: SupervisorDep, kefu: NodeDep) -> None:
    await kefu.repos.blacklist.remove(entry_id)
    await kefu.blacklist.refresh()
    kefu.hub.announce_reload("blacklist")
    await kefu.repos.audit.record(
        "blacklist.remove", actor=caller.key, target=entry_id, now=kefu.clock.now()
    )


@router.post("/offline-messages", status_code=201, response_model=OfflineMessageOut)
async def leave_offline_message(
    body: OfflineMessageCreate, caller: PrincipalDep, kefu: NodeDep
) -> OfflineMessageOut:
    """A visitor's message for when nobody is online; the tickets capability picks it up."""
    if caller.is_agent:
        raise Forbidden("visitors only", code="visitors_only")
    item = await kefu.repos.offline.add(
        caller.id, body.body, kefu.clock.now(), name=body.name, email=body.email
    )
    return _offline(item)


@router.get("/offline-messages", response_model=list[OfflineMessageOut])
async def list_offline_messages(caller: SupervisorDep, kefu: NodeDep) -> list[OfflineMessageOut]:
    return [_offline(item) for item in await kefu.repos.offline.list()]


@router.get("/audit")
async def audit(caller: AdminDep, kefu: NodeDep) -> dict[str, Any]:
    entries = await kefu.repos.audit.recent()
    for entry in entries:
        entry["at"] = iso(entry["at"])
    return {"items": entries}


def _offline(item: OfflineMessage) -> OfflineMessageOut:
    return OfflineMessageOut(
        id=item.id,
        visitor_id=item.visitor_id,
        name=item.name,
        email=item.email,
        body=item.body,
        created_at=iso(item.created_at),
        ticket_id=item.ticket_id,
    )
