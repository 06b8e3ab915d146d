"""Webhook signatures, Stripe-style: ``Kefu-Signature: t=<unix seconds>,v1=<hex HMAC>``.

The HMAC-SHA256 key is the endpoint's ``secret``; the signed bytes are the timestamp, a
dot, then the exact request body. Signing the timestamp with the body lets a receiver
refuse a captured request replayed later, not only a forged one.

Pure and standard-library only, on purpose: ``verify`` is what receivers copy into their
own code (docs/webhooks.md shows it in a small receiver).
"""

from __future__ import annotations

import hashlib
import hmac
import time

EVENT_ID_HEADER = "Kefu-Event-Id"
EVENT_TYPE_HEADER = "Kefu-Event-Type"
DELIVERY_ID_HEADER = "Kefu-Delivery-Id"
TIMESTAMP_HEADER = "Kefu-Timestamp"
SIGNATURE_HEADER = "Kefu-Signature"
SCHEME = "v1"
# Five minutes: wide enough for ordinary clock skew and a slow hop, narrow enough that a
# captured request cannot be replayed for long. Stripe chose the same.
DEFAULT_TOLERANCE_SECONDS = 300


class SignatureInvalid(ValueError):
    """The signature header is missing, malformed, stale, or matches no secret."""


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``f"{timestamp}."`` followed by ``body``."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},{SCHEME}={signature(secret, timestamp, body)}"


def verify(
    secret: str,
    header: str,
    body: bytes,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """Check a ``Kefu-Signature`` header against the raw request body; return its timestamp.

    ``body`` must be the bytes as received, before any JSON parsing (re-serialised JSON
    differs). Several ``v1=`` entries may appear (room for secret rotation); one matching
    is enough. The timestamp must lie within ``tolerance_seconds`` of ``now`` (default:
    the current time) either way, so a replayed request goes stale. Raises
    ``SignatureInvalid`` otherwise.
    """
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureInvalid("the timestamp is not an integer") from None
        elif key == SCHEME:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureInvalid(f"expected t=<timestamp>,{SCHEME}=<signature>")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        raise SignatureInvalid("the timestamp is outside the tolerance (replayed or skewed)")
    expected = signature(secret, timestamp, body)
    # compare_digest: the time taken says nothing about how much of a guess was right.
    # Bytes, since it refuses non-ASCII str and a header may carry anything.
    wanted = expected.encode()
    if not any(hmac.compare_digest(wanted, candidate.encode()) for candidate in candidates):
        raise SignatureInvalid("no signature matches")
    return timestamp
