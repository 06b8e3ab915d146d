"""What one step's call sees and leaves behind: the template context an action reads, the
answer kept for later steps, the event an ended saga emits, a new saga's first record."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec

from kefu.domain.envelope import Event, new_event_id
from kefu.domain.saga import Run, SagaState, SagaStatus, new_saga
from kefu.sagas.definitions import SagaDefinition
from kefu.store.sagas import NewSaga, SagaRecord

ENDED_EVENTS = {
    SagaStatus.COMPLETED: "saga.completed",
    SagaStatus.COMPENSATED: "saga.compensated",
    SagaStatus.FAILED: "saga.failed",
}
MAX_RESULT_BYTES = 16_384  # of an action's answer kept for later steps' templates


def fits(record: SagaRecord, definition: SagaDefinition) -> bool:
    return record.step_names == tuple(step.name for step in definition.steps)


def call_context(record: SagaRecord, step: str, command: Run) -> dict[str, Any]:
    results = {
        name: dict(s.result)
        for name, s in zip(record.step_names, record.state.steps, strict=True)
        if s.result is not None
    }
    return {
        "input": dict(record.input),
        "customer_key": record.customer_key,
        "saga": {"id": record.id, "name": record.name},
        "step": {"name": step, "phase": command.phase},
        "steps": results,
    }


def kept(result: Any) -> dict[str, Any] | None:
    """An action's answer as plain JSON (a mapping), or None when it is not one or too
    large to keep: later steps read it from the log after any crash."""
    if not isinstance(result, Mapping):
        return None
    try:
        raw = msgspec.json.encode(dict(result))
    except (TypeError, msgspec.EncodeError):
        return None
    if len(raw) > MAX_RESULT_BYTES:
        return None
    decoded: dict[str, Any] = msgspec.json.decode(raw)
    return decoded


def ended_event(record: SagaRecord, after: SagaState, now: datetime) -> Event:
    data: dict[str, Any] = {"saga_id": record.id, "name": record.name, "status": after.status.value}
    if after.error is not None:
        data["error"] = after.error
    return Event(
        id=new_event_id(),
        type=ENDED_EVENTS[after.status],
        data=data,
        customer_key=record.customer_key,
        occurred_at=now.isoformat(),
        source="sagas",
    )


def fresh_record(draft: NewSaga, now: datetime, steps: int, owner: str | None) -> SagaRecord:
    return SagaRecord(
        id=draft.id,
        name=draft.name,
        customer_key=draft.customer_key,
        input=dict(draft.input),
        idempotency_key=draft.idempotency_key,
        created_by=draft.created_by,
        started_at=now,
        updated_at=now,
        lease_owner=owner,
        lease_until=None,
        step_names=tuple(draft.step_names),
        state=new_saga(steps),
    )
