"""What a scenario gets (:class:`Context`) and gives back (:class:`Outcome` of :class:`Row`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bench.procs import CpuPlan
from bench.profile import Profile

# Above this share of its core, the load generator itself may be what limited a step.
LOADGEN_SATURATED_PCT = 90.0
# Above this share of the server's core taken by other processes, a failure may be noise.
NEIGHBOUR_NOISE_PCT = 10.0
# A stall of the generator's own loop this long eats the whole 20 ms p99 budget by itself.
LOADGEN_STALL_MS = 20.0

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
    cpus: CpuPlan
    run_dir: Path
    pg_admin_dsn: str
    postgres: bool
    kefu_env: dict[str, str]
    log: Callable[[str], None]
    # permessage-deflate window bits the clients offer (15, as browsers); 0 offers none.
    deflate_wbits: int = 15


def at_most(value: float | int | str | None, limit: float) -> tuple[str, bool]:
    """Target text and whether ``value`` meets "<= limit" (a missing value does not)."""
    return f"<= {limit:g}", isinstance(value, int | float) and value <= limit


def at_least(value: float | int | str | None, limit: float) -> tuple[str, bool]:
    return f">= {limit:g}", isinstance(value, int | float) and value >= limit


def best_step(result: dict[str, Any]) -> dict[str, Any] | None:
    """The passing step at the highest rate (each rate may have been tried twice)."""
    passed = [s for s in result.get("steps", []) if s["passed"]]
    return max(passed, key=lambda s: s["rate"]) if passed else None


def relay_rows(
    scenario: str, subject: str, result: dict[str, Any], baseline: BaselineKey | None
) -> list[Row]:
    """Highest passing rate (with why the next one failed), the p99 there, and CPU per
    message at the lowest rate, where every server is below saturation."""
    steps: list[dict[str, Any]] = result.get("steps", [])
    best = float(result.get("max_rate", 0.0))
    at_best = best_step(result)
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
        if failed.get("other_cpu_pct_server_cores", 0) >= NEIGHBOUR_NOISE_PCT:
            note += f", neighbours took {failed['other_cpu_pct_server_cores']}% of the server core"
        if failed.get("loadgen_loop_lag_max_ms", 0) >= LOADGEN_STALL_MS:
            note += f", load generator stalled up to {failed['loadgen_loop_lag_max_ms']} ms"
    first = steps[0] if steps else None
    gen_step = at_best or first
    cpu_metric = "server_cpu_us_per_msg"
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
        Row(
            scenario,
            subject,
            cpu_metric,
            first[cpu_metric] if first else None,
            "us",
            better="lower",
            baseline=(baseline[0], baseline[1], cpu_metric) if baseline else None,
            note=f"at {first['rate']:g} msg/s, net of idle CPU "
            f"({result.get('server_idle_cpu_pct')}% of a core)"
            if first
            else "",
        ),
        # The generator's own cost (picows, bench/fastws.py) at the highest passing step,
        # where it matters: a generator near its core's limit there would be the ceiling.
        # Gross: at low rates its ~50 ms/s of timers dominate the figure per message.
        Row(
            scenario,
            subject,
            "loadgen_cpu_us_per_msg",
            gen_step.get("loadgen_cpu_us_per_msg") if gen_step else None,
            "us",
            better="lower",
            note=f"at {gen_step['rate']:g} msg/s, gross; {gen_step['loadgen_cpu_pct']}% of "
            f"its core; the server {gen_step['server_cpu_us_per_msg_gross']} us/msg gross"
            if gen_step
            else "",
        ),
    ]
    return rows
