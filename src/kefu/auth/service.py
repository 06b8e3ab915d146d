"""Login, visitor sessions and turning a bearer token into a ``Principal``."""

from __future__ import annotations

import time
from dataclasses import dataclass

from kefu.auth.identity import verify_external_id
from kefu.auth.passwords import Argon2Hasher
from kefu.auth.principal import Principal
from kefu.auth.throttle import LoginThrottle
from kefu.auth.tokens import PrincipalKind, TokenSigner
from kefu.domain.accounts import account_email
from kefu.domain.models import Agent, Visitor
from kefu.errors import Forbidden, RateLimited, Unauthenticated
from kefu.ports import Clock, PasswordHasher
from kefu.store.repositories import Repositories

# How long a resolved agent stays cached: a revoked token dies within this many seconds
# without a store round trip on every REST call.
PRINCIPAL_CACHE_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class VisitorSession:
    visitor: Visitor
    token: str


class AuthService:
    def __init__(
        self,
        repos: Repositories,
        signer: TokenSigner,
        throttle: LoginThrottle,
        clock: Clock,
        identity_secret: str | None,
        visitors_per_minute: int,
        site_secrets: dict[str, str | None] | None = None,
        passwords: PasswordHasher | None = None,
    ) -> None:
        self._passwords = passwords or Argon2Hasher()
        # Per-site identity secrets; a site without one uses ``identity_secret``.
        self._site_secrets = site_secrets or {}
        self._visitors_per_minute = visitors_per_minute
        self._repos = repos
        self._signer = signer
        self._throttle = throttle
        self._clock = clock
        self._identity_secret = identity_secret
        self._agents: dict[str, tuple[float, Agent]] = {}

    async def login(self, email: str, password: str, ip: str) -> tuple[str, Agent]:
        # One spelling for the lockout and the lookup (see kefu.domain.accounts).
        email = account_email(email)
        await self._throttle.check(ip, email)
        found = await self._repos.agents.by_email(email)
        agent, password_hash = found if found else (None, None)
        ok = await self._passwords.verify(password_hash, password)
        if agent is None or not ok or agent.disabled:
            await self._throttle.failed(email)
            raise Unauthenticated("wrong email or password", code="invalid_credentials")
        await self._throttle.succeeded(email)
        token = self._signer.issue(
            PrincipalKind.AGENT, agent.id, self._clock.now(), agent.token_version
        )
        await self._repos.audit.record(
            "agent.login",
            actor=f"agent:{agent.id}",
            target=None,
            now=self._clock.now(),
            detail={"ip": ip},
        )
        return token, agent

    async def logout(self, agent_id: str) -> None:
        await self._repos.agents.revoke_tokens(agent_id)
        self._agents.pop(agent_id, None)

    async def start_visitor(
        self,
        *,
        name: str | None,
        email: str | None,
        external_id: str | None,
        signature: str | None,
        page_url: str | None,
        referrer: str | None,
        ip: str | None,
        user_agent: str | None,
        site_id: str | None = None,
        timezone: str | None = None,
        locale: str | None = None,
    ) -> VisitorSession:
        if ip is not None:
            minted = await self._throttle.count_visitor(ip)
            if minted > self._visitors_per_minute:
                raise RateLimited(
                    "too many visitor sessions from this address",
                    retry_after=60.0,
                    code="too_many_sessions",
                )
        verified = False
        secret = self._site_secrets.get(site_id or "") or self._identity_secret
        if external_id is not None and secret is not None and signature is not None:
            # Unsigned ids are kept but untrusted; a wrong signature is an attack or a bug.
            if not verify_external_id(secret, external_id, signature):
                raise Forbidden(
                    "the signature does not match external_id", code="invalid_signature"
                )
            verified = True
        visitor = await self._repos.visitors.create(
            now=self._clock.now(),
            name=name,
            email=email,
            external_id=external_id,
            identity_verified=verified,
            page_url=page_url,
            referrer=referrer,
            ip=ip,
            user_agent=user_agent,
            site_id=site_id,
            timezone=timezone,
            locale=locale,
        )
        token = self._signer.issue(PrincipalKind.VISITOR, visitor.id, self._clock.now())
        return VisitorSession(visitor, token)

    async def principal(self, token: str | None) -> Principal:
        if not token:
            raise Unauthenticated("a bearer token is required", code="missing_token")
        claims = self._signer.verify(token)
        if claims.kind is PrincipalKind.VISITOR:
            visitor = await self._repos.visitors.get(claims.subject)
            if visitor is None:
                raise Unauthenticated("the token is not valid", code="invalid_token")
            return Principal(
                PrincipalKind.VISITOR, visitor.id, visitor.name, site_id=visitor.site_id
            )
        agent = await self._agent(claims.subject)
        if agent is None or agent.disabled or agent.token_version != claims.version:
            raise Unauthenticated("the token has been revoked", code="token_revoked")
        return Principal(PrincipalKind.AGENT, agent.id, agent.name, agent.role)

    def forget(self, agent_id: str) -> None:
        """Drop a cached agent after an admin changed it, so the change applies at once."""
        self._agents.pop(agent_id, None)

    async def _agent(self, agent_id: str) -> Agent | None:
        now = time.monotonic()
        cached = self._agents.get(agent_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        agent = await self._repos.agents.get(agent_id)
        if agent is not None:
            self._agents[agent_id] = (now + PRINCIPAL_CACHE_SECONDS, agent)
        return agent
