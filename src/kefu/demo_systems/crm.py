"""The marketing CRM: a REST/JSON simulator for the demo, and a MongoDB loader for tests.

In production marketing keeps its customers in MongoDB; the demo has no MongoDB, so it
runs the same records behind a small JSON API instead. Both carry the same fields, and two
the unified customer schema lacks (``loyalty_points``, ``preferred_channel``), which is
what a real department system looks like from kefu's side.

Endpoints
    ``GET /api/customers/{customer_id}`` one profile, or 404 ``{"error": "not_found"}``.
    ``GET /api/customers?email=...`` / ``?phone=...`` ``{"items": [...]}`` (both
    parameters together must both match): how an anonymous visitor who typed an email
    address is recognised.

A simulated failure answers 500 ``{"error": "unavailable", ...}``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, Final

from aiohttp import web
from pymongo import ASCENDING, AsyncMongoClient

from kefu.demo_systems import BEHAVIOUR, Behaviour, serve_app
from kefu.demo_systems.dataset import Customer, Dataset, build_dataset

CUSTOMERS_PATH: Final = "/api/customers"
DATASET = web.AppKey("kefu_demo_crm_dataset", Dataset)


def customer_json(customer: Customer) -> dict[str, Any]:
    """The CRM's JSON for one customer (``customer_since`` as ``...Z`` ISO-8601)."""
    document = mongo_document(customer)
    document["customer_since"] = customer.customer_since.strftime("%Y-%m-%dT%H:%M:%SZ")
    return document


def mongo_document(customer: Customer) -> dict[str, Any]:
    """The CRM's MongoDB document for one customer (``customer_since`` a datetime)."""
    return {
        "customer_id": customer.customer_key,
        "name": customer.name,
        "email": customer.email,
        "phone": customer.phone,
        "tier": customer.tier,
        "company": customer.company,
        "locale": customer.locale,
        "tags": list(customer.tags),
        "customer_since": customer.customer_since,
        "loyalty_points": customer.loyalty_points,
        "preferred_channel": customer.preferred_channel,
    }


def crm_app(
    dataset: Dataset,
    latency_ms: float = 0,
    jitter_ms: float = 0,
    failure_rate: float = 0,
    seed: int | None = None,
) -> web.Application:
    """The CRM as an aiohttp app; read its counters with ``simulator_stats(app)``.

    ``latency_ms`` +/- ``jitter_ms`` is slept before every answer, and ``failure_rate`` of
    the requests (drawn from ``seed``) answer HTTP 500.
    """
    app = web.Application()
    app[DATASET] = dataset
    app[BEHAVIOUR] = Behaviour(latency_ms, jitter_ms, failure_rate, seed)
    app.router.add_get(CUSTOMERS_PATH, _search)
    app.router.add_get(CUSTOMERS_PATH + "/{customer_id}", _profile)
    return app


@contextlib.asynccontextmanager
async def running_crm(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    dataset: Dataset | None = None,
    latency_ms: float = 0,
    jitter_ms: float = 0,
    failure_rate: float = 0,
    seed: int | None = None,
    access_log: bool = False,
) -> AsyncIterator[str]:
    """Serve the CRM (default dataset unless given) and yield its base URL."""
    app = crm_app(
        dataset if dataset is not None else build_dataset(),
        latency_ms=latency_ms,
        jitter_ms=jitter_ms,
        failure_rate=failure_rate,
        seed=seed,
    )
    async with serve_app(app, host, port, access_log=access_log) as url:
        yield url


async def seed_mongo(
    url: str, database: str, dataset: Dataset, collection: str = "customers"
) -> int:
    """(Re)load the CRM documents into ``database.collection``; returns how many.

    The collection is dropped first so a re-run gives exactly the dataset, then indexed on
    ``customer_id`` (unique: the CRM's key) and ``email`` (the visitor lookup).
    """
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url, tz_aware=True)
    try:
        customers = client[database][collection]
        await customers.drop()
        documents = [mongo_document(c) for c in dataset.customers]
        if documents:
            await customers.insert_many(documents)
        await customers.create_index([("customer_id", ASCENDING)], unique=True)
        await customers.create_index([("email", ASCENDING)])
        return len(documents)
    finally:
        await client.close()


async def _profile(request: web.Request) -> web.Response:
    async with request.app[BEHAVIOUR].handling() as fails:
        if fails:
            return _unavailable()
        key = request.match_info["customer_id"]
        customer = request.app[DATASET].customer(key)
        if customer is None:
            return web.json_response(
                {"error": "not_found", "message": f"no customer {key}"}, status=404
            )
        return web.json_response(customer_json(customer))


async def _search(request: web.Request) -> web.Response:
    async with request.app[BEHAVIOUR].handling() as fails:
        if fails:
            return _unavailable()
        dataset = request.app[DATASET]
        email = request.query.get("email", "").strip()
        phone = request.query.get("phone", "").strip()
        if not email and not phone:
            return web.json_response(
                {"error": "bad_request", "message": "give email or phone"}, status=400
            )
        by_email = dataset.customer_by_email(email) if email else None
        by_phone = dataset.customer_by_phone(phone) if phone else None
        if email and phone:  # both given: both must point at the same customer
            hit = by_email if by_email is by_phone else None
        else:
            hit = by_email or by_phone
        items = [] if hit is None else [customer_json(hit)]
        return web.json_response({"items": items})


def _unavailable() -> web.Response:
    return web.json_response(
        {"error": "unavailable", "message": "CRM backend unavailable"}, status=500
    )
