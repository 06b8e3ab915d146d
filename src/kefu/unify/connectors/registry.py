"""Connector kinds by the name used in ``sources.<name>.connector``.

Imported lazily: a deployment without MongoDB sources never imports pymongo.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from kefu.unify.connector import QueryLimits, SourceClient
from kefu.unify.settings import SQL_CONNECTORS

# kind -> "module:ClientClass"; each class takes the ``connection:`` mapping.
KINDS: dict[str, str] = {
    "mongodb": "kefu.unify.connectors.mongo:MongoClient",
    "mysql": "kefu.unify.connectors.mysql:MySqlClient",
    "sql": "kefu.unify.connectors.sql:SqlClient",
    "xml": "kefu.unify.connectors.xmlhttp:XmlHttpClient",
    "rest": "kefu.unify.connectors.rest:RestClient",
}


def open_client(
    kind: str, connection: Mapping[str, Any], limits: QueryLimits | None = None
) -> SourceClient:
    """Build the client of ``kind``; ``ValueError`` for an unknown kind or bad options.

    ``limits`` reach the connectors that run SQL (``SQL_CONNECTORS``); the others bound
    their replies in their own request options."""
    target = KINDS.get(kind)
    if target is None:
        raise ValueError(f"unknown connector {kind!r}; one of {', '.join(sorted(KINDS))}")
    module_name, class_name = target.split(":")
    client_class = getattr(importlib.import_module(module_name), class_name)
    client: SourceClient
    if limits is not None and kind in SQL_CONNECTORS:
        client = client_class(connection, limits=limits)
    else:
        client = client_class(connection)
    return client
