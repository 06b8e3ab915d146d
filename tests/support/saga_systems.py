"""Small real department systems for saga tests: each applies an idempotency key once
(as a system honouring the key does), records the calls made, and fails or holds a call
on request. ``System.build`` is a ``saga_actions`` builder for ``running_node``: a step
spec ``{kind: rest, step: NAME}`` becomes that step's action (``phase`` from the key)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

from kefu.sagas.actions.base import ActionCall, ActionFailed, SagaAction

HANG_GUARD = 30.0


class System:
    def __init__(self) -> None:
        self.applied: dict[str, int] = {}  # idempotency key -> 1 once applied
        self.calls: list[tuple[str, str, int]] = []  # (step, phase, attempt) in order
        # (step, phase) -> per attempt: None succeeds, True/False fails (retryable or not)
        self.fail: dict[tuple[str, str], list[bool | None]] = {}
        self.hold: dict[tuple[str, str, str], asyncio.Event] = {}  # step, phase, order_id

    def action(self, step: str, phase: str) -> Action:
        return Action(self, step, phase)

    def build(self, spec: dict[str, Any], where: str) -> SagaAction:
        phase = "compensation" if where.endswith(".compensation") else "action"
        return self.action(str(spec["step"]), phase)


class Action:
    kind = "test"

    def __init__(self, system: System, step: str, phase: str) -> None:
        self.system, self.step, self.phase = system, step, phase

    async def run(self, call: ActionCall) -> Mapping[str, Any]:
        assert call.context["idempotency_key"] == call.idempotency_key
        system = self.system
        system.calls.append((self.step, self.phase, call.attempt))
        order = str(call.context["input"].get("order_id"))
        held = system.hold.get((self.step, self.phase, order))
        if held is not None:
            await held.wait()
        plan = system.fail.get((self.step, self.phase))
        if plan:
            retryable = plan.pop(0)
            if retryable is not None:
                raise ActionFailed(f"{self.step} refused", retryable=retryable)
        system.applied[call.idempotency_key] = 1
        return {"step": self.step, "order": order}

    async def close(self) -> None:
        pass


async def until(check: Callable[[], Any], guard: float = HANG_GUARD) -> Any:
    """Poll ``check`` (sync or async) until it is truthy; fail after the hang guard."""
    deadline = time.monotonic() + guard
    while time.monotonic() < deadline:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met within the hang guard")
