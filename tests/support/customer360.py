"""Customer 360 helpers: the demo's simulated department systems served on real ports,
a node on SQLite around given sources, and the 360 read as the console reads it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

from kefu.config import load_settings
from kefu.demo_systems import serve_app, simulator_stats
from kefu.demo_systems.callcenter import callcenter_app
from kefu.demo_systems.crm import crm_app
from kefu.demo_systems.dataset import Dataset
from tests.support.kefu import Kefu, serving


class Systems:
    """The three simulated department systems, their apps (to count and to break them)."""

    def __init__(self, crm: web.Application, callcenter: web.Application) -> None:
        self.crm = crm
        self.callcenter = callcenter
        self.urls: dict[str, str] = {}

    def requests(self, which: str) -> int:
        return simulator_stats(getattr(self, which)).requests


@contextlib.asynccontextmanager
async def systems(
    dataset: Dataset, *, crm_ms: float = 0, callcenter_ms: float = 0
) -> AsyncIterator[Systems]:
    found = Systems(
        crm_app(dataset, latency_ms=crm_ms), callcenter_app(dataset, latency_ms=callcenter_ms)
    )
    async with serve_app(found.crm) as crm, serve_app(found.callcenter) as callcenter:
        found.urls = {"crm": crm, "callcenter": callcenter}
        yield found


@contextlib.asynccontextmanager
async def served(tmp_path: Path, **overrides: Any) -> AsyncIterator[Kefu]:
    settings = load_settings(
        None,
        data_dir=tmp_path / "data",
        store=f"sqlite:///{tmp_path / 'kefu.db'}",
        **overrides,
    )
    async with serving(settings) as kefu:
        yield kefu


async def get_360(kefu: Kefu, token: str, key: str, **params: str) -> tuple[int, Any]:
    from urllib.parse import quote

    async with kefu.http.get(
        kefu.url(f"/api/v1/customers/{quote(key, safe='')}/360"),
        params=params,
        headers={"Authorization": f"Bearer {token}"},
    ) as resp:
        return resp.status, await resp.json()
