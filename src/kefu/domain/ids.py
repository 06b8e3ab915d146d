"""Identifier formats shared by the store and the wire.

Message ids are the store's integer sequence, zero-padded so that string order equals
storage order (CONTRACT.md: ids sort in the order messages were stored).
"""

from __future__ import annotations

import secrets

MESSAGE_ID_WIDTH = 16  # 10^16 messages: centuries at 100k msg/s


def format_message_id(seq: int) -> str:
    return str(seq).zfill(MESSAGE_ID_WIDTH)


def parse_message_id(value: str) -> int | None:
    """The sequence behind a wire id, or None when it is not one of ours."""
    if not value or len(value) > MESSAGE_ID_WIDTH or not value.isascii() or not value.isdigit():
        return None
    return int(value)


def new_id(prefix: str) -> str:
    """Opaque random ids (``vis_…``, ``conv_…``): unguessable, so knowing one grants nothing."""
    return f"{prefix}_{secrets.token_hex(10)}"
