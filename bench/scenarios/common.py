"""What a scenario gets (:class:`Context`) and gives back (:class:`Outcome` of :class:`Row`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bench.profile import Profile

# Above this share of its core, the load generator itself may be what limited a step.
LOADGEN_SATURATED_PCT = 90.0

BaselineKey = tuple[str, str, str]  # (scenario, subject, metric)


@dataclass
class Row:
    """One line of the results table; ``ratio`` is value / baseline value."""

    scenario: str
    subject: str
    metric: str
    value: float | int | str | None
    unit: str
    better: Literal["lower", "higher"] | None = None
    target: str | None = None
    met: bool | None = None
    baseline: BaselineKey | None = None
    baseline_subject: str | None = None
    baseline_value: float | int | None = None
    ratio: float | None = None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["met"] = None if self.met is None else ("yes" if self.met else "no")
        out["baseline"] = list(self.baseline) if self.baseline else None
        return out


@dataclass
class Outcome:
    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Context:
    profile: Profile
    run_dir: Path
    pg_admin_dsn: str
    postgres: bool
    kefu_env: dict[str, str]
    log: Callable[[str], None]


def at_most(value: float | int | str | None, limit: float) -> tuple[str, bool]:
    """Target text and whether ``value`` meets "<= limit" (a missing value does not)."""
    return f"<= {limit:g}", isinstance(value, int | float) and value <= limit


def at_least(value: float | int | str | None, limit: float) -> tuple[str, bool]:
    return f">= {limit:g}", isinstance(value, int | float) and value >= limit


def relay_rows(
    scenario: str, subject: str, result: dict[str, Any], baseline: BaselineKey | None
) -> list[Row]:
    """Max sustained rate and the p99 at that rate, with a note when the client was the limit."""
    steps: list[dict[str, Any]] = result.get("steps", [])
    best = float(result.get("max_rate", 0.0))
    at_best = next((s for s in steps if s["rate"] == best), None)
    note = ""
    if result.get("all_steps_passed"):
        note = "every offered step passed: the real limit is higher"
    elif steps:
        failed = steps[-1]
        note = (
            f"failed at {failed['rate']:g}/s: p99 {failed['delivery']['p99_ms']} ms, "
            f"lost {failed['delivery']['lost']}, server cpu {failed['server_cpu_pct']}%"
        )
        if failed["loadgen_cpu_pct"] >= LOADGEN_SATURATED_PCT:
            note += f", load generator cpu {failed['loadgen_cpu_pct']}% (may be the limit)"
    rows = [
        Row(
            scenario,
            subject,
            "relay_max_rate_p99_le_20ms",
            best,
            "msg/s",
            better="higher",
            baseline=baseline,
            note=note,
        ),
        Row(
            scenario,
            subject,
            "relay_p99_at_max_rate",
            at_best["delivery"]["p99_ms"] if at_best else None,
            "ms",
            better="lower",
        ),
    ]
    return rows
