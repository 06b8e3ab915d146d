"""Admins create, list and revoke API tokens for machine clients."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field, StringConstraints

from kefu.api.deps import AdminDep, NodeDep
from kefu.api.schemas import Strict
from kefu.auth.api_tokens import SCOPES
from kefu.store.api_tokens import ApiToken

router = APIRouter(prefix="/api/v1/api-tokens", tags=["API tokens"])


class TokenCreate(Strict):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    scopes: list[str] = Field(min_length=1)


class TokenOut(BaseModel):
    id: str
    name: str
    scopes: list[str]
    created_by: str
    created_at: str
    last_used_at: str | None
    revoked_at: str | None

    @classmethod
    def of(cls, token: ApiToken) -> TokenOut:
        return cls(
            id=token.id,
            name=token.name,
            scopes=list(token.scopes),
            created_by=token.created_by,
            created_at=token.created_at.isoformat(),
            last_used_at=token.last_used_at.isoformat() if token.last_used_at else None,
            revoked_at=token.revoked_at.isoformat() if token.revoked_at else None,
        )


class TokenCreated(TokenOut):
    token: str  # shown once: only its hash is kept


@router.post("", status_code=201, response_model=TokenCreated)
async def create_token(body: TokenCreate, caller: AdminDep, kefu: NodeDep) -> TokenCreated:
    token, secret = await kefu.api_tokens.create(body.name, body.scopes, caller.key)
    await kefu.repos.audit.record(
        "api_token.create",
        actor=caller.key,
        target=token.id,
        now=kefu.clock.now(),
        detail={"name": token.name, "scopes": list(token.scopes)},
    )
    return TokenCreated(**TokenOut.of(token).model_dump(), token=secret)


@router.get("/scopes", response_model=list[str])
async def list_scopes(caller: AdminDep) -> list[str]:
    """What a token may be given (the console's create form offers these)."""
    return sorted(SCOPES)


@router.get("", response_model=list[TokenOut])
async def list_tokens(caller: AdminDep, kefu: NodeDep) -> list[TokenOut]:
    return [TokenOut.of(token) for token in await kefu.api_tokens.list()]


@router.delete("/{token_id}", status_code=204)
async def revoke_token(token_id: str, caller: AdminDep, kefu: NodeDep) -> None:
    await kefu.api_tokens.revoke(token_id)
    await kefu.repos.audit.record(
        "api_token.revoke", actor=caller.key, target=token_id, now=kefu.clock.now()
    )
