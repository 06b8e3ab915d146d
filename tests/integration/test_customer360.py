"""Customer 360 end to end: real simulated department systems over real sockets, real
connectors, a served node; MongoDB (SecantusDB), MariaDB and Redis for the production
shape."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from aiohttp import web
from grpc_health.v1 import health_pb2, health_pb2_grpc
from redis.asyncio import Redis

from kefu.api.grpc.server import start_grpc
from kefu.auth.identity import sign_external_id
from kefu.demo_systems import BEHAVIOUR, serve_app
from kefu.demo_systems.crm import seed_mongo
from kefu.demo_systems.dataset import Dataset, build_dataset
from kefu.demo_systems.orders import seed_orders
from kefu.demo_systems.sources import demo_sources
from kefu.errors import ConfigError
from kefu.store.database import Database
from kefu.store.tables import tickets
from kefu.unify.render import as_dict
from kefu.v1 import unified_pb2 as pb
from kefu.v1 import unified_pb2_grpc as pb_grpc
from tests.support.customer360 import get_360, served, systems
from tests.support.kefu import Kefu

MONGO_URL = "mongodb://127.0.0.1:27117/?directConnection=true"
MARIADB_ROOT = "mysql+asyncmy://root@127.0.0.1:3306"
HOSTILE_KEYS = ['{"$ne": null}', "' OR 1=1 --", "C1001' OR '1'='1", "../C1001", "*"]
IDENTITY_SECRET = "s" * 40
# For sources meant to answer: all the time a busy machine may need (the schema's maximum).
# The 360's default deadline (800 ms) is a production budget; a test whose healthy sources
# could miss it fails on a loaded host. Tests about the deadline itself set their own.
ROOMY = {"deadline_ms": 60_000}
# Requests the slow-source test may make until the healthy sources' answers are in: their
# fetches outlive a request's deadline and fill the cache, so the second one finds them.
ATTEMPTS = 20
# How long the dead source's breaker stays open: the test checks it is open right after the
# failures, so this is the time a busy machine has to make those few requests.
OPEN_SECONDS = 3
# The TTL of the expiry test: its second request must come within it to be served cached.
TTL_SECONDS = 2


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return build_dataset()


@pytest.fixture
async def orders_url(tmp_path: Path, dataset: Dataset) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}"
    await seed_orders(url, dataset)
    return url


def tuned(sources: dict[str, Any], **per_source: Any) -> dict[str, Any]:
    """``sources`` with options applied to every source (``ttl_seconds=0`` …)."""
    return {name: spec | per_source for name, spec in sources.items()}


def states(body: dict[str, Any]) -> dict[str, str]:
    return {name: source["status"] for name, source in body["sources"].items()}


async def test_a_full_360_from_three_systems_json_and_protobuf_agree(
    tmp_path: Path, dataset: Dataset, orders_url: str
) -> None:
    li = dataset.customer("C1001")
    assert li is not None
    async with (
        systems(dataset) as found,
        served(
            tmp_path,
            sources=demo_sources(found.urls["crm"], found.urls["callcenter"], orders_url),
            customer360=ROOMY,
        ) as kefu,
    ):
        agent = await kefu.add_agent("Ann")
        status, body = await get_360(kefu, agent["token"], "C1001")
        assert status == 200, body
        assert states(body) == {"crm": "ok", "orders": "ok", "callcenter": "ok"}
        assert body["customer"]["name"] == li.name and body["customer"]["tier"] == "vip"
        assert body["customer"]["key"] == "C1001"
        assert [o["id"] for o in body["orders"]] == [o.order_no for o in dataset.orders_of("C1001")]
        assert {c["id"] for c in body["calls"]} == {c.call_id for c in dataset.calls_of("C1001")}
        assert body["extensions"]["crm"]["preferred_channel"] == li.preferred_channel
        for source in body["sources"].values():
            assert source["latency_ms"] >= 0 and source["fetched_at"].endswith("Z")

        async with kefu.http.get(
            kefu.url("/api/v1/customers/C1001/360"),
            headers={
                "Authorization": f"Bearer {agent['token']}",
                "Accept": "application/x-protobuf",
            },
        ) as resp:
            assert resp.status == 200
            assert resp.content_type == "application/x-protobuf"
            binary = pb.UnifiedCustomer.FromString(await resp.read())
        status, again = await get_360(kefu, agent["token"], "C1001")
        assert states(again) == {"crm": "cached", "orders": "cached", "callcenter": "cached"}
        from_proto = as_dict(binary)
        for part in ("customer", "orders", "calls", "tickets", "extensions"):
            assert from_proto[part] == again[part] == body[part]
        assert from_proto["sources"].keys() == body["sources"].keys()
        assert found.requests("crm") == 1 and found.requests("callcenter") == 1


async def test_a_slow_source_times_out_and_the_rest_is_served(
    tmp_path: Path, dataset: Dataset, orders_url: str
) -> None:
    release = asyncio.Event()
    stuck = web.Application()

    async def hang(request: web.Request) -> web.Response:  # answers once the test is done
        await release.wait()
        return web.Response(status=503)

    stuck.router.add_post("/soap/CallHistory", hang)
    async with systems(dataset) as found, serve_app(stuck) as stuck_url:
        sources = demo_sources(found.urls["crm"], stuck_url, orders_url)
        for healthy in ("crm", "orders"):  # a busy machine costs them a request, not the test
            sources[healthy] |= {"timeout_ms": 60_000}
        # Each of those requests times the stuck source out: its breaker must stay closed.
        sources["callcenter"] |= {"breaker": {"failures": ATTEMPTS + 1}}
        try:
            async with served(tmp_path, sources=sources, customer360={"deadline_ms": 300}) as kefu:
                agent = await kefu.add_agent("Ann")
                for _ in range(ATTEMPTS):
                    status, body = await get_360(kefu, agent["token"], "C1001")
                    assert status == 200
                    assert states(body)["callcenter"] == "timeout"  # every time: it never answers
                    if states(body)["crm"] != "timeout" and states(body)["orders"] != "timeout":
                        break
                assert {states(body)["crm"], states(body)["orders"]} <= {"ok", "cached"}
                assert body["customer"]["name"] and body["orders"] and body["calls"] == []
        finally:
            release.set()


async def breakers(kefu: Kefu, token: str) -> dict[str, str]:
    """Each source's breaker state, as GET /api/v1/customers/sources shows it."""
    _, listed = await kefu.get("/api/v1/customers/sources", token)
    return {source["name"]: source["breaker"] for source in listed}


async def test_a_dead_source_opens_its_breaker_then_recovers(
    tmp_path: Path, dataset: Dataset, orders_url: str
) -> None:
    async with systems(dataset) as found:
        found.callcenter[BEHAVIOUR].failure_rate = 1.0
        sources = demo_sources(found.urls["crm"], found.urls["callcenter"], orders_url)
        sources["callcenter"] |= {
            "ttl_seconds": 0,
            "retry": {"attempts": 1},
            "breaker": {"failures": 2, "open_seconds": OPEN_SECONDS},
        }
        async with served(tmp_path, sources=sources, customer360=ROOMY) as kefu:
            agent = await kefu.add_agent("Ann")
            for _ in range(2):
                _, body = await get_360(kefu, agent["token"], "C1001")
                assert states(body)["callcenter"] == "error"
                assert body["customer"]["name"]  # the rest is served
            asked = found.requests("callcenter")
            _, body = await get_360(kefu, agent["token"], "C1001")
            assert states(body)["callcenter"] == "circuit_open"
            assert found.requests("callcenter") == asked  # not even asked
            assert (await breakers(kefu, agent["token"]))["callcenter"] == "open"
            _, listed = await kefu.get("/api/v1/customers/sources", agent["token"])
            assert {s["name"]: s["maps"] for s in listed} == {
                "crm": ["customer"],
                "orders": ["orders"],
                "callcenter": ["calls"],
            }

            found.callcenter[BEHAVIOUR].failure_rate = 0.0
            async with asyncio.timeout(OPEN_SECONDS + 10):  # a hang guard
                while (await breakers(kefu, agent["token"]))["callcenter"] != "half_open":
                    await asyncio.sleep(0.05)  # the breaker's own clock: open_seconds must pass
            _, body = await get_360(kefu, agent["token"], "C1001")
            assert states(body)["callcenter"] == "ok"  # the probe went through and closed it
            assert body["calls"]


async def test_concurrent_requests_for_one_customer_fetch_once_per_source(
    tmp_path: Path, dataset: Dataset, orders_url: str
) -> None:
    async with systems(dataset, crm_ms=100, callcenter_ms=100) as found:
        sources = demo_sources(found.urls["crm"], found.urls["callcenter"], orders_url)
        async with served(tmp_path, sources=sources, customer360=ROOMY) as kefu:
            agent = await kefu.add_agent("Ann")
            answers = await asyncio.gather(
                *(get_360(kefu, agent["token"], "C1001") for _ in range(100))
            )
            assert all(status == 200 for status, _ in answers)
            assert all(body["customer"]["name"] and body["calls"] for _, body in answers)
            assert found.requests("crm") == 1
            assert found.requests("callcenter") == 1


async def test_cached_entries_expire_and_stale_ones_refresh_behind(
    tmp_path: Path, dataset: Dataset, orders_url: str
) -> None:
    async with systems(dataset) as found:
        sources = demo_sources(found.urls["crm"], found.urls["callcenter"], orders_url)
        sources["crm"] |= {"ttl_seconds": TTL_SECONDS}
        sources["callcenter"] |= {"ttl_seconds": TTL_SECONDS, "stale_seconds": 60}
        async with served(tmp_path, sources=sources, customer360=ROOMY) as kefu:
            agent = await kefu.add_agent("Ann")
            await get_360(kefu, agent["token"], "C1001")
            _, body = await get_360(kefu, agent["token"], "C1001")
            assert states(body)["crm"] == "cached"
            await asyncio.sleep(TTL_SECONDS + 0.1)  # at least that long: expired after it
            _, body = await get_360(kefu, agent["token"], "C1001")
            assert states(body)["crm"] == "ok"  # expired: fetched again
            assert states(body)["callcenter"] == "cached"  # stale, served, refreshed behind
            async with asyncio.timeout(10):  # a hang guard: the loop waits on the count
                while found.requests("callcenter") < 2:
                    await asyncio.sleep(0.02)
            assert found.requests("crm") == 2 and found.requests("callcenter") == 2
            _, body = await get_360(kefu, agent["token"], "C1001", refresh="true")
            assert set(states(body).values()) == {"ok"}  # refresh skips the cache


async def test_hostile_xml_from_a_source_fails_that_source_only(
    tmp_path: Path, dataset: Dataset, orders_url: str
) -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        b"<Calls><Call id='x'><Notes>&lol3;</Notes></Call></Calls>"
    )
    external = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<Calls><Call id='x'><Notes>&x;</Notes></Call></Calls>"
    )
    for document in (laughs, external):
        hostile = web.Application()

        async def answer(request: web.Request, body: bytes = document) -> web.Response:
            return web.Response(body=body, content_type="application/xml")

        hostile.router.add_post("/soap/CallHistory", answer)
        async with systems(dataset) as found, serve_app(hostile) as hostile_url:
            sources = demo_sources(found.urls["crm"], hostile_url, orders_url)
            sources["callcenter"]["request"] |= {"soap": False}
            del sources["callcenter"]["request"]["soap_action"]
            async with served(
                tmp_path / secrets.token_hex(3), sources=sources, customer360=ROOMY
            ) as kefu:
                agent = await kefu.add_agent("Ann")
                _, body = await get_360(kefu, agent["token"], "C1001")
                assert states(body) == {"crm": "ok", "orders": "ok", "callcenter": "error"}
                assert "root:" not in str(body) and "lol" not in str(body)
                assert body["calls"] == [] and body["orders"]


async def test_hostile_keys_match_nothing_anywhere(
    tmp_path: Path, dataset: Dataset, orders_url: str
) -> None:
    async with systems(dataset) as found:
        sources = demo_sources(found.urls["crm"], found.urls["callcenter"], orders_url)
        async with served(tmp_path, sources=sources, customer360=ROOMY) as kefu:
            agent = await kefu.add_agent("Ann")
            for key in HOSTILE_KEYS:
                status, body = await get_360(kefu, agent["token"], key)
                assert status == 200, body
                assert body["customer"] == {"key": key} | {
                    k: v for k, v in body["customer"].items() if k != "key" and not v
                }
                assert body["orders"] == [] and body["calls"] == []
            for by, value in (("email", '{"$ne": null}'), ("order", "' OR 1=1 --")):
                status, found_items = await kefu.get(
                    f"/api/v1/customers/lookup?by={by}&value={value}", agent["token"]
                )
                assert status == 200 and found_items == {"items": []}


async def test_bad_requests_are_refused_and_only_agents_may_ask(
    tmp_path: Path, dataset: Dataset, orders_url: str
) -> None:
    async with systems(dataset) as found:
        sources = demo_sources(found.urls["crm"], found.urls["callcenter"], orders_url)
        async with served(tmp_path, sources=sources, customer360=ROOMY) as kefu:
            agent = await kefu.add_agent("Ann")
            status, body = await get_360(kefu, agent["token"], "x" * 201)
            assert status == 400 and body["error"]["code"] == "bad_customer_key"
            status, body = await get_360(kefu, agent["token"], "C1001\x00")
            assert status == 400
            status, body = await kefu.get("/api/v1/customers/lookup?by=fax&value=1", agent["token"])
            assert status == 422 and "error" in body
            visitor = await kefu.visitor(name="V")
            status, body = await get_360(kefu, visitor["token"], "C1001")
            assert status == 403
            async with kefu.http.get(kefu.url("/api/v1/customers/C1001/360")) as resp:
                assert resp.status == 401
            assert found.requests("crm") == 0  # none of that reached a department


async def test_lookup_and_link_an_anonymous_visitors_conversation(
    tmp_path: Path, dataset: Dataset, orders_url: str
) -> None:
    li = dataset.customer("C1001")
    assert li is not None
    async with systems(dataset) as found:
        sources = demo_sources(found.urls["crm"], found.urls["callcenter"], orders_url)
        async with served(
            tmp_path, sources=sources, auth={"identity_secret": IDENTITY_SECRET}, customer360=ROOMY
        ) as kefu:
            agent = await kefu.add_agent("Ann")
            agent_socket = await kefu.ws(agent["token"])
            visitor = await kefu.visitor(name="Anonymous")
            socket = await kefu.ws(visitor["token"])
            ack = await socket.send_message("where is my order?")
            conversation_id = ack["conversation_id"]
            _, page = await kefu.get("/api/v1/conversations?status=open", agent["token"])
            (summary,) = [c for c in page["items"] if c["id"] == conversation_id]
            assert summary["customer_key"] is None

            by_email = await kefu.get(
                f"/api/v1/customers/lookup?by=email&value={li.email.upper()}", agent["token"]
            )
            order_no = dataset.orders_of("C1001")[0].order_no
            by_order = await kefu.get(
                f"/api/v1/customers/lookup?by=order&value={order_no}", agent["token"]
            )
            assert by_email == (
                200,
                {"items": [{"key": "C1001", "name": li.name, "source": "crm"}]},
            )
            assert by_order[1]["items"][0]["key"] == "C1001"

            async with kefu.http.put(
                kefu.url(f"/api/v1/conversations/{conversation_id}/customer"),
                json={"customer_key": "C1001"},
                headers={"Authorization": f"Bearer {agent['token']}"},
            ) as resp:
                assert resp.status == 200
                linked = await resp.json()
            assert linked["customer_key"] == "C1001" and linked["customer_linked"] is True
            update = await agent_socket.expect(
                "conversation.updated", conversation_id=conversation_id, customer_key="C1001"
            )
            assert update["customer_linked"] is True
            other = await kefu.add_agent("Bob")
            async with kefu.http.put(
                kefu.url(f"/api/v1/conversations/{conversation_id}/customer"),
                json={"customer_key": "C1002"},
                headers={"Authorization": f"Bearer {other['token']}"},
            ) as resp:
                assert resp.status == 403  # not Bob's conversation
            async with kefu.http.put(
                kefu.url(f"/api/v1/conversations/{conversation_id}/customer"),
                json={"customer_key": "C1001", "extra": 1},
                headers={"Authorization": f"Bearer {agent['token']}"},
            ) as resp:
                assert resp.status in (400, 422)

            # A verified visitor's conversation carries its key with no link.
            signed = await kefu.visitor(
                name="Li",
                external_id="C1001",
                signature=sign_external_id(IDENTITY_SECRET, "C1001"),
            )
            verified_socket = await kefu.ws(signed["token"])
            ack = await verified_socket.send_message("hello")
            summary = await kefu.node.repos.summaries.get(ack["conversation_id"])
            assert summary is not None and summary.customer_key == "C1001"
            assert not summary.customer_linked
            for s in (socket, verified_socket, agent_socket):
                await s.close()


async def test_grpc_serves_the_same_360_to_agents_only(
    tmp_path: Path, dataset: Dataset, orders_url: str
) -> None:
    async with systems(dataset) as found:
        sources = demo_sources(found.urls["crm"], found.urls["callcenter"], orders_url)
        async with served(tmp_path, sources=sources, customer360=ROOMY) as kefu:
            agent = await kefu.add_agent("Ann")
            visitor = await kefu.visitor(name="V")
            server, port = await start_grpc(kefu.node, "127.0.0.1", 0)
            try:
                async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                    stub = pb_grpc.CustomerServiceStub(channel)
                    answer = await stub.GetUnified(
                        pb.CustomerKey(key="C1001"),
                        metadata=(("authorization", f"Bearer {agent['token']}"),),
                    )
                    _, body = await get_360(kefu, agent["token"], "C1001")
                    assert as_dict(answer)["customer"] == body["customer"]
                    assert [o.id for o in answer.orders] == [o["id"] for o in body["orders"]]
                    for metadata, code in (
                        ((), grpc.StatusCode.UNAUTHENTICATED),
                        (
                            (("authorization", f"Bearer {visitor['token']}"),),
                            grpc.StatusCode.PERMISSION_DENIED,
                        ),
                    ):
                        with pytest.raises(grpc.aio.AioRpcError) as caught:
                            await stub.GetUnified(pb.CustomerKey(key="C1001"), metadata=metadata)
                        assert caught.value.code() is code
                    with pytest.raises(grpc.aio.AioRpcError) as caught:
                        await stub.GetUnified(
                            pb.CustomerKey(key="x" * 500),
                            metadata=(("authorization", f"Bearer {agent['token']}"),),
                        )
                    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
                    checked = await health_pb2_grpc.HealthStub(channel).Check(
                        health_pb2.HealthCheckRequest(service="kefu.v1.CustomerService")
                    )
                    assert checked.status == health_pb2.HealthCheckResponse.SERVING
            finally:
                await server.stop(None)


async def test_production_shape_mongo_mariadb_redis_and_nothing_lands_in_the_store(
    tmp_path: Path, dataset: Dataset
) -> None:
    """CRM in MongoDB, orders in MariaDB, cache in Redis; then scan kefu's store and
    Redis for any trace of the customers' data beyond the cache's TTL."""
    suffix = secrets.token_hex(4)
    mongo_db = f"kefu_crm_{suffix}"
    maria_db = f"kefu_orders_{suffix}"
    admin = sa.ext.asyncio.create_async_engine(f"{MARIADB_ROOT}/test")
    async with admin.begin() as conn:
        await conn.execute(sa.text(f"CREATE DATABASE {maria_db}"))
    redis = Redis.from_url("redis://127.0.0.1:6379/0")
    stale = [k async for k in redis.scan_iter(match="kefu:360:v1:*")]
    if stale:  # answers cached by an earlier run would show up as "cached"
        await redis.delete(*stale)
    try:
        await seed_mongo(MONGO_URL, mongo_db, dataset)
        await seed_orders(f"{MARIADB_ROOT}/{maria_db}", dataset)
        async with systems(dataset) as found:
            sources = demo_sources(
                found.urls["crm"], found.urls["callcenter"], f"{MARIADB_ROOT}/{maria_db}"
            )
            sources["crm"] = {
                "connector": "mongodb",
                "connection": {"url": MONGO_URL, "database": mongo_db},
                "request": {
                    "collection": "customers",
                    "filter": {"customer_id": "{value}"},
                    "limit": 1,
                },
                "map": sources["crm"]["map"],
                "lookup": {
                    "email": {
                        "request": {"collection": "customers", "filter": {"email": "{value}"}},
                        "key": "customer_id",
                        "name": "name",
                    }
                },
                "ttl_seconds": 2,
            }
            sources["orders"] = sources["orders"] | {
                "connector": "mysql",
                "connection": {"url": f"mysql://root@127.0.0.1:3306/{maria_db}"},
            }
            async with served(
                tmp_path, sources=sources, cache="redis://127.0.0.1:6379/0", customer360=ROOMY
            ) as kefu:
                agent = await kefu.add_agent("Ann")
                keys = [c.customer_key for c in dataset.customers[:20]]
                for key in keys:
                    status, body = await get_360(kefu, agent["token"], key)
                    assert status == 200 and states(body) == {
                        "crm": "ok",
                        "orders": "ok",
                        "callcenter": "ok",
                    }, body["sources"]
                    assert body["customer"]["email"] == dataset.customer(key).email  # type: ignore[union-attr]
                for key in HOSTILE_KEYS:
                    _, body = await get_360(kefu, agent["token"], key)
                    assert body["orders"] == [] and not body["customer"].get("name")
                status, found_items = await kefu.get(
                    "/api/v1/customers/lookup?by=email&value=li.wei@example.com",
                    agent["token"],
                )
                assert found_items["items"][0]["key"] == "C1001"

                # Redis holds the fragments, each for at most its source's TTL. A key may
                # expire between the scan and its PTTL on a busy host (-2, gone: it had a
                # TTL); a key kept forever (-1) or longer than its source's TTL fails.
                cached = [k async for k in redis.scan_iter(match="kefu:360:v1:*")]
                assert cached
                ttls = {"crm": 2_000, "orders": 30_000, "callcenter": 60_000}
                for raw_key in cached:
                    source = raw_key.decode().split(":")[3]
                    left = await redis.pttl(raw_key)
                    assert left == -2 or 0 < left <= ttls[source], (raw_key, left)
                store_url = kefu.node.settings.store_url

            # Nothing any source returned is in kefu's own store.
            needles = _needles(dataset, keys)
            async with Database(store_url) as db, db.connect() as conn:
                tables = (
                    (
                        await conn.execute(
                            sa.text("SELECT name FROM sqlite_master WHERE type='table'")
                        )
                    )
                    .scalars()
                    .all()
                )
                for table in tables:
                    rows = (await conn.execute(sa.text(f'SELECT * FROM "{table}"'))).all()
                    text = repr(rows)
                    leaked = [needle for needle in needles if needle in text]
                    assert not leaked, f"{table} holds source data: {leaked[:3]}"
    finally:
        await redis.aclose()
        async with admin.begin() as conn:
            await conn.execute(sa.text(f"DROP DATABASE IF EXISTS {maria_db}"))
        await admin.dispose()
        from pymongo import AsyncMongoClient

        client: AsyncMongoClient[Any] = AsyncMongoClient(MONGO_URL)
        await client.drop_database(mongo_db)
        await client.close()


async def test_kefus_own_tickets_are_a_source(tmp_path: Path) -> None:
    sources = {"tickets": {"connector": "kefu_tickets", "ttl_seconds": 0}}
    async with served(tmp_path, sources=sources, customer360=ROOMY) as kefu:
        agent = await kefu.add_agent("Ann")
        now = kefu.node.clock.now()
        async with kefu.node.repos.db.begin() as conn:
            await conn.execute(
                sa.insert(tickets),
                [
                    {
                        "subject": subject,
                        "body": "b",
                        "status": status,
                        "priority": "high",
                        "customer_key": key,
                        "channel": "api",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for subject, status, key in (
                        ("Broken zip", "open", "C1001"),
                        ("Old one", "closed", "C1001"),
                        ("Someone else's", "new", "C1002"),
                    )
                ],
            )
        status, body = await get_360(kefu, agent["token"], "C1001")
        assert status == 200 and states(body) == {"tickets": "ok"}
        assert [(t["subject"], t["status"], t["source"]) for t in body["tickets"]] == [
            ("Broken zip", "open", "tickets")
        ]
        _, listed = await kefu.get("/api/v1/customers/sources", agent["token"])
        assert listed[0]["maps"] == ["tickets"]


def _needles(dataset: Dataset, keys: list[str]) -> list[str]:
    needles: list[str] = []
    for key in keys:
        customer = dataset.customer(key)
        assert customer is not None
        needles += [customer.name, customer.email, customer.phone]
        needles += [order.order_no for order in dataset.orders_of(key)]
        needles += [call.call_id for call in dataset.calls_of(key)]
    return needles


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda s: s["crm"].update(connector="oracle"), "sources.crm.connector"),
        (
            lambda s: s["crm"]["map"]["customer"].update(nickname="nick"),
            "sources.crm.map.customer.fields.nickname",
        ),
        (
            lambda s: s["callcenter"]["map"]["calls"]["fields"].update(agent="Agent[["),
            "sources.callcenter.map.calls.fields.agent",
        ),
        (
            lambda s: s["orders"]["request"].update(query="DELETE FROM demo_orders"),
            "sources.orders.request",
        ),
        (lambda s: s["crm"]["connection"].update(base_url="ftp://x"), "sources.crm.connection"),
        (lambda s: s["crm"]["request"].update(verb="GET"), "sources.crm.request"),
    ],
)
async def test_a_wrong_source_fails_the_start_naming_the_key(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], key: str
) -> None:
    sources = demo_sources("http://127.0.0.1:9", "http://127.0.0.1:9", "sqlite+aiosqlite://")
    change(sources)
    with pytest.raises(ConfigError) as caught:
        async with served(tmp_path, sources=sources):
            pass
    assert caught.value.key.startswith(key), caught.value.message
    assert "\n" not in caught.value.message
