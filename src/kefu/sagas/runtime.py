"""The node's sagas, started and stopped as one unit (entered by ``kefu.bootstrap``):
definitions built from config, the engine with its lease loops, the live feed, and the
service the API reads."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from kefu.chat.hub import Hub
from kefu.cluster.relay import node_name
from kefu.ports import Clock
from kefu.sagas.actions.base import SagaAction
from kefu.sagas.actions.build import build_action
from kefu.sagas.actions.kefu_own import KefuActions
from kefu.sagas.definitions import ActionBuilder, build_definitions
from kefu.sagas.engine import SagaEngine
from kefu.sagas.live import SagaFeed
from kefu.sagas.service import SagaService
from kefu.sagas.settings import SagaEngineSettings, SagaSettings
from kefu.store.database import Database
from kefu.store.sagas import SagaRepository
from kefu.store.unit_of_work import Units
from kefu.unify.settings import SourceSettings


def action_builder(sources: Mapping[str, SourceSettings], kefu: KefuActions) -> ActionBuilder:
    """``kefu.sagas.actions.build.build_action`` over the node's sources and kefu's own
    actions (typed as the protocol, so the node's implementation is checked against it)."""

    def build(spec: dict[str, Any], where: str) -> SagaAction:
        return build_action(spec, where=where, sources=sources, kefu=kefu)

    return build


@contextlib.asynccontextmanager
async def running_sagas(
    sagas: Mapping[str, SagaSettings],
    settings: SagaEngineSettings,
    db: Database,
    units: Units,
    clock: Clock,
    hub: Hub,
    build: ActionBuilder,
    *,
    wanted: Callable[[str], bool] | None = None,
) -> AsyncIterator[SagaService]:
    definitions = build_definitions(sagas, build)
    repo = SagaRepository(db)
    feed = SagaFeed(hub, repo, definitions.get)
    engine = SagaEngine(
        units,
        repo,
        definitions,
        clock,
        settings,
        node_id=f"{node_name()}:{secrets.token_hex(4)}",
        on_change=feed.changed,
        wanted=wanted,
        one_writer=db.dialect == "sqlite",
    )
    try:
        async with engine:
            yield SagaService(engine, repo)
    finally:
        await feed.close()
