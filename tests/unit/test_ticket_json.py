"""The ticket JSON is one set of Structs (kefu.domain.ticket_json): the live frames encode
them as they are, REST and events carry the same objects as plain data, and the REST
schema of ``sla_status`` is made from the Struct rather than written a second time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec

from kefu.api.routes.tickets import SlaStatusOut, TicketOut
from kefu.chat import server_frames
from kefu.domain.sla_status import SlaStatus, SlaVerdict
from kefu.domain.ticket_json import (
    ChangeJson,
    CommentJson,
    LiveTicketJson,
    SlaStatusJson,
    comment_json,
    live_ticket_json,
)
from kefu.domain.tickets import (
    Channel,
    Priority,
    SlaState,
    SlaTarget,
    Ticket,
    TicketComment,
    TicketStatus,
)
from kefu.tickets import live
from kefu.tickets.events import comment_payload, ticket_payload
from kefu.tickets.sla_json import sla_status_payload

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
TICKET = Ticket(
    id=1042,
    subject="Parcel <b>lost</b>",
    body="It never came.",
    status=TicketStatus.OPEN,
    priority=Priority.HIGH,
    customer_key="C1001",
    assignee_id="agt_1",
    queue=None,
    conversation_id=None,
    channel=Channel.CONSOLE,
    created_by="agent:agt_1",
    created_at=NOW,
    updated_at=NOW,
    sla=SlaState(policy="default", resolution_due_at=NOW + timedelta(hours=8)),
)
STATUS = SlaStatus(
    SlaVerdict.OK,
    NOW,
    SlaTarget.RESOLUTION,
    NOW + timedelta(hours=8),
    NOW + timedelta(hours=7),
    480.004,
)
COMMENT = TicketComment(7, 1042, "agent:agt_1", "Ann", "Refund sent", True, NOW)


def test_frames_carry_the_structs_and_decode_with_the_strict_schema() -> None:
    created = server_frames.TicketCreated(live_ticket_json(TICKET, STATUS), "agent:agt_1")
    updated = server_frames.TicketUpdated(
        live_ticket_json(TICKET, STATUS),
        {"status": ChangeJson("new", "open")},
        None,
        comment_json(COMMENT),
    )
    assert isinstance(created.ticket, LiveTicketJson)
    assert isinstance(updated.comment, CommentJson)
    for frame in (created, updated):
        decoded = live.check(server_frames.encode(frame))
        assert decoded.ticket.sla_status.remaining_minutes == 480.0
    assert live.check(server_frames.encode(updated)).changes["status"].after == "open"


def test_rest_events_and_frames_read_one_shape() -> None:
    frame = msgspec.json.decode(
        server_frames.encode(server_frames.TicketCreated(live_ticket_json(TICKET, STATUS), None))
    )
    rest = ticket_payload(TICKET)
    assert rest.pop("body") == "It never came."
    assert frame["ticket"] == rest | {"sla_status": sla_status_payload(STATUS)}
    assert frame["ticket"]["id"] == "1042" and frame["ticket"]["status"] == "open"
    assert comment_payload(COMMENT) == msgspec.to_builtins(comment_json(COMMENT))
    answer = TicketOut.model_validate(
        ticket_payload(TICKET) | {"sla_status": sla_status_payload(STATUS)}
    )
    assert answer.model_dump(mode="json") == rest | {
        "body": "It never came.",
        "sla_status": sla_status_payload(STATUS),
    }


def test_the_rest_schema_of_sla_status_is_made_from_the_struct() -> None:
    assert list(SlaStatusOut.model_fields) == list(SlaStatusJson.__struct_fields__)
    verdict = SlaStatusOut.model_validate(sla_status_payload(STATUS))
    assert verdict.model_dump(mode="json") == sla_status_payload(STATUS)
    states = SlaStatusOut.model_json_schema()["$defs"]["SlaVerdict"]["enum"]
    assert states == [v.value for v in SlaVerdict]
