"""kefu's own tickets as a 360 source (``connector: kefu_tickets``).

The one source whose data kefu owns: read from kefu's store like any department system,
so the console's panel shows the customer's tickets beside their orders and calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kefu.store.customer_tickets import CustomerTickets
from kefu.unify.connector import PathLanguage, PreparedRequest
from kefu.unify.paths import DOTTED


class _Connection(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=20, ge=1, le=500)
    # Closed tickets are history; include them only when asked.
    include_closed: bool = False


class _Tickets:
    def __init__(self, tickets: CustomerTickets, options: _Request) -> None:
        self._tickets = tickets
        self._options = options

    async def run(self, value: str) -> Any:
        return await self._tickets.of_customer(
            value, limit=self._options.limit, include_closed=self._options.include_closed
        )


class KefuTicketsClient:
    """Built by ``kefu.unify.build`` with the store's tickets (no connection options)."""

    def __init__(self, tickets: CustomerTickets, connection: Mapping[str, Any]) -> None:
        _Connection.model_validate(dict(connection))
        self._tickets = tickets

    @property
    def paths(self) -> PathLanguage:
        return DOTTED

    def prepare(self, request: Mapping[str, Any]) -> PreparedRequest:
        return _Tickets(self._tickets, _Request.model_validate(dict(request)))

    async def close(self) -> None:
        return None


# The ``map:`` that fits this connector's rows, for configurations that leave it out.
DEFAULT_MAP: dict[str, Any] = {
    "tickets": {
        "id": "id",
        "subject": "subject",
        "status": "status",
        "priority": "priority",
        "created_at": "created_at",
        "updated_at": "updated_at",
    },
    "extensions": False,
}
