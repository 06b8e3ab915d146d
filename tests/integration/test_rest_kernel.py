"""The REST kernel (issue 13): the native aiohttp routes and the FastAPI routes read the
bearer token, render errors and read query flags with the same code, and the native 360
is written once: its OpenAPI entry is its own definition, checked here against what the
served route does."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kefu.api.kernel import TRUE_WORDS
from kefu.config import load_settings
from kefu.domain.roles import Role
from kefu.web import customer360, downloads, visitors
from tests.conftest import Kefu, serving

NATIVE_360 = "/api/v1/customers/C1/360"
FASTAPI_AGENT_ROUTE = "/api/v1/customers/sources"  # AgentDep, like the 360


@pytest.fixture
async def kefu360(tmp_path: Path) -> AsyncIterator[Kefu]:
    """A served node with one SQL source (a SQLite file) caching its answers for minutes."""
    orders = tmp_path / "orders.db"
    with sqlite3.connect(orders) as db:
        db.execute("CREATE TABLE orders (customer_key TEXT, order_no TEXT, status TEXT)")
        db.execute("INSERT INTO orders VALUES ('C1', 'O-1', 'shipped')")
    source = {
        "connector": "sql",
        "connection": {"url": f"sqlite+aiosqlite:///{orders}"},
        "request": {"query": "SELECT order_no, status FROM orders WHERE customer_key = :value"},
        "map": {"orders": {"id": "order_no", "status": "status"}},
        "ttl_seconds": 600,
    }
    settings = load_settings(
        None,
        data_dir=tmp_path / "data",
        store=f"sqlite:///{tmp_path / 'kefu.db'}",
        sources={"orders": source},
    )
    async with serving(settings) as kefu:
        yield kefu


async def raw(kefu: Kefu, method: str, path: str, **headers: str) -> tuple[int, bytes, Any]:
    async with kefu.http.request(method, kefu.url(path), headers=headers) as resp:
        return resp.status, await resp.read(), resp.headers


async def test_the_native_routes_openapi_entries_are_their_definitions(kefu360: Kefu) -> None:
    async with kefu360.http.get(kefu360.url("/openapi.json")) as resp:
        spec = await resp.json()

    for module in (customer360, downloads, visitors):
        operation = module.OPERATION
        served = spec["paths"][operation.path][operation.method]
        assert served == json.loads(json.dumps(operation.operation)), module.__name__
        parameters = operation.operation.get("parameters", [])
        path_params = [p["name"] for p in parameters if p["in"] == "path"]
        assert path_params == re.findall(r"{(\w+)}", operation.path)
    # The path FastAPI would have spelled with its ``:path`` convertor is not there twice.
    assert [p for p in spec["paths"] if p.endswith("/360")] == [customer360.OPERATION.path]


async def test_the_download_answers_what_its_openapi_entry_documents(kefu360: Kefu) -> None:
    """Each documented error status, with a code its description names."""
    responses = downloads.OPERATION.operation["responses"]
    agent = await kefu360.add_agent("Ann")
    path = "/api/v1/attachments/att_nope"
    answers = {
        "401": await raw(kefu360, "GET", path),
        "403": await raw(kefu360, "GET", path + "?exp=1&sig=forged"),
        "404": await raw(kefu360, "GET", path, Authorization=f"Bearer {agent['token']}"),
    }
    for status, (got, body, _) in answers.items():
        assert str(got) == status
        assert json.loads(body)["error"]["code"] in responses[status]["description"]


async def test_refresh_is_read_as_the_openapi_entry_documents(kefu360: Kefu) -> None:
    """Every documented yes word skips the cache; anything else (``y`` included) does not."""
    agent = await kefu360.add_agent("Ann")
    (refresh,) = [
        p for p in customer360.OPERATION.operation["parameters"] if p["name"] == "refresh"
    ]
    documented = {word for word in TRUE_WORDS if word in refresh["description"]}
    assert documented == TRUE_WORDS

    async def source_status(query: str) -> str:
        status, body = await kefu360.get(NATIVE_360 + query, agent["token"])
        assert status == 200, body
        value: str = body["sources"]["orders"]["status"]
        return value

    assert await source_status("") == "ok"  # fetched, now cached
    yes = [*sorted(documented), *(word.upper() for word in sorted(documented))]
    no = ["", "y", "n", "false", "0", "off", "no", "bogus"]
    answers = {word: await source_status(f"?refresh={word}") for word in [*yes, *no]}
    assert answers == {**dict.fromkeys(yes, "ok"), **dict.fromkeys(no, "cached")}


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer   ", "Basic abc", "Bearer not-a-token", "bearer  not-a-token "],
)
async def test_an_error_reads_the_same_from_both_routers(
    kefu360: Kefu, authorization: str | None
) -> None:
    """Same status, same bytes, same content type from FastAPI and from a native route."""
    headers = {} if authorization is None else {"Authorization": authorization}
    fastapi = await raw(kefu360, "GET", FASTAPI_AGENT_ROUTE, **headers)
    native = await raw(kefu360, "GET", NATIVE_360, **headers)
    download = await raw(kefu360, "GET", "/api/v1/attachments/att_nope", **headers)

    assert fastapi[0] == native[0] == download[0] == 401
    assert fastapi[1] == native[1] == download[1]
    assert json.loads(fastapi[1])["error"]["code"] in {"missing_token", "invalid_token"}
    assert {r[2]["Content-Type"] for r in (fastapi, native, download)} == {"application/json"}


async def test_a_bearer_token_is_read_the_same_by_every_router(kefu360: Kefu) -> None:
    """Scheme in any case, spaces around the token: one parser, one answer everywhere."""
    agent = await kefu360.add_agent("Ann", Role.AGENT)
    visitor = await kefu360.visitor()
    for token, expected in ((agent["token"], 200), (visitor["token"], 403)):
        for spelled in (f"Bearer {token}", f"bearer {token}", f"BEARER   {token}  "):
            fastapi = await raw(kefu360, "GET", FASTAPI_AGENT_ROUTE, Authorization=spelled)
            native = await raw(kefu360, "GET", NATIVE_360, Authorization=spelled)
            assert (fastapi[0], native[0]) == (expected, expected), spelled
            if expected == 403:
                assert fastapi[1] == native[1]  # agents_only, byte for byte


async def test_other_methods_on_the_360_are_405_in_the_contract_s_shape(kefu360: Kefu) -> None:
    status, body, headers = await raw(kefu360, "POST", NATIVE_360)
    assert status == 405
    assert json.loads(body)["error"]["code"] == "method_not_allowed"
    assert headers["Allow"] == "GET"
