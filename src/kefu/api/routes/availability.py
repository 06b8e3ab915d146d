"""Whether any agent is online, so the widget can offer the offline form up front."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from kefu.api.deps import NodeDep

router = APIRouter(prefix="/api/v1", tags=["visitors"])


class Availability(BaseModel):
    agents_online: bool


@router.get("/availability", response_model=Availability)
async def availability(kefu: NodeDep) -> Availability:
    """Public (no token): a shop page shows "we are online" before anyone chats."""
    return Availability(agents_online=await kefu.chat.available())
