"""The REST kernel: what every HTTP route shares, whichever framework serves it.

kefu answers REST on one port through two routers: FastAPI (typed routes, OpenAPI) and a
few native aiohttp routes on hot or streaming paths (``kefu.web``). Whatever answers, a
client must meet one API: the same ``Authorization: Bearer`` reading, the same error
body (CONTRACT.md: ``{"error": {"code", "message"}}``) with the same headers, the same
reading of a query flag. Each of those is written here once, with no framework import,
and both routers (and the gRPC service for the bearer) call it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from kefu.api.customer_keys import BAD_CUSTOMER_KEY
from kefu.errors import KefuError, RateLimited

JSON = "application/json"

# What a query flag (``?refresh=``) takes for yes, in any case; anything else is no. The
# set the native 360 route has always served, so no client sees its answer change.
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value (scheme in any case,
    spaces around the token ignored); None when there is no bearer token."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def query_flag(value: str | None) -> bool:
    """A boolean query parameter: true for ``TRUE_WORDS``, false when absent or else."""
    return value is not None and value.lower() in TRUE_WORDS


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def error_json(code: str, message: str) -> bytes:
    """The error body's bytes, encoded as Starlette's ``JSONResponse`` does (compact,
    UTF-8), so an error reads byte for byte the same from either router."""
    return json.dumps(error_body(code, message), ensure_ascii=False, separators=(",", ":")).encode()


def error_headers(exc: KefuError) -> dict[str, str]:
    """Headers an error carries beside its body: ``Retry-After`` on every 429."""
    if isinstance(exc, RateLimited):
        return {"Retry-After": str(int(exc.retry_after))}
    return {}


def field_path(loc: Sequence[int | str]) -> str:
    """An error location as the client wrote the field: ``events[2].type``,
    ``query.limit``; the body itself and union branches are not part of it."""
    path = ""
    for index, part in enumerate(loc):
        if index == 0 and part == "body":
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        elif not (part.startswith("<") and part.endswith(">")):
            path += f".{part}" if path else part
    return path


def validation_answer(errors: Sequence[Mapping[str, Any]]) -> tuple[int, str, str]:
    """Status, code and message for pydantic's errors about a request: the first error,
    named by its field; a bad customer key has a code of its own (docs/rest.md) and wins
    over the rest; a body that is not JSON at all is ``invalid_json``."""
    first = next(
        (e for e in errors if e.get("type") == BAD_CUSTOMER_KEY), errors[0] if errors else {}
    )
    kind = first.get("type")
    if kind == "json_invalid":
        return 400, "invalid_json", "the body is not valid JSON"
    where = field_path(first.get("loc", ()))
    message = (
        f"{where}: {first.get('msg', 'invalid')}"
        if where
        else first.get("msg") or "invalid request"
    )
    if kind == BAD_CUSTOMER_KEY:
        return 400, BAD_CUSTOMER_KEY, message
    return 422, "validation_error", message


# CONTRACT.md's error body as an OpenAPI schema, for the native routes' documented errors.
ERROR_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}


def error_doc(description: str) -> dict[str, Any]:
    """An OpenAPI response answered with the error body: ``description`` names its codes."""
    return {"description": description, "content": {JSON: {"schema": dict(ERROR_SCHEMA)}}}


@dataclass(frozen=True, slots=True)
class NativeOperation:
    """The OpenAPI description of a route aiohttp serves itself, kept beside its handler
    and merged into ``/openapi.json`` (``kefu.api.app``), so the documentation and the
    route come from one module and a test checks one against the other."""

    method: str  # lowercase, as OpenAPI keys it
    path: str  # OpenAPI template: ``/api/v1/customers/{key}/360``
    operation: Mapping[str, Any] = field(default_factory=dict)
    # The types the operation's ``$ref``s name, each with the mode it is documented in
    # ("validation": a body; "serialization": an answer): their schemas go under
    # ``components.schemas`` written as FastAPI writes its own routes' (``kefu.api.app``).
    models: tuple[tuple[Any, Literal["validation", "serialization"]], ...] = ()
