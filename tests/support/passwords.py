"""A cheap password hasher for tests; production keeps argon2id's default cost.

Its hashes are real argon2id hashes at the lowest cost argon2 allows (one pass over 8 KiB
instead of three over 64 MiB), so any verifier, the production one included, accepts them
and checks them in microseconds: the suite logs in thousands of times and the cost being
saved is the point of the production hasher, not something these tests examine.
"""

from __future__ import annotations

from argon2 import PasswordHasher as Argon2
from argon2.exceptions import InvalidHashError, VerificationError

# argon2's floor: one iteration, 8 KiB per lane, one lane.
_cheap = Argon2(time_cost=1, memory_cost=8, parallelism=1)


def cheap_hash(password: str) -> str:
    return _cheap.hash(password)


# Checked when the account is unknown, as production does, so a miss does a check too.
_DUMMY_HASH = cheap_hash("kefu-timing-equaliser")


class CheapHasher:
    """``kefu.ports.PasswordHasher`` at argon2's lowest cost, run inline (it is that cheap)."""

    async def hash(self, password: str) -> str:
        return cheap_hash(password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return _cheap.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
        except (VerificationError, InvalidHashError):
            return False
