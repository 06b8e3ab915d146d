"""Who is on the other end of a request or socket."""

from __future__ import annotations

from dataclasses import dataclass

from kefu.auth.tokens import PrincipalKind
from kefu.domain.roles import Role


@dataclass(frozen=True, slots=True)
class Principal:
    kind: PrincipalKind
    id: str
    name: str | None
    role: Role | None = None  # agents only
    site_id: str | None = None  # visitors only: the site whose widget created it

    @property
    def key(self) -> str:
        """The hub address of every socket this principal holds."""
        return f"{self.kind.value}:{self.id}"

    @property
    def is_agent(self) -> bool:
        return self.kind is PrincipalKind.AGENT

    def has_role(self, role: Role) -> bool:
        return self.role is not None and self.role.at_least(role)


def agent_key(agent_id: str) -> str:
    return f"{PrincipalKind.AGENT.value}:{agent_id}"


def visitor_key(visitor_id: str) -> str:
    return f"{PrincipalKind.VISITOR.value}:{visitor_id}"
