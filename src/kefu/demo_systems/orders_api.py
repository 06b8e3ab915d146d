"""The order system's HTTP API over its tables: read an order, refund it, cancel a refund.

The 360 reads orders straight from the tables (:mod:`kefu.demo_systems.orders`); a refund
goes through the order system's API, as a shop's would, and changes the same rows, so the
agent's 360 shows the order ``refunded`` right after the saga's step.

Endpoints (JSON; writes need an ``Idempotency-Key`` header)
    ``GET /api/orders/{order_no}`` -> ``{"order_no", "customer_key", "status", "total",
    "currency", "refund": {"refund_key", "amount", "previous_status"} | null}`` (money as
    strings, "120.00").
    ``POST /api/orders/{order_no}/refund`` ``{"amount": 120.0, "reason"?: "..."}`` ->
    ``{"order_no", "customer_key", "status": "refunded", "amount", "previous_status"}``;
    404 ``not_found``, 409 ``already_refunded`` / ``not_refundable`` (pending or
    cancelled), 422 ``bad_amount`` (not above 0, or above the total).
    ``POST /api/orders/{order_no}/refund/cancel`` ``{"refund_key": K}`` -> puts the order
    back to its status before the refund made with key K, if that refund is the order's
    current one: ``{"order_no", "status", "cancelled": true|false}`` (false: nothing to
    undo, e.g. the refund never happened).

Idempotency the way the docs recommend for a database-backed system: the answer to each
key is inserted into ``demo_order_idempotency`` (key as primary key) in the same
transaction as the change, so a key is applied once even by two processes at once; an
answer found there is given again. Failure knobs and counters: ``Behaviour``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from aiohttp import web
from sqlalchemy import event, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from kefu.demo_systems import BEHAVIOUR, Behaviour, serve_app
from kefu.demo_systems.orders import demo_order_idempotency, demo_order_refunds, demo_orders
from kefu.demo_systems.writes import (
    IDEMPOTENCY_HEADER,
    Answer,
    KeyLocks,
    add_control_routes,
    check_key,
    idempotent_write,
    json_answer,
    json_error,
)

ORDERS_API_PATH: Final = "/api/orders"
REFUNDABLE: Final = frozenset({"paid", "shipped", "delivered"})
_CENT = Decimal("0.01")


class OrdersState:
    """The engine over the order tables, built on startup; SQLite writes one at a time."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: AsyncEngine | None = None
        self.locks = KeyLocks()
        # SQLite has one writer: queueing here beats "database is locked".
        self.write_lock = asyncio.Lock()
        self.sqlite = url.startswith("sqlite")

    def get(self) -> AsyncEngine:
        if self.engine is None:
            raise RuntimeError("the orders API is not started")
        return self.engine


STATE = web.AppKey("kefu_demo_orders_state", OrdersState)


def orders_api_app(
    url: str,
    latency_ms: float = 0,
    jitter_ms: float = 0,
    failure_rate: float = 0,
    seed: int | None = None,
) -> web.Application:
    """The order system's API over the tables at ``url`` (loaded by ``seed_orders``)."""
    app = web.Application()
    app[STATE] = OrdersState(url)
    app[BEHAVIOUR] = Behaviour(latency_ms, jitter_ms, failure_rate, seed)
    app.router.add_get(ORDERS_API_PATH + "/{order_no}", _get_order)
    app.router.add_post(ORDERS_API_PATH + "/{order_no}/refund", _refund)
    app.router.add_post(ORDERS_API_PATH + "/{order_no}/refund/cancel", _cancel_refund)
    add_control_routes(app)
    app.cleanup_ctx.append(_engine)
    return app


@contextlib.asynccontextmanager
async def running_orders_api(
    url: str, host: str = "127.0.0.1", port: int = 0, **behaviour: Any
) -> AsyncIterator[str]:
    """Serve the orders API over ``url`` and yield its base URL."""
    async with serve_app(orders_api_app(url, **behaviour), host, port) as base:
        yield base


async def _engine(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE]
    engine = create_async_engine(state.url)
    if state.sqlite:
        event.listen(engine.sync_engine, "connect", _sqlite_wal)
    state.engine = engine
    try:
        yield
    finally:
        state.engine = None
        await engine.dispose()


def _sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    """WAL: kefu's 360 reads the same file while refunds are written."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        # A simulator: survives its own process dying (WAL), not a power cut; no fsync
        # per commit keeps it from being the bench's bottleneck.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
    finally:
        cursor.close()


async def order_json(conn: AsyncConnection, order_no: str) -> dict[str, Any] | None:
    """The order with its current (not cancelled) refund, or None."""
    row = (
        await conn.execute(select(demo_orders).where(demo_orders.c.order_no == order_no))
    ).first()
    if row is None:
        return None
    refund = (
        await conn.execute(
            select(demo_order_refunds).where(
                demo_order_refunds.c.order_no == order_no,
                demo_order_refunds.c.cancelled_at.is_(None),
            )
        )
    ).first()
    return {
        "order_no": row.order_no,
        "customer_key": row.customer_key,
        "status": row.status,
        "total": _money(row.total),
        "currency": row.currency,
        "refund": None
        if refund is None
        else {
            "refund_key": refund.refund_key,
            "amount": _money(refund.amount),
            "previous_status": refund.previous_status,
        },
    }


async def read_order(app: web.Application, order_no: str) -> dict[str, Any] | None:
    """The order as ``GET /api/orders/{order_no}`` shows it (for tests and the bench)."""
    async with app[STATE].get().connect() as conn:
        return await order_json(conn, order_no)


def _money(value: Any) -> str:
    return str(Decimal(str(value)).quantize(_CENT))


def _now(state: OrdersState) -> datetime:
    now = datetime.now(UTC)
    return now.replace(tzinfo=None) if not state.url.startswith("postgresql") else now


async def _get_order(request: web.Request) -> web.Response:
    async with request.app[BEHAVIOUR].handling() as fails:
        if fails:
            return json_error(500, "unavailable", "order system unavailable")
        order = await read_order(request.app, request.match_info["order_no"])
        if order is None:
            return json_error(404, "not_found", "no such order")
        return web.json_response(order)


async def _body(request: web.Request) -> dict[str, Any] | web.Response:
    problem = check_key(request.headers.get(IDEMPOTENCY_HEADER))
    if problem is not None:
        return json_error(400, "idempotency_key_required", problem)
    try:
        body = await request.json() if request.can_read_body else {}
    except ValueError:
        return json_error(400, "bad_request", "the body must be a JSON object")
    if not isinstance(body, dict):
        return json_error(400, "bad_request", "the body must be a JSON object")
    return body


def _amount(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


Change = Callable[[AsyncConnection], Awaitable[tuple[Answer, bool]]]


async def _write(request: web.Request, key: str, change: Change) -> web.Response:
    """Apply ``change`` and record its answer under ``key`` in one transaction."""
    state = request.app[STATE]

    async def replay() -> Answer | None:
        async with state.get().connect() as conn:
            row = (
                await conn.execute(
                    select(demo_order_idempotency).where(
                        demo_order_idempotency.c.idempotency_key == key
                    )
                )
            ).first()
        return None if row is None else Answer(row.status, row.body.encode("utf-8"))

    async def apply() -> tuple[Answer, bool]:
        async with contextlib.AsyncExitStack() as stack:
            if state.sqlite:
                await stack.enter_async_context(state.write_lock)
            try:
                async with state.get().begin() as conn:
                    answer, applied = await change(conn)
                    await conn.execute(
                        demo_order_idempotency.insert().values(
                            idempotency_key=key,
                            status=answer.status,
                            body=answer.body.decode("utf-8"),
                        )
                    )
            except IntegrityError:
                # Another process applied this key first: its answer stands.
                previous = await replay()
                if previous is None:
                    raise
                return previous, False
            return answer, applied

    return await idempotent_write(
        request.app[BEHAVIOUR],
        state.locks,
        key,
        replay=replay,
        apply=apply,
        failure=lambda: json_answer(
            503, {"error": "unavailable", "message": "order system unavailable"}
        ),
    )


async def _refund(request: web.Request) -> web.Response:
    body = await _body(request)
    if isinstance(body, web.Response):
        return body
    amount = _amount(body.get("amount"))
    if amount is None:
        return json_error(400, "bad_request", "amount must be a number")
    reason = body.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 500):
        return json_error(400, "bad_request", "reason must be text of at most 500 characters")
    order_no = request.match_info["order_no"]
    key = request.headers[IDEMPOTENCY_HEADER]
    state = request.app[STATE]

    async def change(conn: AsyncConnection) -> tuple[Answer, bool]:
        order = await order_json(conn, order_no)
        if order is None:
            return json_answer(404, {"error": "not_found", "message": "no such order"}), False
        status = order["status"]
        if status == "refunded":
            return json_answer(
                409, {"error": "already_refunded", "message": "the order is refunded already"}
            ), False
        if status not in REFUNDABLE:
            return json_answer(
                409, {"error": "not_refundable", "message": f"a {status} order is not refunded"}
            ), False
        if amount <= 0 or amount > Decimal(order["total"]) or amount != amount.quantize(_CENT):
            message = "amount must be above 0, at most the total, in cents"
            return json_answer(422, {"error": "bad_amount", "message": message}), False
        await conn.execute(
            update(demo_orders)
            .where(demo_orders.c.order_no == order_no, demo_orders.c.status == status)
            .values(status="refunded")
        )
        await conn.execute(
            demo_order_refunds.insert().values(
                refund_key=key,
                order_no=order_no,
                amount=amount.quantize(_CENT),
                previous_status=status,
                reason=reason,
                created_at=_now(state),
            )
        )
        payload = {
            "order_no": order_no,
            "customer_key": order["customer_key"],
            "status": "refunded",
            "amount": _money(amount),
            "previous_status": status,
        }
        return json_answer(200, payload), True

    return await _write(request, key, change)


async def _cancel_refund(request: web.Request) -> web.Response:
    body = await _body(request)
    if isinstance(body, web.Response):
        return body
    refund_key = body.get("refund_key")
    if not isinstance(refund_key, str) or not refund_key:
        return json_error(400, "bad_request", "refund_key (the refund's key) is required")
    order_no = request.match_info["order_no"]
    key = request.headers[IDEMPOTENCY_HEADER]
    state = request.app[STATE]

    async def change(conn: AsyncConnection) -> tuple[Answer, bool]:
        order = await order_json(conn, order_no)
        if order is None:
            return json_answer(404, {"error": "not_found", "message": "no such order"}), False
        refund = order["refund"]
        if refund is None or refund["refund_key"] != refund_key:
            payload = {"order_no": order_no, "status": order["status"], "cancelled": False}
            return json_answer(200, payload), False
        await conn.execute(
            update(demo_orders)
            .where(demo_orders.c.order_no == order_no, demo_orders.c.status == "refunded")
            .values(status=refund["previous_status"])
        )
        await conn.execute(
            update(demo_order_refunds)
            .where(demo_order_refunds.c.refund_key == refund_key)
            .values(cancelled_at=_now(state))
        )
        payload = {"order_no": order_no, "status": refund["previous_status"], "cancelled": True}
        return json_answer(200, payload), True

    return await _write(request, key, change)
