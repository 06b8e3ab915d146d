"""What the API asks of sagas: start, read, list, retry, compensate, definitions.

The engine runs sagas; this reads them back as the contract's JSON and pages the list
(newest first, an opaque ``next`` cursor naming the last item's start and id).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from kefu.errors import BadInput, NotFound
from kefu.sagas.definitions import definition_json
from kefu.sagas.engine import SagaEngine
from kefu.sagas.views import saga_json
from kefu.store.sagas import SagaFilter, SagaRecord, SagaRepository

CURSOR_SEPARATOR = "~"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


class SagaService:
    def __init__(self, engine: SagaEngine, repo: SagaRepository) -> None:
        self.engine = engine
        self._repo = repo

    def definitions(self) -> list[dict[str, Any]]:
        return [definition_json(d) for d in self.engine.definitions.values()]

    async def start(
        self,
        name: str,
        given: Mapping[str, Any],
        *,
        customer_key: str | None,
        idempotency_key: str | None,
        created_by: str | None,
    ) -> str:
        saga_id, _ = await self.engine.start(
            name,
            given,
            customer_key=customer_key,
            idempotency_key=idempotency_key,
            created_by=created_by,
        )
        return saga_id

    async def get(self, saga_id: str) -> dict[str, Any]:
        record = await self._repo.get(saga_id) if len(saga_id) <= 40 else None
        if record is None:
            raise NotFound(f"no saga {saga_id[:40]!r}", code="unknown_saga")
        return self.json(record)

    async def search(
        self, where: SagaFilter, *, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        before = _cursor(cursor) if cursor else None
        records = await self._repo.search(where, limit=limit, before=before)
        after = None
        if len(records) == limit:
            last = records[-1]
            after = f"{(last.started_at - EPOCH) // MICROSECOND}{CURSOR_SEPARATOR}{last.id}"
        return [self.json(record) for record in records], after

    async def retry(self, saga_id: str) -> dict[str, Any]:
        return self.json(await self.engine.retry(saga_id))

    async def compensate(self, saga_id: str) -> dict[str, Any]:
        return self.json(await self.engine.compensate(saga_id))

    def json(self, record: SagaRecord) -> dict[str, Any]:
        return saga_json(record, self.engine.definitions.get(record.name))


def _cursor(text: str) -> tuple[datetime, str]:
    """``<microseconds since 1970>~<id>``: URL-safe as it is, exact to the microsecond."""
    at, _, saga_id = text.partition(CURSOR_SEPARATOR)
    if not at.isdigit() or len(at) > 18 or not saga_id or len(saga_id) > 40:
        raise BadInput("cursor is not one this server issued", code="invalid_cursor")
    return EPOCH + int(at) * MICROSECOND, saga_id
