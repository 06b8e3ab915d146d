"""``POST /api/v1/visitors`` pinned answer by answer, on SQLite and on PostgreSQL.

Written against the FastAPI route before it became a native aiohttp one (kefu.web.visitors:
a flash sale opens many chats at once): every answer here, status, content type, error
code and exact message, held then and must hold now, including what FastAPI did
incidentally (a JSON ``null`` body is an empty one; a body sent without a JSON content
type is refused 422 with no field path). A refused request creates no visitor.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from kefu.api.schemas import VisitorRequest, VisitorResponse
from kefu.config import Settings
from kefu.domain.roles import Role
from kefu.store.tables import visitors
from tests.support.kefu import Kefu

PATH = "/api/v1/visitors"
SHOP = "https://shop.example"
JSON_CT = "application/json"
NOT_AN_OBJECT = "Input should be a valid dictionary or object to extract fields from"
KEY_RULE = (
    "a customer key must not contain control characters (line breaks, tabs, NUL) "
    "or other unprintable ones"
)


@pytest.fixture
def settings(request: pytest.FixtureRequest, settings_factory: Callable[..., Settings]) -> Settings:
    """One configured site with one origin; a test may add overrides (indirect)."""
    overrides = {"sites": [{"id": "shop", "origins": [SHOP]}], **getattr(request, "param", {})}
    return settings_factory(**overrides)


def with_settings(**overrides: Any) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("settings", [overrides], indirect=True, ids=["settings"])


async def post(
    kefu: Kefu, body: bytes | io.BytesIO, content_type: str | None = JSON_CT, **headers: str
) -> tuple[int, str | None, dict[str, Any], dict[str, str]]:
    """Status, content type, JSON answer and headers of one raw creation request."""
    sent = dict(headers)
    if content_type is not None:
        sent["Content-Type"] = content_type
    async with kefu.http.post(
        kefu.url(PATH), data=body, headers=sent, skip_auto_headers=["Content-Type"]
    ) as resp:
        return resp.status, resp.headers.get("Content-Type"), await resp.json(), dict(resp.headers)


async def count(kefu: Kefu) -> int:
    async with kefu.node.repos.db.connect() as conn:
        return int(
            (await conn.execute(sa.select(sa.func.count()).select_from(visitors))).scalar() or 0
        )


async def stored(kefu: Kefu, visitor_id: str) -> dict[str, Any]:
    """The visitor as the public API shows it to a supervisor."""
    supervisor = await kefu.add_agent("Sam", Role.SUPERVISOR)
    status, body = await kefu.get(f"{PATH}/{visitor_id}", supervisor["token"])
    assert status == 200, body
    return dict(body)


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


VALID = [
    pytest.param(b"", None, id="empty-body-no-content-type"),
    pytest.param(b"", JSON_CT, id="empty-body"),
    pytest.param(b"{}", JSON_CT, id="empty-object"),
    pytest.param(b"null", JSON_CT, id="null-is-empty"),
    pytest.param(b"{}", "application/json; charset=utf-8", id="charset"),
    pytest.param(b"{}", "application/vnd.kefu+json", id="plus-json"),
    pytest.param(dumps({"name": "王小明"}), JSON_CT, id="chinese-name"),
    pytest.param(dumps({"site": "shop"}), JSON_CT, id="site"),
    pytest.param(dumps({"locale": "zh-CN", "timezone": "Asia/Shanghai"}), JSON_CT, id="intl"),
    pytest.param(dumps({"external_id": "a b"}), JSON_CT, id="key-with-space"),
]


@pytest.mark.parametrize(("body", "content_type"), VALID)
async def test_valid_bodies_create_a_session(
    kefu: Kefu, body: bytes, content_type: str | None
) -> None:
    status, media, answer, _ = await post(kefu, body, content_type)

    assert (status, media) == (201, JSON_CT), answer
    assert set(answer) == {"visitor_id", "token"}
    assert await count(kefu) == 1


async def test_all_fields_are_stored_with_the_callers_address_and_agent(kefu: Kefu) -> None:
    fields = {
        "name": "王小明",
        "email": "wang@example.com",
        "external_id": "cust-42",
        "page_url": "https://shop.example/cart",
        "referrer": "https://search.example/",
        "signature": "ab" * 32,
        "site": "shop",
        "timezone": "Asia/Shanghai",
        "locale": "zh-CN",
    }
    status, _, answer, _ = await post(kefu, dumps(fields), **{"User-Agent": "ua/1 " + "x" * 600})
    assert status == 201, answer

    visitor = await stored(kefu, answer["visitor_id"])

    assert visitor["name"] == "王小明"
    assert visitor["email"] == "wang@example.com"
    assert visitor["external_id"] == "cust-42"
    assert visitor["identity_verified"] is False  # no identity secret configured
    assert (visitor["site_id"], visitor["timezone"], visitor["locale"]) == (
        "shop",
        "Asia/Shanghai",
        "zh-CN",
    )
    assert (visitor["page_url"], visitor["referrer"]) == (fields["page_url"], fields["referrer"])
    assert visitor["ip"] == "127.0.0.1"
    assert visitor["user_agent"] == ("ua/1 " + "x" * 600)[:500]
    status, _ = await kefu.get("/api/v1/conversations", answer["token"])
    assert status != 401  # the token is a working visitor token


def invalid(body: bytes, message: str) -> tuple[bytes, str | None, int, str, str]:
    return body, JSON_CT, 400, "invalid_json", message


def unprocessable(body: bytes, message: str, ct: str | None = JSON_CT) -> Any:
    return body, ct, 422, "validation_error", message


REFUSED = [
    pytest.param(*unprocessable(b"[]", NOT_AN_OBJECT), id="array"),
    pytest.param(*unprocessable(b'"x"', NOT_AN_OBJECT), id="string"),
    pytest.param(*unprocessable(b"1", NOT_AN_OBJECT), id="number"),
    pytest.param(*unprocessable(b"{}", NOT_AN_OBJECT, None), id="object-no-content-type"),
    pytest.param(*unprocessable(b'{"name":"x"}', NOT_AN_OBJECT, "text/plain"), id="text-plain"),
    pytest.param(
        *unprocessable(b"name=x", NOT_AN_OBJECT, "application/x-www-form-urlencoded"), id="form"
    ),
    pytest.param(*invalid(b'{"name": ', "the body is not valid JSON"), id="invalid-json"),
    pytest.param(
        *invalid(
            b'{"name":"\\ud800"}', "the body is not valid JSON (a lone UTF-16 surrogate escape?)"
        ),
        id="lone-surrogate",
    ),
    pytest.param(*invalid(b'{"name":"\xff"}', "the body is not valid UTF-8"), id="invalid-utf8"),
    pytest.param(
        *unprocessable(
            b'{"name":"a\\u0000b"}', "Value error, text must not contain the NUL character (U+0000)"
        ),
        id="nul-in-name",
    ),
    pytest.param(
        b'{"external_id":"a\\u0000b"}',
        JSON_CT,
        400,
        "bad_customer_key",
        f"external_id: {KEY_RULE}",
        id="nul-in-external-id",
    ),
    pytest.param(
        b'{"name":1,"external_id":"a\\tb"}',
        JSON_CT,
        400,
        "bad_customer_key",
        f"external_id: {KEY_RULE}",
        id="bad-key-wins-over-other-errors",
    ),
    pytest.param(
        *unprocessable(b'{"nick":"x"}', "nick: Extra inputs are not permitted"), id="unknown"
    ),
    pytest.param(*unprocessable(b'{"name":1}', "name: Input should be a valid string"), id="type"),
    pytest.param(
        *unprocessable(b'{"email":[]}', "email: Input should be a valid string"), id="email-type"
    ),
    pytest.param(
        *unprocessable(b'{"name":1,"email":"nope"}', "name: Input should be a valid string"),
        id="first-error-wins",
    ),
    pytest.param(
        *unprocessable(
            dumps({"name": "x" * 201}), "name: String should have at most 200 characters"
        ),
        id="long-name",
    ),
    pytest.param(
        *unprocessable(
            dumps({"external_id": "x" * 201}),
            "external_id: String should have at most 200 characters",
        ),
        id="long-external-id",
    ),
    pytest.param(
        *unprocessable(
            dumps({"signature": "x" * 129}), "signature: String should have at most 128 characters"
        ),
        id="long-signature",
    ),
    pytest.param(
        *unprocessable(
            dumps({"page_url": "x" * 2001}), "page_url: String should have at most 2000 characters"
        ),
        id="long-page-url",
    ),
    pytest.param(
        *unprocessable(
            b'{"email":"nope"}',
            "email: value is not a valid email address: An email address must have an @-sign.",
        ),
        id="bad-email",
    ),
    pytest.param(
        *unprocessable(
            b'{"timezone":"Asia/Shang hai"}',
            "timezone: String should match pattern '^[A-Za-z0-9_+\\-/]+$'",
        ),
        id="bad-timezone",
    ),
    pytest.param(
        *unprocessable(
            b'{"locale":"zh_CN"}', "locale: String should match pattern '^[A-Za-z0-9\\-]+$'"
        ),
        id="bad-locale",
    ),
    pytest.param(
        *unprocessable(b'{"site":""}', "site: String should have at least 1 character"),
        id="empty-site",
    ),
    pytest.param(
        b'{"site":"nope"}',
        JSON_CT,
        400,
        "unknown_site",
        "no site 'nope' is configured",
        id="unknown-site",
    ),
]


@pytest.mark.parametrize(("body", "content_type", "status", "code", "message"), REFUSED)
async def test_refused_bodies_answer_the_contract_error_and_create_nothing(
    kefu: Kefu, body: bytes, content_type: str | None, status: int, code: str, message: str
) -> None:
    got_status, media, answer, _ = await post(kefu, body, content_type)

    assert (got_status, media) == (status, JSON_CT), answer
    assert answer == {"error": {"code": code, "message": message}}
    assert await count(kefu) == 0


async def test_body_over_the_rest_limit_is_413(kefu: Kefu) -> None:
    status, media, answer, _ = await post(kefu, io.BytesIO(dumps({"name": "x" * (1024 * 1024)})))

    assert (status, media) == (413, JSON_CT)
    assert answer == {
        "error": {"code": "too_large", "message": "request bodies are limited to 1048576 bytes"}
    }
    assert await count(kefu) == 0


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
async def test_other_methods_are_405_allow_post(kefu: Kefu, method: str) -> None:
    async with kefu.http.request(method, kefu.url(PATH), json={}) as resp:
        status, answer, allow = resp.status, await resp.json(), resp.headers.get("Allow")

    assert (status, allow) == (405, "POST")
    assert answer == {"error": {"code": "method_not_allowed", "message": "Method Not Allowed"}}
    assert await count(kefu) == 0


async def test_a_trailing_slash_is_redirected_307_keeping_the_query(kefu: Kefu) -> None:
    async with kefu.http.post(
        kefu.url(PATH + "/?from=widget"), json={}, allow_redirects=False
    ) as resp:
        status, location = resp.status, resp.headers.get("Location")

    assert (status, location) == (307, kefu.url(PATH + "?from=widget"))
    assert await count(kefu) == 0


# -- origins and CORS -----------------------------------------------------------------------


async def test_a_foreign_origin_is_403_origin_not_allowed(kefu: Kefu) -> None:
    status, media, answer, _ = await post(kefu, b'{"site":"shop"}', Origin="https://evil.example")

    assert (status, media) == (403, JSON_CT)
    assert answer == {
        "error": {
            "code": "origin_not_allowed",
            "message": "this page's origin is not one of the site's origins",
        }
    }
    assert await count(kefu) == 0


async def test_the_sites_origin_is_allowed_and_may_read_the_answer(kefu: Kefu) -> None:
    status, _, answer, headers = await post(kefu, b'{"site":"shop"}', Origin=SHOP)

    assert status == 201, answer
    assert headers["Access-Control-Allow-Origin"] == SHOP
    assert "Origin" in headers.get("Vary", "")


async def test_kefus_own_origin_is_allowed(kefu: Kefu) -> None:
    status, _, answer, _ = await post(kefu, b"{}", Origin=kefu.base)

    assert status == 201, answer


async def test_cors_preflight_for_a_site_origin(kefu: Kefu) -> None:
    async with kefu.http.options(
        kefu.url(PATH),
        headers={
            "Origin": SHOP,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    ) as resp:
        status, headers = resp.status, resp.headers

    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == SHOP
    assert headers["Access-Control-Allow-Methods"] == "POST"
    assert "Content-Type" in headers["Access-Control-Allow-Headers"]


# -- addresses: blacklist, rate limit, proxies -----------------------------------------------


async def test_a_blacklisted_address_is_403_blocked(kefu: Kefu) -> None:
    supervisor = await kefu.add_agent("Sam", Role.SUPERVISOR)
    status, _ = await kefu.post(
        "/api/v1/blacklist", supervisor["token"], json={"network": "127.0.0.1"}
    )
    assert status == 201

    status, media, answer, _ = await post(kefu, b'{"name":"Vera"}')

    assert (status, media) == (403, JSON_CT)
    assert answer == {"error": {"code": "blocked", "message": "this address is blocked"}}
    assert await count(kefu) == 0


@with_settings(auth={"visitors_per_ip_per_minute": 2})
async def test_too_many_sessions_from_one_address_is_429_with_retry_after(kefu: Kefu) -> None:
    for _ in range(2):
        assert (await post(kefu, b"{}"))[0] == 201

    status, media, answer, headers = await post(kefu, b"{}")

    assert (status, media) == (429, JSON_CT)
    assert answer == {
        "error": {
            "code": "too_many_sessions",
            "message": "too many visitor sessions from this address",
        }
    }
    assert headers["Retry-After"] == "60"
    assert await count(kefu) == 2


async def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(kefu: Kefu) -> None:
    status, _, answer, _ = await post(kefu, b"{}", **{"X-Forwarded-For": "203.0.113.9"})
    assert status == 201

    assert (await stored(kefu, answer["visitor_id"]))["ip"] == "127.0.0.1"


@with_settings(trusted_proxies=["127.0.0.1"])
async def test_x_forwarded_for_from_a_trusted_proxy_names_the_client(kefu: Kefu) -> None:
    status, _, answer, _ = await post(kefu, b"{}", **{"X-Forwarded-For": "203.0.113.9"})
    assert status == 201

    assert (await stored(kefu, answer["visitor_id"]))["ip"] == "203.0.113.9"


@with_settings(trusted_proxies=["127.0.0.1"])
async def test_the_blacklist_and_rate_limit_apply_to_the_forwarded_client(kefu: Kefu) -> None:
    supervisor = await kefu.add_agent("Sam", Role.SUPERVISOR)
    status, _ = await kefu.post(
        "/api/v1/blacklist", supervisor["token"], json={"network": "203.0.113.0/24"}
    )
    assert status == 201

    blocked = await post(kefu, b"{}", **{"X-Forwarded-For": "203.0.113.9"})
    other = await post(kefu, b"{}", **{"X-Forwarded-For": "198.51.100.7"})

    assert blocked[0] == 403
    assert blocked[2]["error"]["code"] == "blocked"
    assert other[0] == 201


# -- documentation ----------------------------------------------------------------------------

# The operation FastAPI generated for the route (recorded before it became native): the
# native route's ``NativeOperation`` must document the same, so no client's generated code
# changes. (Its 422 names FastAPI's ``HTTPValidationError``, as every FastAPI route's does.)
OPERATION = {
    "tags": ["auth"],
    "summary": "Create Visitor",
    "operationId": "create_visitor_api_v1_visitors_post",
    "requestBody": {
        "content": {
            JSON_CT: {
                "schema": {
                    "anyOf": [{"$ref": "#/components/schemas/VisitorRequest"}, {"type": "null"}],
                    "title": "Body",
                }
            }
        }
    },
    "responses": {
        "201": {
            "description": "Successful Response",
            "content": {JSON_CT: {"schema": {"$ref": "#/components/schemas/VisitorResponse"}}},
        },
        "422": {
            "description": "Validation Error",
            "content": {JSON_CT: {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}},
        },
    },
}


def without_null_defaults(schema: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON schema as OpenAPI writes it: ``"default": null`` is left out."""
    properties = {
        name: {k: v for k, v in prop.items() if not (k == "default" and v is None)}
        for name, prop in schema["properties"].items()
    }
    return {**schema, "properties": properties}


async def test_openapi_documents_the_route_and_its_models(kefu: Kefu) -> None:
    async with kefu.http.get(kefu.url("/openapi.json")) as resp:
        document = await resp.json()

    assert document["paths"][PATH]["post"] == OPERATION
    schemas = document["components"]["schemas"]
    assert schemas["VisitorRequest"] == without_null_defaults(VisitorRequest.model_json_schema())
    assert schemas["VisitorResponse"] == VisitorResponse.model_json_schema()
    assert list(schemas) == sorted(schemas)
