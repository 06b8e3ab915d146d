"""Fetching the 360 logs which source answered and how, never whom it was asked about.

Real department systems over real sockets (the demo CRM over REST, asked by key and by
phone number; the call center over SOAP; orders over SQL), logging captured at INFO.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from kefu.demo_systems.dataset import build_dataset
from kefu.demo_systems.orders import seed_orders
from kefu.demo_systems.sources import demo_sources
from tests.support.customer360 import get_360, served, systems

# aiohttp's access log of the test server: ``kefu serve`` runs without one (runner.py).
TEST_HARNESS_LOGGERS = {"aiohttp.access"}


def kefu_log(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(
        f"{r.levelname} {r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.name not in TEST_HARNESS_LOGGERS and r.levelno >= logging.INFO
    )


async def test_a_360_and_a_lookup_log_sources_and_statuses_not_the_customer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dataset = build_dataset()
    li = dataset.customer("C1001")
    assert li is not None and li.phone and li.email
    orders_url = f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}"
    await seed_orders(orders_url, dataset)
    async with systems(dataset) as found:
        sources = demo_sources(found.urls["crm"], found.urls["callcenter"], orders_url)
        async with served(tmp_path, sources=sources) as kefu:
            agent = await kefu.add_agent("Ann")
            caplog.set_level(logging.INFO)
            status, body = await get_360(kefu, agent["token"], "C1001", refresh="true")
            assert status == 200 and body["customer"]["phone"] == li.phone
            lookup = await kefu.get(
                f"/api/v1/customers/lookup?by=phone&value={li.phone}", agent["token"]
            )
            assert lookup[0] == 200 and lookup[1]["items"][0]["key"] == "C1001"

    logged = kefu_log(caplog)
    for secret in ("C1001", li.phone, li.email, li.name):
        assert secret not in logged
    assert "source crm: HTTP 200" in logged
    assert "source callcenter: HTTP 200" in logged


async def test_a_failing_sql_source_is_logged_without_the_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The orders database lacks its table: the driver's error would quote the statement's
    parameters, the customer key among them."""
    empty_orders = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    dataset = build_dataset()
    async with systems(dataset) as found:
        sources = demo_sources(found.urls["crm"], found.urls["callcenter"], empty_orders)
        async with served(tmp_path, sources=sources) as kefu:
            agent = await kefu.add_agent("Ann")
            caplog.set_level(logging.INFO)
            status, body = await get_360(kefu, agent["token"], "C1001")
            assert status == 200 and body["sources"]["orders"]["status"] == "error"

    logged = kefu_log(caplog)
    assert "source orders failed" in logged and "demo_orders" in logged
    assert "C1001" not in logged
