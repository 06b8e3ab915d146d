"""Retry budget: retries may add at most ``ratio`` extra load on a struggling source.

Each first attempt deposits ``ratio`` of a token; each retry withdraws one. When a source
fails everything, retries stop after the small reserve instead of doubling its traffic.
"""

from __future__ import annotations


class RetryBudget:
    def __init__(self, ratio: float, reserve: float = 10.0) -> None:
        self._ratio = ratio
        self._cap = reserve
        self._tokens = reserve if ratio > 0 else 0.0

    def on_attempt(self) -> None:
        self._tokens = min(self._cap, self._tokens + self._ratio)

    def try_retry(self) -> bool:
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True
