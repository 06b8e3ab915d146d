"""The ``sources:`` and ``customer360:`` configuration sections (validated at start).

The structure is checked here; connector options, request templates and field paths are
checked when ``kefu.unify.sources`` builds each source, by the connector that owns them.
Both failures name the key: ``sources.orders.map.orders.fields.totl: …``.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SOURCE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
LookupKind = Literal["email", "phone", "order"]
KEFU_TICKETS = "kefu_tickets"  # the built-in connector over kefu's own tickets
# Connectors that run operator-written SQL: they take ``max_rows`` and stop a statement
# on the server at the source's timeout (``kefu.unify.connector.QueryLimits``).
SQL_CONNECTORS = frozenset({"sql", "mysql"})


class TargetMap(BaseModel):
    """How records of one reply become one kind of schema message.

    ``from`` selects the records (a path in the connector's language; the whole reply when
    absent); ``fields`` maps schema field -> path inside a record. A nested repeated message
    (``Order.lines``) maps with another ``{from, fields}``. The short form
    ``customer: {name: full_name}`` means ``{fields: {name: full_name}}``.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str | None = Field(default=None, alias="from")
    fields: dict[str, str | TargetMap] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        if isinstance(data, dict) and "fields" not in data and "from" not in data:
            return {"fields": data}
        return data


class SourceMap(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer: TargetMap | None = None
    orders: TargetMap | None = None
    tickets: TargetMap | None = None
    calls: TargetMap | None = None
    # Fields of mapped records that no mapping claimed go to ``extensions.<source>``.
    extensions: bool = True

    @model_validator(mode="after")
    def _something(self) -> SourceMap:
        if not (self.customer or self.orders or self.tickets or self.calls):
            raise ValueError("maps nothing: give at least one of customer, orders, tickets, calls")
        return self


class KeySettings(BaseModel):
    """This source knows the customer by another key, which another source provides.

    ``{via: crm, field: customer.phone}``: wait for the ``crm`` source's answer and ask
    this source with the phone number it mapped.
    """

    model_config = ConfigDict(extra="forbid")

    via: str
    field: str = Field(pattern=r"^customer\.[a-z_]+$")


class LookupSettings(BaseModel):
    """Find customer keys by email, phone or order number (for anonymous visitors)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    request: dict[str, Any]
    from_: str | None = Field(default=None, alias="from")
    key: str  # path of the customer key in each record
    name: str | None = None  # path of a display name, shown to the agent choosing


class RetrySettings(BaseModel):
    """Retries of failed reads: reads are idempotent, and the budget stops retry storms."""

    model_config = ConfigDict(extra="forbid")

    attempts: int = Field(default=2, ge=1, le=5)  # total, the first included
    backoff_ms: float = Field(default=20, ge=0, le=10_000)
    # Retries allowed per first attempt, over time: 0.2 = at most one retry in five calls.
    budget_ratio: float = Field(default=0.2, ge=0, le=1)


class BreakerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    failures: int = Field(default=5, ge=1, le=1000)  # consecutive failures that open it
    open_seconds: float = Field(default=30, gt=0, le=3600)  # before one probe is let through


class SourceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connector: str
    connection: dict[str, Any] = Field(default_factory=dict)
    request: dict[str, Any] = Field(default_factory=dict)
    # Optional only for ``kefu_tickets``, whose rows have one obvious mapping.
    map: SourceMap | None = None
    key: KeySettings | None = None
    lookup: dict[LookupKind, LookupSettings] = Field(default_factory=dict)
    # How long a fetched answer may be served from the cache; 0 = never cached.
    ttl_seconds: float = Field(default=60, ge=0, le=86_400)
    # After the TTL, serve the old answer this much longer while one refresh runs.
    stale_seconds: float = Field(default=0, ge=0, le=86_400)
    # One fetch's own limit (it may outlive a request's deadline to fill the cache).
    timeout_ms: float | None = Field(default=None, gt=0, le=600_000)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)
    # SQL sources: rows one request reads at most. A thousand is pages of orders for an
    # agent and a bounded cost per request; a customer with more shows the first ones
    # (the query's ORDER BY decides which) and the source says "truncated".
    max_rows: int = Field(default=1000, ge=1, le=100_000)
    enabled: bool = True

    @model_validator(mode="after")
    def _mapped(self) -> SourceSettings:
        if self.map is None and self.connector != KEFU_TICKETS:
            raise ValueError("map is required: which reply fields become which schema fields")
        return self

    @model_validator(mode="after")
    def _rows_capped_where_rows_are(self) -> SourceSettings:
        if "max_rows" in self.model_fields_set and self.connector not in SQL_CONNECTORS:
            raise ValueError(
                f"max_rows applies to {' and '.join(sorted(SQL_CONNECTORS))} sources, not "
                f"to {self.connector} (a mongodb request has its own limit)"
            )
        return self

    def fetch_timeout(self, deadline_ms: float) -> float:
        """Seconds one fetch may take: ``timeout_ms``, or the 360's deadline."""
        return (self.timeout_ms or deadline_ms) / 1000


class Customer360Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The whole 360 answers by then, whatever the sources do.
    deadline_ms: float = Field(default=800, ge=10, le=60_000)
    # Keys longer than this are refused (400): no customer key in practice comes close.
    max_key_chars: int = Field(default=200, ge=1, le=2000)


def check_sources(sources: dict[str, SourceSettings]) -> dict[str, SourceSettings]:
    """Names, and ``key.via`` references: known, enabled, and free of cycles."""
    for name in sources:
        if not SOURCE_NAME.match(name):
            raise ValueError(
                f"source name {name!r} must be lowercase letters, digits and _, "
                "starting with a letter (at most 40)"
            )
    for name, source in sources.items():
        seen = [name]
        current = source
        while current.key is not None:
            via = current.key.via
            if via not in sources:
                raise ValueError(f"{name}: key.via names no source: {via!r}")
            if not sources[via].enabled:
                raise ValueError(f"{name}: key.via names a disabled source: {via!r}")
            if via in seen:
                raise ValueError(f"{name}: key.via makes a cycle: {' -> '.join([*seen, via])}")
            seen.append(via)
            current = sources[via]
    return sources
