"""Event-loop lag read from kefu's ``/metrics``: a histogram delta over one load step.

kefu exports ``kefu_event_loop_lag_seconds`` (a Prometheus histogram). Scraping it before
and after a step and subtracting the bucket counts gives the lag distribution of that
step alone; the p99 reported is the upper bound of the bucket holding the 99th percentile,
so it is conservative by at most one bucket width.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence

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


def counter_totals(text: str, names: Sequence[str]) -> dict[str, float]:
    """Each named counter sample (``..._total``), summed over label sets; absent ones 0."""
    wanted = set(names)
    totals = dict.fromkeys(names, 0.0)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in wanted:
                totals[sample.name] += sample.value
    return totals


class LagObserver:
    """Scrapes the lag histogram around each step; reports samples, p50 and p99 bounds.

    ``prefix`` goes before every key (one observer per node of a cluster), and the
    ``counters`` named are reported as their increase over the step (e.g. the cluster
    link's items sent and received, which show that the step's messages crossed nodes).
    """

    def __init__(
        self, fetch: Callable[[], Awaitable[str]], prefix: str = "", counters: Sequence[str] = ()
    ) -> None:
        self._fetch = fetch
        self._prefix = prefix
        self._counters = list(counters)
        self._before: dict[float, float] = {}
        self._counts_before: dict[str, float] = {}
        self.available = True

    async def before(self) -> None:
        text = await self._fetch()
        self._before = lag_buckets(text)
        self._counts_before = counter_totals(text, self._counters)

    async def after(self) -> dict[str, object]:
        text = await self._fetch()
        after = lag_buckets(text)
        out: dict[str, object] = {}
        if self._counters:
            counts = counter_totals(text, self._counters)
            out["counters"] = {k: counts[k] - self._counts_before.get(k, 0.0) for k in counts}
        if not after:
            self.available = False
            out["loop_lag"] = f"{LAG_METRIC} not exported"
        else:
            samples = after.get(math.inf, 0.0) - self._before.get(math.inf, 0.0)
            out.update(
                loop_lag_samples=samples,
                loop_lag_p50_ms_le=quantile_upper_ms(self._before, after, 0.50),
                loop_lag_p99_ms_le=quantile_upper_ms(self._before, after, 0.99),
            )
        return {f"{self._prefix}{k}": v for k, v in out.items()}


class ObserverGroup:
    """Several step observers run as one (each node of a cluster has its own)."""

    def __init__(self, observers: Sequence[LagObserver]) -> None:
        self._observers = list(observers)

    async def before(self) -> None:
        for observer in self._observers:
            await observer.before()

    async def after(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for observer in self._observers:
            out.update(await observer.after())
        return out
