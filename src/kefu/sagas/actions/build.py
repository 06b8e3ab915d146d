"""Build a saga step's action (or compensation) from its config spec, checked at start.

``build_action({"kind": "rest", "source": "orders_api", "method": "POST", "path": …},
where="sagas.refund.steps[0].action", sources=settings.sources, kefu=wiring)``.

``kind``: ``rest``, ``soap``, ``sql`` (the write side of the 360's connectors) or ``kefu``
(kefu's own tickets, notifications and events through ``KefuActions``). An action names
its department system with ``source: <name>`` (that ``sources:`` entry's ``connection``:
base URL, headers/auth, TLS, DSN; a source with ``enabled: false`` is never read by the
360 and serves actions only) or gives ``connection:`` inline. A ``rest`` or ``soap``
action needs a ``rest`` or ``xml`` source, a ``sql`` action a ``sql`` or ``mysql`` one.

Errors are ``ValueError("key: reason")``, the key relative to the spec (``path``,
``body.amount``, ``connection.base_url``), for the engine to prefix with ``where``.
Failure messages name the system by its source, or by ``system: <name>`` when given.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx

from kefu.sagas.actions._http import HttpTarget, validated
from kefu.sagas.actions.base import SagaAction
from kefu.sagas.actions.kefu_own import KefuAction, KefuActions, KefuOptions
from kefu.sagas.actions.rest import RestAction, RestOptions
from kefu.sagas.actions.soap import SoapAction, SoapOptions
from kefu.sagas.actions.sql import SqlAction, SqlOptions, engine_url
from kefu.unify.connectors.rest import RestConnection
from kefu.unify.connectors.xmlhttp import XmlConnection
from kefu.unify.settings import SourceSettings

__all__ = ["KINDS", "KefuActions", "build_action"]

KINDS = ("rest", "soap", "sql", "kefu")
_HTTP_CONNECTORS = ("rest", "xml")
_SQL_CONNECTORS = ("sql", "mysql")
_CONNECTION_KEYS = ("kind", "source", "connection", "system")
# How messages and logs name the system: the source's name, or ``system:`` (an inline
# connection has no name of its own; its host is used when none is given).
_SYSTEM = re.compile(r"^[A-Za-z][A-Za-z0-9_ .\-]{0,39}$")


def build_action(
    spec: Mapping[str, Any],
    *,
    where: str,
    sources: Mapping[str, SourceSettings],
    kefu: KefuActions,
) -> SagaAction:
    """The action ``spec`` describes; ``ValueError("key: reason")`` when it is wrong.

    Builds no connection: HTTP clients and SQL engines open on the first run.
    """
    if not isinstance(spec, Mapping):
        raise ValueError(f"an action is a mapping with kind: one of {', '.join(KINDS)}")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise ValueError(f"kind: must be one of {', '.join(KINDS)}, not {kind!r}")
    options = {key: value for key, value in spec.items() if key not in _CONNECTION_KEYS}
    if kind == "kefu":
        extra = [key for key in ("source", "connection") if key in spec]
        if extra:
            raise ValueError(f"{extra[0]}: a kefu action acts on kefu itself, it has no {extra[0]}")
        return KefuAction(validated(KefuOptions, options), kefu, f"kefu {options.get('op')}")
    connector, connection, name = _connection(spec, kind, sources)
    system = spec.get("system")
    if system is not None:
        if not isinstance(system, str) or not _SYSTEM.match(system):
            raise ValueError("system: a short name for messages (letters, digits, _ - . space)")
        name = system
    if kind == "sql":
        url, pool_size = engine_url(connector, connection)
        return SqlAction(validated(SqlOptions, options), url, pool_size, name)
    if kind == "rest":
        model: type[RestConnection | XmlConnection] = (
            XmlConnection if connector == "xml" else RestConnection
        )
        target = HttpTarget(validated(model, connection, "connection."), name)
        return RestAction(validated(RestOptions, options), target)
    # A rest source's connection has the same keys as an xml one (namespaces default off).
    xml = validated(XmlConnection, connection, "connection.")
    return SoapAction(validated(SoapOptions, options), HttpTarget(xml, name), xml)


def _connection(
    spec: Mapping[str, Any], kind: str, sources: Mapping[str, SourceSettings]
) -> tuple[str, dict[str, Any], str]:
    """(connector kind, connection options, name for messages) of an action."""
    wanted = _SQL_CONNECTORS if kind == "sql" else _HTTP_CONNECTORS
    if "source" in spec and "connection" in spec:
        raise ValueError("source: give source or connection, not both")
    if "source" in spec:
        name = spec["source"]
        source = sources.get(name) if isinstance(name, str) else None
        if source is None:
            known = ", ".join(sorted(sources)) or "none"
            raise ValueError(f"source: no source named {name!r} in sources: (known: {known})")
        if source.connector not in wanted:
            raise ValueError(
                f"source: {name} is a {source.connector} source; a {kind} action needs "
                f"a {' or '.join(wanted)} source"
            )
        return source.connector, dict(source.connection), name
    connection = spec.get("connection")
    if not isinstance(connection, Mapping):
        raise ValueError("connection: give source: <a sources: entry> or connection: {…}")
    connection = dict(connection)
    if kind == "sql":
        url = connection.get("url")
        mysql = "host" in connection or (
            isinstance(url, str) and url.split(":", 1)[0] in ("mysql", "mariadb")
        )
        return ("mysql" if mysql else "sql"), connection, _sql_name(connection)
    base = connection.get("base_url")
    try:
        host = httpx.URL(base).host if isinstance(base, str) else ""
    except httpx.InvalidURL:
        host = ""
    return ("rest" if kind == "rest" else "xml"), connection, host or kind


def _sql_name(connection: Mapping[str, Any]) -> str:
    url = connection.get("url")
    if isinstance(url, str):
        return url.split(":", 1)[0].split("+", 1)[0]
    return "mysql"
