"""Upload quotas: how many files and bytes one visitor, and one address, may upload in
the last hour. Pure: the usage is counted by the store (``AttachmentRepository``), inside
the transaction that inserts the upload, so all nodes share one count.

Why both: a visitor token is free to mint, so a per-visitor quota alone is dodged by
minting more (that costs one request each, itself limited per address); a per-address
quota alone would let one visitor use a whole office's share.

It lives in ``domain`` rather than ``attachments`` because both the attachments service
(which quotas apply) and the store (which counts usage in the upload's transaction) need
it, and the store must not import a capability that imports the store. ``QuotaExceeded``
is a ``kefu.errors.RateLimited`` so the REST layer answers 429 with ``Retry-After``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from kefu.errors import RateLimited

# A sliding hour: long enough to stop a flood, short enough that a real visitor who hit
# it waits minutes, not a day.
WINDOW = timedelta(hours=1)

Scope = Literal["visitor", "address", "token"]


class QuotaExceeded(RateLimited):
    code = "upload_quota_exceeded"


@dataclass(frozen=True, slots=True)
class Quota:
    """One limit on one uploader (``visitor:ID``; ``machine:ID``, an API token's) or one
    address."""

    scope: Scope
    key: str
    files: int
    bytes: int


@dataclass(frozen=True, slots=True)
class Usage:
    """What ``Quota.key`` uploaded inside the window (still stored)."""

    files: int
    bytes: int
    oldest: datetime | None


def check(quota: Quota, usage: Usage, size: int, now: datetime) -> None:
    """Raise :class:`QuotaExceeded` if one more file of ``size`` bytes would pass the quota.

    ``Retry-After`` is when the oldest upload in the window leaves it: the first moment
    the answer can change.
    """
    if usage.files + 1 <= quota.files and usage.bytes + size <= quota.bytes:
        return
    wait = WINDOW if usage.oldest is None else usage.oldest + WINDOW - now
    whose = {"visitor": "this visitor", "address": "this address", "token": "this API token"}[
        quota.scope
    ]
    raise QuotaExceeded(
        f"upload quota reached for {whose}: at most {quota.files} files and "
        f"{quota.bytes} bytes an hour",
        retry_after=float(max(1, math.ceil(wait.total_seconds()))),
    )
