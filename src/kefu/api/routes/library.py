"""What agents reuse: canned replies (every agent reads, supervisors edit) and
keyword auto-replies (admins)."""

from __future__ import annotations

from fastapi import APIRouter

from kefu.api.deps import AdminDep, AgentDep, NodeDep, SupervisorDep
from kefu.api.schemas import (
    AutoReplyCreate,
    AutoReplyOut,
    AutoReplyPatch,
    CannedCreate,
    CannedOut,
    CannedPatch,
)
from kefu.errors import BadInput

router = APIRouter(prefix="/api/v1", tags=["canned replies", "auto-replies"])


@router.get("/canned-replies", response_model=list[CannedOut])
async def list_canned(caller: AgentDep, kefu: NodeDep) -> list[CannedOut]:
    return [
        CannedOut(id=c.id, shortcut=c.shortcut, title=c.title, body=c.body)
        for c in await kefu.repos.canned.list()
    ]


@router.post("/canned-replies", status_code=201, response_model=CannedOut)
async def create_canned(body: CannedCreate, caller: SupervisorDep, kefu: NodeDep) -> CannedOut:
    c = await kefu.repos.canned.create(
        shortcut=body.shortcut, title=body.title, body=body.body, now=kefu.clock.now()
    )
    return CannedOut(id=c.id, shortcut=c.shortcut, title=c.title, body=c.body)


@router.patch("/canned-replies/{reply_id}", response_model=CannedOut)
async def update_canned(
    reply_id: str, body: CannedPatch, caller: SupervisorDep, kefu: NodeDep
) -> CannedOut:
    changes = body.model_dump(exclude_none=True)
    if not changes:
        raise BadInput("nothing to change", code="empty_patch")
    c = await kefu.repos.canned.update(reply_id, kefu.clock.now(), **changes)
    return CannedOut(id=c.id, shortcut=c.shortcut, title=c.title, body=c.body)


@router.delete("/canned-replies/{reply_id}", status_code=204)
async def delete_canned(reply_id: str, caller: SupervisorDep, kefu: NodeDep) -> None:
    await kefu.repos.canned.delete(reply_id)


@router.get("/auto-replies", response_model=list[AutoReplyOut])
async def list_auto_replies(caller: AdminDep, kefu: NodeDep) -> list[AutoReplyOut]:
    return [
        AutoReplyOut(id=rule_id, keywords=list(rule.keywords), reply=rule.reply)
        for rule_id, rule in await kefu.repos.auto_replies.list()
    ]


@router.post("/auto-replies", status_code=201, response_model=AutoReplyOut)
async def create_auto_reply(body: AutoReplyCreate, caller: AdminDep, kefu: NodeDep) -> AutoReplyOut:
    rule_id = await kefu.repos.auto_replies.create(body.keywords, body.reply, kefu.clock.now())
    await kefu.chat.reload_auto_replies()
    kefu.hub.announce_reload("auto_replies")
    return AutoReplyOut(id=rule_id, keywords=body.keywords, reply=body.reply)


@router.patch("/auto-replies/{rule_id}", response_model=AutoReplyOut)
async def update_auto_reply(
    rule_id: str, body: AutoReplyPatch, caller: AdminDep, kefu: NodeDep
) -> AutoReplyOut:
    """Edit a rule in place: its keywords, its reply, or both."""
    changes = body.model_dump(exclude_none=True)
    if not changes:
        raise BadInput("nothing to change", code="empty_patch")
    rule = await kefu.repos.auto_replies.update(rule_id, **changes)
    await kefu.chat.reload_auto_replies()
    kefu.hub.announce_reload("auto_replies")
    return AutoReplyOut(id=rule_id, keywords=list(rule.keywords), reply=rule.reply)


@router.delete("/auto-replies/{rule_id}", status_code=204)
async def delete_auto_reply(rule_id: str, caller: AdminDep, kefu: NodeDep) -> None:
    await kefu.repos.auto_replies.delete(rule_id)
    await kefu.chat.reload_auto_replies()
    kefu.hub.announce_reload("auto_replies")
