"""The pure saga state machine (kefu.domain.saga): order, retries, backoff and budget,
compensation in reverse, pivots, crashes mid-attempt, retry and compensate of failed sagas.

A small driver plays the engine: it asks ``next_command``, starts the attempt, and
answers from a script of outcomes per (step, phase).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from kefu.domain.errors import IllegalTransition
from kefu.domain.saga import (
    INTERRUPTED,
    Finish,
    RetryPolicy,
    Run,
    SagaState,
    SagaStatus,
    StepPlan,
    StepStatus,
    compensate,
    failed,
    finish,
    new_saga,
    next_command,
    retry,
    start_attempt,
    succeeded,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
QUICK = RetryPolicy(attempts=3, backoff_seconds=1, max_backoff_seconds=10, budget_seconds=100)
Outcome = Callable[[int], tuple[bool, bool]]  # attempt -> (ok, retryable)


def ok(_: int) -> tuple[bool, bool]:
    return True, False


def no(_: int) -> tuple[bool, bool]:
    return False, False


def down(_: int) -> tuple[bool, bool]:
    return False, True


def flaky(failures: int) -> Outcome:
    return lambda attempt: (attempt > failures, True)


def drive(
    plan: list[StepPlan], state: SagaState, script: dict[tuple[str, str], Outcome]
) -> tuple[SagaState, list[tuple[str, str, int]], list[float]]:
    """Run to the end; the calls made (step, phase, attempt) and the waits asked for."""
    now = T0
    calls: list[tuple[str, str, int]] = []
    waits: list[float] = []
    for _ in range(200):
        command = next_command(plan, state)
        if command is None:
            return state, calls, waits
        if isinstance(command, Finish):
            state = finish(state, command, now)
            continue
        state, started = start_attempt(plan, state, command, now)
        if not started:
            continue
        step = state.steps[command.index]
        name = plan[command.index].name
        attempt = step.attempts if command.phase == "action" else step.compensation_attempts
        calls.append((name, command.phase, attempt))
        good, retryable = script.get((name, command.phase), ok)(attempt)
        if good:
            state = succeeded(state, command, {"n": attempt}, now)
        else:
            state, wait = failed(
                plan, state, command, f"{name} said no", retryable=retryable, now=now
            )
            if wait is not None:
                waits.append(wait)
                now += timedelta(seconds=wait)
    raise AssertionError("the saga never stopped")


def statuses(state: SagaState) -> list[str]:
    return [s.status.value for s in state.steps]


def three(**pivot: bool) -> list[StepPlan]:
    return [StepPlan(n, pivot=pivot.get(n, False), retry=QUICK) for n in ("a", "b", "c")]


def test_steps_run_in_order_and_the_saga_completes() -> None:
    plan = three()
    state, calls, _ = drive(plan, new_saga(3), {})
    assert calls == [("a", "action", 1), ("b", "action", 1), ("c", "action", 1)]
    assert state.status is SagaStatus.COMPLETED and state.finished_at == T0
    assert statuses(state) == ["done"] * 3
    assert state.steps[0].result == {"n": 1}


def test_retryable_failures_back_off_exponentially_then_succeed() -> None:
    plan = three()
    state, calls, waits = drive(plan, new_saga(3), {("b", "action"): flaky(2)})
    assert [c for c in calls if c[0] == "b"] == [
        ("b", "action", 1),
        ("b", "action", 2),
        ("b", "action", 3),
    ]
    assert waits == [1, 2]
    assert state.status is SagaStatus.COMPLETED
    assert state.steps[1].attempts == 3 and state.steps[1].error is None


def test_backoff_is_capped() -> None:
    policy = RetryPolicy(attempts=10, backoff_seconds=1, max_backoff_seconds=5)
    assert [policy.delay(n) for n in range(1, 6)] == [1, 2, 4, 5, 5]


def test_a_definite_no_compensates_the_done_steps_in_reverse_and_skips_the_rest() -> None:
    plan = [StepPlan(n, retry=QUICK) for n in ("a", "b", "c", "d")]
    state, calls, waits = drive(plan, new_saga(4), {("c", "action"): no})
    assert calls == [
        ("a", "action", 1),
        ("b", "action", 1),
        ("c", "action", 1),
        ("b", "compensation", 1),
        ("a", "compensation", 1),
    ]
    assert waits == []
    assert state.status is SagaStatus.COMPENSATED
    assert statuses(state) == ["compensated", "compensated", "failed", "skipped"]
    assert state.steps[2].error == "c said no"
    assert state.error == "c: c said no"


def test_exhausted_retries_compensate_the_failed_step_too_as_it_may_have_applied() -> None:
    plan = three()
    state, calls, waits = drive(plan, new_saga(3), {("b", "action"): down})
    assert calls[-2:] == [("b", "compensation", 1), ("a", "compensation", 1)]
    assert waits == [1, 2]
    assert statuses(state) == ["compensated", "compensated", "skipped"]
    assert state.status is SagaStatus.COMPENSATED


def test_the_budget_stops_retries_before_the_attempts_run_out() -> None:
    tight = RetryPolicy(attempts=10, backoff_seconds=4, max_backoff_seconds=100, budget_seconds=10)
    plan = [StepPlan("a", retry=tight)]
    state, calls, waits = drive(plan, new_saga(1), {("a", "action"): down})
    # waits 4 (elapsed 4), 8 would end at 12 > 10: given up after two attempts.
    assert waits == [4]
    assert len([c for c in calls if c[1] == "action"]) == 2
    assert state.status is SagaStatus.COMPENSATED


def test_steps_without_compensation_are_left_done() -> None:
    plan = [
        StepPlan("a", retry=QUICK),
        StepPlan("b", compensable=False, retry=QUICK),
        StepPlan("c", retry=QUICK),
    ]
    state, calls, _ = drive(plan, new_saga(3), {("c", "action"): no})
    assert ("b", "compensation", 1) not in calls
    assert statuses(state) == ["compensated", "done", "failed"]


def test_a_failing_compensation_leaves_the_saga_failed_then_retry_finishes_it() -> None:
    plan = three()
    script = {("c", "action"): no, ("b", "compensation"): down}
    state, calls, _ = drive(plan, new_saga(3), script)
    assert state.status is SagaStatus.FAILED
    assert state.error == "b (compensation): b said no"
    assert statuses(state) == ["done", "failed", "failed"]
    assert ("a", "compensation", 1) not in calls  # stopped at b, for a human
    resumed = retry(state)
    assert resumed.status is SagaStatus.COMPENSATING
    state, calls, _ = drive(plan, resumed, {("c", "action"): no})
    assert calls == [("b", "compensation", 1), ("a", "compensation", 1)]
    assert state.status is SagaStatus.COMPENSATED
    assert statuses(state) == ["compensated", "compensated", "failed"]


def test_compensate_resumes_a_failed_compensation_too() -> None:
    plan = three()
    state, _, _ = drive(plan, new_saga(3), {("c", "action"): no, ("a", "compensation"): no})
    assert state.status is SagaStatus.FAILED
    state, calls, _ = drive(plan, compensate(plan, state), {})
    assert calls == [("a", "compensation", 1)]
    assert state.status is SagaStatus.COMPENSATED


def test_past_the_pivot_a_failure_leaves_the_saga_failed_not_compensated() -> None:
    plan = three(b=True)
    state, calls, _ = drive(plan, new_saga(3), {("c", "action"): no})
    assert state.status is SagaStatus.FAILED
    assert not [c for c in calls if c[1] == "compensation"]
    assert statuses(state) == ["done", "done", "failed"]
    with pytest.raises(IllegalTransition):
        compensate(plan, state)
    state, calls, _ = drive(plan, retry(state), {})
    assert calls == [("c", "action", 1)]  # forward from the failed step, nothing redone
    assert state.status is SagaStatus.COMPLETED


def test_the_pivot_step_failing_itself_still_compensates_what_came_before() -> None:
    plan = three(b=True)
    state, calls, _ = drive(plan, new_saga(3), {("b", "action"): no})
    assert state.status is SagaStatus.COMPENSATED
    assert calls[-1] == ("a", "compensation", 1)


def test_an_attempt_interrupted_by_a_crash_is_tried_again() -> None:
    plan = three()
    state, _ = start_attempt(plan, new_saga(3), Run(0, "action"), T0)
    # The node died here: the recorded state says a is running, attempt 1.
    assert next_command(plan, state) == Run(0, "action")
    state, calls, _ = drive(plan, state, {})
    assert calls[0] == ("a", "action", 2)
    assert state.status is SagaStatus.COMPLETED


def test_an_interrupted_last_attempt_is_given_up_as_maybe_applied() -> None:
    plan = [StepPlan("a", retry=RetryPolicy(attempts=1)), StepPlan("b")]
    state, _ = start_attempt(plan, new_saga(2), Run(0, "action"), T0)
    after, started = start_attempt(plan, state, Run(0, "action"), T0)
    assert not started
    assert after.steps[0].status is StepStatus.FAILED and after.steps[0].error == INTERRUPTED
    assert after.status is SagaStatus.COMPENSATING
    assert next_command(plan, after) == Run(0, "compensation")


def test_ended_and_failed_sagas_have_nothing_to_do_and_refuse_retry_unless_failed() -> None:
    plan = three()
    done, _, _ = drive(plan, new_saga(3), {})
    assert next_command(plan, done) is None
    with pytest.raises(IllegalTransition):
        retry(done)
    with pytest.raises(IllegalTransition):
        compensate(plan, new_saga(3))
