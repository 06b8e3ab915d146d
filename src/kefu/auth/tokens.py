"""Signed bearer tokens (JWT, HS256) for agents and visitors.

An agent token carries the agent's ``token_version``; bumping it in the store (disable,
role or password change, logout) revokes every token issued before.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import jwt

from kefu.errors import Unauthenticated

ALGORITHM = "HS256"
ISSUER = "kefu"
VERIFIED_CACHE_ENTRIES = 50_000  # ~10 MB at most: tokens of every live session


class PrincipalKind(StrEnum):
    AGENT = "agent"
    VISITOR = "visitor"


@dataclass(frozen=True, slots=True)
class TokenClaims:
    kind: PrincipalKind
    subject: str
    version: int


class TokenSigner:
    def __init__(self, secret: str, *, agent_ttl: timedelta, visitor_ttl: timedelta) -> None:
        self._secret = secret
        self._ttl = {PrincipalKind.AGENT: agent_ttl, PrincipalKind.VISITOR: visitor_ttl}
        # Verified tokens -> (claims, exp): a token is immutable, so its signature need
        # not be checked again on every request (~20 µs of HMAC and base64 each). Expiry
        # is still checked on every use; revocation lives in the claims' version.
        self._verified: dict[str, tuple[TokenClaims, float]] = {}

    def issue(self, kind: PrincipalKind, subject: str, now: datetime, version: int = 1) -> str:
        claims = {
            "iss": ISSUER,
            "sub": subject,
            "knd": kind.value,
            "ver": version,
            "iat": int(now.timestamp()),
            "exp": int((now + self._ttl[kind]).timestamp()),
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> TokenClaims:
        known = self._verified.get(token)
        if known is not None:
            if known[1] > time.time():
                return known[0]
            del self._verified[token]
        claims = self._decode(token)
        if len(self._verified) >= VERIFIED_CACHE_ENTRIES:
            self._verified.clear()  # simple bound: refilled by the next requests
        self._verified[token] = claims
        return claims[0]

    def _decode(self, token: str) -> tuple[TokenClaims, float]:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "sub", "iss"]},
            )
            found = TokenClaims(
                PrincipalKind(claims["knd"]), str(claims["sub"]), int(claims["ver"])
            )
            return found, float(claims["exp"])
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired", code="token_expired") from None
        except (jwt.InvalidTokenError, KeyError, ValueError, TypeError):
            raise Unauthenticated("the token is not valid", code="invalid_token") from None
