"""What a delivery and an endpoint look like, and the retry schedule: values, no I/O."""

from __future__ import annotations

import enum
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


class DeliveryStatus(enum.StrEnum):
    """``pending`` → ``delivered`` on a 2xx, or → ``failed`` after ``max_attempts``.

    An admin's retry takes ``failed`` back to ``pending``; nothing leaves ``delivered``.
    """

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event on its way to one endpoint, as the delivery log shows it."""

    id: int
    endpoint: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class Claimed:
    """A due delivery this node has leased and is about to send."""

    id: int
    endpoint: str
    event_id: str
    event_type: str
    payload: bytes
    attempts: int  # made before this one


@dataclass(frozen=True, slots=True)
class EndpointState:
    """An endpoint's health: failed attempts in a row and whether it was disabled."""

    name: str
    consecutive_failures: int
    disabled_at: datetime | None
    disabled_reason: str | None
    pending: int


def full_jitter(ceiling: float) -> float:
    # Not for secrets: spreading retries so that many failed deliveries do not return
    # to a recovering receiver in one wave.
    return random.uniform(0.0, ceiling)  # noqa: S311


def backoff_seconds(
    attempts: int,
    base: float,
    cap: float,
    jitter: Callable[[float], float] = full_jitter,
) -> float:
    """Delay before the next try after ``attempts`` failed ones (``attempts`` ≥ 1).

    Exponential with full jitter (AWS's "Exponential Backoff And Jitter"): a uniform draw
    in ``[0, min(cap, base * 2^(attempts-1))]``. ``jitter`` maps that ceiling to the
    delay; tests pass ``lambda ceiling: ceiling`` for a deterministic schedule.
    """
    # The exponent is clamped so a large attempt count cannot overflow the float.
    ceiling = min(cap, base * 2.0 ** min(max(attempts, 1) - 1, 60))
    return jitter(ceiling)
