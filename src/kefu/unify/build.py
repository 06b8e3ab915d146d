"""Turn the ``sources:`` configuration into running sources, or fail naming the key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from kefu.errors import ConfigError
from kefu.ports import Cache, Clock
from kefu.store.customer_tickets import CustomerTickets
from kefu.unify.connector import QueryLimits, SourceClient
from kefu.unify.connectors.kefu_tickets import DEFAULT_MAP, KefuTicketsClient
from kefu.unify.connectors.registry import open_client
from kefu.unify.mapping import Mapper, MappingError
from kefu.unify.service import Customer360
from kefu.unify.settings import KEFU_TICKETS, Customer360Settings, SourceMap, SourceSettings
from kefu.unify.source import Lookup, Source


def _problem(exc: ValueError) -> tuple[str, str]:
    """(sub-key, message) of a validation error, for ``ConfigError``."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return where, " ".join(str(first["msg"]).split()).removeprefix("Value error, ")
    return "", str(exc)


def _config_error(prefix: str, exc: ValueError) -> ConfigError:
    where, problem = _problem(exc)
    return ConfigError(f"{prefix}.{where}" if where else prefix, problem)


async def build_source(
    name: str,
    settings: SourceSettings,
    cache: Cache,
    clock: Clock,
    deadline_ms: float,
    own_tickets: CustomerTickets | None = None,
) -> Source:
    at = f"sources.{name}"
    try:
        client: SourceClient
        if settings.connector == KEFU_TICKETS:
            if own_tickets is None:
                raise ValueError("kefu_tickets needs kefu's own store")
            client = KefuTicketsClient(own_tickets, settings.connection)
            if settings.map is None:
                settings = settings.model_copy(
                    update={"map": SourceMap.model_validate(DEFAULT_MAP)}
                )
        else:
            # The server stops a statement when the fetch it serves is over anyway.
            limits = QueryLimits(settings.max_rows, settings.fetch_timeout(deadline_ms))
            client = open_client(settings.connector, settings.connection, limits)
    except ValueError as exc:
        key = f"{at}.connector" if "unknown connector" in str(exc) else f"{at}.connection"
        raise _config_error(key, exc) from None
    try:
        try:
            fetch = client.prepare(settings.request)
        except ValueError as exc:
            raise _config_error(f"{at}.request", exc) from None
        if settings.map is None:  # SourceSettings requires it for every other connector
            raise ConfigError(f"{at}.map", f"a {settings.connector} source needs a map, got none")
        try:
            mapper = Mapper(name, settings.map, client.paths, settings.timezone)
        except MappingError as exc:
            raise ConfigError(f"{at}.{exc.where}", exc.problem) from None
        lookups = _lookups(at, settings, client)
    except ConfigError:
        await client.close()
        raise
    return Source(name, settings, client, fetch, mapper, lookups, cache, clock, deadline_ms / 1000)


def _lookups(at: str, settings: SourceSettings, client: SourceClient) -> dict[str, Lookup]:
    lookups: dict[str, Lookup] = {}
    paths = client.paths
    for kind, spec in settings.lookup.items():
        where = f"{at}.lookup.{kind}"
        try:
            request = client.prepare(spec.request)
        except ValueError as exc:
            raise _config_error(f"{where}.request", exc) from None
        try:
            select = paths.selector(spec.from_)
            key = paths.getter(spec.key)
            name = paths.getter(spec.name) if spec.name is not None else None
        except ValueError as exc:
            raise ConfigError(where, str(exc)) from None
        lookups[kind] = Lookup(request, select, key, name)
    return lookups


async def build_customer360(
    sources: Mapping[str, SourceSettings],
    options: Customer360Settings,
    cache: Cache,
    clock: Clock,
    own_tickets: CustomerTickets | None = None,
) -> Customer360:
    built: list[Source] = []
    try:
        for name, settings in sources.items():
            if settings.enabled:
                built.append(
                    await build_source(
                        name, settings, cache, clock, options.deadline_ms, own_tickets
                    )
                )
    except ConfigError:
        for source in built:
            await source.close()
        raise
    return Customer360(built, clock, options.deadline_ms, options.max_key_chars)


def describe(sources: Mapping[str, SourceSettings]) -> dict[str, Any]:
    """Connector kind per source, for logs at start (never connection strings)."""
    return {name: s.connector for name, s in sources.items() if s.enabled}
