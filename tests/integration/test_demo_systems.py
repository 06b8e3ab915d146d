"""The simulated department systems, over real sockets and real databases.

The call center and the CRM are served on real ports and spoken to with httpx; the order
tables are loaded into SQLite, MariaDB and PostgreSQL; the CRM documents into SecantusDB
(MongoDB wire protocol). A service that is down makes these tests fail, never skip:
`make test` (scripts/ensure-services.sh) starts them.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from lxml import etree
from pymongo import AsyncMongoClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from kefu.demo_systems import Behaviour, requests_served, serve_app, simulator_stats
from kefu.demo_systems.callcenter import (
    CALLCENTER_NS,
    SOAP_ACTION,
    SOAP_ENV_NS,
    call_history_request,
    callcenter_app,
    running_callcenter,
)
from kefu.demo_systems.crm import crm_app, customer_json, running_crm, seed_mongo
from kefu.demo_systems.dataset import (
    REFERENCE_TIME,
    Dataset,
    build_dataset,
    normalize_phone,
)
from kefu.demo_systems.orders import seed_orders

MARIADB_ADMIN_URL = "mysql+asyncmy://root@127.0.0.1:3306/test"
PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
# Fail within seconds, not pymongo's default 30 s, when SecantusDB is down.
MONGO_URL = "mongodb://127.0.0.1:27117/?directConnection=true&serverSelectionTimeoutMS=5000"

NS = {"s": SOAP_ENV_NS, "c": CALLCENTER_NS}
SOAP_HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": SOAP_ACTION}

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>
<GetCallHistory xmlns="urn:kefu-demo:callcenter"><Phone>&lol9;</Phone></GetCallHistory>
</soap:Body></soap:Envelope>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE soap:Envelope [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>
<GetCallHistory xmlns="urn:kefu-demo:callcenter"><Phone>&xxe;</Phone></GetCallHistory>
</soap:Body></soap:Envelope>"""

PLAIN_DOCTYPE = (
    b'<?xml version="1.0"?><!DOCTYPE soap:Envelope>'
    + call_history_request("+8613800001001").split(b"?>", 1)[1]
)


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return build_dataset()


def parse(body: bytes) -> etree._Element:
    return etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))


def calls_in(calls: etree._Element | None) -> list[dict[str, str]]:
    """Every <Call> of a <Calls> element, as the dict a connector would build."""
    assert calls is not None and calls.tag == f"{{{CALLCENTER_NS}}}Calls"
    found = []
    for call in calls.iterfind("c:Call", NS):
        fields = {etree.QName(child).localname: child.text or "" for child in call}
        found.append({"id": call.get("id", ""), **fields})
    return found


def expected_calls(dataset: Dataset, phone: str) -> list[dict[str, str]]:
    return [
        {
            "id": c.call_id,
            "Direction": c.direction,
            "Agent": c.agent,
            "DurationSeconds": str(c.duration_seconds),
            "Outcome": c.outcome,
            "Notes": c.notes,
            "StartedAt": c.started_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Queue": c.queue,
        }
        for c in dataset.calls_of_phone(phone)
    ]


# --- dataset -------------------------------------------------------------------------------


def test_dataset_is_deterministic_and_a_smaller_one_is_a_prefix() -> None:
    assert build_dataset() == build_dataset()
    assert build_dataset(seed=1) != build_dataset(seed=2)
    small, large = build_dataset(10), build_dataset(50)
    assert small.customers == large.customers[:10]
    assert small.orders == large.orders[: len(small.orders)]
    assert small.calls == large.calls[: len(small.calls)]


def test_dataset_shape(dataset: Dataset) -> None:
    customers = dataset.customers
    assert [c.customer_key for c in customers] == [f"C{1001 + i}" for i in range(50)]
    assert len({c.email for c in customers}) == 50
    assert len({c.phone for c in customers}) == 50
    for c in customers:
        assert c.email == c.email.lower() and re.fullmatch(r"[a-z0-9.]+@example\.\w+", c.email)
        assert re.fullmatch(r"\+[1-9]\d{7,14}", c.phone), c.phone
        assert c.tier in {"vip", "gold", "standard"}
        assert c.customer_since.tzinfo is UTC and c.customer_since < REFERENCE_TIME
        assert c.loyalty_points >= 0 and c.preferred_channel
        assert 0 <= len(dataset.orders_of(c.customer_key)) <= 6
        assert 0 <= len(dataset.calls_of(c.customer_key)) <= 5
    assert {c.tier for c in customers} == {"vip", "gold", "standard"}
    # Mixed names: pinyin (family name first) and western ones, accents included.
    assert any(c.locale == "zh-CN" for c in customers)
    assert any(c.locale != "zh-CN" for c in customers)
    # Some customers have nothing: an empty section is part of what the 360 shows.
    assert any(not dataset.orders_of(c.customer_key) for c in customers)
    assert any(not dataset.calls_of(c.customer_key) for c in customers)

    assert len({o.order_no for o in dataset.orders}) == len(dataset.orders)
    for o in dataset.orders:
        assert re.fullmatch(r"SO-\d{6}", o.order_no)
        assert o.currency in {"CNY", "USD"} and o.created_at.tzinfo is UTC
        assert o.lines and o.total == sum(line.unit_price * line.quantity for line in o.lines)
        assert o.total.as_tuple().exponent == -2
        assert all(line.unit_price.as_tuple().exponent == -2 for line in o.lines)
    assert len({c.call_id for c in dataset.calls}) == len(dataset.calls)
    for call in dataset.calls:
        assert call.direction in {"inbound", "outbound"} and call.started_at.tzinfo is UTC
        assert dataset.customer_by_phone(call.phone) == dataset.customer(call.customer_key)


def test_first_customer_is_a_rich_one(dataset: Dataset) -> None:
    first = dataset.customer("C1001")
    assert first is not None
    assert (first.name, first.email, first.phone) == (
        "Li Wei",
        "li.wei@example.com",
        "+8613800001001",
    )
    assert first.tier == "vip"
    assert len(dataset.orders_of("C1001")) >= 3
    assert len(dataset.calls_of("C1001")) >= 2
    orders = dataset.orders_of("C1001")
    assert [o.created_at for o in orders] == sorted((o.created_at for o in orders), reverse=True)


def test_lookups(dataset: Dataset) -> None:
    first = dataset.customers[0]
    assert dataset.customer_by_email("  LI.Wei@Example.COM ") == first
    assert dataset.customer_by_phone("+86 138-0000-1001") == first
    assert dataset.customer_by_phone(" 8613800001001") == first  # "+" decoded as a space
    assert dataset.customer("C9999") is None and dataset.orders_of("C9999") == ()
    assert normalize_phone("(+1) 415.555.1006") == "+14155551006"


def test_behaviour_rejects_impossible_settings() -> None:
    with pytest.raises(ValueError):
        Behaviour(failure_rate=1.5)
    with pytest.raises(ValueError):
        Behaviour(latency_ms=-1)


# --- call center ---------------------------------------------------------------------------


async def test_callcenter_soap_answers_the_calls_of_a_phone(dataset: Dataset) -> None:
    phone = dataset.customers[0].phone
    async with running_callcenter(dataset=dataset) as url, httpx.AsyncClient() as http:
        resp = await http.post(
            url + "/soap/CallHistory", content=call_history_request(phone), headers=SOAP_HEADERS
        )
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/xml")
        root = parse(resp.content)
        assert root.tag == f"{{{SOAP_ENV_NS}}}Envelope"
        calls = calls_in(root.find("s:Body/c:GetCallHistoryResponse/c:Calls", NS))
        assert len(calls) >= 2
        # Every text survives the round trip, "&", "<" and quotes included.
        assert calls == expected_calls(dataset, phone)
        assert all(re.fullmatch(r"20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ", c["StartedAt"]) for c in calls)


async def test_callcenter_plain_variant_answers_the_same_calls(dataset: Dataset) -> None:
    phone = dataset.customers[0].phone
    async with running_callcenter(dataset=dataset) as url, httpx.AsyncClient() as http:
        resp = await http.get(url + "/calls", params={"phone": phone})
        assert resp.status_code == 200
        root = parse(resp.content)
        assert calls_in(root) == expected_calls(dataset, phone)
        # An unencoded "+" arrives as a space; the number is still found.
        resp = await http.get(url + "/calls?phone=+8613800001001")
        assert len(parse(resp.content)) == len(dataset.calls_of("C1001"))
        resp = await http.get(url + "/calls")
        assert resp.status_code == 400
        assert parse(resp.content).get("code") == "Client"


async def test_callcenter_unknown_phone_is_an_empty_list(dataset: Dataset) -> None:
    async with running_callcenter(dataset=dataset) as url, httpx.AsyncClient() as http:
        resp = await http.post(
            url + "/soap/CallHistory",
            content=call_history_request("+49000000000"),
            headers=SOAP_HEADERS,
        )
        assert resp.status_code == 200
        calls = parse(resp.content).find("s:Body/c:GetCallHistoryResponse/c:Calls", NS)
        assert calls is not None and len(calls) == 0
        resp = await http.get(url + "/calls", params={"phone": "+49000000000"})
        assert resp.status_code == 200
        root = parse(resp.content)
        assert root.tag == f"{{{CALLCENTER_NS}}}Calls" and len(root) == 0


@pytest.mark.parametrize(
    "body",
    [BILLION_LAUGHS, XXE, PLAIN_DOCTYPE],
    ids=["billion-laughs", "external-entity", "doctype"],
)
async def test_callcenter_refuses_any_doctype(dataset: Dataset, body: bytes) -> None:
    async with running_callcenter(dataset=dataset) as url, httpx.AsyncClient() as http:
        resp = await http.post(url + "/soap/CallHistory", content=body, headers=SOAP_HEADERS)
        assert resp.status_code == 400
        assert b"root:" not in resp.content and b"lollol" not in resp.content
        fault = parse(resp.content).find("s:Body/s:Fault", NS)
        assert fault is not None
        assert fault.findtext("faultcode") == "soap:Client"
        # Refused, not expanded: this fault comes from the byte scan that runs before any
        # parser sees the document (no timing check: a loaded host makes any bound flaky).
        assert fault.findtext("faultstring") == "a DOCTYPE is not allowed"
        # The server is still fine afterwards.
        resp = await http.post(
            url + "/soap/CallHistory",
            content=call_history_request("+8613800001001"),
            headers=SOAP_HEADERS,
        )
        assert resp.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<not-closed>",
        b"<Envelope/>",
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        b"<soap:Body><Other/></soap:Body></soap:Envelope>",
        call_history_request("   "),
    ],
    ids=["empty", "malformed", "not-soap", "other-operation", "blank-phone"],
)
async def test_callcenter_bad_requests_are_client_faults(dataset: Dataset, body: bytes) -> None:
    async with running_callcenter(dataset=dataset) as url, httpx.AsyncClient() as http:
        resp = await http.post(url + "/soap/CallHistory", content=body, headers=SOAP_HEADERS)
        assert resp.status_code == 400
        assert parse(resp.content).findtext("s:Body/s:Fault/faultcode", namespaces=NS) == (
            "soap:Client"
        )


async def test_callcenter_refuses_oversized_bodies(dataset: Dataset) -> None:
    async with running_callcenter(dataset=dataset) as url, httpx.AsyncClient() as http:
        body = call_history_request("+86" + "1" * 100_000)
        resp = await http.post(url + "/soap/CallHistory", content=body, headers=SOAP_HEADERS)
        assert resp.status_code == 413


async def test_callcenter_failure_rate_one_answers_soap_faults(dataset: Dataset) -> None:
    async with (
        running_callcenter(dataset=dataset, failure_rate=1.0) as url,
        httpx.AsyncClient() as http,
    ):
        resp = await http.post(
            url + "/soap/CallHistory",
            content=call_history_request("+8613800001001"),
            headers=SOAP_HEADERS,
        )
        assert resp.status_code == 500
        fault = parse(resp.content).find("s:Body/s:Fault", NS)
        assert fault is not None and fault.findtext("faultcode") == "soap:Server"
        assert fault.findtext("faultstring")
        resp = await http.get(url + "/calls", params={"phone": "+8613800001001"})
        assert resp.status_code == 500
        assert parse(resp.content).get("code") == "Server"


async def test_seeded_failures_repeat(dataset: Dataset) -> None:
    async def statuses() -> list[int]:
        async with (
            running_callcenter(dataset=dataset, failure_rate=0.5, seed=7) as url,
            httpx.AsyncClient() as http,
        ):
            params = {"phone": "+8613800001001"}
            return [(await http.get(url + "/calls", params=params)).status_code for _ in range(20)]

    first = await statuses()
    assert first == await statuses()
    assert {200, 500} == set(first)


async def test_callcenter_applies_latency_and_counts_requests(dataset: Dataset) -> None:
    app = callcenter_app(dataset, latency_ms=300, jitter_ms=0)
    async with serve_app(app) as url, httpx.AsyncClient() as http:
        started = time.perf_counter()
        resp = await http.get(url + "/calls", params={"phone": "+8613800001001"})
        assert resp.status_code == 200
        assert time.perf_counter() - started >= 0.3
        # Five at once overlap on the server: what a parallel fan-out looks like.
        responses = await asyncio.gather(
            *(
                http.post(
                    url + "/soap/CallHistory",
                    content=call_history_request("+8613800001001"),
                    headers=SOAP_HEADERS,
                )
                for _ in range(5)
            )
        )
        assert [r.status_code for r in responses] == [200] * 5
        stats = simulator_stats(app)
        assert stats.requests == 6 and stats.failures == 0 and stats.in_flight == 0
        assert stats.peak_in_flight == 5


async def test_callcenter_jitter_never_goes_below_zero(dataset: Dataset) -> None:
    async with (
        running_callcenter(dataset=dataset, latency_ms=1, jitter_ms=50, seed=3) as url,
        httpx.AsyncClient() as http,
    ):
        for _ in range(5):
            resp = await http.get(url + "/calls", params={"phone": "+8613800001001"})
            assert resp.status_code == 200


# --- CRM -----------------------------------------------------------------------------------


async def test_crm_profile_and_404(dataset: Dataset) -> None:
    async with running_crm(dataset=dataset) as url, httpx.AsyncClient() as http:
        resp = await http.get(url + "/api/customers/C1001")
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("application/json")
        body = resp.json()
        assert body == {
            "customer_id": "C1001",
            "name": "Li Wei",
            "email": "li.wei@example.com",
            "phone": "+8613800001001",
            "tier": "vip",
            "company": dataset.customers[0].company,
            "locale": "zh-CN",
            "tags": list(dataset.customers[0].tags),
            "customer_since": "2019-04-12T03:27:45Z",
            "loyalty_points": dataset.customers[0].loyalty_points,
            "preferred_channel": dataset.customers[0].preferred_channel,
        }
        # Every customer, not only the first: the JSON is exactly customer_json().
        for customer in dataset.customers[1:6]:
            resp = await http.get(f"{url}/api/customers/{customer.customer_key}")
            assert resp.json() == customer_json(customer)
        resp = await http.get(url + "/api/customers/C9999")
        assert resp.status_code == 404
        assert resp.json()["error"] == "not_found"


async def test_crm_search_by_email_and_phone(dataset: Dataset) -> None:
    async with running_crm(dataset=dataset) as url, httpx.AsyncClient() as http:
        search = url + "/api/customers"
        items = (await http.get(search, params={"email": "Li.Wei@Example.com"})).json()["items"]
        assert [i["customer_id"] for i in items] == ["C1001"]
        items = (await http.get(search, params={"phone": "+8613800001001"})).json()["items"]
        assert [i["customer_id"] for i in items] == ["C1001"]
        both = {"email": "li.wei@example.com", "phone": "+8613800001001"}
        assert len((await http.get(search, params=both)).json()["items"]) == 1
        other = dataset.customers[1].phone
        mixed = {"email": "li.wei@example.com", "phone": other}
        assert (await http.get(search, params=mixed)).json() == {"items": []}
        nobody = {"email": "nobody@example.com"}
        assert (await http.get(search, params=nobody)).json() == {"items": []}
        resp = await http.get(search)
        assert resp.status_code == 400


async def test_crm_failures_latency_and_counts(dataset: Dataset) -> None:
    async with (
        running_crm(dataset=dataset, failure_rate=1.0) as url,
        httpx.AsyncClient() as http,
    ):
        resp = await http.get(url + "/api/customers/C1001")
        assert resp.status_code == 500 and resp.json()["error"] == "unavailable"
    app = crm_app(dataset, latency_ms=250)
    async with serve_app(app) as url, httpx.AsyncClient() as http:
        started = time.perf_counter()
        assert (await http.get(url + "/api/customers/C1001")).status_code == 200
        assert time.perf_counter() - started >= 0.25
        assert (await http.get(url + "/api/customers/C9999")).status_code == 404
        assert simulator_stats(app).requests == requests_served(app) == 2


# --- orders --------------------------------------------------------------------------------


async def assert_orders_loaded(url: str, dataset: Dataset) -> None:
    assert await seed_orders(url, dataset) == len(dataset.orders)
    # Seeding again replaces, it does not add.
    assert await seed_orders(url, dataset) == len(dataset.orders)
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            orders = (await conn.execute(text("SELECT COUNT(*) FROM demo_orders"))).scalar_one()
            lines = (await conn.execute(text("SELECT COUNT(*) FROM demo_order_lines"))).scalar_one()
            first = (
                await conn.execute(
                    text(
                        "SELECT order_no, total FROM demo_orders"
                        " WHERE customer_key = :key ORDER BY created_at DESC"
                    ),
                    {"key": "C1001"},
                )
            ).all()
            line_total = (
                await conn.execute(
                    text(
                        "SELECT SUM(quantity * unit_price) FROM demo_order_lines"
                        " WHERE order_no = :no"
                    ),
                    {"no": dataset.orders_of("C1001")[0].order_no},
                )
            ).scalar_one()
    finally:
        await engine.dispose()
    assert orders == len(dataset.orders)
    assert lines == sum(len(o.lines) for o in dataset.orders)
    expected = dataset.orders_of("C1001")
    assert [row[0] for row in first] == [o.order_no for o in expected]
    assert [Decimal(str(row[1])).quantize(Decimal("0.01")) for row in first] == [
        o.total for o in expected
    ]
    assert Decimal(str(line_total)).quantize(Decimal("0.01")) == expected[0].total


async def test_seed_orders_into_sqlite(tmp_path: Path, dataset: Dataset) -> None:
    await assert_orders_loaded(f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}", dataset)


@pytest.fixture
async def mariadb_url() -> AsyncIterator[str]:
    """A fresh MariaDB database per test, so parallel runs never share demo tables."""
    name = f"kefu_t_{secrets.token_hex(6)}"
    admin = create_async_engine(MARIADB_ADMIN_URL)
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f"CREATE DATABASE `{name}`"))
        yield MARIADB_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        await admin.dispose()


async def test_seed_orders_into_mariadb(mariadb_url: str, dataset: Dataset) -> None:
    await assert_orders_loaded(mariadb_url, dataset)


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    name = f"kefu_t_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def test_seed_orders_into_postgresql(postgres_url: str, dataset: Dataset) -> None:
    await assert_orders_loaded(postgres_url, dataset)


# --- CRM in MongoDB (SecantusDB) -----------------------------------------------------------


@pytest.fixture
async def mongo_database() -> AsyncIterator[str]:
    name = f"kefu_t_{secrets.token_hex(6)}"
    try:
        yield name
    finally:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGO_URL)
        try:
            await client.drop_database(name)
        finally:
            await client.close()


async def test_seed_mongo_then_find_by_email(mongo_database: str, dataset: Dataset) -> None:
    assert await seed_mongo(MONGO_URL, mongo_database, dataset) == 50
    assert await seed_mongo(MONGO_URL, mongo_database, dataset) == 50  # reload, not append
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGO_URL, tz_aware=True)
    try:
        customers = client[mongo_database]["customers"]
        assert await customers.count_documents({}) == 50
        found = await customers.find_one({"email": "li.wei@example.com"}, {"_id": 0})
        assert found is not None
        assert found["customer_id"] == "C1001" and found["tier"] == "vip"
        assert found["customer_since"] == datetime(2019, 4, 12, 3, 27, 45, tzinfo=UTC)
        assert found["tags"] == list(dataset.customers[0].tags)
        assert found["loyalty_points"] == dataset.customers[0].loyalty_points
        indexes = await customers.index_information()
        keys = {tuple(k for k, _ in spec["key"]) for spec in indexes.values()}
        assert {("customer_id",), ("email",)} <= keys
        unique = [spec for spec in indexes.values() if spec["key"] == [("customer_id", 1)]]
        assert unique and unique[0].get("unique") is True
    finally:
        await client.close()
