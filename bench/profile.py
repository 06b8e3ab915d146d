"""Sizes and durations of a run: ``quick`` (a smoke run of a few minutes) or ``full``.

Every figure here bounds a run in count and time. The full sizes are the design targets
(15k sockets per node; relay pairs and conversations large enough that per-socket
costs, not per-process constants, dominate); quick sizes keep each scenario under ~2 min.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The latency objective every relay step is judged against (DESIGN: p99 <= 20 ms).
P99_LIMIT_MS = 20.0


@dataclass(frozen=True)
class Profile:
    name: str
    stack_idle_sockets: int
    kefu_idle_sockets: int
    relay_pairs: int
    conversations: int
    agents: int
    # Offered rates (msg/s), stepped upward until p99 exceeds the limit.
    raw_rates: list[float] = field(default_factory=list)
    chat_rates: list[float] = field(default_factory=list)
    step_s: float = 3.0
    grace_s: float = 2.0
    settle_s: float = 2.0
    hold_s: float = 10.0
    # Tries per rate before stepping stops (see bench.stepper.StepPlan.attempts).
    attempts: int = 2

    def plan(self, rates: list[float]) -> dict[str, object]:
        """The StepPlan fields, as sent to the load generator."""
        return {
            "rates": rates,
            "step_s": self.step_s,
            "grace_s": self.grace_s,
            "p99_limit_ms": P99_LIMIT_MS,
            "attempts": self.attempts,
        }

    def relay_budget_s(self, rates: list[float], setup_s: float) -> float:
        """Hard time limit for one relay job: setup, waiting for a quiet server (<= 30 s)
        and idle sampling, then every step tried the most times it can be."""
        per_step = self.step_s + self.grace_s + 1.0 + 2.0  # pause, scrape, slack
        return setup_s + 45.0 + (len(rates) * self.attempts + 1) * per_step


QUICK = Profile(
    name="quick",
    stack_idle_sockets=2_000,
    kefu_idle_sockets=1_000,
    relay_pairs=500,
    conversations=200,
    agents=4,
    raw_rates=[1_000, 2_000, 5_000, 10_000, 15_000, 20_000],
    chat_rates=[250, 500, 1_000, 2_000, 5_000, 10_000],
    step_s=2.0,
    grace_s=2.0,
    settle_s=1.0,
    hold_s=3.0,
)

FULL = Profile(
    name="full",
    stack_idle_sockets=15_000,
    kefu_idle_sockets=15_000,
    relay_pairs=2_000,
    conversations=1_000,
    agents=8,
    raw_rates=[1_000, 2_000, 5_000, 8_000, 10_000, 12_000, 15_000, 20_000, 25_000, 30_000],
    chat_rates=[250, 500, 1_000, 1_500, 2_000, 3_000, 5_000, 7_500, 10_000, 15_000, 20_000],
    step_s=5.0,
    grace_s=2.0,
    settle_s=3.0,
    # Longer than kefu's 25 s heartbeat, so a socket that fails its first ping is caught.
    hold_s=30.0,
    # One more try than quick: a full run is the one whose ceilings get quoted.
    attempts=3,
)

PROFILES = {p.name: p for p in (QUICK, FULL)}
