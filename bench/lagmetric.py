"""Event-loop lag read from kefu's ``/metrics``: a histogram delta over one load step.

kefu exports ``kefu_event_loop_lag_seconds`` (a Prometheus histogram). Scraping it before
and after a step and subtracting the bucket counts gives the lag distribution of that
step alone; the p99 reported is the upper bound of the bucket holding the 99th percentile,
so it is conservative by at most one bucket width.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

from prometheus_client.parser import text_string_to_metric_families

LAG_METRIC = "kefu_event_loop_lag_seconds"


def lag_buckets(text: str, metric: str = LAG_METRIC) -> dict[float, float]:
    """Cumulative bucket counts by upper bound, summed over label sets; {} when absent."""
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != metric:
            continue
        for sample in family.samples:
            if sample.name == f"{metric}_bucket":
                le = float(sample.labels["le"])
                buckets[le] = buckets.get(le, 0.0) + sample.value
    return buckets


def quantile_upper_ms(
    before: dict[float, float], after: dict[float, float], q: float
) -> float | str | None:
    """Upper bound (ms) of the bucket holding quantile ``q`` of the samples in between;
    ``"+Inf"`` when it lies above the top finite bucket (JSON has no infinity)."""
    delta = {le: after[le] - before.get(le, 0.0) for le in after}
    total = delta.get(math.inf, 0.0)
    if total <= 0:
        return None
    for le in sorted(delta):
        if delta[le] >= q * total:
            return "+Inf" if math.isinf(le) else round(le * 1000, 3)
    return None


class LagObserver:
    """Scrapes the lag histogram around each step; reports samples, p50 and p99 bounds."""

    def __init__(self, fetch: Callable[[], Awaitable[str]]) -> None:
        self._fetch = fetch
        self._before: dict[float, float] = {}
        self.available = True

    async def before(self) -> None:
        self._before = lag_buckets(await self._fetch())

    async def after(self) -> dict[str, object]:
        after = lag_buckets(await self._fetch())
        if not after:
            self.available = False
            return {"loop_lag": f"{LAG_METRIC} not exported"}
        samples = after.get(math.inf, 0.0) - self._before.get(math.inf, 0.0)
        return {
            "loop_lag_samples": samples,
            "loop_lag_p50_ms_le": quantile_upper_ms(self._before, after, 0.50),
            "loop_lag_p99_ms_le": quantile_upper_ms(self._before, after, 0.99),
        }
