"""The saga state machine: given a saga's recorded state, what happens next.

Pure: no clock, no store, no actions. The engine (``kefu.sagas.engine``) loads a
``SagaState``, asks ``next_command`` what to do, records ``start_attempt`` before calling
an action and ``succeeded``/``failed`` after it, and persists each new state. Because
everything the engine needs is in the recorded state, a node that resumes a saga another
node left halfway asks the same question and gets the same answer.

Semantics:

- Forward, steps run in order. A retryable failure is tried again after an exponential
  backoff while attempts and the step's time budget last; a definite no (or running out)
  gives the step up.
- A step given up before any pivot step is done turns the saga to ``compensating``: the
  steps never started become ``skipped``, and the steps that may have changed something
  are compensated in reverse order — done steps, and the failed step itself when one of
  its attempts ended without a definite answer (a timeout may have been applied). Steps
  without a compensation stay ``done``.
- Once a ``pivot`` step is done the saga only goes forward: a later step given up leaves
  the saga ``failed`` for a human, who may retry it (never compensate it).
- A compensation that is given up leaves the saga ``failed`` with its error; retry (or
  compensate) resumes the compensation.
- An attempt interrupted by a crash counts as a retryable failure with an unknown
  outcome: it is tried again (the idempotency key makes that safe) unless its attempts
  are spent.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from kefu.domain.errors import IllegalTransition

Phase = Literal["action", "compensation"]
INTERRUPTED = "the node stopped during this attempt"


class SagaStatus(enum.StrEnum):
    RUNNING = "running"
    COMPENSATING = "compensating"
    COMPLETED = "completed"
    COMPENSATED = "compensated"
    FAILED = "failed"


class StepStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    COMPENSATING = "compensating"
    COMPENSATED = "compensated"
    SKIPPED = "skipped"


ACTIVE = frozenset({SagaStatus.RUNNING, SagaStatus.COMPENSATING})
"""States a node works on (and claims when their lease ran out)."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 3
    backoff_seconds: float = 0.5
    max_backoff_seconds: float = 30.0
    budget_seconds: float = 300.0

    def delay(self, attempts: int) -> float:
        """The wait before try ``attempts + 1``: backoff doubled per try, capped."""
        return float(
            min(self.max_backoff_seconds, self.backoff_seconds * 2 ** max(0, attempts - 1))
        )


@dataclass(frozen=True, slots=True)
class StepPlan:
    """What the definition says about one step."""

    name: str
    compensable: bool = True
    pivot: bool = False
    retry: RetryPolicy = RetryPolicy()


@dataclass(frozen=True, slots=True)
class StepState:
    status: StepStatus = StepStatus.PENDING
    attempts: int = 0
    compensation_attempts: int = 0
    error: str | None = None
    # Some attempt ended without a definite answer: the action may have been applied.
    maybe_applied: bool = False
    started_at: datetime | None = None
    finished_at: datetime | None = None
    compensation_started_at: datetime | None = None
    result: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class SagaState:
    status: SagaStatus
    steps: tuple[StepState, ...]
    error: str | None = None
    finished_at: datetime | None = None

    def with_step(self, index: int, step: StepState, **saga: Any) -> SagaState:
        steps = (*self.steps[:index], step, *self.steps[index + 1 :])
        return replace(self, steps=steps, **saga)


@dataclass(frozen=True, slots=True)
class Run:
    """Run one attempt of step ``index``'s action or compensation."""

    index: int
    phase: Phase


@dataclass(frozen=True, slots=True)
class Finish:
    """Nothing is left to do: the saga ends ``completed`` or ``compensated``."""

    status: SagaStatus


Command = Run | Finish


def new_saga(steps: int) -> SagaState:
    return SagaState(SagaStatus.RUNNING, tuple(StepState() for _ in range(steps)))


def next_command(plan: Sequence[StepPlan], state: SagaState) -> Command | None:
    """What to do next; None when the saga is not active (ended, or failed for a human)."""
    if state.status is SagaStatus.RUNNING:
        for index, step in enumerate(state.steps):
            if step.status in (StepStatus.PENDING, StepStatus.RUNNING):
                return Run(index, "action")
            if step.status is not StepStatus.DONE:
                return None  # a given-up step with the saga still running: not ours to guess
        return Finish(SagaStatus.COMPLETED)
    if state.status is SagaStatus.COMPENSATING:
        for index in reversed(range(len(state.steps))):
            if _needs_compensation(plan[index], state.steps[index]):
                return Run(index, "compensation")
        return Finish(SagaStatus.COMPENSATED)
    return None


def _needs_compensation(plan: StepPlan, step: StepState) -> bool:
    if not plan.compensable:
        return False
    if step.status in (StepStatus.DONE, StepStatus.COMPENSATING):
        return True
    # Failed: its own action maybe applied, or its compensation was given up before.
    return step.status is StepStatus.FAILED and (
        step.maybe_applied or step.compensation_attempts > 0
    )


def start_attempt(
    plan: Sequence[StepPlan], state: SagaState, command: Run, now: datetime
) -> tuple[SagaState, bool]:
    """The state to record (and commit) before calling the action, and True; or, when the
    last attempt was interrupted and none is left, that attempt given up, and False."""
    index, step = command.index, state.steps[command.index]
    if command.phase == "action":
        if step.status is StepStatus.RUNNING and step.attempts >= plan[index].retry.attempts:
            return failed(plan, state, command, INTERRUPTED, retryable=True, now=now)[0], False
        started = step.started_at or now
        attempt = replace(
            step, status=StepStatus.RUNNING, attempts=step.attempts + 1, started_at=started
        )
        return state.with_step(index, attempt), True
    used = step.compensation_attempts
    if step.status is StepStatus.COMPENSATING and used >= plan[index].retry.attempts:
        return failed(plan, state, command, INTERRUPTED, retryable=True, now=now)[0], False
    attempt = replace(
        step,
        status=StepStatus.COMPENSATING,
        compensation_attempts=used + 1,
        compensation_started_at=step.compensation_started_at or now,
    )
    return state.with_step(index, attempt), True


def succeeded(
    state: SagaState, command: Run, result: Mapping[str, Any] | None, now: datetime
) -> SagaState:
    step = state.steps[command.index]
    if command.phase == "action":
        done = replace(step, status=StepStatus.DONE, error=None, result=result, finished_at=now)
    else:
        done = replace(step, status=StepStatus.COMPENSATED, error=None, finished_at=now)
    return state.with_step(command.index, done)


def failed(
    plan: Sequence[StepPlan],
    state: SagaState,
    command: Run,
    error: str,
    *,
    retryable: bool,
    now: datetime,
) -> tuple[SagaState, float | None]:
    """The state after a failed attempt, and the seconds to wait before trying again
    (None: the step is given up and the saga moved on as the module docstring says)."""
    index, policy = command.index, plan[command.index].retry
    step = state.steps[index]
    if command.phase == "action":
        step = replace(step, error=error, maybe_applied=step.maybe_applied or retryable)
        tries, since = step.attempts, step.started_at
    else:
        step = replace(step, error=error)
        tries, since = step.compensation_attempts, step.compensation_started_at
    if retryable and tries < policy.attempts:
        wait = policy.delay(tries)
        elapsed = (now - since).total_seconds() if since is not None else 0.0
        if elapsed + wait <= policy.budget_seconds:
            return state.with_step(index, step), wait
    step = replace(step, status=StepStatus.FAILED, finished_at=now)
    name = plan[index].name
    if command.phase == "compensation":
        return state.with_step(
            index, step, status=SagaStatus.FAILED, error=f"{name} (compensation): {error}"
        ), None
    if any(p.pivot and s.status is StepStatus.DONE for p, s in zip(plan, state.steps, strict=True)):
        return state.with_step(
            index, step, status=SagaStatus.FAILED, error=f"{name}: {error}"
        ), None
    steps = tuple(
        StepState(status=StepStatus.SKIPPED) if s.status is StepStatus.PENDING else s
        for s in state.with_step(index, step).steps
    )
    return replace(
        state, steps=steps, status=SagaStatus.COMPENSATING, error=f"{name}: {error}"
    ), None


def finish(state: SagaState, command: Finish, now: datetime) -> SagaState:
    error = state.error if command.status is SagaStatus.COMPENSATED else None
    return replace(state, status=command.status, finished_at=now, error=error)


def failed_backward(state: SagaState) -> bool:
    """A failed saga stopped while compensating (not past its pivot going forward)."""
    return any(
        s.compensation_attempts > 0 or s.status is StepStatus.COMPENSATED for s in state.steps
    )


def retry(state: SagaState) -> SagaState:
    """A failed saga resumes where it stopped, with fresh attempts and budget: forward
    from its failed step, or the compensation that was given up."""
    if state.status is not SagaStatus.FAILED:
        raise IllegalTransition("saga", state.status, "retry")
    if failed_backward(state):
        return _resume_compensation(state)
    steps = tuple(
        StepState(started_at=None) if s.status is StepStatus.FAILED else s for s in state.steps
    )
    return replace(state, status=SagaStatus.RUNNING, steps=steps, error=None, finished_at=None)


def compensate(plan: Sequence[StepPlan], state: SagaState) -> SagaState:
    """A failed saga is undone: resume its compensation. Refused past a pivot step (the
    definition says it only goes forward from there)."""
    if state.status is not SagaStatus.FAILED:
        raise IllegalTransition("saga", state.status, "compensate")
    if failed_backward(state):
        return _resume_compensation(state)
    raise IllegalTransition("saga", state.status, "compensate past its pivot step")


def _resume_compensation(state: SagaState) -> SagaState:
    steps = tuple(
        replace(
            s,
            status=StepStatus.COMPENSATING,
            compensation_attempts=0,
            error=None,
            compensation_started_at=None,
            finished_at=None,
        )
        if s.status is StepStatus.FAILED and s.compensation_attempts > 0
        else s
        for s in state.steps
    )
    return replace(state, status=SagaStatus.COMPENSATING, steps=steps, finished_at=None)
