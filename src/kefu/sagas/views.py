"""The saga JSON (CONTRACT.md "Sagas"), the same in REST answers and ``saga.updated``
frames: optional fields (``finished_at``, ``error``, a step's times) are left out while
unset. ``updated_at`` grows with every recorded change, so a console can tell a stale
REST snapshot from a newer frame."""

from __future__ import annotations

from typing import Any

from kefu.sagas.definitions import SagaDefinition
from kefu.store.sagas import SagaRecord
from kefu.timefmt import iso


def saga_json(record: SagaRecord, definition: SagaDefinition | None) -> dict[str, Any]:
    state = record.state
    titles = {step.name: step.title for step in definition.steps} if definition else {}
    steps = []
    for name, step in zip(record.step_names, state.steps, strict=True):
        item: dict[str, Any] = {
            "name": name,
            "title": titles.get(name, name),
            "status": step.status.value,
            "attempts": step.attempts,
            "compensation_attempts": step.compensation_attempts,
        }
        if step.error is not None:
            item["error"] = step.error
        if step.started_at is not None:
            item["started_at"] = iso(step.started_at)
        if step.finished_at is not None:
            item["finished_at"] = iso(step.finished_at)
        steps.append(item)
    body: dict[str, Any] = {
        "id": record.id,
        "name": record.name,
        "title": definition.title if definition else record.name,
        "status": state.status.value,
        "customer_key": record.customer_key,
        "input": dict(record.input),
        "started_at": iso(record.started_at),
        "updated_at": iso(record.updated_at),
        "steps": steps,
    }
    if state.finished_at is not None:
        body["finished_at"] = iso(state.finished_at)
    if state.error is not None:
        body["error"] = state.error
    return body
