"""The interface between the saga engine and the actions its steps run.

The engine knows nothing of HTTP, SOAP or SQL: it hands an ``ActionCall`` to a
``SagaAction`` and records what comes back. An action either returns a result (a JSON
object later steps can read as ``steps.<name>.<field>``) or raises ``ActionFailed``,
saying whether trying again may help. Anything else it raises is treated as retryable:
a bug or an outage should cost retries, not a wrong "the system said no".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Phase = Literal["action", "compensation"]


def idempotency_key(saga_id: str, step: str, phase: Phase) -> str:
    """The key a department system sees for one step of one saga, the same on every
    attempt and on every node: a retried or resumed step is applied once by a system
    that remembers the keys it has applied."""
    return f"{saga_id}:{step}:{'do' if phase == 'action' else 'undo'}"


@dataclass(frozen=True, slots=True)
class ActionCall:
    """One attempt at one phase of one step.

    ``context`` is what templates read: ``input.<field>``, ``customer_key``, ``saga.id``,
    ``saga.name``, ``step.name``, ``idempotency_key`` and ``steps.<earlier step>.<field>``
    (the results of the steps done before this one).
    """

    saga_id: str
    saga_name: str
    step: str
    phase: Phase
    attempt: int  # 1 on the first try
    timeout: float  # seconds this attempt may take, everything included
    context: Mapping[str, Any] = field(default_factory=dict)

    @property
    def idempotency_key(self) -> str:
        return idempotency_key(self.saga_id, self.step, self.phase)


class ActionFailed(Exception):
    """The system answered that the step did not happen, or could not be reached.

    ``retryable=False`` is a definite no (a 4xx, a SOAP client fault, a constraint
    violation): the engine stops retrying and compensates (or, for a compensation, leaves
    the saga ``failed`` for a human). ``retryable=True`` (timeouts, 5xx, a refused
    connection) is tried again within the step's retry budget. The message is shown to
    agents on the saga's timeline and logged; it never holds customer data.
    """

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class SagaAction(Protocol):
    """One configured action (a step's action or its compensation), built once at start."""

    @property
    def kind(self) -> str:
        """``rest``, ``soap``, ``sql`` or ``kefu``: for logs and metrics."""
        ...

    async def run(self, call: ActionCall) -> Mapping[str, Any]:
        """Do it once; the engine bounds the call by ``call.timeout`` as well."""
        ...

    async def close(self) -> None:
        """Release connections (HTTP sessions, SQL engines) at shutdown."""
        ...
