"""Tickets as rules' effects: what ``create_ticket``, ``set_priority`` and ``assign`` do,
inside the rules processor's transaction (``kefu.events.effects.TicketEffects``)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from kefu.domain.roles import Role
from kefu.domain.tickets import Channel, Priority, TicketDraft, TicketPatch
from kefu.errors import Conflict, NotFound
from kefu.events.effects import TicketChange, TicketSpec
from kefu.store.unit_of_work import StoreUnitOfWork
from kefu.tickets.service import TicketService, rule_actor

log = logging.getLogger(__name__)
# The rules' priority names (checked when the rules were compiled) to members: a dict
# look-up, where calling the enum costs ~0.6 us per ticket.
PRIORITIES = {priority.value: priority for priority in Priority}


class RuleTickets:
    def __init__(self, service: TicketService) -> None:
        self._service = service

    async def create_for_rules(
        self, uow: StoreUnitOfWork, specs: Sequence[TicketSpec], now: datetime
    ) -> list[int]:
        by_rule: dict[str, list[tuple[int, TicketDraft]]] = defaultdict(list)
        # One look-up per (email, role) a batch: its tickets are inserted after all of
        # them are chosen, so asking again per ticket would give the same agent anyway.
        assignees: dict[tuple[str | None, Role | None], str | None] = {(None, None): None}
        for index, spec in enumerate(specs):
            key = (spec.assignee_email, spec.role)
            if key not in assignees:
                assignees[key] = await uow.tickets.rule_assignee(spec.assignee_email, spec.role)
            assignee = assignees[key]
            draft = TicketDraft(
                subject=spec.subject,
                body=spec.body or spec.subject,
                customer_key=spec.customer_key,
                channel=Channel.RULE,
                priority=PRIORITIES[spec.priority],
                assignee_id=assignee,
                queue=spec.queue,
            )
            by_rule[spec.rule].append((index, draft))
        ids = [0] * len(specs)
        for rule, drafts in by_rule.items():
            made = await self._service.create_many(
                [draft for _, draft in drafts], rule_actor(rule), uow
            )
            for (index, _), ticket in zip(drafts, made, strict=True):
                ids[index] = ticket.id
        return ids

    async def change_for_rules(
        self, uow: StoreUnitOfWork, changes: Sequence[TicketChange], now: datetime
    ) -> None:
        for change in changes:
            fields: dict[str, object] = {}
            if change.priority is not None:
                fields["priority"] = Priority(change.priority)
            if change.queue is not None:
                fields["queue"] = change.queue
            if change.role is not None or change.assignee_email is not None:
                assignee = await uow.tickets.rule_assignee(change.assignee_email, change.role)
                if assignee is not None:
                    fields["assignee_id"] = assignee
            if not fields:
                continue
            patch = TicketPatch(fields=frozenset(fields), **fields)  # type: ignore[arg-type]
            try:
                await self._service.update(change.ticket_id, patch, rule_actor(change.rule), uow)
            except (NotFound, Conflict) as exc:
                # The event names a ticket that is gone or closed: nothing to act on.
                log.info("rule %s: ticket %s unchanged (%s)", change.rule, change.ticket_id, exc)

    async def from_offline_message(
        self, uow: StoreUnitOfWork, offline_id: str, priority: str, rule: str
    ) -> None:
        try:
            await self._service.from_offline_message(
                offline_id, rule_actor(rule), priority=Priority(priority), uow=uow
            )
        except NotFound:
            log.info("rule %s: offline message %s is gone", rule, offline_id)
