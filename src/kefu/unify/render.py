"""The 360 as CONTRACT.md's JSON: proto field names, lowercase source states.

Rendered by plans compiled once per message type from the descriptors (schema-driven, so
a field added to the .proto appears without touching this file): a cached 360 is served
thousands of times a second, and ``json_format.MessageToDict`` alone cost ~200 µs of it.
The output equals ``MessageToDict(preserving_proto_field_name=True,
always_print_fields_with_no_presence=True)`` except for the source states and integral
numbers in ``extensions``, printed as integers (a test holds the two together).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import msgspec
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from kefu.unify.convert import SAFE_INTEGER
from kefu.unify.source import State
from kefu.v1 import unified_pb2 as pb

STATE_NAMES = {
    value: name.removeprefix("STATE_").lower() for name, value in State.items() if value != 0
}
Render = Callable[[Any], Any]
_PLANS: dict[str, list[tuple[str, Render, bool]]] = {}


def _value(value: Any) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        return _number(value.number_value)
    if kind == "struct_value":
        return _struct(value.struct_value)
    if kind == "list_value":
        return [_value(item) for item in value.list_value.values]
    if kind == "null_value" or kind is None:
        return None
    return getattr(value, kind)


def _number(number: float) -> int | float:
    """An integral Struct number as a JSON integer (12850, not 12850.0).

    ``extensions`` is a ``google.protobuf.Struct``, whose numbers are doubles: a source's
    integer arrives here as 12850.0. Printed as an integer, as protobuf's canonical JSON
    does in C++, Go and Java (Python's ``MessageToDict`` alone prints 12850.0). Exact up to
    2**53, where ``to_json_value`` already turned larger integers into text.
    """
    if number.is_integer() and abs(number) <= SAFE_INTEGER:
        return int(number)
    return number


def _struct(struct: Any) -> dict[str, Any]:
    return {key: _value(item) for key, item in struct.fields.items()}


def _converter(field: Any) -> tuple[Render, bool]:
    """(render one value, needs presence) for a field; repeated handled by the caller."""
    message = field.message_type
    if message is None:
        if field.type == FieldDescriptor.TYPE_ENUM:
            enum = field.enum_type
            return (lambda number: enum.values_by_number[number].name), False
        return (lambda scalar: scalar), False
    if message.full_name == "google.protobuf.Timestamp":
        return (lambda stamp: stamp.ToJsonString()), True
    if message.full_name == "google.protobuf.Struct":
        return _struct, True
    return (lambda nested: _message(nested)), True


def _each_value(render: Render) -> Render:
    return lambda entries: {key: render(value) for key, value in entries.items()}


def _each_item(render: Render) -> Render:
    return lambda items: [render(item) for item in items]


def _plan(descriptor: Any) -> list[tuple[str, Render, bool]]:
    plan = _PLANS.get(descriptor.full_name)
    if plan is not None:
        return plan
    plan = []
    for field in descriptor.fields:
        name = field.name
        message = field.message_type
        if message is not None and message.GetOptions().map_entry:
            render_value, _ = _converter(message.fields_by_name["value"])
            plan.append((name, _each_value(render_value), False))
        elif field.is_repeated:
            render_item, _ = _converter(field)
            plan.append((name, _each_item(render_item), False))
        else:
            render, presence = _converter(field)
            plan.append((name, render, presence))
    _PLANS[descriptor.full_name] = plan
    return plan


def render_message(message: Message) -> dict[str, Any]:
    """A message as protobuf's JSON mapping would give it (proto field names)."""
    return _message(message)


def render_sources(
    statuses: Iterable[tuple[str, int, float, datetime | None, bool]],
) -> dict[str, dict[str, Any]]:
    """``truncated`` is always there, so a client reads one shape: true when the source
    had more rows than its ``max_rows`` and the answer holds the first ones."""
    return {
        name: {
            "status": STATE_NAMES.get(state, "error"),
            "latency_ms": latency_ms,
            "fetched_at": _iso(fetched_at) if fetched_at is not None else None,
            "truncated": truncated,
        }
        for name, state, latency_ms, fetched_at, truncated in statuses
    }


def _iso(moment: datetime) -> str:
    # Timestamp.ToJsonString's shape: UTC, "Z", fractional digits only when non-zero.
    return Timestamp(
        seconds=int(moment.timestamp()), nanos=moment.microsecond * 1000
    ).ToJsonString()


def _message(message: Message) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for name, render, presence in _plan(message.DESCRIPTOR):
        if presence and not message.HasField(name):
            continue
        body[name] = render(getattr(message, name))
    return body


def as_dict(unified: pb.UnifiedCustomer) -> dict[str, Any]:
    """CONTRACT.md's JSON for a whole message (the REST handler renders a ``View``)."""
    body = _message(unified)
    body["sources"] = render_sources(
        (
            name,
            status.state,
            status.latency_ms,
            status.fetched_at.ToDatetime(tzinfo=UTC) if status.HasField("fetched_at") else None,
            status.truncated,
        )
        for name, status in unified.sources.items()
    )
    return body


def as_json(unified: pb.UnifiedCustomer) -> bytes:
    return msgspec.json.encode(as_dict(unified))
