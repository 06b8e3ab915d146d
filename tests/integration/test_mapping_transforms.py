"""The mapping vocabulary against real department systems, as an agent's client sees it.

docs/connectors.md's example of the seed's three systems (a MongoDB CRM with nested
names, MariaDB orders with upper-case columns, amounts in fen, a status code and
DATETIMEs in Beijing time, a GBK-encoded XML call center) is read from the doc itself,
pointed at SecantusDB (MongoDB protocol, 27117), the machine's MariaDB and an aiohttp
server of the test's own, and served: the 360 a client gets over HTTP is checked field by
field. Every table and collection is uniquely named and dropped afterwards.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncmy
import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer
from pymongo import AsyncMongoClient

from kefu.cache.memory import MemoryCache
from kefu.clock import SystemClock
from kefu.config import load_settings
from kefu.store.customer_tickets import CustomerTickets
from kefu.store.database import Database
from kefu.unify.build import build_customer360
from kefu.v1 import unified_pb2 as pb
from tests.support.kefu import Kefu, serving

DOC = Path(__file__).resolve().parents[2] / "docs" / "connectors.md"
MARKER = "<!-- tested: tests/integration/test_mapping_transforms.py reads the next yaml block -->"
MONGO_URL = "mongodb://127.0.0.1:27117/?directConnection=true"
MYSQL = {"host": "127.0.0.1", "port": 3306, "user": "root", "db": "test"}
PHONE = "13800138000"
CRM_SINCE = datetime(2019, 6, 1, 2, 0, tzinfo=UTC)

# pymongo may leave a socket to the garbage collector when a client closes while its
# monitor connects (see test_connectors_db.py): only sockets to SecantusDB are let through.
pytestmark = pytest.mark.filterwarnings(
    r"ignore:Exception ignored in. <socket\.socket ((?!raddr).)*>"
    r"|Exception ignored in. <socket\.socket .*27117\)>:pytest.PytestUnraisableExceptionWarning"
)


def doc_block() -> str:
    """The yaml block after the marker in docs/connectors.md."""
    text = DOC.read_text(encoding="utf-8")
    assert MARKER in text, "docs/connectors.md lost its tested example"
    block = re.search(r"```yaml\n(.*?)```", text.split(MARKER, 1)[1], re.DOTALL)
    assert block is not None
    return block.group(1)


def doc_example() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(doc_block())
    return loaded


CALLS_GBK = """<?xml version="1.0" encoding="GBK"?>
<CallHistory>
  <Call id="CL-1"><Dir>I</Dir><Agent><Last>李</Last><First>娜</First></Agent>
    <DurationMs>61500</DurationMs><Result>0</Result><Notes>询问退款进度</Notes>
    <StartedAt>2026-03-01 09:30:00</StartedAt></Call>
  <Call id="CL-2"><Dir>X</Dir><Agent><Last>张</Last></Agent>
    <DurationMs>abc</DurationMs><Result>7</Result>
    <StartedAt>2026-02-28T23:00:00+08:00</StartedAt></Call>
</CallHistory>
""".encode("gbk")


@contextlib.asynccontextmanager
async def callcenter(declared: bool = True) -> AsyncIterator[tuple[str, list[str]]]:
    """A legacy call center: GET /calls?phone=… answers GBK-encoded XML, with an XML
    declaration naming GBK, or (``declared=False``) with only the HTTP header's charset."""
    asked: list[str] = []
    document = CALLS_GBK if declared else CALLS_GBK.split(b"?>", 1)[1]

    async def calls(request: web.Request) -> web.Response:
        asked.append(request.query.get("phone", ""))
        if request.query.get("phone") != PHONE:
            return web.Response(
                body='<?xml version="1.0" encoding="GBK"?><CallHistory/>'.encode("gbk"),
                content_type="application/xml",
                charset="gbk",
            )
        return web.Response(body=document, content_type="application/xml", charset="GBK")

    app = web.Application()
    app.router.add_get("/calls", calls)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/"), asked
    finally:
        await server.close()


@contextlib.asynccontextmanager
async def crm_collection(documents: list[dict[str, Any]]) -> AsyncIterator[tuple[str, str]]:
    database, collection = f"kefu_map_{secrets.token_hex(4)}", "customers"
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGO_URL, tz_aware=True)
    try:
        await client[database][collection].insert_many(documents)
        yield database, collection
    finally:
        await client.drop_database(database)
        await client.close()


@contextlib.asynccontextmanager
async def orders_table() -> AsyncIterator[str]:
    """``T_ORDER_<hex>``: upper-case columns, fen, a status code, Beijing DATETIMEs."""
    table = f"T_ORDER_{secrets.token_hex(4).upper()}"
    conn = await asyncmy.connect(**MYSQL, autocommit=True)
    try:
        async with conn.cursor() as cursor:
            await cursor.execute(
                f"CREATE TABLE {table} (ORDER_NO VARCHAR(20) PRIMARY KEY, CUST_ID VARCHAR(20),"
                " STATUS TINYINT, AMOUNT_FEN BIGINT, CREATED_AT DATETIME)"
            )
            await cursor.executemany(
                f"INSERT INTO {table} VALUES (%s, %s, %s, %s, %s)",
                [
                    # Written as Beijing wall-clock time, as the shop's application does.
                    ("SO-1", "C-9", 1, 12850, "2026-03-01 12:00:00"),
                    ("SO-2", "C-9", 7, 5, "2026-02-01 08:30:00"),
                    ("SO-3", "C-8", 2, 100, "2026-02-01 08:30:00"),
                ],
            )
        yield table
        async with conn.cursor() as cursor:
            await cursor.execute(f"DROP TABLE IF EXISTS {table}")
    finally:
        conn.close()


@contextlib.asynccontextmanager
async def served(tmp_path: Path, sources: dict[str, Any]) -> AsyncIterator[Kefu]:
    settings = load_settings(
        None,
        data_dir=tmp_path / "data",
        store=f"sqlite:///{tmp_path / 'kefu.db'}",
        sources=sources,
    )
    async with serving(settings) as kefu:
        yield kefu


async def get_360(kefu: Kefu, token: str, key: str, protobuf: bool = False) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    if protobuf:
        headers["Accept"] = "application/x-protobuf"
    async with kefu.http.get(kefu.url(f"/api/v1/customers/{key}/360"), headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        if protobuf:
            return pb.UnifiedCustomer.FromString(await resp.read())
        return await resp.json()


CRM_DOCUMENT = {
    "customer_id": "C-9",
    "name": {"first": "芳", "last": "王"},
    "email": "wang.fang@example.test",
    "phone": PHONE,
    "level": 3,
    "points": 12850,
    "created_at": CRM_SINCE,
}


async def test_the_docs_three_systems_mapped_with_transforms_over_http(tmp_path: Path) -> None:
    sources = doc_example()["sources"]
    async with (
        crm_collection([CRM_DOCUMENT]) as (database, collection),
        orders_table() as table,
        callcenter() as (callcenter_url, asked),
    ):
        sources["crm"]["connection"] = {"url": MONGO_URL, "database": database}
        sources["crm"]["request"]["collection"] = collection
        sources["orders"]["connection"] = {"url": "mysql://root@127.0.0.1:3306/test"}
        query = sources["orders"]["request"]["query"]
        sources["orders"]["request"]["query"] = query.replace("T_ORDER", table)
        sources["callcenter"]["connection"]["base_url"] = callcenter_url
        async with served(tmp_path, sources) as kefu:
            agent = await kefu.add_agent("Ann")
            body = await get_360(kefu, agent["token"], "C-9")
            assert {name: s["status"] for name, s in body["sources"].items()} == {
                "crm": "ok",
                "orders": "ok",
                "callcenter": "ok",
            }
            customer = body["customer"]
            assert customer["name"] == "王芳"
            assert (customer["tier"], customer["locale"]) == ("vip", "zh-CN")
            assert customer["customer_since"] == "2019-06-01T02:00:00Z"  # Mongo: UTC as is

            orders = {order["id"]: order for order in body["orders"]}
            assert set(orders) == {"SO-1", "SO-2"}
            first = orders["SO-1"]
            assert (first["status"], first["total"], first["currency"]) == ("paid", "128.50", "CNY")
            # Beijing noon, stored in a DATETIME, is 04:00 UTC (it used to read 12:00Z).
            assert first["created_at"] == "2026-03-01T04:00:00Z"
            second = orders["SO-2"]
            assert (second["status"], second["total"]) == ("unknown", "0.05")
            assert second["created_at"] == "2026-02-01T00:30:00Z"

            calls = {call["id"]: call for call in body["calls"]}
            assert asked == [PHONE]  # asked with the phone the CRM mapped
            one = calls["CL-1"]
            assert (one["direction"], one["agent"], one["outcome"]) == (
                "inbound",
                "李娜",
                "answered",
            )
            assert one["duration_seconds"] == 62  # 61.5 s, rounded half up
            assert one["notes"] == "询问退款进度"  # GBK decoded
            assert one["started_at"] == "2026-03-01T01:30:00Z"
            two = calls["CL-2"]
            assert (two["direction"], two["agent"], two["outcome"]) == ("X", "张", "other")
            assert two["duration_seconds"] == 0  # "abc" ms: dropped, the rest served
            assert two["started_at"] == "2026-02-28T15:00:00Z"  # its own offset wins

            points = body["extensions"]["crm"]["points"]
            assert points == 12850 and isinstance(points, int)
            assert body["extensions"]["crm"]["customer_id"] == "C-9"
            assert "name" not in body["extensions"]["crm"]  # the template claimed it

            binary = await get_360(kefu, agent["token"], "C-9", protobuf=True)
            assert binary.orders[0].total in ("128.50", "0.05")
            ext = binary.extensions["crm"].fields["points"]
            assert ext.WhichOneof("kind") == "number_value" and ext.number_value == 12850


async def test_a_nested_object_mapped_to_text_is_dropped_and_logged_without_its_value(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 12 item 8, as the new user met it: the plain mapping ``name: name``."""
    async with crm_collection([CRM_DOCUMENT]) as (database, collection):
        sources = {
            "crm": {
                "connector": "mongodb",
                "connection": {"url": MONGO_URL, "database": database},
                "request": {
                    "collection": collection,
                    "filter": {"customer_id": "{value}"},
                    "projection": {"_id": 0},
                },
                "map": {"customer": {"name": "name", "email": "email", "tier": "level"}},
                "ttl_seconds": 0,
            }
        }
        async with served(tmp_path, sources) as kefu:
            agent = await kefu.add_agent("Ann")
            with caplog.at_level(logging.WARNING, logger="kefu.unify"):
                body = await get_360(kefu, agent["token"], "C-9")
            assert body["sources"]["crm"]["status"] == "ok"
            customer = body["customer"]
            assert customer["name"] == "", customer  # not "{'first': '芳', 'last': '王'}"
            assert customer["email"] == "wang.fang@example.test" and customer["tier"] == "3"
            points = body["extensions"]["crm"]["points"]
            assert points == 12850 and isinstance(points, int), points  # not 12850.0
            dropped = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
            assert dropped == [
                "source crm: customer.name dropped: a dict is not text "
                "(map one of its fields instead)"
            ]
            assert "芳" not in caplog.text and "王" not in caplog.text


async def test_the_docs_example_loads_as_written(tmp_path: Path) -> None:
    """Read from a file by kefu's own loader; connectors and mappings compile (no I/O)."""
    config = tmp_path / "kefu.yaml"
    config.write_text(doc_block(), encoding="utf-8")
    settings = load_settings(config)
    assert settings.sources["orders"].timezone == "Asia/Shanghai"
    async with Database(f"sqlite:///{tmp_path / 'kefu.db'}") as db:
        service = await build_customer360(
            settings.sources,
            settings.customer360,
            MemoryCache(),
            SystemClock(),
            CustomerTickets(db),
        )
        await service.close()


@contextlib.asynccontextmanager
async def rest_crm() -> AsyncIterator[str]:
    """A JSON CRM: nested names, money in fen, status codes, naive local times."""

    async def customer(request: web.Request) -> web.Response:
        if request.match_info["key"] != "C-9":
            return web.json_response({"error": "not found"}, status=404)
        return web.json_response(
            {
                "id": "C-9",
                "name": {"first": "芳", "last": "王"},
                "vip": 2,
                "orders": [{"no": "W-1", "fen": 199, "st": "1", "at": "2026-03-01 12:00:00"}],
            }
        )

    app = web.Application()
    app.router.add_get("/customers/{key}", customer)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


async def test_the_same_vocabulary_through_the_rest_and_sql_connectors(tmp_path: Path) -> None:
    orders_map = {
        "id": "ORDER_NO",
        "status": {"path": "STATUS", "enum": {1: "paid", 2: "shipped"}, "default": "unknown"},
        "total": {"path": "AMOUNT_FEN", "scale": 0.01},
        "currency": {"default": "CNY"},
        "created_at": "CREATED_AT",
    }
    async with orders_table() as table, rest_crm() as crm_url:
        sources = {
            "web": {
                "connector": "rest",
                "connection": {"base_url": crm_url},
                "request": {"path": "/customers/{value}"},
                "timezone": "Asia/Shanghai",
                "map": {
                    "customer": {
                        "name": {"join": ["name.last", "name.first"], "separator": ""},
                        "tier": {"path": "vip", "enum": {1: "gold", 2: "vip"}},
                    },
                    "orders": {
                        "from": "orders",
                        "fields": {
                            "id": "no",
                            "status": {"path": "st", "enum": {1: "paid"}},
                            "total": {"path": "fen", "scale": 0.01},
                            "created_at": "at",
                        },
                    },
                },
                "ttl_seconds": 0,
            },
            "shop": {
                "connector": "sql",
                "connection": {"url": "mysql+asyncmy://root@127.0.0.1:3306/test"},
                "timezone": "Asia/Shanghai",
                "request": {
                    "query": f"SELECT ORDER_NO, STATUS, AMOUNT_FEN, CREATED_AT FROM {table} "
                    "WHERE CUST_ID = :value"
                },
                "map": {"orders": orders_map},
                "ttl_seconds": 0,
            },
        }
        async with served(tmp_path, sources) as kefu:
            agent = await kefu.add_agent("Ann")
            body = await get_360(kefu, agent["token"], "C-9")
            assert {name: s["status"] for name, s in body["sources"].items()} == {
                "web": "ok",
                "shop": "ok",
            }
            assert (body["customer"]["name"], body["customer"]["tier"]) == ("王芳", "vip")
            got = {
                (o["source"], o["id"]): (o["status"], o["total"], o["created_at"])
                for o in body["orders"]
            }
            assert got == {
                ("web", "W-1"): ("paid", "1.99", "2026-03-01T04:00:00Z"),
                ("shop", "SO-1"): ("paid", "128.50", "2026-03-01T04:00:00Z"),
                ("shop", "SO-2"): ("unknown", "0.05", "2026-02-01T00:30:00Z"),
            }


async def test_a_gbk_reply_without_a_declaration_is_read_in_the_headers_charset(
    tmp_path: Path,
) -> None:
    """``Content-Type: application/xml; charset=GBK`` and no ``<?xml … encoding?>``."""
    async with callcenter(declared=False) as (url, _asked):
        sources = {
            "callcenter": {
                "connector": "xml",
                "connection": {"base_url": url},
                "request": {"method": "GET", "path": "/calls", "params": {"phone": "{value}"}},
                "map": {"calls": {"from": "Call", "fields": {"id": "@id", "notes": "Notes"}}},
                "ttl_seconds": 0,
            }
        }
        async with served(tmp_path, sources) as kefu:
            agent = await kefu.add_agent("Ann")
            body = await get_360(kefu, agent["token"], PHONE)
            assert body["sources"]["callcenter"]["status"] == "ok", body["sources"]
            assert body["calls"][0]["notes"] == "询问退款进度"


async def test_mysql_timestamps_are_instants_and_datetimes_take_the_sources_zone(
    tmp_path: Path,
) -> None:
    """One moment, 2026-03-01 04:00 UTC, written by a Beijing application into a DATETIME
    (as wall-clock text) and a TIMESTAMP (from a +08:00 session, so MariaDB stores the
    instant): both must come out as that instant, whatever the server's own zone."""
    table = f"T_TIMES_{secrets.token_hex(4).upper()}"
    conn = await asyncmy.connect(**MYSQL, autocommit=True)
    try:
        async with conn.cursor() as cursor:
            await cursor.execute("SET time_zone = '+08:00'")
            await cursor.execute(
                f"CREATE TABLE {table} (ORDER_NO VARCHAR(20), CUST_ID VARCHAR(20),"
                " CREATED_AT DATETIME, PAID_AT TIMESTAMP NULL)"
            )
            await cursor.execute(
                f"INSERT INTO {table} VALUES "
                "('SO-1', 'C-9', '2026-03-01 12:00:00', '2026-03-01 12:00:00')"
            )
        sources = {
            "orders": {
                "connector": "mysql",
                "connection": {"url": "mysql://root@127.0.0.1:3306/test"},
                "timezone": "Asia/Shanghai",
                "request": {"query": f"SELECT * FROM {table} WHERE CUST_ID = :value"},
                "map": {"orders": {"id": "ORDER_NO", "created_at": "CREATED_AT"}},
                "ttl_seconds": 0,
            }
        }
        async with served(tmp_path, sources) as kefu:
            agent = await kefu.add_agent("Ann")
            body = await get_360(kefu, agent["token"], "C-9")
            [order] = body["orders"]
            assert order["created_at"] == "2026-03-01T04:00:00Z"
            assert body["extensions"]["orders"]["orders"] == [
                {"CUST_ID": "C-9", "PAID_AT": "2026-03-01T04:00:00Z"}
            ]
    finally:
        async with conn.cursor() as cursor:
            await cursor.execute(f"DROP TABLE IF EXISTS {table}")
        conn.close()
