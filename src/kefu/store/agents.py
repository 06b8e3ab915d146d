"""Agents: accounts, roles, capacity, and the token version that revokes old tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from kefu.domain.accounts import account_email
from kefu.domain.ids import new_id
from kefu.domain.models import Agent
from kefu.domain.roles import Role
from kefu.errors import Conflict, NotFound
from kefu.store.database import Database
from kefu.store.rows import ValuesRow
from kefu.store.tables import agents


def _agent(row: Any) -> Agent:
    return Agent(
        id=row.id,
        email=row.email,
        name=row.name,
        role=Role(row.role),
        capacity=row.capacity,
        disabled=row.disabled,
        token_version=row.token_version,
        created_at=row.created_at,
        away=bool(row.away),
        language=row.language,
    )


class AgentRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        *,
        email: str,
        name: str,
        role: Role,
        password_hash: str,
        now: datetime,
        capacity: int | None = None,
    ) -> Agent:
        values = {
            "id": new_id("agt"),
            "email": account_email(email),
            "name": name,
            "role": role.value,
            "password_hash": password_hash,
            "capacity": capacity,
            "disabled": False,
            "token_version": 1,
            "created_at": now,
            "away": False,
            "language": None,
        }
        try:
            async with self._db.begin() as conn:
                await conn.execute(agents.insert().values(**values))
        except IntegrityError:
            raise Conflict(f"an agent with email {email!r} exists", code="email_taken") from None
        return _agent(ValuesRow(values))

    async def get(self, agent_id: str) -> Agent | None:
        async with self._db.connect() as conn:
            row = (await conn.execute(agents.select().where(agents.c.id == agent_id))).first()
        return _agent(row) if row else None

    async def require(self, agent_id: str) -> Agent:
        agent = await self.get(agent_id)
        if agent is None:
            raise NotFound(f"no agent {agent_id!r}", code="agent_not_found")
        return agent

    async def by_email(self, email: str) -> tuple[Agent, str] | None:
        """The agent and its password hash, for login only."""
        query = agents.select().where(agents.c.email == account_email(email))
        async with self._db.connect() as conn:
            row = (await conn.execute(query)).first()
        return (_agent(row), row.password_hash) if row else None

    async def list(self) -> list[Agent]:
        async with self._db.connect() as conn:
            rows = (await conn.execute(agents.select().order_by(agents.c.created_at))).all()
        return [_agent(row) for row in rows]

    async def update(self, agent_id: str, **changes: Any) -> Agent:
        """Apply ``name``, ``role``, ``capacity``, ``disabled``, ``away``, ``language``,
        ``password_hash`` changes.

        Disabling, a role change and a new password revoke the agent's tokens.
        """
        values = {k: (v.value if isinstance(v, Role) else v) for k, v in changes.items()}
        if {"disabled", "password_hash", "role"} & values.keys():
            values["token_version"] = agents.c.token_version + 1
        async with self._db.begin() as conn:
            result = await conn.execute(
                agents.update().where(agents.c.id == agent_id).values(**values)
            )
            if result.rowcount == 0:
                raise NotFound(f"no agent {agent_id!r}", code="agent_not_found")
        return await self.require(agent_id)

    async def revoke_tokens(self, agent_id: str) -> None:
        async with self._db.begin() as conn:
            await conn.execute(
                agents.update()
                .where(agents.c.id == agent_id)
                .values(token_version=agents.c.token_version + 1)
            )
