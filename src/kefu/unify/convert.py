"""Source values into schema values: what a CRM's string, a MySQL DECIMAL or a Mongo date
become in ``kefu.v1``. Money stays decimal (a string), never a float.

A value that cannot become its field raises ``Unconvertible``, whose message says what
kind of value it was and never the value itself: the message goes to the logs, and the
value is a customer's data.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

INT32 = (-(2**31), 2**31 - 1)
# Integers beyond this lose precision as JSON/Struct numbers (doubles), so they travel as text.
SAFE_INTEGER = 2**53


class Unconvertible(ValueError):
    """A source value that cannot become the schema field it is mapped to.

    The message names the kind of value (``a dict is not text``), never the value.
    """


def _kind(value: Any) -> str:
    return type(value).__name__


def to_text(value: Any) -> str:
    """Text of a scalar. An object or a list is refused, not printed as Python's repr:
    a mapping that points a text field at a sub-document is wrong, and says so in the log."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return to_datetime(value).isoformat().replace("+00:00", "Z")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return _duration_text(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    raise Unconvertible(f"a {_kind(value)} is not text (map one of its fields instead)")


def _duration_text(span: timedelta) -> str:
    """A MySQL ``TIME`` (asyncmy returns a timedelta) as ``HH:MM:SS[.ffffff]``, so a
    template can join a DATE and a TIME column into one ISO date-time."""
    micros = span // timedelta(microseconds=1)
    sign, micros = ("-", -micros) if micros < 0 else ("", micros)
    seconds, fraction = divmod(micros, 1_000_000)
    minutes, second = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    text = f"{sign}{hours:02d}:{minute:02d}:{second:02d}"
    return f"{text}.{fraction:06d}" if fraction else text


def to_int32(value: Any) -> int:
    if isinstance(value, bool):
        number = int(value)
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float | Decimal):
        try:
            number = int(value)
        except (ValueError, OverflowError):
            raise Unconvertible("not a finite number") from None
    elif isinstance(value, str | bytes):
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        try:
            number = int(Decimal(text.strip()))
        except (InvalidOperation, ValueError, OverflowError):
            raise Unconvertible("text that is not a number") from None
    else:
        raise Unconvertible(f"a {_kind(value)} is not a number")
    if not INT32[0] <= number <= INT32[1]:
        raise Unconvertible("a number that does not fit a 32-bit integer")
    return number


def to_datetime(value: Any, zone: tzinfo = UTC) -> datetime:
    """Aware UTC datetime from a datetime, a date, ISO-8601 text or epoch.

    A naive date-time (MySQL ``DATETIME``, ISO text without an offset) and a date are
    wall-clock times of ``zone``: the source's ``timezone``, UTC unless configured.
    Epoch numbers are instants and need no zone.
    """
    if isinstance(value, datetime):
        aware: datetime = value.replace(tzinfo=zone) if value.tzinfo is None else value
        return aware.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=zone).astimezone(UTC)
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        seconds = float(value)
        # Epoch milliseconds are common in JSON APIs; seconds this large are 5000 years out.
        if abs(seconds) > 1e11:
            seconds /= 1000
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (ValueError, OverflowError, OSError):
            raise Unconvertible("a number out of range for a date-time") from None
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise Unconvertible("text that is not an ISO-8601 date-time") from None
        return to_datetime(parsed, zone)
    raise Unconvertible(f"a {_kind(value)} is not a date-time")


def to_text_list(value: Any) -> list[str]:
    """A list as is; text as comma-separated items (``"vip, newsletter"``)."""
    if isinstance(value, list | tuple):
        return [to_text(item) for item in value if item is not None]
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return [to_text(value)]


def to_json_value(value: Any, zone: tzinfo = UTC) -> Any:
    """Something ``google.protobuf.Struct`` (and JSON) can hold, losing nothing silently.

    Integers stay integers up to 2**53 (a Struct number is a double, exact that far; the
    JSON rendering prints an integral one without ".0"); larger ones travel as text.
    Naive date-times are read in ``zone``, like mapped ones.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value if abs(value) <= SAFE_INTEGER else str(value)
    if isinstance(value, float):
        return value
    if isinstance(value, Mapping):
        return {str(k): to_json_value(v, zone) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_value(item, zone) for item in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime):
        return to_text(to_datetime(value, zone))
    try:
        return to_text(value)
    except Unconvertible:
        return None  # an exotic driver type: left out rather than shown as a repr
