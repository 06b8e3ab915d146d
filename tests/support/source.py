"""Helpers for the tests that scan kefu's own source with ``ast``."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import pytest


def forgotten_after_the_module(cached: functools._lru_cache_wrapper[Any]) -> Any:
    """An autouse fixture that empties ``cached`` (a ``functools.cache`` of parsed trees)
    when the module's tests end. The trees are ~350,000 objects: kept to the end of the
    test process, they made every later full garbage collection there cost ~0.5 s
    (test_connectors_db collects after each test)."""

    @pytest.fixture(autouse=True, scope="module")
    def forget() -> Iterator[None]:
        yield
        cached.cache_clear()

    return forget
