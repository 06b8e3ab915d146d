"""How kefu writes a moment on the wire: ISO 8601 in UTC with a ``Z``.

One neutral home for the format every surface shares (frames, REST bodies, webhooks,
events), so a package that prints a date needs no import of the chat protocol.
"""

from __future__ import annotations

from datetime import datetime


def iso(moment: datetime) -> str:
    """``2026-01-02T03:04:05.123456Z`` for an aware UTC moment (``+00:00`` becomes ``Z``)."""
    return moment.isoformat().replace("+00:00", "Z")
