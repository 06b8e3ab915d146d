"""A visitor's right to erasure, for admins: ``POST /api/v1/privacy/erasures``.

Names the visitor by id, by email (every visitor that gave it) or by the shop's
``external_id``; closes their open conversations (the agents see them end), closes their
sockets, then deletes everything kefu holds about them (``kefu.privacy.erasure``),
mail threads included.
Idempotent: erasing again, or someone unknown, answers with zero counts.
"""

from __future__ import annotations

from typing import Annotated, Self

from fastapi import APIRouter
from pydantic import BaseModel, StringConstraints, model_validator

from kefu.api.deps import AdminDep, NodeDep
from kefu.api.schemas import Strict
from kefu.auth.principal import visitor_key

router = APIRouter(prefix="/api/v1/privacy", tags=["privacy"])

Selector = Annotated[str, StringConstraints(min_length=1, max_length=320)]


class ErasureRequest(Strict):
    visitor_id: Selector | None = None
    email: Selector | None = None
    external_id: Selector | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        given = [v for v in (self.visitor_id, self.email, self.external_id) if v is not None]
        if len(given) != 1:
            raise ValueError("name exactly one of visitor_id, email, external_id")
        return self


class ErasureReport(BaseModel):
    visitor_ids: list[str]
    visitors: int
    conversations: int
    messages: int
    attachments: int
    files: int
    offline_messages: int
    tickets_unlinked: int
    email_threads: int
    email_messages: int
    ticket_files: int


@router.post("/erasures", response_model=ErasureReport)
async def erase(body: ErasureRequest, caller: AdminDep, kefu: NodeDep) -> ErasureReport:
    ids = await kefu.eraser.visitors_matching(
        visitor_id=body.visitor_id, email=body.email, external_id=body.external_id
    )
    for conversation_id in await kefu.eraser.open_conversations(ids):
        await kefu.chat.close(caller, conversation_id)
    for visitor_id in ids:
        await kefu.hub.disconnect(visitor_key(visitor_id), "token_revoked")
    # An email names its mail threads too, whether or not a visitor ever gave it.
    addresses = [body.email] if body.email is not None else []
    gone = await kefu.eraser.erase_visitors(ids, addresses)
    # Ids and counts only: the request's email would put back what was just erased.
    await kefu.repos.audit.record(
        "privacy.erasure",
        actor=caller.key,
        target=None,
        now=kefu.clock.now(),
        detail={"visitor_ids": ids, **gone.counts()},
    )
    return ErasureReport(visitor_ids=ids, **gone.counts())
