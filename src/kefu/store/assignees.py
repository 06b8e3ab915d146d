"""Who a rule's ticket goes to (``assign``/``create_ticket``'s ``assignee``/``role``),
read in the rules processor's transaction so the choice and the ticket commit together."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.domain.roles import Role
from kefu.store.tables import agents, tickets

log = logging.getLogger(__name__)

# A ticket in these states still asks something of its assignee: the load to balance.
OPEN_STATUSES = ("new", "open", "pending")


async def rule_assignee(conn: AsyncConnection, email: str | None, role: Role | None) -> str | None:
    """An agent by email, or the least busy active agent with ``role`` (a higher role
    only when nobody has that one)."""
    if email is not None:
        found = (
            await conn.execute(
                sa.select(agents.c.id)
                .where(agents.c.email == email.lower())
                .where(agents.c.disabled.is_(False))
            )
        ).scalar_one_or_none()
        if found is None:
            log.warning("rule assignee %s is not an active agent; left unassigned", email)
        return found
    if role is None:
        return None
    roles = [r.value for r in Role if r.at_least(role)]
    open_count = (
        sa.select(sa.func.count())
        .select_from(tickets)
        .where(tickets.c.assignee_id == agents.c.id)
        .where(tickets.c.status.in_(OPEN_STATUSES))
        .scalar_subquery()
    )
    row = (
        await conn.execute(
            sa.select(agents.c.id)
            .where(agents.c.role.in_(roles))
            .where(agents.c.disabled.is_(False))
            # The role itself before higher ones: a supervisor, not the admin.
            .order_by(
                sa.case((agents.c.role == role.value, 0), else_=1),
                open_count,
                agents.c.created_at,
                agents.c.id,
            )
            .limit(1)
        )
    ).first()
    return None if row is None else str(row.id)
