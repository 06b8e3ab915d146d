"""``GET /api/v1/customers/{key}/360`` served by aiohttp itself (the hot read of the 360).

The FastAPI route of the same path stays as its typed, documented twin (OpenAPI); this
handler answers first. Measured (bench/README.md, c360_cached): through FastAPI's router,
dependency solving and the ASGI bridge a cached 360 cost ~850 µs of CPU per request
(~1,100 req/s); natively ~140 µs — the same auth, errors and bytes, minus the machinery.
"""

from __future__ import annotations

import json
import re

from aiohttp import web

from kefu.errors import Forbidden, KefuError
from kefu.node import Node

PROTOBUF = "application/x-protobuf"
HEADERS = {"Cache-Control": "no-store", "Vary": "Accept"}
TRUE = frozenset({"1", "true", "yes", "on"})
# Any characters in the key, line breaks included: a key with a control character must
# reach the key check (400 bad_customer_key), not miss the route (404).
ROUTE = r"/api/v1/customers/{key:[\s\S]+}/360"
PATH = re.compile(r"/api/v1/customers/[\s\S]+/360")


def add_routes(app: web.Application, node: Node) -> None:
    async def unified(request: web.Request) -> web.Response:
        try:
            header = request.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            bearer = token.strip() if scheme.lower() == "bearer" and token else None
            caller = await node.auth.principal(bearer)
            if not caller.is_agent:
                raise Forbidden("agents only", code="agents_only")
            refresh = request.query.get("refresh", "false").lower() in TRUE
            view = await node.customers.unified(request.match_info["key"], refresh=refresh)
        except KefuError as exc:
            body = {"error": {"code": exc.code, "message": exc.message}}
            return web.Response(
                status=exc.status, text=json.dumps(body), content_type="application/json"
            )
        if PROTOBUF in request.headers.get("Accept", ""):
            return web.Response(
                body=view.message().SerializeToString(), content_type=PROTOBUF, headers=HEADERS
            )
        return web.Response(body=view.json(), content_type="application/json", headers=HEADERS)

    app.router.add_get(ROUTE, unified)
