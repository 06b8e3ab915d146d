"""The refund saga's department systems, running for a test: orders API, CRM, call center.

``department_systems(orders_db_url)`` seeds the order tables at that URL, serves the three
simulators on loopback and yields their apps (for counters, knobs and their own records)
and base URLs. ``mariadb_database()`` and ``postgres_async_database()`` give a test a
database of its own on the shared servers, dropped afterwards.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from kefu.demo_systems import serve_app
from kefu.demo_systems.callcenter import callcenter_app
from kefu.demo_systems.crm import crm_app
from kefu.demo_systems.dataset import Dataset, build_dataset
from kefu.demo_systems.orders import seed_orders
from kefu.demo_systems.orders_api import orders_api_app
from tests.support.postgres import postgres_database

MARIADB_ADMIN_URL = "mysql+asyncmy://root@127.0.0.1:3306/test"


@dataclass(frozen=True, slots=True)
class DepartmentSystems:
    dataset: Dataset
    orders_db: str
    orders: web.Application
    orders_url: str
    crm: web.Application
    crm_url: str
    callcenter: web.Application
    callcenter_url: str


@contextlib.asynccontextmanager
async def department_systems(
    orders_db: str, dataset: Dataset | None = None
) -> AsyncIterator[DepartmentSystems]:
    data = dataset if dataset is not None else build_dataset()
    await seed_orders(orders_db, data)
    orders, crm, calls = orders_api_app(orders_db), crm_app(data), callcenter_app(data)
    async with (
        serve_app(orders) as orders_url,
        serve_app(crm) as crm_url,
        serve_app(calls) as calls_url,
    ):
        yield DepartmentSystems(data, orders_db, orders, orders_url, crm, crm_url, calls, calls_url)


@contextlib.asynccontextmanager
async def mariadb_database() -> AsyncIterator[str]:
    """A fresh MariaDB database (``mysql+asyncmy://`` URL), dropped afterwards."""
    name = f"kefu_t_{secrets.token_hex(6)}"
    admin = create_async_engine(MARIADB_ADMIN_URL)
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f"CREATE DATABASE `{name}`"))
        try:
            yield MARIADB_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        finally:
            async with admin.begin() as conn:
                await conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    finally:
        await admin.dispose()


@contextlib.asynccontextmanager
async def postgres_async_database() -> AsyncIterator[str]:
    """A fresh PostgreSQL database (``postgresql+asyncpg://`` URL), dropped afterwards."""
    async with postgres_database() as url:
        yield url.replace("postgresql://", "postgresql+asyncpg://", 1)
