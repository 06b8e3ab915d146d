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

Write endpoints (the refund saga's loyalty step), each needing an ``Idempotency-Key``
header: the same key again answers the same and changes nothing
(:mod:`kefu.demo_systems.writes`):
    ``POST /api/customers/{customer_id}/points/take-back`` ``{"amount": 120.5}`` (an order
    amount: one point per whole unit) or ``{"points": 120}``: takes that many points back,
    never more than the balance; answers ``{"customer_id", "points_taken", "balance"}``.
    ``POST /api/customers/{customer_id}/points/give-back`` ``{"take_back_key": K}``: undoes
    the take-back made with key K, if it was made and not undone yet; answers
    ``{"customer_id", "points_returned", "balance"}`` (0 returned: nothing to undo).
The balance shows as ``loyalty_points`` in the profile; ``points_balance(app, key)``
reads it in tests.

A simulated failure answers 500 ``{"error": "unavailable", ...}`` (503 for writes).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from aiohttp import web
from pymongo import ASCENDING, AsyncMongoClient

from kefu.demo_systems import BEHAVIOUR, Behaviour, serve_app
from kefu.demo_systems.dataset import Customer, Dataset, build_dataset
from kefu.demo_systems.writes import (
    IDEMPOTENCY_HEADER,
    Answer,
    MemoryLedger,
    add_control_routes,
    check_key,
    idempotent_write,
    json_answer,
    json_error,
)

CUSTOMERS_PATH: Final = "/api/customers"
DATASET = web.AppKey("kefu_demo_crm_dataset", Dataset)


@dataclass(slots=True)
class TakeBack:
    customer_key: str
    points: int
    undone: bool = False


class PointsBook:
    """The CRM's loyalty balances (starting from the dataset) and the take-backs made."""

    def __init__(self, dataset: Dataset) -> None:
        self.balances = {c.customer_key: c.loyalty_points for c in dataset.customers}
        self.take_backs: dict[str, TakeBack] = {}
        self.ledger = MemoryLedger()


POINTS = web.AppKey("kefu_demo_crm_points", PointsBook)


def points_balance(app: web.Application, customer_key: str) -> int | None:
    """The customer's loyalty points now (None: no such customer)."""
    return app[POINTS].balances.get(customer_key)


def customer_json(customer: Customer, balance: int | None = None) -> dict[str, Any]:
    """The CRM's JSON for one customer (``customer_since`` as ``...Z`` ISO-8601), with
    ``balance`` as its loyalty points when given (the live balance, after take-backs)."""
    document = mongo_document(customer)
    if balance is not None:
        document["loyalty_points"] = balance
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
    app[POINTS] = PointsBook(dataset)
    app.router.add_get(CUSTOMERS_PATH, _search)
    app.router.add_get(CUSTOMERS_PATH + "/{customer_id}", _profile)
    app.router.add_post(CUSTOMERS_PATH + "/{customer_id}/points/take-back", _take_back)
    app.router.add_post(CUSTOMERS_PATH + "/{customer_id}/points/give-back", _give_back)
    add_control_routes(app)
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
        balance = request.app[POINTS].balances.get(key)
        return web.json_response(customer_json(customer, balance))


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
        balances = request.app[POINTS].balances
        items = [] if hit is None else [customer_json(hit, balances.get(hit.customer_key))]
        return web.json_response({"items": items})


def _unavailable() -> web.Response:
    return web.json_response(
        {"error": "unavailable", "message": "CRM backend unavailable"}, status=500
    )


async def _write_body(request: web.Request) -> dict[str, Any] | web.Response:
    problem = check_key(request.headers.get(IDEMPOTENCY_HEADER))
    if problem is not None:
        return json_error(400, "idempotency_key_required", problem)
    try:
        body = await request.json()
    except ValueError:
        return json_error(400, "bad_request", "the body must be a JSON object")
    if not isinstance(body, dict):
        return json_error(400, "bad_request", "the body must be a JSON object")
    return body


def _points_asked(body: dict[str, Any]) -> int | None:
    """Points to take back: ``points`` as given, or one per whole unit of ``amount``."""
    for name in ("points", "amount"):
        value = body.get(name)
        if value is None or isinstance(value, bool):
            continue
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return None
        if not number.is_finite() or number < 0:
            return None
        return math.floor(number)
    return None


def _write_unavailable() -> Answer:
    return json_answer(503, {"error": "unavailable", "message": "CRM backend unavailable"})


async def _take_back(request: web.Request) -> web.Response:
    body = await _write_body(request)
    if isinstance(body, web.Response):
        return body
    points = _points_asked(body)
    if points is None:
        return json_error(400, "bad_request", "give points or amount, a number >= 0")
    book = request.app[POINTS]
    key = request.headers[IDEMPOTENCY_HEADER]
    customer_key = request.match_info["customer_id"]

    async def apply() -> tuple[Answer, bool]:
        balance = book.balances.get(customer_key)
        if balance is None:
            answer = json_answer(404, {"error": "not_found", "message": "no such customer"})
            return book.ledger.remember(key, answer), False
        taken = min(points, balance)
        book.balances[customer_key] = balance - taken
        book.take_backs[key] = TakeBack(customer_key, taken)
        answer = json_answer(
            200,
            {"customer_id": customer_key, "points_taken": taken, "balance": balance - taken},
        )
        return book.ledger.remember(key, answer), True

    return await idempotent_write(
        request.app[BEHAVIOUR],
        book.ledger.locks,
        key,
        replay=lambda: book.ledger.replay(key),
        apply=apply,
        failure=_write_unavailable,
    )


async def _give_back(request: web.Request) -> web.Response:
    body = await _write_body(request)
    if isinstance(body, web.Response):
        return body
    undo = body.get("take_back_key")
    if not isinstance(undo, str) or not undo:
        return json_error(400, "bad_request", "take_back_key (the take-back's key) is required")
    book = request.app[POINTS]
    key = request.headers[IDEMPOTENCY_HEADER]
    customer_key = request.match_info["customer_id"]

    async def apply() -> tuple[Answer, bool]:
        balance = book.balances.get(customer_key)
        take_back = book.take_backs.get(undo)
        if balance is None and take_back is None:
            # Nothing was taken under that key (a take-back the CRM refused, or one that
            # never arrived): there is nothing to undo, whoever the customer is. A 404
            # here would fail the compensation of a step that never applied.
            answer = json_answer(
                200, {"customer_id": customer_key, "points_returned": 0, "balance": None}
            )
            return book.ledger.remember(key, answer), False
        if balance is None:
            answer = json_answer(404, {"error": "not_found", "message": "no such customer"})
            return book.ledger.remember(key, answer), False
        returned = 0
        mine = take_back is not None and take_back.customer_key == customer_key
        if take_back is not None and mine and not take_back.undone:
            take_back.undone = True
            returned = take_back.points
            balance += returned
            book.balances[customer_key] = balance
        answer = json_answer(
            200, {"customer_id": customer_key, "points_returned": returned, "balance": balance}
        )
        return book.ledger.remember(key, answer), returned > 0

    return await idempotent_write(
        request.app[BEHAVIOUR],
        book.ledger.locks,
        key,
        replay=lambda: book.ledger.replay(key),
        apply=apply,
        failure=_write_unavailable,
    )
