"""``GET /api/v1/customers/{key}/360``, served by aiohttp itself (the hot read of the 360).

Written once: this handler is the route, and ``OPERATION`` (merged into ``/openapi.json``
by ``kefu.api.app``) is its documentation, next to the code that parses what it describes
(``refresh`` read by the kernel's ``query_flag``). Native rather than FastAPI because it
is hot: measured (bench/README.md, c360_cached), FastAPI's router, dependency solving
and the ASGI bridge cost a cached 360 ~850 µs of CPU per request (~1,100 req/s);
natively ~140 µs, with the same auth, errors and bytes.
"""

from __future__ import annotations

import re

from aiohttp import web

from kefu.api.kernel import (
    JSON,
    TRUE_WORDS,
    NativeOperation,
    bearer_token,
    error_doc,
    query_flag,
)
from kefu.errors import Forbidden, KefuError
from kefu.node import Node
from kefu.web.errors import error_response, json_error

PROTOBUF = "application/x-protobuf"
HEADERS = {"Cache-Control": "no-store", "Vary": "Accept"}
# Any characters in the key, line breaks included: a key with a control character must
# reach the key check (400 bad_customer_key), not miss the route (404).
ROUTE = r"/api/v1/customers/{key:[\s\S]+}/360"
PATH = re.compile(r"/api/v1/customers/[\s\S]+/360")
# GET (and the HEAD aiohttp adds); any other method on the path is answered 405 here.
METHODS = "GET"

OPERATION = NativeOperation(
    method="get",
    path="/api/v1/customers/{key}/360",
    operation={
        "tags": ["customer 360"],
        "summary": "Everything every department knows about a customer, fetched live",
        "operationId": "unified_api_v1_customers__key__360_get",
        "parameters": [
            {
                "name": "key",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "title": "Key"},
            },
            {
                "name": "refresh",
                "in": "query",
                "required": False,
                "description": "Skip the cache for this request: "
                + ", ".join(sorted(TRUE_WORDS))
                + " (any case) mean yes, anything else no.",
                "schema": {"type": "boolean", "default": False, "title": "Refresh"},
            },
        ],
        "responses": {
            "200": {
                "description": f"JSON, or binary kefu.v1.UnifiedCustomer with Accept: {PROTOBUF}",
                "content": {JSON: {"schema": {"type": "object"}}, PROTOBUF: {}},
            },
            "400": error_doc("bad_customer_key: the key breaks the customer key rule"),
            "401": error_doc("missing_token or invalid_token"),
            "403": error_doc("agents_only: a visitor's token"),
            "405": error_doc("method_not_allowed: only GET"),
        },
    },
)


def add_routes(app: web.Application, node: Node) -> None:
    async def unified(request: web.Request) -> web.Response:
        if request.method not in ("GET", "HEAD"):
            return json_error(405, "method_not_allowed", "Method Not Allowed", {"Allow": METHODS})
        try:
            caller = await node.auth.principal(bearer_token(request.headers.get("Authorization")))
            if not caller.is_agent:
                raise Forbidden("agents only", code="agents_only")
            refresh = query_flag(request.query.get("refresh"))
            view = await node.customers.unified(request.match_info["key"], refresh=refresh)
        except KefuError as exc:
            return error_response(exc)
        if PROTOBUF in request.headers.get("Accept", ""):
            return web.Response(
                body=view.message().SerializeToString(), content_type=PROTOBUF, headers=HEADERS
            )
        return web.Response(body=view.json(), content_type=JSON, headers=HEADERS)

    app.router.add_route("*", ROUTE, unified)
