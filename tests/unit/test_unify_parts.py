"""Pure parts of the customer 360: breaker, retry budget, single-flight, conversion,
mapping and the ``sources:`` settings."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from google.protobuf.json_format import MessageToDict

from kefu.config import load_settings
from kefu.errors import ConfigError
from kefu.unify.breaker import BreakerState, CircuitBreaker
from kefu.unify.budget import RetryBudget
from kefu.unify.convert import to_datetime, to_int32, to_json_value, to_text, to_text_list
from kefu.unify.mapping import Mapper, MappingError
from kefu.unify.paths import DOTTED
from kefu.unify.settings import SourceMap
from kefu.unify.singleflight import SingleFlight


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_consecutive_failures_and_probes_once() -> None:
    clock = FakeTime()
    breaker = CircuitBreaker(failures=3, open_seconds=10, monotonic=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    breaker.record_success()  # a success in between resets the count
    for _ in range(3):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()
    clock.now += 10
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # nobody else while it is out
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    clock.now += 10
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow() and breaker.allow()


def test_retry_budget_limits_retries_to_its_ratio() -> None:
    budget = RetryBudget(ratio=0.1, reserve=2)
    retries = 0
    for _ in range(100):
        budget.on_attempt()
        retries += budget.try_retry()
    # the reserve of 2, then one per ten attempts
    assert 10 <= retries <= 12
    assert not RetryBudget(ratio=0).try_retry()


async def test_single_flight_shares_one_run_and_survives_a_waiter_giving_up() -> None:
    flights: SingleFlight[int] = SingleFlight()
    runs = 0
    release = asyncio.Event()

    async def work() -> int:
        nonlocal runs
        runs += 1
        await release.wait()
        return 42

    tasks = [flights.start("k", work) for _ in range(50)]
    assert all(task is tasks[0] for task in tasks)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(tasks[0]), 0.01)
    release.set()
    assert await tasks[0] == 42
    assert runs == 1
    await asyncio.sleep(0)
    assert flights.running("k") is None


def test_conversions() -> None:
    assert to_text(Decimal("199.00")) == "199.00"
    assert to_text(12.5) == "12.5"
    assert to_text(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05Z"
    assert to_int32("42") == 42 and to_int32(Decimal("7.9")) == 7
    with pytest.raises(ValueError):
        to_int32(2**40)
    with pytest.raises(ValueError):
        to_int32("many")
    assert to_datetime("2026-01-02T03:04:05Z") == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert to_datetime(1_700_000_000_000) == to_datetime(1_700_000_000)
    assert to_datetime(datetime(2026, 1, 1)).tzinfo is UTC
    with pytest.raises(ValueError):
        to_datetime("yesterday")
    assert to_text_list("vip, newsletter,") == ["vip", "newsletter"]
    assert to_json_value({"n": 2**60, "d": Decimal("1.5"), "b": b"\x00"}) == {
        "n": str(2**60),
        "d": "1.5",
        "b": "AA==",
    }


def mapper(spec: dict[str, Any]) -> Mapper:
    return Mapper("crm", SourceMap.model_validate(spec), DOTTED)


def test_mapping_fills_the_schema_and_keeps_the_rest_in_extensions() -> None:
    m = mapper(
        {
            "customer": {"name": "full_name", "tier": "level", "customer_since": "since"},
            "orders": {
                "from": "orders",
                "fields": {
                    "id": "no",
                    "total": "amount",
                    "created_at": "at",
                    "lines": {"from": "items", "fields": {"sku": "sku", "quantity": "qty"}},
                },
            },
        }
    )
    reply = {
        "full_name": "Li Wei",
        "level": "vip",
        "since": "2020-05-01T00:00:00Z",
        "points": 1200,
        "orders": [
            {
                "no": "SO-1",
                "amount": Decimal("99.90"),
                "at": 1_700_000_000,
                "note": "gift",
                "items": [{"sku": "A-1", "qty": "2"}],
            },
            {"no": "SO-2", "amount": "not money", "at": "garbage"},
        ],
    }
    body = MessageToDict(m.apply(reply), preserving_proto_field_name=True)
    assert body["customer"] == {
        "name": "Li Wei",
        "tier": "vip",
        "customer_since": "2020-05-01T00:00:00Z",
    }
    first, second = body["orders"]
    assert first["total"] == "99.90" and first["lines"] == [{"sku": "A-1", "quantity": 2}]
    assert first["source"] == "crm"
    # one bad value costs that field only
    assert second["id"] == "SO-2" and "created_at" not in second
    assert body["extensions"]["crm"] == {
        "points": 1200.0,
        "orders": [{"note": "gift"}, {}],
    }


def test_mapping_of_nothing_gives_an_empty_fragment() -> None:
    m = mapper({"customer": {"name": "name"}, "orders": {"from": "orders", "fields": {"id": "id"}}})
    assert m.apply(None).ByteSize() == 0
    assert m.apply([]).ByteSize() == 0


@pytest.mark.parametrize(
    ("spec", "where"),
    [
        ({"orders": {"totl": "x"}}, "map.orders.fields.totl"),
        ({"customer": {"key": "id"}}, "map.customer.fields.key"),
        ({"orders": {"lines": "items"}}, "map.orders.fields.lines"),
        ({"customer": {"name": "a..b"}}, "map.customer.fields.name"),
        ({"orders": {"from": "", "fields": {"id": "id"}}}, "map.orders.from"),
    ],
)
def test_a_wrong_mapping_names_its_key(spec: dict[str, Any], where: str) -> None:
    with pytest.raises(MappingError) as caught:
        mapper(spec)
    assert caught.value.where == where


def source(**extra: Any) -> dict[str, Any]:
    return {
        "connector": "rest",
        "request": {"path": "/x/{value}"},
        "map": {"customer": {"name": "name"}},
    } | extra


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        ({"CRM": source()}, "source name 'CRM'"),
        ({"crm": source(map={})}, "sources.crm.map: maps nothing"),
        ({"crm": source(ttl_seconds=-1)}, "sources.crm.ttl_seconds"),
        ({"crm": source(colour="red")}, "sources.crm.colour"),
        ({"crm": source(key={"via": "nobody", "field": "customer.phone"})}, "names no source"),
        (
            {
                "a": source(key={"via": "b", "field": "customer.phone"}),
                "b": source(key={"via": "a", "field": "customer.email"}),
            },
            "cycle",
        ),
        ({"crm": source(lookup={"fax": {"request": {}, "key": "id"}})}, "sources.crm.lookup.fax"),
    ],
)
def test_bad_sources_config_fails_with_one_line(sources: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, sources=sources)
    text = caught.value.message
    assert message in text and "\n" not in text


def test_json_rendering_equals_protobufs_own_json_mapping() -> None:
    from google.protobuf.timestamp_pb2 import Timestamp

    from kefu.unify.render import as_dict
    from kefu.v1 import unified_pb2 as pb

    unified = pb.UnifiedCustomer()
    unified.customer.key = "C1"
    unified.customer.name = "Li"
    unified.customer.tags.extend(["vip", "b2b"])
    unified.customer.customer_since.FromSeconds(1_600_000_000)
    order = unified.orders.add(id="SO-1", total="9.90", source="orders")
    order.created_at.CopyFrom(Timestamp(seconds=1_700_000_000, nanos=5_000_000))
    order.lines.add(sku="A", quantity=2)
    unified.orders.add(id="SO-2")
    unified.calls.add(id="c1", duration_seconds=61)
    unified.extensions["crm"].update({"points": 5, "nested": {"a": [1, "x", None, True]}})
    status = unified.sources["crm"]
    status.state = pb.SourceStatus.State.STATE_CACHED
    status.latency_ms = 0.25
    status.fetched_at.FromSeconds(1_700_000_001)
    status.truncated = True
    unified.sources["calls"].state = pb.SourceStatus.State.STATE_TIMEOUT
    unified.generated_at.FromSeconds(1_700_000_002)

    expected = MessageToDict(
        unified, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    body = as_dict(unified)
    assert body["sources"] == {
        "crm": {
            "status": "cached",
            "latency_ms": 0.25,
            "fetched_at": "2023-11-14T22:13:21Z",
            "truncated": True,
        },
        "calls": {"status": "timeout", "latency_ms": 0.0, "fetched_at": None, "truncated": False},
    }
    del body["sources"], expected["sources"]
    assert body == expected
    empty = as_dict(pb.UnifiedCustomer())
    assert empty["orders"] == [] and empty["extensions"] == {} and "customer" not in empty
