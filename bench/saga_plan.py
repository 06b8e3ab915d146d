"""What the ``sagas`` scenario runs and how it judges the result (pure: no I/O).

Both subjects (kefu, and the Celery chain) run the same planned sagas against the same
kind of department systems: a refund of one refundable demo order (each order refunded
by at most one saga), its customer's points taken back, a call-center note, and the
system's own record of it (kefu: an event through its outbox; Celery: a row in its
database). The steps that fail are chosen up front from a seed, so both subjects meet
the same failures, and each failure is a definite "no" from the department (so the
saga must compensate the steps before it), made by the saga's input:

- ``refund_order`` fails: the amount is above the order's total (422 ``bad_amount``);
- ``take_back_points`` fails: the customer is unknown to the CRM (404);
- ``log_call_note`` fails: the note is longer than the call center takes (SOAP Client fault).

Each of the three steps fails with ``STEP_FAILURE`` (5%); the last step (the subject's
own record) does not. Transient failures come from the simulators' write failure knob
(a 503 for that share of all writes, actions and compensations alike: retried), which
is how "1% of compensations fail once" is produced.

Judging, from the department systems' OWN records (``bench.saga_sims``), per saga:

- ``completed``: all three applied (none undone); ``compensated``: none applied (each
  absent or undone); anything else, or a mismatch with the saga's final status, is
  ``half_applied``. A saga with no final status after the drain is ``stuck`` (and
  also half-applied when its records are partial).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

STEPS = ("refund_order", "take_back_points", "log_call_note", "comment_ticket")
DEPARTMENT_STEPS = STEPS[:3]
STEP_FAILURE = 0.05
WRITE_FAILURE_RATE = 0.01
NOTE_LIMIT = 2000  # the call center's MAX_NOTE_CHARS
TERMINAL = frozenset({"completed", "compensated", "failed"})
REFUNDABLE = frozenset({"paid", "shipped", "delivered"})


@dataclass(frozen=True)
class PlannedSaga:
    index: int
    order_no: str
    customer_id: str
    amount: float
    note: str
    fails_at: str | None  # the step the department refuses, or None

    def input(self) -> dict[str, Any]:
        return {
            "order_id": self.order_no,
            "customer_id": self.customer_id,
            "amount": self.amount,
            "note": self.note,
        }


def customers_for(sagas: int) -> int:
    """Demo customers to generate so that there are enough refundable orders (about 2.3
    per customer), with room to spare."""
    return max(200, int(sagas / 1.6))


def plan(
    orders: list[tuple[str, str, Decimal, str]], count: int, seed: int = 14
) -> list[PlannedSaga]:
    """``count`` sagas over distinct refundable ``orders`` (order_no, customer_key, total,
    status), each step failing with ``STEP_FAILURE`` (the first failing step counts)."""
    refundable = [o for o in orders if o[3] in REFUNDABLE]
    if len(refundable) < count:
        raise ValueError(f"{len(refundable)} refundable orders for {count} sagas")
    rnd = random.Random(seed)
    picked = rnd.sample(refundable, count)
    out = []
    for i, (order_no, customer, total, _status) in enumerate(picked):
        fails_at = next((s for s in DEPARTMENT_STEPS if rnd.random() < STEP_FAILURE), None)
        amount = float(total) + 1 if fails_at == "refund_order" else float(total)
        customer_id = f"NOBODY-{i}" if fails_at == "take_back_points" else customer
        note = f"Refunded order {order_no}"
        if fails_at == "log_call_note":
            note = "x" * (NOTE_LIMIT + 1)
        out.append(PlannedSaga(i, order_no, customer_id, amount, note, fails_at))
    return out


def department_keys(saga_id: str) -> dict[str, str]:
    """The ``do`` idempotency key of each department step (kefu.sagas.actions.base's)."""
    return {step: f"{saga_id}:{step}:do" for step in DEPARTMENT_STEPS}


def judge(outcomes: dict[str, str | None], records: dict[str, dict[str, str]]) -> dict[str, Any]:
    """``outcomes``: saga id -> final status (None: none); ``records``: per system
    (``orders``, ``crm``, ``callcenter``), key -> ``applied``/``undone``."""
    systems = {"refund_order": "orders", "take_back_points": "crm", "log_call_note": "callcenter"}
    stuck = half = failed = 0
    examples: list[dict[str, Any]] = []
    for saga_id, outcome in outcomes.items():
        keys = department_keys(saga_id)
        state = {s: records[systems[s]].get(k, "absent") for s, k in keys.items()}
        applied = [s for s, v in state.items() if v == "applied"]
        all_on = len(applied) == len(DEPARTMENT_STEPS)
        all_off = not applied
        if outcome not in TERMINAL:
            stuck += 1
        if outcome == "failed":
            failed += 1
        wrong = (
            not (all_on or all_off)
            or (outcome == "completed" and not all_on)
            or (outcome == "compensated" and not all_off)
        )
        if wrong:
            half += 1
            if len(examples) < 5:
                examples.append({"saga": saga_id, "outcome": outcome, "records": state})
    counts: dict[str, int] = {}
    for outcome in outcomes.values():
        counts[str(outcome)] = counts.get(str(outcome), 0) + 1
    return {
        "sagas": len(outcomes),
        "stuck": stuck,
        "half_applied": half,
        "failed": failed,
        "outcomes": counts,
        "half_applied_examples": examples,
    }


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]
