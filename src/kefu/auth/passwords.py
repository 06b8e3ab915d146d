"""argon2id password hashes (argon2-cffi's RFC 9106 low-memory profile).

Hashing costs ~50 ms of CPU on purpose, so callers run it in a thread: it must never
block the event loop that is carrying thousands of sockets.
"""

from __future__ import annotations

import asyncio
import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

MIN_PASSWORD_LENGTH = 8


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the email is unknown, so a miss costs the same time as a hit
    and response timing does not reveal which emails have accounts. Made on first use,
    not at import: importing kefu costs no argon2 run."""
    return _hasher.hash("kefu-timing-equaliser")


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return (
            _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
        )
    except (VerificationError, InvalidHashError):
        return False


async def hash_password_async(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)


async def verify_password_async(password_hash: str | None, password: str) -> bool:
    return await asyncio.to_thread(verify_password, password_hash, password)


class Argon2Hasher:
    """The production ``kefu.ports.PasswordHasher``: argon2id in a thread."""

    async def hash(self, password: str) -> str:
        return await hash_password_async(password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        return await verify_password_async(password_hash, password)
