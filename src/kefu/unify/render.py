"""The 360 as CONTRACT.md's JSON: proto field names, lowercase source states."""

from __future__ import annotations

from typing import Any

import msgspec
from google.protobuf.json_format import MessageToDict

from kefu.unify.source import State
from kefu.v1 import unified_pb2 as pb

STATE_NAMES = {
    value: name.removeprefix("STATE_").lower() for name, value in State.items() if value != 0
}


def as_dict(unified: pb.UnifiedCustomer) -> dict[str, Any]:
    body = MessageToDict(
        unified,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
    )
    body["sources"] = {
        name: {
            "status": STATE_NAMES.get(status.state, "error"),
            "latency_ms": status.latency_ms,
            "fetched_at": body["sources"][name].get("fetched_at"),
        }
        for name, status in unified.sources.items()
    }
    return body


def as_json(unified: pb.UnifiedCustomer) -> bytes:
    return msgspec.json.encode(as_dict(unified))
