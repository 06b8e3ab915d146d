"""``CustomerKey``: the type of every customer key a REST body or query carries.

The key is checked before it is trimmed: ``"C1001\\n"`` is refused (400
``bad_customer_key``, kefu.domain.customer_keys), not silently read as ``"C1001"``; plain
spaces around a key are still trimmed. The error's type is ``bad_customer_key``, which
``kefu.api.errors`` answers with that code instead of a generic ``validation_error``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, StringConstraints
from pydantic_core import PydanticCustomError

from kefu.domain.customer_keys import CUSTOMER_KEY_RULE, MAX_KEY_CHARS

BAD_CUSTOMER_KEY = "bad_customer_key"


def _printable(value: Any) -> Any:
    if isinstance(value, str) and not value.isprintable():
        raise PydanticCustomError(BAD_CUSTOMER_KEY, CUSTOMER_KEY_RULE)
    return value


# The validator comes last so that it wraps the trimming string: it sees the raw value.
CustomerKey = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_KEY_CHARS),
    BeforeValidator(_printable),
]
