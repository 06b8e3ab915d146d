"""``POST /api/v1/visitors``, served by aiohttp itself: a visitor session per chat opened.

Native rather than FastAPI because a flash sale opens many chats at once (≥ 1,000 new
sessions/s per machine wanted): profiled at ~440 creations/s on one worker, FastAPI's
router, dependency solving, ASGI bridge and middlewares took ~35 points of a saturated
core against the route's own ~12. Written once: the handler is the route and
``OPERATION`` its documentation (the entry FastAPI generated, so ``/openapi.json`` did
not change). Answers are those tests/integration/test_visitor_route_contract.py pinned
on the FastAPI route, built from the same parts: the pydantic model validates, the REST
kernel renders errors, ``json_bodies.text_problem`` refuses text no store can hold.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from kefu.api.json_bodies import text_problem
from kefu.api.kernel import JSON, NativeOperation, validation_answer
from kefu.api.schemas import VisitorRequest, VisitorResponse
from kefu.errors import BadInput, Forbidden, KefuError
from kefu.node import Node
from kefu.observability.failures import report_unexpected
from kefu.web.errors import error_response, json_error

PATH = "/api/v1/visitors"
_NO_FIELDS = VisitorRequest()

OPERATION = NativeOperation(
    method="post",
    path=PATH,
    operation={
        "tags": ["auth"],
        "summary": "Create Visitor",
        "operationId": "create_visitor_api_v1_visitors_post",
        "requestBody": {
            "content": {
                JSON: {
                    "schema": {
                        "anyOf": [
                            {"$ref": "#/components/schemas/VisitorRequest"},
                            {"type": "null"},
                        ],
                        "title": "Body",
                    }
                }
            }
        },
        "responses": {
            "201": {
                "description": "Successful Response",
                "content": {JSON: {"schema": {"$ref": "#/components/schemas/VisitorResponse"}}},
            },
            "422": {
                "description": "Validation Error",
                "content": {JSON: {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}},
            },
        },
    },
    models=((VisitorRequest | None, "validation"), (VisitorResponse, "serialization")),
)


def _media(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _fields(body: bytes, content_type: str | None) -> VisitorRequest | web.Response:
    """The request's fields, or the answer refusing them.

    As FastAPI read the body: empty or JSON ``null`` is no fields; only a JSON media type
    (``application/json``, ``application/*+json``) is parsed, any other body is validated
    as the raw bytes it is and so refused 422 as not an object.
    """
    if not body:
        return _NO_FIELDS
    media = _media(content_type)
    if media == JSON or media.endswith("+json"):  # what StrictJsonText checked
        problem = text_problem(body)
        if problem is not None:
            return json_error(400, "invalid_json", problem)
    data: Any = body
    if media.startswith("application/") and (media == JSON or media.endswith("+json")):
        try:
            data = json.loads(body)
        except ValueError:
            return json_error(400, "invalid_json", "the body is not valid JSON")
        if data is None:
            return _NO_FIELDS
    try:
        return VisitorRequest.model_validate(data, from_attributes=True)
    except ValidationError as exc:
        return json_error(*validation_answer(exc.errors(include_url=False)))


async def _sent(request: web.Request, response: web.Response) -> web.Response:
    """``response``, written here rather than by aiohttp after the middlewares (which
    drops a write to a client gone away without a word): a session minted for a client
    that reset its connection is reported, at DEBUG, as the FastAPI route's was."""
    try:
        await response.prepare(request)
        await response.write_eof()
    except ConnectionResetError as exc:
        report_unexpected(f"POST {PATH}", exc)
    return response


def add_routes(app: web.Application, node: Node) -> None:
    async def create_visitor(request: web.Request) -> web.Response:
        if request.method != "POST":
            return json_error(405, "method_not_allowed", "Method Not Allowed", {"Allow": "POST"})
        fields = _fields(await request.read(), request.headers.get("Content-Type"))
        if isinstance(fields, web.Response):
            return fields
        headers = request.headers
        ip = node.client_address.of(request)
        try:
            if node.blacklist.blocks(ip):
                raise Forbidden("this address is blocked", code="blocked")
            if fields.site is not None and not node.origins.knows_site(fields.site):
                raise BadInput(f"no site {fields.site!r} is configured", code="unknown_site")
            origin = headers.get("Origin")
            if (
                origin is not None
                and not node.origins.is_own(origin, headers.get("Host"))
                and not node.origins.site_allows(fields.site, origin)
            ):
                raise Forbidden(
                    "this page's origin is not one of the site's origins",
                    code="origin_not_allowed",
                )
            # The site's required pre-chat fields (422 prechat_required, nothing stored).
            await node.chat.greetings.admit_session(fields.site, fields.name, fields.email)
            session = await node.auth.start_visitor(
                name=fields.name,
                email=fields.email,
                external_id=fields.external_id,
                signature=fields.signature,
                page_url=fields.page_url,
                referrer=fields.referrer,
                ip=ip,
                user_agent=headers.get("User-Agent", "")[:500] or None,
                site_id=fields.site,
                timezone=fields.timezone,
                locale=fields.locale,
            )
        except KefuError as exc:
            return error_response(exc)
        answer = {"visitor_id": session.visitor.id, "token": session.token}
        body = json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()
        return await _sent(request, web.Response(status=201, body=body, content_type=JSON))

    async def without_slash(request: web.Request) -> web.Response:
        """307 to the path without its trailing slash, as FastAPI's router answered."""
        query = request.rel_url.raw_query_string
        location = str(request.url.with_path(PATH)) + (f"?{query}" if query else "")
        return web.Response(status=307, headers={"Location": location})

    # Any method: the others are answered 405 here, as FastAPI did (the path is ours).
    app.router.add_route("*", PATH, create_visitor)
    app.router.add_route("*", PATH + "/", without_slash)
