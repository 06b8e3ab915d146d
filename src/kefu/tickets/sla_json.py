"""The ticket JSON's ``sla_status``: the SLA verdict the server judged when it answered.

REST answers and live ticket frames carry it beside the stored ``sla`` columns, judged by
``kefu.domain.sla_status`` at the moment of the answer (or of the commit, for a frame),
so a console shows the rules' verdict instead of a copy of them. Events and webhooks do
not carry it: an event is a record of what happened, and a verdict is stale as soon as it
is stored. Its one schema is ``kefu.domain.ticket_json.SlaStatusJson``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from kefu.domain.sla_status import SlaStatus
from kefu.domain.ticket_json import SlaStatusJson, sla_status_json

__all__ = ["SlaStatusJson", "sla_status_json", "sla_status_payload"]


def sla_status_payload(status: SlaStatus) -> dict[str, Any]:
    """``sla_status`` as plain data, for REST answers."""
    payload: dict[str, Any] = msgspec.to_builtins(sla_status_json(status))
    return payload
