"""``TicketFeed.created`` judges a batch's SLA once per distinct (status, SLA state): a
rule's thousand tickets share a few states, and the business-hours arithmetic cost more
than the rest of each frame. Each frame must still carry its own ticket's verdict.

The hub here only records what it is given (it is the feed's boundary: what reaches the
sockets is tested in tests/integration/test_tickets_live.py); the judge is kefu's own
``sla_status`` on the default policies.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from kefu.chat import server_frames
from kefu.cluster.envelope import Audience
from kefu.domain.sla_status import SlaStatus, sla_status
from kefu.domain.tickets import Channel, Priority, SlaState, Ticket, TicketStatus
from kefu.tickets.live import TicketFeed
from kefu.tickets.policies import sla_rules
from kefu.tickets.settings import TicketSettings

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


class RecordingHub:
    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def may_reach(self, audience: Audience) -> bool:
        return True  # someone is online: every frame is built

    def send(
        self,
        keys: Collection[str],
        frame: bytes,
        conversation_id: str | None = None,
        message_id: int | None = None,
        skip: str | None = None,
        audience: Audience = Audience.NONE,
    ) -> None:
        self.frames.append(frame)


def _ticket(ticket_id: int, priority: Priority, sla: SlaState) -> Ticket:
    return Ticket(
        id=ticket_id,
        subject=f"Complaint {ticket_id}",
        body="parcel lost",
        status=TicketStatus.NEW,
        priority=priority,
        customer_key="C1",
        assignee_id=None,
        queue=None,
        conversation_id=None,
        channel=Channel.RULE,
        created_by="rule:complaint",
        created_at=NOW,
        updated_at=NOW,
        sla=sla,
    )


def test_a_batch_is_judged_once_per_sla_state_and_each_frame_keeps_its_own() -> None:
    rules = sla_rules(TicketSettings())
    policy = rules.choose(None)
    states = {}
    for priority in (Priority.HIGH, Priority.LOW):
        due = rules.targets(policy, priority, NOW)
        states[priority] = SlaState(
            policy=policy,
            first_response_due_at=due.first_response_due_at,
            resolution_due_at=due.resolution_due_at,
        )
    judged: list[Ticket] = []

    def judge(ticket: Ticket) -> SlaStatus:
        judged.append(ticket)
        return sla_status(ticket.status, ticket.sla, rules, NOW)

    hub = RecordingHub()
    batch = [_ticket(i, Priority.HIGH, states[Priority.HIGH]) for i in range(1, 4)]
    batch += [_ticket(i, Priority.LOW, states[Priority.LOW]) for i in range(4, 6)]
    TicketFeed(hub, judge).created(batch, "rule:complaint")

    assert [t.id for t in judged] == [1, 4]  # one per distinct SLA state, in order
    assert len(hub.frames) == len(batch)
    for ticket, raw in zip(batch, hub.frames, strict=True):
        frame = server_frames.decode(raw)
        assert isinstance(frame, server_frames.TicketCreated)
        own = sla_status(ticket.status, ticket.sla, rules, NOW)
        assert frame.ticket.sla_status.due_at == own.due_at.isoformat().replace("+00:00", "Z")
        assert frame.ticket.priority is ticket.priority
    dues = {server_frames.decode(raw).ticket.sla_status.due_at for raw in hub.frames}  # type: ignore[union-attr]
    assert len(dues) == 2  # the two priorities' targets differ
