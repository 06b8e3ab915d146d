"""Source values into schema values: what a CRM's string, a MySQL DECIMAL or a Mongo date
become in ``kefu.v1``. Money stays decimal (a string), never a float."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

INT32 = (-(2**31), 2**31 - 1)
# Integers beyond this lose precision as JSON/Struct numbers (doubles), so they travel as text.
SAFE_INTEGER = 2**53


def to_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    if isinstance(value, datetime):
        return to_datetime(value).isoformat().replace("+00:00", "Z")
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def to_int32(value: Any) -> int:
    if isinstance(value, bool):
        number = int(value)
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float | Decimal):
        number = int(value)
    else:
        try:
            number = int(Decimal(str(value).strip()))
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
    if not INT32[0] <= number <= INT32[1]:
        raise ValueError(f"{number} does not fit a 32-bit integer")
    return number


def to_datetime(value: Any) -> datetime:
    """Aware UTC datetime from a datetime (naive = UTC), a date, ISO-8601 text or epoch."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        seconds = float(value)
        # Epoch milliseconds are common in JSON APIs; seconds this large are 5000 years out.
        if abs(seconds) > 1e11:
            seconds /= 1000
        return datetime.fromtimestamp(seconds, UTC)
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO-8601 date-time") from None
        return to_datetime(parsed)
    raise ValueError(f"{value!r} is not a date-time")


def to_text_list(value: Any) -> list[str]:
    """A list as is; text as comma-separated items (``"vip, newsletter"``)."""
    if isinstance(value, list | tuple):
        return [to_text(item) for item in value if item is not None]
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return [to_text(value)]


def to_json_value(value: Any) -> Any:
    """Something ``google.protobuf.Struct`` (and JSON) can hold, losing nothing silently."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value if abs(value) <= SAFE_INTEGER else str(value)
    if isinstance(value, float):
        return value
    if isinstance(value, Mapping):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_value(item) for item in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return to_text(value)
