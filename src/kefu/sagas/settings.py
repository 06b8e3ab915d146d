"""The ``sagas:`` and ``saga_engine:`` configuration sections (validated at start).

The shape of a saga is checked here: names, the declared input, steps in order with
their retry policy, at most one pivot. What an action does (``action:`` and
``compensation:``, a dict with a ``kind``) is checked when the node builds it
(``kefu.sagas.actions.build.build_action``), which knows the connectors; both failures
are one line naming the key: ``sagas.refund.steps[1].action.path: …``.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kefu.errors import ConfigError

SAGA_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
ACTION_KINDS = ("rest", "soap", "sql", "kefu")
FieldType = Literal["string", "number", "integer", "boolean", "object", "array"]


class InputField(BaseModel):
    """One field of a saga's declared input; a request whose input breaks it is refused
    with 422 and nothing runs."""

    model_config = ConfigDict(extra="forbid")

    type: FieldType = "string"
    required: bool = False
    # Strings: length bounds and a pattern (re.fullmatch); numbers: bounds; any: enum.
    min_length: int | None = Field(default=None, ge=0)
    max_length: int | None = Field(default=None, ge=1)
    pattern: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    enum: list[Any] | None = None

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return value


class RetrySettings(BaseModel):
    """How a step (and its compensation) is retried after a retryable failure: at most
    ``attempts`` tries, waiting ``backoff_seconds`` doubled each time up to
    ``max_backoff_seconds``, and no new try once ``budget_seconds`` since the first one
    would have passed."""

    model_config = ConfigDict(extra="forbid")

    attempts: int = Field(default=3, ge=1, le=100)
    backoff_seconds: float = Field(default=0.5, ge=0, le=3600)
    max_backoff_seconds: float = Field(default=30.0, ge=0, le=86_400)
    budget_seconds: float = Field(default=300.0, gt=0, le=7 * 86_400)


class StepSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    title: str | None = Field(default=None, max_length=200)
    # Checked by build_action at start: {kind: rest|soap|sql|kefu, …}.
    action: dict[str, Any]
    # What undoes the action; none: the step is left as done when the saga compensates.
    compensation: dict[str, Any] | None = None
    timeout_seconds: float = Field(default=10.0, gt=0, le=3600)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    # Once this step is done, the saga only goes forward: nothing before it is undone.
    pivot: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not SAGA_NAME.match(value):
            raise ValueError(
                f"{value!r} must be lowercase letters, digits and _, starting with a letter "
                "(at most 40)"
            )
        return value

    @field_validator("action", "compensation")
    @classmethod
    def _kind(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and value.get("kind") not in ACTION_KINDS:
            raise ValueError(f"kind must be one of {', '.join(ACTION_KINDS)}")
        return value


class SagaSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, max_length=200)
    input: dict[str, InputField] = Field(default_factory=dict)
    steps: list[StepSettings] = Field(min_length=1, max_length=50)


class SagaEngineSettings(BaseModel):
    """How nodes share sagas: the node running a saga holds its lease and renews it every
    ``lease_seconds / 3``; a saga whose lease ran out (its node died) is claimed by the
    next node's claim loop, which looks every ``claim_seconds``."""

    model_config = ConfigDict(extra="forbid")

    lease_seconds: float = Field(default=15.0, ge=0.5, le=3600)
    claim_seconds: float = Field(default=5.0, gt=0, le=3600)
    # Sagas one node runs at once; beyond that they wait in the store for any node. 32:
    # measured with the bench's refund sagas on SQLite (one writer), 200 at once made the
    # kefu ticket step queue past its 5 s timeout and compensate (3.3 sagas/s, 410 of 500
    # compensated) where 32 ran them at 5.3 sagas/s with only the planned failures.
    max_running: int = Field(default=32, ge=1, le=100_000)


def check_sagas(sagas: dict[str, SagaSettings]) -> dict[str, SagaSettings]:
    """Names, unique step names, at most one pivot; ``ConfigError`` naming the key."""
    for name, saga in sagas.items():
        if not SAGA_NAME.match(name):
            raise ConfigError(
                f"sagas.{name}",
                "a saga name is lowercase letters, digits and _, starting with a letter "
                "(at most 40)",
            )
        seen: set[str] = set()
        for index, step in enumerate(saga.steps):
            if step.name in seen:
                raise ConfigError(
                    f"sagas.{name}.steps[{index}].name", f"{step.name!r} appears twice"
                )
            seen.add(step.name)
        pivots = [i for i, step in enumerate(saga.steps) if step.pivot]
        if len(pivots) > 1:
            raise ConfigError(
                f"sagas.{name}.steps[{pivots[1]}].pivot", "a saga has at most one pivot step"
            )
    return sagas


def saga_key(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location under ``sagas`` as a config file writes it:
    ``sagas.refund.steps[1].action``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
