"""Tickets as rules' effects: what ``create_ticket``, ``set_priority`` and ``assign`` do,
inside the rules processor's transaction (``kefu.events.processor.TicketEffects``)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.domain.roles import Role
from kefu.domain.tickets import Channel, Priority, TicketDraft, TicketPatch
from kefu.errors import Conflict, NotFound
from kefu.events.processor import TicketChange, TicketSpec
from kefu.store.tables import agents, tickets
from kefu.tickets.service import TicketService, rule_actor

log = logging.getLogger(__name__)

OPEN_STATUSES = ("new", "open", "pending")


class RuleTickets:
    def __init__(self, service: TicketService) -> None:
        self._service = service

    async def create_for_rules(
        self, conn: AsyncConnection, specs: Sequence[TicketSpec], now: datetime
    ) -> list[int]:
        by_rule: dict[str, list[tuple[int, TicketDraft]]] = defaultdict(list)
        # One look-up per (email, role) a batch: its tickets are inserted after all of
        # them are chosen, so asking again per ticket would give the same agent anyway.
        assignees: dict[tuple[str | None, Role | None], str | None] = {(None, None): None}
        for index, spec in enumerate(specs):
            key = (spec.assignee_email, spec.role)
            if key not in assignees:
                assignees[key] = await self._assignee(conn, spec.assignee_email, spec.role)
            assignee = assignees[key]
            draft = TicketDraft(
                subject=spec.subject,
                body=spec.body or spec.subject,
                customer_key=spec.customer_key,
                channel=Channel.RULE,
                priority=Priority(spec.priority),
                assignee_id=assignee,
                queue=spec.queue,
            )
            by_rule[spec.rule].append((index, draft))
        ids = [0] * len(specs)
        for rule, drafts in by_rule.items():
            made = await self._service.create_many(
                [draft for _, draft in drafts], rule_actor(rule), conn
            )
            for (index, _), ticket in zip(drafts, made, strict=True):
                ids[index] = ticket.id
        return ids

    async def change_for_rules(
        self, conn: AsyncConnection, changes: Sequence[TicketChange], now: datetime
    ) -> None:
        for change in changes:
            fields: dict[str, object] = {}
            if change.priority is not None:
                fields["priority"] = Priority(change.priority)
            if change.queue is not None:
                fields["queue"] = change.queue
            if change.role is not None or change.assignee_email is not None:
                assignee = await self._assignee(conn, change.assignee_email, change.role)
                if assignee is not None:
                    fields["assignee_id"] = assignee
            if not fields:
                continue
            patch = TicketPatch(fields=frozenset(fields), **fields)  # type: ignore[arg-type]
            try:
                await self._service.update(change.ticket_id, patch, rule_actor(change.rule), conn)
            except (NotFound, Conflict) as exc:
                # The event names a ticket that is gone or closed: nothing to act on.
                log.info("rule %s: ticket %s unchanged (%s)", change.rule, change.ticket_id, exc)

    async def from_offline_message(
        self, conn: AsyncConnection, offline_id: str, priority: str, rule: str
    ) -> None:
        try:
            await self._service.from_offline_message(
                offline_id, rule_actor(rule), priority=Priority(priority), conn=conn
            )
        except NotFound:
            log.info("rule %s: offline message %s is gone", rule, offline_id)

    async def _assignee(
        self, conn: AsyncConnection, email: str | None, role: Role | None
    ) -> str | None:
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
