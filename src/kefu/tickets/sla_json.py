"""The ticket JSON's ``sla_status``: the SLA verdict the server judged when it answered.

REST answers and live ticket frames carry it beside the stored ``sla`` columns, judged by
``kefu.domain.sla_status`` at the moment of the answer (or of the commit, for a frame),
so a console shows the rules' verdict instead of a copy of them. Events and webhooks do
not carry it: an event is a record of what happened, and a verdict is stale as soon as it
is stored.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from kefu.domain.sla_status import SlaStatus
from kefu.timefmt import iso


def sla_status_payload(status: SlaStatus) -> dict[str, Any]:
    return {
        "state": status.state.value,
        "target": status.target.value if status.target is not None else None,
        "due_at": iso(status.due_at) if status.due_at is not None else None,
        "warning_at": iso(status.warning_at) if status.warning_at is not None else None,
        "remaining_minutes": (
            round(status.remaining_minutes, 2) if status.remaining_minutes is not None else None
        ),
        "paused": status.paused,
        "as_of": iso(status.as_of),
    }


class SlaStatusJson(msgspec.Struct, forbid_unknown_fields=True):
    """The one schema of ``sla_status``; tests decode what the server sends with it."""

    state: Literal["none", "ok", "warning", "breached", "paused", "met", "missed"]
    target: Literal["first_response", "resolution"] | None
    due_at: str | None
    warning_at: str | None
    remaining_minutes: float | None
    paused: bool
    as_of: str
