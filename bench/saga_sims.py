"""The department systems of the ``sagas`` scenario, in a process of their own.

``python -m bench.saga_sims CONFIG_JSON`` serves the demo simulators' write side (orders
API over a SQLite orders database, CRM points, call-center SOAP notes) on the given ports
with the given write failure rate, prints one line ``{"orders": url, "crm": url,
"callcenter": url}`` when listening, and runs until SIGTERM. It is never killed by the
scenario: the department systems outlive the saga engine's node, as real ones would.

The orders app lists every order (``GET /_bench/orders``: ``[[order_no, customer_key,
total, status], …]``) for a planner that cannot build the dataset itself (the DBOS probe,
outside kefu's venv). Each app also answers ``GET /_bench/records``: what the system's
OWN records say about every idempotency key it applied (``{"key": "applied"|"undone"}``),
which the scenario compares with each saga's outcome (``half_applied``):

- orders: a row of ``demo_order_refunds`` per refund key, ``undone`` once cancelled;
- CRM: a take-back per key, ``undone`` once given back;
- call center: a note per ``AddNote`` key, ``undone`` once removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

RECORDS_PATH = "/_bench/records"
ORDERS_PATH = "/_bench/orders"


async def _orders_records(request: web.Request) -> web.Response:
    from sqlalchemy import select

    from kefu.demo_systems.orders import demo_order_refunds
    from kefu.demo_systems.orders_api import STATE

    async with request.app[STATE].get().connect() as conn:
        rows = (
            await conn.execute(
                select(demo_order_refunds.c.refund_key, demo_order_refunds.c.cancelled_at)
            )
        ).all()
    out = {key: ("undone" if cancelled else "applied") for key, cancelled in rows}
    return web.json_response(out)


async def _crm_records(request: web.Request) -> web.Response:
    from kefu.demo_systems.crm import POINTS

    book = request.app[POINTS]
    out = {key: ("undone" if t.undone else "applied") for key, t in book.take_backs.items()}
    return web.json_response(out)


async def _notes_records(request: web.Request) -> web.Response:
    from kefu.demo_systems.callcenter_notes import NOTES

    book = request.app[NOTES]
    out = {key: ("undone" if n.removed else "applied") for key, n in book.by_key.items()}
    return web.json_response(out)


async def serve(config: dict[str, Any]) -> None:
    from kefu.demo_systems import BEHAVIOUR, serve_app
    from kefu.demo_systems.callcenter import callcenter_app
    from kefu.demo_systems.crm import crm_app
    from kefu.demo_systems.dataset import build_dataset
    from kefu.demo_systems.orders import seed_orders
    from kefu.demo_systems.orders_api import orders_api_app

    dataset = build_dataset(customers=int(config["customers"]))
    orders_db = Path(config["orders_db"])
    orders_db.unlink(missing_ok=True)
    url = f"sqlite+aiosqlite:///{orders_db}"
    await seed_orders(url, dataset)
    orders_list = [[o.order_no, o.customer_key, str(o.total), o.status] for o in dataset.orders]

    async def list_orders(_request: web.Request) -> web.Response:
        return web.json_response(orders_list)

    apps = {
        "orders": (orders_api_app(url, seed=1), _orders_records),
        "crm": (crm_app(dataset, seed=2), _crm_records),
        "callcenter": (callcenter_app(dataset, seed=3), _notes_records),
    }
    apps["orders"][0].router.add_get(ORDERS_PATH, list_orders)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    urls: dict[str, str] = {}
    async with contextlib.AsyncExitStack() as stack:
        for name, (app, records) in apps.items():
            app.router.add_get(RECORDS_PATH, records)
            app[BEHAVIOUR].set_write_knobs(write_failure_rate=float(config["write_failure_rate"]))
            port = int(config["ports"][name])
            urls[name] = await stack.enter_async_context(serve_app(app, "127.0.0.1", port))
        print(json.dumps(urls), flush=True)
        await stop.wait()


def main() -> None:
    config = json.loads(sys.argv[1])
    try:
        import uvloop

        uvloop.run(serve(config))
    except ImportError:
        asyncio.run(serve(config))


if __name__ == "__main__":
    main()
