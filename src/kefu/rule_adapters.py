"""What the rules consumer is given from the rest of the node: live notifications to
agents (a rule's ``notify``) and the customer 360 (what rules read as ``customer.*``).

Part of the composition root beside ``kefu.bootstrap`` (which wires these in with the event
log and the consumer), not of ``kefu.events``: they join events to chat, cluster and
unify, and inside ``events`` they made package cycles (tests/unit/test_package_cycles.py)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from kefu.chat import server_frames
from kefu.chat.hub import Hub
from kefu.cluster.envelope import Audience
from kefu.domain.envelope import Event
from kefu.domain.roles import Role
from kefu.unify.service import Customer360

log = logging.getLogger(__name__)


def live_notifier(hub: Hub) -> Any:
    """Rules' ``notify`` action: a ``notification`` frame to the online agents of a role."""

    def notify(role: Role, text: str, event: Event, rule: str, ticket_id: int | None) -> None:
        audience = Audience.AGENTS if role is Role.AGENT else Audience.SUPERVISORS
        if not hub.may_reach(audience):
            return
        frame = server_frames.encode(
            server_frames.Notification(
                text,
                rule,
                str(ticket_id) if ticket_id is not None else None,
                server_frames.EventRef(event.id, event.type, event.customer_key),
            )
        )
        hub.send((), frame, audience=audience)

    return notify


def customer_loader(customers: Customer360) -> Any:
    """What rules read as ``customer.*``: the 360's profile plus its lists."""

    async def load(key: str) -> Mapping[str, Any] | None:
        if not customers.sources:
            return None
        try:
            view = await customers.unified(key)
        except Exception:
            log.warning("customer 360 for rules failed for a key", exc_info=True)
            return None
        content = view.memo.rendered_content()
        return {
            **content.get("customer", {}),
            "orders": content.get("orders", []),
            "tickets": content.get("tickets", []),
            "calls": content.get("calls", []),
        }

    return load
