"""``BoundedTtlCache``: the bound holds whatever is put, entries expire, use refreshes."""

from __future__ import annotations

from kefu.cache.lru import BoundedTtlCache


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_never_holds_more_than_its_bound_and_drops_the_least_recently_used() -> None:
    cache: BoundedTtlCache[str, int] = BoundedTtlCache(3, 60.0, FakeClock())
    for n in range(3):
        cache.put(f"k{n}", n)
    assert cache.get("k0") == (True, 0)  # k0 is now the most recently used

    for n in range(3, 100):
        cache.put(f"k{n}", n)

    assert len(cache) == 3
    assert cache.get("k0") == (False, None)
    assert cache.get("k99") == (True, 99)


def test_an_entry_expires_after_its_ttl_and_a_cached_none_is_a_hit() -> None:
    clock = FakeClock()
    cache: BoundedTtlCache[str, None] = BoundedTtlCache(10, 30.0, clock)
    cache.put("missing", None)

    assert cache.get("missing") == (True, None)
    clock.now = 30.0
    assert cache.get("missing") == (False, None)
    assert len(cache) == 0
