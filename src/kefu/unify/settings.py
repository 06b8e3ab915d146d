"""The ``sources:`` and ``customer360:`` configuration sections (validated at start).

The structure is checked here; connector options, request templates and field paths are
checked when ``kefu.unify.sources`` builds each source, by the connector that owns them.
Both failures name the key: ``sources.orders.map.orders.fields.totl: …``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from kefu.unify.transforms import MAX_PLACES, check_template_syntax, enum_key, load_zone


def _known_zone(name: str) -> str:
    load_zone(name)  # raises ValueError naming an unknown zone
    return name


# An IANA time-zone name (Asia/Shanghai), checked against the zone database at start.
ZoneName = Annotated[str, AfterValidator(_known_zone)]

SOURCE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
LookupKind = Literal["email", "phone", "order"]
KEFU_TICKETS = "kefu_tickets"  # the built-in connector over kefu's own tickets
# Connectors that run operator-written SQL: they take ``max_rows`` and stop a statement
# on the server at the source's timeout (``kefu.unify.connector.QueryLimits``).
SQL_CONNECTORS = frozenset({"sql", "mysql"})


FIELD_OPTIONS = frozenset(
    {"path", "join", "separator", "template", "scale", "places", "enum", "default", "timezone"}
)
"""The keys of a field spec; a dict with none of them (nor ``from``/``fields``) is the
short form of a list mapping (``lines: {sku: sku}``)."""
Scalar = str | bool | int | float


def _positive(number: Decimal | None) -> Decimal | None:
    if number is not None and (not number.is_finite() or number <= 0):
        raise ValueError("must be a positive number")
    return number


class FieldMap(BaseModel):
    """How one schema field is read from a record: a path, or a spec with transforms.

    ``name: full_name`` is ``name: {path: full_name}``. A spec reads the value with one of
    ``path``, ``join`` (paths joined by ``separator``) or ``template`` (``"{last}{first}"``),
    then applies ``enum`` (code -> word) or ``scale`` (* factor, rounded half up to
    ``places``); ``default`` is the field's value when the source has none (and for a code
    ``enum`` does not list); alone it is a constant. ``timezone`` reads this field's naive
    date-times in that zone (else the source's ``timezone``). A list field (``lines``)
    takes ``{from, fields}`` instead. Every default is None, so a dump validates again.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    path: str | None = Field(default=None, min_length=1)
    join: list[str] | None = None
    separator: str | None = None  # joins with one space when unset
    template: str | None = None
    scale: Decimal | None = None
    places: int | None = None  # the factor's own places when unset (0.01 -> 2)
    enum: dict[str, Scalar] | None = None
    default: Scalar | None = None
    timezone: ZoneName | None = None
    # A list of sub-records (``lines``): where they are, and their fields.
    from_: str | None = Field(default=None, alias="from")
    fields: dict[str, FieldMap] | None = Field(default=None, min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _short_forms(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"path": data}
        if isinstance(data, dict) and not (FIELD_OPTIONS | {"from", "fields"}) & data.keys():
            return {"fields": data}
        return data

    @field_validator("scale")
    @classmethod
    def _scale(cls, factor: Decimal | None) -> Decimal | None:
        return _positive(factor)

    @field_validator("places")
    @classmethod
    def _places(cls, places: int | None) -> int | None:
        if places is not None and not 0 <= places <= MAX_PLACES:
            raise ValueError(f"must be a whole number from 0 to {MAX_PLACES}")
        return places

    @field_validator("join")
    @classmethod
    def _join(cls, paths: list[str] | None) -> list[str] | None:
        if paths is not None and (len(paths) < 2 or not all(paths)):
            raise ValueError("must list at least two paths")
        return paths

    @field_validator("template")
    @classmethod
    def _template(cls, template: str | None) -> str | None:
        if template is not None:
            check_template_syntax(template)
        return template

    @field_validator("enum", mode="before")
    @classmethod
    def _codes(cls, table: Any) -> Any:
        if isinstance(table, dict):
            if not table:
                raise ValueError("must map at least one code")
            if any(isinstance(word, dict | list) for word in table.values()):
                raise ValueError("maps codes to words or numbers, not to lists or objects")
            return {enum_key(code): word for code, word in table.items()}
        return table

    @model_validator(mode="after")
    def _consistent(self) -> FieldMap:
        readers = [n for n in ("path", "join", "template") if getattr(self, n) is not None]
        options = [n for n in sorted(FIELD_OPTIONS) if getattr(self, n) is not None]
        if self.fields is not None or self.from_ is not None:
            if options:
                raise ValueError(
                    f"a list mapping (from, fields) takes no {', '.join(options)}; "
                    "give them to its fields"
                )
            if self.fields is None:
                raise ValueError("a list mapping needs fields")
            return self
        if len(readers) > 1:
            raise ValueError(f"give one of path, join, template, not {' and '.join(readers)}")
        if not readers and self.default is None:
            raise ValueError("give a path, join or template (or a default for a constant)")
        if self.separator is not None and self.join is None:
            raise ValueError("separator goes with join")
        if self.places is not None and self.scale is None:
            raise ValueError("places goes with scale")
        if self.scale is not None and self.enum is not None:
            raise ValueError("give scale or enum, not both")
        return self

    @property
    def is_list(self) -> bool:
        return self.fields is not None


class TargetMap(BaseModel):
    """How records of one reply become one kind of schema message.

    ``from`` selects the records (a path in the connector's language; the whole reply when
    absent); ``fields`` maps schema field -> path, or field spec (``FieldMap``), inside a
    record. A nested repeated message (``Order.lines``) maps with another
    ``{from, fields}``. The short form ``customer: {name: full_name}`` means
    ``{fields: {name: full_name}}``.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str | None = Field(default=None, alias="from")
    fields: dict[str, FieldMap] = Field(min_length=1)

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
    # The zone of the source's naive date-times (a MySQL DATETIME, ISO text without an
    # offset): an IANA name such as Asia/Shanghai. Unset: UTC.
    timezone: ZoneName | None = None
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
