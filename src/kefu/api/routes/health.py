"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from kefu.api.deps import NodeDep
from kefu.observability import metrics, multiprocess

router = APIRouter(tags=["health"])

# A dependency that does not answer a ping within this is as good as down for a probe.
READY_TIMEOUT = 2.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(kefu: NodeDep) -> JSONResponse:
    checks = {
        "store": kefu.repos.db.ping(),
        "bus": kefu.events.ping(),
        "cache": kefu.cache.ping(),
    }
    down: dict[str, str] = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check, READY_TIMEOUT)
        except Exception as exc:
            down[name] = type(exc).__name__
    if down:
        message = "not ready: " + ", ".join(f"{name} down ({why})" for name, why in down.items())
        return JSONResponse(
            {
                "status": "unavailable",
                "down": down,
                "error": {"code": "not_ready", "message": message},
            },
            503,
        )
    return JSONResponse({"status": "ok"})


@router.get("/metrics")
async def prometheus(kefu: NodeDep) -> Response:
    """This process's registry; under ``kefu serve --workers``, every worker's metrics
    (``kefu.observability.multiprocess``), whichever worker the kernel gave the scrape."""
    metrics.STORE_BACKLOG.set(kefu.writer.backlog)
    indexer = kefu.repos.db.search_indexer
    metrics.SEARCH_INDEX_WAITING.set(indexer.waiting if indexer is not None else 0)
    shared = multiprocess.shared_dir()
    if shared is None:
        body = generate_latest(metrics.REGISTRY)
    else:  # reads a few files per worker: off the event loop
        body = await asyncio.to_thread(multiprocess.exposition, shared)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
