"""Login throttling: per client address and per account, over the shared ``Cache``.

Per-IP limits a scanner trying many accounts; per-account limits a botnet trying one
account from many addresses. Counters live in the cache so all nodes share them once
``cache: redis://`` is configured.
"""

from __future__ import annotations

from kefu.domain.accounts import account_email
from kefu.errors import RateLimited
from kefu.ports import Cache

WINDOW_SECONDS = 60.0


class LoginThrottle:
    def __init__(
        self, cache: Cache, *, per_ip_per_minute: int, failures_per_account: int, lockout: int
    ) -> None:
        self._cache = cache
        self._per_ip = per_ip_per_minute
        self._failures = failures_per_account
        self._lockout = lockout

    async def check(self, ip: str, email: str) -> None:
        """Count this attempt against the IP; refuse while either limit is exceeded."""
        attempts = await self._cache.incr(f"login:ip:{ip}", WINDOW_SECONDS)
        if attempts > self._per_ip:
            raise RateLimited(
                "too many login attempts from this address",
                retry_after=WINDOW_SECONDS,
                code="too_many_attempts",
            )
        failures = await self._cache.get(_failures_key(email))
        if failures is not None and int(failures) >= self._failures:
            raise RateLimited(
                "this account is temporarily locked after failed logins",
                retry_after=float(self._lockout),
                code="account_locked",
            )

    async def count_visitor(self, ip: str) -> int:
        """Visitor sessions created from ``ip`` in the current minute, this one included."""
        return await self._cache.incr(f"visitors:ip:{ip}", WINDOW_SECONDS)

    async def failed(self, email: str) -> None:
        key = _failures_key(email)
        count = await self._cache.incr(key + ":n", float(self._lockout))
        await self._cache.set(key, str(count).encode(), float(self._lockout))

    async def succeeded(self, email: str) -> None:
        key = _failures_key(email)
        await self._cache.delete(key)
        await self._cache.delete(key + ":n")


def _failures_key(email: str) -> str:
    """The account's failure counter: keyed by the same spelling the login looks up."""
    return f"login:fail:{account_email(email)}"
