"""Dotted paths over documents: the path language of SQL rows, Mongo documents and JSON.

``name``, ``address.city``, ``lines.0.sku``: each segment is a mapping key, or a list
index when the value there is a list. XML has its own language (XPath) in its connector.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

_SEGMENT = re.compile(r"^[^.\s]+$")


def _segments(path: str) -> list[str]:
    parts = path.split(".")
    if not path or not all(_SEGMENT.match(part) for part in parts):
        raise ValueError(f"{path!r} is not a dotted path (name, or name.sub.field)")
    return parts


def _walk(value: Any, parts: Sequence[str]) -> Any:
    for part in parts:
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit():
            index = int(part)
            value = value[index] if index < len(value) else None
        else:
            return None
        if value is None:
            return None
    return value


def _as_records(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, tuple):
        return list(value)
    return [value]


class DottedPaths:
    """The ``PathLanguage`` of every connector whose replies are dicts and lists."""

    def getter(self, path: str) -> Callable[[Any], Any]:
        parts = _segments(path)
        if len(parts) == 1:
            name = parts[0]
            return lambda record: record.get(name) if isinstance(record, Mapping) else None
        return lambda record: _walk(record, parts)

    def selector(self, path: str | None) -> Callable[[Any], list[Any]]:
        if path is None:
            return _as_records
        parts = _segments(path)
        return lambda reply: _as_records(_walk(reply, parts))

    def fields(self, record: Any) -> dict[str, Any]:
        return dict(record) if isinstance(record, Mapping) else {}

    def head(self, path: str) -> str:
        return _segments(path)[0]


DOTTED = DottedPaths()
