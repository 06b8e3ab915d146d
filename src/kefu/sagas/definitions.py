"""Configured sagas, made runnable: each step's action and compensation built once.

``build_definitions`` turns the ``sagas:`` settings into ``SagaDefinition``s with a
builder (production: ``kefu.sagas.actions.build.build_action``); a builder's
``ValueError`` becomes a ``ConfigError`` naming the key, so a bad action stops the start
in one line (``sagas.refund.steps[0].action.path: …``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kefu.domain.saga import RetryPolicy, StepPlan
from kefu.errors import ConfigError, NotFound
from kefu.sagas.actions.base import SagaAction
from kefu.sagas.inputs import InvalidInput, input_errors
from kefu.sagas.settings import InputField, SagaSettings

ActionBuilder = Callable[[dict[str, Any], str], SagaAction]
"""(action spec, its config key) -> the action; ``ValueError`` when the spec is wrong."""


@dataclass(frozen=True, slots=True)
class StepDefinition:
    name: str
    title: str
    action: SagaAction
    compensation: SagaAction | None
    timeout: float
    plan: StepPlan


@dataclass(frozen=True, slots=True)
class SagaDefinition:
    name: str
    title: str
    input: Mapping[str, InputField]
    steps: tuple[StepDefinition, ...]

    @property
    def plan(self) -> list[StepPlan]:
        return [step.plan for step in self.steps]

    def actions(self) -> list[SagaAction]:
        found = [step.action for step in self.steps]
        return found + [step.compensation for step in self.steps if step.compensation]


async def close_actions(definitions: Mapping[str, SagaDefinition]) -> None:
    """Release every action's connections at shutdown; one failing to close does not
    keep the others open."""
    for definition in definitions.values():
        for action in definition.actions():
            with contextlib.suppress(Exception):
                await action.close()


def checked(definitions: Mapping[str, SagaDefinition], name: str, given: Any) -> SagaDefinition:
    """The definition, if ``given`` fits its declared input: 404 ``unknown_saga`` or 422
    naming the first wrong field otherwise (nothing is recorded before this passes)."""
    definition = definitions.get(name)
    if definition is None:
        raise NotFound(f"no saga named {name[:40]!r}", code="unknown_saga")
    errors = input_errors(definition.input, given)
    if errors:
        field, message = errors[0]
        raise InvalidInput(f"{field}: {message}")
    return definition


def build_definitions(
    sagas: Mapping[str, SagaSettings], build: ActionBuilder
) -> dict[str, SagaDefinition]:
    return {name: build_definition(name, saga, build) for name, saga in sagas.items()}


def build_definition(name: str, saga: SagaSettings, build: ActionBuilder) -> SagaDefinition:
    steps = []
    for index, step in enumerate(saga.steps):
        where = f"sagas.{name}.steps[{index}]"
        action = _built(build, step.action, f"{where}.action")
        compensation = (
            _built(build, step.compensation, f"{where}.compensation")
            if step.compensation is not None
            else None
        )
        retry = step.retry
        plan = StepPlan(
            name=step.name,
            compensable=compensation is not None,
            pivot=step.pivot,
            retry=RetryPolicy(
                attempts=retry.attempts,
                backoff_seconds=retry.backoff_seconds,
                max_backoff_seconds=retry.max_backoff_seconds,
                budget_seconds=retry.budget_seconds,
            ),
        )
        steps.append(
            StepDefinition(
                step.name, step.title or step.name, action, compensation, step.timeout_seconds, plan
            )
        )
    return SagaDefinition(name, saga.title or name, dict(saga.input), tuple(steps))


def _built(build: ActionBuilder, spec: dict[str, Any], where: str) -> SagaAction:
    try:
        return build(spec, where)
    except ValueError as exc:
        text = str(exc)
        # A builder may already name the key under ``where`` ("path: …") or not.
        key, _, problem = text.partition(": ")
        if problem and " " not in key:
            if key.startswith(where):
                raise ConfigError(key, problem) from None
            raise ConfigError(f"{where}.{key}", problem) from None
        raise ConfigError(where, text) from None


def definition_json(definition: SagaDefinition) -> dict[str, Any]:
    """``GET /api/v1/saga-definitions``: what the console's confirm dialog shows."""
    return {
        "name": definition.name,
        "title": definition.title,
        "input": {
            field: spec.model_dump(exclude_none=True) for field, spec in definition.input.items()
        },
        "steps": [
            {
                "name": step.name,
                "title": step.title,
                "compensable": step.compensation is not None,
                "pivot": step.plan.pivot,
            }
            for step in definition.steps
        ],
    }
